"""Segment label files: Praat TextGrid and Audacity labels (read and write).

Pure text handling, no store: :mod:`s2f_desktop.services.segments` turns
:class:`LabelInterval` lists into segments and back. Times are seconds.

Encoding of s2f segments in the two formats (chosen so a file round-trips):

* **TextGrid** (Praat "long" text format when written; long and short read, UTF-8 or
  UTF-16): one interval tier per speaker group, named after the speaker tag
  (``segments`` for segments without one). An interval's text is the segment's label;
  an unlabelled segment is written as ``(speech)`` because an empty interval is a gap
  in Praat. Overlapping segments of one speaker go to extra tiers named ``A (2)``,
  ``A (3)``…, since intervals of one tier cannot overlap. Point tiers are ignored.
* **Audacity labels** (``.txt``: ``start<TAB>end<TAB>text`` per line): the text is
  ``[speaker] label``; Audacity's spectral-selection lines (starting with ``\\``) are
  skipped.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Sequence

from s2f_desktop.core.errors import InputError

UNLABELLED = "(speech)"
DEFAULT_TIER = "segments"
_OVERFLOW = re.compile(r"^(.*) \((\d+)\)$")
_TOKEN = re.compile(r'("(?:[^"]|"")*")|(\[\s*\d+\s*\])|(-?\d+(?:\.\d*)?(?:[eE][-+]?\d+)?)')
_SPEAKER = re.compile(r"^\[([^\]]*)\]\s?(.*)$", re.DOTALL)


@dataclass(frozen=True)
class LabelInterval:
    """One labelled time range."""

    start_s: float
    end_s: float
    label: str = ""
    speaker: str = ""


def label_format(path: Path | str) -> str:
    """``"textgrid"`` or ``"audacity"`` from the file name's extension; InputError otherwise."""
    suffix = Path(path).suffix.lower()
    if suffix == ".textgrid":
        return "textgrid"
    if suffix == ".txt":
        return "audacity"
    raise InputError(f"{Path(path).name}: use a .TextGrid (Praat) or .txt (Audacity labels) file name")


def _read_text(path: Path) -> str:
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror or exc}") from exc
    for bom, enc in ((b"\xef\xbb\xbf", "utf-8-sig"), (b"\xff\xfe", "utf-16"), (b"\xfe\xff", "utf-16")):
        if raw.startswith(bom):
            return raw.decode(enc)
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


# ------------------------------------------------------------------------------ TextGrid
def parse_textgrid(text: str, name: str = "TextGrid") -> list[LabelInterval]:
    """Non-empty intervals of every interval tier (long or short text format)."""
    tokens: list[str | float] = []
    for m in _TOKEN.finditer(text):
        if m.group(1) is not None:
            tokens.append(m.group(1)[1:-1].replace('""', '"'))
        elif m.group(3) is not None:
            tokens.append(float(m.group(3)))
    pos = 0

    def take(kind: type) -> str | float:
        nonlocal pos
        if pos >= len(tokens) or not isinstance(tokens[pos], kind):
            raise InputError(f"{name}: not a Praat TextGrid (unexpected content near item {pos})")
        pos += 1
        return tokens[pos - 1]

    if take(str) != "ooTextFile" or take(str) != "TextGrid":
        raise InputError(f"{name}: not a Praat text TextGrid (binary TextGrids are not read; save as text)")
    take(float)
    take(float)
    n_tiers = int(take(float))
    out: list[LabelInterval] = []
    for _ in range(n_tiers):
        cls = take(str)
        tier = str(take(str))
        take(float)
        take(float)
        count = float(take(float))
        if not math.isfinite(count) or count < 0:
            raise InputError(f"{name}: tier {tier!r} gives {count} intervals; not a count")
        n = int(count)
        overflow = _OVERFLOW.match(tier)
        speaker = (overflow.group(1) if overflow else tier).strip()
        if speaker == DEFAULT_TIER:
            speaker = ""
        for _ in range(n):
            if cls == "IntervalTier":
                a, b, label = float(take(float)), float(take(float)), str(take(str))
                if label.strip():
                    out.append(LabelInterval(a, b, "" if label.strip() == UNLABELLED else label.strip(), speaker))
            else:  # TextTier: points carry no duration, so they cannot be segments
                take(float)
                take(str)
    return out


def _q(text: str) -> str:
    return '"' + text.replace('"', '""') + '"'


def _fmt(t: float) -> str:
    return f"{t:.6f}".rstrip("0").rstrip(".") if t else "0"


