"""Optimizers and learning-rate schedule of BERT training, for Keras 3.

- `WarmupPolynomialDecay`: linear warmup from 0, then polynomial decay to
  `end_learning_rate` at `decay_steps`, counted from step 0 (the original
  `optimization.py`).
- `BertAdamW` (`type: bert_adamw`): the original `AdamWeightDecayOptimizer`:
  no bias correction, epsilon 1e-6, decoupled weight decay skipped for
  variables whose **full path** matches a pattern (Keras 3's own
  `exclude_from_weight_decay` only sees short names like `gamma`, so
  `LayerNorm` would match nothing).
- `AdamW` (`type: adamw`): the same with Adam's bias correction, step for
  step PyTorch's `torch.optim.AdamW` (and HuggingFace's fine-tuning): early
  updates without the correction are about 3x larger, which small models
  fine-tuned on small tasks may not survive (docs/finetuning.md, "Optimizer").
- `Lamb`: LAMB (You et al. 2019) as in Model Garden: Adam moments with bias
  correction, weight decay inside the update, per-variable trust ratio
  `||w|| / ||update||`.

All expect gradients that are already summed over replicas: the training
loop all-reduces them once, before clipping, so that clipping by global norm
sees the global gradient on every strategy.

Example:

>>> schedule = WarmupPolynomialDecay(1e-4, decay_steps=1000, warmup_steps=100)
>>> [round(float(schedule(s)), 8) for s in (0, 50, 100, 1000)]
[0.0, 5e-05, 9e-05, 0.0]
"""

import re

import keras
import tensorflow as tf


@keras.saving.register_keras_serializable(package="tfbert")
class WarmupPolynomialDecay(keras.optimizers.schedules.LearningRateSchedule):
    """`lr * step / warmup` while `step < warmup`, else polynomial decay from step 0.

    Args:
        initial_learning_rate: float. Peak learning rate.
        decay_steps: int. Step where the decay reaches `end_learning_rate`
            (the original: `num_train_steps`).
        warmup_steps: int. Warmup steps (0: none).
        end_learning_rate: float.
        power: float. 1.0 is linear.

    Example:

    >>> schedule = WarmupPolynomialDecay(2e-5, decay_steps=10, warmup_steps=2)
    >>> [round(float(schedule(s)), 7) for s in (1, 2, 5)]
    [1e-05, 1.6e-05, 1e-05]
    """

    def __init__(self, initial_learning_rate, decay_steps, warmup_steps=0,
                 end_learning_rate=0.0, power=1.0):
        self.initial_learning_rate = initial_learning_rate
        self.decay_steps = decay_steps
        self.warmup_steps = warmup_steps
        self.end_learning_rate = end_learning_rate
        self.power = power

    def __call__(self, step):
        step = tf.cast(step, tf.float32)
        peak = tf.constant(self.initial_learning_rate, tf.float32)
        end = tf.constant(self.end_learning_rate, tf.float32)
        progress = tf.minimum(step, float(self.decay_steps)) / float(max(self.decay_steps, 1))
        decayed = (peak - end) * tf.pow(1.0 - progress, self.power) + end
        if not self.warmup_steps:
            return decayed
        warmup = peak * step / float(self.warmup_steps)
        return tf.where(step < float(self.warmup_steps), warmup, decayed)

    def get_config(self):
        return {"initial_learning_rate": self.initial_learning_rate,
                "decay_steps": self.decay_steps, "warmup_steps": self.warmup_steps,
                "end_learning_rate": self.end_learning_rate, "power": self.power}


