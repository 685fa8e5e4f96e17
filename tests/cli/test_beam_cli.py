"""`tfbert_create_pretraining_data --runner=...` as a user runs it: the files, the flag
errors, and a run killed midway."""

import json
import os
import signal
import subprocess
import sys
import time

import pytest

pytest.importorskip("apache_beam", reason="Apache Beam is not installed (the 'beam' extra)")

IN_MEMORY = "--beam_option=direct_running_mode=in_memory"


def _flags(shared_data, uncased_vocab, output, *more):
    return [sys.executable, "-m", "tfbert.cli.create_pretraining_data",
            f"--input_file={shared_data / 'text' / 'wikitext2_valid_pretrain_format.txt'}",
            f"--vocab_file={uncased_vocab}", f"--output_file={output}",
            "--max_seq_length=64", "--max_predictions_per_seq=10", *more]


def _run(command):
    return subprocess.run(command, capture_output=True, text=True, timeout=600,
                          env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"})


@pytest.mark.slow
def test_the_command_writes_the_shards_the_stats_and_the_counters(shared_data, uncased_vocab,
                                                                   tmp_path):
    result = _run(_flags(shared_data, uncased_vocab, tmp_path / "out" / "train",
                         "--runner=DirectRunner", IN_MEMORY, "--num_shards=3",
                         "--dupe_factor=1"))
    assert result.returncode == 0, result.stderr[-3000:]
    names = sorted(os.listdir(tmp_path / "out"))
    assert names == [f"train-0000{k}-of-00003.tfrecord" for k in range(3)] + ["train-stats.json"]
    stats = json.loads((tmp_path / "out" / "train-stats.json").read_text())
    assert stats["shards"] == 3 and stats["documents"] == 60 and stats["instances"] > 0
    # Beam's counters, as the user sees them at the end of the run.
    counters = next(line for line in (result.stdout + result.stderr).splitlines()
                    if line.startswith("counters: "))
    assert "documents=60," in counters and f"instances={stats['instances']:,}," in counters
    assert "files=1," in counters and "shards=3" in counters


@pytest.mark.parametrize("flags, message", [
    (["--num_shards=4"], "--num_shards is for the Beam path: it needs --runner"),
    (["--dedup_documents"], "--dedup_documents is for the Beam path: it needs --runner"),
    (["--runner=DirectRunner", "--num_workers=2"],
     "--num_workers is for the one-machine path; with --runner use"),
    (["--runner=DirectRunner", "--beam_option=nonsense"],
     "--beam_option=nonsense: must be key=value"),
    (["--runner=DirectRunner", "--beam_option=no_such_option=1"],
     "--beam_option: unknown Beam pipeline option(s) --no_such_option=1"),
    (["--runner=NoSuchRunner"], "Unexpected pipeline runner: NoSuchRunner"),
])
def test_flag_errors_are_one_line_and_write_nothing(shared_data, uncased_vocab, tmp_path, flags,
                                                    message):
    result = _run(_flags(shared_data, uncased_vocab, tmp_path / "out" / "train", *flags))
    assert result.returncode == 1
    assert f"tfbert_create_pretraining_data: error: {message}" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "out").exists() or not os.listdir(tmp_path / "out")


@pytest.mark.slow
def test_a_run_killed_midway_leaves_no_file_that_looks_complete(shared_data, uncased_vocab,
                                                                 tmp_path):
    """SIGKILL once the first shard's file is written (under the run's temporary folder,
    before the rename): no final-named shard and no stats file."""
    out = tmp_path / "out"
    process = subprocess.Popen(
        _flags(shared_data, uncased_vocab, out / "train", "--runner=DirectRunner", IN_MEMORY,
               "--num_shards=8", "--dupe_factor=2"),
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"})
    deadline = time.time() + 300
    try:
        while time.time() < deadline and process.poll() is None:
            temp = [d for d in os.listdir(out) if d.startswith(".tfbert-beam-")] \
                if out.exists() else []
            if temp and any(n.endswith(".tfrecord") for n in os.listdir(out / temp[0])):
                break
            time.sleep(0.02)
        assert process.poll() is None, "the run ended before a shard was written"
        process.send_signal(signal.SIGKILL)
    finally:
        process.kill()
        process.wait()
    left = sorted(os.listdir(out))
    assert not [n for n in left if n.startswith("train-")], left
    assert all(n.startswith(".tfbert-beam-") for n in left), left
