"""Keeping the best run from the commands: `tfbert_finetune --keep_best ...
--num_restarts --seeds` map to the trainer config and fail clearly on bad input,
and `tfbert_export --model_dir` exports `best/` by default (`--nouse_best`: the
latest checkpoint). Subprocesses, as users run them."""

import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import tensorflow as tf

from tests.conftest import REPO_ROOT
from tfbert.checkpoints import load_model
from tfbert.tasks import build_task
from tfbert.text import BertPreprocessor
from tfbert.training import run_experiment

RESOLVE = textwrap.dedent("""
    import json, sys
    from absl import flags
    from tfbert.cli import finetune

    finetune.define_flags()
    out = []
    for given in json.loads(sys.stdin.read()):
        values = {name: flags.FLAGS[name].default for name in flags.FLAGS}
        values.update(given)
        try:
            trainer = finetune.resolve(values, set(given))[0].trainer
            out.append({k: getattr(trainer, k) for k in ("keep_best", "eval_every_steps",
                        "early_stopping_patience", "num_restarts", "seeds")})
        except ValueError as error:
            out.append({"error": str(error)})
    print(json.dumps(out))
""")


def _python(args, stdin=None, timeout=300):
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "CUDA_VISIBLE_DEVICES": "",
           "PYTHONPATH": str(REPO_ROOT)}
    return subprocess.run([sys.executable, *args], cwd=REPO_ROOT, env=env, input=stdin,
                          capture_output=True, text=True, timeout=timeout)


def test_flags_map_to_the_trainer_config(tmp_path):
    base = {"task": "glue/mrpc", "model_dir": str(tmp_path), "mode": "train_and_eval"}
    cases = [
        {**base, "keep_best": "f1", "eval_every_steps": 50, "early_stopping_patience": 3,
         "num_restarts": 3, "seeds": ["5", "6", "7"]},
        {**base, "seeds": ["1", "x"]},
        {**base, "keep_best": "f1", "params_override": "trainer.keep_best=accuracy"},
    ]
    result = _python(["-c", RESOLVE], stdin=json.dumps(cases))
    assert result.returncode == 0, result.stderr[-3000:]
    resolved = json.loads(result.stdout.splitlines()[-1])
    assert resolved[0] == {"keep_best": "f1", "eval_every_steps": 50,
                           "early_stopping_patience": 3, "num_restarts": 3, "seeds": [5, 6, 7]}
    assert resolved[1] == {"error": "--seeds=1,x: seeds are integers"}
    assert "conflicting values for trainer.keep_best: --keep_best=f1" in resolved[2]["error"]


def test_unknown_metric_is_a_clear_error(tmp_path):
    result = _python(["-m", "tfbert.cli.finetune", "--task=glue/mrpc", "--keep_best=f2",
                      "--bert_config_file=bert_tiny_uncased", f"--model_dir={tmp_path / 'm'}",
                      "--do_train", "--do_eval", f"--train_file={tmp_path / 'train.tsv'}",
                      f"--predict_file={tmp_path / 'dev.tsv'}"], timeout=120)
    assert result.returncode == 1
    assert ("tfbert_finetune: error: --keep_best=f2 (trainer.keep_best): task glue/mrpc does "
            "not compute 'f2'; its metrics: f1, accuracy") in result.stderr
    assert "Traceback" not in result.stderr and not (tmp_path / "m").exists()


@pytest.mark.slow
def test_export_takes_best_by_default(tiny_sst2, uncased_vocab, tmp_path):
    model_dir = tmp_path / "run"
    config = tiny_sst2(extra=",trainer.keep_best=accuracy,trainer.eval_every_steps=2,"
                       "trainer.optimizer.learning_rate=5e-3")
    run_experiment(config, str(model_dir), "train")
    best_step = int(tf.train.latest_checkpoint(str(model_dir / "best")).rsplit("-", 1)[1])
    assert best_step != 12, "the test needs a best step other than the last"
    task = build_task(config.task)
    texts = ["a gripping , funny film", "dull and far too long", "it is what it is"]
    inputs = BertPreprocessor(str(uncased_vocab), seq_length=32)(tf.constant(texts))

    def logits(weights):
        model = load_model(weights, head=task.build_head, config="bert_tiny_uncased")
        return np.asarray(model(inputs)["logits"])

    best, last = logits(str(model_dir / "best")), logits(str(model_dir / "ckpt-12"))
    assert np.abs(best - last).max() > 1e-4

    def export(version, *flags):
        result = _python(["-m", "tfbert.cli.export", "--task=glue/sst2",
                          "--model=bert_tiny_uncased", f"--vocab_file={uncased_vocab}",
                          "--seq_length=32", f"--model_dir={model_dir}",
                          f"--export_dir={tmp_path / 'export'}", f"--version={version}",
                          *flags])
        assert result.returncode == 0, result.stderr[-3000:]
        loaded = tf.saved_model.load(str(tmp_path / "export" / str(version)))
        outputs = loaded.signatures["serving_default"](text=tf.constant(texts))
        return result.stderr, outputs["logits"].numpy()

    log, exported = export(1)
    assert f"exporting the kept best checkpoint {model_dir / 'best'}/ckpt-{best_step}" in log
    np.testing.assert_allclose(exported, best, atol=1e-5)
    log, exported = export(2, "--nouse_best")
    assert f"exporting the latest checkpoint of {model_dir}" in log
    np.testing.assert_allclose(exported, last, atol=1e-5)
