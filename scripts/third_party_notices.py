"""Write THIRD_PARTY_NOTICES.txt from the installed distributions (``make notices``).

    python scripts/third_party_notices.py [--out resources/licenses/THIRD_PARTY_NOTICES.txt] [--check]

Run it with the interpreter of the environment that is being packaged (the runtime venv
for a bundle or a wheel). Exits 1, listing them, when a runtime requirement is not
installed or a distribution has no licence entry (see s2f_desktop/system/notices.py).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from s2f_desktop import __version__  # noqa: E402
from s2f_desktop.system import notices  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="third_party_notices", description=__doc__.splitlines()[0])
    p.add_argument("--out", type=Path, default=ROOT / "resources" / "licenses" / notices.NOTICES_FILE,
                   help="file to write (default: resources/licenses/THIRD_PARTY_NOTICES.txt)")
    p.add_argument("--check", action="store_true", help="only check that every runtime dependency has a licence entry")
    args = p.parse_args(argv)
    entries, missing = notices.collect(notices.project_requirements(ROOT / "pyproject.toml"))
    bad = [f"{name}: required at run time but not installed" for name in missing] + notices.problems(entries)
    for line in bad:
        print(f"third_party_notices: {line}", file=sys.stderr)
    if bad:
        return 1
    if not args.check:
        text = notices.render(entries, ROOT / "resources" / "licenses", __version__)
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text, encoding="utf-8")
        print(f"{args.out}: {len(entries)} distributions, {len(notices.SUPPLEMENTS)} supplements, "
              f"{len(text.encode()) // 1024} KiB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
