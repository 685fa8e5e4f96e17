"""`tfbert_finetune` run as users run it: subprocesses on a tiny model and real
data, for each task kind, with the original and the Model Garden flags;
conflicting flags and bad input give clear messages.

`tfbert.cli.finetune` and `tfbert.cli.pretrain` both define absl flags such as
`--model_dir`, so flag resolution is checked in a subprocess too."""

import json
import os
import subprocess
import sys
import textwrap

import pytest

from tests.conftest import REPO_ROOT

TINY = ["--bert_config_file=bert_tiny_uncased"]


def _run(args, cwd, timeout=300):
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "CUDA_VISIBLE_DEVICES": ""}
    return subprocess.run([sys.executable, "-m", "tfbert.cli.finetune", *args], cwd=cwd,
                          env=env, capture_output=True, text=True, timeout=timeout)


def _ok(result):
    assert result.returncode == 0, result.stderr[-3000:]
    return result


def _head(path, lines, out):
    out.write_text("".join(path.open(encoding="utf-8-sig").readlines()[:lines]),
                   encoding="utf-8")
    return out


def _eval_results(model_dir):
    lines = (model_dir / "eval_results.txt").read_text().splitlines()
    return {k: float(v) for k, v in (line.split(" = ") for line in lines)}


RESOLVE_SCRIPT = textwrap.dedent("""
    import json, sys
    from absl import flags
    from tfbert.cli import finetune

    finetune.define_flags()

    def resolve(given):
        values = {name: flags.FLAGS[name].default for name in flags.FLAGS}
        values.update(given)
        try:
            config, model_dir, modes = finetune.resolve(values, set(given))
        except (ValueError, FileNotFoundError) as error:
            return {"error": str(error)}
        t, tr = config.task, config.trainer
        return {"task": t.task, "model": t.model, "vocab": t.vocab_file, "modes": modes,
                "model_dir": model_dir, "train": t.train_data.input_path,
                "eval": t.validation_data.input_path, "predict": t.predict_data.input_path,
                "seq": [t.train_data.max_seq_length, t.validation_data.max_seq_length],
                "batch": [t.train_data.global_batch_size, t.validation_data.global_batch_size,
                          t.predict_data.global_batch_size],
                "lr": tr.optimizer.learning_rate, "epochs": t.num_train_epochs,
                "warmup_proportion": t.warmup_proportion,
                "steps_per_loop": tr.steps_per_loop,
                "squad": [getattr(t, k, None) for k in ("version_2_with_negative", "doc_stride",
                          "max_query_length", "null_score_diff_threshold")],
                "long_text": [getattr(t, k, None) for k in ("long_text", "doc_stride")],
                "strategy": config.runtime.distribution_strategy, "tpu": config.runtime.tpu}

    print(json.dumps([resolve(case) for case in json.loads(sys.stdin.read())]))
""")


