"""eGeMAPS-style parameters (:func:`s2f_desktop.training.egemaps.egemaps`) on CPU, one core.

Input: espeak-ng speech (as in ``bench_voice``), 10 s and 60 s at 16 kHz; median of runs,
imports and the mel filterbank warmed up first. Target from issue 13's experiment brief:
under 1 s per 10 s of speech on one core.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")


def run(quick: bool = False) -> list[dict]:
    from benchmarks.bench_voice import _median_time, speech
    from s2f_desktop.training.egemaps import egemaps

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for seconds in (10.0,) if quick else (10.0, 60.0):
            x = speech(seconds, Path(tmp))
            egemaps(x[:16000])
            t = _median_time(lambda x=x: egemaps(x), 1 if quick else 3)
            rows.append({"benchmark": f"egemaps, {seconds:.0f} s of speech", "value": t, "unit": "s",
                         "target": f"< {seconds / 10:.0f} s",
                         "note": f"{10 * t / seconds:.2f} s per 10 s of speech"})
    return rows
