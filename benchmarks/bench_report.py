"""Report benchmark: time and size of the PDF report of a real case.

The case is the one the report tests use (:func:`s2f_desktop.services.samplecase.build_sample_case`):
built through the services from real speech (espeak-ng dialogue, asterisk telephone prompts,
a fragment the models abstain on), analysed by the shipped models on the CPU, with a
composite set (primary, age ends and an analyst edit) of the two-turn male run rendered at
512 px. Only the report is timed; building the case is not.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from datetime import datetime
from pathlib import Path

#: A fixed report date so the benchmark's reports are reproducible.
FIXED_DATE = datetime(2026, 3, 14, 9, 30, 0)


def run(quick: bool = False) -> list[dict]:
    """Time (median of several renders) and size of the report of the sample case's composite run."""
    from s2f_desktop.services.context import AppContext
    from s2f_desktop.services.reports import build_report
    from s2f_desktop.services.samplecase import build_sample_case
    from s2f_desktop.store import open_store

    repeats = 2 if quick else 5
    size = 128 if quick else 512
    with tempfile.TemporaryDirectory() as tmp:
        ctx = AppContext(open_store(Path(tmp) / "data"), "bench")
        try:
            sc = build_sample_case(ctx, Path(tmp) / "in", composite_size=size)
            times, sizes, pages = [], [], 0
            for i in range(repeats):
                t0 = time.perf_counter()
                res = build_report(ctx, sc.number, out=Path(tmp) / f"r{i}.pdf", run_id=sc.male_run.id,
                                   generated_at=FIXED_DATE, record=False)
                times.append(time.perf_counter() - t0)
                sizes.append(res.path.stat().st_size)
                pages = res.pages
            png_bytes = sum(p.stat().st_size for p in ctx.store.layout.composites.rglob("*.png"))
        finally:
            ctx.close()
    n = len(sc.composites)
    return [
        {"benchmark": f"report, {n} composites: build time (median)", "value": statistics.median(times),
         "unit": "s", "target": "< 5 s", "note": f"{repeats} runs, two-pass render, min {min(times):.2f} s"},
        {"benchmark": f"report, {n} composites: file size", "value": round(sizes[-1] / 1024, 1), "unit": "KiB",
         "target": "< 5 MiB", "note": f"{pages} pages; fonts subset-embedded; {n} front views at {size} px "
                                       f"(PNG inputs {png_bytes / 1024:.0f} KiB)"},
    ]