class _BertOptimizer(keras.optimizers.Optimizer):
    """Shared parts: moments, weight-decay exclusions by full path, pre-reduced gradients."""

    def __init__(self, learning_rate=1e-4, weight_decay_rate=0.01, beta_1=0.9, beta_2=0.999,
                 epsilon=1e-6, exclude_from_weight_decay=("LayerNorm", "layer_norm", "bias"),
                 name=None, **kwargs):
        super().__init__(learning_rate=learning_rate, name=name, **kwargs)
        self.weight_decay_rate = weight_decay_rate
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.exclude_from_weight_decay = list(exclude_from_weight_decay or ())

    def build(self, var_list):
        if self.built:
            return
        super().build(var_list)
        self._m, self._v = self.add_optimizer_variables(var_list, ["m", "v"])
        # Python-side, per variable index: is it decayed? (patterns searched in the full path)
        self._decays = [self.weight_decay_rate > 0 and not any(
            re.search(p, v.path) for p in self.exclude_from_weight_decay) for v in var_list]

    def _moments(self, gradient, variable):
        """Updates and returns the first and second moments of `variable`."""
        index = self._get_variable_index(variable)
        m, v = self._m[index], self._v[index]
        gradient = tf.cast(gradient, variable.dtype)
        self.assign(m, self.beta_1 * m + (1.0 - self.beta_1) * gradient)
        self.assign(v, self.beta_2 * v + (1.0 - self.beta_2) * tf.square(gradient))
        return index, m, v

    def _apply_adam(self, gradient, variable, learning_rate, beta_1_power, beta_2_power,
                    epsilon):
        """`w -= lr * sqrt(1 - b2p) / (1 - b1p) * m / (sqrt(v) + epsilon)` after the moment
        updates, in one fused kernel (`ResourceApplyAdam`, which XLA also compiles) that
        passes over the weights and both moments once."""
        index = self._get_variable_index(variable)
        dtype = variable.dtype
        tf.raw_ops.ResourceApplyAdam(
            var=variable.handle, m=self._m[index].handle, v=self._v[index].handle,
            beta1_power=beta_1_power, beta2_power=beta_2_power, lr=learning_rate,
            beta1=tf.cast(self.beta_1, dtype), beta2=tf.cast(self.beta_2, dtype),
            epsilon=epsilon, grad=tf.convert_to_tensor(tf.cast(gradient, dtype)))

    def _decay(self, variable, learning_rate):
        """Decoupled weight decay `w -= lr * wd * w`, for the decayed variables. The Adam
        part that follows does not read the weights, so decaying first is the same as
        adding `wd * w` to its update."""
        if self._decays[self._get_variable_index(variable)]:
            self.assign_sub(variable, learning_rate * self.weight_decay_rate * variable)

    def _all_reduce_sum_gradients(self, grads_and_vars):
        # The training loop has summed the gradients over replicas already.
        return list(grads_and_vars)

    def get_config(self):
        return {**super().get_config(), "weight_decay_rate": self.weight_decay_rate,
                "beta_1": self.beta_1, "beta_2": self.beta_2, "epsilon": self.epsilon,
                "exclude_from_weight_decay": self.exclude_from_weight_decay}


@keras.saving.register_keras_serializable(package="tfbert")
class BertAdamW(_BertOptimizer):
    """The original BERT `AdamWeightDecayOptimizer`.

    `m = b1 m + (1-b1) g`; `v = b2 v + (1-b2) g^2`;
    `w -= lr * (m / (sqrt(v) + eps) + wd * w)`, with no bias correction and
    no decay for variables whose path matches `exclude_from_weight_decay`.

    Args:
        learning_rate: float or a schedule.
        weight_decay_rate: float.
        beta_1, beta_2, epsilon: floats.
        exclude_from_weight_decay: regexes searched in `variable.path`.
        **kwargs: for `keras.optimizers.Optimizer` (e.g. `global_clipnorm`).

    Example:

    >>> w = keras.Variable([1.0, -1.0], name="kernel")
    >>> optimizer = BertAdamW(learning_rate=0.1, weight_decay_rate=0.0)
    >>> optimizer.apply([tf.constant([0.5, -0.5])], [w])
    >>> [round(float(x), 3) for x in w.numpy()]  # m = 0.05, sqrt(v) = 0.0158
    [0.684, -0.684]
    """

    def update_step(self, gradient, variable, learning_rate):
        # Beta powers 0 make the kernel's bias-corrected rate `lr * sqrt(1 - 0) / (1 - 0)`
        # plain `lr`: no bias correction, as the original.
        learning_rate = tf.cast(learning_rate, variable.dtype)
        self._decay(variable, learning_rate)
        zero = tf.zeros([], variable.dtype)
        self._apply_adam(gradient, variable, learning_rate, zero, zero,
                         tf.cast(self.epsilon, variable.dtype))


