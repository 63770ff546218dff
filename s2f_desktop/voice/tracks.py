"""F0 and formant tracks for display over the spectrogram (Praat, through parselmouth).

The same methods as the stored measures (:mod:`s2f_desktop.voice.acoustics`): pitch by
autocorrelation in two passes (a wide 60-700 Hz pass finds the speaker's quartiles, the
second uses 0.75 x Q1 .. 1.5 x Q3), formants by Burg with Praat's ceiling rule (5000 Hz
below a median F0 of 165 Hz, else 5500 Hz), 10 ms steps. Formants are kept only in
voiced frames, as Praat users read them. What is drawn is what the measures use.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import parselmouth

#: Longest stretch tracked at once (seconds): tracks are for inspecting what is on screen.
MAX_TRACK_S = 120.0


@dataclass(frozen=True)
class Tracks:
    """Frame times (seconds from the start of the analysed range), F0 (Hz, NaN unvoiced) and F1-F4 (Hz, NaN)."""

    times_s: np.ndarray
    f0_hz: np.ndarray
    formants_hz: np.ndarray  # [frames, 4]
    formant_ceiling_hz: float | None
    f0_floor_hz: float
    f0_ceiling_hz: float


def compute_tracks(x: np.ndarray, sr: int) -> Tracks:
    """Tracks of a (mono) range; empty tracks when there is too little signal or no voicing."""
    x = np.asarray(x, dtype=np.float64)
    empty = Tracks(np.zeros(0), np.zeros(0), np.zeros((0, 4)), None, 60.0, 700.0)
    if sr <= 0 or len(x) / sr < 0.1 or not np.any(x):
        return empty
    if len(x) / sr > MAX_TRACK_S:
        x = x[: int(MAX_TRACK_S * sr)]
    snd = parselmouth.Sound(x, sampling_frequency=float(sr))
    first = snd.to_pitch_ac(time_step=0.01, pitch_floor=60.0, pitch_ceiling=700.0)
    f0 = first.selected_array["frequency"]
    voiced = f0[f0 > 0]
    floor, ceiling = 60.0, 700.0
    if len(voiced) >= 10:
        q1, q3 = np.percentile(voiced, [25, 75])
        floor, ceiling = max(40.0, 0.75 * q1), min(1000.0, 1.5 * q3)
    pitch = snd.to_pitch_ac(time_step=0.01, pitch_floor=floor, pitch_ceiling=ceiling)
    f0 = pitch.selected_array["frequency"].astype(float)
    times = np.asarray(pitch.xs(), dtype=float)
    vmask = f0 > 0
    f0[~vmask] = np.nan
    if not vmask.any():
        return Tracks(times, f0, np.full((len(times), 4), np.nan), None, floor, ceiling)
    med = float(np.nanmedian(f0))
    fc = 5000.0 if med < 165.0 else 5500.0
    formant = snd.to_formant_burg(time_step=0.01, max_number_of_formants=5.0, maximum_formant=fc,
                                  window_length=0.025, pre_emphasis_from=50.0)
    fm = np.full((len(times), 4), np.nan)
    for j, t in enumerate(times):
        if vmask[j]:
            for i in range(4):
                fm[j, i] = formant.get_value_at_time(i + 1, float(t))
    return Tracks(times, f0, fm, fc, floor, ceiling)
