"""The steps of `tfbert_demo`, in order: vocab, config, pre-training data,
pre-training, (conversion,) fine-tuning, export, serving.

Each step records its command in `commands.sh` and runs it through
`tfbert.cli.demo_shell`; what the steps need from the command line comes in
as plain values (`Budget`, `Inputs`), so that they can be called without
absl flags.

Example:

>>> BUDGETS["quick"].pretrain_steps, len(TEXTS)
(40, 4)
"""

import dataclasses
import math
import os
import pathlib
import shlex
import shutil
import time

from tfbert.cli.demo_shell import Shell, command, output_to, read_results, run_tool

DATA_DIR = pathlib.Path(__file__).resolve().parent.parent / "demo_data"
# Raw sentences for the exported model: none of them is in the training or dev file.
TEXTS = (
    "What a wonderful, warm and funny film!",
    "The room was filthy and nobody at the desk cared.",
    "Delivery was quick and the blender works perfectly.",
    "I want my money back: it broke on the second day.",
)


@dataclasses.dataclass(frozen=True)
class Budget:
    """How much each training step runs (`--quick` picks the small one).

    Example:

    >>> BUDGETS["full"].pretrain_steps // BUDGETS["full"].steps_per_loop
    10
    """

    pretrain_steps: int
    steps_per_loop: int
    dupe_factor: int
    huggingface_epochs: float
    pretrained_epochs: float


BUDGETS = {
    "full": Budget(pretrain_steps=1000, steps_per_loop=100, dupe_factor=10,
                   huggingface_epochs=3, pretrained_epochs=30),
    "quick": Budget(pretrain_steps=40, steps_per_loop=10, dupe_factor=2,
                    huggingface_epochs=1, pretrained_epochs=2),
}


class Demo:
    """Runs the steps in order: numbers and times them, and records their commands.

    Example:

    >>> import tempfile
    >>> work = pathlib.Path(tempfile.mkdtemp())
    >>> demo = Demo(work, Shell({"WORK": work}, work / "commands.sh"), num_steps=1)
    >>> demo.step("Nothing yet")
    <BLANKLINE>
    [1/1] Nothing yet
    >>> demo.finish_step()
      (0 s)
    >>> [title for title, _ in demo.times]
    ['Nothing yet']
    """

    def __init__(self, work, shell, num_steps):
        self.work, self.shell, self.num_steps = work, shell, num_steps
        self.title, self.start, self.times = None, None, []

    def step(self, title):
        self.title, self.start = title, time.perf_counter()
        print(f"\n[{len(self.times) + 1}/{self.num_steps}] {title}", flush=True)

    def finish_step(self):
        elapsed = time.perf_counter() - self.start
        self.times.append((self.title, elapsed))
        print(f"  ({elapsed:.0f} s)", flush=True)

    def record(self, args, run=True):
        self.shell.record(args, f"{len(self.times) + 1}. {self.title}", run)

    def run(self, args):
        self.record(args)
        run_tool(args, self.work / "logs" / f"{len(self.times) + 1}_{args[0]}.log")


def pretraining_summary(history, evaluated, vocab_size):
    """Prints how the masked-LM loss fell, from its `[(step, loss)]` per training loop
    and the `eval_results.txt` values."""
    if not history:
        print("  (no masked_lm_loss summaries found)")
        return
    (first_step, first), (last_step, last) = history[0], history[-1]
    print(f"  masked-LM loss {first:.2f} (mean of the loop to step {first_step}) -> {last:.2f} "
          f"(to step {last_step}); a uniform guess over the {vocab_size} tokens scores "
          f"{math.log(vocab_size):.2f}.\n  Eval (on the training records: a corpus this "
          f"small is soon learnt by heart): loss {evaluated.get('masked_lm_loss', math.nan):.2f},"
          f" accuracy {evaluated.get('masked_lm_accuracy', math.nan):.3f}")
    if last >= first:
        print("  note: the loss did not fall; give pre-training more steps")


