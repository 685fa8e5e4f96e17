"""Distillation must-show (issue #23): a 3-layer student of a fine-tuned all-MiniLM-L6-v2.

One run does all of it, in order, each step resumable (a finished step is skipped):

1. the teacher: all-MiniLM-L6-v2 fine-tuned on the task (`minilm_<task>`: SST-2 one
   epoch; MRPC `minilm_mrpc`), evaluated on the whole dev set (or `--teacher_dir`);
2. the student: 3 layers taken from teacher layers 0, 2, 4 (embeddings, pooler
   and head too), distilled (`alpha`, `temperature`) for `--student_epochs`;
3. the baseline: the same student init, the same steps, hard labels only (`alpha=0`);
4. the exports of teacher and student: raw text in, texts/s at batch 32 on the dev
   sentences, measured alternately in fresh processes (`bench_serving`'s worker).

Writes `benchmarks/out/distill_<task>/report.json` and the table; a full run puts
it into benchmarks/results/latest.json and RESULTS.md, a `--quick` run (a few steps on a few hundred
sentences: a smoke test of the chain, whose figures mean nothing) does not.

    python -m benchmarks.distill_sst2                  # the full run (hours on 2 cores)
    python -m benchmarks.distill_sst2 --task=mrpc      # the second task of the issue
    python -m benchmarks.distill_sst2 --quick
"""

import argparse
import datetime
import os
import sys

from benchmarks import common

TASKS = {"sst2": ("SST-2", "accuracy"), "mrpc": ("MRPC", "f1")}
# The dev file's text columns that the exports are fed (MRPC: a pair signature).
TEXT_COLUMNS = {"sst2": "0", "mrpc": "3,4"}


def _head(path, lines, out):
    with open(path, encoding="utf-8") as f, open(out, "w", encoding="utf-8") as g:
        g.writelines(f.readlines()[:lines])
    return out


def _data(task, work, quick):
    """Train and dev files (the first few hundred lines with --quick)."""
    source = common.DATA / "glue" / TASKS[task][0]
    train, dev = str(source / "train.tsv"), str(source / "dev.tsv")
    if quick:
        train = _head(train, 401, os.path.join(work, "train.tsv"))
        dev = _head(dev, 129, os.path.join(work, "dev.tsv"))
    return train, dev


def _override(train, dev, quick):
    override = (f"task.train_data.input_path={train},task.validation_data.input_path={dev}")
    if quick:
        override += (",task.num_train_epochs=null,trainer.train_steps=6,"
                     "trainer.steps_per_loop=3,trainer.checkpoint_interval=6")
    return override


def teacher(task, work, train, dev, quick):
    """The fine-tuned teacher's model directory (trained here unless it has results)."""
    from tfbert.tasks import load_config
    from tfbert.training import run_experiment

    model_dir = os.path.join(work, "teacher")
    if not os.path.isfile(os.path.join(model_dir, "eval_results.txt")):
        config = load_config(config_files=[f"minilm_{task}"],
                             params_override=_override(train, dev, quick))
        run_experiment(config, model_dir, "train_and_eval")
    return model_dir


def student(teacher_dir, out, alpha, args, train, dev):
    """Distills (alpha > 0) or trains on hard labels only (alpha 0) the 3-layer student."""
    from tfbert.distillation import DistillationConfig, distill

    if os.path.isfile(os.path.join(out, "eval_results.txt")):
        return
    override = _override(train, dev, args.quick)
    if not args.quick:
        override += f",task.num_train_epochs={args.student_epochs}"
    distill(DistillationConfig(teacher_dir, student_layers=3, init_from_teacher_layers=[0, 2, 4],
                               alpha=alpha, temperature=args.temperature), out,
            params_override=override)


def eval_results(model_dir):
    values = {}
    with open(os.path.join(model_dir, "eval_results.txt"), encoding="utf-8") as f:
        for line in f:
            key, _, value = line.partition(" = ")
            values[key.strip()] = float(value)
    return values


def export(model_dir, directory):
    """The SavedModel of a model directory (teacher or student), as tfbert_export makes it."""
    from tfbert.distillation import load_teacher

    if os.path.isdir(os.path.join(directory, "1")):
        return os.path.join(directory, "1")
    loaded = load_teacher(model_dir)  # any model directory: params.yaml + checkpoint
    return loaded.task.export(loaded.build_model(), directory, version=1)[0]


