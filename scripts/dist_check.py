"""Check an installed s2f-desktop wheel from OUTSIDE the source tree (``make dist-check``).

    VENV/bin/python scripts/dist_check.py SAMPLE.wav

Run with the clean venv's interpreter, from a directory that is not the checkout (the
Makefile runs it from a temporary folder), so nothing can be found through the checkout.
Checks: the package comes from site-packages; models/ and resources/ are found as package
data; training-only files are absent; the licence documents and generated notices are
installed; ``s2f --version``, ``s2f-train --version`` and ``s2f-desktop --version`` (without
a display) answer; ``s2f analyze SAMPLE --json`` gives a result with the documented keys.
Prints one line per check; exits 1 on the first failure.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def check(ok: bool, what: str) -> None:
    print(("ok    " if ok else "FAIL  ") + what, flush=True)
    if not ok:
        raise SystemExit(1)


def main() -> int:
    sample = Path(sys.argv[1]).resolve()
    bindir = Path(sys.executable).parent
    import s2f_desktop
    from s2f_desktop import __version__
    from s2f_desktop.system import env

    pkg = Path(s2f_desktop.__file__).resolve().parent
    check("site-packages" in str(pkg), f"s2f_desktop imported from the installed wheel ({pkg})")
    check(env.models_dir() == pkg / "models", f"models found as package data ({env.models_dir()})")
    check(env.resources_dir() == pkg / "resources", f"resources found as package data ({env.resources_dir()})")
    check((env.resources_dir() / "fonts" / "DejaVuSans.ttf").is_file(), "report fonts installed")
    check((env.models_dir() / "traits-v1" / "heads.npz").is_file(), "trait model installed")
    check(not (env.models_dir() / "traits-v1" / "teacher_labels.json").exists(), "teacher_labels.json not installed")
    check(not (pkg / "training" / "face_review.json").exists(), "face_review.json not installed")
    for name in ("LICENSE", "LICENSING.md", "THIRD_PARTY_NOTICES.txt"):
        check(env.licence_file(name) is not None, f"{name} installed ({env.licence_file(name)})")
    for exe in ("s2f", "s2f-train", "s2f-desktop"):
        e = dict(os.environ)
        e.pop("DISPLAY", None)
        e.pop("WAYLAND_DISPLAY", None)
        out = subprocess.run([str(bindir / exe), "--version"], capture_output=True, text=True, env=e, timeout=120)
        check(out.returncode == 0 and __version__ in out.stdout, f"{exe} --version -> {out.stdout.strip()!r}")
    out = subprocess.run([str(bindir / "s2f-desktop"), "--no-such-flag"], capture_output=True, text=True, timeout=120)
    check(out.returncode == 2 and "usage:" in out.stderr, "s2f-desktop rejects an unknown flag with its usage line")
    with tempfile.TemporaryDirectory() as data:
        e = dict(os.environ, S2F_DATA_DIR=data, OMP_NUM_THREADS="1")
        t0 = time.perf_counter()
        out = subprocess.run([str(bindir / "s2f"), "analyze", str(sample), "--json"], capture_output=True, text=True,
                             env=e, timeout=900)
        dt = time.perf_counter() - t0
        why = "" if out.returncode == 0 else ": " + out.stderr[-2000:]
        check(out.returncode == 0, f"s2f analyze {sample.name} --json exits 0 ({dt:.1f} s){why}")
        try:
            result = json.loads(out.stdout)
        except ValueError:  # one JSON object per line (several inputs)
            result = json.loads(out.stdout.strip().splitlines()[-1])
        check({"input", "quality", "traits", "model", "device"} <= set(result),
              f"analysis has the documented keys ({', '.join(sorted(result))})")
        check("sex" in result["traits"] and "age" in result["traits"], "traits carry sex and age")
        print(json.dumps({"device": result["device"], "model": result["model"], "sex": result["traits"]["sex"],
                          "age": result["traits"]["age"]}, indent=1)[:2000])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
