"""PNG bar charts of tfbert's speed divided by each peer's, one per benchmark.

Reads the summary that `run_all.py` writes (`benchmarks/out/summary.json`): for each
benchmark a list of `ratios`, `{"group": ..., "peer": ..., "ratio": ...}`, where the
ratio is tfbert's speed over the peer's (above 1: tfbert is faster). Draws
`<benchmark>.png` per benchmark and `overview.png` (all of them) into the charts folder.

    python -m benchmarks.charts [--summary=benchmarks/out/summary.json] \\
        [--out_dir=benchmarks/out/charts]
"""

import argparse
import json
import math
import pathlib

import matplotlib

matplotlib.use("Agg")  # files only, no display

import matplotlib.pyplot as plt
from matplotlib import ticker

OUT = pathlib.Path(__file__).resolve().parent / "out"
COLORS = ("#4C72B0", "#DD8452", "#55A868", "#C44E52", "#8172B3", "#937860", "#DA8BC3",
          "#8C8C8C")


def _layout(ratios):
    """Groups in first-seen order, peers in first-seen order, and {(group, peer): ratio}."""
    groups, peers, values = [], [], {}
    for item in ratios:
        if item.get("ratio") is None:
            continue
        if item["group"] not in groups:
            groups.append(item["group"])
        if item["peer"] not in peers:
            peers.append(item["peer"])
        values[(item["group"], item["peer"])] = item["ratio"]
    return groups, peers, values


def draw(axes, benchmark):
    """Grouped bars of one benchmark's ratios on `axes`; False when it has none."""
    groups, peers, values = _layout(benchmark.get("ratios", []))
    if not values:
        return False
    width = 0.8 / len(peers)
    for p, peer in enumerate(peers):
        xs = [g + (p - (len(peers) - 1) / 2) * width for g, group in enumerate(groups)
              if (group, peer) in values]
        ys = [values[(group, peer)] for group in groups if (group, peer) in values]
        bars = axes.bar(xs, ys, width * 0.95, label=peer, color=COLORS[p % len(COLORS)])
        for bar, y in zip(bars, ys, strict=True):
            axes.annotate(f"{y:.2f}×", (bar.get_x() + bar.get_width() / 2, y),
                          ha="center", va="bottom", fontsize=7, xytext=(0, 1),
                          textcoords="offset points")
    axes.axhline(1.0, color="black", linewidth=0.8)
    spread = max(values.values()) / max(min(values.values()), 1e-9)
    if spread > 8:
        axes.set_yscale("log")
        axes.yaxis.set_major_formatter(ticker.FuncFormatter(lambda v, _: f"{v:g}"))
    else:
        axes.set_ylim(0, max(1.2, max(values.values()) * 1.15))
    axes.set_xticks(range(len(groups)))
    axes.set_xticklabels(groups, rotation=20 if len(groups) > 3 else 0, ha="right"
                         if len(groups) > 3 else "center", fontsize=8)
    axes.set_ylabel("tfbert ÷ peer (speed)")
    axes.set_title(benchmark["title"], fontsize=10)
    axes.legend(fontsize=7, title="peer", title_fontsize=7, framealpha=0.6)
    return True


def draw_all(summary, out_dir):
    """Writes one PNG per benchmark with ratios, and `overview.png`; returns the paths."""
    out_dir = pathlib.Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    drawable = [b for b in summary["benchmarks"] if _layout(b.get("ratios", []))[2]]
    for benchmark in drawable:
        figure, axes = plt.subplots(figsize=(max(5.0, 1.6 * len(_layout(
            benchmark["ratios"])[0]) + 2), 3.6))
        draw(axes, benchmark)
        figure.tight_layout()
        path = out_dir / f"{benchmark['name']}.png"
        figure.savefig(path, dpi=120)
        plt.close(figure)
        written.append(path)
    if drawable:
        columns = 2
        rows = math.ceil(len(drawable) / columns)
        figure, grid = plt.subplots(rows, columns, figsize=(13, 3.8 * rows), squeeze=False)
        for index, benchmark in enumerate(drawable):
            draw(grid[index // columns][index % columns], benchmark)
        for index in range(len(drawable), rows * columns):
            grid[index // columns][index % columns].axis("off")
        figure.suptitle(f"tfbert speed ÷ peer speed (above 1: tfbert faster) — "
                        f"{summary.get('mode', '')} run {summary.get('date', '')}", fontsize=11)
        figure.tight_layout()
        path = out_dir / "overview.png"
        figure.savefig(path, dpi=110)
        plt.close(figure)
        written.append(path)
    return written


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--summary", default=str(OUT / "summary.json"))
    parser.add_argument("--out_dir", default=str(OUT / "charts"))
    args = parser.parse_args()
    summary = json.loads(pathlib.Path(args.summary).read_text())
    for path in draw_all(summary, args.out_dir):
        print(f"wrote {path}")


if __name__ == "__main__":
    main()
