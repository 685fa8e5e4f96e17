"""Shared pytest fixtures.

Real data lives beside the project in `../shared/data` (override with the
environment variable TFBERT_TEST_DATA). Tests that need it take the
`shared_data` fixture and are skipped, with the reason, when it is absent.
"""

import fcntl
import os
import pathlib
import shutil
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
def _release_keras_state(request):
    """Frees what a test module's models and traced functions hold, so that the
    whole suite fits in a CI machine's memory. With TFBERT_MEMLOG, the time it took
    goes to that file (why: docs/performance_history.md, "The test suite beside a
    benchmark")."""
    yield
    import gc

    import keras

    start = time.monotonic()
    keras.backend.clear_session()
    gc.collect()
    if os.environ.get("TFBERT_MEMLOG"):
        _memlog(f"{time.monotonic() - start:.1f}\t{request.node.nodeid} (module teardown: "
                f"{len(gc.get_objects())} objects left)")


def pytest_runtest_teardown(item):
    """With TFBERT_MEMLOG=path, appends each test's resident memory (MB) and the time since
    the previous test ended (s) to that file, as the suite goes (a run cut short still
    tells where its time and memory went)."""
    global _LAST_TEARDOWN
    now = time.monotonic()
    seconds, _LAST_TEARDOWN = now - (_LAST_TEARDOWN or now), now
    _memlog(f"{seconds:.1f}\t{item.nodeid}")


def _memlog(line):
    """Appends `<resident MB>\t<line>` to $TFBERT_MEMLOG, when it is set."""
    path = os.environ.get("TFBERT_MEMLOG")
    if path:
        with open("/proc/self/status") as status:
            rss = next(int(line.split()[1]) for line in status if line.startswith("VmRSS"))
        with open(path, "a") as log:
            log.write(f"{rss // 1024}\t{line}\n")


_LAST_TEARDOWN = None


# The one fine-tuned model directory the tests share (a distillation teacher, the model
# the explain tests explain): 4 layers of hidden 64 on the uncased vocab.
FINETUNED_SST2 = dict(vocab_size=30522, hidden_size=64, num_hidden_layers=4,
                      num_attention_heads=2, intermediate_size=128,
                      max_position_embeddings=128, type_vocab_size=2)


@pytest.fixture(scope="session")
def finetuned_sst2_dir(shared_data, uncased_vocab, tmp_path_factory):
    """A model directory of `glue/sst2` that `run_experiment` wrote (what
    `tfbert_finetune` runs): `FINETUNED_SST2` fine-tuned 60 steps on 300 real SST-2
    sentences and evaluated on 200 (checkpoints, params.yaml, eval_results.txt).
    Trained once per session, by whichever test worker asks first (`built_once`)."""
    return str(built_once(tmp_path_factory, "finetuned_sst2",
                          lambda root: _finetune_sst2(root, shared_data, uncased_vocab))
               / "run")


def _finetune_sst2(root, shared_data, uncased_vocab):
    from tests.training.conftest import head_lines
    from tfbert.configs.bert_config import BertConfig
    from tfbert.tasks import load_config
    from tfbert.training.experiment import run_experiment

    source = shared_data / "glue" / "SST-2"
    train = head_lines(source / "train.tsv", 301, root / "train.tsv")
    dev = head_lines(source / "dev.tsv", 201, root / "dev.tsv")
    BertConfig(**FINETUNED_SST2).to_json_file(root / "bert_config.json")
    override = (f"task.model={root / 'bert_config.json'},task.vocab_file={uncased_vocab},"
                "task.num_train_epochs=null,task.warmup_proportion=null,"
                "trainer.train_steps=60,trainer.steps_per_loop=30,"
                "trainer.checkpoint_interval=60,trainer.optimizer.learning_rate=2e-3,"
                "trainer.optimizer.warmup_steps=5,"
                f"task.train_data.input_path={train},task.train_data.max_seq_length=32,"
                "task.train_data.global_batch_size=16,"
                f"task.validation_data.input_path={dev},task.validation_data.max_seq_length=64,"
                "task.validation_data.global_batch_size=50,"
                "task.predict_data.max_seq_length=64,runtime.seed=1")
    run_experiment(load_config("glue/sst2", params_override=override), str(root / "run"),
                   "train_and_eval")


def built_once(tmp_path_factory, name, build):
    """The directory `<session temp>/<name>`, filled by `build(directory)` once per test
    session. The suite runs on two pytest-xdist workers (pyproject.toml); a file lock in
    the temp root they share lets the first worker build while the other waits, so
    nothing is trained twice. A build that failed leaves no mark: the next asker
    builds again."""
    root = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        root = root.parent  # the session's root, above each worker's own
    directory, done = root / name, root / f"{name}.done"
    with open(root / f"{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
        if not done.exists():
            if directory.exists():
                shutil.rmtree(directory)
            directory.mkdir()
            build(directory)
            done.touch()
    return directory