def write_textgrid(intervals: Sequence[LabelInterval], duration_s: float) -> str:
    """A long-format TextGrid of ``intervals`` over ``[0, duration_s]`` (gaps are empty intervals)."""
    tiers: dict[str, list[list[LabelInterval]]] = {}
    for iv in sorted(intervals, key=lambda i: (i.start_s, i.end_s)):
        lanes = tiers.setdefault(iv.speaker or DEFAULT_TIER, [])
        for lane in lanes:
            if lane[-1].end_s <= iv.start_s:
                lane.append(iv)
                break
        else:
            lanes.append([iv])
    named: list[tuple[str, list[LabelInterval]]] = []
    for speaker in sorted(tiers):
        for i, lane in enumerate(tiers[speaker]):
            named.append((speaker if i == 0 else f"{speaker} ({i + 1})", lane))
    lines = ['File type = "ooTextFile"', 'Object class = "TextGrid"', "", "xmin = 0", f"xmax = {_fmt(duration_s)}",
             "tiers? <exists>", f"size = {len(named)}", "item []:"]
    for t, (tier, lane) in enumerate(named, start=1):
        cells: list[tuple[float, float, str]] = []
        cursor = 0.0
        for iv in lane:
            if iv.start_s > cursor:
                cells.append((cursor, iv.start_s, ""))
            cells.append((iv.start_s, iv.end_s, iv.label or UNLABELLED))
            cursor = iv.end_s
        if cursor < duration_s:
            cells.append((cursor, duration_s, ""))
        lines += [f"    item [{t}]:", '        class = "IntervalTier"', f"        name = {_q(tier)}",
                  "        xmin = 0", f"        xmax = {_fmt(duration_s)}", f"        intervals: size = {len(cells)}"]
        for i, (a, b, text) in enumerate(cells, start=1):
            lines += [f"        intervals [{i}]:", f"            xmin = {_fmt(a)}", f"            xmax = {_fmt(b)}",
                      f"            text = {_q(text)}"]
    return "\n".join(lines) + "\n"


# ------------------------------------------------------------------------------ Audacity
def parse_audacity(text: str, name: str = "labels") -> list[LabelInterval]:
    """Intervals of an Audacity label file (point labels, with end = start, are refused by the caller)."""
    out: list[LabelInterval] = []
    for n, line in enumerate(text.splitlines(), start=1):
        if not line.strip() or line.startswith("\\"):
            continue
        parts = line.split("\t", 2)
        if len(parts) < 2:
            raise InputError(f"{name} line {n}: expected 'start<TAB>end<TAB>label'")
        try:
            a, b = float(parts[0].replace(",", ".")), float(parts[1].replace(",", "."))
        except ValueError as exc:
            raise InputError(f"{name} line {n}: start and end must be numbers of seconds") from exc
        label = parts[2].strip() if len(parts) > 2 else ""
        m = _SPEAKER.match(label)
        speaker, label = (m.group(1).strip(), m.group(2).strip()) if m else ("", label)
        out.append(LabelInterval(a, b, label, speaker))
    return out


def write_audacity(intervals: Iterable[LabelInterval]) -> str:
    """An Audacity label file (``start<TAB>end<TAB>[speaker] label``)."""
    lines = []
    for iv in sorted(intervals, key=lambda i: (i.start_s, i.end_s)):
        text = (f"[{iv.speaker}] " if iv.speaker else "") + iv.label
        lines.append(f"{iv.start_s:.6f}\t{iv.end_s:.6f}\t{text.strip()}")
    return "\n".join(lines) + ("\n" if lines else "")


def read_labels(path: Path | str) -> list[LabelInterval]:
    """Intervals of a ``.TextGrid`` or Audacity ``.txt`` file."""
    path = Path(path)
    fmt = label_format(path)
    text = _read_text(path)
    out = parse_textgrid(text, path.name) if fmt == "textgrid" else parse_audacity(text, path.name)
    for i, iv in enumerate(out, start=1):
        # float() takes "nan", "inf" and 1e400 (infinite): no interval of a recording starts or ends there.
        if not (math.isfinite(iv.start_s) and math.isfinite(iv.end_s)):
            raise InputError(f"{path.name}, interval {i}: start and end must be finite numbers of seconds "
                             f"(not {iv.start_s} - {iv.end_s})")
    return out


def render_labels(path: Path | str, intervals: Sequence[LabelInterval], duration_s: float) -> str:
    """The text of a label file for ``path``'s format."""
    return write_textgrid(intervals, duration_s) if label_format(path) == "textgrid" else write_audacity(intervals)
