"""The README's main command, run as a user runs it (with the quick budget)."""

import json
import math
import re
import subprocess
import sys

import pytest

from tfbert.cli import demo_shell, demo_steps


def test_commands_are_printed_with_the_named_directories():
    shell = demo_shell.Shell({"DATA": "/data", "WORK": "/tmp/my work"}, "/dev/null")
    args = demo_shell.command("tfbert_pretrain", input_file="/data/corpus.txt", do_train=True,
                              model_dir="/tmp/my work/pretrain", init_checkpoint=None,
                              text="it's fine")
    assert args == ["tfbert_pretrain", "--input_file=/data/corpus.txt", "--do_train",
                    "--model_dir=/tmp/my work/pretrain", "--text=it's fine"]
    assert shell.render(args) == ("tfbert_pretrain --input_file=$DATA/corpus.txt --do_train "
                                  "--model_dir=\"$WORK\"/pretrain \\\n"
                                  "    --text='it'\"'\"'s fine'")
    assert shell.word("/data") == "$DATA" and shell.word("/database") == "/database"


def test_progress_lines_are_shortened():
    line = ("train step 50/300 | masked_lm_loss 6.525 | next_sentence_loss 0.68 | loss 7.209 | "
            "masked_lm_accuracy 0.068 | learning_rate 0.0008 | grad_norm 0.85 | "
            "examples_per_second 40.89")
    assert demo_shell.progress_line(line) == ("train step 50/300: masked_lm_loss 6.525, "
                                              "masked_lm_accuracy 0.068 (41 examples/s)")
    line = "train step 5/28 | loss 0.6807 | accuracy 0.5625 | learning_rate 7e-05"
    assert demo_shell.progress_line(line) == "train step 5/28: loss 0.6807, accuracy 0.5625"
    assert demo_shell.progress_line("saved checkpoint ckpt-40") == "saved checkpoint ckpt-40"


def test_demo_refuses_a_used_work_dir(tmp_path):
    (tmp_path / "something").write_text("x")
    result = subprocess.run([sys.executable, "-m", "tfbert.cli.demo",
                             f"--work_dir={tmp_path}"], capture_output=True, text=True,
                            timeout=120)
    assert result.returncode != 0 and "is not empty" in result.stderr


@pytest.mark.slow
def test_demo_runs_the_whole_path(tmp_path):
    from tfbert.training.summaries import read_scalars

    work = tmp_path / "demo"
    result = subprocess.run([sys.executable, "-m", "tfbert.cli.demo", "--quick",
                             f"--work_dir={work}"], capture_output=True, text=True,
                            timeout=900)
    out = result.stdout
    assert result.returncode == 0, out[-4000:] + result.stderr[-4000:]
    huggingface = "tfbert_convert_checkpoint" in out

    # 1-2. The vocab, and a BERT-Tiny config of its size.
    vocab = (work / "vocab.txt").read_text(encoding="utf-8").splitlines()
    assert vocab[:5] == ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] and len(vocab) > 500
    config = json.loads((work / "bert_config.json").read_text())
    assert (config["vocab_size"], config["num_hidden_layers"], config["hidden_size"]) == \
        (len(vocab), 2, 128)
    # 3. Pre-training records.
    assert (work / "pretraining_data" / "train.tfrecord").stat().st_size > 10_000
    # 4. Pre-training: a checkpoint, and the masked-LM loss fell below a uniform guess.
    losses = [loss for _, loss in sorted(read_scalars(str(work / "pretrain" / "train"))
                                         ["masked_lm_loss"])]
    assert len(losses) >= 2 and losses[-1] < losses[0] < math.log(len(vocab)) + 0.5, losses
    assert (work / "pretrain" / "checkpoint").exists()
    assert "masked-LM loss" in out and "train step 40/40" in out
    # 5-6. Fine-tuning: a dev accuracy printed and written.
    accuracy = float(re.search(r"dev accuracy ([\d.]+)", out).group(1))
    written = demo_shell.read_results(work / "finetune" / "eval_results.txt")["accuracy"]
    assert abs(written - accuracy) < 1e-3
    if huggingface:
        # all-MiniLM-L6-v2 after 10 steps (0.96 and 0.99 in two runs; chance is 0.5).
        assert accuracy >= 0.6, out
        assert (work / "hf_checkpoint" / "bert_model.ckpt.index").exists()
    # 7. The export: a versioned SavedModel with its vocab inside.
    export = work / "models" / "sentiment" / "1"
    assert (export / "saved_model.pb").exists() and (export / "assets" / "vocab.txt").exists()
    # 8. The answers of the C++ loader to the raw sentences.
    answers = re.findall(r"^\s+(negative|positive) (0\.\d+|1\.000)  '(.*)'$", out, re.M)
    assert [text for _, _, text in answers] == list(demo_steps.TEXTS), out
    assert all(0.5 <= float(probability) <= 1.0 for _, probability, _ in answers)
    # Every step's command, in a script a shell can read.
    script = (work / "commands.sh").read_text()
    for tool in ("tfbert_build_vocab", "tfbert_create_pretraining_data", "tfbert_pretrain",
                 "tfbert_finetune", "tfbert_export", "# tfbert_serving_client"):
        assert tool in script and tool.lstrip("# ") in out
    assert subprocess.run(["bash", "-n", str(work / "commands.sh")]).returncode == 0
