"""`tfbert.explain.resolve_target`: the user's words for a logit, and clear errors for
words that name nothing."""

import re

import numpy as np
import pytest

from tfbert.explain import Target, resolve_target

SENTENCE = {"logits": np.array([[0.1, 2.0, -1.0]])}
SPAN = {"start_logits": np.array([[0.0, 1.0, 5.0, 0.0, 9.0]]),
        "end_logits": np.array([[0.0, 3.0, 1.0, 0.0, 9.0]])}
TAGS = {"logits": np.zeros((1, 6, 3)) + np.array([0.0, 0.0, 1.0])}
NAMES = ["negative", "neutral", "positive"]


def test_classes_by_name_index_or_prediction():
    assert resolve_target(SENTENCE, 5, "positive", label_names=NAMES) == Target(
        "logits", (2,), "positive")
    assert resolve_target(SENTENCE, 5, "0", label_names=NAMES).index == (0,)
    assert resolve_target(SENTENCE, 5, None, label_names=NAMES).label == "neutral"
    assert resolve_target({"logits": np.array([[0.3]])}, 5).index == (0,)  # regression


def test_span_and_tag_targets():
    # The highest start among the 4 real pieces (9.0 at position 4 is padding here).
    assert resolve_target(SPAN, 4) == Target("start_logits", (2,), "start@2")
    assert resolve_target(SPAN, 4, "end") == Target("end_logits", (1,), "end@1")
    assert resolve_target(SPAN, 5, "end", position=3).index == (3,)
    assert resolve_target(TAGS, 6, label_names=["O", "B-PER", "I-PER"]) == Target(
        "logits", (1, 2), "I-PER@1")
    assert resolve_target(TAGS, 6, "B-PER", position=4,
                          label_names=["O", "B-PER", "I-PER"]).index == (4, 1)


@pytest.mark.parametrize(("outputs", "target", "position", "message"), [
    (SENTENCE, "happy", None, "target 'happy' is not a class of the model; known: "
                              "negative, neutral, positive"),
    (SENTENCE, "3", None, "the model has 3 class"),
    (SENTENCE, None, 2, "a position applies to tagging and SQuAD models only"),
    (SPAN, "middle", None, "a span model explains `start` or `end`"),
    (SPAN, "start", 5, "position 5 is beyond the input: it has 5 word pieces"),
    (TAGS, "O", 6, "position 6 is beyond the input"),
    ({"pooled_output": np.zeros((1, 4))}, None, None, "have no logits to explain"),
])
def test_targets_that_do_not_exist_are_clear_errors(outputs, target, position, message):
    length = 5 if "start_logits" in outputs else 6
    with pytest.raises(ValueError, match=re.escape(message)):
        resolve_target(outputs, length, target, position, label_names=NAMES)
