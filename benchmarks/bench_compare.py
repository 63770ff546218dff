"""Speaker comparison benchmark: our pipeline against the direct library calls, on CPU.

Input: espeak-ng speech (deterministic), 30 s per side, two voices.
* ``compare 30 s vs 30 s`` = :meth:`Comparator.compare` (quality gate on both sides, resampling,
  GE2E window embeddings, AS-norm against the cohort, calibration, bounds), models loaded, median.
* ``direct`` = resemblyzer ``preprocess_wav`` + ``VoiceEncoder.embed_utterance`` on both sides
  and a cosine (what the comparison adds to: no normalisation, no calibration).
* batch: ``compare_pairs`` over N pairs of distinct 10 s files in one process (models loaded once),
  pairs per second, each file's embedding reused across its pairs.
"""

from __future__ import annotations

import os
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf

os.environ.setdefault("OMP_NUM_THREADS", "1")


def _median_time(fn, n: int) -> float:  # type: ignore[no-untyped-def]
    ts = []
    for _ in range(n):
        t0 = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t0)
    return statistics.median(ts)


def run(quick: bool = False) -> list[dict]:
    import warnings

    from benchmarks.bench_voice import speech
    from s2f_desktop.inference.comparison import SidePart, get_comparator
    from s2f_desktop.services.comparison import compare_pairs

    rows: list[dict] = []
    reps = 1 if quick else 3
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        a = speech(30.0, tmp, "en-us+m3")
        b = speech(30.0, tmp, "en-us+f3")
        cmp = get_comparator("cpu")
        ours = _median_time(lambda: cmp.compare([SidePart("a", a, 16000)], [SidePart("b", b, 16000)]), reps)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            from resemblyzer import VoiceEncoder, preprocess_wav

            enc = VoiceEncoder("cpu", verbose=False)

        def direct() -> float:
            ea = enc.embed_utterance(preprocess_wav(a, 16000))
            eb = enc.embed_utterance(preprocess_wav(b, 16000))
            return float(np.dot(ea, eb))

        lib = _median_time(direct, reps)
        rows.append({"benchmark": "compare 30 s vs 30 s (ours, models loaded)", "value": ours, "unit": "s",
                     "note": "quality gate, GE2E windows, AS-norm, calibration, bounds"})
        rows.append({"benchmark": "30 s vs 30 s, direct resemblyzer embed + cosine", "value": lib, "unit": "s",
                     "note": f"ours / direct = {ours / lib:.2f}"})
        n_files = 4 if quick else 8
        voices = ("en-us+m3", "en-us+f3", "en+m1", "en+f2")
        files = []
        for i in range(n_files):
            p = tmp / f"f{i}.wav"
            # Each file starts elsewhere in its voice's speech: files of one voice must not be byte-identical
            # (compare refuses a recording compared with itself).
            sf.write(str(p), speech(11.0, tmp, voices[i % len(voices)])[i * 800: i * 800 + 10 * 16000], 16000)
            files.append(str(p))
        pairs = [(files[i], files[j]) for i in range(n_files) for j in range(n_files) if i < j]
        t0 = time.perf_counter()
        out = list(compare_pairs(pairs, device="cpu"))
        dt = time.perf_counter() - t0
        assert len(out) == len(pairs) and not any("error" in o for o in out)
        rows.append({"benchmark": f"batch --pairs ({len(pairs)} pairs of {n_files} distinct 10 s files)",
                     "value": len(pairs) / dt, "unit": "pairs/s", "note": "models loaded once; embeddings reused"})
    return rows


if __name__ == "__main__":  # pragma: no cover
    for r in run():
        print(r)
