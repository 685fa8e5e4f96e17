"""`tfbert_export`: a trained model -> a text-in SavedModel for TensorFlow Serving.

Writes `<export_dir>/<version>/` (version: `--version` or the Unix time),
under a temporary name renamed when complete; an existing version is never
overwritten. The graph tokenizes raw strings with the original WordPiece.

    tfbert_export --task=classification --model=bert_base_uncased \
        --model_dir=runs/sst2 --vocab_file=vocab.txt --label_names=negative,positive \
        --export_dir=models/sst2
    tfbert_export --task=squad --checkpoint=runs/squad/ckpt-2000 --model=bert_base_uncased \
        --vocab_file=vocab.txt --seq_length=384 --export_dir=models/squad
    tfbert_export --task=hub --checkpoint=uncased_L-12_H-768_A-12/bert_model.ckpt \
        --model=uncased_L-12_H-768_A-12/bert_config.json \
        --vocab_file=uncased_L-12_H-768_A-12/vocab.txt --export_dir=models/bert_hub

Tasks: `classification`, `regression`, `squad`, `squad_v2`, `tagging`,
`embeddings` (encoder: pooled and mean-pooled outputs) and `hub` (the TF Hub
pair: `<export_dir>/preprocess/<version>` and `<export_dir>/encoder/<version>`).
Weights: `--model_dir` (its latest checkpoint), or `--checkpoint`: a tfbert
or Google TF1 checkpoint, a `.keras` file, or a HuggingFace BERT directory.
"""

import os
import time

from absl import app, flags, logging

from tfbert.cli.model_loading import is_huggingface, load_model, weights_path
from tfbert.serving import classification, embeddings, hub, question_answering, tagging
from tfbert.serving.export import export
from tfbert.text import BertPreprocessor

TASKS = ("classification", "regression", "squad", "squad_v2", "tagging", "embeddings", "hub")

FLAGS = flags.FLAGS


def _define_flags():
    """Defines the flags; called by `run()` only, so that importing this module
    (e.g. for its functions) registers nothing and never clashes with another CLI."""
    flags.DEFINE_enum("task", None, TASKS, "What the model does (which signatures to write).")
    flags.DEFINE_string("model_dir", None, "Training directory; its latest checkpoint is exported.")
    flags.DEFINE_string("checkpoint", None, "A tfbert or TF1 checkpoint, a .keras file, or a "
                        "HuggingFace BERT directory (instead of --model_dir).")
    flags.DEFINE_string("model", None, "Official model name or bert_config .json/.yaml "
                        "(default: the HuggingFace directory's config.json).")
    flags.DEFINE_string("vocab_file", None, "The WordPiece vocab (default: the HuggingFace "
                        "directory's vocab.txt).")
    flags.DEFINE_bool("lower_case", True, "Uncased model.")
    flags.DEFINE_integer("seq_length", 128, "Longest packed input, [CLS] and [SEP] included "
                         "(SQuAD: the window, usually 384).")
    flags.DEFINE_list("label_names", [], "Class (or tag) names in id order.")
    flags.DEFINE_integer("num_classes", None, "Classes when --label_names is not given.")
    flags.DEFINE_bool("pair", False, "Classification of text pairs: inputs text_a, text_b.")
    flags.DEFINE_integer("max_query_length", 64, "SQuAD: question pieces kept.")
    flags.DEFINE_integer("max_answer_length", 30, "SQuAD: longest answer, in pieces.")
    flags.DEFINE_integer("n_best_size", 20, "SQuAD: start/end candidates tried.")
    flags.DEFINE_float("null_score_diff_threshold", 0.0, "SQuAD v2: no-answer threshold.")
    flags.DEFINE_integer("doc_stride", 128, "SQuAD: how far the windows over a long context "
                         "advance, in pieces.")
    flags.DEFINE_bool("normalize", False, "Embeddings: L2-normalise the mean-pooled embedding.")
    flags.DEFINE_string("export_dir", None, "Base directory: writes <export_dir>/<version>/.")
    flags.DEFINE_integer("version", None, "TF Serving version number (default: Unix time).")
    flags.mark_flags_as_required(["task", "export_dir"])


