"""`tfbert.explain.load_model_dir` / `explain_text` / `write_explanation` on a real
`tfbert_finetune` directory (tiny SST-2 model), and the error for a task without a head."""

import json

import numpy as np
import pytest
import yaml

import tfbert
from tfbert.configs import experiment as experiment_lib
from tfbert.explain import explain_text, load_model_dir, write_explanation
from tfbert.tasks import load_config


@pytest.fixture(scope="module")
def loaded(sst2_model_dir):
    return load_model_dir(sst2_model_dir)


@pytest.mark.slow
def test_a_text_through_a_fine_tuned_directory(loaded, tmp_path):
    task, model = loaded
    assert task.config.task == "glue/sst2" and isinstance(model, tfbert.BertClassifier)
    explanation = explain_text(task, model, "A gorgeous, witty film.", target="1")
    numbers = explanation.to_dict()
    assert numbers["target"] == "1" and numbers["completeness_error"] < 0.01
    # f(input) is the model's logit for the text, as a call gives it.
    logits = model(explanation.text.inputs)["logits"].numpy()[0]
    np.testing.assert_allclose(numbers["input_value"], logits[1], rtol=1e-5, atol=1e-6)
    assert [w["word"] for w in numbers["words"]] == ["A", "gorgeous", ",", "witty", "film", "."]
    np.testing.assert_allclose(sum(w["attribution"] for w in numbers["words"]),
                               numbers["attribution_sum"], rtol=1e-5, atol=1e-7)

    paths = write_explanation(explanation, str(tmp_path), layer=-1, head=1)
    names = sorted(p.rsplit("/", 1)[-1] for p in paths)
    last = model.encoder.config.num_hidden_layers - 1  # layer -1, named by its index
    assert names == ["attention.npy", f"attention_L{last}_H1.png", "attributions.png",
                     "attributions.tsv", "explanation.json"]
    assert json.loads((tmp_path / "explanation.json").read_text())["target"] == "1"
    stacked = np.load(tmp_path / "attention.npy")
    config, pieces = model.encoder.config, len(explanation.text.pieces)
    assert stacked.shape == (config.num_hidden_layers, config.num_attention_heads, pieces, pieces)
    lines = (tmp_path / "attributions.tsv").read_text().splitlines()
    assert lines[0] == "position\tpiece\tword\tattribution" and len(lines) == 1 + stacked.shape[2]
    assert lines[2].split("\t")[1:3] == ["a", "A"]
    with pytest.raises(ValueError, match="target 'positive' is not a class of the model; "
                                         "known: 0, 1"):
        explain_text(task, model, "fine", target="positive")


def _pretraining_dir(directory):
    """A pre-training directory as the runner leaves it: params.yaml and a checkpoint."""
    config = load_config("pretraining", params_override="task.model=bert_tiny_uncased")
    directory.mkdir()
    (directory / "params.yaml").write_text(yaml.safe_dump(experiment_lib.to_dict(config)))
    model = tfbert.BertPretrainer(tfbert.BertEncoder(tfbert.model_config("bert_tiny_uncased")))
    from tfbert.checkpoints import training_checkpoint

    training_checkpoint(model).save(str(directory / "ckpt"))
    return str(directory)


def test_a_task_without_a_head_is_named(tmp_path):
    with pytest.raises(ValueError, match="task pretraining has no head to explain"):
        load_model_dir(_pretraining_dir(tmp_path / "pretrain"))
    with pytest.raises(FileNotFoundError, match=r"has no params\.yaml"):
        load_model_dir(str(tmp_path))
