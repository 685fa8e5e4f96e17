"""`load_encoder`: a trainable `BertEncoder` back from tfbert's TF Hub-style encoder export.

For inference a Keras 3 model loads the exports as they are
(`keras.layers.TFSMLayer`, docs/serving.md, "Inside Keras 3"); such a layer is
a traced graph, though: no dropout switch, no access to the layers. To
fine-tune, `load_encoder` rebuilds the real `BertEncoder` from the config the
export carries (`assets/bert_config.json`, see `tfbert.serving.hub`) and copies
the export's weights into it.

Why the weights are read with `tf.saved_model.load` and matched by name: the
export's variables file keys its values by position in the export's
object graph (`_all_variables/<i>/...`), with no names, whereas the loaded
SavedModel gives each variable its Keras path (`transformer_layer_0/
self_attention/query/kernel:0`), its shape and whether it is trainable. A
match by path survives a change in the order variables are listed in, and any
missing, extra or reshaped weight is reported by name instead of being copied
into the wrong place. Only the trainable weights are copied: the other
variables of a `BertEncoder` are the dropout layers' random-generator states,
whose names carry a per-process counter and which a restored model should draw
afresh from its own seed.
"""

import os

import tensorflow as tf

from tfbert.configs.bert_config import BertConfig
from tfbert.networks.bert_encoder import INPUT_NAMES, BertEncoder
from tfbert.serving.hub import CONFIG_ASSET
from tfbert.serving.op_check import read_saved_model

# What `tfbert.serving.hub.export_encoder`'s `serving_default` gives (with
# `encoder_outputs_<i>` per layer); a SavedModel without them is not an encoder export.
OUTPUT_NAMES = ("pooled_output", "sequence_output", "default")
REEXPORT = ("export it again from the weights it came from: tfbert_export --task=hub "
            "--checkpoint=<checkpoint or HuggingFace directory> --model=<config> "
            "--vocab_file=<vocab.txt> --export_dir=<dir> (writes <dir>/encoder/<version>)")


def export_version_dir(path: str) -> str:
    """The SavedModel directory of `path`: `path` itself, or, for a base directory of
    versions (`<base>/<version>/`, as TF Serving watches), its highest version.

    Raises:
        FileNotFoundError: nothing at `path`.
        ValueError: neither a SavedModel nor a base directory of SavedModels.
    """
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"{path}: no such file or directory")
    if os.path.isfile(os.path.join(path, "saved_model.pb")):
        return path
    versions = [name for name in (os.listdir(path) if os.path.isdir(path) else [])
                if name.isdigit() and os.path.isfile(os.path.join(path, name, "saved_model.pb"))]
    if not versions:
        raise ValueError(f"{path} is not a SavedModel (no saved_model.pb) nor a directory of "
                         "versions <version>/saved_model.pb: give the encoder export, "
                         "<export_dir>/encoder/<version>")
    return os.path.join(path, max(versions, key=int))


def _check_encoder_signature(path):
    """Raises ValueError unless `path`'s `serving_default` is that of an encoder export."""
    meta_graphs = read_saved_model(path).meta_graphs
    signature = meta_graphs[0].signature_def.get("serving_default") if meta_graphs else None
    inputs = sorted(signature.inputs) if signature else []
    outputs = sorted(signature.outputs) if signature else []
    if inputs == sorted(INPUT_NAMES) and set(OUTPUT_NAMES) <= set(outputs):
        return
    hint = ""
    if inputs == ["text"] and "input_word_ids" in outputs:
        hint = (" This is the preprocessing export; give its sibling, "
                "<export_dir>/encoder/<version>.")
    raise ValueError(f"{path} is not a tfbert encoder export: its serving_default takes "
                     f"{inputs or 'nothing'} and gives {outputs or 'nothing'}; an encoder "
                     f"export takes {sorted(INPUT_NAMES)} and gives {list(OUTPUT_NAMES)} and "
                     "encoder_outputs_<i> (tfbert.serving.hub.export_encoder, "
                     f"tfbert_export --task=hub).{hint}")


def export_config(path: str) -> BertConfig:
    """The `BertConfig` of an encoder export (`<export>/assets/bert_config.json`).

    Raises:
        ValueError: not an encoder export, or one written before exports carried
            their config (the message says how to export it again).
    """
    path = export_version_dir(path)
    _check_encoder_signature(path)
    config_file = os.path.join(path, "assets", CONFIG_ASSET)
    if not os.path.isfile(config_file):
        raise ValueError(f"{path} has no assets/{CONFIG_ASSET}: it was exported by an older "
                         f"tfbert, before encoder exports carried their config; {REEXPORT}")
    return BertConfig.from_json_file(config_file)


def _saved_name(variable):
    return variable.name.rsplit(":", 1)[0]


def load_encoder(path: str, trainable: bool = True) -> BertEncoder:
    """A `BertEncoder` with the config and weights of a tfbert encoder export.

    The export is `tfbert.serving.hub.export_encoder`'s (`tfbert_export
    --task=hub` writes it as `<export_dir>/encoder/<version>`). The encoder is a
    new Keras model, exactly as `BertEncoder(config)` builds it: it trains,
    saves and exports like any other (dropout from its own seed; see the
    module doc).

    Args:
        path: the encoder export, `<export_dir>/encoder/<version>`, or its base
            directory `<export_dir>/encoder` (the highest version is read).
        trainable: whether the encoder's weights train (False: a frozen
            feature extractor).

    Returns:
        The `tfbert.BertEncoder`.

    Raises:
        FileNotFoundError: nothing at `path`.
        ValueError: `path` is not a tfbert encoder export, was written without its
            config, or holds weights that do not fit the config (named).

    Example:

    >>> import tempfile
    >>> import numpy as np
    >>> from tfbert.serving import hub as hub_exports
    >>> config = BertConfig(vocab_size=100, hidden_size=64, num_hidden_layers=2,
    ...                     num_attention_heads=2, intermediate_size=128)
    >>> source = BertEncoder(config)
    >>> path = hub_exports.export_encoder(tempfile.mkdtemp() + "/encoder", source, version=1)
    >>> encoder = load_encoder(path)
    >>> inputs = source.dummy_inputs(batch_size=2)
    >>> bool(np.array_equal(encoder(inputs)["pooled_output"], source(inputs)["pooled_output"]))
    True
    """
    path = export_version_dir(path)
    config = export_config(path)
    saved = {_saved_name(v): v for v in tf.saved_model.load(path).trainable_variables}
    encoder = BertEncoder(config)
    missing, reshaped = [], []
    for variable in encoder.trainable_variables:
        value = saved.pop(variable.path, None)
        if value is None:
            missing.append(variable.path)
        elif tuple(value.shape) != tuple(variable.shape):
            reshaped.append(f"{variable.path} {tuple(value.shape)} (config: "
                            f"{tuple(variable.shape)})")
        else:
            variable.assign(value)
    problems = [f"{label}: {', '.join(names[:5])}{' ...' if len(names) > 5 else ''}"
                for label, names in (("missing", missing), ("shaped unlike the config", reshaped),
                                     ("unexpected", sorted(saved))) if names]
    if problems:
        raise ValueError(f"{path}: the weights do not fit its {CONFIG_ASSET} ("
                         f"{'; '.join(problems)}); {REEXPORT}")
    encoder.trainable = trainable
    return encoder
