"""`--params_override` in the `a.b=c` form: scalars, and lists whose commas do not split."""

import pytest

from tfbert.configs.overrides import parse_overrides
from tfbert.tasks import load_config


def test_a_list_in_brackets_is_one_value():
    assert parse_overrides("task.label_names=[neg, pos],task.train_data.batch_size=8") == {
        "task.label_names": ["neg", "pos"], "task.train_data.batch_size": 8}


def test_a_list_reaches_the_task_config():
    config = load_config("classification", params_override="task.label_names=[neg, pos]")
    assert list(config.task.label_names) == ["neg", "pos"]


@pytest.mark.parametrize("text, message", [
    ("task.label_names=[neg, pos", "unclosed '\\['"),
    ("task.label_names=neg]", "unbalanced '\\]'"),
    ("task.label_names=[[a], b]", "only scalars"),
])
def test_bad_brackets_are_named(text, message):
    with pytest.raises(ValueError, match=message):
        parse_overrides(text)
