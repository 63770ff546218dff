"""Acoustic voice measures with Praat (praat-parselmouth), with units.

What is measured and why:

* **F0** (fundamental frequency): median and the 5-95 % range over voiced frames. Pitch is
  tracked in two passes (De Looze & Hirst 2008): a wide first pass (60-700 Hz) finds the
  speaker's quartiles, the second pass uses floor = 0.75 x Q1 and ceiling = 1.5 x Q3,
  which removes most octave jumps without assuming the speaker's sex.
* **Formants F1-F4** (Burg), averaged (median) over voiced frames only. The analysis
  ceiling follows Praat's manual: 5000 Hz for a low voice (median F0 < 165 Hz) and
  5500 Hz otherwise.
* **Formant dispersion** D_f = (F4 - F1) / 3 (Fitch 1997) and the **apparent vocal-tract
  length** of a uniform tube closed at the glottis, VTL = c / (2 D_f) with c = 35 000 cm/s.
* **HNR** (cross-correlation harmonicity, dB), **jitter (local)** and **shimmer (local)**
  from a periodic point process, with Praat's standard parameters.

Measures that cannot be computed (no voiced frames, too few periods) are ``None``.
Above ~3.4 kHz a telephone-band recording carries no energy, so F3/F4, dispersion and
VTL are then unreliable: callers pass ``band_limited=True`` to mark them so.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import parselmouth
from parselmouth.praat import call

#: Speed of sound in warm, moist air (cm/s), as used for VTL estimates.
SPEED_OF_SOUND_CM_S = 35000.0
#: Silence inserted between concatenated regions so no pitch or formant track bridges them.
GAP_S = 0.05

UNITS: dict[str, str] = {
    "f0_median": "Hz",
    "f0_p5": "Hz",
    "f0_p95": "Hz",
    "f0_range": "semitones",
    "f1": "Hz",
    "f2": "Hz",
    "f3": "Hz",
    "f4": "Hz",
    "formant_dispersion": "Hz",
    "vocal_tract_length": "cm",
    "hnr": "dB",
    "jitter_local": "%",
    "shimmer_local": "%",
    "voiced_duration": "s",
    "voiced_fraction": "ratio",
}
#: Measures that need the band above 3.4 kHz.
WIDEBAND_ONLY = ("f3", "f4", "formant_dispersion", "vocal_tract_length")


@dataclass(frozen=True)
class AcousticMeasures:
    """Praat measures of one stretch of speech; ``values`` maps a name in :data:`UNITS` to a number or None."""

    values: dict[str, float | None]
    formant_ceiling_hz: float | None = None
    band_limited: bool = False
    notes: tuple[str, ...] = field(default_factory=tuple)

    def get(self, name: str) -> float | None:
        """One measure (None when not measurable)."""
        return self.values.get(name)

    def to_dict(self) -> dict[str, Any]:
        """JSON form: ``{name: {"value", "unit"}}`` plus analysis settings and notes."""
        out: dict[str, Any] = {}
        for name, unit in UNITS.items():
            v = self.values.get(name)
            entry: dict[str, Any] = {"value": None if v is None else round(float(v), 4), "unit": unit}
            if self.band_limited and name in WIDEBAND_ONLY:
                entry["reliable"] = False
            out[name] = entry
        out["formant_ceiling_hz"] = self.formant_ceiling_hz
        out["notes"] = list(self.notes)
        return out


def concat_regions(x: np.ndarray, sr: int, regions: list[tuple[float, float]] | None) -> np.ndarray:
    """Speech regions of ``x`` joined with :data:`GAP_S` of silence (all of ``x`` when None)."""
    if not regions:
        return np.asarray(x, dtype=np.float64)
    gap = np.zeros(int(GAP_S * sr))
    parts: list[np.ndarray] = []
    for start_s, end_s in regions:
        a, b = max(0, int(round(start_s * sr))), min(len(x), int(round(end_s * sr)))
        if b > a:
            if parts:
                parts.append(gap)
            parts.append(np.asarray(x[a:b], dtype=np.float64))
    return np.concatenate(parts) if parts else np.zeros(0)


def _pitch(snd: parselmouth.Sound, floor: float, ceiling: float) -> tuple[np.ndarray, np.ndarray]:
    pitch = snd.to_pitch_ac(time_step=0.01, pitch_floor=floor, pitch_ceiling=ceiling)
    return pitch.selected_array["frequency"], pitch.xs()


def measure(x: np.ndarray, sr: int, band_limited: bool = False) -> AcousticMeasures:
    """Measure F0, formants, dispersion/VTL, HNR, jitter and shimmer of a speech signal.

    ``x`` should hold speech only (use :func:`concat_regions`); silence lowers the voiced
    fraction but does not bias the other measures, which use voiced frames only.
    """
    x = np.asarray(x, dtype=np.float64)
    none: dict[str, float | None] = {k: None for k in UNITS}
    duration = len(x) / sr if sr else 0.0
    if duration < 0.1 or not np.any(x):
        none["voiced_duration"], none["voiced_fraction"] = 0.0, 0.0
        return AcousticMeasures(none, None, band_limited, ("too little signal",))
    snd = parselmouth.Sound(x, sampling_frequency=float(sr))
    f0, times = _pitch(snd, 60.0, 700.0)
    voiced = f0[f0 > 0]
    if len(voiced) < 10:
        none["voiced_duration"] = float(len(voiced) * 0.01)
        none["voiced_fraction"] = float(len(voiced) / max(1, len(f0)))
        return AcousticMeasures(none, None, band_limited, ("fewer than 10 voiced frames",))
    q1, q3 = np.percentile(voiced, [25, 75])
    floor, ceiling = max(40.0, 0.75 * q1), min(1000.0, 1.5 * q3)
    f0, times = _pitch(snd, floor, ceiling)
    vmask = f0 > 0
    voiced = f0[vmask]
    vals = dict(none)
    notes: list[str] = []
    vals["voiced_duration"] = float(vmask.sum() * 0.01)
    vals["voiced_fraction"] = float(vmask.mean()) if len(f0) else 0.0
    if len(voiced) < 10:
        return AcousticMeasures(vals, None, band_limited, ("fewer than 10 voiced frames",))
    p5, med, p95 = np.percentile(voiced, [5, 50, 95])
    vals.update(f0_median=float(med), f0_p5=float(p5), f0_p95=float(p95), f0_range=float(12 * math.log2(p95 / p5)))

    formant_ceiling = 5000.0 if med < 165.0 else 5500.0
    formant = snd.to_formant_burg(time_step=0.01, max_number_of_formants=5.0, maximum_formant=formant_ceiling,
                                  window_length=0.025, pre_emphasis_from=50.0)
    vt = times[vmask]
    fmeds: list[float | None] = []
    for i in range(1, 5):
        arr = np.array([formant.get_value_at_time(i, float(t)) for t in vt])
        arr = arr[np.isfinite(arr)]
        fmeds.append(float(np.median(arr)) if len(arr) >= 5 else None)
    vals.update(f1=fmeds[0], f2=fmeds[1], f3=fmeds[2], f4=fmeds[3])
    if fmeds[0] is not None and fmeds[3] is not None and fmeds[3] > fmeds[0]:
        disp = (fmeds[3] - fmeds[0]) / 3.0
        vals["formant_dispersion"] = disp
        vals["vocal_tract_length"] = SPEED_OF_SOUND_CM_S / (2.0 * disp)

    harm = snd.to_harmonicity_cc(time_step=0.01, minimum_pitch=floor, silence_threshold=0.1, periods_per_window=1.0)
    hv = harm.values[harm.values != -200]
    if hv.size:
        vals["hnr"] = float(np.mean(hv))
    pp = call(snd, "To PointProcess (periodic, cc)", floor, ceiling)
    jit = call(pp, "Get jitter (local)", 0, 0, 0.0001, 0.02, 1.3)
    shim = call([snd, pp], "Get shimmer (local)", 0, 0, 0.0001, 0.02, 1.3, 1.6)
    vals["jitter_local"] = float(jit) * 100 if math.isfinite(jit) else None
    vals["shimmer_local"] = float(shim) * 100 if math.isfinite(shim) else None
    if band_limited:
        notes.append("telephone band: F3, F4, dispersion and vocal-tract length are unreliable")
    return AcousticMeasures(vals, formant_ceiling, band_limited, tuple(notes))


#: Measures used as inputs of the trait heads, in this order. Frequencies, dispersion and the
#: perturbation measures are log-scaled: their effects are multiplicative (a larger larynx or a
#: longer vocal tract scales all of them), and logs make their distributions close to normal.
#: Formant dispersion carries the vocal-tract-length information (log VTL = const - log D_f).
HEAD_FEATURES = ("log_f0_median", "log_f0_p5", "log_f0_p95", "log_f1", "log_f2", "log_f3", "log_f4",
                 "log_formant_dispersion", "hnr", "log_jitter_local", "log_shimmer_local")


def head_vector(m: AcousticMeasures) -> np.ndarray:
    """The acoustic part of the trait heads' input (NaN where not measurable)."""
    out = []
    for name in HEAD_FEATURES:
        key = name.removeprefix("log_")
        v = m.values.get(key)
        if v is None or not math.isfinite(v) or v <= 0 and name.startswith("log_"):
            out.append(float("nan"))
        else:
            out.append(math.log(v) if name.startswith("log_") else float(v))
    return np.array(out, dtype=np.float64)