def export_model(task, model, vocab_file, export_dir, lower_case=True, seq_length=128,
                 label_names=(), pair=False, version=None, max_query_length=64,
                 max_answer_length=30, n_best_size=20, null_score_diff_threshold=0.0,
                 normalize=False, doc_stride=128):
    """Writes the export of `model` for `task`; returns the version directories.

    Args:
        task: one of `TASKS`.
        model: the task's model (`BertClassifier`, `BertSpanLabeler`,
            `BertTokenClassifier`, or a `BertEncoder` for embeddings/hub).
        vocab_file: its WordPiece vocab (copied into the export as an asset).
        export_dir: base directory; writes `<export_dir>/<version>/`
            (hub: `<export_dir>/preprocess/<version>` and `.../encoder/<version>`).
        lower_case, seq_length: the in-graph tokenizer and packing.
        label_names, pair: classification/tagging names; text pairs.
        version: the TF Serving version (default: the Unix time).
        max_query_length, max_answer_length, n_best_size, null_score_diff_threshold,
            doc_stride: SQuAD windows and decoding.
        normalize: embeddings: L2-normalise `embedding`.
    """
    preprocessor = BertPreprocessor(vocab_file, lower_case=lower_case, seq_length=seq_length)
    version = int(time.time()) if version is None else version
    if task == "hub":
        encoder = getattr(model, "encoder", model)
        return [hub.export_preprocessing(os.path.join(export_dir, "preprocess"), preprocessor,
                                         version=version),
                hub.export_encoder(os.path.join(export_dir, "encoder"), encoder,
                                   version=version)]
    if task in ("classification", "regression"):
        endpoints = classification.endpoints(model, preprocessor, list(label_names) or None,
                                             pair=pair, regression=task == "regression")
    elif task in ("squad", "squad_v2"):
        endpoints = question_answering.endpoints(
            model, preprocessor, max_query_length, n_best_size, max_answer_length,
            task == "squad_v2", null_score_diff_threshold, doc_stride=doc_stride)
    elif task == "tagging":
        endpoints = tagging.endpoints(model, preprocessor, list(label_names) or [
            str(i) for i in range(model.output["logits"].shape[-1])])
    elif task == "embeddings":
        endpoints = embeddings.endpoints(getattr(model, "encoder", model), preprocessor,
                                         normalize)
    else:
        raise ValueError(f"unknown task {task!r}; one of {TASKS}")
    return [export(export_dir, endpoints, track=[model, preprocessor], vocab_file=vocab_file,
                   version=version)]


def main(argv):
    del argv
    weights = weights_path(FLAGS.model_dir, FLAGS.checkpoint)
    vocab_file = FLAGS.vocab_file
    if vocab_file is None and is_huggingface(weights):
        vocab_file = os.path.join(weights, "vocab.txt")
    if not vocab_file or not os.path.isfile(vocab_file):
        raise app.UsageError(f"--vocab_file={vocab_file}: no such file")
    num_classes = len(FLAGS.label_names) or FLAGS.num_classes
    logging.info("loading %s for --task=%s", weights, FLAGS.task)
    model = load_model(FLAGS.task, weights, FLAGS.model, num_classes)
    written = export_model(
        FLAGS.task, model, vocab_file, FLAGS.export_dir, FLAGS.lower_case, FLAGS.seq_length,
        FLAGS.label_names, FLAGS.pair, FLAGS.version, FLAGS.max_query_length,
        FLAGS.max_answer_length, FLAGS.n_best_size, FLAGS.null_score_diff_threshold,
        FLAGS.normalize, FLAGS.doc_stride)
    for path in written:
        print(f"exported {path}")


def run():
    _define_flags()
    app.run(main)


if __name__ == "__main__":
    run()
