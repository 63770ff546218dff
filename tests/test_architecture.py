"""Architecture contracts: import-linter's static check, and what the CLI really loads at run time."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def test_import_linter_contracts_are_kept() -> None:
    """The [tool.importlinter] contracts in pyproject.toml (layers; Qt only in gui; no torch below services)."""
    lint = Path(sys.executable).with_name("lint-imports")
    assert lint.exists(), f"import-linter is not installed next to {sys.executable}"
    r = subprocess.run([str(lint), "--no-cache"], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout[-4000:] + r.stderr[-2000:]
    assert "0 broken" in r.stdout
    # Every contract named in pyproject.toml was checked.
    assert r.stdout.count(" KEPT") >= 4


def test_cli_starts_without_torch_or_qt() -> None:
    """Building the full parser imports every CLI command module; none may pull in torch or Qt.

    Command modules must import heavy services lazily (inside their handlers). If this
    fails, the offending chain is printed: the first s2f_desktop module that imported torch.
    """
    code = textwrap.dedent("""
        import json, sys
        import s2f_desktop.cli.main, s2f_desktop.services.cases, s2f_desktop.services.evidence
        s2f_desktop.cli.main.build_parser()
        heavy = sorted(m for m in sys.modules if m.split('.')[0] in ('torch', 'torchaudio', 'PySide6', 'shiboken6'))
        ours = sorted(m for m in sys.modules if m.startswith('s2f_desktop'))
        print(json.dumps({"heavy": heavy[:20], "ours": ours}))
    """)
    r = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=300,
                       env=dict(os.environ, OMP_NUM_THREADS="1"))
    assert r.returncode == 0, r.stderr[-3000:]
    seen = json.loads(r.stdout.strip().splitlines()[-1])
    assert seen["heavy"] == [], (
        f"the CLI start-up loaded {seen['heavy'][:5]}; s2f_desktop modules loaded: {seen['ours']}"
    )
    assert "s2f_desktop.cli.commands.case" in seen["ours"]


def test_case_list_runs_without_torch_or_qt(tmp_path: Path) -> None:
    """`s2f case list` end to end, with a guard that makes importing torch or Qt fail loudly."""
    guard = tmp_path / "guard"
    guard.mkdir()
    (guard / "sitecustomize.py").write_text(textwrap.dedent("""
        import sys
        class _Block:
            def find_spec(self, name, path=None, target=None):
                if name.split('.')[0] in ('torch', 'torchaudio', 'PySide6', 'shiboken6'):
                    raise ImportError(f'{name} must not be imported by `s2f case list`')
                return None
        sys.meta_path.insert(0, _Block())
    """))
    pythonpath = os.pathsep.join([str(guard), os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    env = dict(os.environ, PYTHONPATH=pythonpath)
    r = subprocess.run([sys.executable, "-m", "s2f_desktop.cli.main", "--data-dir", str(tmp_path / "d"),
                        "case", "list"], cwd=REPO, capture_output=True, text=True, timeout=300, env=env)
    assert r.returncode == 0, r.stderr[-3000:]
    assert "number" in r.stdout


def test_every_service_module_imports_without_torch_or_qt() -> None:
    """Services reach torch only lazily: importing all of them (as the GUI does) loads neither torch nor Qt.

    Module-level imports of torch-free data modules of ``face``/``inference`` are tolerated;
    anything that drags torch in at import time is not.
    """
    code = textwrap.dedent("""
        import importlib, json, pkgutil, sys
        import s2f_desktop.services as pkg
        names = sorted(m.name for m in pkgutil.iter_modules(pkg.__path__))
        culprits = {}
        for name in names:
            before = {m for m in sys.modules if m.split('.')[0] in ('torch', 'PySide6')}
            importlib.import_module(f"s2f_desktop.services.{name}")
            after = {m for m in sys.modules if m.split('.')[0] in ('torch', 'PySide6')}
            if after - before:
                culprits[name] = sorted(after - before)[:3]
        print(json.dumps({"modules": names, "culprits": culprits}))
    """)
    r = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=300,
                       env=dict(os.environ, OMP_NUM_THREADS="1"))
    assert r.returncode == 0, r.stderr[-3000:]
    seen = json.loads(r.stdout.strip().splitlines()[-1])
    assert {"cases", "evidence", "context"} <= set(seen["modules"])
    assert seen["culprits"] == {}, f"service modules that load torch/Qt when imported: {seen['culprits']}"
