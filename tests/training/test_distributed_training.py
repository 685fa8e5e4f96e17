"""Same math on every strategy: one device, MirroredStrategy over 2 logical CPUs, and
MultiWorkerMirroredStrategy with 2 real worker processes on 127.0.0.1.

Every run is its own process (logical devices and TF_CONFIG must be set before
TensorFlow starts), bounded by a timeout and killed in teardown.
"""

import json
import os
import socket
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from tests.conftest import REPO_ROOT
from tests.training.records import write_records

TIMEOUT = 240


def _env(**extra):
    env = dict(os.environ, PYTHONPATH=str(REPO_ROOT), TF_CPP_MIN_LOG_LEVEL="2")
    env.pop("TF_CONFIG", None)
    env.update(extra)
    return env


def _start(args, **env):
    return subprocess.Popen([sys.executable, "-m", "tests.training.distributed_worker", *args],
                            cwd=REPO_ROOT, env=_env(**env), stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)


def _finish(process):
    try:
        output, _ = process.communicate(timeout=TIMEOUT)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 0, output[-3000:]
    return output


def _run(args, **env):
    _finish(_start(args, **env))
    with open(args[3]) as f:
        return json.load(f)


def _free_ports(count):
    sockets = [socket.socket() for _ in range(count)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


@pytest.fixture(scope="module")
def records(tmp_path_factory):
    return write_records(tmp_path_factory.mktemp("data") / "train.tfrecord", 128)


@pytest.fixture(scope="module")
def single(records, tmp_path_factory):
    out = tmp_path_factory.mktemp("single")
    return _run(["one_device", records, str(out / "model"), str(out / "result.json")])


@pytest.mark.slow
def test_mirrored_two_devices_same_losses_as_one(records, single, tmp_path):
    mirrored = _run(["mirrored", records, str(tmp_path / "model"), str(tmp_path / "r.json"), "2"])
    assert mirrored["replicas"] == 2 and single["replicas"] == 1
    assert mirrored["steps"] == single["steps"] == list(range(1, 11))
    np.testing.assert_allclose(mirrored["losses"], single["losses"], atol=1e-4, rtol=0)
    np.testing.assert_allclose(mirrored["masked_lm_losses"], single["masked_lm_losses"],
                               atol=1e-4, rtol=0)
    assert single["batch_error"] is None
    assert mirrored["batch_error"] == (
        "--train_batch_size (task.train_data.global_batch_size) = 7 is not divisible by the 2 "
        "replicas of the MirroredStrategy")


@pytest.mark.slow
def test_multi_worker_two_processes(records, single, tmp_path):
    ports = _free_ports(2)
    cluster = {"worker": [f"127.0.0.1:{port}" for port in ports]}
    model_dir = tmp_path / "model"
    workers = []
    try:
        for index in range(2):
            tf_config = json.dumps({"cluster": cluster, "task": {"type": "worker",
                                                                 "index": index}})
            workers.append(_start(["multi_worker_mirrored", records, str(model_dir),
                                   str(tmp_path / f"worker{index}.json")], TF_CONFIG=tf_config))
        for worker in workers:
            _finish(worker)
    finally:
        for worker in workers:
            if worker.poll() is None:
                worker.kill()
                worker.communicate()
    results = [json.loads((tmp_path / f"worker{i}.json").read_text()) for i in range(2)]
    assert [r["is_chief"] for r in results] == [True, False]
    assert all(r["replicas"] == 2 for r in results)
    for result in results:
        np.testing.assert_allclose(result["losses"], single["losses"], atol=1e-4, rtol=0)
    # The chief wrote the checkpoints (steps 5 and 10); the other worker left nothing behind.
    assert tf.train.latest_checkpoint(str(model_dir)).endswith("ckpt-10")
    assert (model_dir / "ckpt-5.index").exists()
    assert not [p for p in os.listdir(model_dir) if p.startswith(".worker_scratch")]
