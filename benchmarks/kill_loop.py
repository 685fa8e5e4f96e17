"""SIGKILL loops: `tfbert_pretrain` or `tfbert_finetune` killed at random moments and
restarted with the same command until the run completes (issue #25).

    nice -n 15 python -m benchmarks.kill_loop --kind=finetune --kills=20 --seed=1 \
        --workdir=/tmp/kill_finetune

The run is the real command in a subprocess: a tiny random-init BERT (2 layers, hidden
64, the real uncased vocab, dropout 0.1) pre-trained on the original
`create_pretraining_data.py` records of `pretraining_golden/` (seq 128), or fine-tuned
on 300 real SST-2 sentences; a checkpoint every `INTERVAL` steps. Each life is SIGKILLed
at a moment drawn from a seeded RNG: during start-up (1-8 s after it), 0-1.5 s after its
first new checkpoint, or the instant a new checkpoint file appears in the model directory
(mid-write). After each
kill the harness checks that:

- the latest checkpoint (the one the `checkpoint` state file names) is complete: every
  tensor of it reads back (`tf.train.load_checkpoint`) and its step is its number;
- the steps lost, the last step the killed life logged minus that checkpoint's, are at
  most one checkpoint interval;
- the next life logs `resumed from <that checkpoint>`: no half-written one is taken.

At the end the final checkpoint is compared, tensor by tensor, with an uninterrupted run of
the same command (`--reference_runs=2` also compares two uninterrupted runs, to tell a
resume's difference from a run's own nondeterminism). Figures: docs/reliability.md,
"SIGKILL loops".
"""

import argparse
import json
import os
import random
import re
import signal
import subprocess
import sys
import time

import numpy as np

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
INTERVAL = 5
# A tiny random-init BERT on the real uncased vocab.
TINY_BERT = dict(vocab_size=30522, hidden_size=64, num_hidden_layers=2, num_attention_heads=2,
                 intermediate_size=128, max_position_embeddings=128, type_vocab_size=2,
                 hidden_dropout_prob=0.1, attention_probs_dropout_prob=0.1)
# The moments a life is killed at, and how often each is drawn.
MOMENTS = (("startup", 0.15), ("checkpoint_write", 0.35), ("training", 0.5))


def prepare(kind, workdir, shared_data, seed, train_steps=None):
    """Writes the data and config into `workdir`; returns `(command without the model
    directory flag, train_steps)`."""
    os.makedirs(workdir, exist_ok=True)
    config = os.path.join(workdir, "bert_config.json")
    with open(config, "w") as f:
        json.dump(TINY_BERT, f)
    vocab = os.path.join(shared_data, "vocab", "bert-base-uncased-vocab.txt")
    common = [f"--bert_config_file={config}", "--do_train", f"--iterations_per_loop={INTERVAL}",
              f"--save_checkpoints_steps={INTERVAL}", "--learning_rate=1e-3"]
    if kind == "pretrain":
        train_steps = train_steps or 300
        records = os.path.join(shared_data, "pretraining_golden",
                               "sample_text_seq128_seed12345.tfrecord")
        return [sys.executable, "-m", "tfbert.cli.pretrain", *common,
                f"--input_file={records}", "--max_seq_length=128",
                "--max_predictions_per_seq=20", "--train_batch_size=8",
                f"--num_train_steps={train_steps}", "--num_warmup_steps=5",
                f"--params_override=runtime.seed={seed},task.train_data.seed={seed}"], train_steps
    if kind != "finetune":
        raise ValueError(f"--kind={kind}: pretrain or finetune")
    source = os.path.join(shared_data, "glue", "SST-2")
    for name, lines in (("train.tsv", 301), ("dev.tsv", 101)):
        with open(os.path.join(source, name), encoding="utf-8") as f:
            head = f.readlines()[:lines]
        with open(os.path.join(workdir, name), "w", encoding="utf-8") as f:
            f.writelines(head)
    train_steps = train_steps or 300  # 300 sentences x 16 epochs / batch 16
    return [sys.executable, "-m", "tfbert.cli.finetune", *common, "--task=glue/sst2",
            f"--train_file={workdir}/train.tsv", f"--predict_file={workdir}/dev.tsv",
            f"--vocab_file={vocab}", "--max_seq_length=32", "--train_batch_size=16",
            f"--num_train_epochs={train_steps * 16 / 300}", f"--seed={seed}"], train_steps


