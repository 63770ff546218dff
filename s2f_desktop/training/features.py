"""Compute (once) and cache the voice features of every training clip.

Features are exactly what inference computes (:func:`s2f_desktop.inference.traits.extract_features`),
for the clean clip and for its simulated telephone-band version. They are cached as
one small ``.npz`` per clip and variant under a cache folder outside the repository
(default ``/tmp/s2f-train-cache``), keyed by a feature-code version, so a re-run after an
interruption continues where it stopped and a change of the feature code starts afresh.
"""

from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path
from typing import Callable

import numpy as np
import soundfile as sf

from s2f_desktop.training.data import Item

#: Bump when the feature code changes (invalidates caches).
FEATURE_VERSION = "f1-ge2e-praat2pass"
VARIANTS = ("clean", "telephone")


def _load_16k(path: Path) -> np.ndarray:
    x, sr = sf.read(str(path), dtype="float32", always_2d=True)
    x = x.mean(axis=1)
    if sr != 16000:
        from scipy.signal import resample_poly

        x = resample_poly(x, 16000, sr).astype(np.float32)
    return x


def _key(item: Item, variant: str) -> str:
    # Resolved, so ../shared/data and /work/shared/data share one cache entry.
    h = hashlib.sha1(f"{FEATURE_VERSION}|{item.path.resolve()}|{variant}".encode()).hexdigest()[:16]
    return f"{variant}/{h}.npz"


def compute_features(items: list[Item], cache_dir: Path, variants: tuple[str, ...] = VARIANTS,
                     device: str = "cpu", log: Callable[[str], None] = print) -> dict[str, dict[str, np.ndarray]]:
    """{variant: {"x": (n, d) head inputs, "ok": (n,) bool}} in ``items`` order; cached per clip."""
    from s2f_desktop.inference.embedding import get_encoder
    from s2f_desktop.inference.traits import VoiceFeatures, extract_features
    from s2f_desktop.voice.acoustics import AcousticMeasures
    from s2f_desktop.voice.channel import telephone_band

    encoder = get_encoder(device)
    out: dict[str, dict[str, np.ndarray]] = {}
    t0 = time.perf_counter()
    done = 0
    for variant in variants:
        rows, ok = [], []
        for i, it in enumerate(items):
            f = cache_dir / _key(it, variant)
            if f.is_file():
                with np.load(f, allow_pickle=False) as z:
                    emb, ac = z["embedding"], json.loads(str(z["acoustics"]))
                    good = bool(z["ok"])
            else:
                x = _load_16k(it.path)
                if variant == "telephone":
                    x = telephone_band(x)
                try:
                    vf = extract_features(x, encoder, band_limited=variant == "telephone")
                    emb, ac, good = vf.embedding, vf.acoustics.values, True
                except Exception as exc:  # a clip too short/silent for features: keep a row, mark it
                    log(f"  {it.id} ({variant}): no features: {exc}")
                    emb, ac, good = np.zeros(256, np.float32), {}, False
                f.parent.mkdir(parents=True, exist_ok=True)
                np.savez(f, embedding=emb, acoustics=np.array(json.dumps(ac)), ok=np.array(good))
                done += 1
                if done % 100 == 0:
                    log(f"  features: {done} computed ({variant} {i + 1}/{len(items)}, {time.perf_counter() - t0:.0f} s)")
            rows.append(VoiceFeatures(np.asarray(emb), AcousticMeasures(ac)).vector())
            ok.append(good)
        out[variant] = {"x": np.stack(rows), "ok": np.array(ok)}
    return out
