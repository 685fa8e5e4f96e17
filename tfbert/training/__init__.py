"""Training: strategies (TPU, mirrored, multi-worker), optimizers, the loop, checkpoints."""

from tfbert.training.checkpointing import restore_encoder, restore_model, training_checkpoint
from tfbert.training.optimizers import BertAdamW, Lamb, WarmupPolynomialDecay, create_optimizer
from tfbert.training.strategies import create_strategy, is_chief, tpu_cluster_resolver
from tfbert.training.trainer import Trainer

__all__ = [
    "BertAdamW", "Lamb", "Trainer", "WarmupPolynomialDecay", "create_optimizer",
    "create_strategy", "is_chief", "restore_encoder", "restore_model", "tpu_cluster_resolver",
    "training_checkpoint",
]
