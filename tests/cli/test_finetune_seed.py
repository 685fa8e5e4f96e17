"""`tfbert_finetune --seed` and `--optimizer`: how they resolve, and that a seed repeats a
run. Two real runs (subprocesses, a tiny model, real MRPC rows) with the same `--seed`
end with the same weights, predictions and dev metrics; another seed does not."""

import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import tensorflow as tf
import yaml

from tests.conftest import REPO_ROOT

RESOLVE_SCRIPT = textwrap.dedent("""
    import json, sys
    from absl import flags
    from tfbert.cli import finetune

    finetune.define_flags()

    def resolve(given):
        values = {name: flags.FLAGS[name].default for name in flags.FLAGS}
        values.update(given)
        try:
            config, _, _ = finetune.resolve(values, set(given))
        except ValueError as error:
            return {"error": str(error)}
        return {"seed": config.runtime.seed, "data_seed": config.task.train_data.seed,
                "optimizer": config.trainer.optimizer.type}

    print(json.dumps([resolve(case) for case in json.loads(sys.stdin.read())]))
""")


def test_seed_and_optimizer_flags_resolve():
    original = dict(task_name="MRPC", data_dir="glue/MRPC", output_dir="/tmp/o", do_train=True)
    cases = [
        dict(original, seed=5, optimizer="bert_adamw"),
        dict(original),  # no seed: one is drawn, and the data order follows it
        dict(config_file=["minilm_mrpc"], mode="train", model_dir="/tmp/m", seed=3,
             optimizer="lamb"),
        dict(original, seed=5, params_override="task.train_data.seed=9"),
        dict(original, seed=5, params_override="runtime.seed=6"),
        dict(original, optimizer="lamb", params_override="trainer.optimizer.type=adamw"),
    ]
    result = subprocess.run([sys.executable, "-c", RESOLVE_SCRIPT], input=json.dumps(cases),
                            capture_output=True, text=True, cwd=REPO_ROOT, timeout=120,
                            env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"})
    assert result.returncode == 0, result.stderr[-3000:]
    out = json.loads(result.stdout.strip().splitlines()[-1])
    assert out[0] == {"seed": 5, "data_seed": 5, "optimizer": "bert_adamw"}
    # The original flag family gets the one default, AdamW with bias correction.
    assert out[1]["optimizer"] == "adamw"
    assert isinstance(out[1]["seed"], int) and out[1]["data_seed"] == out[1]["seed"]
    # The flag wins over the YAML's runtime.seed, and the preset does not pin the data order.
    assert out[2] == {"seed": 3, "data_seed": 3, "optimizer": "lamb"}
    assert out[3] == {"seed": 5, "data_seed": 9, "optimizer": "adamw"}
    assert "conflicting values for runtime.seed: --seed=5 and --params_override " \
           "runtime.seed=6" in out[4]["error"]
    assert "conflicting values for trainer.optimizer.type: --optimizer=lamb and " \
           "--params_override trainer.optimizer.type=adamw" in out[5]["error"]


def _finetune(data_dir, vocab, out, seed):
    """A tiny MRPC run of 4 steps with dropout on, as a user runs it."""
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "CUDA_VISIBLE_DEVICES": ""}
    result = subprocess.run(
        [sys.executable, "-m", "tfbert.cli.finetune", "--task_name=MRPC",
         f"--data_dir={data_dir}", f"--vocab_file={vocab}", "--bert_config_file=bert_tiny_uncased",
         f"--output_dir={out}", "--do_train", "--do_eval", "--do_predict",
         "--max_seq_length=48", "--train_batch_size=16", "--eval_batch_size=16",
         "--num_train_epochs=1", "--learning_rate=1e-3", f"--seed={seed}"],
        cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    reader = tf.train.load_checkpoint(str(out))
    # Every array of the checkpoint: the model's weights and the optimizer's moments.
    weights = {name: reader.get_tensor(name) for name, shape in tf.train.list_variables(str(out))
               if shape and name.endswith("/.ATTRIBUTES/VARIABLE_VALUE")}
    return {"eval": (out / "eval_results.txt").read_text(),
            "predictions": (out / "test_results.tsv").read_text(),
            "params": yaml.safe_load((out / "params.yaml").read_text()), "weights": weights}


@pytest.mark.slow
def test_same_seed_same_run_other_seed_other_run(shared_data, uncased_vocab, tmp_path):
    mrpc = shared_data / "glue" / "MRPC"
    data_dir = tmp_path / "MRPC"
    data_dir.mkdir()
    for name, lines in (("train.tsv", 65), ("dev.tsv", 49)):
        rows = (mrpc / name).open(encoding="utf-8-sig").readlines()[:lines]
        (data_dir / name).write_text("".join(rows), encoding="utf-8")
    first, again, other = (_finetune(data_dir, uncased_vocab, tmp_path / name, seed)
                           for name, seed in (("a", 7), ("b", 7), ("c", 8)))
    assert first["params"]["runtime"]["seed"] == 7
    assert first["params"]["task"]["train_data"]["seed"] == 7
    assert first["params"]["trainer"]["optimizer"]["type"] == "adamw"
    assert "global_step = 4" in first["eval"]
    assert len(first["weights"]) > 100  # 41 weights and their two moments
    # Same seed: the same weights, bit for bit, hence the same predictions and metrics.
    assert first["weights"].keys() == again["weights"].keys()
    for name, value in first["weights"].items():
        np.testing.assert_array_equal(value, again["weights"][name], err_msg=name)
    assert first["predictions"] == again["predictions"]
    assert first["eval"] == again["eval"]
    # Another seed: other initial weights (the head's too), dropout and data order.
    assert first["predictions"] != other["predictions"]
    changed = [n for n, v in first["weights"].items() if not np.array_equal(v, other["weights"][n])]
    assert len(changed) == len(first["weights"])
