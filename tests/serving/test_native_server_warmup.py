"""`NativeServer.start` replays the export's warmup requests, as the model server does, and
sizes the session's thread pools as the model server's flags do."""

import pathlib

import numpy as np
import pytest
import tensorflow as tf

from tfbert.serving.native_server import NativeLoadError, NativeServer
from tfbert.serving.warmup import write_warmup_requests


class _Doubler(tf.Module):
    @tf.function(input_signature=[tf.TensorSpec([None], tf.float32, name="x")])
    def double(self, x):
        return {"y": 2.0 * x}


@pytest.fixture(scope="module")
def doubler(tmp_path_factory):
    path = tmp_path_factory.mktemp("doubler") / "1"
    module = _Doubler()
    tf.saved_model.save(module, str(path), signatures={"serving_default": module.double})
    return path


def test_good_warmup_requests_run_and_the_server_serves(doubler):
    write_warmup_requests(doubler, [("serving_default", {"x": np.ones(2, np.float32)})] * 3)
    with NativeServer(doubler, workers=1) as server:
        assert server.run("serving_default", {"x": np.array([4.0], np.float32)})["y"] == [8.0]


def test_a_failing_warmup_request_fails_the_start_naming_it(doubler):
    write_warmup_requests(doubler, [("serving_default", {"x": np.ones(2, np.float32)}),
                                    ("serving_default", {"x": np.ones(2, np.int32)})])
    server = NativeServer(doubler, workers=1)
    with pytest.raises(NativeLoadError, match=r"warmup request 1 \(serving_default\) failed"):
        server.start()
    assert server.process.poll() is not None  # not left running
    with NativeServer(doubler, workers=1, warmup=False) as server:  # the opt-out
        assert server.run("serving_default", {"x": np.array([1.0], np.float32)})["y"] == [2.0]


def _threads(server):
    status = pathlib.Path(f"/proc/{server.pid}/status").read_text()
    return int(status.split("Threads:")[1].split()[0])


def test_thread_pools_take_the_given_sizes(doubler):
    write_warmup_requests(doubler, [])
    counts = {}
    for intra, inter in ((1, 1), (3, 2)):
        with NativeServer(doubler, workers=1, intra_op_threads=intra,
                          inter_op_threads=inter) as server:
            assert server.run("serving_default", {"x": np.ones(3, np.float32)})["y"].sum() == 6
            counts[intra, inter] = _threads(server)
    assert counts[3, 2] - counts[1, 1] == 2 + 1  # one thread per pool slot, made at load
    with pytest.raises(ValueError, match="intra_op_threads must be at least 1"):
        NativeServer(doubler, intra_op_threads=0)