def test_flags_resolve_original_and_model_garden_names(tmp_path):
    glue_dir = tmp_path / "MRPC"
    glue_dir.mkdir()
    (glue_dir / "test.tsv").write_text("index\t#1 ID\t#2 ID\t#1 String\t#2 String\n")
    cases = [
        # 0: run_classifier.py flags.
        dict(task_name="MRPC", data_dir=str(glue_dir), vocab_file="vocab.txt",
             bert_config_file="bert_config.json", output_dir="/tmp/o", do_train=True,
             do_eval=True, do_predict=True, learning_rate=2e-5, train_batch_size=16,
             max_seq_length=64, iterations_per_loop=50),
        # 1: run_squad.py flags: the SQuAD defaults (seq 384) and its own flags.
        dict(version_2_with_negative=True, train_file="t.json",
             predict_file="d.json", output_dir="/tmp/s", do_train=True, do_predict=True,
             doc_stride=64, null_score_diff_threshold=-2.0, use_tpu=True, tpu_name="my-tpu"),
        # 2: Model Garden style: a shipped YAML plus overrides.
        dict(config_file=["glue_mrpc"], mode="eval", model_dir="/tmp/m",
             params_override="task.validation_data.input_path=dev.tsv"),
        # 3-9: conflicts and missing values.
        dict(task="glue/sst2", task_name="MRPC", mode="train", model_dir="/tmp/x"),
        dict(task="glue/sst2", output_dir="/tmp/a", model_dir="/tmp/b", mode="train"),
        dict(task="glue/sst2", learning_rate=1e-4, mode="train", model_dir="/tmp/x",
             params_override="trainer.optimizer.learning_rate=2e-5"),
        dict(task="glue/sst2", do_train=True, mode="eval", model_dir="/tmp/x"),
        dict(task="glue/sst2", mode="train", model_dir="/tmp/x", max_query_length=32),
        dict(task="glue/nope", mode="train", model_dir="/tmp/x"),
        dict(config_file=["squad_v1.1_bert_base"], task="glue/sst2", mode="train",
             model_dir="/tmp/x"),
        dict(task="glue/sst2", model_dir="/tmp/x"),
        # 11-13: long texts in windows (classification, tagging); not for SQuAD.
        dict(task="classification", mode="eval", model_dir="/tmp/x", long_text="mean",
             doc_stride=32),
        dict(task="conll2003", mode="eval", model_dir="/tmp/x", long_text="max_context"),
        dict(task="squad/v1.1", mode="eval", model_dir="/tmp/x", long_text="max"),
    ]
    result = subprocess.run([sys.executable, "-c", RESOLVE_SCRIPT], input=json.dumps(cases),
                            capture_output=True, text=True, cwd=REPO_ROOT, timeout=120,
                            env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"})
    assert result.returncode == 0, result.stderr[-3000:]
    out = json.loads(result.stdout.strip().splitlines()[-1])

    glue = out[0]
    assert glue["task"] == "glue/mrpc" and glue["model"] == "bert_config.json"
    assert glue["modes"] == ["train_and_eval", "predict"] and glue["model_dir"] == "/tmp/o"
    assert glue["train"] == glue["eval"] == str(glue_dir)
    assert glue["predict"] == str(glue_dir / "test.tsv")
    assert glue["seq"] == [64, 64] and glue["batch"] == [16, 8, 8]
    assert glue["lr"] == 2e-5 and glue["epochs"] == 3.0 and glue["warmup_proportion"] == 0.1
    assert glue["steps_per_loop"] == 50 and glue["vocab"] == "vocab.txt"

    squad = out[1]
    assert squad["task"] == "squad/v2.0" and squad["modes"] == ["train", "predict"]
    assert squad["seq"] == [384, 384] and squad["eval"] == squad["predict"] == "d.json"
    assert squad["squad"] == [True, 64, 64, -2.0]
    assert (squad["strategy"], squad["tpu"]) == ("tpu", "my-tpu")

    garden = out[2]
    assert garden["task"] == "glue/mrpc" and garden["modes"] == ["eval"]
    assert garden["eval"] == "dev.tsv" and garden["lr"] == 2e-5

    assert out[11]["long_text"] == ["mean", 32] and out[12]["long_text"] == ["max_context", 64]
    assert "--long_text does not apply to --task=squad/v1.1: it cannot combine the windows" \
        in out[13]["error"]
    errors = [case.get("error", "") for case in out[3:11]]
    assert "--task=glue/sst2 and --task_name=MRPC" in errors[0]
    assert "--output_dir=/tmp/a and --model_dir=/tmp/b" in errors[1]
    assert "--learning_rate=0.0001 and --params_override" in errors[2]
    assert "--do_train and --mode=eval" in errors[3]
    assert "--max_query_length is a SQuAD flag" in errors[4]
    assert "unknown GLUE task 'glue/nope'" in errors[5]
    assert "conflicting tasks: --task=glue/sst2 and task.task=squad/v1.1" in errors[6]
    assert "nothing to do" in errors[7]


@pytest.mark.slow
def test_glue_original_flags_train_eval_predict(shared_data, uncased_vocab, tmp_path):
    mrpc = shared_data / "glue" / "MRPC"
    data_dir = tmp_path / "MRPC"
    data_dir.mkdir()
    _head(mrpc / "train.tsv", 65, data_dir / "train.tsv")
    _head(mrpc / "dev.tsv", 41, data_dir / "dev.tsv")
    out = tmp_path / "out"
    run = _ok(_run(["--task_name=MRPC", f"--data_dir={data_dir}",
                    f"--vocab_file={uncased_vocab}", *TINY, f"--output_dir={out}", "--do_train",
                    "--do_eval", "--do_predict", "--max_seq_length=48", "--train_batch_size=16",
                    "--num_train_epochs=1", "--learning_rate=1e-3", "--eval_batch_size=16"],
                   REPO_ROOT))
    results = _eval_results(out)
    assert results["global_step"] == 4  # 64 examples, batch 16, 1 epoch
    # Said once (the checks before the run prepare the task quietly).
    assert run.stderr.count("64 training examples (windows) x 1 epochs / batch 16 = 4 steps") == 1
    assert 0.0 <= results["accuracy"] <= 1.0 and 0.0 <= results["f1"] <= 1.0
    # No test.tsv in the directory: --do_predict runs on dev.tsv, one line per example.
    rows = [[float(p) for p in line.split("\t")]
            for line in (out / "test_results.tsv").read_text().splitlines()]
    assert len(rows) == 40 and all(len(r) == 2 and abs(sum(r) - 1) < 1e-4 for r in rows)
    assert (out / "params.yaml").exists() and (out / "checkpoint").exists()


@pytest.mark.slow
def test_squad_train_eval_predict_files(shared_data, uncased_vocab, tmp_path):
    dataset = json.loads((shared_data / "squad" / "dev-v1.1-articles-00-23.json").read_text())
    article = dataset["data"][0]
    train = {"version": "1.1", "data": [{**article, "paragraphs": article["paragraphs"][:6]}]}
    evaluation = {"version": "1.1", "data": [{**article, "paragraphs": article["paragraphs"][6:8]}]}
    (tmp_path / "train.json").write_text(json.dumps(train))
    (tmp_path / "eval.json").write_text(json.dumps(evaluation))
    out = tmp_path / "out"
    _ok(_run(["--task=squad/v1.1", f"--train_file={tmp_path / 'train.json'}",
              f"--predict_file={tmp_path / 'eval.json'}", f"--vocab_file={uncased_vocab}",
              *TINY, f"--model_dir={out}", "--mode=train_and_eval", "--max_seq_length=96",
              "--doc_stride=48", "--max_query_length=24", "--train_batch_size=16",
              "--params_override=task.num_train_epochs=null,trainer.train_steps=3,"
              "task.validation_data.global_batch_size=32"], REPO_ROOT))
    results = _eval_results(out)
    questions = [q["id"] for p in evaluation["data"][0]["paragraphs"] for q in p["qas"]]
    assert results["total"] == len(questions) and results["global_step"] == 3
    assert 0.0 <= results["exact_match"] <= results["f1"] <= 100.0
    predictions = json.loads((out / "predictions.json").read_text())
    assert sorted(predictions) == sorted(questions)
    nbest = json.loads((out / "nbest_predictions.json").read_text())
    assert all(1 <= len(nbest[q]) <= 20 for q in questions)


@pytest.mark.slow
def test_conll_yaml_config_and_predictions(shared_data, uncased_vocab, tmp_path):
    conll = shared_data / "conll2003"
    train = _head(conll / "train.txt", 400, tmp_path / "train.txt")
    valid = _head(conll / "valid.txt", 200, tmp_path / "valid.txt")
    (tmp_path / "ner.yaml").write_text(textwrap.dedent(f"""
        task:
          task: conll2003
          model: bert_tiny_uncased
          vocab_file: {uncased_vocab}
          num_train_epochs: 1
          train_data: {{input_path: {train}, max_seq_length: 64, global_batch_size: 16}}
          validation_data: {{input_path: {valid}, max_seq_length: 64, global_batch_size: 16}}
        trainer:
          optimizer: {{learning_rate: 1.0e-3}}
    """))
    out = tmp_path / "out"
    _ok(_run([f"--config_file={tmp_path / 'ner.yaml'}", f"--output_dir={out}", "--do_train",
              "--do_eval", "--do_predict"], REPO_ROOT))
    results = _eval_results(out)
    assert 0.0 <= results["precision"] <= 1.0 and 0.0 <= results["f1"] <= 1.0
    # One "word tag" line per word of valid.txt, a blank line after each sentence.
    words = [line.split()[0] for line in valid.read_text().splitlines()
             if line.strip() and not line.startswith("-DOCSTART-")]
    lines = (out / "test_predictions.txt").read_text().split("\n")
    predicted = [line.split(" ") for line in lines if line]
    assert [w for w, _ in predicted] == words
    assert {t for _, t in predicted} <= {"O", "B-PER", "I-PER", "B-ORG", "I-ORG", "B-LOC",
                                         "I-LOC", "B-MISC", "I-MISC"}


@pytest.mark.slow
def test_bad_input_messages(uncased_vocab, tmp_path):
    common = ["--task=classification", f"--vocab_file={uncased_vocab}", *TINY,
              f"--model_dir={tmp_path / 'out'}", "--mode=train_and_eval",
              "--params_override={task: {text_a: review, label: verdict, "
              "label_names: [neg, pos]}}"]
    (tmp_path / "train.tsv").write_text("review\tverdict\ngood\tpos\nbad\tneg\nokay\tmaybe\n")
    (tmp_path / "dev.tsv").write_text("text\tverdict\nfine\tpos\n")
    result = _run([*common, f"--train_file={tmp_path / 'train.tsv'}",
                   f"--predict_file={tmp_path / 'dev.tsv'}"], REPO_ROOT, timeout=120)
    assert result.returncode == 1
    assert "train.tsv:4: label 'maybe' is not in the label list ['neg', 'pos']" in result.stderr
    (tmp_path / "train.tsv").write_text("review\tverdict\ngood\tpos\nbad\tneg\n")
    result = _run([*common, f"--train_file={tmp_path / 'train.tsv'}",
                   f"--predict_file={tmp_path / 'dev.tsv'}", "--train_batch_size=2"],
                  REPO_ROOT, timeout=120)
    assert result.returncode == 1
    assert "dev.tsv:1: no column 'review'" in result.stderr
    (tmp_path / "empty.json").write_text("")
    result = _run(["--task=squad/v1.1", f"--vocab_file={uncased_vocab}", *TINY,
                   f"--train_file={tmp_path / 'empty.json'}", f"--model_dir={tmp_path / 's'}",
                   "--do_train"], REPO_ROOT, timeout=120)
    assert result.returncode == 1 and "empty.json" in result.stderr
    no_length = [*common[:-1], "--params_override={task: {text_a: review, label: verdict, "
                 "label_names: [neg, pos], num_train_epochs: null}}"]
    result = _run([*no_length, f"--train_file={tmp_path / 'train.tsv'}",
                   f"--predict_file={tmp_path / 'train.tsv'}"], REPO_ROOT, timeout=120)
    assert result.returncode == 1
    assert "task.num_train_epochs is null and trainer.train_steps is 1" in result.stderr
