"""Real speech codecs for evaluation: what a call, a voice message or a compressed file does to a voice.

The trait heads are trained on each clip as recorded and through a *simulated* telephone
channel (:func:`s2f_desktop.voice.channel.telephone_band`: band-pass and 8 kHz sampling, no
coding). Case audio is usually coded as well:

* AMR-NB (3GPP TS 26.071), the speech codec of GSM/UMTS mobile calls (issue 13);
* G.711 mu-law (ITU-T G.711, 64 kbit/s), the fixed network's coding in North America and Japan
  (elsewhere A-law, its close sibling, which was not run);
* AMR-NB then G.711 in tandem, as a mobile-to-landline call is transcoded at the network's gateway;
* G.723.1 (ITU-T G.723.1, 6.3 kbit/s, MP-MLQ), a low-rate codec of older VoIP and video-conference
  (H.323) systems, run in place of G.729 (CS-ACELP), which FFmpeg can decode but not encode; G.729
  itself was not measured;
* Opus (RFC 6716), the codec of WhatsApp-style voice messages and most VoIP calls, here at a
  voice-message rate and at a low call rate, with and without lost packets, and at the higher rate
  with packets lost in bursts, as a wideband call over a poor network;
* MP3 (MPEG-2 Layer III at 16 kHz), a common export format for recordings.

This module runs audio through the encoders and decoders that PyAV's FFmpeg carries (OpenCORE
AMR-NB, FFmpeg's own G.711 and G.723.1, libopus, LAME), so the models can be *evaluated* (never
trained) on coded speech.
Training and evaluation only; nothing here runs in the app.
"""

from __future__ import annotations

from functools import lru_cache
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
    return _speech_codec(narrowband(x, sr), "libopencore_amrnb", "amrnb", bitrate, _FRAME), CALL_RATE


#: G.711's one rate (8-bit mu-law samples at 8 kHz) and G.723.1's higher rate (6.3 kbit/s; FFmpeg's
#: encoder has no other).
G711_RATE = 64000
G723_1_RATE = 6300


def g711(x: np.ndarray, sr: int) -> tuple[np.ndarray, int]:
    """``x`` (mono, ``sr`` Hz) through a narrow-band front end and G.711 mu-law; (audio, 8000), the
    length of the 8 kHz input (the coding is sample by sample, without delay)."""
    return _speech_codec(narrowband(x, sr), "pcm_mulaw", "pcm_mulaw", G711_RATE, _FRAME), CALL_RATE


def g723_1(x: np.ndarray, sr: int) -> tuple[np.ndarray, int]:
    """``x`` (mono, ``sr`` Hz) through a narrow-band front end and G.723.1 at 6.3 kbit/s (30 ms frames);
    (audio, 8000), the length of the 8 kHz input (the codec's delay stays at the start)."""
    return _speech_codec(narrowband(x, sr), "g723_1", "g723_1", G723_1_RATE, 240), CALL_RATE


def amr_nb_to_g711(x: np.ndarray, sr: int) -> tuple[np.ndarray, int]:
    """A mobile-to-landline call: AMR-NB at 12.2 kbit/s, decoded at the network's gateway and its 8 kHz
    samples coded again as G.711 mu-law (two codecs in tandem; one 300-3400 Hz front end, the
    handset's: a gateway transcodes the samples, it does not filter them again); (audio, 8000)."""
    y, _ = amr_nb(x, sr, AMR_NB_RATES[0])
    return _speech_codec(y, "pcm_mulaw", "pcm_mulaw", G711_RATE, _FRAME), CALL_RATE


def _speech_codec(y8: np.ndarray, encoder: str, decoder: str, bitrate: int, frame: int) -> np.ndarray:
    """8 kHz audio through an FFmpeg speech encoder fed ``frame`` samples at a time (s16) and its
    decoder, cut to the input's length."""
    import av

    pcm = np.clip(np.round(np.asarray(y8, np.float64) * 32767.0), -32768, 32767).astype(np.int16)
    n = len(pcm)
    pcm = np.concatenate([pcm, np.zeros((-n) % frame, np.int16)])
    # PyAV types create() as the generic CodecContext; these are audio contexts.
    enc: Any = av.CodecContext.create(encoder, "w")
    enc.sample_rate, enc.layout, enc.format, enc.bit_rate = CALL_RATE, "mono", "s16", int(bitrate)
    enc.open()
    dec: Any = av.CodecContext.create(decoder, "r")
    dec.sample_rate, dec.layout = CALL_RATE, "mono"
    out: list[np.ndarray] = []

    def drain(packets: Sequence[Any]) -> None:
        for p in packets:
            for fr in dec.decode(p):
                out.append(_to_float(fr.to_ndarray()))  # by the decoder's sample format, not by level

    for i in range(0, len(pcm), frame):
        fr = av.AudioFrame.from_ndarray(pcm[i:i + frame].reshape(1, -1), format="s16", layout="mono")
        fr.sample_rate, fr.pts = CALL_RATE, i
        drain(enc.encode(fr))
    drain(enc.encode(None))
    return _length(np.concatenate(out) if out else np.zeros(0, np.float32), n)


