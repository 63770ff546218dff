"""Real speech codecs for evaluation: what a call, a voice message or a compressed file does to a voice.

The trait heads are trained on each clip as recorded and through a *simulated* telephone
channel (:func:`s2f_desktop.voice.channel.telephone_band`: band-pass and 8 kHz sampling, no
coding). Case audio is usually coded as well:

* AMR-NB (3GPP TS 26.071), the speech codec of GSM/UMTS mobile calls (issue 13);
* Opus (RFC 6716), the codec of WhatsApp-style voice messages and most VoIP calls, here at a
  voice-message rate and at a poor call's rate with lost packets;
* MP3 (MPEG-2 Layer III at 16 kHz), a common export format for recordings.

This module runs audio through the encoders and decoders that PyAV's FFmpeg carries (OpenCORE
AMR-NB, libopus, LAME), so the models can be *evaluated* (never trained) on coded speech.
Training and evaluation only; nothing here runs in the app.
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


#: Opus rates evaluated: 16 kbit/s (a wideband voice message) and 8 kbit/s (a poor VoIP call,
#: where the encoder falls back to narrow-band SILK).
OPUS_RATES = (16000, 8000)
#: MPEG-2 Layer III at 16 kHz, 24 kbit/s: a small recording export.
MP3_RATE = 24000
_OPUS_OUT = 48000  # FFmpeg's Opus decoders deliver 48 kHz


def _to_float(frame_array: np.ndarray) -> np.ndarray:
    y = frame_array.reshape(-1).astype(np.float32)
    return y / 32768.0 if frame_array.dtype == np.int16 else y


def _code(x: np.ndarray, sr: int, encoder: str, decoder: str, bitrate: int, fmt: str, out_sr: int,
          loss: float = 0.0, seed: int = 0) -> list[np.ndarray]:
    """Encode ``x`` frame by frame and decode it again; the decoded frames (one list item per packet,
    at the decoder's rate ``out_sr``). With ``loss`` > 0 each packet is lost with that probability
    (independently, ``seed`` fixed so a clip always loses the same packets) and its frame is
    concealed by repeating the last decoded frame (silence before the first)."""
    import av

    enc: Any = av.CodecContext.create(encoder, "w")
    enc.sample_rate, enc.layout, enc.format, enc.bit_rate = sr, "mono", fmt, int(bitrate)
    enc.open()
    dec: Any = av.CodecContext.create(decoder, "r")
    dec.sample_rate, dec.layout = sr, "mono"
    if enc.extradata:
        dec.extradata = enc.extradata
    fs = int(enc.frame_size)
    n = len(x)
    pcm = np.concatenate([np.asarray(x, np.float32), np.zeros((-n) % fs, np.float32)])
    if fmt == "s16":
        pcm = np.clip(np.round(pcm * 32767.0), -32768, 32767).astype(np.int16)
    rng = np.random.default_rng(seed)
    frames: list[np.ndarray] = []

    def drain(packets: Sequence[Any]) -> None:
        for p in packets:
            if loss > 0.0 and rng.random() < loss:
                last = frames[-1] if frames else None
                frames.append(last.copy() if last is not None else np.zeros(fs * out_sr // sr, np.float32))
                continue
            for fr in dec.decode(p):
                if int(fr.sample_rate) != out_sr:
                    raise ValueError(f"{decoder} decoded at {fr.sample_rate} Hz, expected {out_sr} Hz")
                frames.append(_to_float(fr.to_ndarray()))

    for i in range(0, len(pcm), fs):
        fr = av.AudioFrame.from_ndarray(pcm[i:i + fs].reshape(1, -1), format=fmt, layout="mono")
        fr.sample_rate, fr.pts = sr, i
        drain(enc.encode(fr))
    drain(enc.encode(None))
    return frames


def opus(x: np.ndarray, sr: int, bitrate: int = OPUS_RATES[0], loss: float = 0.0, seed: int = 0
         ) -> tuple[np.ndarray, int]:
    """``x`` (mono, ``sr`` Hz) through libopus at ``bitrate`` (20 ms frames, 16 kHz input) and back;
    (audio, 16000), the length of the 16 kHz input. ``loss``: share of packets lost (see :func:`_code`;
    repetition is cruder than Opus's own concealment, which FFmpeg's decoders do not expose)."""
    x16 = resample_poly(np.asarray(x, np.float64), 16000, sr).astype(np.float32) if sr != 16000 \
        else np.asarray(x, np.float32)
    frames = _code(x16, 16000, "libopus", "libopus", bitrate, "s16", _OPUS_OUT, loss, seed)
    y = np.concatenate(frames) if frames else np.zeros(0, np.float32)
    y = resample_poly(y.astype(np.float64), 16000, _OPUS_OUT).astype(np.float32)
    return y[:len(x16)].astype(np.float32), 16000


def mp3(x: np.ndarray, sr: int, bitrate: int = MP3_RATE) -> tuple[np.ndarray, int]:
    """``x`` (mono, ``sr`` Hz) through LAME at ``bitrate`` (MPEG-2 Layer III at 16 kHz) and back;
    (audio, 16000), the length of the 16 kHz input (the coder's delay stays at the start)."""
    x16 = resample_poly(np.asarray(x, np.float64), 16000, sr).astype(np.float32) if sr != 16000 \
        else np.asarray(x, np.float32)
    frames = _code(x16, 16000, "libmp3lame", "mp3", bitrate, "fltp", 16000)
    y = np.concatenate(frames) if frames else np.zeros(0, np.float32)
    return y[:len(x16)].astype(np.float32), 16000
