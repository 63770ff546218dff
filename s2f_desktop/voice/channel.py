"""Channel simulation used for training augmentation and evaluation.

Telephone band: a 4th-order Butterworth band-pass 300-3400 Hz (zero-phase), decimated
to 8 kHz and brought back to 16 kHz, which is what a narrow-band call looks like after
the analysis pipeline resamples it.
"""

from __future__ import annotations

import numpy as np
from scipy.signal import butter, resample_poly, sosfiltfilt


def telephone_band(x16k: np.ndarray, sr: int = 16000) -> np.ndarray:
    """Simulate a narrow-band (300-3400 Hz, 8 kHz) telephone channel; returns audio at ``sr``."""
    x = np.asarray(x16k, dtype=np.float64)
    if len(x) < 64:
        return x.astype(np.float32)
    sos = butter(4, [300.0, 3400.0], btype="bandpass", fs=sr, output="sos")
    y = sosfiltfilt(sos, x)
    y8 = resample_poly(y, 8000, sr)
    out: np.ndarray = resample_poly(y8, sr, 8000)[: len(x)].astype(np.float32)
    return out
