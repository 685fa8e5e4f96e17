"""`tfbert_export --long_text/--doc_stride`: applied to the tasks that read long
texts in windows, an error naming the flag and the task elsewhere. (The
`tfbert_finetune` flags are in `test_finetune_cli.py`.)"""

import pytest


def test_export_flags(uncased_vocab):
    from tfbert.cli.export import task_config

    values = {"task": "conll2003", "vocab_file": str(uncased_vocab), "lower_case": True,
              "seq_length": 128, "model": None, "long_text": "max_context", "doc_stride": 32}
    config = task_config(values, {"long_text", "doc_stride"}, "")
    assert (config.long_text, config.doc_stride) == ("max_context", 32)
    assert task_config(values, set(), "").long_text == "first"
    with pytest.raises(ValueError, match=r"--long_text does not apply to --task=squad/v1\.1: "
                       r"it cannot combine the windows"):
        task_config({**values, "task": "squad/v1.1"}, {"long_text"}, "")
    with pytest.raises(ValueError, match=r"--long_text does not apply to --task=embeddings"):
        task_config({**values, "task": "embeddings"}, {"long_text"}, "")
