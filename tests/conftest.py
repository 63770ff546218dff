"""Shared fixtures. Each test gets its own data and config directory.

Fixtures that need external tools or data skip cleanly when those are absent:
espeak-ng (synthetic speech), Debian's asterisk prompts (real 8 kHz voices) and
``../shared/data`` (training/evaluation corpora).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterator

import numpy as np
import pytest
import soundfile as sf

# Before anything imports torch: one thread (2 shared cores; default threading is far slower).
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

if TYPE_CHECKING:
    from s2f_desktop.services.context import AppContext

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("S2F_SHARED_DATA", REPO.parent / "shared" / "data"))
ASTERISK_SOUNDS = Path("/usr/share/asterisk/sounds")


@pytest.fixture(autouse=True)
def _isolated_dirs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Never touch the real per-user folders."""
    monkeypatch.setenv("S2F_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("S2F_CONFIG_DIR", str(tmp_path / "config"))


@pytest.fixture
def ctx(tmp_path: Path) -> Iterator["AppContext"]:
    """An application context on a fresh data directory, acting as 'tester'."""
    from s2f_desktop.services.context import AppContext
    from s2f_desktop.store import open_store

    c = AppContext(open_store(tmp_path / "data"), "tester")
    yield c
    c.close()


@pytest.fixture
def case(ctx):  # type: ignore[no-untyped-def]
    """An open case numbered T-1."""
    from s2f_desktop.services.cases import create_case

    return create_case(ctx, "T-1", "Test case", agency="Test agency")


def write_wav(path: Path, x: np.ndarray, sr: int, subtype: str = "PCM_16") -> Path:
    """Write float samples in [-1, 1] as WAV."""
    sf.write(str(path), x, sr, subtype=subtype)
    return path


@pytest.fixture
def tone_wav(tmp_path: Path) -> Callable[..., Path]:
    """Factory: a sine tone WAV (freq Hz, seconds, rate, amplitude, channels)."""

    def make(freq: float = 440.0, seconds: float = 2.0, sr: int = 16000, amp: float = 0.5, channels: int = 1,
             name: str | None = None) -> Path:
        t = np.arange(int(seconds * sr)) / sr
        x = amp * np.sin(2 * np.pi * freq * t)
        if channels > 1:
            x = np.stack([x] * channels, axis=1)
        return write_wav(tmp_path / (name or f"tone_{freq:g}_{sr}_{channels}.wav"), x, sr)

    return make


def have_espeak() -> bool:
    """Whether espeak-ng is installed."""
    return shutil.which("espeak-ng") is not None


@pytest.fixture
def speech_wav(tmp_path: Path) -> Callable[..., Path]:
    """Factory: synthetic speech from espeak-ng (skips when espeak-ng is absent).

    ``voice`` is an espeak-ng voice such as ``en-us+m3`` (male) or ``en-us+f3`` (female).
    """
    if not have_espeak():
        _missing("espeak-ng is not installed")

    def make(text: str, voice: str = "en-us+m3", name: str = "speech.wav", pitch: int | None = None,
             speed: int | None = None) -> Path:
        out = tmp_path / name
        cmd = ["espeak-ng", "-v", voice, "-w", str(out)]
        if pitch is not None:
            cmd += ["-p", str(pitch)]
        if speed is not None:
            cmd += ["-s", str(speed)]
        subprocess.run(cmd + [text], check=True, capture_output=True)
        return out

    return make


@pytest.fixture
def shared_data() -> Path:
    """``../shared/data`` (skips when absent)."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"shared data not found at {SHARED_DATA}")
    return SHARED_DATA


#: Set by ``make test``, which installs espeak-ng and the asterisk prompts first: a missing one is then a failure.
REQUIRE_REAL_VOICES = os.environ.get("S2F_REQUIRE_REAL_VOICES") == "1"


def english_prompts_dir() -> Path | None:
    """The English asterisk prompts in either layout: Debian 12's ``en_US_f_Allison/`` or the older ``en/``."""
    for sub in ("en_US_f_Allison", "en"):
        d = ASTERISK_SOUNDS / sub
        if d.is_dir() and any(d.glob("*.wav")):
            return d
    return None


def _missing(what: str) -> None:
    if REQUIRE_REAL_VOICES:
        pytest.fail(f"{what} (make test installed it: S2F_REQUIRE_REAL_VOICES=1)")
    pytest.skip(what)


@pytest.fixture(scope="session")
def real_voices() -> None:
    """espeak-ng and the English asterisk prompts are both installed (the report's sample case needs them)."""
    if not have_espeak():
        _missing("espeak-ng is not installed")
    if english_prompts_dir() is None:
        _missing(f"asterisk-core-sounds-en-wav is not installed under {ASTERISK_SOUNDS}")


@pytest.fixture
def asterisk_sounds() -> Path:
    """Debian's English asterisk prompts (real 8 kHz voices): the folder holding the .wav prompts."""
    d = english_prompts_dir()
    if d is None:
        _missing(f"asterisk-core-sounds-en-wav is not installed under {ASTERISK_SOUNDS}")
    assert d is not None
    return d


@pytest.fixture
def pulse_null_sink(tmp_path: Path) -> Iterator[dict[str, str]]:
    """A private PulseAudio server whose default sink is a null sink (and default source its monitor).

    Yields the environment that reaches it; while the test runs, this process's ``XDG_RUNTIME_DIR``,
    ``PULSE_RUNTIME_PATH`` and ``HOME`` point there too. PulseAudio is a ``make sysdeps`` package:
    missing or failing, the test fails rather than skips.
    """
    if shutil.which("pulseaudio") is None or shutil.which("pactl") is None:
        pytest.fail("pulseaudio/pactl missing: install the system packages with `make sysdeps`")
    env = dict(os.environ, XDG_RUNTIME_DIR=str(tmp_path / "xdg"), HOME=str(tmp_path),
               PULSE_RUNTIME_PATH=str(tmp_path / "xdg" / "pulse"))
    os.makedirs(env["XDG_RUNTIME_DIR"], mode=0o700)
    start = subprocess.run(["pulseaudio", "--daemonize=yes", "--exit-idle-time=-1", "-n",
                            "--load=module-native-protocol-unix", "--load=module-null-sink sink_name=s2fnull",
                            "--load=module-always-sink"], check=False, env=env, capture_output=True, text=True)
    if start.returncode != 0:
        pytest.fail(f"pulseaudio did not start: {start.stderr.strip()[:200]}")
    subprocess.run(["pactl", "set-default-sink", "s2fnull"], env=env, check=False)
    subprocess.run(["pactl", "set-default-source", "s2fnull.monitor"], env=env, check=False)
    old = {k: os.environ.get(k) for k in ("XDG_RUNTIME_DIR", "PULSE_RUNTIME_PATH", "HOME")}
    os.environ.update({k: env[k] for k in old})
    try:
        yield env
    finally:
        subprocess.run(["pulseaudio", "--kill"], env=env, check=False)
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


@pytest.fixture
def reporter(qtbot):  # type: ignore[no-untyped-def]
    """The GUI's error reporter without modal dialogs; what it reported is kept in ``reporter.shown``."""
    from s2f_desktop.gui.errors import ErrorReporter  # Qt only for the GUI tests that ask for it

    rep = ErrorReporter()
    rep.show_dialogs = False
    shown: list[tuple[str, str]] = []
    rep.reported.connect(lambda t, m: shown.append((t, m)))
    rep.shown = shown  # type: ignore[attr-defined]
    return rep
