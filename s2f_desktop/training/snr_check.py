"""Validation of the quality gate's SNR estimator on known mixtures (``s2f-train snr-check``).

Clean read speech (LibriSpeech train-clean utterances whose own estimate is at least
:data:`CLEAN_MIN_DB`, so their residual noise floor moves a 30 dB mixture by < 0.5 dB) is
mixed with synthetic noise at known active-speech SNRs. The reference SNR uses the same
definition as the gate: mean power of the clean speech over its silero speech frames divided
by the mean noise power, both above the gate's high-pass (``SNR_HIGHPASS_HZ``). The estimate is
the full analysis path: silero VAD on the *mixture*, then :func:`s2f_desktop.audio.quality.assess`.

Noise types: white; pink (1/f); brown (1/f^2); speech-shaped (white noise filtered to the
utterance's long-term spectrum); fluctuating pink (50 % amplitude modulation at 4 Hz, a
stand-in for non-stationary background). Babble of other talkers is not included: a speech
detector rightly calls it speech, and no single-channel SNR estimator separates two voices.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

import numpy as np

from s2f_desktop.training.data import LIBRI_TRAIN

TARGET_SNRS_DB = (30.0, 20.0, 10.0, 5.0, 0.0)
NOISE_TYPES = ("white", "pink", "brown", "speech-shaped", "fluctuating-pink")
CLEAN_MIN_DB = 40.0
N_UTTERANCES = 6
SEED = 13


def coloured_noise(kind: str, n: int, sr: int, rng: np.random.Generator, ref: np.ndarray) -> np.ndarray:
    """``n`` samples of one of :data:`NOISE_TYPES` (unscaled); ``speech-shaped`` follows the long-term
    spectrum of ``ref``. Shared with :mod:`s2f_desktop.training.degrade`, so the degradation study mixes
    the same noises this check validates the estimator on."""
    w = rng.standard_normal(n)
    if kind == "white":
        return w
    spec = np.fft.rfft(w)
    f = np.fft.rfftfreq(n, 1 / sr)
    f[0] = f[1]
    if kind in ("pink", "fluctuating-pink"):
        y = np.fft.irfft(spec / np.sqrt(f), n)
        if kind == "fluctuating-pink":
            y *= 1.0 + 0.5 * np.sin(2 * np.pi * 4.0 * np.arange(n) / sr)
        return y
    if kind == "brown":
        return np.fft.irfft(spec / f, n)
    if kind == "speech-shaped":
        ltas = np.abs(np.fft.rfft(ref, n))
        k = max(1, int(50 * n / sr))  # smooth over ~50 Hz
        ltas = np.convolve(ltas, np.ones(k) / k, mode="same")
        return np.fft.irfft(spec * ltas / np.sqrt(np.mean(ltas ** 2)), n)
    raise ValueError(kind)


def band_frame_power(x: np.ndarray, sr: int, regions: list[tuple[float, float]] | None) -> float:
    """Mean power of ``x``'s frames inside ``regions`` (all frames when None), framed and high-passed as
    the quality gate does: mixtures set with it hit the SNR the gate defines, which is what this check
    and the degradation study compare against. It uses the gate's own private framing on purpose, so
    the two cannot drift apart."""
    from s2f_desktop.audio.quality import FRAME_S, _frame_powers, _speech_band

    frame = int(round(FRAME_S * sr))
    p = _frame_powers(_speech_band(np.asarray(x, np.float32), sr), frame)
    if regions is None:
        return float(p.mean())
    c = (np.arange(p.size) + 0.5) * frame / sr
    m = np.zeros(p.size, bool)
    for a, b in regions:
        m |= (c >= a) & (c < b)
    return float(p[m].mean())


def run_check(data: Path, log: Callable[[str], None] = print) -> dict[str, Any]:
    """Estimated vs true SNR per noise type and level; returns a JSON-ready summary."""
    from s2f_desktop.audio.quality import assess
    from s2f_desktop.inference.features import decode_mono, speech_regions

    files = sorted((data / LIBRI_TRAIN).glob("*.flac"))
    rng = np.random.default_rng(SEED)
    chosen: list[tuple[str, np.ndarray, int, list[tuple[float, float]], float]] = []
    for f in files[::7]:
        x, sr = decode_mono(f)
        reg = speech_regions(x, sr)
        q = assess(x, sr, reg)
        if q.snr_db is not None and q.snr_db >= CLEAN_MIN_DB:
            chosen.append((f.stem, x, sr, reg, q.snr_db))
        if len(chosen) >= N_UTTERANCES:
            break
    rows: list[dict[str, Any]] = []
    for stem, x, sr, reg, clean_db in chosen:
        s_pow = band_frame_power(x, sr, reg)
        for kind in NOISE_TYPES:
            noise = coloured_noise(kind, x.size, sr, rng, x)
            n_pow = band_frame_power(noise, sr, None)
            for target in TARGET_SNRS_DB:
                g = np.sqrt(s_pow / (n_pow * 10 ** (target / 10)))
                mix = (x + g * noise).astype(np.float32)
                est = assess(mix, sr, speech_regions(mix, sr))
                rows.append({"clip": stem, "clean_db": round(clean_db, 1), "noise": kind, "target_db": target,
                             "estimate_db": None if est.snr_db is None else round(est.snr_db, 2),
                             "method": est.snr_method, "verdict": est.verdict})
        log(f"  snr-check: {stem} done")
    summary: dict[str, Any] = {}
    for kind in NOISE_TYPES:
        for target in TARGET_SNRS_DB:
            errs = [r["estimate_db"] - target for r in rows if r["noise"] == kind and r["target_db"] == target
                    and r["estimate_db"] is not None]
            summary[f"{kind}@{target:g}"] = {"mean_error_db": round(float(np.mean(errs)), 2),
                                             "max_abs_error_db": round(float(np.max(np.abs(errs))), 2), "n": len(errs)}
    within = [abs(r["estimate_db"] - r["target_db"]) <= 2.0 for r in rows if r["estimate_db"] is not None]
    return {"utterances": [c[0] for c in chosen], "rows": rows, "summary": summary,
            "within_2db": f"{sum(within)}/{len(within)}"}
