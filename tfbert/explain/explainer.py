"""One text through a fine-tuned model: its attention maps, the integrated gradients of
a logit, and the files that show them (PNG pictures, JSON and TSV numbers).

`load_model_dir` reads a `tfbert_finetune` directory the way `tfbert_export` does (the
task from `params.yaml` through the task registry, the kept best checkpoint when there
is one, else the latest); `explain_text` and `write_explanation` do the rest.
"""

import dataclasses
import json
import os

import numpy as np

from tfbert.checkpoints.google_tf1 import checkpoint_prefix
from tfbert.checkpoints.loader import latest_weights, load_model
from tfbert.explain.attention import AttentionMaps, attention_maps
from tfbert.explain.integrated_gradients import (
    DEFAULT_STEPS,
    Attributions,
    integrated_gradients,
)
from tfbert.explain.plots import attention_heatmap, attribution_strip
from tfbert.explain.targets import resolve_target
from tfbert.explain.text import TextInput, encode_text
from tfbert.tasks.registry import build_task, load_config
from tfbert.training.best_checkpoint import best_checkpoint_dir


@dataclasses.dataclass
class Explanation:
    """What `explain_text` found for one text.

    Args:
        text: the packed input, its pieces and words (`TextInput`).
        attention: the attention of every layer and head (`AttentionMaps`).
        attributions: integrated gradients of the target (`Attributions`).

    Example:

    >>> Explanation.__dataclass_fields__.keys()
    dict_keys(['text', 'attention', 'attributions'])
    """

    text: TextInput
    attention: AttentionMaps
    attributions: Attributions

    def to_dict(self) -> dict:
        """The numbers, for JSON: pieces with their attributions, words with their
        sums, the target, `f(input)`, `f(baseline)` and the completeness error."""
        a = self.attributions
        return {
            "target": a.target.label, "output": a.target.output,
            "index": list(a.target.index),
            "input_value": a.input_value, "baseline_value": a.baseline_value,
            "attribution_sum": float(np.sum(a.values)),
            "completeness_error": a.completeness_error,
            "pieces": [{"piece": p, "word": w, "attribution": float(v)} for p, w, v in
                       zip(self.text.pieces, self.text.word_ids, a.values, strict=True)],
            "words": [{"word": w, "attribution": v} for w, v in
                      self.text.word_sums(a.values)],
            "num_layers": self.attention.num_layers, "num_heads": self.attention.num_heads,
        }


def _require_head(task_name, model):
    """`model`, or the error naming a task whose model has no head to explain."""
    if not callable(getattr(model, "head_outputs", None)):
        raise ValueError(f"task {task_name} has no head to explain (its model is "
                         f"{type(model).__name__}); explain a model fine-tuned for a "
                         "classification, regression, multi-label, tagging or SQuAD task")
    return model


def _explained_head(task):
    """`task.build_head`, refusing a task without a head to explain before any weights
    are read (pre-training, the encoder exports)."""
    return lambda encoder: _require_head(task.config.task, task.build_head(encoder))


def load_model_dir(model_dir: str, use_best: bool = True):
    """`(task, model)` of a `tfbert_finetune` directory.

    Args:
        model_dir: the training directory (with `params.yaml` and checkpoints).
        use_best: the kept `best/` checkpoint when there is one (as `tfbert_export`).

    Raises:
        FileNotFoundError: no `params.yaml` or no checkpoint.
        ValueError: a task without a head (named), or weights without the head.
    """
    params = os.path.join(model_dir, "params.yaml")
    if not os.path.isfile(params):
        raise FileNotFoundError(f"--model_dir={model_dir} has no params.yaml: give a "
                                "directory written by tfbert_finetune")
    task = build_task(load_config(config_files=[params]).task)
    best = best_checkpoint_dir(model_dir) if use_best else None
    weights = checkpoint_prefix(best) if best else latest_weights(model_dir)
    task.restore_tuned(os.path.dirname(weights))
    model = load_model(weights, head=_explained_head(task), config=task.bert_config())
    return task, model


def explain_text(task, model, text: str, text_b: str | None = None,
                 target: str | int | None = None, position: int | None = None,
                 steps: int = DEFAULT_STEPS, batch_size: int = 16) -> Explanation:
    """Attention maps and integrated gradients of one text.

    Args:
        task: the model's task (its tokenizer, label names and sequence length).
        model: the task's model (`load_model_dir`).
        text, text_b: the text (SQuAD: the question) and the second text of a pair
            (SQuAD: the passage).
        target: the logit to explain (see `tfbert.explain.resolve_target`); None: the
            predicted class, or `start` for SQuAD.
        position: the word piece of a tag or span logit (see `resolve_target`).
        steps, batch_size: of `integrated_gradients`.

    Returns:
        An `Explanation`.
    """
    _require_head(task.config.task, model)
    encoded = encode_text(task.tokenizer, text, text_b,
                          task.config.predict_data.max_seq_length)
    maps = attention_maps(model, encoded.inputs)
    length = len(encoded.pieces)
    label_names = getattr(task, "label_names", None)
    chosen = resolve_target({k: np.asarray(v) for k, v in maps.outputs.items()}, length,
                            target, position, label_names)
    attributions = integrated_gradients(model, encoded.inputs, chosen, steps=steps,
                                        batch_size=batch_size)
    return Explanation(text=encoded, attention=maps, attributions=attributions)


def write_explanation(explanation: Explanation, output_dir: str, layer: int = -1,
                      head: int = 0) -> list[str]:
    """Writes `attention_L<layer>_H<head>.png`, `attributions.png`,
    `explanation.json` (the numbers of `Explanation.to_dict`), `attributions.tsv`
    (piece, word, attribution) and `attention.npy` (`[layers, heads, seq, seq]`) to
    `output_dir`; returns their paths.
    """
    probs = explanation.attention.head(layer, head)  # checks the layer and head first
    layer = layer % explanation.attention.num_layers
    head = head % explanation.attention.num_heads
    os.makedirs(output_dir, exist_ok=True)
    text, a = explanation.text, explanation.attributions
    paths = [
        attention_heatmap(probs, text.pieces,
                          os.path.join(output_dir, f"attention_L{layer}_H{head}.png"),
                          f"layer {layer}, head {head}"),
        attribution_strip(text.pieces, a.values, os.path.join(output_dir, "attributions.png"),
                          f"integrated gradients of {a.target.label} "
                          f"(f(x) - f(baseline) = {a.input_value - a.baseline_value:+.3f})"),
    ]
    path = os.path.join(output_dir, "explanation.json")
    with open(path, "w", encoding="utf-8") as f:
        json.dump(explanation.to_dict(), f, indent=1, ensure_ascii=False)
    paths.append(path)
    path = os.path.join(output_dir, "attributions.tsv")
    with open(path, "w", encoding="utf-8") as f:
        f.write("position\tpiece\tword\tattribution\n")
        for i, (piece, word, value) in enumerate(zip(text.pieces, text.word_ids, a.values,
                                                     strict=True)):
            f.write(f"{i}\t{piece}\t{text.words[word] if word >= 0 else ''}\t{value:.6g}\n")
    paths.append(path)
    path = os.path.join(output_dir, "attention.npy")
    np.save(path, np.stack([p[0] for p in explanation.attention.probs]))
    paths.append(path)
    return paths
