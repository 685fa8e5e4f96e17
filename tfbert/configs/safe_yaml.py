"""The one way tfbert reads YAML: plain data only, errors naming their source.

Config files (`--config_file`, `--bert_config_file`, `params.yaml`) and
`--params_override` values are parsed with `yaml.safe_load`, which builds
only dicts, lists, strings, numbers, booleans and null. A tag that asks for
a Python object (`!!python/object/apply:os.system [...]`) is refused with a
ValueError naming the file or flag, before anything is built or run.

Example:

>>> load("model: {hidden_size: 64}", "config.yaml")
{'model': {'hidden_size': 64}}
>>> load("x: !!python/object/apply:os.system ['true']", "evil.yaml")
Traceback (most recent call last):
...
ValueError: evil.yaml: the YAML tag ... is not allowed: configs hold plain data ...
"""

import yaml


def load(source, where):
    """`yaml.safe_load(source)`, with every failure a ValueError starting with `where`.

    Args:
        source: YAML text or an open text file.
        where: the file or flag it comes from, for messages.
    """
    try:
        return yaml.safe_load(source)
    except yaml.constructor.ConstructorError as e:
        tag = (e.problem or "").split("tag ", 1)[-1].strip(" '")
        raise ValueError(f"{where}: the YAML tag {tag!r} is not allowed: configs hold plain "
                         "data (tfbert reads YAML with yaml.safe_load)") from None
    except yaml.YAMLError as e:
        raise ValueError(f"{where}: not valid YAML: {e}") from None
    except RecursionError:
        raise ValueError(f"{where}: YAML nested too deeply to read") from None
