"""Real speech codecs for evaluation: what a mobile call does to a voice (issue 13).

The trait heads are trained on each clip as recorded and through a *simulated* telephone
channel (:func:`s2f_desktop.voice.channel.telephone_band`: band-pass and 8 kHz sampling, no
coding). A real narrow-band call is also coded: AMR-NB (3GPP TS 26.071) is the speech codec of
GSM/UMTS mobile calls. This module runs audio through the OpenCORE AMR-NB encoder and
decoder that PyAV's FFmpeg carries, so the models can be *evaluated* (never trained) on coded
speech. Training and evaluation only; nothing here runs in the app.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np
from scipy.signal import butter, resample_poly, sosfiltfilt

#: AMR-NB's highest mode (12.2 kbit/s, the GSM-EFR-equivalent mode networks use when the radio
#: link allows) and its lowest (4.75 kbit/s, used on poor links).
AMR_NB_RATES = (12200, 4750)
CALL_RATE = 8000
_FRAME = 160  # 20 ms at 8 kHz: AMR-NB's frame


def narrowband(x: np.ndarray, sr: int) -> np.ndarray:
    """300-3400 Hz band-pass (4th-order Butterworth, zero-phase) and 8 kHz sampling, as a call's front end."""
    x = np.asarray(x, dtype=np.float64)
    if len(x) >= 64:
        x = sosfiltfilt(butter(4, [300.0, 3400.0], btype="bandpass", fs=sr, output="sos"), x)
    y: np.ndarray = resample_poly(x, CALL_RATE, sr) if sr != CALL_RATE else x
    return y


def amr_nb(x: np.ndarray, sr: int, bitrate: int = AMR_NB_RATES[0]) -> tuple[np.ndarray, int]:
    """``x`` (mono, ``sr`` Hz) through a narrow-band front end and AMR-NB at ``bitrate``; (audio, 8000).

    The decoded audio keeps the length of the 8 kHz input (the codec's few samples of delay
    stay at the start; the tail it flushes is cut).
    """
    import av

    y8 = narrowband(x, sr)
    pcm = np.clip(np.round(y8 * 32767.0), -32768, 32767).astype(np.int16)
    n = len(pcm)
    pcm = np.concatenate([pcm, np.zeros((-n) % _FRAME, np.int16)])
    # PyAV types create() as the generic CodecContext; these are audio contexts.
    enc: Any = av.CodecContext.create("libopencore_amrnb", "w")
    enc.sample_rate, enc.layout, enc.format, enc.bit_rate = CALL_RATE, "mono", "s16", int(bitrate)
    enc.open()
    dec: Any = av.CodecContext.create("amrnb", "r")
    dec.sample_rate, dec.layout = CALL_RATE, "mono"
    out: list[np.ndarray] = []

    def drain(packets: Sequence[Any]) -> None:
        for p in packets:
            for fr in dec.decode(p):
                out.append(fr.to_ndarray().reshape(-1).astype(np.float32))

    for i in range(0, len(pcm), _FRAME):
        fr = av.AudioFrame.from_ndarray(pcm[i:i + _FRAME].reshape(1, -1), format="s16", layout="mono")
        fr.sample_rate, fr.pts = CALL_RATE, i
        drain(enc.encode(fr))
    drain(enc.encode(None))
    y = np.concatenate(out) if out else np.zeros(0, np.float32)
    if y.size and np.abs(y).max() > 2.0:  # an integer sample format: scale to [-1, 1]
        y = y / 32768.0
    return y[:n].astype(np.float32), CALL_RATE
