"""Every `tfbert_*` command fails the same way: `<command>: error: <message>` on
stderr, exit status 1, no traceback, and none of TensorFlow's start-up lines.

Each command runs as users run it (a subprocess, with `TF_CPP_MIN_LOG_LEVEL`
unset), once with an unknown flag and once with a path that does not exist.
A Python start with TensorFlow takes seconds, so the 18 runs go in parallel,
once per session, and each test reads its run's result.
"""

import concurrent.futures
import os
import subprocess
import sys
from pathlib import Path

import pytest

MISSING = "/nonexistent/tfbert_test"
BAD_FLAG = "--no_such_flag=1"

# What TensorFlow prints on stderr when it starts, unless the command hides it.
START_UP_LINES = ("oneDNN custom operations", "cuInit", "cuda", "cpu_feature_guard",
                  "All log messages before absl::InitializeLog")


def missing_path_cases(vocab, work):
    """`{command: (arguments naming a path that does not exist, that path)}`."""
    sentences = work / "sentences.txt"
    sentences.write_text("a fine film\n", encoding="utf-8")
    return {
        "tfbert_build_vocab": ([f"--input_files={MISSING}/corpus.txt",
                                f"--output_file={work / 'vocab.txt'}"], f"{MISSING}/corpus.txt"),
        "tfbert_convert_checkpoint": ([f"--tf1_checkpoint={MISSING}/bert_model.ckpt",
                                       f"--output_path={work / 'bert.keras'}"],
                                      f"{MISSING}/bert_model.ckpt"),
        "tfbert_create_pretraining_data": ([f"--input_file={MISSING}/corpus.txt",
                                            f"--output_file={work / 'train.tfrecord'}",
                                            f"--vocab_file={vocab}"], f"{MISSING}/corpus.txt"),
        "tfbert_demo": ([f"--work_dir={work / 'demo'}", f"--corpus_file={MISSING}/corpus.txt"],
                        f"{MISSING}/corpus.txt"),
        "tfbert_distill": ([f"--teacher_dir={MISSING}", f"--output_dir={work / 'student'}"],
                           MISSING),
        "tfbert_explain": ([f"--model_dir={MISSING}", "--text=a film",
                            f"--output_dir={work / 'explain'}"], MISSING),
        "tfbert_extend_vocab": ([f"--input={work}", f"--vocab_file={vocab}",
                                 f"--words_file={MISSING}/words.txt",
                                 f"--output_dir={work / 'extended'}"], f"{MISSING}/words.txt"),
        "tfbert_export": (["--task=classification", f"--model_dir={MISSING}",
                           f"--export_dir={work / 'export'}", f"--vocab_file={vocab}"], MISSING),
        "tfbert_extract_features": ([f"--input_file={sentences}",
                                     f"--output_file={work / 'features.jsonl'}",
                                     f"--checkpoint={MISSING}/bert_model.ckpt",
                                     "--model=bert_tiny_uncased", f"--vocab_file={vocab}"],
                                    f"{MISSING}/bert_model.ckpt"),
        "tfbert_finetune": (["--task=glue/sst2", "--do_train",
                             f"--train_file={MISSING}/train.tsv", f"--vocab_file={vocab}",
                             "--bert_config_file=bert_tiny_uncased",
                             f"--model_dir={work / 'finetune'}"], f"{MISSING}/train.tsv"),
        "tfbert_pretrain": (["--do_train", f"--input_file={MISSING}/train.tfrecord",
                             "--bert_config_file=bert_tiny_uncased",
                             f"--output_dir={work / 'pretrain'}"], f"{MISSING}/train.tfrecord"),
        "tfbert_serving_client": ([f"--input_file={MISSING}/sentences.txt"],
                                  f"{MISSING}/sentences.txt"),
    }


COMMANDS = ("tfbert_build_vocab", "tfbert_convert_checkpoint", "tfbert_create_pretraining_data",
            "tfbert_demo", "tfbert_distill", "tfbert_explain", "tfbert_export",
            "tfbert_extend_vocab", "tfbert_extract_features", "tfbert_finetune",
            "tfbert_pretrain", "tfbert_serving_client")
