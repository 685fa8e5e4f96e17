"""The student: its config, and its initial weights copied from chosen teacher layers.

A student of fewer layers learns much faster from a good start than from
random weights: copying the teacher's embeddings, a spread of its
transformer layers (e.g. 0, 2, 4 of 6), its pooler and its task head gives
the student the teacher's vocabulary, its lowest features and a head that
already reads them (the initialisation of DistilBERT, Sanh et al. 2019, and
of Sun et al.'s "Patient KD", who take every other layer). Copying needs the
same widths: every copied weight keeps its shape.
"""

import numpy as np

from tfbert.configs.bert_config import BertConfig
from tfbert.configs.official import model_config

# Config fields that layer copying needs equal (they fix the copied weights' shapes).
WIDTH_FIELDS = ("hidden_size", "intermediate_size", "num_attention_heads", "vocab_size",
                "type_vocab_size", "max_position_embeddings")


def student_config(teacher: BertConfig, student_model: str | None = None,
                   student_layers: int | None = None) -> BertConfig:
    """The student's `BertConfig`: `student_model` (an official name or a config file),
    or the teacher's config with `student_layers` transformer layers.

    Raises:
        ValueError: both or neither given, or a layer count outside 1..teacher's.

    Example:

    >>> teacher = model_config("bert_tiny_uncased").replace(num_hidden_layers=6)
    >>> student_config(teacher, student_layers=3).num_hidden_layers
    3
    """
    if (student_model is None) == (student_layers is None):
        raise ValueError("give exactly one of --student_model (a config name or file) and "
                         "--student_layers (the teacher's config with fewer layers)")
    if student_model is not None:
        return model_config(student_model)
    if not 1 <= student_layers <= teacher.num_hidden_layers:
        raise ValueError(f"--student_layers={student_layers}: give 1 to the teacher's "
                         f"{teacher.num_hidden_layers} layers")
    return teacher.replace(num_hidden_layers=student_layers)


def spread_layers(teacher_layers: int, student_layers: int) -> list[int]:
    """Teacher layers evenly spread from the first: the default layers to copy.

    Example:

    >>> spread_layers(6, 3)
    [0, 2, 4]
    >>> spread_layers(4, 2)
    [0, 2]
    """
    return [i * teacher_layers // student_layers for i in range(student_layers)]


def check_layer_copy(teacher: BertConfig, student: BertConfig, layers) -> list[int]:
    """The teacher layer of each student layer, checked.

    Raises:
        ValueError: a student of another width than the teacher (the message
            names the field), a layer count that does not match the student's,
            or a teacher layer index out of range.
    """
    layers = [int(i) for i in layers]
    for field in WIDTH_FIELDS:
        if getattr(student, field) != getattr(teacher, field):
            wider = "wider than" if getattr(student, field) > getattr(teacher, field) \
                else "narrower than"
            raise ValueError(f"--init_from_teacher_layers copies weights, which needs the "
                             f"teacher's widths: the student's {field} "
                             f"{getattr(student, field)} is {wider} the teacher's "
                             f"{getattr(teacher, field)}")
    if len(layers) != student.num_hidden_layers:
        raise ValueError(f"--init_from_teacher_layers={','.join(map(str, layers))} names "
                         f"{len(layers)} layers; the student has {student.num_hidden_layers}")
    for index in layers:
        if not 0 <= index < teacher.num_hidden_layers:
            raise ValueError(f"--init_from_teacher_layers: layer {index} is out of range; the "
                             f"teacher has layers 0 to {teacher.num_hidden_layers - 1}")
    return layers


def _head_weights(model):
    """The task model's weights outside its encoder (the head), in build order."""
    encoder = {id(w) for w in model.encoder.weights}
    return [w for w in model.weights if id(w) not in encoder]


def copy_teacher_layers(teacher, student, layers) -> None:
    """Sets the student task model's weights from the teacher task model's.

    Embeddings, pooler and head are copied whole; student layer `i` gets teacher
    layer `layers[i]`.

    Args:
        teacher, student: task models (`tfbert.models`) on `BertEncoder`s of the
            same widths (see `check_layer_copy`).
        layers: the teacher layer of each student layer.
    """
    layers = check_layer_copy(teacher.encoder.config, student.encoder.config, layers)
    source, target = teacher.encoder, student.encoder
    pairs = []
    for name in ("word_embeddings", "position_embedding", "type_embeddings",
                 "embeddings_layer_norm", "pooler"):
        pairs.append((getattr(source, name).weights, getattr(target, name).weights))
    for student_index, teacher_index in enumerate(layers):
        pairs.append((source.transformer_layers[teacher_index].weights,
                      target.transformer_layers[student_index].weights))
    pairs.append((_head_weights(teacher), _head_weights(student)))
    for from_weights, to_weights in pairs:
        if len(from_weights) != len(to_weights):
            raise ValueError(f"the student's {type(student).__name__} does not match the "
                             f"teacher's {type(teacher).__name__}")
        for a, b in zip(from_weights, to_weights, strict=True):
            if tuple(a.shape) != tuple(b.shape):
                raise ValueError(f"cannot copy {a.path} {tuple(a.shape)} into {b.path} "
                                 f"{tuple(b.shape)}")
            b.assign(np.asarray(a))
