"""Degraded copies of the training clips, for measuring where the trait heads stop holding (issue 13).

The quality gate's SNR minimum and its net-speech minimum were project choices. To give them a
measured source, every clip is also run, for evaluation only (never training or calibration),
through two kinds of degradation before the analysis path:

* ``noise-<kind>-<snr>db``: synthetic noise (``pink``: stationary 1/f, at 20, 15, 10, 5 and 0 dB;
  ``speech-shaped``: white noise filtered to the clip's own long-term spectrum, which masks the same
  frequencies as the voice, at 5 dB) added at ``snr`` dB below the clip's speech power over its
  silero speech frames (the gate's own definition, :mod:`s2f_desktop.training.snr_check`). The clips
  carry their own noise too, so the trainer bins the results by the gate's *estimate* on the mixture,
  which is what the gate compares.
* ``speech-<n>s``: the clip cut where its detected speech first adds up to ``n`` seconds, as an
  analyst's shorter selection would be; binned by the net speech the gate then measures.
* ``clip-<p>pct``: the clip amplified until ``p`` % of its samples exceed full scale and hard-clipped
  there, as a recorder with its input gain set too high would store it (0.5, 2 and 5 %, around the
  gate's 1 % clipping maximum); binned by the share of clipped samples the gate then measures.

Noise is seeded per clip and variant, so a rerun gives the same mixtures. Training-time only.

Speech detection runs again on the clean clip here (about 0.2 s a copy), although the clean variant's
cache holds its regions: a copy is then a function of its clip alone, and can be made (and tested)
without a filled cache or the cache's bookkeeping.
"""

from __future__ import annotations

import hashlib

import numpy as np

NOISE_KINDS = ("pink", "speech-shaped")
NOISE_SNRS_DB = (20, 15, 10, 5, 0)
SPEECH_CUTS_S = (2, 3, 4)
CLIP_PERCENTS = ("0.5", "2", "5")
#: Evaluation-only variants (see the module docstring); computed by ``s2f-train traits`` without ``--limit``.
#: Pink noise at five levels; speech-shaped noise (slower to mix, the harder masker) at 5 dB.
DEGRADATION_VARIANTS: tuple[str, ...] = (
    *(f"noise-pink-{d}db" for d in NOISE_SNRS_DB), "noise-speech-shaped-5db",
    *(f"speech-{n}s" for n in SPEECH_CUTS_S), *(f"clip-{p}pct" for p in CLIP_PERCENTS),
)


def clip_seed(name: str, variant: str) -> int:
    """A seed fixed by a clip's file name and a variant, so a rerun draws the same noise or losses."""
    return int.from_bytes(hashlib.sha1(f"{name}|{variant}".encode()).digest()[:8], "little")


def add_noise(x: np.ndarray, sr: int, kind: str, snr_db: float, seed: int) -> np.ndarray:
    """``x`` plus ``kind`` noise at ``snr_db`` below its speech power (silero speech frames, gate band)."""
    from s2f_desktop.inference.features import speech_regions
    from s2f_desktop.training.snr_check import band_frame_power, coloured_noise

    regions = speech_regions(x, sr)
    if not regions:  # nothing to set a level against: the clip stays as it is (the gate stops it anyway)
        return x
    rng = np.random.default_rng(seed)
    noise = coloured_noise(kind, x.size, sr, rng, x)
    gain = np.sqrt(band_frame_power(x, sr, regions) / (band_frame_power(noise, sr, None) * 10 ** (snr_db / 10)))
    y: np.ndarray = (x + gain * noise).astype(np.float32)
    peak = float(np.max(np.abs(y)))
    if peak > 0.99:  # the level a recorder's gain would set: noise must not add clipping, a separate check
        y *= np.float32(0.99 / peak)
    return y


def cut_to_speech(x: np.ndarray, sr: int, seconds: float) -> np.ndarray:
    """``x`` cut where its detected speech first adds up to ``seconds`` (whole clip when it has less)."""
    from s2f_desktop.inference.features import speech_regions

    total = 0.0
    for a, b in speech_regions(x, sr):
        if total + (b - a) >= seconds:
            return x[: int(round((a + seconds - total) * sr))]
        total += b - a
    return x


def hard_clip(x: np.ndarray, percent: float) -> np.ndarray:
    """``x`` amplified so that ``percent`` % of its samples reach full scale, then clipped at +-1.0."""
    a = np.abs(np.asarray(x, dtype=np.float64))
    if not a.size or float(a.max()) <= 0.0:
        return np.asarray(x, dtype=np.float32)
    knee = float(np.quantile(a, 1.0 - percent / 100.0))  # this sample level is raised to full scale
    gain = 1.0 / max(knee, 1e-9)
    return np.clip(np.asarray(x, dtype=np.float64) * gain, -1.0, 1.0).astype(np.float32)


def degrade(x: np.ndarray, sr: int, variant: str, name: str) -> np.ndarray:
    """One of :data:`DEGRADATION_VARIANTS` applied to a decoded clip (``name`` seeds the noise)."""
    if variant.startswith("noise-"):
        kind, level = variant.removeprefix("noise-").rsplit("-", 1)
        return add_noise(x, sr, kind, float(level.removesuffix("db")), clip_seed(name, variant))
    if variant.startswith("speech-"):
        return cut_to_speech(x, sr, float(variant.removeprefix("speech-").removesuffix("s")))
    if variant.startswith("clip-"):
        return hard_clip(x, float(variant.removeprefix("clip-").removesuffix("pct")))
    raise ValueError(f"unknown degradation {variant!r}")
