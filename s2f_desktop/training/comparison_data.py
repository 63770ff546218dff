"""Window embeddings of every training clip for the comparison model (computed once, cached).

One ``.npz`` per clip and channel (clean, telephone band) under a cache folder outside the
repository, holding the clip's GE2E window embeddings and net speech exactly as
:func:`s2f_desktop.inference.comparison.window_embeddings` computes them for a case.
"""

from __future__ import annotations

import hashlib
import time
from pathlib import Path
from typing import Callable

import numpy as np

from s2f_desktop.training.data import Item

#: Bump when the embedding code changes (invalidates caches).
WINDOW_VERSION = "w1-ge2e-windows"
CHANNELS = ("clean", "telephone")


def _key(item: Item, channel: str) -> str:
    h = hashlib.sha1(f"{WINDOW_VERSION}|{item.path.resolve()}|{channel}".encode()).hexdigest()[:16]
    return f"{channel}/{h}.npz"


def clip_windows(items: list[Item], cache_dir: Path, channels: tuple[str, ...] = CHANNELS, device: str = "cpu",
                 log: Callable[[str], None] = print) -> dict[str, list[tuple[np.ndarray, float] | None]]:
    """{channel: [(windows (n, 256), speech_s) or None when too little speech]} in ``items`` order."""
    # _load_16k: the scipy loader comparison-v1 was trained with (it left training/features.py when the
    # trait features moved to the analysis path); keeps the committed embeddings reproducible.
    from s2f_desktop.core.errors import InputError
    from s2f_desktop.inference.comparison import window_embeddings
    from s2f_desktop.inference.embedding import get_encoder
    from s2f_desktop.training.consistency_train import _load_16k
    from s2f_desktop.voice.channel import telephone_band

    enc = None
    out: dict[str, list[tuple[np.ndarray, float] | None]] = {}
    t0 = time.perf_counter()
    for ch in channels:
        rows: list[tuple[np.ndarray, float] | None] = []
        for i, it in enumerate(items):
            f = cache_dir / _key(it, ch)
            if not f.is_file():
                enc = enc or get_encoder(device)
                x = _load_16k(it.path)
                if ch == "telephone":
                    x = telephone_band(x)
                try:
                    w, s = window_embeddings(enc, x)
                except InputError:
                    w, s = np.zeros((0, 256), np.float32), 0.0
                f.parent.mkdir(parents=True, exist_ok=True)
                tmp = f.with_suffix(".tmp.npz")
                np.savez(tmp, windows=w.astype(np.float16), speech_s=np.float64(s))
                tmp.replace(f)
                if (i + 1) % 50 == 0:
                    log(f"windows {ch}: {i + 1}/{len(items)} ({time.perf_counter() - t0:.0f} s)")
            z = np.load(f)
            w = z["windows"].astype(np.float32)
            rows.append((w, float(z["speech_s"])) if len(w) else None)
        out[ch] = rows
    return out
