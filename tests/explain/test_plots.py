"""`tfbert.explain.plots`: real PNG files with what they should show."""

import numpy as np
import pytest

from tfbert.explain import attention_heatmap, attribution_strip

matplotlib_image = pytest.importorskip("matplotlib.image", reason="pip install tfbert[explain]")


def test_heatmap_and_strip_are_pngs_that_show_the_numbers(tmp_path):
    tokens = ["[CLS]", "a", "great", "film", "[SEP]"]
    probs = np.full((5, 5), 0.2)
    probs[:, 2] = 0.6
    probs[:, [0, 1]] = 0.0
    heat = matplotlib_image.imread(attention_heatmap(probs, tokens, tmp_path / "h.png", "L0"))
    strip = matplotlib_image.imread(
        attribution_strip(tokens, [0.0, 0.1, 0.9, -0.5, 0.0], tmp_path / "s.png"))
    for image in (heat, strip):
        assert image.ndim == 3 and image.shape[0] > 100 and image.shape[1] > 300
        assert image.std() > 0.05  # not blank
    # The strip colours "great" (pushes up) red and "film" (pushes down) blue.
    row = strip[strip.shape[0] // 2]
    reds = row[row[:, 0] > row[:, 2] + 0.3]
    blues = row[row[:, 2] > row[:, 0] + 0.2]
    assert len(reds) > 10 and len(blues) > 10
