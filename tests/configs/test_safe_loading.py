"""No file or flag value tfbert reads can run code.

Each loader is given a file whose format could run code - a YAML tag that
calls `os.system`, a `.keras` file with a Lambda layer's bytecode, a
`pytorch_model.bin` pickle with a `__reduce__` - that would create a marker
file if run. Each must refuse with a ValueError naming the file or flag, and
the marker must not exist. `test_no_unsafe_calls_in_tfbert` keeps new code to
the safe forms (deleting `safe_mode=True` or `weights_only=True`, or adding
`yaml.load`, `pickle.load`, `eval`, ... makes it fail).
"""

import os
import pathlib
import pickle
import re

import pytest

import tfbert
from tfbert.configs import overrides
from tfbert.tasks import registry

TFBERT = pathlib.Path(tfbert.__file__).parent


def _payload(marker):
    return f"!!python/object/apply:os.system ['touch {marker}']"


@pytest.fixture
def marker(tmp_path):
    path = tmp_path / "ran"
    yield path
    assert not path.exists(), "the file's code ran"


def test_experiment_config_file(tmp_path, marker):
    config = tmp_path / "evil.yaml"
    config.write_text(f"trainer:\n  train_steps: {_payload(marker)}\n")
    with pytest.raises(ValueError, match=rf"{config}: the YAML tag .*os.system.* not allowed"):
        registry.load_config("glue/sst2", config_files=[str(config)])
    config.write_text(f"task:\n  task: {_payload(marker)}\n")  # read before the task is known
    with pytest.raises(ValueError, match=rf"{config}: the YAML tag .* not allowed"):
        registry.load_config(None, config_files=[str(config)])


@pytest.mark.parametrize("form", ["a.b={}", "{{trainer: {{train_steps: {}}}}}",
                                  "trainer.train_steps=!!python/name:os.system"])
def test_params_override(marker, form):
    with pytest.raises(ValueError, match=r"--params_override.*(YAML tag|not allowed)"):
        overrides.parse_overrides(form.format(_payload(marker)))


def test_bert_config_yaml(tmp_path, marker):
    config = tmp_path / "bert_config.yaml"
    config.write_text(f"model:\n  hidden_size: {_payload(marker)}\n")
    with pytest.raises(ValueError, match=rf"{config}: the YAML tag .* not allowed"):
        tfbert.BertConfig.from_file(config)


def test_keras_file_with_lambda_bytecode(tmp_path, marker):
    import keras

    from tfbert.checkpoints import load_model

    def touch(x):
        marker.touch()
        return x

    model = keras.Sequential([keras.Input((2,)), keras.layers.Lambda(lambda x: touch(x))])
    marker.unlink()  # building the model ran it once, here, on purpose
    path = tmp_path / "evil.keras"
    model.save(path)
    with pytest.raises(ValueError, match=r"Lambda.*arbitrary code"):
        load_model(str(path))


class _Evil:
    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


def test_pytorch_pickle(tmp_path, marker):
    pytest.importorskip("torch")
    from tfbert.checkpoints.huggingface import read_huggingface_weights

    (tmp_path / "config.json").write_text('{"model_type": "bert"}')
    weights = tmp_path / "pytorch_model.bin"
    weights.write_bytes(pickle.dumps({"w": _Evil(marker)}))
    with pytest.raises(ValueError, match=rf"{weights}: refused to load"):
        read_huggingface_weights(str(tmp_path))


# `call(` patterns that can run code from data, and the safe form each must take.
UNSAFE = {
    r"\byaml\.(load|unsafe_load|full_load|load_all)\(": "tfbert.configs.safe_yaml",
    r"\b(pickle|cPickle|dill|marshal|shelve|joblib)\.(load|loads|open)\(": "no pickles",
    r"\btorch\.load\((?![^)]*weights_only=True)": "torch.load(..., weights_only=True)",
    r"\bnp\.load\([^)]*allow_pickle=True": "np.load without allow_pickle",
    r"(?<![\w.])(eval|exec)\(": "no eval/exec",
    r"keras\.(saving|models)\.load_model\((?![^)]*safe_mode=True)":
        "keras.saving.load_model(..., safe_mode=True)",
    r"object_hook=|object_pairs_hook=": "plain json.loads",
}


def test_no_unsafe_calls_in_tfbert():
    found = []
    for path in sorted(TFBERT.rglob("*.py")):
        text = path.read_text(encoding="utf-8")
        for pattern, instead in UNSAFE.items():
            for match in re.finditer(pattern, text):
                line = text.count("\n", 0, match.start()) + 1
                source = text.splitlines()[line - 1]
                found.append(f"{path.relative_to(TFBERT.parent)}:{line}: {source.strip()} "
                             f"(use {instead})")
    assert not found, "\n".join(found)
