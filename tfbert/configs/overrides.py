"""`--params_override` values: `a.b=c,d.e=f` or a YAML/JSON mapping string.

Read with YAML's safe loader only: a value with a YAML tag (`!!python/...`) is
refused with an error naming the value, never run and never kept as text.
"""

import yaml

from tfbert.configs import safe_yaml


def parse_overrides(params_override):
    """`{dotted key: value}` from `a.b=c,d.e=f` or a YAML/JSON mapping string.

    Values are parsed as YAML scalars (`10` -> int, `1e-4` -> float,
    `true` -> bool) or flow lists of scalars (`[neg, pos]`: commas inside
    brackets do not split items, as in Model Garden's `a.b=[1,2]` form).
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
    for item in _split_items(text):
        if "=" not in item:
            raise ValueError(f"--params_override: {item!r} is not of the form a.b=value")
        key, value = item.split("=", 1)
        values[key.strip()] = _scalar(value.strip())
    return values


def _split_items(text):
    """`text` split at the commas outside brackets: `a=[1, 2],b=3` -> `a=[1, 2]`, `b=3`."""
    items, depth, start = [], 0, 0
    for i, char in enumerate(text):
        depth += {"[": 1, "]": -1}.get(char, 0)
        if depth < 0:
            raise ValueError(f"--params_override: unbalanced ']' in {text!r}")
        if char == "," and depth == 0:
            items.append(text[start:i])
            start = i + 1
    if depth:
        raise ValueError(f"--params_override: unclosed '[' in {text!r}")
    return [*items, text[start:]]


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
    if isinstance(value, list) and text.startswith("["):
        if all(isinstance(v, (bool, int, float, str)) for v in value):
            return value
        raise ValueError(f"--params_override value {text!r}: a list may hold only scalars")
    return value if isinstance(value, (bool, int, float, str)) or value is None else text
