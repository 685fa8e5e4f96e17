"""Build a tfbert model from outside weights, and write it in the format asked for."""

import os

from tfbert.checkpoints.google_tf1 import (
    load_tf1_checkpoint,
    read_tf1_checkpoint,
    save_tf1_checkpoint,
)
from tfbert.checkpoints.huggingface import (
    config_from_huggingface,
    load_huggingface_weights,
    read_huggingface_weights,
)
from tfbert.configs.bert_config import BertConfig

MODEL_KINDS = ("auto", "encoder", "pretrainer")
OUTPUT_FORMATS = ("keras", "tf1")


def _build(config, kind, has_pretraining_heads):
    from tfbert.models import BertPretrainer
    from tfbert.networks import BertEncoder

    if kind == "auto":
        kind = "pretrainer" if has_pretraining_heads else "encoder"
    encoder = BertEncoder(config)
    return BertPretrainer(encoder) if kind == "pretrainer" else encoder


def load_bert(tf1_checkpoint=None, bert_config_file=None, hf_model_dir=None, model="auto"):
    """A `BertEncoder` or `BertPretrainer` holding the weights of a Google TF1
    checkpoint (with its `bert_config.json`) or of a HuggingFace BERT directory.

    Args:
        tf1_checkpoint: prefix, `.index` file or directory of a TF1 checkpoint.
        bert_config_file: its `bert_config.json` (default: beside the checkpoint).
        hf_model_dir: a HuggingFace directory (`config.json` + weights).
        model: `"encoder"`, `"pretrainer"` or `"auto"` (pretrainer when the
            source holds the pre-training heads).
    """
    if model not in MODEL_KINDS:
        raise ValueError(f"model must be one of {MODEL_KINDS}, got {model!r}")
    if (tf1_checkpoint is None) == (hf_model_dir is None):
        raise ValueError("give exactly one of tf1_checkpoint and hf_model_dir")
    if tf1_checkpoint is not None:
        if bert_config_file is None:
            base = tf1_checkpoint if os.path.isdir(tf1_checkpoint) else \
                os.path.dirname(tf1_checkpoint)
            bert_config_file = os.path.join(base, "bert_config.json")
        names = read_tf1_checkpoint(tf1_checkpoint)
        result = _build(BertConfig.from_json_file(bert_config_file), model,
                        "cls/predictions/output_bias" in names)
        load_tf1_checkpoint(result, tf1_checkpoint)
        return result
    weights = read_huggingface_weights(hf_model_dir)
    result = _build(config_from_huggingface(os.path.join(hf_model_dir, "config.json")), model,
                    "cls.predictions.bias" in weights)
    load_huggingface_weights(result, weights)
    return result


def save_bert(model, output_path, output_format="keras"):
    """Writes a model as a `.keras` file or as a Google TF1 checkpoint
    (`output_path` is then the prefix, e.g. `out/bert_model.ckpt`,
    with `bert_config.json` beside it)."""
    if output_format == "keras":
        if not str(output_path).endswith(".keras"):
            raise ValueError(f"a Keras model file must end in .keras, got {output_path}")
        os.makedirs(os.path.dirname(os.path.abspath(output_path)), exist_ok=True)
        model.save(output_path)
        return output_path
    if output_format == "tf1":
        return save_tf1_checkpoint(model, output_path)
    raise ValueError(f"output_format must be one of {OUTPUT_FORMATS}, got {output_format!r}")
