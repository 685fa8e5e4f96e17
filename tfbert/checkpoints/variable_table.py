"""Where every tfbert weight lives in the two outside formats.

One table serves both importers and the exporter: for each Keras variable of
a model, its name in the original Google TF1 checkpoints
(`bert/encoder/layer_0/attention/self/query/kernel`) and in HuggingFace
`BertModel`/`BertForPreTraining` state dicts
(`encoder.layer.0.attention.self.query.weight`), and how the array is laid out
there relative to ours.
"""

import dataclasses

# Layouts of the outside array relative to the Keras variable.
SAME = "same"
TRANSPOSED = "transposed"  # the outside array is the transpose of ours


@dataclasses.dataclass(frozen=True)
class Entry:
    """One weight: the Keras variable and its outside names and layouts."""

    variable: object
    tf1_name: str
    tf1_layout: str
    hf_name: str
    hf_layout: str


def _dense(prefix_tf1, prefix_hf, layer):
    """A Dense layer: TF1 `kernel [in, out]` / `bias`, HF `weight [out, in]` / `bias`."""
    return [Entry(layer.kernel, f"{prefix_tf1}/kernel", SAME, f"{prefix_hf}.weight", TRANSPOSED),
            Entry(layer.bias, f"{prefix_tf1}/bias", SAME, f"{prefix_hf}.bias", SAME)]


def _layer_norm(prefix_tf1, prefix_hf, layer):
    return [Entry(layer.gamma, f"{prefix_tf1}/gamma", SAME, f"{prefix_hf}.weight", SAME),
            Entry(layer.beta, f"{prefix_tf1}/beta", SAME, f"{prefix_hf}.bias", SAME)]


def encoder_entries(encoder):
    """The table for a `BertEncoder`, in the original checkpoint's order."""
    entries = [
        Entry(encoder.word_embeddings.embeddings, "bert/embeddings/word_embeddings", SAME,
              "embeddings.word_embeddings.weight", SAME),
        Entry(encoder.type_embeddings.embeddings, "bert/embeddings/token_type_embeddings",
              SAME, "embeddings.token_type_embeddings.weight", SAME),
        Entry(encoder.position_embedding.embeddings, "bert/embeddings/position_embeddings",
              SAME, "embeddings.position_embeddings.weight", SAME),
        *_layer_norm("bert/embeddings/LayerNorm", "embeddings.LayerNorm",
                     encoder.embeddings_layer_norm),
    ]
    for i, block in enumerate(encoder.transformer_layers):
        tf1, hf = f"bert/encoder/layer_{i}", f"encoder.layer.{i}"
        attention = block.self_attention
        for part in ("query", "key", "value"):
            entries += _dense(f"{tf1}/attention/self/{part}", f"{hf}.attention.self.{part}",
                              getattr(attention, part))
        entries += _dense(f"{tf1}/attention/output/dense", f"{hf}.attention.output.dense",
                          attention.attention_output)
        entries += _layer_norm(f"{tf1}/attention/output/LayerNorm",
                               f"{hf}.attention.output.LayerNorm", block.attention_layer_norm)
        entries += _dense(f"{tf1}/intermediate/dense", f"{hf}.intermediate.dense",
                          block.intermediate)
        entries += _dense(f"{tf1}/output/dense", f"{hf}.output.dense", block.output_dense)
        entries += _layer_norm(f"{tf1}/output/LayerNorm", f"{hf}.output.LayerNorm",
                               block.output_layer_norm)
    entries += _dense("bert/pooler/dense", "pooler.dense", encoder.pooler)
    return entries


def _head(prefix_tf1, prefix_hf, layer):
    """An output head: TF1 `output_weights [outputs, hidden]` (the transpose of a
    Keras kernel) and `output_bias`; HF `weight [outputs, hidden]` and `bias`."""
    slash = prefix_tf1 and prefix_tf1 + "/"
    return [Entry(layer.kernel, f"{slash}output_weights", TRANSPOSED, f"{prefix_hf}.weight",
                  TRANSPOSED),
            Entry(layer.bias, f"{slash}output_bias", SAME, f"{prefix_hf}.bias", SAME)]


def model_entries(model):
    """The table for a `BertEncoder` or any tfbert task model.

    Heads use the original scripts' names: `cls/predictions/*` and
    `cls/seq_relationship/*` (run_pretraining.py), top-level `output_weights`
    / `output_bias` (run_classifier.py; tfbert uses them for the token
    classifier too), `cls/squad/*` (run_squad.py). In HuggingFace state dicts
    the encoder of a task model sits under `bert.`.
    """
    from tfbert import models, networks  # models import checkpoints' users, not vice versa

    if isinstance(model, networks.BertEncoder):
        return encoder_entries(model)
    entries = [dataclasses.replace(e, hf_name="bert." + e.hf_name)
               for e in encoder_entries(model.encoder)]
    if isinstance(model, models.BertPretrainer):
        head = model.masked_lm
        entries += _dense("cls/predictions/transform/dense", "cls.predictions.transform.dense",
                          head.transform)
        entries += _layer_norm("cls/predictions/transform/LayerNorm",
                               "cls.predictions.transform.LayerNorm", head.transform_layer_norm)
        entries.append(Entry(head.output_bias, "cls/predictions/output_bias", SAME,
                             "cls.predictions.bias", SAME))
        entries += _head("cls/seq_relationship", "cls.seq_relationship",
                         model.next_sentence.dense)
    elif isinstance(model, models.BertClassifier):
        entries += _head("", "classifier", model.classifier.dense)
    elif isinstance(model, models.BertTokenClassifier):
        entries += _head("", "classifier", model.token_classifier.dense)
    elif isinstance(model, models.BertSpanLabeler):
        entries += _head("cls/squad", "qa_outputs", model.span_head.dense)
    else:
        raise TypeError(f"no checkpoint layout for {type(model).__name__}")
    return entries


def relayout(value, layout):
    """Converts between our layout and the outside one (both ways: a transpose
    is its own inverse)."""
    return value.T if layout == TRANSPOSED else value
