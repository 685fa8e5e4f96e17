"""Configs given on the command line cannot run code: a YAML tag that calls
`os.system` in `--config_file`, `--bert_config_file` or `--params_override` is
refused by the command (`<command>: error: ... YAML tag ... not allowed`, exit
status 1) and the marker file it would create does not exist.

The library side (each loader, and a scan of tfbert/ for unsafe calls) is
`tests/configs/test_safe_loading.py`; here the commands run as users run them,
in parallel (a Python start with TensorFlow takes seconds)."""

import concurrent.futures
import subprocess
import sys

import pytest


def _cases(work, vocab):
    def payload(name):
        return f"!!python/object/apply:os.system ['touch {work / name}']"

    (work / "experiment.yaml").write_text(f"trainer:\n  train_steps: {payload('config')}\n")
    (work / "bert.yaml").write_text(f"model:\n  hidden_size: {payload('bert')}\n")
    train = work / "train.tsv"
    train.write_text("sentence\tlabel\na fine film\t1\n")
    common = ["--task=glue/sst2", "--do_train", f"--train_file={train}", f"--vocab_file={vocab}",
              f"--model_dir={work / 'out'}"]
    return {
        "config": ("tfbert.cli.finetune", [*common, "--bert_config_file=bert_tiny_uncased",
                                           f"--config_file={work / 'experiment.yaml'}"]),
        "bert": ("tfbert.cli.finetune", [*common, f"--bert_config_file={work / 'bert.yaml'}"]),
        "override": ("tfbert.cli.finetune", [*common, "--bert_config_file=bert_tiny_uncased",
                                             f"--params_override=trainer.train_steps="
                                             f"{payload('override')}"]),
        "pretrain": ("tfbert.cli.pretrain", [
            "--do_train", f"--input_file={train}", "--bert_config_file=bert_tiny_uncased",
            f"--output_dir={work / 'pretrain'}",
            f"--params_override={{trainer: {{train_steps: {payload('pretrain')}}}}}"]),
    }


@pytest.fixture(scope="module")
def runs(tmp_path_factory, vocab_file):
    work = tmp_path_factory.mktemp("unsafe_flags")
    cases = _cases(work, vocab_file)

    def run(module, args):
        return subprocess.run([sys.executable, "-m", module, *args], capture_output=True,
                              text=True, timeout=600)

    with concurrent.futures.ThreadPoolExecutor(len(cases)) as pool:
        futures = {name: pool.submit(run, *case) for name, case in cases.items()}
        return work, {name: future.result() for name, future in futures.items()}


@pytest.mark.slow
@pytest.mark.parametrize("name", ["config", "bert", "override", "pretrain"])
def test_yaml_tag_in_a_flag_is_refused(runs, name):
    work, results = runs
    result = results[name]
    assert result.returncode == 1, result.stderr[-2000:]
    assert "YAML tag" in result.stderr and "not allowed" in result.stderr, result.stderr[-2000:]
    assert "Traceback" not in result.stderr, result.stderr[-2000:]
    assert not (work / name).exists(), "the flag's code ran"
