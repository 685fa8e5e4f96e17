"""`--params_override` values: `a.b=c,d.e=f` or a YAML/JSON mapping string.

Read with YAML's safe loader only: a value with a YAML tag (`!!python/...`) is
refused with an error naming the value, never run and never kept as text.
"""

import yaml

from tfbert.configs import safe_yaml


def parse_overrides(params_override):
    """`{dotted key: value}` from `a.b=c,d.e=f` or a YAML/JSON mapping string.

    Values are parsed as YAML scalars (`10` -> int, `1e-4` -> float,
    `true` -> bool); in the `a.b=c` form a value may not contain a comma.
    """
    text = (params_override or "").strip()
    if not text:
        return {}
    if text.startswith("{"):
        mapping = safe_yaml.load(text, "--params_override")
        if not isinstance(mapping, dict):
            raise ValueError(f"--params_override: {text!r} is not a mapping")

        def walk(node, prefix):
            for key, value in node.items():
                if isinstance(value, dict) and value:
                    yield from walk(value, f"{prefix}{key}.")
                else:
                    yield f"{prefix}{key}", value
        return dict(walk(mapping, ""))
    values = {}
    for item in text.split(","):
        if "=" not in item:
            raise ValueError(f"--params_override: {item!r} is not of the form a.b=value")
        key, value = item.split("=", 1)
        values[key.strip()] = _scalar(value.strip())
    return values


def _scalar(text):
    """A YAML scalar (`10`, `1e-4`, `true`), else the text itself (`*.tfrecord`, `a: b`)."""
    if not text:
        return ""
    if text.lstrip().startswith("!"):  # a tag: never a plain scalar, never text to keep
        safe_yaml.load(text, f"--params_override value {text!r}")
        raise ValueError(f"--params_override value {text!r}: YAML tags are not allowed")
    try:
        value = yaml.safe_load(text)
    except yaml.YAMLError:
        return text
    return value if isinstance(value, (bool, int, float, str)) or value is None else text
