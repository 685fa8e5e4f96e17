"""Configs: `BertConfig`, the official YAML configs (loadable by name) and HuggingFace's."""

from tfbert.configs.bert_config import BertConfig
from tfbert.configs.huggingface import config_from_huggingface, is_huggingface_dir
from tfbert.configs.official import list_model_configs, model_config, official_configs_dir

__all__ = ["BertConfig", "config_from_huggingface", "is_huggingface_dir", "list_model_configs",
           "model_config", "official_configs_dir"]
