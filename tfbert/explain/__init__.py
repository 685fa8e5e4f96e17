"""Looking inside a fine-tuned BERT: attention maps and integrated gradients.

- `attention_maps(model, inputs)`: the attention probabilities of every layer and
  head, `[layers][batch, heads, seq, seq]`, from the model's own forward pass
  (`BertEncoder.encode(..., return_attention_scores=True)`), with its outputs.
- `integrated_gradients(model, inputs, target)`: the attribution of each word piece
  to one logit (a class, a start/end logit, a tag at a position), with respect to
  the word embeddings; `resolve_target` names the logit the user's way.
- `load_model_dir`, `explain_text`, `write_explanation`: a `tfbert_finetune`
  directory and a text -> PNG pictures and the numbers (what `tfbert_explain` runs).

See docs/explain.md.
"""

from tfbert.explain.attention import AttentionMaps, attention_maps, check_layer_head
from tfbert.explain.explainer import Explanation, explain_text, load_model_dir, write_explanation
from tfbert.explain.integrated_gradients import (
    DEFAULT_STEPS,
    Attributions,
    integrated_gradients,
    pad_baseline,
    quadrature,
)
from tfbert.explain.plots import attention_heatmap, attribution_strip
from tfbert.explain.targets import Target, resolve_target
from tfbert.explain.text import TextInput, encode_text

__all__ = ["DEFAULT_STEPS", "AttentionMaps", "Attributions", "Explanation", "Target",
           "TextInput", "attention_heatmap", "attention_maps", "attribution_strip",
           "check_layer_head", "encode_text", "explain_text", "integrated_gradients",
           "load_model_dir", "pad_baseline", "quadrature", "resolve_target",
           "write_explanation"]
