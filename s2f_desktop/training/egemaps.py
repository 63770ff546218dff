"""eGeMAPS-style acoustic parameters computed with Praat (praat-parselmouth) and numpy/librosa.

The Geneva Minimalistic Acoustic Parameter Set (eGeMAPS; F. Eyben, K. R. Scherer, B. W. Schuller,
J. Sundberg, E. Andre, C. Busso, L. Y. Devillers, J. Epps, P. Laukka, S. S. Narayanan, K. P. Truong,
"The Geneva Minimalistic Acoustic Parameter Set (GeMAPS) for Voice Research and Affective
Computing", IEEE Transactions on Affective Computing 7(2):190-202, 2016) is the paralinguistics
community's standard feature set: 25 low-level descriptors (LLDs) summarised by 88 functionals.
Its reference implementation is openSMILE (config ``eGeMAPSv02``), whose licence allows research
use only, so it cannot ship in this application. This module re-implements the same 88
functionals, under openSMILE's names, from Praat analyses and plain numpy signal processing.
The values are *not* numerically identical to openSMILE's; they measure the same quantities.

Frame grid: 10 ms hop. Pitch, voicing, formants and the harmonic measures come from Praat
(60 ms-class windows); the spectral and energy LLDs from 25 ms Hamming frames centred on the
same times. ``_sma3`` LLDs are smoothed with a 3-frame moving average, as in openSMILE;
``_sma3nz`` functionals use voiced frames only (F0 > 0). ``stddevNorm`` is the coefficient of
variation (standard deviation / mean), ``pctlrange0-2`` the 20-80 percentile range.

LLDs and how each differs from openSMILE's definition (Eyben et al. 2016, section 3):

* **F0 (semitones from 27.5 Hz)**: Praat's autocorrelation pitch (Boersma 1993) in two passes
  (60-700 Hz, then 0.75 x Q1 .. 1.5 x Q3 of the first pass, De Looze & Hirst 2008; as in
  :mod:`s2f_desktop.voice.acoustics`) instead of openSMILE's subharmonic summation with Viterbi
  smoothing. Rising/falling slopes: slopes (semitones/s) from each local minimum to the next
  local maximum (rising) or maximum to minimum (falling) of the smoothed contour inside each voiced
  segment; openSMILE's peak picking differs in detail.
* **Jitter (local)** and **shimmer (local, dB)**: per 10 ms frame from the periods of Praat's
  periodic pulses (``To PointProcess (periodic, cc)``) whose end falls within +-30 ms of the frame
  centre; Praat's period limits (0.1-20 ms, period factor 1.3, amplitude factor 1.6). The period
  amplitude is the waveform's peak-to-peak value between successive pulses. openSMILE measures
  per 60 ms frame from its own period detection.
* **HNR (dB)**: from the normalised autocorrelation strength r of Praat's pitch frame,
  HNR = 10 log10(r / (1 - r)) (Boersma 1993), the ACF-based measure openSMILE's ``HNRdBACF`` also is.
* **H1-H2, H1-A3** and **F1-F3 amplitude relative to H1**: harmonic peak levels (dB) read from a
  40 ms Hann-windowed spectrum (2048-point FFT) of each voiced frame: H1/H2 the largest level within
  +-10 % of F0/2F0, A3 and Ai the harmonic peak in +-F0/2 around F3 / Fi. No formant correction
  (openSMILE's eGeMAPS values are uncorrected too).
* **F1-F3 frequency and bandwidth**: Praat's Burg formant tracker (5 formants up to 5000 Hz for a
  low voice, median F0 < 165 Hz, 5500 Hz otherwise; Praat manual), voiced frames only; openSMILE
  uses LPC root solving. With ``band_limited=True`` (telephone band, nothing above ~3.4 kHz) the
  tracker looks for 4 formants up to 4000 Hz instead, so it does not place formants in the empty band.
* **Loudness**: sum over 26 mel bands (20-8000 Hz) of the band power weighted by the PLP
  equal-loudness curve (Hermansky 1990) raised to 0.33 (Stevens' power law), instead of
  openSMILE's Bark-band auditory spectrum; an approximation of the same perceptual loudness.
* **Alpha ratio** (dB, energy 50-1000 Hz over 1-5 kHz), **Hammarberg index** (dB, strongest peak
  0-2 kHz over strongest peak 2-5 kHz), **spectral slopes 0-500 Hz and 500-1500 Hz** (dB/Hz
  linear-regression slope of the dB power spectrum): as defined, from the 25 ms power spectrum.
  openSMILE computes the slopes on its own spectral scale, so units differ by a constant factor.
* **Spectral flux**: squared Euclidean distance between successive frames' magnitude spectra,
  each normalised to unit sum (openSMILE normalises differently).
* **MFCC 1-4**: 26 HTK mel bands 20-8000 Hz, natural log, orthonormal DCT-II, sinusoidal lifter 22
  (HTK/openSMILE defaults); the absolute scale differs from openSMILE's.
* **Equivalent sound level** (dB re full scale): 10 log10 of the mean frame power; openSMILE's
  ``dBp`` uses its own reference.
* **Rate of loudness peaks** (per s): local maxima of the smoothed loudness with a prominence of at
  least 10 % of its 5-95 % range; openSMILE uses its own peak thresholds.
* **Voiced segments per second, mean/SD length of voiced and unvoiced segments**: runs of voiced
  / unvoiced 10 ms frames (openSMILE: the same, from its voicing). The input here is the analysis
  path's speech (speech-detected regions joined by 50 ms of digital silence), so pauses between
  regions are absent and each join counts as a short unvoiced segment.
* **Unvoiced (UV) spectral functionals**: frames with F0 = 0 and a power above -80 dB re full
  scale (the joins' digital silence is left out); openSMILE uses its own energy threshold.

Values that cannot be measured (no voiced frames, too few periods, too little signal) are NaN;
the function never raises on silence or very short input.
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np
import parselmouth
from parselmouth.praat import call

HOP_S = 0.01
SPEC_WIN_S = 0.025
HARM_WIN_S = 0.040
HARM_NFFT = 2048
N_MEL = 26
#: Frames quieter than this (dB re full scale) are silence, neither voiced nor unvoiced speech.
SILENCE_DB = -80.0


def _f(name: str, fns: tuple[str, ...]) -> list[str]:
    return [f"{name}_{fn}" for fn in fns]


_TEN = ("amean", "stddevNorm", "percentile20.0", "percentile50.0", "percentile80.0", "pctlrange0-2",
        "meanRisingSlope", "stddevRisingSlope", "meanFallingSlope", "stddevFallingSlope")
_TWO = ("amean", "stddevNorm")

#: The 88 eGeMAPSv02 functionals, in openSMILE's order and under its names.
FEATURE_NAMES: tuple[str, ...] = tuple(
    _f("F0semitoneFrom27.5Hz_sma3nz", _TEN) + _f("loudness_sma3", _TEN)
    + _f("spectralFlux_sma3", _TWO) + sum((_f(f"mfcc{i}_sma3", _TWO) for i in range(1, 5)), [])
    + _f("jitterLocal_sma3nz", _TWO) + _f("shimmerLocaldB_sma3nz", _TWO) + _f("HNRdBACF_sma3nz", _TWO)
    + _f("logRelF0-H1-H2_sma3nz", _TWO) + _f("logRelF0-H1-A3_sma3nz", _TWO)
    + sum((_f(f"F{i}frequency_sma3nz", _TWO) + _f(f"F{i}bandwidth_sma3nz", _TWO)
           + _f(f"F{i}amplitudeLogRelF0_sma3nz", _TWO) for i in range(1, 4)), [])
    + _f("alphaRatioV_sma3nz", _TWO) + _f("hammarbergIndexV_sma3nz", _TWO)
    + _f("slopeV0-500_sma3nz", _TWO) + _f("slopeV500-1500_sma3nz", _TWO)
    + _f("spectralFluxV_sma3nz", _TWO) + sum((_f(f"mfcc{i}V_sma3nz", _TWO) for i in range(1, 5)), [])
    + ["alphaRatioUV_sma3nz_amean", "hammarbergIndexUV_sma3nz_amean", "slopeUV0-500_sma3nz_amean",
       "slopeUV500-1500_sma3nz_amean", "spectralFluxUV_sma3nz_amean",
       "loudnessPeaksPerSec", "VoicedSegmentsPerSec", "MeanVoicedSegmentLengthSec",
       "StddevVoicedSegmentLengthSec", "MeanUnvoicedSegmentLength", "StddevUnvoicedSegmentLength",
       "equivalentSoundLevel_dBp"])

#: The F0-related subset (pitch level, range and movement).
F0_FEATURES: tuple[str, ...] = tuple(n for n in FEATURE_NAMES if n.startswith("F0semitone"))


def _nan_dict() -> dict[str, float]:
    return {k: float("nan") for k in FEATURE_NAMES}


def _sma3(v: np.ndarray, valid: np.ndarray | None = None) -> np.ndarray:
    """3-frame moving average; with ``valid``, only over valid neighbours (openSMILE's sma3nz)."""
    v = np.asarray(v, dtype=np.float64)
    if valid is None:
        valid = np.isfinite(v)
    w = valid.astype(np.float64)
    vv = np.where(valid, v, 0.0)
    num = np.convolve(vv, np.ones(3), "same")
    den = np.convolve(w, np.ones(3), "same")
    out = np.where(valid & (den > 0), num / np.maximum(den, 1e-12), np.nan)
    return out


def _mean_cv(v: np.ndarray) -> tuple[float, float]:
    v = v[np.isfinite(v)]
    if len(v) < 2:
        return (float(v[0]) if len(v) else float("nan")), float("nan")
    m = float(np.mean(v))
    return m, float(np.std(v) / m) if abs(m) > 1e-12 else float("nan")


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """(start, end) index pairs of the True runs of ``mask`` (end exclusive)."""
    d = np.diff(np.concatenate([[0], mask.astype(np.int8), [0]]))
    return list(zip(np.flatnonzero(d == 1), np.flatnonzero(d == -1)))


def _slopes(v: np.ndarray, segments: list[tuple[int, int]]) -> tuple[list[float], list[float]]:
    """Rising and falling slopes (units per second) between successive local extrema in each segment."""
    rising: list[float] = []
    falling: list[float] = []
    for a, b in segments:
        s = v[a:b]
        if len(s) < 3:
            continue
        d = np.sign(np.diff(s))
        # indices where the direction changes: local extrema, plus the segment ends
        nz = np.flatnonzero(d != 0)
        if not len(nz):
            continue
        ext = [0]
        last = d[nz[0]]
        for i in nz[1:]:
            if d[i] != last:
                ext.append(int(i))
                last = d[i]
        ext.append(len(s) - 1)
        for i, j in zip(ext[:-1], ext[1:]):
            if j <= i:
                continue
            slope = (s[j] - s[i]) / ((j - i) * HOP_S)
            if slope > 0:
                rising.append(float(slope))
            elif slope < 0:
                falling.append(float(slope))
    return rising, falling


def _ten(v: np.ndarray, valid: np.ndarray, prefix: str, out: dict[str, float]) -> None:
    """The 10 functionals of F0 and loudness."""
    x = v[valid & np.isfinite(v)]
    if len(x) < 2:
        return
    m, cv = _mean_cv(x)
    p20, p50, p80 = np.percentile(x, [20, 50, 80])
    out[f"{prefix}_amean"], out[f"{prefix}_stddevNorm"] = m, cv
    out[f"{prefix}_percentile20.0"], out[f"{prefix}_percentile50.0"] = float(p20), float(p50)
    out[f"{prefix}_percentile80.0"], out[f"{prefix}_pctlrange0-2"] = float(p80), float(p80 - p20)
    rising, falling = _slopes(np.where(valid, v, np.nan), _runs(valid & np.isfinite(v)))
    for name, vals in (("Rising", rising), ("Falling", falling)):
        if vals:
            out[f"{prefix}_mean{name}Slope"] = float(np.mean(vals))
            out[f"{prefix}_stddev{name}Slope"] = float(np.std(vals)) if len(vals) > 1 else float("nan")


@lru_cache(maxsize=4)
def _mel_bank(sr: int, n_fft: int) -> tuple[np.ndarray, np.ndarray]:
    """HTK mel filterbank (N_MEL x bins) and the PLP equal-loudness weight of each band centre."""
    import librosa

    fb = librosa.filters.mel(sr=sr, n_fft=n_fft, n_mels=N_MEL, fmin=20.0, fmax=min(8000.0, sr / 2), htk=True,
                             norm=None)
    centres = librosa.mel_frequencies(n_mels=N_MEL + 2, fmin=20.0, fmax=min(8000.0, sr / 2), htk=True)[1:-1]
    w2 = (2 * np.pi * centres) ** 2
    eql = ((w2 + 56.8e6) * w2 ** 2) / ((w2 + 6.3e6) ** 2 * (w2 + 0.38e9))
    return np.asarray(fb, dtype=np.float64), eql / eql.max()


def _frames(x: np.ndarray, centres: np.ndarray, win: int) -> np.ndarray:
    """Frames of ``win`` samples centred on sample indices ``centres`` (zero-padded at the edges)."""
    pad = win // 2 + 1
    xp = np.concatenate([np.zeros(pad), x, np.zeros(pad)])
    idx = centres[:, None] - win // 2 + pad + np.arange(win)[None, :]
    return xp[np.clip(idx, 0, len(xp) - 1)]


def _band_slope(pdb: np.ndarray, freqs: np.ndarray, lo: float, hi: float) -> np.ndarray:
    sel = (freqs >= lo) & (freqs <= hi)
    f = freqs[sel] - freqs[sel].mean()
    y = pdb[:, sel]
    slope: np.ndarray = ((y - y.mean(axis=1, keepdims=True)) @ f) / float(f @ f)
    return slope


def _pitch(snd: parselmouth.Sound, floor: float, ceiling: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    p = snd.to_pitch_ac(time_step=HOP_S, pitch_floor=floor, pitch_ceiling=ceiling)
    a = p.selected_array
    return np.asarray(a["frequency"]), np.asarray(a["strength"]), np.asarray(p.xs())


def _harmonic_level(spec_db: np.ndarray, df: float, centre: np.ndarray, half: np.ndarray) -> np.ndarray:
    """Per row, the largest dB level in [centre - half, centre + half] (NaN if out of range)."""
    n = spec_db.shape[1]
    centre = np.where(np.isfinite(centre), centre, -1.0)
    lo = np.clip(np.floor((centre - half) / df).astype(int), 0, n - 1)
    hi = np.clip(np.ceil((centre + half) / df).astype(int), 0, n - 1)
    out = np.full(len(centre), np.nan)
    for r in range(len(centre)):
        if centre[r] > 0 and hi[r] > lo[r] and centre[r] + half[r] < n * df:
            out[r] = spec_db[r, lo[r]:hi[r] + 1].max()
    return out


def _perturbation(x: np.ndarray, sr: int, pulses: np.ndarray, times: np.ndarray,
                  voiced: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-frame local jitter (ratio) and local shimmer (dB) from the periods around each voiced frame."""
    jit = np.full(len(times), np.nan)
    shim = np.full(len(times), np.nan)
    if len(pulses) < 4:
        return jit, shim
    per = np.diff(pulses)                       # period i ends at pulses[i + 1]
    ok_p = (per >= 1e-4) & (per <= 0.02)
    idx = np.round(pulses * sr).astype(int).clip(0, len(x) - 1)
    amp = (np.maximum.reduceat(x, idx) - np.minimum.reduceat(x, idx))[:-1]  # peak-to-peak per period
    # Praat's rules: both neighbouring periods valid and within a factor 1.3 (jitter), amplitudes within
    # a factor 1.6 (shimmer).
    pair = ok_p[1:] & ok_p[:-1] & (np.maximum(per[1:], per[:-1]) <= 1.3 * np.minimum(per[1:], per[:-1]))
    djit = np.abs(np.diff(per))
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = amp[1:] / amp[:-1]
        pair_s = pair & (ratio > 0) & np.isfinite(ratio) & (np.maximum(ratio, 1 / ratio) <= 1.6)
        dsh = np.abs(20 * np.log10(np.where(pair_s, ratio, 1.0)))
    t_end = pulses[2:]                           # the pair (i, i+1) ends at pulses[i + 2]
    def cs(a: np.ndarray) -> np.ndarray:
        return np.concatenate([[0.0], np.cumsum(a)])

    c_dj, c_pj, c_per = cs(np.where(pair, djit, 0)), cs(pair.astype(float)), cs(np.where(pair, per[1:], 0))
    c_ds, c_ps = cs(np.where(pair_s, dsh, 0)), cs(pair_s.astype(float))
    a = np.searchsorted(t_end, times - 0.03)
    b = np.searchsorted(t_end, times + 0.03)
    nj, ns = c_pj[b] - c_pj[a], c_ps[b] - c_ps[a]
    mean_per = (c_per[b] - c_per[a]) / np.maximum(nj, 1)
    with np.errstate(divide="ignore", invalid="ignore"):
        jit = np.where(voiced & (nj >= 2), (c_dj[b] - c_dj[a]) / np.maximum(nj, 1) / mean_per, np.nan)
        shim = np.where(voiced & (ns >= 2), (c_ds[b] - c_ds[a]) / np.maximum(ns, 1), np.nan)
    return jit, shim


def egemaps(speech16: np.ndarray, sr: int = 16000, band_limited: bool = False) -> dict[str, float]:
    """The 88 eGeMAPSv02-style functionals of a speech signal (see the module docstring); NaN where unmeasurable.

    ``speech16`` is mono float audio in [-1, 1] (the analysis path's speech at ``sr``);
    ``band_limited`` marks telephone-band input (formants are then tracked up to 4 kHz).
    """
    x = np.asarray(speech16, dtype=np.float64).ravel()
    out = _nan_dict()
    if sr <= 0 or len(x) < int(0.1 * sr) or not np.any(x) or not np.all(np.isfinite(x)):
        return out
    duration = len(x) / sr
    snd = parselmouth.Sound(x, sampling_frequency=float(sr))

    # ---------------------------------------------------------------- pitch, voicing, HNR
    f0, strength, times = _pitch(snd, 60.0, 700.0)
    if np.sum(f0 > 0) >= 10:
        q1, q3 = np.percentile(f0[f0 > 0], [25, 75])
        floor, ceiling = max(40.0, 0.75 * q1), min(1000.0, 1.5 * q3)
        f0, strength, times = _pitch(snd, floor, ceiling)
    else:
        floor, ceiling = 60.0, 700.0
    if not len(times):
        return out
    voiced = f0 > 0
    centres = np.round(times * sr).astype(int)

    # ---------------------------------------------------------------- spectral frames (25 ms Hamming)
    win = int(round(SPEC_WIN_S * sr))
    n_fft = 1 << (win - 1).bit_length()
    fr = _frames(x, centres, win) * np.hamming(win)[None, :]
    mag = np.abs(np.fft.rfft(fr, n_fft, axis=1))
    pw = mag ** 2
    freqs = np.fft.rfftfreq(n_fft, 1.0 / sr)
    frame_db = 10 * np.log10(np.mean(fr ** 2, axis=1) / np.mean(np.hamming(win) ** 2) + 1e-20)
    speech = frame_db > SILENCE_DB
    unvoiced = speech & ~voiced

    fb, eql = _mel_bank(sr, n_fft)
    mel = pw @ fb.T
    loud = np.sum((mel * eql[None, :]) ** 0.33, axis=1)
    loud_s = _sma3(loud)
    lm = np.log(np.maximum(mel, 1e-10))
    k = np.arange(N_MEL)
    dct = np.sqrt(2.0 / N_MEL) * np.cos(np.pi / N_MEL * (k[None, :] + 0.5) * np.arange(1, 5)[:, None])
    lifter = 1 + 11.0 * np.sin(np.pi * np.arange(1, 5) / 22.0)
    mfcc = (lm @ dct.T) * lifter[None, :]
    nmag = mag / np.maximum(mag.sum(axis=1, keepdims=True), 1e-20)
    flux = np.concatenate([[np.nan], np.sum(np.diff(nmag, axis=0) ** 2, axis=1)])
    flux[1:][~(speech[1:] & speech[:-1])] = np.nan  # no flux into or out of digital silence

    def band_e(lo: float, hi: float) -> np.ndarray:
        e: np.ndarray = pw[:, (freqs >= lo) & (freqs < hi)].sum(axis=1)
        return e

    def band_max(lo: float, hi: float) -> np.ndarray:
        e: np.ndarray = pw[:, (freqs >= lo) & (freqs < hi)].max(axis=1)
        return e

    with np.errstate(divide="ignore", invalid="ignore"):
        alpha = 10 * np.log10(band_e(50, 1000) / band_e(1000, 5000))
        hammar = 10 * np.log10(band_max(0, 2000) / band_max(2000, 5000))
    pdb = 10 * np.log10(pw + 1e-20)
    slope0 = _band_slope(pdb, freqs, 0, 500)
    slope1 = _band_slope(pdb, freqs, 500, 1500)
    for arr in (alpha, hammar):
        arr[~np.isfinite(arr)] = np.nan

    # "all frames" LLDs: speech frames (digital silence of the joins excluded)
    _ten(loud_s, speech, "loudness_sma3", out)
    out["spectralFlux_sma3_amean"], out["spectralFlux_sma3_stddevNorm"] = _mean_cv(
        _sma3(flux, speech & np.isfinite(flux)))
    for i in range(4):
        m_s = _sma3(mfcc[:, i], speech)
        out[f"mfcc{i + 1}_sma3_amean"], out[f"mfcc{i + 1}_sma3_stddevNorm"] = _mean_cv(m_s)
    out["equivalentSoundLevel_dBp"] = float(10 * np.log10(np.mean(10 ** (frame_db / 10))))
    ls = loud_s[speech & np.isfinite(loud_s)]
    if len(ls) >= 3:
        from scipy.signal import find_peaks

        prom = 0.1 * float(np.subtract(*np.percentile(ls, [95, 5])))
        peaks, _ = find_peaks(np.nan_to_num(np.where(speech, loud_s, 0.0)), prominence=max(prom, 1e-9))
        out["loudnessPeaksPerSec"] = float(len(peaks) / duration)

    # unvoiced spectral means
    if unvoiced.sum() >= 2:
        for name, arr in (("alphaRatioUV", alpha), ("hammarbergIndexUV", hammar), ("slopeUV0-500", slope0),
                          ("slopeUV500-1500", slope1), ("spectralFluxUV", flux)):
            v = _sma3(arr, unvoiced & np.isfinite(arr))
            v = v[np.isfinite(v)]
            if len(v):
                out[f"{name}_sma3nz_amean"] = float(np.mean(v))

    # segment statistics from the voicing track
    vseg = [b - a for a, b in _runs(voiced)]
    useg = [b - a for a, b in _runs(~voiced)]
    out["VoicedSegmentsPerSec"] = float(len(vseg) / duration)
    if vseg:
        out["MeanVoicedSegmentLengthSec"] = float(np.mean(vseg) * HOP_S)
        out["StddevVoicedSegmentLengthSec"] = float(np.std(vseg) * HOP_S)
    if useg:
        out["MeanUnvoicedSegmentLength"] = float(np.mean(useg) * HOP_S)
        out["StddevUnvoicedSegmentLength"] = float(np.std(useg) * HOP_S)

    if voiced.sum() < 5:
        return out

    # ---------------------------------------------------------------- voiced-frame LLDs
    st = np.where(voiced, 12 * np.log2(np.where(voiced, f0, 27.5) / 27.5), np.nan)
    _ten(_sma3(st, voiced), voiced, "F0semitoneFrom27.5Hz_sma3nz", out)

    r = np.clip(strength, 1e-6, 1 - 1e-6)
    hnr = np.where(voiced, 10 * np.log10(r / (1 - r)), np.nan)
    out["HNRdBACF_sma3nz_amean"], out["HNRdBACF_sma3nz_stddevNorm"] = _mean_cv(_sma3(hnr, voiced))

    pp = call(snd, "To PointProcess (periodic, cc)", floor, ceiling)
    n_pts = int(call(pp, "Get number of points"))
    pulses = np.asarray(call(pp, "To Matrix").values).ravel() if n_pts else np.zeros(0)
    jit, shim = _perturbation(x, sr, pulses, times, voiced)
    out["jitterLocal_sma3nz_amean"], out["jitterLocal_sma3nz_stddevNorm"] = _mean_cv(_sma3(jit, np.isfinite(jit)))
    out["shimmerLocaldB_sma3nz_amean"], out["shimmerLocaldB_sma3nz_stddevNorm"] = _mean_cv(
        _sma3(shim, np.isfinite(shim)))

    for name, arr in (("alphaRatioV", alpha), ("hammarbergIndexV", hammar), ("slopeV0-500", slope0),
                      ("slopeV500-1500", slope1), ("spectralFluxV", flux)):
        out[f"{name}_sma3nz_amean"], out[f"{name}_sma3nz_stddevNorm"] = _mean_cv(
            _sma3(arr, voiced & np.isfinite(arr)))
    for i in range(4):
        out[f"mfcc{i + 1}V_sma3nz_amean"], out[f"mfcc{i + 1}V_sma3nz_stddevNorm"] = _mean_cv(
            _sma3(mfcc[:, i], voiced))

    # formants (Burg), voiced frames only
    med_f0 = float(np.median(f0[voiced]))
    if band_limited:
        formant = snd.to_formant_burg(time_step=HOP_S, max_number_of_formants=4.0, maximum_formant=4000.0,
                                      window_length=0.025, pre_emphasis_from=50.0)
    else:
        formant = snd.to_formant_burg(time_step=HOP_S, max_number_of_formants=5.0,
                                      maximum_formant=5000.0 if med_f0 < 165.0 else 5500.0,
                                      window_length=0.025, pre_emphasis_from=50.0)
    vi = np.flatnonzero(voiced)
    fq = np.full((3, len(times)), np.nan)
    bw = np.full((3, len(times)), np.nan)
    for j in vi:
        t = float(times[j])
        for i in range(3):
            fq[i, j] = formant.get_value_at_time(i + 1, t)
            bw[i, j] = formant.get_bandwidth_at_time(i + 1, t)

    # harmonic levels from a 40 ms Hann spectrum of each voiced frame
    hw = int(round(HARM_WIN_S * sr))
    hfr = _frames(x, centres[vi], hw) * np.hanning(hw)[None, :]
    hdb = 20 * np.log10(np.abs(np.fft.rfft(hfr, HARM_NFFT, axis=1)) + 1e-12)
    df = sr / HARM_NFFT
    fv = f0[vi]
    h1 = _harmonic_level(hdb, df, fv, 0.1 * fv)
    h2 = _harmonic_level(hdb, df, 2 * fv, 0.2 * fv)
    amps = [_harmonic_level(hdb, df, fq[i, vi], 0.5 * fv) for i in range(3)]

    def put2(name: str, v_voiced: np.ndarray) -> None:
        full = np.full(len(times), np.nan)
        full[vi] = v_voiced
        out[f"{name}_sma3nz_amean"], out[f"{name}_sma3nz_stddevNorm"] = _mean_cv(_sma3(full, np.isfinite(full)))

    put2("logRelF0-H1-H2", h1 - h2)
    put2("logRelF0-H1-A3", h1 - amps[2])
    for i in range(3):
        put2(f"F{i + 1}frequency", fq[i, vi])
        put2(f"F{i + 1}bandwidth", bw[i, vi])
        put2(f"F{i + 1}amplitudeLogRelF0", amps[i] - h1)
    return {k: (float(v) if v is not None and math.isfinite(v) else float("nan")) for k, v in out.items()}


def egemaps_vector(values: dict[str, float], names: tuple[str, ...] = FEATURE_NAMES) -> np.ndarray:
    """The values in ``names`` order as a float array (NaN where missing)."""
    return np.array([values.get(n, float("nan")) for n in names], dtype=np.float64)
