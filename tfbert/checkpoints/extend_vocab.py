"""Domain vocabulary: whole words added to a vocab and to the checkpoint that uses it.

`extend_vocab(source, vocab_file, words, output_dir)` reads a Google TF1
checkpoint, a HuggingFace directory or a tfbert checkpoint, gives each word
an id (`plan_vocab_extension`: the `[unusedN]` slots first, then new ids at
the end), grows every table with one row per token, and writes the same kind
of checkpoint to a new directory with the new vocab and config beside it.

Tables grown: the word embeddings, the MLM output bias of a pre-training
checkpoint and, in a HuggingFace directory, a stored (tied) MLM decoder.
Everything else, fine-tuned heads included, is copied unchanged. The work is
done on the stored tensors, not through a model, so that a checkpoint of any
task, with heads tfbert may not know, comes out whole. Optimizer state is
left out (as `read_tf1_checkpoint` does): its moments have the old shapes,
and a run that starts from the extended checkpoint starts a new optimizer.
"""

import dataclasses
import json
import os
import shutil

import numpy as np
import tensorflow as tf

from tfbert.checkpoints.google_tf1 import SKIPPED_NAMES, SKIPPED_SUFFIXES, checkpoint_prefix
from tfbert.checkpoints.loader import source_kind
from tfbert.checkpoints.vocab_words import VocabExtension, plan_vocab_extension
from tfbert.configs.bert_config import BertConfig
from tfbert.configs.official import model_config
from tfbert.text.vocab import load_vocab

# Tensor names whose rows are the tokens, by checkpoint kind (a name matches
# when it ends with one of these).
TF1_TABLES = ("bert/embeddings/word_embeddings", "cls/predictions/output_bias")
# tfbert checkpoints: object paths (`encoder/word_embeddings/embeddings`), not tensor
# names, since a variable's tensor may be stored under any path that reaches it.
TFBERT_TABLES = ("word_embeddings/embeddings", "masked_lm/output_bias")
HF_TABLES = ("embeddings.word_embeddings.weight", "cls.predictions.bias",
             "cls.predictions.decoder.weight", "cls.predictions.decoder.bias")
OBJECT_GRAPH = "_CHECKPOINTABLE_OBJECT_GRAPH"
# HuggingFace files written here (the rest of the directory is copied).
_HF_WRITTEN = ("model.safetensors", "pytorch_model.bin", "config.json", "vocab.txt",
               "tokenizer.json")


@dataclasses.dataclass(frozen=True)
class ExtendedCheckpoint:
    """What `extend_vocab` wrote.

    Attributes:
        kind: "tf1", "huggingface" or "tfbert" (as `source_kind` names it).
        path: the checkpoint prefix, or the HuggingFace directory.
        vocab_file: the extended vocab.
        config_file: the config with the new `vocab_size`.
        extension: the `VocabExtension` (ids, slots filled, rows appended).
        tables: names of the tensors that grew.
    """

    kind: str
    path: str
    vocab_file: str
    config_file: str
    extension: VocabExtension
    tables: tuple


def read_words_file(path):
    """The words of a file, one per line, and where each is (`file:line`).

    Only the line ends are removed, so that a stray space is reported, not
    silently dropped. Lines starting with `#` are comments.

    Returns:
        `(words, places)`: two lists of str.
    """
    with tf.io.gfile.GFile(os.fspath(path), "rb") as f:
        data = f.read()
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        line = data[:e.start].count(b"\n") + 1
        raise ValueError(f"{path}:{line}: not UTF-8 ({e.reason})") from None
    lines = text.split("\n")
    if lines[-1] == "":
        lines.pop()  # the newline that ends the last line
    words, places = [], []
    for number, line in enumerate(lines, start=1):
        line = line.removesuffix("\r")
        if line.startswith("#"):
            continue
        words.append(line)
        places.append(f"{path}:{number}")
    return words, places


