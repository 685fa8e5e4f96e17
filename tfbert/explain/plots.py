"""PNG pictures of an explanation: an attention heat map and a token-attribution strip.

matplotlib is an optional dependency (`pip install tfbert[explain]`); it is imported
when a picture is drawn, with the Agg backend (files only, no display needed).
"""

import numpy as np


def _pyplot():
    try:
        import matplotlib
    except ImportError:
        raise ImportError("the pictures need matplotlib: pip install 'tfbert[explain]'") from None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def attention_heatmap(probs, tokens: list, path: str, title: str = "") -> str:
    """Writes a heat map of one head's attention `[seq, seq]` (rows: the attending
    word piece, columns: the attended one) to the PNG `path`; returns `path`.

    Example:

    >>> import tempfile, os
    >>> path = os.path.join(tempfile.mkdtemp(), "attention.png")
    >>> attention_heatmap(np.eye(3), ["[CLS]", "hi", "[SEP]"], path) == path
    True
    """
    plt = _pyplot()
    probs = np.asarray(probs)
    size = max(4.0, 0.3 * len(tokens) + 2.0)
    figure, axes = plt.subplots(figsize=(size + 1.0, size))
    image = axes.imshow(probs, cmap="viridis", vmin=0.0, vmax=max(float(probs.max()), 1e-9))
    axes.set_xticks(range(len(tokens)), tokens, rotation=90, fontsize=8)
    axes.set_yticks(range(len(tokens)), tokens, fontsize=8)
    axes.set_xlabel("attended (key)")
    axes.set_ylabel("attending (query)")
    axes.set_title(title)
    figure.colorbar(image, ax=axes, fraction=0.046, pad=0.04)
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)
    return path


def attribution_strip(tokens: list, values, path: str, title: str = "") -> str:
    """Writes the tokens as one row of cells coloured by their attribution (red:
    pushes the logit up, blue: down; the scale is symmetric about 0) to the PNG
    `path`; returns `path`.

    Example:

    >>> import tempfile, os
    >>> path = os.path.join(tempfile.mkdtemp(), "strip.png")
    >>> attribution_strip(["good", "film"], [0.5, -0.1], path) == path
    True
    """
    plt = _pyplot()
    values = np.asarray(values, dtype=float)
    limit = max(float(np.abs(values).max()), 1e-9)
    figure, axes = plt.subplots(figsize=(max(4.0, 0.9 * len(tokens) + 1.0), 1.8))
    image = axes.imshow(values[None], cmap="coolwarm", vmin=-limit, vmax=limit,
                        aspect="auto")
    for column, (token, value) in enumerate(zip(tokens, values, strict=True)):
        axes.text(column, 0, f"{token}\n{value:+.2g}", ha="center", va="center", fontsize=8)
    axes.set_xticks([])
    axes.set_yticks([])
    axes.set_title(title)
    figure.colorbar(image, ax=axes, orientation="vertical", fraction=0.03, pad=0.02)
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)
    return path