def _start(command, model_dir, log_path):
    env = dict(os.environ, PYTHONPATH=REPO, TF_CPP_MIN_LOG_LEVEL="2")
    with open(log_path, "w") as log:
        return subprocess.Popen([*command, f"--output_dir={model_dir}"], cwd=REPO, env=env,
                                stdout=log, stderr=subprocess.STDOUT)


def _log_steps(log_path):
    with open(log_path, errors="replace") as f:
        return [int(s) for s in re.findall(r"train step (\d+)/", f.read())]


def _entries(model_dir):
    return set(os.listdir(model_dir)) if os.path.isdir(model_dir) else set()


def _writing(model_dir, since):
    """Whether a checkpoint is being written: a `*_temp*` entry touched since the life
    started at `since` (one left by an earlier life's killed write is older)."""
    for entry in _entries(model_dir):
        if "_temp" in entry:
            try:
                if os.path.getmtime(os.path.join(model_dir, entry)) >= since:
                    return True
            except OSError:  # renamed or removed meanwhile: the write was going on
                return True
    return False


def _wait_training(process, log_path, deadline):
    """Until the life logs a training step (or ends); False if it ended."""
    while time.time() < deadline:
        if process.poll() is not None:
            return False
        if _log_steps(log_path):
            return True
        time.sleep(0.05)
    return process.poll() is None


def _kill_at(moment, rng, process, model_dir, log_path, timeout):
    """Waits for the moment drawn, then SIGKILLs; returns whether a checkpoint was being
    written (a `*_temp*` entry present) when it died, or None if the life ended first."""
    import tensorflow as tf

    started = time.time()
    deadline = started + timeout
    start_checkpoint = tf.train.latest_checkpoint(model_dir)
    if moment == "startup":
        time.sleep(rng.uniform(1.0, 8.0))
    elif not _wait_training(process, log_path, deadline):
        return None
    elif moment == "training":  # after the life's first checkpoint: every such life progresses
        while time.time() < deadline and process.poll() is None and \
                tf.train.latest_checkpoint(model_dir) == start_checkpoint:
            time.sleep(0.05)
        time.sleep(rng.uniform(0.0, 1.5))
    else:  # the instant a new checkpoint entry appears
        before = {e for e in _entries(model_dir) if e.startswith("ckpt-")}
        while time.time() < deadline and process.poll() is None:
            if {e for e in _entries(model_dir) if e.startswith("ckpt-")} - before:
                break
            time.sleep(0.002)
    if process.poll() is not None:
        return None
    writing = _writing(model_dir, started)
    process.send_signal(signal.SIGKILL)
    process.wait()
    return writing


def check_latest(model_dir):
    """`(latest checkpoint, its step)` after checking every tensor of it reads back."""
    import tensorflow as tf

    latest = tf.train.latest_checkpoint(model_dir)
    if latest is None:
        return None, 0
    reader = tf.train.load_checkpoint(latest)
    for name in reader.get_variable_to_shape_map():
        reader.get_tensor(name)
    step = int(reader.get_tensor("global_step/.ATTRIBUTES/VARIABLE_VALUE"))
    if step != int(latest.rsplit("-", 1)[1]):
        raise AssertionError(f"{latest} holds step {step}")
    return latest, step


def compare(path_a, path_b):
    """`(max |a - b| over every float tensor, names that differ in value, names missing)`."""
    import tensorflow as tf

    a, b = tf.train.load_checkpoint(path_a), tf.train.load_checkpoint(path_b)
    names_a = {n for n in a.get_variable_to_shape_map() if "CHECKPOINTABLE" not in n}
    names_b = {n for n in b.get_variable_to_shape_map() if "CHECKPOINTABLE" not in n}
    worst, differ = 0.0, []
    for name in sorted(names_a & names_b):
        x, y = a.get_tensor(name), b.get_tensor(name)
        if not np.array_equal(x, y):
            differ.append(name)
            if np.issubdtype(np.asarray(x).dtype, np.floating):
                worst = max(worst, float(np.max(np.abs(x - y))))
    return worst, differ, sorted(names_a ^ names_b)


def run_once(command, model_dir, log_path, timeout):
    """An uninterrupted run; returns its wall time in seconds."""
    start = time.time()
    process = _start(command, model_dir, log_path)
    try:
        process.wait(timeout=timeout)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    if process.returncode != 0:
        raise RuntimeError(f"{log_path}: exit status {process.returncode}")
    return time.time() - start


