"""The `tfbert_create_pretraining_data` command, run as users run it (a subprocess)."""

import subprocess
import sys

import pytest
import tensorflow as tf


def create(*args):
    return subprocess.run([sys.executable, "-m", "tfbert.cli.create_pretraining_data", *args],
                          capture_output=True, text=True, timeout=300)


@pytest.mark.slow
def test_golden_flags_give_the_golden_file(shared_data, uncased_vocab, tmp_path):
    out = tmp_path / "sub" / "out.tfrecord"
    result = create(f"--input_file={shared_data / 'text' / 'bert_*.txt'}",
                    f"--output_file={out}", f"--vocab_file={uncased_vocab}",
                    "--do_lower_case=true", "--max_seq_length=128",
                    "--max_predictions_per_seq=20", "--masked_lm_prob=0.15",
                    "--random_seed=12345", "--dupe_factor=5", "--num_workers=1")
    assert result.returncode == 0, result.stderr
    assert "60 instances from 3 documents" in result.stdout
    assert "next sentence: random" in result.stdout
    golden = shared_data / "pretraining_golden" / "sample_text_seq128_seed12345.tfrecord"
    assert out.read_bytes() == golden.read_bytes()


def test_bad_vocab_is_a_clear_error(shared_data, uncased_vocab, tmp_path):
    vocab = tmp_path / "vocab.txt"
    vocab.write_text("\n".join(t for t in uncased_vocab.read_text(encoding="utf-8").split("\n")
                               if t != "[MASK]"), encoding="utf-8")
    out = tmp_path / "out.tfrecord"
    result = create(f"--input_file={shared_data / 'text' / 'bert_sample_text.txt'}",
                    f"--output_file={out},{tmp_path / 'out2.tfrecord'}",
                    f"--vocab_file={vocab}", "--num_workers=2")
    assert result.returncode == 1
    assert f"--vocab_file={vocab} lacks [MASK]" in result.stderr
    assert "Traceback" not in result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["vocab.txt"]


def test_records_parse_with_the_feature_spec(shared_data, tmp_path):
    """The golden file parses with `tfbert.data.pretraining_feature_spec` (v1 names)."""
    from tfbert.data import pretraining_feature_spec

    golden = shared_data / "pretraining_golden" / "sample_text_seq128_seed12345.tfrecord"
    record = next(iter(tf.data.TFRecordDataset(str(golden))))
    parsed = tf.io.parse_single_example(record, pretraining_feature_spec(128, 20))
    assert parsed["input_ids"].shape == (128,) and parsed["masked_lm_weights"].shape == (20,)
