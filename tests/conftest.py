"""Shared pytest fixtures.

Real data lives beside the project in `../shared/data` (override with the
environment variable TFBERT_TEST_DATA). Tests that need it take the
`shared_data` fixture and are skipped, with the reason, when it is absent.
"""

import os
import pathlib
import time

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

REPO_ROOT = pathlib.Path(__file__).resolve().parent.parent
SHARED_DATA = pathlib.Path(
    os.environ.get("TFBERT_TEST_DATA", REPO_ROOT.parent / "shared" / "data"))


@pytest.fixture(scope="session")
def shared_data() -> pathlib.Path:
    """Path of the real data set; skips the test when it is not there."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"real data not found at {SHARED_DATA} (set TFBERT_TEST_DATA)")
    return SHARED_DATA


@pytest.fixture(scope="session")
def uncased_vocab(shared_data) -> pathlib.Path:
    """The original bert-base-uncased vocab (30,522 lines)."""
    return shared_data / "vocab" / "bert-base-uncased-vocab.txt"


@pytest.fixture(autouse=True, scope="module")
def _release_keras_state():
    """Frees what a test module's models and traced functions hold, so that the
    whole suite fits in a CI machine's memory."""
    yield
    import gc

    import keras

    keras.backend.clear_session()
    gc.collect()


def pytest_runtest_teardown(item):
    """With TFBERT_MEMLOG=path, appends each test's resident memory (MB) and the time since
    the previous test ended (s) to that file, as the suite goes (a run cut short still
    tells where its time and memory went)."""
    path = os.environ.get("TFBERT_MEMLOG")
    if path:
        global _LAST_TEARDOWN
        now = time.monotonic()
        seconds, _LAST_TEARDOWN = now - (_LAST_TEARDOWN or now), now
        with open("/proc/self/status") as status:
            rss = next(int(line.split()[1]) for line in status if line.startswith("VmRSS"))
        with open(path, "a") as log:
            log.write(f"{rss // 1024}\t{seconds:.1f}\t{item.nodeid}\n")


_LAST_TEARDOWN = None