#: Opus rates evaluated: 16 kbit/s (a wideband voice message) and 8 kbit/s (a poor VoIP call,
#: where the encoder falls back to narrow band).
OPUS_RATES = (16000, 8000)
#: MPEG-2 Layer III at 16 kHz, 24 kbit/s: a small recording export.
MP3_RATE = 24000
_OPUS_SR = 16000  # the rate _at_16k delivers
_OPUS_FRAME = 320  # 20 ms at 16 kHz


def _at_16k(x: np.ndarray, sr: int) -> np.ndarray:
    """``x`` resampled to the 16 kHz the Opus and MP3 channels code at (as it is when already there)."""
    return resample_poly(np.asarray(x, np.float64), 16000, sr).astype(np.float32) if sr != 16000 \
        else np.asarray(x, np.float32)


def _length(y: np.ndarray, n: int) -> np.ndarray:
    """``y`` cut or padded with silence to ``n`` samples (the coded input's length)."""
    return np.concatenate([y, np.zeros(max(0, n - len(y)), np.float32)])[:n].astype(np.float32)


def _to_float(frame_array: np.ndarray) -> np.ndarray:
    """A decoded frame as float samples in [-1, 1], scaled by its sample format (never by its level)."""
    y = frame_array.reshape(-1).astype(np.float32)
    if frame_array.dtype == np.int16:
        return y / 32768.0
    if not np.issubdtype(frame_array.dtype, np.floating):
        raise ValueError(f"unexpected decoded sample format {frame_array.dtype}")
    return y


def _encode(x: np.ndarray, sr: int, encoder: str, bitrate: int, fmt: str) -> tuple[list[Any], Any]:
    """``x`` (mono float) through an FFmpeg encoder frame by frame: (packets, the opened encoder)."""
    import av

    enc: Any = av.CodecContext.create(encoder, "w")
    enc.sample_rate, enc.layout, enc.format, enc.bit_rate = sr, "mono", fmt, int(bitrate)
    enc.open()
    fs = int(enc.frame_size)
    n = len(x)
    pcm = np.concatenate([np.asarray(x, np.float32), np.zeros((-n) % fs, np.float32)])
    if fmt == "s16":
        pcm = np.clip(np.round(pcm * 32767.0), -32768, 32767).astype(np.int16)
    packets: list[Any] = []
    for i in range(0, len(pcm), fs):
        fr = av.AudioFrame.from_ndarray(pcm[i:i + fs].reshape(1, -1), format=fmt, layout="mono")
        fr.sample_rate, fr.pts = sr, i
        packets.extend(enc.encode(fr))
    packets.extend(enc.encode(None))
    return packets, enc


#: Mean length of a burst of lost packets in the bursty-loss channel: 3 packets (60 ms). A project
#: choice: Internet and Wi-Fi loss comes mostly in short runs of one to a few packets, and 60 ms is
#: long enough to swallow a syllable's onset, which concealment cannot rebuild.
BURST_PACKETS = 3.0


def lost_packets(count: int, loss: float, seed: int, burst: float = 1.0) -> np.ndarray:
    """Which of ``count`` packets are lost, ``loss`` of them on average (``seed`` fixed, so a clip always
    loses the same packets). ``burst`` 1: each packet independently. ``burst`` > 1: in runs of ``burst``
    packets on average (a two-state Gilbert model: every packet of the "bad" state is lost, which is left
    with probability 1/``burst`` per packet and entered with the probability that keeps the average loss)."""
    if burst < 1.0 or not 0.0 <= loss < 1.0 or (burst > 1.0 and loss > burst / (1.0 + burst)):
        # With every "bad" packet lost, the model cannot average more than burst / (1 + burst).
        raise ValueError(f"no loss model for loss {loss} in bursts of {burst} packets")
    if loss == 0.0:
        return np.zeros(count, bool)
    rng = np.random.default_rng(seed)
    if burst == 1.0:
        return rng.random(count) < loss
    enter, leave = loss / (burst * (1.0 - loss)), 1.0 / burst
    u = rng.random(count + 1)
    out = np.zeros(count, bool)
    bad = bool(u[0] < loss)  # the first packet's state drawn from the stationary distribution
    for i in range(count):
        out[i] = bad
        bad = (u[i + 1] >= leave) if bad else (u[i + 1] < enter)
    return out


