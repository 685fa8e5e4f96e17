"""The shell of `tfbert_demo`: commands written for people, tools run as
subprocesses with their progress shown.

Kept apart from the steps (`tfbert.cli.demo_steps`) because none of this
knows what the demo does: it turns argument lists into readable shell lines
(`$DATA/...`, `$WORK/...`) collected in `commands.sh`, runs `tfbert_<x>` as
`python -m tfbert.cli.<x>` with its output in a log file, and shortens the
trainer's log lines.

Example:

>>> command("tfbert_export", model_dir="/w/finetune", version=1, quick=True, text=None)
['tfbert_export', '--model_dir=/w/finetune', '--version=1', '--quick']
>>> Shell({"WORK": "/w"}, "/dev/null").render(["tfbert_export", "--model_dir=/w/finetune"])
'tfbert_export --model_dir=$WORK/finetune'
"""

import contextlib
import os
import pathlib
import queue
import re
import shlex
import subprocess
import sys
import threading


class DemoError(RuntimeError):
    """A step failed; the message says which and where its log is. (A `RuntimeError`,
    so that `tfbert_demo` ends with `tfbert_demo: error: <message>`, no traceback.)

    Example:

    >>> str(DemoError("tfbert_pretrain failed with exit status 1"))
    'tfbert_pretrain failed with exit status 1'
    """


# === Commands: printed with $DATA/$WORK, run with the real paths ===


def command(tool, **values):
    """`[tool, "--flag=value", ...]`; True gives `--flag`, None leaves the flag out."""
    args = [tool]
    for name, value in values.items():
        if value is True:
            args.append(f"--{name}")
        elif value is not None:
            args.append(f"--{name}={value}")
    return args


_SAFE = re.compile(r"[\w@%+=:,./-]*")


class Shell:
    """Writes commands for people: paths under the named directories become
    `$NAME/...`, long commands wrap with `\\`; `commands.sh` collects them.

    Example:

    >>> shell = Shell({"DATA": "/data"}, "/dev/null")
    >>> shell.word("/data/corpus.txt"), shell.word("/tmp/a b")
    ('$DATA/corpus.txt', "'/tmp/a b'")
    """

    def __init__(self, variables, script):
        self.variables = [(name, str(path)) for name, path in variables.items()]
        self.script = script
        with open(script, "w", encoding="utf-8") as f:
            f.write("#!/usr/bin/env bash\n# The steps of tfbert_demo. To rerun them on your own "
                    "data, change the paths.\nset -euo pipefail\n")
            for name, path in self.variables:
                f.write(f"{name}={shlex.quote(path)}\n")
            if "WORK" in dict(self.variables):
                f.write('mkdir -p "$WORK"\n')

    def word(self, value):
        """`value` for a shell: `$NAME/rest` for a path under a named directory, else quoted."""
        for name, path in self.variables:
            if value == path or value.startswith(path + os.sep):
                rest = value[len(path):]
                if _SAFE.fullmatch(path) and _SAFE.fullmatch(rest):
                    return f"${name}{rest}"
                return f'"${name}"' + (shlex.quote(rest) if rest else "")
        return shlex.quote(value)

    def render(self, args):
        words = [self.word(args[0])]
        for arg in map(str, args[1:]):
            flag, equals, value = arg.partition("=")
            words.append(f"{flag}={self.word(value)}" if arg.startswith("--") and equals
                         else self.word(arg))
        lines, line = [], words[0]
        for word in words[1:]:
            if len(line) + len(word) > 86:
                lines.append(line + " \\")
                line = "    " + word
            else:
                line += " " + word
        return "\n".join(lines + [line])

    def record(self, args, comment, run=True):
        """Prints a command (a list of arguments, or a line already written for the
        shell) and appends it to the script (commented out if not `run`)."""
        text = args if isinstance(args, str) else self.render(args)
        print("\n".join(("  $ " if i == 0 else "    ") + line
                        for i, line in enumerate(text.splitlines())), flush=True)
        if not run:
            text = "\n".join("# " + line for line in text.splitlines())
        with open(self.script, "a", encoding="utf-8") as f:
            f.write(f"\n# {comment}\n{text}\n")


