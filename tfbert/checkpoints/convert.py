"""Build a tfbert model from outside weights, and write it in the format asked for."""

import os

from tfbert.checkpoints.formats import MODEL_KINDS, OUTPUT_FORMATS
from tfbert.checkpoints.google_tf1 import read_tf1_checkpoint, save_tf1_checkpoint
from tfbert.checkpoints.huggingface import read_huggingface_weights
from tfbert.checkpoints.loader import load_model
from tfbert.models.pretrainer import BertPretrainer


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
    if model == "auto":
        if tf1_checkpoint is not None:
            has_heads = "cls/predictions/output_bias" in read_tf1_checkpoint(tf1_checkpoint)
        else:
            has_heads = "cls.predictions.bias" in read_huggingface_weights(hf_model_dir)
        model = "pretrainer" if has_heads else "encoder"
    head = BertPretrainer if model == "pretrainer" else None
    return load_model(tf1_checkpoint or hf_model_dir, head=head, config=bert_config_file)


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
