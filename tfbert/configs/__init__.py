"""Configs: `BertConfig` and the official YAML configs, loadable by name."""

from tfbert.configs.bert_config import BertConfig
from tfbert.configs.official import list_model_configs, model_config, official_configs_dir

__all__ = ["BertConfig", "list_model_configs", "model_config", "official_configs_dir"]
