"""Settings, case counting and shared fixtures of the property-based tests.

Profiles (env `HYPOTHESIS_PROFILE`):

- unset (`ci`): few cases per target, derandomized, so that the whole of
  `tests/fuzz/` runs in a few minutes on 2 cores and fails the same way twice;
- `full`: 10,000 cases per target, random seeds (issue #25's full run).

Every `@given` test is a target. The number of cases each one ran (generated,
explicit `@example`s and shrinking steps alike: every call of the test body)
is counted; with `TFBERT_FUZZ_REPORT=path` the counts are written there as
JSON, `{"profile", "targets": {test id: cases}}`, at the end of the session and
every 30 s while it runs.

No case may hang: each one runs under an alarm (`CASE_SECONDS`), which turns a
Python loop that never ends into a failure naming the case. Hypothesis's own
deadline is off because 2 shared cores make per-case times too noisy for it.
"""

import collections
import json
import os
import signal
import time

from hypothesis import HealthCheck, settings

from tests.serving.conftest import exports, preprocessor, vocab_file  # noqa: F401 (fixtures)
from tests.text.conftest import (  # noqa: F401 (fixtures)
    cased_reference,
    cased_tokenizer,
    uncased_reference,
    uncased_tokenizer,
)

PROFILE = os.environ.get("HYPOTHESIS_PROFILE") or "ci"
# A case that runs longer than this is a hang (the slowest legitimate case, a
# megabyte text through the tokenizer, takes a few seconds on a busy machine).
CASE_SECONDS = 120

_SLOW_OK = [HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.large_base_example,
            HealthCheck.function_scoped_fixture]
settings.register_profile("ci", max_examples=25, deadline=None, derandomize=True,
                          database=None, suppress_health_check=_SLOW_OK, print_blob=True)
settings.register_profile("full", max_examples=10_000, deadline=None,
                          suppress_health_check=_SLOW_OK, print_blob=True)
settings.load_profile(PROFILE)

CASES = collections.Counter()


class CaseTimeoutError(Exception):
    """A generated case ran past `CASE_SECONDS`: treated as a hang."""


def _on_alarm(signum, frame):
    raise CaseTimeoutError(f"a generated case ran for more than {CASE_SECONDS} s (a hang?)")


_LAST_WRITE = [time.monotonic()]
_CURRENT = ["?"]  # the node id of the test being run (parametrized cases apart)


def _counted(inner):
    def run(*args, **kwargs):
        CASES[_CURRENT[0]] += 1
        if time.monotonic() - _LAST_WRITE[0] > 30:
            write_report()  # a run stopped by `timeout` still leaves its counts
        previous = signal.signal(signal.SIGALRM, _on_alarm)
        signal.alarm(CASE_SECONDS)
        try:
            return inner(*args, **kwargs)
        finally:
            signal.alarm(0)
            signal.signal(signal.SIGALRM, previous)
    return run


def pytest_collection_modifyitems(items):
    """Wraps the body of every Hypothesis test of this folder (once per function) to
    count and bound its cases."""
    for item in items:
        function = getattr(item, "function", None)
        handle = getattr(function, "hypothesis", None)
        if (handle is not None and "tests/fuzz/" in item.nodeid
                and not getattr(function, "_tfbert_counted", False)):
            handle.inner_test = _counted(handle.inner_test)
            function._tfbert_counted = True


def pytest_runtest_call(item):
    _CURRENT[0] = item.nodeid


def pytest_sessionfinish(session):
    write_report()


def write_report():
    """Writes the counts so far to `$TFBERT_FUZZ_REPORT`, if set."""
    _LAST_WRITE[0] = time.monotonic()
    path = os.environ.get("TFBERT_FUZZ_REPORT")
    if path and CASES:
        with open(path, "w", encoding="utf-8") as f:
            json.dump({"profile": PROFILE, "targets": dict(sorted(CASES.items()))}, f, indent=2)
            f.write("\n")