def throughput(exports, repeats, texts, dev, columns):
    """texts/s at batch 32 of each export, runs alternating in fresh processes."""
    runs = {name: [] for name in exports}
    for _ in range(repeats):
        for name, path in exports.items():
            result = common.run_worker("benchmarks.bench_serving", [
                "--worker=tfbert_export", f"--export_path={path}", "--latency_texts=20",
                f"--texts_tsv={dev}", f"--text_columns={columns}",
                *([f"--texts={texts}"] if texts else [])])
            if "error" in result:
                raise RuntimeError(result["error"])
            runs[name].append(result["texts_per_s_batch32"])
    return {name: common.median_or_none(values) for name, values in runs.items()}


def rows(task, report):
    """The table: teacher, distilled student and baseline, with export speed."""
    rate = report["texts_per_s"]
    out = []
    for key, title, layers in (("teacher", "teacher: all-MiniLM-L6-v2 fine-tuned", 6),
                               ("student", f"student, distilled (alpha {report['alpha']}, "
                                           f"T {report['temperature']})", 3),
                               ("baseline", "baseline: same init, hard labels only", 3)):
        speed = rate.get(key)
        out.append([title, str(layers), f"{100 * report['dev'][key][TASKS[task][1]]:.2f}",
                    f"{speed:.1f}" if speed else "(the student's graph)",
                    f"{speed / rate['teacher']:.2f}x" if speed else ""])
    return out


def results_entry(task, report, command):
    """The entry of `benchmarks/results/latest.json` (RESULTS.md is rendered from it)."""
    return {"name": f"distill_{task}",
            "title": f"Distillation into a 3-layer student, {TASKS[task][0]} (issue #23)",
            "date": report["date"], "command": command,
            "machine": common.machine_line() + ", float32; tensorflow "
                       f"{report['versions'].get('tensorflow')}",
            "source": f"benchmarks/out/distill_{task}/report.json (not committed)",
            "header": ["model", "layers", f"dev {TASKS[task][1]}",
                       "export texts/s (batch 32)", "vs teacher"],
            "rows": rows(task, report),
            "notes": [f"Student: layers 0, 2, 4 of the teacher, {report['student_steps']} "
                      f"steps ({report.get('student_epochs', '?')} epochs); the baseline the "
                      "same steps from the same init. Throughput: median of "
                      f"{report.get('repeats', '?')} alternating runs per export."]}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--task", choices=sorted(TASKS), default="sst2")
    parser.add_argument("--quick", action="store_true", help="a smoke test: minutes")
    parser.add_argument("--work_dir", default=None, help="default: benchmarks/out/distill_<task>")
    parser.add_argument("--teacher_dir", default=None, help="an already fine-tuned teacher")
    parser.add_argument("--alpha", type=float, default=0.5)
    parser.add_argument("--temperature", type=float, default=2.0)
    parser.add_argument("--student_epochs", type=float, default=3.0)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    suffix = "_quick" if args.quick else ""
    work = args.work_dir or str(common.OUT_DIR / f"distill_{args.task}{suffix}")
    os.makedirs(work, exist_ok=True)
    train, dev = _data(args.task, work, args.quick)
    teacher_dir = args.teacher_dir or teacher(args.task, work, train, dev, args.quick)
    dirs = {"teacher": teacher_dir, "student": os.path.join(work, "student"),
            "baseline": os.path.join(work, "baseline")}
    student(teacher_dir, dirs["student"], args.alpha, args, train, dev)
    student(teacher_dir, dirs["baseline"], 0.0, args, train, dev)
    exports = {name: export(dirs[name], os.path.join(work, f"export_{name}"))
               for name in ("teacher", "student")}
    report = {"date": datetime.date.today().isoformat(), "task": args.task,
              "alpha": args.alpha, "temperature": args.temperature, "quick": args.quick,
              "dev": {name: eval_results(path) for name, path in dirs.items()},
              "student_steps": int(eval_results(dirs["student"])["global_step"]),
              "student_epochs": args.student_epochs, "repeats": args.repeats,
              "texts_per_s": throughput(exports, 1 if args.quick else args.repeats,
                                        64 if args.quick else None, dev,
                                        TEXT_COLUMNS[args.task]),
              "versions": common.versions()}
    common.write_report(os.path.join(work, "report.json"), report)
    entry = results_entry(args.task, report, " ".join(
        ["python -m benchmarks.distill_sst2", f"--task={args.task}",
         *(a for a in sys.argv[1:] if not a.startswith("--task"))]))
    print("\n".join(" | ".join(row) for row in [entry["header"], *entry["rows"]]))
    if not args.quick:
        from benchmarks import summarize

        summarize.update_latest(summarize.LATEST, [entry])
        print(f"wrote {summarize.write_results()}")


if __name__ == "__main__":
    main()
