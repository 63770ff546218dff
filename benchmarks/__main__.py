"""Run the benchmarks and print one Markdown table per module.

Usage: ``python -m benchmarks [--only NAME ...] [--quick]``. Results are also written to
``bench-results/<module>.md`` so the README's table can be refreshed from them.
Each module's ``run(quick)`` returns rows: dicts with ``benchmark``, ``value``, ``unit``,
and optional ``target`` and ``note``.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import platform
import sys
import time
from pathlib import Path

import benchmarks as pkg

OUT = Path(__file__).resolve().parents[1] / "bench-results"


def table(rows: list[dict]) -> str:
    """Rows → Markdown table."""
    lines = ["| benchmark | value | unit | target | note |", "|---|---:|---|---|---|"]
    for r in rows:
        v = r["value"]
        if isinstance(v, float):
            vs = f"{v:.0f}" if abs(v) >= 100 else f"{v:.3g}"
        else:
            vs = str(v)
        lines.append(f"| {r['benchmark']} | {vs} | {r.get('unit', '')} | {r.get('target', '')} | {r.get('note', '')} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks")
    parser.add_argument("--only", nargs="*", default=None, help="module names, e.g. bench_audio")
    parser.add_argument("--quick", action="store_true", help="smaller inputs, for a smoke run")
    args = parser.parse_args(argv)
    names = sorted(m.name for m in pkgutil.iter_modules(pkg.__path__) if m.name.startswith("bench_"))
    if args.only:
        names = [n for n in names if n in args.only or n.removeprefix("bench_") in args.only]
    OUT.mkdir(exist_ok=True)
    header = f"Machine: {platform.processor() or platform.machine()}, Python {platform.python_version()}, " \
             f"{time.strftime('%Y-%m-%d')}"
    print(header)
    for name in names:
        mod = importlib.import_module(f"benchmarks.{name}")
        print(f"\n## {name}\n", flush=True)
        t0 = time.perf_counter()
        rows = mod.run(quick=args.quick)
        md = table(rows)
        print(md)
        print(f"\n({time.perf_counter() - t0:.0f} s)", flush=True)
        (OUT / f"{name}.md").write_text(f"{header}\n\n{md}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
