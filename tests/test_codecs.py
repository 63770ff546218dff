"""The real-codec channels used to evaluate the trait heads on coded speech (training/codecs.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from s2f_desktop.training.codecs import (
    AMR_NB_RATES,
    BURST_PACKETS,
    OPUS_RATES,
    amr_nb,
    amr_nb_to_g711,
    g711,
    g723_1,
    lost_packets,
    mp3,
    narrowband,
    opus,
)


def _tone(sr: int, f: float, seconds: float = 2.0) -> np.ndarray:
    t = np.arange(int(sr * seconds)) / sr
    return (0.3 * np.sin(2 * np.pi * f * t)).astype(np.float32)


@pytest.mark.parametrize("code", [*(lambda x, sr, r=r: amr_nb(x, sr, r) for r in AMR_NB_RATES), g711, g723_1,
                                  amr_nb_to_g711],
                         ids=[*(f"amr-nb-{r}" for r in AMR_NB_RATES), "g711", "g723.1", "amr-nb-then-g711"])
def test_call_codecs_keep_length_pitch_and_level_of_a_voiced_tone(code: Any) -> None:
    x = _tone(16000, 440.0)
    y, sr = code(x, 16000)
    assert sr == 8000 and len(y) == len(x) // 2 and y.dtype == np.float32
    mid = y[2000:-2000]
    spec = np.abs(np.fft.rfft(mid * np.hanning(len(mid))))
    assert abs(np.argmax(spec) * 8000 / len(mid) - 440.0) < 10.0
    ref = narrowband(x, 16000)[2000:-2000]
    level = 20 * np.log10(np.sqrt(np.mean(mid ** 2)) / np.sqrt(np.mean(ref ** 2)))
    assert abs(level) < 6.0


def test_the_front_end_removes_what_a_call_cannot_carry() -> None:
    y = narrowband(_tone(16000, 6000.0), 16000)  # above the 8 kHz Nyquist and the 3.4 kHz band
    assert np.sqrt(np.mean(y ** 2)) < 0.01
    low = narrowband(_tone(16000, 100.0), 16000)  # below the 300 Hz edge
    assert np.sqrt(np.mean(low[1000:-1000] ** 2)) < 0.05


def test_coding_is_deterministic() -> None:
    x = np.random.default_rng(0).standard_normal(8000 * 2).astype(np.float32) * 0.1
    a, _ = amr_nb(x, 8000)
    b, _ = amr_nb(x, 8000)
    assert np.array_equal(a, b)


@pytest.mark.parametrize("code", [lambda x, sr: opus(x, sr), lambda x, sr: opus(x, sr, OPUS_RATES[1], loss=0.1),
                                  lambda x, sr: mp3(x, sr)], ids=["opus-16k", "opus-8k-loss10", "mp3-24k"])
def test_opus_and_mp3_keep_length_pitch_and_level_at_16k(code: Any) -> None:
    x = _tone(16000, 440.0)
    y, sr = code(x, 16000)
    assert sr == 16000 and len(y) == len(x) and y.dtype == np.float32
    mid = y[2000:-2000]
    spec = np.abs(np.fft.rfft(mid * np.hanning(len(mid))))
    assert abs(np.argmax(spec) * 16000 / len(mid) - 440.0) < 10.0
    level = 20 * np.log10(np.sqrt(np.mean(mid ** 2)) / np.sqrt(np.mean(x[2000:-2000] ** 2)))
    assert abs(level) < 3.0


def test_other_input_rates_come_back_at_16k() -> None:
    y, sr = opus(_tone(8000, 300.0), 8000)
    assert sr == 16000 and len(y) == 32000
    y, sr = mp3(_tone(44100, 300.0, 1.0), 44100)
    assert sr == 16000 and len(y) == 16000


def test_lost_packets_are_drawn_at_the_asked_rate_and_fixed_by_the_seed() -> None:
    lost = lost_packets(20000, 0.1, 7)
    assert abs(lost.mean() - 0.1) < 0.01
    assert np.array_equal(lost, lost_packets(20000, 0.1, 7)) and not np.array_equal(lost, lost_packets(20000, 0.1, 8))
    assert not lost_packets(100, 0.0, 7).any()


def test_lost_packets_are_concealed_by_the_decoder_not_dropped() -> None:
    # A rising chirp, so any concealed 20 ms differs from what was sent.
    t = np.arange(16000 * 2) / 16000
    x = (0.3 * np.sin(2 * np.pi * (200 * t + 400 * t ** 2))).astype(np.float32)
    clean, _ = opus(x, 16000, OPUS_RATES[1])
    lossy, sr = opus(x, 16000, OPUS_RATES[1], loss=0.3, seed=7)
    again, _ = opus(x, 16000, OPUS_RATES[1], loss=0.3, seed=7)
    assert sr == 16000 and len(lossy) == len(x) and np.array_equal(lossy, again)
    frames = np.abs(lossy - clean)[: len(x) // 320 * 320].reshape(-1, 320).max(axis=1)
    assert np.mean(frames > 0.05) > 0.15  # about 30 % lost (and a low-rate decoder drifts in phase after a loss)
    # Concealment keeps the timeline: at 10 % loss (this seed loses 10 of 101 packets, none two in a row
    # long enough to fade out) every 20 ms carries sound; a dropped packet would instead shift the rest
    # earlier and leave silence at the end. Long runs of losses do fade out, as real concealment does.
    assert lost_packets(101, 0.1, 0).sum() == 10
    ten, _ = opus(x, 16000, OPUS_RATES[1], loss=0.1, seed=0)
    rms = np.sqrt(np.mean(ten[: len(x) // 320 * 320].reshape(-1, 320) ** 2, axis=1))
    assert rms.min() > 0.01 and rms[-3:].min() > 0.05
    mid, ref = ten[2000:-2000], clean[2000:-2000]
    assert abs(20 * np.log10(np.sqrt(np.mean(mid ** 2)) / np.sqrt(np.mean(ref ** 2)))) < 6.0


@pytest.mark.needs_data
def test_coded_speech_stays_aligned_with_the_input(shared_data: Path) -> None:
    from s2f_desktop.inference.features import decode_mono

    x, sr = decode_mono(sorted((shared_data / "librispeech-train-clean-251").glob("*.flac"))[3])
    seg = x[16000:48000]

    def lag(y: np.ndarray) -> int:
        scores = [float(np.dot(y[16000 + k:48000 + k], seg)) for k in range(-300, 301)]
        return int(np.argmax(scores)) - 300

    for y in (opus(x, sr)[0], opus(x, sr, OPUS_RATES[1])[0], mp3(x, sr)[0]):
        assert len(y) == len(x) and abs(lag(y)) <= 2  # the codec's delay removed, not left at the start


@pytest.mark.needs_data
def test_the_gate_sees_low_rate_opus_as_telephone_band_and_16_kbits_as_wideband(shared_data: Path) -> None:
    from s2f_desktop.audio.quality import assess
    from s2f_desktop.inference.features import decode_mono, speech_regions

    x, sr = decode_mono(sorted((shared_data / "librispeech-train-clean-251").glob("*.flac"))[3])
    for kw, narrow in (({}, False), ({"bitrate": OPUS_RATES[1]}, True),
                       ({"bitrate": OPUS_RATES[1], "loss": 0.1, "seed": 3}, True)):
        y, ys = opus(x, sr, **kw)
        q = assess(y, ys, speech_regions(y, ys))
        assert q.telephone_band == narrow, (kw, q.bandwidth_hz)


@pytest.mark.needs_data
def test_g711_and_g723_1_code_speech_as_their_standards_do(shared_data: Path) -> None:
    from s2f_desktop.inference.features import decode_mono

    x, sr = decode_mono(sorted((shared_data / "librispeech-train-clean-251").glob("*.flac"))[3])
    ref = narrowband(x, sr)
    seg = ref[8000:24000]

    def lag_and_snr(y: np.ndarray) -> tuple[int, float]:
        k = int(np.argmax([float(np.dot(y[8000 + k:24000 + k], seg)) for k in range(-50, 400)])) - 50
        e = y[8000 + k:24000 + k] - seg
        return k, float(10 * np.log10(np.sum(seg ** 2) / np.sum(e ** 2)))

    # G.711 is 8-bit mu-law sample by sample: no delay, and about 38 dB of signal to quantisation noise on
    # speech (neither lossless nor worse than its 8 bits allow).
    y, ys = g711(x, sr)
    lag, snr = lag_and_snr(y)
    assert ys == 8000 and len(y) == len(ref) and lag == 0 and 33.0 < snr < 42.0
    # G.723.1 looks 7.5 ms (60 samples) ahead and rebuilds the waveform only roughly (an analysis-by-synthesis
    # coder, MP-MLQ at 6.3 kbit/s).
    y, ys = g723_1(x, sr)
    lag, snr = lag_and_snr(y)
    assert ys == 8000 and len(y) == len(ref) and lag == 60 and 5.0 < snr < 20.0


def _g711_levels(law: str) -> np.ndarray:
    """The 16-bit values a G.711 decoder can output (ITU-T G.711's reconstruction levels, as the
    reference code computes them)."""
    out = []
    for code in range(256):
        if law == "mu":
            v = ~code & 0xFF
            t = (((v & 0x0F) << 3) + 0x84) << ((v & 0x70) >> 4)
            out.append((0x84 - t) if v & 0x80 else (t - 0x84))
        else:
            a = code ^ 0x55
            seg, t = (a & 0x70) >> 4, (a & 0x0F) << 4
            t = t + 8 if seg == 0 else (t + 0x108 if seg == 1 else (t + 0x108) << (seg - 1))
            out.append(t if a & 0x80 else -t)
    return np.array(sorted(set(out)))


def test_the_tandem_call_is_amr_nb_samples_coded_again_as_g711_mu_law() -> None:
    x = np.random.default_rng(1).standard_normal(16000 * 2).astype(np.float32) * 0.1
    y, sr = amr_nb_to_g711(x, 16000)
    a, _ = amr_nb(x, 16000)
    levels = _g711_levels("mu")
    yi = np.round(y.astype(np.float64) * 32768).astype(int)
    assert sr == 8000 and len(y) == len(a) and np.isin(yi, levels).all()  # mu-law's levels ...
    assert np.isin(yi, _g711_levels("a")).mean() < 0.2  # ... not A-law's
    # Each sample is the AMR-NB sample quantised (within one step of its level): the gateway codes the
    # samples as they come, without filtering them a second time.
    i = np.searchsorted(levels, yi)
    step = np.maximum(np.diff(levels, prepend=levels[0])[i], np.diff(levels, append=levels[-1])[i])
    assert (np.abs(yi - np.round(a.astype(np.float64) * 32767)) <= step).all()
    assert not np.array_equal(y, g711(a, 8000)[0])  # g711() would band-pass the call again


def test_bursty_losses_keep_the_asked_rate_in_runs_of_the_asked_length() -> None:
    assert BURST_PACKETS == 3.0  # the card and README describe bursts of 3 packets (60 ms)
    lost = lost_packets(200000, 0.1, 7, BURST_PACKETS)
    runs = np.diff(np.flatnonzero(np.diff(np.concatenate([[0], lost.astype(int), [0]]))))[::2]
    assert abs(lost.mean() - 0.1) < 0.004 and abs(runs.mean() - BURST_PACKETS) < 0.1
    # The Gilbert model's transitions: a lost packet is followed by another with probability 1 - 1/3, a
    # received one by a lost one with 0.1 / (3 * 0.9) = 0.037.
    prev, nxt = lost[:-1], lost[1:]
    assert abs(nxt[prev].mean() - 2 / 3) < 0.01 and abs(nxt[~prev].mean() - 0.1 / 2.7) < 0.003
    # The first packet is drawn from the stationary distribution (lost 10 % of the time), not from one state.
    first = np.mean([lost_packets(1, 0.1, s, BURST_PACKETS)[0] for s in range(4000)])
    assert 0.08 < first < 0.12
    assert np.array_equal(lost, lost_packets(200000, 0.1, 7, BURST_PACKETS))
    single = lost_packets(50000, 0.1, 7)  # the independent channel is unchanged: runs of about 1.1 packets
    runs1 = np.diff(np.flatnonzero(np.diff(np.concatenate([[0], single.astype(int), [0]]))))[::2]
    assert runs1.mean() < 1.2 and np.array_equal(single, np.random.default_rng(7).random(50000) < 0.1)
    assert not lost_packets(0, 0.1, 7, BURST_PACKETS).size and not lost_packets(50, 0.0, 7).any()


@pytest.mark.parametrize(("loss", "burst"), [(1.0, 1.0), (-0.1, 1.0), (0.8, 3.0), (0.1, 0.5)])
def test_a_loss_the_model_cannot_produce_is_refused(loss: float, burst: float) -> None:
    with pytest.raises(ValueError):
        lost_packets(100, loss, 1, burst)


def test_decoded_samples_are_scaled_by_their_format_not_their_level() -> None:
    # G.723.1's decoder answers digital silence with a few least significant bits (up to 2 of 32768): they
    # must come back as a whisper, not as +6 dBFS, as a level-based guess at the sample format made them.
    y, _ = g723_1(np.zeros(16000, np.float32), 16000)
    assert float(np.abs(y).max()) < 1e-3
    x = _tone(16000, 440.0) * 1e-3  # a quiet call keeps its level through G.711
    z, _ = g711(x, 16000)
    ref = narrowband(x, 16000)[2000:-2000]
    assert abs(20 * np.log10(np.sqrt(np.mean(z[2000:-2000] ** 2)) / np.sqrt(np.mean(ref ** 2)))) < 3.0


def test_the_bursty_call_variant_loses_packets_in_bursts(tmp_path: Path) -> None:
    import soundfile as sf

    from s2f_desktop.training.degrade import clip_seed
    from s2f_desktop.training.features import variant_audio

    x = np.random.default_rng(2).standard_normal(16000 * 3).astype(np.float32) * 0.1
    f = tmp_path / "clip.wav"
    sf.write(f, x, 16000, subtype="FLOAT")
    y, sr = variant_audio(f, "opus-16000-burst10")
    want, _ = opus(x, 16000, 16000, 0.1, clip_seed(f.name, "opus-16000-burst10"), BURST_PACKETS)
    assert sr == 16000 and np.array_equal(y, want)
    assert not np.array_equal(y, opus(x, 16000, 16000, 0.1, clip_seed(f.name, "opus-16000-burst10"))[0])
