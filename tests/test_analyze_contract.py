"""The ``s2f analyze FILES --json`` contract: the key paths (and their order) of release 0.1.0, exactly.

The project owner re-runs held-out sets through this command; the golden key lists were
written by release 0.1.0 (``tests/data/analyze_json_keys_0.1.0.json``) for a wideband file
and a telephone-band file (which adds ``reliable`` to the measures that need the upper band).
"""

from __future__ import annotations

import io
import json
from contextlib import redirect_stdout
from pathlib import Path
from typing import Any, Callable

import pytest

from s2f_desktop.cli.main import main as cli_main  # noqa: E402

GOLDEN = json.loads((Path(__file__).parent / "data" / "analyze_json_keys_0.1.0.json").read_text(encoding="utf-8"))
TEXT = "The committee met on Thursday morning to review the annual budget and the new library."


def key_paths(v: Any, prefix: str = "") -> list[str]:
    """Every key path of a JSON value in document order (a list of objects contributes its first element's)."""
    out: list[str] = []
    if isinstance(v, dict):
        for k, x in v.items():
            out.append(prefix + k)
            out += key_paths(x, prefix + k + ".")
    elif isinstance(v, list) and v and isinstance(v[0], dict):
        out += key_paths(v[0], prefix + "[].")
    return out


@pytest.mark.slow
def test_analyze_json_keys_are_those_of_release_0_1_0(speech_wav: Callable[..., Path], asterisk_sounds: Path) -> None:
    wide = speech_wav(TEXT, voice="en-us+m3", name="m.wav")
    phone = asterisk_sounds / "all-circuits-busy-now.wav"
    buf = io.StringIO()
    with redirect_stdout(buf):
        rc = cli_main(["analyze", str(wide), str(phone), "--device", "cpu", "--json"])
    assert rc == 0
    first, second = (json.loads(line) for line in buf.getvalue().splitlines())
    assert key_paths(first) == GOLDEN["wideband"]
    assert key_paths(second) == GOLDEN["telephone"]
    assert first["quality"]["telephone_band"] is False and second["quality"]["telephone_band"] is True
