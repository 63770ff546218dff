"""Audio engine benchmarks: overview build vs plain read, peak memory, VAD speed, peaks fetch.

Inputs are generated in a temporary folder: a 48 kHz stereo 16-bit WAV and a mono MP3
(1 hour each; 5 minutes in quick mode) of noise bursts, plus a 3-hour WAV for the memory
target (full mode only). Each build/read runs in a fresh subprocess so its peak RSS
(``ru_maxrss`` of the child) is its own. Ratios compare runs made here, in this process.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf

SR = 48000


def _write(path: Path, seconds: float, channels: int, fmt: str, subtype: str) -> None:
    rng = np.random.default_rng(0)
    block = SR * 10
    with sf.SoundFile(str(path), "w", SR, channels, format=fmt, subtype=subtype) as f:
        done = 0
        total = int(seconds * SR)
        while done < total:
            n = min(block, total - done)
            t = (done + np.arange(n)) / SR
            env = ((t % 3.0) < 2.0).astype(np.float32)
            x = (0.3 * env * np.sin(2 * np.pi * 220 * t) + 0.02 * rng.standard_normal(n)).astype(np.float32)
            f.write(np.repeat(x[:, None], channels, axis=1) if channels > 1 else x)
            done += n


_CHILD = r"""
import json, resource, sys, time
mode, path = sys.argv[1], sys.argv[2]
t0 = time.perf_counter()
if mode == "read":
    from s2f_desktop.audio.decode import open_audio
    with open_audio(path) as src:
        for _ in src.blocks(0, src.frames, block_frames=262144, channel=None):
            pass
else:
    from s2f_desktop.audio.overview import build_overview
    build_overview(path, "0" * 64, sys.argv[3])
dt = time.perf_counter() - t0
print(json.dumps({"s": dt, "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def _child(mode: str, path: Path, cache: Path) -> dict:
    cache.mkdir(parents=True, exist_ok=True)
    for p in cache.glob("overview/*"):
        p.unlink()
    out = subprocess.run([sys.executable, "-c", _CHILD, mode, str(path), str(cache)], capture_output=True, text=True,
                         check=True, env=dict(os.environ, OMP_NUM_THREADS="1"))
    return json.loads(out.stdout.strip().splitlines()[-1])


def _vad(path: Path, seconds: float) -> tuple[float, float]:
    import torch
    from silero_vad import get_speech_timestamps, load_silero_vad

    from s2f_desktop.audio.decode import open_audio
    from s2f_desktop.inference.resample import resample
    from s2f_desktop.inference.vad import detect_speech_blocks

    n = int(seconds * SR)
    with open_audio(path) as src:
        t0 = time.perf_counter()
        detect_speech_blocks(src.blocks(0, n, channel="mix"), SR, total_frames=n)
        ours = time.perf_counter() - t0
        x16 = resample(src.read(0, n), SR, 16000)
    model = load_silero_vad()
    t0 = time.perf_counter()
    with torch.no_grad():
        get_speech_timestamps(torch.from_numpy(x16), model, sampling_rate=16000)
    direct = time.perf_counter() - t0
    return ours, direct


def run(quick: bool = False) -> list[dict]:
    """Rows for the README table (see the module docstring)."""
    from s2f_desktop.audio.overview import load_cached

    seconds = 300.0 if quick else 3600.0
    label = "5 min" if quick else "1 h"
    rows: list[dict] = []
    with tempfile.TemporaryDirectory(prefix="s2f-bench-") as tmp:
        tmp_p = Path(tmp)
        wav, mp3 = tmp_p / "long.wav", tmp_p / "long.mp3"
        _write(wav, seconds, 2, "WAV", "PCM_16")
        _write(mp3, seconds, 1, "MP3", "MPEG_LAYER_III")
        cache = tmp_p / "cache"
        for name, path in (("WAV 48k stereo", wav), ("MP3 48k mono", mp3)):
            read = _child("read", path, cache)
            build = _child("build", path, cache)
            rows.append({"benchmark": f"overview build, {label} {name}", "value": build["s"], "unit": "s",
                         "note": f"plain streaming read {read['s']:.2f} s"})
            rows.append({"benchmark": f"overview build / plain read, {name}", "value": build["s"] / read["s"],
                         "unit": "x", "target": "<= 2 (WAV)"})
            rows.append({"benchmark": f"overview build peak RSS, {label} {name}", "value": build["rss_mb"],
                         "unit": "MB", "note": f"plain read {read['rss_mb']:.0f} MB"})
        if not quick:
            wav3 = tmp_p / "three.wav"
            _write(wav3, 3 * 3600.0, 2, "WAV", "PCM_16")
            build = _child("build", wav3, cache)
            wav3.unlink()
            rows.append({"benchmark": "overview build peak RSS, 3 h WAV 48k stereo", "value": build["rss_mb"],
                         "unit": "MB", "target": "< 500", "note": f"build {build['s']:.1f} s"})
        # Peaks fetch: full-width (1920 px) views at zooms from the whole file to 0.1 s.
        _child("build", wav, cache)
        ov = load_cached(cache, "0" * 64)
        assert ov is not None
        worst = 0.0
        for span in (ov.frames, ov.frames // 10, SR * 600, SR * 60, SR * 5, SR // 10):
            starts = np.linspace(0, max(0, ov.frames - span), 20).astype(int)
            times = []
            for s0 in starts:
                t0 = time.perf_counter()
                ov.peaks(int(s0), int(s0) + span, 1920)
                times.append(time.perf_counter() - t0)
            worst = max(worst, float(np.median(times)))
        rows.append({"benchmark": "peaks fetch, 1920 px, worst zoom (median of 20)", "value": worst * 1000,
                     "unit": "ms", "target": "< 20", "note": "zooms: whole file to 0.1 s"})
        vad_s = 120.0 if quick else 600.0
        ours, direct = _vad(wav, vad_s)
        rows.append({"benchmark": "VAD time per hour of 48 kHz audio (streamed)", "value": ours * 3600 / vad_s,
                     "unit": "s/h", "note": f"measured on {vad_s / 60:.0f} min, 1 CPU thread"})
        rows.append({"benchmark": "VAD streamed / direct silero call", "value": ours / direct, "unit": "x",
                     "note": "direct = get_speech_timestamps on pre-resampled 16 kHz audio (no decode/resample)"})
    return rows
