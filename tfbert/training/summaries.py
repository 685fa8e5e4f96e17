"""TensorBoard scalars without the `tensorboard` package (it is not a dependency).

`tf.summary.scalar` needs `tensorboard` installed; `tf.summary.write` with
the scalar plugin's metadata writes the same event records.

Example:

>>> writer = tf.summary.create_file_writer("/tmp/run/train")
>>> write_scalars(writer, {"loss": 2.5, "learning_rate": 1e-4}, step=100)
"""

import tensorflow as tf
from absl import logging
from tensorflow.core.framework import summary_pb2

_SCALAR_METADATA = summary_pb2.SummaryMetadata(
    plugin_data=summary_pb2.SummaryMetadata.PluginData(plugin_name="scalars")).SerializeToString()


def write_scalars(writer, values, step):
    """Writes `{tag: float}` as TensorBoard scalars at `step` and flushes."""
    with writer.as_default(step=step):
        for tag, value in values.items():
            tf.summary.write(tag, tf.constant(float(value), tf.float32), step=step,
                             metadata=_SCALAR_METADATA)
    writer.flush()


def log_scalars(mode, step, total, logs):
    """Logs `{name: float}` as one line: `<mode> step <step>/<total> | name value | ...`."""
    parts = [f"{k} {v:.4g}" for k, v in logs.items() if k != "global_step"]
    logging.info("%s step %d/%d | %s", mode, step, total, " | ".join(parts))


def read_scalars(directory):
    """`{tag: [(step, value), ...]}` from the event files in `directory` (for tests and tools)."""
    scalars = {}
    for path in sorted(tf.io.gfile.glob(f"{directory}/events.out.tfevents.*")):
        for record in tf.data.TFRecordDataset(path):
            event = tf.compat.v1.Event.FromString(record.numpy())
            for value in event.summary.value:
                number = tf.make_ndarray(value.tensor).item() if value.HasField("tensor") \
                    else value.simple_value
                scalars.setdefault(value.tag, []).append((event.step, float(number)))
    return scalars