@keras.saving.register_keras_serializable(package="tfbert")
class AdamW(_BertOptimizer):
    """Adam with decoupled weight decay and bias correction: PyTorch's `AdamW`.

    At step `t` (from 1): `w -= lr * wd * w` (decayed variables only), then
    `m = b1 m + (1-b1) g`; `v = b2 v + (1-b2) g^2`;
    `w -= lr * m_hat / (sqrt(v_hat) + eps)` with `m_hat = m / (1 - b1^t)`,
    `v_hat = v / (1 - b2^t)`: epsilon is added to `sqrt(v_hat)`, as
    `torch.optim.AdamW` does (Keras' and TF1's Adam add it to `sqrt(v)`).
    Weight-decay exclusions, schedule and clipping are `BertAdamW`'s.

    Args: as `BertAdamW`.

    Example:

    >>> w = keras.Variable([1.0, -1.0], name="kernel")
    >>> optimizer = AdamW(learning_rate=0.1, weight_decay_rate=0.0)
    >>> optimizer.apply([tf.constant([0.5, -0.5])], [w])
    >>> [round(float(x), 3) for x in w.numpy()]  # step 1: m_hat / sqrt(v_hat) = sign(g)
    [0.9, -0.9]
    """

    def update_step(self, gradient, variable, learning_rate):
        dtype = variable.dtype
        learning_rate = tf.cast(learning_rate, dtype)
        self._decay(variable, learning_rate)
        step = tf.cast(self.iterations + 1, dtype)
        beta_1_power = tf.pow(tf.cast(self.beta_1, dtype), step)
        beta_2_power = tf.pow(tf.cast(self.beta_2, dtype), step)
        # The kernel adds epsilon to sqrt(v); `eps * sqrt(1 - b2^t)` there is `eps` added
        # to sqrt(v_hat), where PyTorch adds it.
        epsilon = tf.cast(self.epsilon, dtype) * tf.sqrt(1.0 - beta_2_power)
        self._apply_adam(gradient, variable, learning_rate, beta_1_power, beta_2_power,
                         epsilon)


@keras.saving.register_keras_serializable(package="tfbert")
class Lamb(_BertOptimizer):
    """LAMB: layer-wise adaptive moments for large-batch pre-training.

    `r = m_hat / (sqrt(v_hat) + eps) + wd * w` (bias-corrected moments, decay
    only for decayed variables); `w -= lr * (||w|| / ||r||) * r`, the trust
    ratio being 1 when either norm is 0.

    Args: as `BertAdamW`.

    Example:

    >>> w = keras.Variable([3.0, 4.0], name="kernel")
    >>> Lamb(learning_rate=0.1, weight_decay_rate=0.0).apply([tf.constant([1.0, 1.0])], [w])
    >>> [round(float(x), 3) for x in w.numpy()]  # ||w|| = 5, ||r|| = sqrt(2)
    [2.646, 3.646]
    """

    def update_step(self, gradient, variable, learning_rate):
        index, m, v = self._moments(gradient, variable)
        step = tf.cast(self.iterations + 1, variable.dtype)
        m_hat = m / (1.0 - tf.pow(tf.cast(self.beta_1, variable.dtype), step))
        v_hat = v / (1.0 - tf.pow(tf.cast(self.beta_2, variable.dtype), step))
        update = m_hat / (tf.sqrt(v_hat) + self.epsilon)
        if self._decays[index]:
            update += self.weight_decay_rate * variable
        w_norm, r_norm = tf.norm(variable), tf.norm(update)
        ratio = tf.where((w_norm > 0) & (r_norm > 0), w_norm / tf.maximum(r_norm, 1e-30), 1.0)
        self.assign_sub(variable, tf.cast(learning_rate, variable.dtype) * ratio * update)


# `OptimizerConfig.type` -> class (`tfbert.configs.experiment.OPTIMIZERS` lists the names).
OPTIMIZER_CLASSES = {"bert_adamw": BertAdamW, "adamw": AdamW, "lamb": Lamb}


def create_optimizer(config, train_steps, mixed_precision_dtype="float32", clip=True):
    """The optimizer of an `OptimizerConfig`, with the original schedule and clipping.

    Args:
        config: `tfbert.configs.experiment.OptimizerConfig`.
        train_steps: int. The schedule decays to `end_learning_rate` here.
        mixed_precision_dtype: str. `float16` wraps it in a dynamic
            `keras.optimizers.LossScaleOptimizer`.
        clip: bool. Clip by `config.clip_norm` in the optimizer (False: the
            caller clips, as `Trainer` does with the global norm it logs).
    """
    schedule = WarmupPolynomialDecay(config.learning_rate, train_steps, config.warmup_steps,
                                     config.end_learning_rate, config.power)
    cls = OPTIMIZER_CLASSES[config.type]
    optimizer = cls(learning_rate=schedule, weight_decay_rate=config.weight_decay_rate,
                    beta_1=config.beta_1, beta_2=config.beta_2, epsilon=config.epsilon,
                    exclude_from_weight_decay=config.exclude_from_weight_decay,
                    global_clipnorm=config.clip_norm if clip else None)
    if mixed_precision_dtype == "float16":
        optimizer = keras.optimizers.LossScaleOptimizer(optimizer)
    return optimizer