def _data_variables(paths):
    """`{"DATA": their directory}` when the files share one, else `{}`."""
    directories = {os.path.dirname(path) for path in paths}
    return {"DATA": directories.pop()} if len(directories) == 1 else {}


@dataclasses.dataclass(frozen=True)
class Inputs:
    """What the demo runs on: files checked, labels read, the model to fine-tune found,
    and the raw texts the export is asked about.

    Example:

    >>> Inputs("corpus.txt", "train.tsv", "dev.tsv", ("negative", "positive"), None,
    ...        TEXTS).hf_dir is None
    True
    """

    corpus: str
    train_file: str
    dev_file: str
    label_names: tuple
    hf_dir: str | None
    texts: tuple


def run_demo(work, budget, inputs):
    """The whole path; returns the exported model's answers and the step times."""
    from tfbert.configs import model_config

    corpus, train_file, dev_file = inputs.corpus, inputs.train_file, inputs.dev_file
    label_names, hf_dir = inputs.label_names, inputs.hf_dir
    (work / "logs").mkdir()
    variables = {**_data_variables([corpus, train_file, dev_file]), "WORK": work}
    if hf_dir:
        variables["HF_MODEL"] = hf_dir
    shell = Shell(variables, work / "commands.sh")
    demo = Demo(work, shell, 8 if hf_dir else 7)
    bundled = all(os.path.dirname(path) == str(DATA_DIR) for path in (corpus, train_file,
                                                                        dev_file))
    print(f"The whole path on {'the bundled' if bundled else 'your'} data, "
          f"{'quick' if budget == BUDGETS['quick'] else 'full'} budget. In the commands:")
    for name, path in variables.items():
        print(f"  {name}={shlex.quote(str(path))}")

    demo.step("A WordPiece vocab learnt from the corpus")
    vocab = work / "vocab.txt"
    demo.run(command("tfbert_build_vocab", input_files=corpus, output_file=vocab,
                     vocab_size=2000, lower_thresh=2))
    with open(vocab, encoding="utf-8") as f:
        vocab_size = sum(1 for _ in f)
    demo.finish_step()

    demo.step("bert_config.json: BERT-Tiny (2 layers, hidden 128, 2 heads) with this vocab")
    bert_config = work / "bert_config.json"
    path = shell.word(str(bert_config))
    path = path if path.startswith("$") and "\"" not in path else str(bert_config)
    demo.record(f"python -c \"import tfbert; tfbert.model_config('bert_tiny_uncased')"
                f".replace(vocab_size={vocab_size}).to_json_file('{path}')\"")
    model_config("bert_tiny_uncased").replace(vocab_size=vocab_size).to_json_file(bert_config)
    demo.finish_step()

    demo.step("Pre-training data: masked-LM and next-sentence TFRecords")
    records = work / "pretraining_data" / "train.tfrecord"
    demo.run(command("tfbert_create_pretraining_data", input_file=corpus, output_file=records,
                     vocab_file=vocab, max_seq_length=64, max_predictions_per_seq=10,
                     dupe_factor=budget.dupe_factor))
    demo.finish_step()

    demo.step(f"Pre-training BERT-Tiny from random weights: {budget.pretrain_steps} steps")
    pretrain_dir = work / "pretrain"
    demo.run(command("tfbert_pretrain", mode="train_and_eval", model_dir=pretrain_dir,
                     config_file="pretrain_tiny", bert_config_file=bert_config,
                     input_file=records, max_seq_length=64, max_predictions_per_seq=10,
                     num_train_steps=budget.pretrain_steps,
                     num_warmup_steps=budget.pretrain_steps // 10, learning_rate=1e-3,
                     iterations_per_loop=budget.steps_per_loop,
                     save_checkpoints_steps=budget.pretrain_steps))
    with output_to(work / "logs" / "tfbert_demo.log"):
        from tfbert.training.summaries import read_scalars

        history = read_scalars(str(pretrain_dir / "train")).get("masked_lm_loss", [])
    pretraining_summary(sorted(history), read_results(pretrain_dir / "eval_results.txt"),
                        vocab_size)
    demo.finish_step()

    if hf_dir:
        demo.step("The HuggingFace model as a Google-style bert_model.ckpt, bert_config.json "
                  "and vocab.txt")
        model = work / "hf_checkpoint"
        init_checkpoint = model / "bert_model.ckpt"
        demo.run(command("tfbert_convert_checkpoint", hf_model_dir=hf_dir, output_format="tf1",
                         output_path=init_checkpoint))
        demo.record(["cp", os.path.join(hf_dir, "vocab.txt"), model / "vocab.txt"])
        shutil.copyfile(os.path.join(hf_dir, "vocab.txt"), model / "vocab.txt")
        demo.finish_step()
        bert_config, vocab = model / "bert_config.json", model / "vocab.txt"
        what, epochs, learning_rate = "the HuggingFace model", budget.huggingface_epochs, 1e-4
    else:
        init_checkpoint, epochs, learning_rate = pretrain_dir, budget.pretrained_epochs, 3e-4
        what = "the BERT-Tiny just pre-trained"

    demo.step(f"Fine-tuning {what} to classify sentences ({', '.join(label_names)})")
    finetune_dir = work / "finetune"
    demo.run(command("tfbert_finetune", task="classification", train_file=train_file,
                     predict_file=dev_file, bert_config_file=bert_config, vocab_file=vocab,
                     init_checkpoint=init_checkpoint, do_train=True, do_eval=True,
                     max_seq_length=48, train_batch_size=32, eval_batch_size=50,
                     learning_rate=learning_rate, num_train_epochs=epochs,
                     iterations_per_loop=5 if hf_dir else 20, model_dir=finetune_dir,
                     seed=1))  # the same dev accuracy on every run of the demo
    accuracy = read_results(finetune_dir / "eval_results.txt")["accuracy"]
    print(f"  dev accuracy {accuracy:.3f} on {os.path.basename(dev_file)}")
    demo.finish_step()

    demo.step("Export: a SavedModel for TensorFlow Serving that takes raw text")
    export_dir = work / "models" / "sentiment"
    demo.run(command("tfbert_export", task="classification", model=bert_config,
                     model_dir=finetune_dir, vocab_file=vocab, label_names=",".join(label_names),
                     export_dir=export_dir, version=1))
    demo.finish_step()

    demo.step("Serving: the export loaded as tensorflow_model_server loads it, asked raw text")
    answers = answer(export_dir / "1", inputs.texts, shell,
                     work / "logs" / "tfbert_demo.log")
    print("  The same export behind TensorFlow Serving (Docker), called over gRPC and REST "
          "(not run here):")
    serve = (f"docker run --rm -p 8500:8500 -p 8501:8501 -e MODEL_NAME=sentiment \\\n    "
             f"--mount type=bind,source={shell.word(str(export_dir))},target=/models/sentiment "
             "\\\n    tensorflow/serving:2.19.1")
    client = command("tfbert_serving_client", model_name="sentiment", text=inputs.texts[0])
    for text in (serve, client, client[:2] + ["--protocol=rest"] + client[2:]):
        demo.record(text, run=False)
    demo.finish_step()
    return answers, demo.times


def answer(export_version_dir, texts, shell, log_file):
    """Runs the export's `serving_default` on `texts` with the C++ session loader."""
    import numpy as np

    with output_to(log_file):
        from tfbert.serving import NativeSavedModel

    print(f"  >>> tfbert.serving.NativeSavedModel(\"{shell.word(str(export_version_dir))}\")"
          ".run(\"serving_default\", {\"text\": np.array(texts, dtype=object)})")
    with output_to(log_file):
        outputs = NativeSavedModel(export_version_dir).run(
            "serving_default",
            {"text": np.array([t.encode("utf-8") for t in texts], dtype=object)})
    answers = []
    for text, label, probabilities in zip(texts, outputs["label"], outputs["probabilities"],
                                          strict=True):
        answers.append((label.decode("utf-8"), float(probabilities.max()), text))
        print(f"  {answers[-1][0]:>10} {answers[-1][1]:.3f}  {text!r}")
    return answers
