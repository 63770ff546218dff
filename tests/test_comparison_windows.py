"""``s2f-train comparison``: the window embeddings of a clip are computed, cached and read back unchanged.

Regression: ``clip_windows`` imported a loader that had left ``training/features.py``, so every
comparison training run stopped with ImportError before embedding the first clip.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest


@pytest.mark.needs_data
def test_clip_windows_embeds_a_clip_and_reads_it_back_from_the_cache(shared_data: Path, tmp_path: Path) -> None:
    from s2f_desktop.training.comparison_data import clip_windows
    from s2f_desktop.training.data import LIBRI_TEST, librispeech_items

    items = librispeech_items(shared_data, LIBRI_TEST)[:1]
    first = clip_windows(items, tmp_path, channels=("clean", "telephone"))
    again = clip_windows(items, tmp_path, channels=("clean", "telephone"))
    for ch in ("clean", "telephone"):
        got = first[ch][0]
        assert got is not None
        windows, speech_s = got
        assert windows.ndim == 2 and windows.shape[1] == 256 and len(windows) >= 1
        assert np.all(np.isfinite(windows))
        assert speech_s > 1.0
        cached = again[ch][0]
        assert cached is not None
        assert np.array_equal(cached[0], windows) and cached[1] == speech_s