@lru_cache(maxsize=1)
def _libopus() -> Any:
    """libopus's decoder API through ctypes: the copy inside PyAV's wheel (the one its encoder uses),
    else the system's. FFmpeg's decoders cannot be told that a packet was lost, libopus can: it then
    conceals the gap itself (packet loss concealment), as a VoIP receiver does."""
    import ctypes
    import ctypes.util
    import glob
    import os

    import av

    pkg = os.path.dirname(av.__file__)
    # Where PyAV's wheels keep their bundled libraries: av.libs/ (Linux), av/.dylibs/ (macOS), av.libs/ or
    # the package folder (Windows).
    bundled = [g for pattern in (os.path.join(os.path.dirname(pkg), "av.libs", "libopus*.so*"),
                                 os.path.join(pkg, ".dylibs", "libopus*.dylib"),
                                 os.path.join(os.path.dirname(pkg), "av.libs", "*opus*.dll"),
                                 os.path.join(pkg, "*opus*.dll"))
               for g in sorted(glob.glob(pattern))]
    for cand in [*bundled, ctypes.util.find_library("opus")]:
        if not cand:
            continue
        try:
            lib = ctypes.CDLL(cand)
        except OSError:
            continue
        lib.opus_decoder_create.restype = ctypes.c_void_p
        lib.opus_decoder_create.argtypes = [ctypes.c_int32, ctypes.c_int, ctypes.POINTER(ctypes.c_int)]
        lib.opus_decode.restype = ctypes.c_int
        lib.opus_decode.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int32,
                                    ctypes.POINTER(ctypes.c_int16), ctypes.c_int, ctypes.c_int]
        lib.opus_decoder_destroy.argtypes = [ctypes.c_void_p]
        lib.opus_get_version_string.restype = ctypes.c_char_p
        return lib
    raise RuntimeError("libopus was not found (neither in PyAV's wheel nor on the system)")


def opus(x: np.ndarray, sr: int, bitrate: int = OPUS_RATES[0], loss: float = 0.0, seed: int = 0,
         burst: float = 1.0) -> tuple[np.ndarray, int]:
    """``x`` (mono, ``sr`` Hz) through libopus at ``bitrate`` (16 kHz, 20 ms packets, FFmpeg's default
    ``audio`` application) and back; (audio, 16000), the length of the 16 kHz input, the codec's delay
    removed. ``loss``: share of packets lost at random, one by one or in runs of ``burst`` packets on
    average (:func:`lost_packets`), each concealed by libopus's own packet loss concealment."""
    import ctypes

    x16 = _at_16k(x, sr)
    packets, enc = _encode(x16, _OPUS_SR, "libopus", bitrate, "s16")
    # The OpusHead header (RFC 7845) carries the encoder's delay ("pre-skip") in 48 kHz samples.
    head = bytes(enc.extradata or b"")
    pre_skip = int.from_bytes(head[10:12], "little") * _OPUS_SR // 48000 if len(head) >= 12 else 0
    lib = _libopus()
    err = ctypes.c_int(0)
    dec = lib.opus_decoder_create(_OPUS_SR, 1, ctypes.byref(err))
    if err.value != 0 or not dec:
        raise RuntimeError(f"libopus could not create a decoder (error {err.value})")
    buf = (ctypes.c_int16 * (_OPUS_FRAME * 6))()  # room for the longest Opus frame (120 ms)
    out: list[np.ndarray] = []
    try:
        for p, lost in zip(packets, lost_packets(len(packets), loss, seed, burst)):
            data = bytes(p)
            got = lib.opus_decode(dec, None, 0, buf, _OPUS_FRAME, 0) if lost else \
                lib.opus_decode(dec, data, len(data), buf, _OPUS_FRAME * 6, 0)
            if got < 0:
                raise RuntimeError(f"libopus could not decode a packet (error {got})")
            out.append(np.ctypeslib.as_array(buf)[:got].astype(np.float32) / 32768.0)
    finally:
        lib.opus_decoder_destroy(dec)
    y = np.concatenate(out)[pre_skip:] if out else np.zeros(0, np.float32)
    return _length(y, len(x16)), _OPUS_SR


def codec_versions() -> dict[str, str]:
    """The versions of the coding libraries these channels ran through, for the model's metrics."""
    import av

    opus_version = str(_libopus().opus_get_version_string().decode()).removeprefix("libopus ")
    return {"pyav": str(av.__version__), "libopus": opus_version,
            "ffmpeg_libavcodec": ".".join(str(v) for v in av.library_versions.get("libavcodec", ()))}


def mp3(x: np.ndarray, sr: int, bitrate: int = MP3_RATE) -> tuple[np.ndarray, int]:
    """``x`` (mono, ``sr`` Hz) through LAME at ``bitrate`` (MPEG-2 Layer III at 16 kHz) and FFmpeg's MP3
    decoder; (audio, 16000), the length of the 16 kHz input (the decoder removes the coder's delay)."""
    import av

    x16 = _at_16k(x, sr)
    packets, _ = _encode(x16, 16000, "libmp3lame", bitrate, "fltp")
    dec: Any = av.CodecContext.create("mp3", "r")
    dec.sample_rate, dec.layout = 16000, "mono"
    frames = [_to_float(fr.to_ndarray()) for p in packets for fr in dec.decode(p)]
    return _length(np.concatenate(frames) if frames else np.zeros(0, np.float32), len(x16)), 16000