def kill_loop(kind, kills, seed, workdir, shared_data, reference_runs=1, train_steps=None,
              life_timeout=600):
    """Runs the loop (see the module doc); returns its figures as a dict.

    Raises:
        AssertionError: a check failed (the message says which, after which kill).
    """
    command, train_steps = prepare(kind, workdir, shared_data, seed, train_steps)
    rng = random.Random(seed)
    references = [os.path.join(workdir, f"reference{i}") for i in range(reference_runs)]
    reference_s = [run_once(command, d, d + ".log", life_timeout) for d in references]
    model_dir = os.path.join(workdir, "killed")
    lives, max_lost, resumes, mid_write, expected_resume, expected_step = [], 0, 0, 0, None, 0
    start = time.time()
    while True:
        log_path = os.path.join(workdir, f"life{len(lives)}.log")
        process = _start(command, model_dir, log_path)
        moment = rng.choices([m for m, _ in MOMENTS], [w for _, w in MOMENTS])[0]
        writing = (_kill_at(moment, rng, process, model_dir, log_path, life_timeout)
                   if len(lives) < kills else None)
        if writing is None:  # not killed: the run goes to its end
            process.wait(timeout=life_timeout)
        with open(log_path, errors="replace") as f:
            text = f.read()
        resumed = re.search(r"resumed from (\S+) at step (\d+)", text)
        if resumed:
            resumes += 1
            if resumed.group(1) != expected_resume or int(resumed.group(2)) != expected_step:
                raise AssertionError(f"life {len(lives)} resumed from {resumed.group(1)} at "
                                     f"step {resumed.group(2)}, the latest complete "
                                     f"checkpoint was {expected_resume}, step {expected_step}")
        if writing is None:
            if process.returncode != 0:
                raise AssertionError(f"{log_path}: exit status {process.returncode}")
            lives.append({"moment": "none", "killed": False})
            break
        latest, step = check_latest(model_dir)
        logged = max(_log_steps(log_path), default=0)
        lost = max(0, logged - step)
        if lost > INTERVAL:
            raise AssertionError(f"kill {len(lives) + 1}: logged step {logged}, latest "
                                 f"checkpoint {latest}: {lost} steps lost > {INTERVAL}")
        max_lost, mid_write = max(max_lost, lost), mid_write + bool(writing)
        expected_resume, expected_step = latest, step
        lives.append({"moment": moment, "killed": True, "writing": writing,
                      "last_logged_step": logged, "latest_step": step, "lost": lost})
    final = os.path.join(model_dir, f"ckpt-{train_steps}")
    check_latest(model_dir)
    worst, differ, missing = (compare(final, os.path.join(references[0], f"ckpt-{train_steps}"))
                              if references else (None, [], []))
    report = {
        "kind": kind, "seed": seed, "kills": sum(life["killed"] for life in lives),
        "moments": {m: sum(life["moment"] == m for life in lives) for m, _ in MOMENTS},
        "killed_mid_write": mid_write, "resumes": resumes, "max_steps_lost": max_lost,
        "interval": INTERVAL, "train_steps": train_steps,
        "final_max_abs_diff": worst, "tensors_differing": len(differ) if references else None,
        "differing_examples": differ[:8], "tensors_missing": missing,
        "stale_temp_entries": sorted(e for e in _entries(model_dir) if "_temp" in e),
        "loop_wall_s": round(time.time() - start, 1),
        "reference_wall_s": [round(s, 1) for s in reference_s], "lives": lives}
    if reference_runs > 1:
        worst2, differ2, _ = compare(os.path.join(references[1], f"ckpt-{train_steps}"),
                                     os.path.join(references[0], f"ckpt-{train_steps}"))
        report.update(reference_max_abs_diff=worst2, reference_tensors_differing=len(differ2))
    return report


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--kind", choices=("pretrain", "finetune"), required=True)
    parser.add_argument("--kills", type=int, default=20)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--workdir", required=True, help="A new directory for the runs.")
    parser.add_argument("--reference_runs", type=int, default=2,
                        help="Uninterrupted runs to compare with (0: no comparison).")
    parser.add_argument("--train_steps", type=int, default=None)
    parser.add_argument("--shared_data", default=os.environ.get(
        "TFBERT_TEST_DATA", os.path.join(os.path.dirname(REPO), "shared", "data")))
    args = parser.parse_args(argv)
    report = kill_loop(args.kind, args.kills, args.seed, args.workdir, args.shared_data,
                       args.reference_runs, args.train_steps)
    with open(os.path.join(args.workdir, "report.json"), "w") as f:
        json.dump(report, f, indent=1)
    print(json.dumps({k: v for k, v in report.items() if k != "lives"}, indent=1))


if __name__ == "__main__":
    main()
