"""Compute (once) and cache the voice features of every training clip.

Features are computed by the very function ``s2f analyze`` uses
(:func:`s2f_desktop.inference.features.part_features`: PyAV/libsndfile decoding, silero VAD,
the quality gate, torchaudio resampling, trimming, GE2E and Praat with the same settings),
for the clean clip and for its simulated telephone-band version (the channel is applied to
the decoded audio, before the analysis path, as a real call would be). They are cached as
one small ``.npz`` per clip and variant under a cache folder outside the repository
(default ``/tmp/s2f-train-cache``), keyed by a feature-code version, so a re-run after an
interruption continues where it stopped and a change of the feature code starts afresh.
"""

from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np

from s2f_desktop.training.data import Item

#: Bump when the feature code changes (invalidates caches).
FEATURE_VERSION = "f2-analyze-path"
VARIANTS = ("clean", "telephone")
#: Channels the heads are only evaluated on, never trained on (a real codec; see training/codecs.py).
EVAL_VARIANTS = ("amr-nb-12200", "amr-nb-4750")


def clip_features(path: Path, variant: str, encoder: Any) -> Any:
    """The analysis path's :class:`PartFeatures` of one training clip and channel variant."""
    from s2f_desktop.inference.features import decode_mono, part_features
    from s2f_desktop.voice.channel import telephone_band

    x, sr = decode_mono(path)
    if variant == "telephone":
        x = telephone_band(x, sr)
    elif variant.startswith("amr-nb-"):  # evaluation only: a coded mobile call at 8 kHz (training/codecs.py)
        from s2f_desktop.training.codecs import amr_nb

        x, sr = amr_nb(x, sr, int(variant.removeprefix("amr-nb-")))
    return part_features(x, sr, encoder)


def load_cached(item: Item, variant: str, cache_dir: Path) -> dict[str, Any] | None:
    """The cached record of one clip (embedding, acoustics, ok, quality, regions, speech16), or None."""
    f = cache_dir / _key(item, variant)
    if not f.is_file():
        return None
    with np.load(f, allow_pickle=False) as z:
        return {"embedding": z["embedding"], "acoustics": json.loads(str(z["acoustics"])), "ok": bool(z["ok"]),
                "quality": json.loads(str(z["quality"])), "regions": z["regions"],
                "speech16": z["speech16"].astype(np.float32) / 32767.0}


def _key(item: Item, variant: str) -> str:
    # Resolved, so ../shared/data and /work/shared/data share one cache entry.
    h = hashlib.sha1(f"{FEATURE_VERSION}|{item.path.resolve()}|{variant}".encode()).hexdigest()[:16]
    return f"{variant}/{h}.npz"


def compute_features(items: list[Item], cache_dir: Path, variants: tuple[str, ...] = VARIANTS,
                     device: str = "cpu", log: Callable[[str], None] = print) -> dict[str, dict[str, np.ndarray]]:
    """{variant: {"x": (n, d) head inputs, "ok": (n,) bool}} in ``items`` order; cached per clip."""
    from s2f_desktop.inference.embedding import get_encoder
    from s2f_desktop.inference.traits import VoiceFeatures
    from s2f_desktop.voice.acoustics import AcousticMeasures

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
                pf = clip_features(it.path, variant, encoder)
                if pf.features is not None:
                    emb, ac, good = pf.features.embedding, pf.features.acoustics.values, True
                else:  # a clip too short/silent for features: keep a row, mark it
                    log(f"  {it.id} ({variant}): no features ({pf.quality.net_speech_s:.1f} s of speech)")
                    emb, ac, good = np.zeros(256, np.float32), {}, False
                f.parent.mkdir(parents=True, exist_ok=True)
                pcm = np.clip(np.round(pf.speech16 * 32767.0), -32768, 32767).astype(np.int16)
                np.savez(f, embedding=emb, acoustics=np.array(json.dumps(ac)), ok=np.array(good),
                         quality=np.array(json.dumps(pf.quality.to_dict())),
                         regions=np.asarray(pf.regions, dtype=np.float64).reshape(-1, 2), speech16=pcm)
                done += 1
                if done % 100 == 0:
                    log(f"  features: {done} computed ({variant} {i + 1}/{len(items)}, "
                        f"{time.perf_counter() - t0:.0f} s)")
            rows.append(VoiceFeatures(np.asarray(emb), AcousticMeasures(ac)).vector())
            ok.append(good)
        out[variant] = {"x": np.stack(rows), "ok": np.array(ok)}
    return out