def extend_vocab(source, vocab_file, words, output_dir, lower_case=True, config=None,
                 where=None) -> ExtendedCheckpoint:
    """Adds whole words to a vocab and to the checkpoint that uses it.

    Args:
        source: a Google TF1 checkpoint (prefix, `.index` or directory, with
            `bert_config.json` beside it), a HuggingFace BERT directory, or a
            tfbert checkpoint (prefix, `.index` or training directory).
        vocab_file: the vocab of `source`.
        words: the words to add, each one word as the tokenizer sees words.
        output_dir: a new (or empty) directory; the source is never changed.
        lower_case: the vocab is uncased (`do_lower_case`).
        config: the model config (`BertConfig`, official name or file);
            needed for a tfbert checkpoint, default the source's own otherwise.
        where: optional places of the words for error messages (`file:line`).

    Returns:
        An `ExtendedCheckpoint`. The output directory holds the checkpoint of
        the same kind, `vocab.txt`, and `bert_config.json` (`config.json` for
        HuggingFace) with the new `vocab_size`.

    Raises:
        ValueError: a bad word (named), an output directory that is not
            empty, a `.keras` source, or tables that do not fit the vocab.

    Example:

    >>> import tempfile
    >>> vocab = ["[PAD]", "[unused0]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "gen", "##om"]
    >>> work = tempfile.mkdtemp()
    >>> _ = open(f"{work}/vocab.txt", "w").write("\\n".join(vocab) + "\\n")
    >>> config = BertConfig(vocab_size=8, hidden_size=8, num_hidden_layers=1,
    ...                     num_attention_heads=2, intermediate_size=16)
    >>> encoder = BertEncoder(config)
    >>> _ = tf.train.Checkpoint(encoder=encoder).write(f"{work}/run/ckpt-1")
    >>> out = extend_vocab(f"{work}/run/ckpt-1", f"{work}/vocab.txt", ["genom", "gene"],
    ...                    f"{work}/extended", config=config)
    >>> out.extension.slots_filled, out.extension.rows_appended, out.kind
    (1, 1, 'tfbert')
    >>> BertConfig.from_json_file(out.config_file).vocab_size
    9
    """
    source, output_dir = os.fspath(source), os.fspath(output_dir)
    kind = source_kind(source)
    if kind == "keras":
        raise ValueError(f"{source} is a .keras file: extend the checkpoint it came from "
                         "(Google TF1, HuggingFace or tfbert)")
    if os.path.exists(output_dir) and not (os.path.isdir(output_dir)
                                           and not os.listdir(output_dir)):
        raise ValueError(f"output directory {output_dir} is not empty: extend_vocab writes a "
                         "new directory and never changes a checkpoint in place")
    if kind == "huggingface" and os.path.realpath(output_dir).startswith(
            os.path.realpath(source) + os.sep):
        raise ValueError(f"output directory {output_dir} is inside the HuggingFace directory "
                         f"{source}, which is copied: give a directory outside it")
    vocab = load_vocab(vocab_file)
    plan = plan_vocab_extension(vocab, words, lower_case, where)
    # Written under a temporary name and renamed when complete, so that a
    # failure leaves no half-extended checkpoint behind.
    staging = f"{output_dir.rstrip(os.sep)}.partial-{os.getpid()}"
    shutil.rmtree(staging, ignore_errors=True)
    os.makedirs(staging)
    try:
        write = _extend_huggingface if kind == "huggingface" else _extend_bundle
        path, config_file, tables = write(kind, source, config, plan, staging)
        with open(os.path.join(staging, "vocab.txt"), "w", encoding="utf-8") as f:
            f.write("\n".join(plan.vocab) + "\n")
        if os.path.isdir(output_dir):
            os.rmdir(output_dir)
        os.rename(staging, output_dir)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise

    def final(p):
        relative = os.path.relpath(p, staging)
        return output_dir if relative == "." else os.path.join(output_dir, relative)

    return ExtendedCheckpoint(kind, final(path), final(os.path.join(staging, "vocab.txt")),
                              final(config_file), plan, tuple(tables))


def _grow_tables(tensors, table_suffixes, plan, names=None):
    """Grows, in place in the dict, the tensors `names` (default: those whose
    names end with one of `table_suffixes`)."""
    grown = names if names is not None else [
        name for name in tensors if name.endswith(table_suffixes)]
    if not any("word_embeddings" in name for name in grown):
        raise ValueError("the checkpoint has no word-embedding table "
                         f"(looked for {table_suffixes[0]})")
    for name in grown:
        tensors[name] = plan.grow(tensors[name], name)
    return sorted(grown)


def _read_bundle(prefix):
    reader = tf.train.load_checkpoint(prefix)
    return {name: reader.get_tensor(name) for name in reader.get_variable_to_shape_map()}


def _write_bundle(tensors, prefix):
    """Writes a checkpoint (TF's tensor bundle) with these names and values."""
    names = sorted(tensors)
    tf.raw_ops.SaveV2(prefix=prefix, tensor_names=names, shape_and_slices=[""] * len(names),
                      tensors=[tf.constant(tensors[name]) for name in names])
    # The `checkpoint` file, so that the directory itself names this checkpoint.
    # A relative path (the directory is renamed after writing), in the text
    # format `tf.train.latest_checkpoint` reads.
    name = json.dumps(os.path.basename(prefix))
    with open(os.path.join(os.path.dirname(prefix), "checkpoint"), "w", encoding="utf-8") as f:
        f.write(f"model_checkpoint_path: {name}\nall_model_checkpoint_paths: {name}\n")


def _without_optimizer(tensors):
    """A tfbert checkpoint's tensors without the optimizer's, and the tensor
    names of its tables (see `TFBERT_TABLES`).

    The object graph says which tensors belong to which object: the
    optimizer's child of the root is cut off, and only the tensors still
    reachable from the root are kept (a model variable that the optimizer
    also tracks may be stored under an `optimizer/...` name).
    """
    from tensorflow.core.protobuf import trackable_object_graph_pb2

    graph = trackable_object_graph_pb2.TrackableObjectGraph()
    graph.ParseFromString(tensors[OBJECT_GRAPH])
    root = graph.nodes[0]
    kept = [child for child in root.children if child.local_name != "optimizer"]
    del root.children[:]
    root.children.extend(kept)
    paths, queue = {0: ""}, [0]
    tables = set()
    for node_id in queue:  # breadth first; `queue` grows as nodes are found
        for child in graph.nodes[node_id].children:
            path = f"{paths[node_id]}/{child.local_name}".lstrip("/")
            keys = [a.checkpoint_key for a in graph.nodes[child.node_id].attributes
                    if a.name == "VARIABLE_VALUE"]
            if path.endswith(TFBERT_TABLES):
                tables.update(keys)
            if child.node_id not in paths:
                paths[child.node_id] = path
                queue.append(child.node_id)
    reachable = {a.checkpoint_key for node_id in paths for a in graph.nodes[node_id].attributes}
    kept_tensors = {k: v for k, v in tensors.items() if k in reachable}
    kept_tensors[OBJECT_GRAPH] = graph.SerializeToString()
    return kept_tensors, sorted(tables)


