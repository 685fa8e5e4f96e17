"""`MeanPooling`: the average of the token vectors under the mask (sentence embeddings)."""

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="tfbert")
class MeanPooling(keras.layers.Layer):
    """Mean of `sequence_output` `[batch, seq, hidden]` over the real tokens of
    `input_mask` `[batch, seq]`, optionally L2-normalised: the sentence
    embedding of sentence-transformers models such as all-MiniLM-L6-v2.

    Args:
        normalize: bool. Divide each embedding by its L2 norm.

    Example:

    >>> pool = MeanPooling()
    >>> pool(np.array([[[1.0, 0.0], [3.0, 0.0], [9.0, 9.0]]]), np.array([[1, 1, 0]])).numpy()
    array([[2., 0.]], dtype=float32)
    """

    def __init__(self, normalize=False, **kwargs):
        super().__init__(**kwargs)
        self.normalize = normalize

    def call(self, sequence_output, input_mask):
        x = ops.cast(sequence_output, "float32")
        mask = ops.cast(input_mask, "float32")[:, :, None]
        pooled = ops.sum(x * mask, axis=1) / ops.maximum(ops.sum(mask, axis=1), 1.0)
        if self.normalize:
            pooled = pooled / ops.maximum(ops.norm(pooled, axis=-1, keepdims=True), 1e-12)
        return pooled

    def compute_output_shape(self, sequence_output_shape, input_mask_shape):
        return (sequence_output_shape[0], sequence_output_shape[-1])

    def get_config(self):
        return {**super().get_config(), "normalize": self.normalize}
