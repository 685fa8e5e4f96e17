import json
import re

import pytest

import tfbert
from tfbert.configs import list_model_configs, model_config


def test_defaults_are_the_originals():
    config = tfbert.BertConfig(vocab_size=30522)
    assert (config.hidden_size, config.num_hidden_layers, config.num_attention_heads,
            config.intermediate_size) == (768, 12, 12, 3072)
    assert config.hidden_act == "gelu"
    assert config.type_vocab_size == 16  # the original default when the key is absent
    assert config.initializer_range == 0.02


def test_json_round_trip_and_unknown_keys(tmp_path):
    values = {"vocab_size": 119547, "hidden_size": 768, "num_attention_heads": 12,
              "type_vocab_size": 2, "directionality": "bidi",
              "pooler_type": "first_token_transform",
              "pooler_fc_size": 768}
    path = tmp_path / "bert_config.json"
    path.write_text(json.dumps(values))
    config = tfbert.BertConfig.from_json_file(path)
    assert config.vocab_size == 119547 and config.type_vocab_size == 2
    config.to_json_file(tmp_path / "out.json")
    assert tfbert.BertConfig.from_json_file(tmp_path / "out.json") == config


def test_yaml_round_trip(tmp_path):
    config = tfbert.BertConfig(vocab_size=100, hidden_size=64, num_attention_heads=4)
    config.to_yaml_file(tmp_path / "c.yaml")
    assert tfbert.BertConfig.from_yaml_file(tmp_path / "c.yaml") == config
    assert tfbert.BertConfig.from_file(tmp_path / "c.yaml") == config


@pytest.mark.parametrize("key, value, message", [
    ("hidden_size", "768", "hidden_size must be an int"),
    ("hidden_size", 768.0, "hidden_size must be an int"),
    ("num_hidden_layers", True, "num_hidden_layers must be an int"),
    ("hidden_dropout_prob", "0.1", "hidden_dropout_prob must be a number"),
    ("hidden_act", 3, "hidden_act must be a string"),
    ("hidden_act", "gelu2", "hidden_act 'gelu2'"),
    ("num_hidden_layers", 0, "num_hidden_layers must be >= 1"),
    ("attention_probs_dropout_prob", 1.5, "attention_probs_dropout_prob must be in"),
    ("num_attention_heads", 5, "hidden_size (768) is not a multiple of num_attention_heads (5)"),
])
def test_bad_values_name_the_key(key, value, message):
    with pytest.raises((TypeError, ValueError), match=re.escape(message)):
        tfbert.BertConfig.from_dict({"vocab_size": 30522, key: value})


def test_missing_vocab_size_and_bad_json(tmp_path):
    with pytest.raises(ValueError, match="vocab_size"):
        tfbert.BertConfig.from_dict({"hidden_size": 768})
    path = tmp_path / "bad.json"
    path.write_text("{not json")
    with pytest.raises(ValueError, match="not valid JSON"):
        tfbert.BertConfig.from_json_file(path)


def test_official_configs_by_name():
    names = list_model_configs()
    small = [n for n in names if n.startswith("uncased_L-")]
    assert len(small) == 24
    for name in ("bert_base_uncased", "bert_base_cased", "bert_large_uncased", "bert_large_cased",
                 "bert_base_multilingual_cased", "bert_base_chinese"):
        assert name in names
    large = model_config("bert_large_cased")
    assert (large.num_hidden_layers, large.hidden_size, large.vocab_size) == (24, 1024, 28996)
    assert model_config("bert_base_multilingual_cased").vocab_size == 119547
    assert model_config("bert_base_chinese").vocab_size == 21128
    small_bert = model_config("bert_small_uncased")
    assert (small_bert.num_hidden_layers, small_bert.hidden_size,
            small_bert.num_attention_heads, small_bert.intermediate_size) == (4, 512, 8, 2048)
    for name in small:
        config = model_config(name)
        assert config.type_vocab_size == 2 and config.intermediate_size == 4 * config.hidden_size
    with pytest.raises(ValueError, match="no official model config named 'bert_huge'"):
        model_config("bert_huge")


def test_model_config_reads_huggingface_config_json(tmp_path):
    """HuggingFace's "gelu" is the erf form: a config.json read by path (or its directory)
    goes through the HuggingFace importer, a Google bert_config.json does not."""
    values = {"vocab_size": 100, "hidden_size": 64, "num_hidden_layers": 2,
              "num_attention_heads": 2, "intermediate_size": 128, "hidden_act": "gelu"}
    google = tmp_path / "bert_config.json"
    google.write_text(json.dumps(values))
    hf_dir = tmp_path / "hf"
    hf_dir.mkdir()
    (hf_dir / "config.json").write_text(json.dumps({**values, "model_type": "bert"}))
    assert model_config(str(google)).hidden_act == "gelu"
    assert model_config(str(hf_dir / "config.json")).hidden_act == "gelu_erf"
    assert model_config(str(hf_dir)).hidden_act == "gelu_erf"
