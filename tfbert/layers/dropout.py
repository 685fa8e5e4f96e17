"""`Dropout` that draws 16 random bits per element: a quarter of the random numbers
of `keras.layers.Dropout` (which draws a float32 uniform per element).

Generating random numbers is a large share of a training step on a CPU
(docs/performance.md, "Dropout"), so BERT's dropouts (embeddings, attention
probabilities, hidden layers, classifier) use this layer. The drop probability is
`round(rate * 65536) / 65536` (rate 0.1: 0.1000061); kept values are scaled by
`1 / (1 - rate)`, as Keras does. The layer has Keras's variables (its seed
generator) and config, so checkpoints and saved models are interchangeable.
"""

import keras
import tensorflow as tf

_LEVELS = 1 << 16


@keras.saving.register_keras_serializable(package="tfbert")
class Dropout(keras.layers.Dropout):
    """`keras.layers.Dropout` with 16-bit random thresholds (see the module doc).

    Args: as `keras.layers.Dropout` (with `noise_shape`, Keras's own path runs).

    Example:

    >>> layer = Dropout(0.5, seed=1)
    >>> y = layer(np.ones((1000,), "float32"), training=True).numpy()
    >>> sorted(set(y.tolist())), 400 < int((y == 0).sum()) < 600
    ([0.0, 2.0], True)
    """

    def call(self, inputs, training=False):
        if not training or self.rate <= 0.0 or self.rate >= 1.0 or self.noise_shape is not None:
            return super().call(inputs, training=training)
        inputs = tf.convert_to_tensor(inputs)
        seed = tf.cast(self.seed_generator.next(), tf.int64)
        size = inputs.shape.num_elements()
        dynamic = size is None
        if dynamic:
            size = tf.size(inputs)
        bits = tf.random.stateless_uniform([(size + 1) // 2], seed, dtype=tf.int32,
                                           minval=None, maxval=None)
        halves = tf.reshape(tf.bitcast(bits, tf.int16), [-1])  # uniform in [-2^15, 2^15)
        if dynamic or size % 2:
            halves = halves[:size]
        threshold = round(self.rate * _LEVELS) - _LEVELS // 2  # P(halves < threshold) = rate
        keep = tf.reshape(halves, tf.shape(inputs)) >= tf.constant(threshold, tf.int16)
        # One multiply by a {0, scale} mask: its gradient is one multiply by the same
        # mask (`where(keep, inputs * scale, 0)` costs a select and a multiply each way).
        mask = tf.where(keep, tf.constant(1.0 / (1.0 - self.rate), inputs.dtype),
                        tf.zeros([], inputs.dtype))
        return inputs * mask
