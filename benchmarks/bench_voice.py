"""Voice analysis benchmark: our pipeline against the direct library calls, on CPU.

Input: espeak-ng speech (always installed; deterministic), concatenated to 10 s and 60 s.
* ``analysis`` = :meth:`Analyzer.analyze` on one part (silero VAD, quality gate, resampling,
  GE2E embedding, Praat measures, trait heads), models already loaded, median of runs.
* ``direct`` = the same work called straight on the libraries: silero-vad
  ``get_speech_timestamps``, resemblyzer ``preprocess_wav`` + ``VoiceEncoder.embed_utterance``,
  parselmouth two-pass pitch, Burg formants, harmonicity, jitter and shimmer.
* peak RSS of a fresh process that loads the models and analyses 60 s (``ru_maxrss``).
* batch: ``s2f analyze`` over N files in one process (the models load once), files/s.
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf

os.environ.setdefault("OMP_NUM_THREADS", "1")

SENTENCES = (
    "The committee met on Thursday morning to review the annual budget.",
    "After a long discussion about roads, schools and the new library, the members agreed to wait.",
    "The final vote was postponed until the auditors had finished their report on the accounts.",
    "Several residents asked whether the bridge repairs would be completed before the winter.",
    "The chair promised a written answer and closed the meeting shortly after noon.",
)
VOICES = ("en-us+m3", "en-us+f3", "en+m1", "en+f2")


def _espeak(text: str, voice: str, out: Path) -> np.ndarray:
    subprocess.run(["espeak-ng", "-v", voice, "-w", str(out), text], check=True, capture_output=True)
    x, sr = sf.read(str(out), dtype="float32")
    from scipy.signal import resample_poly

    return resample_poly(x, 16000, sr).astype(np.float32) if sr != 16000 else x


def speech(seconds: float, tmp: Path, voice: str = "en-us+m3") -> np.ndarray:
    """``seconds`` of 16 kHz espeak-ng speech (sentences repeated with 0.3 s pauses)."""
    parts, total, i = [], 0, 0
    while total < seconds * 16000:
        x = _espeak(SENTENCES[i % len(SENTENCES)], voice, tmp / "s.wav")
        parts += [x, np.zeros(4800, np.float32)]
        total += len(x) + 4800
        i += 1
    return np.concatenate(parts)[: int(seconds * 16000)]


def direct(x: np.ndarray, sr: int, vad_model, encoder) -> None:  # type: ignore[no-untyped-def]
    """The same analysis done with plain library calls (no glue, no quality gate, no heads)."""
    import parselmouth
    import torch
    from parselmouth.praat import call
    from resemblyzer import preprocess_wav
    from silero_vad import get_speech_timestamps

    ts = get_speech_timestamps(torch.from_numpy(x), vad_model, sampling_rate=sr)
    speech = np.concatenate([x[t["start"]:t["end"]] for t in ts]) if ts else x
    encoder.embed_utterance(preprocess_wav(speech, source_sr=sr))
    snd = parselmouth.Sound(speech.astype(np.float64), sampling_frequency=sr)
    p = snd.to_pitch_ac(time_step=0.01, pitch_floor=60, pitch_ceiling=700)
    f0 = p.selected_array["frequency"]
    q1, q3 = np.percentile(f0[f0 > 0], [25, 75])
    p = snd.to_pitch_ac(time_step=0.01, pitch_floor=0.75 * q1, pitch_ceiling=1.5 * q3)
    fm = snd.to_formant_burg(time_step=0.01, max_number_of_formants=5, maximum_formant=5000)
    [fm.get_value_at_time(i, t) for t in p.xs() for i in (1, 2, 3, 4)]
    snd.to_harmonicity_cc(time_step=0.01, minimum_pitch=0.75 * q1)
    pp = call(snd, "To PointProcess (periodic, cc)", 0.75 * q1, 1.5 * q3)
    call(pp, "Get jitter (local)", 0, 0, 0.0001, 0.02, 1.3)
    call([snd, pp], "Get shimmer (local)", 0, 0, 0.0001, 0.02, 1.3, 1.6)


def _median_time(fn, runs: int) -> float:  # type: ignore[no-untyped-def]
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


_RSS_SCRIPT = """
import resource, sys, numpy as np, soundfile as sf
from s2f_desktop.inference.analyzer import Part, get_analyzer
x, sr = sf.read(sys.argv[1], dtype="float32")
get_analyzer("cpu").analyze([Part("b", x, sr)])
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
"""


def run(quick: bool = False) -> list[dict]:
    """Benchmark rows (see the module docstring)."""
    if shutil.which("espeak-ng") is None:
        return [{"benchmark": "voice analysis", "value": "skipped", "unit": "", "note": "espeak-ng not installed"}]
    import torch
    from resemblyzer import VoiceEncoder
    from silero_vad import load_silero_vad

    from s2f_desktop.inference.analyzer import Part, get_analyzer

    torch.set_num_threads(1)
    rows: list[dict] = []
    runs = 1 if quick else 3
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        t0 = time.perf_counter()
        an = get_analyzer("cpu")
        rows.append({"benchmark": "model load (encoder, heads, VAD threshold file)", "value": time.perf_counter() - t0,
                     "unit": "s", "note": "once per process"})
        vad_model, encoder = load_silero_vad(), VoiceEncoder("cpu", verbose=False)
        for seconds in ((10,) if quick else (10, 60)):
            x = speech(seconds, tmp)
            an.analyze([Part("warm", x[:16000 * 5], 16000)])
            direct(x[:16000 * 5], 16000, vad_model, encoder)
            ours = _median_time(lambda: an.analyze([Part("b", x, 16000)]), runs)
            base = _median_time(lambda: direct(x, 16000, vad_model, encoder), runs)
            rows += [
                {"benchmark": f"analysis of {seconds} s of speech (CPU, 1 thread)", "value": ours, "unit": "s",
                 "note": f"median of {runs}"},
                {"benchmark": f"direct library calls, {seconds} s", "value": base, "unit": "s",
                 "note": "silero + resemblyzer + parselmouth"},
                {"benchmark": f"ratio pipeline / direct, {seconds} s", "value": ours / base, "unit": "x",
                 "target": "<= 1.5", "note": "glue: quality gate, resampling, heads, JSON"},
                {"benchmark": f"speed, {seconds} s", "value": seconds / ours, "unit": "x real time"},
            ]
        wav60 = tmp / "long.wav"
        sf.write(str(wav60), speech(10 if quick else 60, tmp), 16000)
        out = subprocess.run([sys.executable, "-c", _RSS_SCRIPT, str(wav60)], check=True, capture_output=True,
                             text=True, env={**os.environ, "OMP_NUM_THREADS": "1"})
        rows.append({"benchmark": f"peak RSS, fresh process analysing {10 if quick else 60} s", "value":
                     float(out.stdout.strip().splitlines()[-1]), "unit": "MiB", "note": "ru_maxrss incl. torch"})

        n = 10 if quick else 100
        files = []
        for i in range(n):
            f = tmp / f"b{i:03d}.wav"
            x = _espeak(" ".join(SENTENCES[i % 5: i % 5 + 2]), VOICES[i % len(VOICES)], f)
            sf.write(str(f), x, 16000)
            files.append(str(f))
        audio_s = sum(sf.info(f).duration for f in files)
        s2f = Path(sys.executable).with_name("s2f")
        cmd = [str(s2f)] if s2f.exists() else [sys.executable, "-m", "s2f_desktop.cli.main"]
        t0 = time.perf_counter()
        res = subprocess.run(cmd + ["analyze", *files, "--device", "cpu", "--json"], capture_output=True, text=True,
                             env={**os.environ, "OMP_NUM_THREADS": "1"})
        wall = time.perf_counter() - t0
        lines = [ln for ln in res.stdout.splitlines() if ln.strip()]
        rows += [
            {"benchmark": f"batch: s2f analyze over {n} files ({audio_s:.0f} s audio)", "value": wall, "unit": "s",
             "note": f"one process, models load once; {len(lines)} JSON lines, exit {res.returncode}"},
            {"benchmark": "batch throughput", "value": n / wall, "unit": "files/s"},
            {"benchmark": "batch speed", "value": audio_s / wall, "unit": "x real time"},
        ]
    return rows


if __name__ == "__main__":  # pragma: no cover
    for r in run(quick="--quick" in sys.argv):
        print(r)
