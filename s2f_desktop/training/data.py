"""The training corpora under ``../shared/data`` (read-only; never copied into the repo).

* ``avspeech-968``: natural speech from online videos with one face frame per clip; sex
  and age labels come from the face (see :mod:`s2f_desktop.training.teacher`). Clip ids are
  ``YOUTUBEID_START-END``; the YouTube id is the grouping unit for splits.
* ``librispeech-train-clean-251``: one read utterance per speaker, sex from SPEAKERS.TXT
  (no ages). The speaker is the grouping unit.
* ``librispeech-test-other-10x10``: 10 speakers x 10 utterances, used only to calibrate the
  speaker-consistency threshold (never for the trait heads).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from s2f_desktop.core.errors import InputError

AVSPEECH = "avspeech-968"
LIBRI_TRAIN = "librispeech-train-clean-251"
LIBRI_TEST = "librispeech-test-other-10x10"


@dataclass(frozen=True)
class Item:
    """One training clip: where it is, which group it splits with, and its given labels."""

    id: str
    path: Path
    source: str
    group: str
    sex: str | None = None  # 'male' / 'female' where the corpus gives it
    face: Path | None = None


def read_speakers(path: Path) -> dict[str, str]:
    """LibriSpeech SPEAKERS.TXT -> {speaker id: 'male'|'female'}."""
    out: dict[str, str] = {}
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        if line.startswith(";") or "|" not in line:
            continue
        parts = [p.strip() for p in line.split("|")]
        if parts[1] in ("M", "F"):
            out[parts[0]] = "male" if parts[1] == "M" else "female"
    return out


_CLIP = re.compile(r"^(?P<vid>.+)_(?P<start>\d+\.\d+)-(?P<end>\d+\.\d+)$")


def avspeech_items(root: Path) -> list[Item]:
    """Clips of avspeech-968 that have both audio and a face frame, grouped by YouTube id."""
    base = root / AVSPEECH
    if not base.is_dir():
        raise InputError(f"{base} not found")
    items = []
    for p in sorted((base / "audio").glob("*.flac")):
        m = _CLIP.match(p.stem)
        face = base / "faces" / f"{p.stem}.jpg"
        if m and face.is_file():
            items.append(Item(p.stem, p, AVSPEECH, f"yt:{m['vid']}", None, face))
    return items


def librispeech_items(root: Path, folder: str = LIBRI_TRAIN) -> list[Item]:
    """LibriSpeech utterances with the speaker's sex, grouped by speaker."""
    base = root / folder
    if not base.is_dir():
        raise InputError(f"{base} not found")
    sexes = read_speakers(base / "SPEAKERS.TXT")
    items = []
    for p in sorted(base.rglob("*.flac")):
        spk = p.stem.split("-")[0]
        if spk in sexes:
            items.append(Item(f"ls:{p.stem}", p, folder, f"ls:{spk}", sexes[spk]))
    return items