def _extend_bundle(kind, source, config, plan, output_dir):
    """A Google TF1 or tfbert checkpoint: same names, grown tables."""
    prefix = checkpoint_prefix(source)
    tensors = _read_bundle(prefix)
    if kind == "tf1":
        tensors = {k: v for k, v in tensors.items()
                   if not k.endswith(SKIPPED_SUFFIXES) and k not in SKIPPED_NAMES}
        tables = _grow_tables(tensors, TF1_TABLES, plan)
    else:
        tensors, names = _without_optimizer(tensors)
        tables = _grow_tables(tensors, TFBERT_TABLES, plan, names)
    config_file = os.path.join(output_dir, "bert_config.json")
    _write_config(_config_source(kind, source, config), plan, config_file, "vocab_size")
    out_prefix = os.path.join(output_dir, os.path.basename(prefix))
    _write_bundle(tensors, out_prefix)
    return out_prefix, config_file, tables


def _config_source(kind, source, config):
    """The config to extend: a `BertConfig`, or the path of a JSON file to edit."""
    if isinstance(config, BertConfig):
        return config
    if config:
        return config if str(config).endswith(".json") else model_config(config)
    beside = os.path.join(os.path.dirname(checkpoint_prefix(source)), "bert_config.json")
    if kind == "tf1" and os.path.isfile(beside):
        return beside
    raise ValueError(f"{source}: no bert_config.json beside the checkpoint; give the "
                     "model's config (config=, --model) so that the new vocab_size is "
                     "written with it")


def _write_config(config, plan, path, key):
    """Writes the config with the new vocab size; a JSON file keeps its other keys."""
    if isinstance(config, BertConfig):
        values = config.to_dict()
    else:
        with open(config, encoding="utf-8") as f:
            values = json.load(f)
    if values.get(key) != plan.original_size:
        raise ValueError(f"the config says {key}={values.get(key)}, but the vocab has "
                         f"{plan.original_size} tokens: give the vocab of this checkpoint")
    values[key] = len(plan.vocab)
    with open(path, "w", encoding="utf-8") as f:
        json.dump(values, f, indent=2)
        f.write("\n")


def _extend_huggingface(kind, source, config, plan, output_dir):
    """A HuggingFace directory: `model.safetensors`, `config.json`, the rest copied."""
    from safetensors.numpy import load_file, save_file

    from tfbert.checkpoints.huggingface import read_huggingface_weights

    weights_file = os.path.join(source, "model.safetensors")
    tensors = (load_file(weights_file) if os.path.exists(weights_file)
               else read_huggingface_weights(source))
    tables = _grow_tables(tensors, HF_TABLES, plan)
    tensors = {k: np.ascontiguousarray(v) for k, v in tensors.items()}
    save_file(tensors, os.path.join(output_dir, "model.safetensors"), metadata={"format": "pt"})
    config_file = os.path.join(output_dir, "config.json")
    if config:
        raise ValueError(f"{source} is a HuggingFace directory: its own config.json is the "
                         "config (do not give one)")
    _write_config(os.path.join(source, "config.json"), plan, config_file, "vocab_size")
    for name in sorted(os.listdir(source)):
        if name in _HF_WRITTEN:
            continue
        path = os.path.join(source, name)
        copy = shutil.copytree if os.path.isdir(path) else shutil.copyfile
        copy(path, os.path.join(output_dir, name))
    tokenizer_json = os.path.join(source, "tokenizer.json")
    if os.path.isfile(tokenizer_json):
        _write_tokenizer_json(tokenizer_json, plan, os.path.join(output_dir, "tokenizer.json"))
    return output_dir, config_file, tables


def _write_tokenizer_json(path, plan, out_path):
    """HuggingFace's fast-tokenizer file, with the extended WordPiece vocab: it holds
    a copy of the vocab, which would otherwise contradict `vocab.txt`."""
    with open(path, encoding="utf-8") as f:
        values = json.load(f)
    model = values.get("model") or {}
    if model.get("type") != "WordPiece" or not isinstance(model.get("vocab"), dict):
        raise ValueError(f"{path}: not a WordPiece tokenizer; cannot extend its vocab")
    model["vocab"] = {token: i for i, token in enumerate(plan.vocab)}
    with open(out_path, "w", encoding="utf-8") as f:
        json.dump(values, f, ensure_ascii=False)
