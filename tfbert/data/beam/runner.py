"""Beam pipeline options from the commands' flags, and Beam's errors made readable.

`--runner=NAME` picks the Beam runner; every other pipeline option passes
through a repeated `--beam_option=key=value` (absl flags take no trailing
arguments, and one repeated flag keeps the commands' flags in one place):

    --runner=DataflowRunner --beam_option=project=my-project \\
        --beam_option=region=us-central1 --beam_option=temp_location=gs://bucket/tmp

`DirectRunner` defaults to its multi-process mode with one worker per core
(`direct_running_mode=multi_processing`), the mode that uses this
machine's cores; `--beam_option=direct_running_mode=in_memory` runs in this
process (the tests do).

Example:

>>> pipeline_args("DirectRunner", ["direct_num_workers=2"])
['--runner=DirectRunner', '--direct_num_workers=2', '--direct_running_mode=multi_processing']
"""

import os
import re

from absl import logging


def pipeline_args(runner, beam_options=()):
    """The Beam command-line arguments of `--runner` and the `--beam_option`s.

    Raises:
      ValueError: a `--beam_option` that is not `key=value`.
    """
    args = [f"--runner={runner}"]
    keys = set()
    for option in beam_options:
        key, sep, value = option.partition("=")
        key = key.strip().lstrip("-")
        if not sep or not key:
            raise ValueError(f"--beam_option={option}: must be key=value "
                             "(e.g. --beam_option=temp_location=gs://bucket/tmp)")
        keys.add(key)
        args.append(f"--{key}={value}")
    if runner in ("DirectRunner", "direct") and "direct_running_mode" not in keys:
        args.append("--direct_running_mode=multi_processing")
        if "direct_num_workers" not in keys:
            cores = (len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity")
                     else os.cpu_count())
            args.append(f"--direct_num_workers={cores}")
    return args


def pipeline_options(runner, beam_options=()):
    """`PipelineOptions` of `pipeline_args`; unknown option names are an error."""
    from apache_beam.options.pipeline_options import PipelineOptions

    args = pipeline_args(runner, beam_options)
    options = PipelineOptions(args)
    unknown = [a for a in args if a.split("=")[0][2:] not in options.get_all_options()]
    if unknown:
        raise ValueError(f"--beam_option: unknown Beam pipeline option(s) {', '.join(unknown)}")
    return options


# A user error raised inside a worker: Beam re-raises it wrapped (and, from
# worker processes, as text); the command shows the original line.
_USER_ERROR = re.compile(r"^(ValueError|FileNotFoundError|OSError|NotFoundError): (.+)$",
                         re.MULTILINE)


def user_error(error):
    """The `ValueError`/`OSError` a worker raised, found in a Beam error; else None."""
    if isinstance(error, (ValueError, OSError)):  # in-process: the type survives
        kind, message = type(error).__name__, str(error)
    else:  # from a worker process: only the text does
        found = _USER_ERROR.findall(str(error))
        if not found:
            return None
        kind, message = found[-1]
    message = message.split(" [while running")[0]
    return (ValueError if kind == "ValueError" else OSError)(message)


def run_to_end(pipeline, on_error=None):
    """Runs `pipeline` to the end and logs its counters; returns `counters(result)`.

    A worker's input error is re-raised as the original `ValueError`/`OSError`
    (`user_error`), after `on_error()` (e.g. removing temporary files).
    """
    try:
        result = pipeline.run()
        result.wait_until_finish()
    except Exception as error:  # Beam wraps a worker's error: show the input's
        if on_error is not None:
            on_error()
        found = user_error(error)
        if found is None:
            raise
        raise found from None
    counts = counters(result)
    logging.info("beam counters: %s", ", ".join(f"{k}={v:,}" for k, v in sorted(counts.items())))
    return counts


def counters(result):
    """`{name: value}` of the pipeline's `tfbert` counters (committed, else attempted)."""
    from apache_beam.metrics.metric import MetricsFilter

    values = {}
    for counter in result.metrics().query(MetricsFilter().with_namespace("tfbert"))["counters"]:
        value = counter.committed if counter.committed is not None else counter.attempted
        values[counter.key.metric.name] = values.get(counter.key.metric.name, 0) + (value or 0)
    return values
