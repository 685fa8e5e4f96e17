"""`tfbert_extract_features` on the real all-MiniLM-L6-v2: the last layer of
every word piece equals HuggingFace's reference `sequence_output`."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from tfbert.checkpoints import installed_minilm_dir


@pytest.mark.slow
def test_extract_features_matches_reference(shared_data, tmp_path):
    reference = np.load(shared_data / "models" / "all-MiniLM-L6-v2_reference_outputs.npz")
    sentences = [str(s) for s in reference["sentences"]]
    (tmp_path / "in.txt").write_text("\n".join(sentences) + "\n", encoding="utf-8")
    output = tmp_path / "features.jsonl"
    result = subprocess.run(
        [sys.executable, "-m", "tfbert.cli.extract_features", f"--input_file={tmp_path / 'in.txt'}",
         f"--output_file={output}", f"--checkpoint={installed_minilm_dir()}",
         "--layers=-1,-2", "--max_seq_length=64", "--batch_size=16"],
        capture_output=True, text=True, timeout=300,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"})
    assert result.returncode == 0, result.stderr[-3000:]
    lines = [json.loads(line) for line in output.read_text(encoding="utf-8").splitlines()]
    assert [line["linex_index"] for line in lines] == list(range(len(sentences)))
    assert not [p for p in os.listdir(tmp_path) if ".partial" in p]
    for i, line in enumerate(lines):
        count = int(reference["input_mask"][i].sum())
        features = line["features"]
        assert len(features) == count and features[0]["token"] == "[CLS]"
        assert features[-1]["token"] == "[SEP]"
        assert [layer["index"] for layer in features[0]["layers"]] == [-1, -2]
        last = np.array([f["layers"][0]["values"] for f in features])
        np.testing.assert_allclose(last, reference["sequence_output"][i, :count], atol=2e-4)


def test_pair_input_file_errors_name_the_line(tmp_path):
    from tfbert.cli.extract_features import read_inputs

    path = tmp_path / "pairs.txt"
    path.write_text("a ||| b\nc\n", encoding="utf-8")
    with pytest.raises(ValueError, match="line 2"):
        read_inputs(path)
    path.write_text("a ||| b\nc ||| d\n", encoding="utf-8")
    assert read_inputs(path) == (["a", "c"], ["b", "d"])