# === Running a step and showing its progress ===

_ABSL_LINE = re.compile(r"^([IWEF])\d{4} [\d:.]+\s+\d+ ([\w.]+):\d+\] (.*)$")
_TRAINER_LINE = re.compile(r"^(train|eval) step (\d+)/(\d+) \| (.*)$")
# Not shown in the progress lines (all are in the logs and TensorBoard summaries).
_HIDDEN_KEYS = ("learning_rate", "grad_norm", "global_step", "next_sentence_loss")


def _tfbert_files():
    root = pathlib.Path(__file__).resolve().parent.parent
    return {path.name for path in root.rglob("*.py")}


def progress_line(message):
    """A trainer log line made short (`train step 50/300: loss 6.5, ...`); others as they are."""
    match = _TRAINER_LINE.match(message)
    if not match:
        return message
    mode, step, total, rest = match.groups()
    values = dict(part.rsplit(" ", 1) for part in rest.split(" | ") if " " in part)
    speed = values.pop("examples_per_second", None)
    if "masked_lm_loss" in values:
        values.pop("loss", None)  # the sum of the two losses
    shown = ", ".join(f"{key} {value}" for key, value in values.items()
                      if key not in _HIDDEN_KEYS)
    if speed:
        shown += f" ({float(speed):.0f} examples/s)"
    return f"{mode} step {step}/{total}: {shown}"


def _pump(stream, name, lines):
    for line in stream:
        lines.put((name, line.rstrip("\n")))
    lines.put((name, None))


def run_tool(args, log_file):
    """Runs `tfbert_<x> ...` as `python -m tfbert.cli.<x> ...`; shows its printed output
    and tfbert's log messages as they come, and keeps everything in `log_file`."""
    module = "tfbert.cli." + args[0].removeprefix("tfbert_")
    env = dict(os.environ, PYTHONUNBUFFERED="1",
               TF_CPP_MIN_LOG_LEVEL=os.environ.get("TF_CPP_MIN_LOG_LEVEL", "2"))
    tfbert_files = _tfbert_files()
    lines = queue.Queue()
    with open(log_file, "w", encoding="utf-8") as log:
        process = subprocess.Popen([sys.executable, "-m", module, *args[1:]],
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                   errors="replace", env=env)
        for stream, name in ((process.stdout, "stdout"), (process.stderr, "stderr")):
            threading.Thread(target=_pump, args=(stream, name, lines), daemon=True).start()
        open_streams = 2
        while open_streams:
            name, line = lines.get()
            if line is None:
                open_streams -= 1
                continue
            log.write(line + "\n")
            match = _ABSL_LINE.match(line)
            if name == "stdout" and not match:
                print(f"    {line}", flush=True)
            elif match and match.group(2) in tfbert_files:
                level = "" if match.group(1) == "I" else f"{match.group(1)}: "
                print(f"    {level}{progress_line(match.group(3))}", flush=True)
        returncode = process.wait()
    if returncode:
        with open(log_file, encoding="utf-8") as f:
            tail = f.read().splitlines()[-25:]
        print("\n".join("    | " + line for line in tail), file=sys.stderr)
        raise DemoError(f"{args[0]} failed with exit status {returncode}; its whole output "
                        f"is in {log_file}")


@contextlib.contextmanager
def output_to(log_file):
    """Sends this process's stderr (TensorFlow's C++ and absl logs) to `log_file` for a
    while, so that the demo's own output stays readable."""
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(log_file, "a", encoding="utf-8") as log:
            os.dup2(log.fileno(), 2)
            try:
                yield
            finally:
                sys.stderr.flush()
                os.dup2(saved, 2)
    finally:
        os.close(saved)


def read_results(path):
    """`{key: float}` of an `eval_results.txt` (`key = value` lines)."""
    results = {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            key, _, value = line.partition(" = ")
            if value:
                results[key.strip()] = float(value)
    return results
