"""Export-only tasks of a bare encoder: `embeddings` and the TF Hub pair `hub`.

They train nothing (no data, no loss): they name what `tfbert_export` writes
for an encoder, whether it comes from pre-training, a fine-tuned task model
(its encoder) or outside weights.

- `embeddings`: `serving_default(text)` -> `pooled_output` and the mean-pooled
  `embedding` (`task.normalize`: L2-normalised), see `tfbert.serving.embeddings`;
- `hub`: `<export_dir>/preprocess/<version>` and `<export_dir>/encoder/<version>`,
  the TF Hub BERT interface, see `tfbert.serving.hub`.

Example:

>>> from tfbert.tasks.registry import get_task_class
>>> get_task_class("embeddings").modes
()
"""

import dataclasses
import os
import time

from tfbert.serving import embeddings, hub
from tfbert.tasks.finetuning import FinetuningConfig, FinetuningTask
from tfbert.tasks.registry import register_task


@dataclasses.dataclass
class EncoderExportConfig(FinetuningConfig):
    """Config of an encoder export.

    Args:
        normalize: embeddings: L2-normalise the mean-pooled `embedding`.
    """

    normalize: bool = False


class _EncoderExport(FinetuningTask):
    """What the two encoder exports share: no training, the encoder as the model."""

    config_class = EncoderExportConfig
    modes = ()

    def build_head(self, encoder):
        return encoder

    def _not_trainable(self, *args, **kwargs):
        raise ValueError(f"task {self.config.task} is export-only: it has no data or loss. "
                         "Fine-tune a task, then export its encoder with "
                         f"--task={self.config.task}")

    make_features = build_inputs = loss_numerators = metric_sums = _not_trainable


@register_task("embeddings")
class EmbeddingsExport(_EncoderExport):
    """Text in, `pooled_output` and the mean-pooled `embedding` out."""

    def export_endpoints(self, model, preprocessor):
        return embeddings.endpoints(getattr(model, "encoder", model), preprocessor,
                                    self.config.normalize)


@register_task("hub")
class HubExport(_EncoderExport):
    """The TF Hub pair: a preprocessing SavedModel and an encoder SavedModel."""

    def export(self, model, export_dir, version=None, quantize=None, calibration_file=None):
        if quantize is not None:
            raise ValueError("--task=hub exports an encoder to fine-tune (its __call__ is "
                             "trained): it has no quantized form; export --task=embeddings "
                             "or a fine-tuned task with --quantize")
        version = int(time.time()) if version is None else version
        preprocessor = self.preprocessor()
        return [hub.export_preprocessing(os.path.join(export_dir, "preprocess"), preprocessor,
                                         version=version),
                hub.export_encoder(os.path.join(export_dir, "encoder"),
                                   getattr(model, "encoder", model), version=version)]
