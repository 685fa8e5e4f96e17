"""`tests.fuzz.full_run`, the full-profile runner, on the packer's three targets at the
CI profile: each runs in its own process and the summary holds its cases and outcome."""

import json
import subprocess
import sys

from tests.conftest import REPO_ROOT


def test_full_run_summarizes_each_target(tmp_path):
    done = subprocess.run(
        [sys.executable, "-m", "tests.fuzz.full_run", f"--out={tmp_path}", "-k", "packer.py::test_",
         "--profile=ci", "--timeout=600"],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stdout + done.stderr
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert len(summary) == 3
    for row in summary:
        assert row["outcome"] == "passed" and row["cases"] == 25, row
        assert row["peak_rss_mib"] > 100 and (tmp_path / row["log"]).exists()
    assert "3 of 3 targets passed" in done.stdout
