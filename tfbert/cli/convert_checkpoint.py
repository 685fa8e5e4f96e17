"""`tfbert_convert_checkpoint`: Google TF1 or HuggingFace BERT weights -> .keras or TF1.

Examples:

    tfbert_convert_checkpoint --tf1_checkpoint=uncased_L-12_H-768_A-12/bert_model.ckpt \
        --output_path=bert_base.keras
    tfbert_convert_checkpoint --hf_model_dir=all-MiniLM-L6-v2 \
        --output_format=tf1 --output_path=minilm/bert_model.ckpt
"""

from absl import flags, logging

from tfbert.checkpoints.formats import MODEL_KINDS, OUTPUT_FORMATS
from tfbert.cli import common

FLAGS = flags.FLAGS


def define_flags():
    """The flags of `tfbert_convert_checkpoint` (see the module doc)."""
    flags.DEFINE_string("tf1_checkpoint", None, "Google TF1 checkpoint (prefix, .index or dir).")
    flags.DEFINE_string("bert_config_file", None,
                        "bert_config.json of the TF1 checkpoint (default: beside it).")
    flags.DEFINE_string("hf_model_dir", None,
                        "HuggingFace BERT directory: config.json + model.safetensors "
                        "(or pytorch_model.bin, read with torch.load(weights_only=True)).")
    flags.DEFINE_enum("model", "auto", MODEL_KINDS,
                      "What to build: the encoder, or the encoder with the pre-training heads "
                      "(auto: the heads when the source has them).")
    flags.DEFINE_enum("output_format", "keras", OUTPUT_FORMATS,
                      "keras: a .keras file; tf1: a Google TF1 checkpoint + bert_config.json.")
    flags.DEFINE_string("output_path", None, "model.keras, or the TF1 prefix out/bert_model.ckpt.")
    flags.mark_flag_as_required("output_path")
    flags.register_multi_flags_validator(
        ["tf1_checkpoint", "hf_model_dir"],
        lambda f: (f["tf1_checkpoint"] is None) != (f["hf_model_dir"] is None),
        message="give exactly one of --tf1_checkpoint and --hf_model_dir")


def main(argv):
    from tfbert.checkpoints.convert import load_bert, save_bert

    del argv
    model = load_bert(FLAGS.tf1_checkpoint, FLAGS.bert_config_file, FLAGS.hf_model_dir,
                      FLAGS.model)
    written = save_bert(model, FLAGS.output_path, FLAGS.output_format)
    logging.info("wrote %s (%s, %d parameters) to %s", type(model).__name__,
                 FLAGS.output_format, model.count_params(), written)
    print(f"{type(model).__name__} with {model.count_params():,} parameters -> {written}")


def run():
    common.run_command("tfbert_convert_checkpoint", main, define_flags)


if __name__ == "__main__":
    run()
