"""Chain of custody: cost of the full verification, and peak memory of the longest analysis allowed.

* ``verify`` of a case with 10 recordings and 2,000 segments (each created and edited through
  the services, so 4,000+ bound events): wall time of the re-hash + chain + row replay.
* Peak resident memory of ``s2f analyze FILE --json`` on the longest range one analysis may
  read (:data:`s2f_desktop.services.analysis.MAX_SELECTION_S`, ten minutes; five with
  ``--quick``) of espeak-ng speech at 22.05 kHz, measured in a child process
  (``ru_maxrss`` of the child), models included. The issue's target is under 2 GB.
* The same for a 3-hour file (1 hour with ``--quick``): refused before anything is decoded.
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf


def _verify_rows(quick: bool) -> list[dict[str, Any]]:
    from s2f_desktop.services import cases, evidence, segments
    from s2f_desktop.services.context import AppContext
    from s2f_desktop.store import open_store

    n_files, n_segs = (3, 300) if quick else (10, 2000)
    with tempfile.TemporaryDirectory() as td:
        root = Path(td)
        ctx = AppContext(open_store(root / "data"), "bench")
        cases.create_case(ctx, "B-1", "Custody benchmark")
        sr = 16000
        ids = []
        for i in range(n_files):
            p = root / f"r{i}.wav"
            sf.write(str(p), 0.1 * np.sin(2 * np.pi * (200 + i) * np.arange(60 * sr) / sr), sr)
            ev = evidence.import_file(ctx, "B-1", p).evidence
            assert ev is not None
            ids.append(ev.id)
        for k in range(n_segs):
            ev_id = ids[k % n_files]
            a = (k // n_files) * 1000 % (50 * sr)
            g = segments.add_segment(ctx, "B-1", ev_id, a, a + 800)
            segments.update_segment(ctx, g.id, label=f"s{k}")
        n_events = len(evidence.audit_trail(ctx, "B-1")[0])
        t0 = time.perf_counter()
        report = evidence.verify_case(ctx, "B-1", record=False)
        dt = time.perf_counter() - t0
        assert report.ok, report.problems
        ctx.close()
    return [{"benchmark": f"verify: {n_files} recordings, {n_segs} segments, {n_events} events", "value": dt,
             "unit": "s", "note": "re-hash + chain + replay of every bound row"}]


def _analysis_memory(quick: bool) -> list[dict[str, Any]]:
    from s2f_desktop.services.analysis import MAX_SELECTION_S

    if shutil.which("espeak-ng") is None:
        return [{"benchmark": "peak memory, longest analysis", "value": "n/a", "unit": "",
                 "note": "espeak-ng not installed"}]
    seconds = min(300.0, MAX_SELECTION_S) if quick else MAX_SELECTION_S
    with tempfile.TemporaryDirectory() as td:
        root = Path(td)
        voice = root / "voice.wav"
        text = ("The parcel will be left at the back door tomorrow morning. Call me on the other number when it "
                "arrives, and do not tell anyone at the branch.")
        subprocess.run(["espeak-ng", "-v", "en-us+m3", "-w", str(voice), text], check=True, capture_output=True)
        x, sr = sf.read(str(voice), dtype="float32")  # espeak-ng's native 22.05 kHz
        unit = np.concatenate([x, np.zeros(sr, np.float32)])
        n = int(seconds * sr)
        long = np.resize(unit, n) + 0.001 * np.random.default_rng(0).standard_normal(n).astype(np.float32)
        path = root / "long.wav"
        sf.write(str(path), long, sr, subtype="PCM_16")
        env = dict(os.environ, OMP_NUM_THREADS="1", S2F_DATA_DIR=str(root / "data"))
        before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        t0 = time.perf_counter()
        r = subprocess.run([sys.executable, "-m", "s2f_desktop.cli.main", "analyze", str(path), "--device", "cpu",
                            "--json"], capture_output=True, text=True, env=env)
        dt = time.perf_counter() - t0
        peak_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        ok = r.returncode == 0 and "error" not in json.loads(r.stdout.splitlines()[0])
    note = "peak RSS of the child, models loaded" + ("" if ok else f" (FAILED: {r.stderr.strip()[:80]})")
    if peak_kb <= before:
        note += " (an earlier child had a higher peak; value is an upper bound)"
    what = f"analyze {seconds / 60:.0f} min of speech at {sr / 1000:g} kHz"
    return [{"benchmark": f"peak memory, {what}", "value": peak_kb / 1024, "unit": "MB", "target": "< 2048 MB",
             "note": note},
            {"benchmark": f"wall time, {what}", "value": dt, "unit": "s", "note": "CPU, 1 thread"}]


def _refusal_memory(quick: bool) -> list[dict[str, Any]]:
    """A selection far over the cap (3 hours) is refused before decoding: exit 2, baseline memory."""
    hours = 1.0 if quick else 3.0
    with tempfile.TemporaryDirectory() as td:
        path = Path(td) / "long.wav"
        sr = 16000
        minute = (0.1 * np.sin(2 * np.pi * 150 * np.arange(60 * sr) / sr)).astype(np.float32)
        with sf.SoundFile(str(path), "w", sr, 1, subtype="PCM_16") as f:
            for _ in range(int(hours * 60)):
                f.write(minute)
        env = dict(os.environ, OMP_NUM_THREADS="1", S2F_DATA_DIR=str(Path(td) / "data"))
        t0 = time.perf_counter()
        r = subprocess.run([sys.executable, "-c", "import resource, sys\n"
                            "from s2f_desktop.cli.main import main\n"
                            "rc = main(sys.argv[1:])\n"
                            "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, file=sys.stderr)\n"
                            "sys.exit(rc)", "analyze", str(path), "--device", "cpu", "--json"],
                           capture_output=True, text=True, env=env)
        dt = time.perf_counter() - t0
    peak_mb = int(r.stderr.strip().splitlines()[-1]) / 1024
    return [{"benchmark": f"analyze a {hours:g}-hour file: refused before decoding", "value": peak_mb, "unit": "MB",
             "target": "< 2048 MB", "note": f"exit {r.returncode} in {dt:.1f} s (peak RSS, models loaded)"}]


def run(quick: bool = False) -> list[dict[str, Any]]:
    """Benchmark rows (see the module docstring)."""
    return _verify_rows(quick) + _refusal_memory(quick) + _analysis_memory(quick)