CASES = [(command, kind) for command in COMMANDS for kind in ("unknown_flag", "missing_path")]


def users_environment():
    """This process's environment without `TF_CPP_MIN_LOG_LEVEL`, as users run commands."""
    return {key: value for key, value in os.environ.items() if key != "TF_CPP_MIN_LOG_LEVEL"}


def run_command(command, args):
    module = "tfbert.cli." + command.removeprefix("tfbert_")
    return subprocess.run([sys.executable, "-m", module, *args], capture_output=True,
                          text=True, env=users_environment(), timeout=180)


@pytest.fixture(scope="module")
def results(vocab_file, tmp_path_factory):
    """`{(command, kind): (CompletedProcess, what its error must name)}` of every case."""
    jobs = {}
    for command in COMMANDS:
        work = tmp_path_factory.mktemp(command)
        jobs[(command, "unknown_flag")] = ([BAD_FLAG], "no_such_flag")
        jobs[(command, "missing_path")] = missing_path_cases(vocab_file, work)[command]
    with concurrent.futures.ThreadPoolExecutor(max_workers=max(2, os.cpu_count() or 2)) as pool:
        futures = {case: pool.submit(run_command, case[0], args)
                   for case, (args, _) in jobs.items()}
        return {case: (future.result(), jobs[case][1]) for case, future in futures.items()}


@pytest.mark.slow
@pytest.mark.parametrize(("command", "kind"), CASES)
def test_one_error_path(results, command, kind):
    result, named = results[(command, kind)]
    stderr = result.stderr
    assert result.returncode == 1, stderr[-3000:]
    assert f"{command}: error:" in stderr, stderr[-3000:]
    error_line = next(line for line in stderr.splitlines() if f"{command}: error:" in line)
    assert named in error_line, stderr[-3000:]
    assert "Traceback" not in stderr, stderr[-3000:]
    for line in START_UP_LINES:
        assert line not in stderr, f"TensorFlow's start-up line {line!r} shown:\n{stderr[-3000:]}"


def test_every_console_script_is_checked():
    """A command added to pyproject.toml without an error-path case here fails this."""
    import tomllib

    scripts = tomllib.loads((Path(__file__).resolve().parents[2] / "pyproject.toml")
                            .read_text(encoding="utf-8"))["project"]["scripts"]
    assert sorted(scripts) == sorted(COMMANDS)


def test_no_command_starts_tensorflow_before_its_flags_parse():
    """A wrong flag or `--help` answers without the seconds TensorFlow takes to start:
    no command imports it before its flags parse (`tfbert.cli`; `common.run_command`
    starts it after them). Each command runs with a wrong flag; at its exit it says
    whether TensorFlow was loaded."""
    loaded = {}
    for command in COMMANDS:
        module = "tfbert.cli." + command.removeprefix("tfbert_")
        code = ("import atexit, runpy, sys; "
                "atexit.register(lambda: print('tensorflow' in sys.modules)); "
                f"sys.argv = [{command!r}, {BAD_FLAG!r}]; "
                f"runpy.run_module({module!r}, run_name='__main__')")
        result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                                env=users_environment(), timeout=120)
        assert "no_such_flag" in result.stderr, result.stderr[-3000:]
        loaded[command] = result.stdout.strip()
    assert loaded == dict.fromkeys(COMMANDS, "False")


def test_commands_start_tensorflow_without_keras_extras():
    """`import_tensorflow` keeps Keras from importing matplotlib, scikit-learn and
    IPython (installed with the test extra) while TensorFlow loads, and leaves them
    importable after (`tfbert_explain` imports matplotlib itself)."""
    from tfbert.cli import KERAS_EXTRAS

    code = ("import sys; from tfbert.cli import import_tensorflow; import_tensorflow(); "
            f"print(*[m for m in {KERAS_EXTRAS!r} if m in sys.modules]); "
            "import matplotlib, sklearn; print('importable')")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.splitlines() == ["", "importable"], result.stdout
