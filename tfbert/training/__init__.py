"""Training: strategies (TPU, mirrored, multi-worker), optimizers, the loop, and the
one experiment runner (`run_experiment`) for pre-training and fine-tuning."""

from tfbert.training.experiment import run_experiment
from tfbert.training.optimizers import BertAdamW, Lamb, WarmupPolynomialDecay, create_optimizer
from tfbert.training.strategies import create_strategy, is_chief
from tfbert.training.tpu import connect_tpu, tpu_cluster_resolver
from tfbert.training.trainer import Trainer

__all__ = [
    "BertAdamW", "Lamb", "Trainer", "WarmupPolynomialDecay", "connect_tpu", "create_optimizer",
    "create_strategy", "is_chief", "run_experiment", "tpu_cluster_resolver",
]
