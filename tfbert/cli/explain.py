"""`tfbert_explain`: why a fine-tuned model says what it says about one text.

    tfbert_explain --model_dir=runs/sst2 --text="a gorgeous, witty film" \
        --output_dir=explain/sst2
    tfbert_explain --model_dir=runs/mrpc --text="He left." --text_b="He went away." \
        --target=1 --layer=3 --head=5 --output_dir=explain/mrpc
    tfbert_explain --model_dir=runs/squad --text="Who won?" \
        --text_b="Denver won the game." --target=start --output_dir=explain/squad

Writes to `--output_dir`: `attention_L<layer>_H<head>.png` (the heat map of one
head), `attributions.png` (integrated gradients of the target logit, per word
piece), `explanation.json` (pieces, words and their attributions, the target,
`f(input)`, `f(baseline)`, the completeness error), `attributions.tsv` and
`attention.npy` (every layer and head, `[layers, heads, seq, seq]`). The model
directory is read as `tfbert_export` reads it (its task from `params.yaml`, the
kept best checkpoint if any). The library: `tfbert.explain` (docs/explain.md).
"""

from absl import flags

from tfbert.cli import common

FLAGS = flags.FLAGS


def define_flags():
    """The flags of `tfbert_explain` (see the module doc)."""
    flags.DEFINE_string("model_dir", None, "A tfbert_finetune directory (params.yaml and "
                        "checkpoints) of a classification, regression, multi-label, "
                        "tagging or SQuAD task.")
    flags.DEFINE_bool("use_best", True, "Its best/ checkpoint when it has one; --nouse_best: "
                      "the latest.")
    flags.DEFINE_string("text", None, "The text (SQuAD: the question).")
    flags.DEFINE_string("text_b", None, "The second text of a pair task (SQuAD: the passage).")
    flags.DEFINE_string("target", None, "The logit to explain: a label or tag name, a class "
                        "index, or start/end (SQuAD). Default: the predicted class (tagging: "
                        "tag at --position), start for SQuAD.")
    flags.DEFINE_integer("position", None, "Tagging and SQuAD: the word piece (0 = [CLS]) of "
                         "the tag or span logit. Default: 1 (tagging), the highest (SQuAD).")
    flags.DEFINE_integer("layer", -1, "The layer of the heat map (-1: the last).")
    flags.DEFINE_integer("head", 0, "The attention head of the heat map.")
    flags.DEFINE_integer("steps", None, "Integrated gradients: quadrature points (default: "
                         "tfbert.explain.DEFAULT_STEPS).")
    flags.DEFINE_integer("batch_size", 16, "Integrated gradients: points per forward pass.")
    flags.DEFINE_string("output_dir", None, "Where the pictures and numbers go.")
    flags.mark_flags_as_required(["model_dir", "text", "output_dir"])


def main(argv):
    del argv
    from tfbert.explain import (
        DEFAULT_STEPS,
        check_layer_head,
        explain_text,
        load_model_dir,
        write_explanation,
    )

    values, _ = common.flag_values()
    task, model = load_model_dir(values["model_dir"], use_best=values["use_best"])
    config = model.encoder.config
    try:  # before the (slower) explanation
        check_layer_head(config.num_hidden_layers, config.num_attention_heads,
                         values["layer"], values["head"])
    except ValueError as error:
        raise ValueError(f"--layer={values['layer']} --head={values['head']}: {error}") from None
    explanation = explain_text(task, model, values["text"], values["text_b"], values["target"],
                               values["position"], steps=values["steps"] or DEFAULT_STEPS,
                               batch_size=values["batch_size"])
    for path in write_explanation(explanation, values["output_dir"], values["layer"],
                                  values["head"]):
        print(f"wrote {path}")
    numbers = explanation.to_dict()
    print(f"target {numbers['target']}: f(input) - f(baseline) = "
          f"{numbers['input_value'] - numbers['baseline_value']:+.6g}, attributions sum to "
          f"{numbers['attribution_sum']:+.6g} (completeness error "
          f"{numbers['completeness_error']:.2%})")


def run():
    common.run_command("tfbert_explain", main, define_flags)


if __name__ == "__main__":
    run()
