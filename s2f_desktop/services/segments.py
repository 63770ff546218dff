"""Segment services: the analyst's speech selection on an evidence item.

Segments are stored in samples at the evidence's native rate. Manual segments are
created ``accepted``; VAD proposals are ``suggested`` until the analyst accepts or
rejects them. Every change is validated (range inside the recording, case open) and
audited in the same transaction as the write; deletions record the whole segment so
an undo (:func:`restore_segment`) can put back exactly what was removed.
"""

from __future__ import annotations

import hashlib
import importlib
import re
from dataclasses import asdict
from pathlib import Path
from typing import Any, Iterable

from sqlalchemy.orm import Session

from s2f_desktop.audio.decode import open_audio
from s2f_desktop.core.errors import InputError, NotFoundError
from s2f_desktop.core.models import Case, Evidence, Segment, SegmentSource, SegmentStatus
from s2f_desktop.core.progress import Task, null_task
from s2f_desktop.core.text import check_text
from s2f_desktop.core.timeutil import fmt_clock, format_time
from s2f_desktop.services.cases import case_evidence, require_bound, require_open
from s2f_desktop.services.context import AppContext
from s2f_desktop.services.evidence import require_intact, safe_output, vault_path
from s2f_desktop.store import custody
from s2f_desktop.store import repositories as repo
from s2f_desktop.store.audit import append_event

# ASCII digits only (``\d`` would accept Arabic-Indic and other Unicode digits), bounded length.
_TIME = re.compile(r"^\s*(?:([0-9]{1,6}):)?(?:([0-9]{1,2}):)?([0-9]{1,9}(?:\.[0-9]{0,9})?|\.[0-9]{1,9})\s*s?\s*$",
                   re.ASCII)
#: A new VAD region overlapping a kept (accepted/rejected) VAD segment by at least this
#: share of its length is not suggested again: the analyst already decided on it.
VAD_OVERLAP_KEEP = 0.5


def require_disjoint(segments: Iterable[Segment], evidence: dict[int, Evidence], what: str = "the selection") -> None:
    """Refuse a selection in which two segments of one recording overlap.

    Pooled measures add the segments' speech: an overlap would count the same seconds twice (two
    segments with the same bounds doubled net speech and passed the 3 s minimum), and a comparison
    would hold the same audio on both sides. The analyst chooses which segment to keep.
    """
    by_ev: dict[int, list[Segment]] = {}
    for seg in segments:
        by_ev.setdefault(seg.evidence_id, []).append(seg)
    for ev_id, segs in by_ev.items():
        segs.sort(key=lambda g: (g.start_sample, g.end_sample))
        for a, b in zip(segs, segs[1:]):
            if b.start_sample < a.end_sample:
                def where(g: Segment) -> str:
                    return f"{format_time(g.start_s, 0.01)}-{format_time(g.end_s, 0.01)}"

                name = evidence[ev_id].original_name if ev_id in evidence else f"evidence #{ev_id}"
                raise InputError(f"{what} holds overlapping segments of {name} ({where(a)} and {where(b)}): the "
                                 "same speech would be counted twice; leave one of them out")

def parse_time(text: str) -> float:
    """Seconds from ``"12.5"``, ``"1:02.5"`` (m:ss) or ``"0:01:02"`` (h:mm:ss); InputError otherwise."""
    m = _TIME.match(str(text)) if len(str(text)) <= 40 else None
    if not m:
        raise InputError(f"invalid time {ascii(str(text)[:40])}: use seconds (12.5), m:ss(.s) or h:mm:ss(.s)")
    a, b, sec = m.groups()
    if a is not None and b is not None:
        hours, minutes = int(a), int(b)
    elif a is not None:
        hours, minutes = 0, int(a)
    else:
        hours, minutes = 0, 0
    seconds = float(sec)
    if (a is not None) and seconds >= 60:
        raise InputError(f"invalid time {text!r}: seconds must be below 60 after a colon")
    if hours and minutes >= 60:
        raise InputError(f"invalid time {text!r}: minutes must be below 60 after hours")
    return hours * 3600 + minutes * 60 + seconds


def _segment_dict(seg: Segment) -> dict[str, Any]:
    d = asdict(seg)
    d["source"] = seg.source.value
    d["status"] = seg.status.value
    d["created_at"] = seg.created_at.isoformat()
    return d


def _evidence_and_case(s: Session, evidence_id: int) -> tuple[Evidence, Case]:
    ev = repo.get_evidence(s, evidence_id)
    return ev, repo.get_case_by_id(s, ev.case_id)


def _check_range(ev: Evidence, start: int, end: int) -> None:
    # In seconds, as the analyst typed or dragged them (samples are the storage unit, not the user's).
    sr = ev.media.sample_rate
    if start < 0:
        raise InputError(f"segment start {start / sr:.3f} s is before the beginning of the recording")
    if end <= start:
        raise InputError(f"segment end ({end / sr:.3f} s) must come after its start ({start / sr:.3f} s)")
    if end > ev.media.frames:
        raise InputError(f"segment end {end / ev.media.sample_rate:.3f} s is past the end of "
                         f"{ev.original_name} ({ev.media.duration_s:.3f} s)")


def list_segments(ctx: AppContext, evidence_id: int, statuses: Iterable[SegmentStatus | str] | None = None
                  ) -> list[Segment]:
    """Segments of one evidence item in time order, optionally filtered by status."""
    sts = None if statuses is None else [SegmentStatus(st) for st in statuses]
    with ctx.store.read() as s:
        repo.get_evidence(s, evidence_id)
        return repo.list_segments(s, evidence_id, sts)


def get_segment(ctx: AppContext, segment_id: str) -> Segment:
    """One segment by id."""
    with ctx.store.read() as s:
        return repo.get_segment(s, segment_id)


def add_segment(ctx: AppContext, case_number: str, evidence_id: int, start_sample: int, end_sample: int,
                label: str = "", speaker_tag: str = "") -> Segment:
    """Add a manual (accepted) segment ``[start_sample, end_sample)`` to an evidence item of the case.

    A range that an accepted or suggested segment of the recording already has is refused: a twin adds nothing
    but a selection that counts the same speech twice (which analysis and comparison then refuse).
    """
    start, end = int(start_sample), int(end_sample)
    with ctx.store.write() as s:
        case, ev = case_evidence(s, case_number, evidence_id, writable=True)
        require_bound(s, case)
        _check_range(ev, start, end)
        twin = next((g for g in repo.list_segments(s, ev.id, [SegmentStatus.ACCEPTED, SegmentStatus.SUGGESTED])
                     if (g.start_sample, g.end_sample) == (start, end)), None)
        if twin is not None:
            hint = "; accept that suggestion instead" if twin.status is SegmentStatus.SUGGESTED else ""
            raise InputError(f"{ev.original_name} already has the segment {fmt_clock(twin.start_s)}-"
                             f"{fmt_clock(twin.end_s)} ({twin.status.value}, id {twin.id[:8]}); not added "
                             f"twice{hint}")
        seg = repo.add_segment(s, ev.id, start, end, ev.media.sample_rate, source=SegmentSource.MANUAL,
                               label=check_text("label", label), speaker_tag=check_text("speaker_tag", speaker_tag))
        append_event(s, case_id=case.id, actor=ctx.actor, action="segment.add", object_type="segment",
                     object_ids=[seg.id], details={"evidence_id": ev.id, "start_sample": start, "end_sample": end,
                                                   "sample_rate": seg.sample_rate, "label": seg.label,
                                                   "speaker_tag": seg.speaker_tag,
                                                   "custody": [custody.state("segment", seg)]})
    return seg


_FIELD_ALIASES = {"start": "start_sample", "end": "end_sample"}
_EDITABLE = {"start_sample", "end_sample", "label", "speaker_tag", "status"}


def _clean_fields(fields: dict[str, Any]) -> dict[str, Any]:
    """Validated edits of one segment (aliases resolved; labels and speaker tags checked as hostile text)."""
    changes: dict[str, Any] = {}
    for key, value in fields.items():
        key = _FIELD_ALIASES.get(key, key)
        if key not in _EDITABLE:
            raise InputError(f"not an editable segment field: {key}")
        if key in ("start_sample", "end_sample"):
            value = int(value)
        elif key == "status":
            try:
                value = SegmentStatus(value)
            except ValueError as exc:
                raise InputError(f"invalid segment status {value!r}") from exc
        else:
            value = check_text(key, str(value))
        changes[key] = value
    return changes


def update_segment(ctx: AppContext, segment_id: str, **fields: Any) -> Segment:
    """Edit ``start``/``start_sample``, ``end``/``end_sample``, ``label``, ``speaker_tag`` or ``status``."""
    changes = _clean_fields(fields)
    with ctx.store.write() as s:
        before = repo.get_segment(s, segment_id)
        ev, case = _evidence_and_case(s, before.evidence_id)
        require_open(case)
        require_bound(s, case, segments=[before])
        _check_range(ev, changes.get("start_sample", before.start_sample), changes.get("end_sample", before.end_sample))
        diff = {k: {"old": getattr(before, k).value if k == "status" else getattr(before, k),
                    "new": v.value if k == "status" else v}
                for k, v in changes.items() if getattr(before, k) != v}
        if not diff:
            return before
        seg = repo.update_segment(s, segment_id, **changes)
        append_event(s, case_id=case.id, actor=ctx.actor, action="segment.update", object_type="segment",
                     object_ids=[seg.id], details={"evidence_id": ev.id, "changes": diff,
                                                   "custody": [custody.state("segment", seg)]})
    return seg


def _set_status(ctx: AppContext, segment_id: str, status: SegmentStatus, action: str) -> Segment:
    with ctx.store.write() as s:
        before = repo.get_segment(s, segment_id)
        _, case = _evidence_and_case(s, before.evidence_id)
        require_open(case)
        if before.status is status:
            return before  # nothing changes, so nothing is recorded (an "accept" of an accepted segment is no event)
        require_bound(s, case, segments=[before])
        seg = repo.update_segment(s, segment_id, status=status)
        append_event(s, case_id=case.id, actor=ctx.actor, action=action, object_type="segment", object_ids=[seg.id],
                     details={"evidence_id": seg.evidence_id, "old_status": before.status.value,
                              "new_status": status.value, "source": seg.source.value,
                              "custody": [custody.state("segment", seg)]})
    return seg


def accept_suggestion(ctx: AppContext, segment_id: str) -> Segment:
    """Mark a (VAD-suggested) segment as part of the selection."""
    return _set_status(ctx, segment_id, SegmentStatus.ACCEPTED, "segment.accept")


def reject_suggestion(ctx: AppContext, segment_id: str) -> Segment:
    """Mark a suggested segment as rejected (kept, so re-running VAD does not propose it again)."""
    return _set_status(ctx, segment_id, SegmentStatus.REJECTED, "segment.reject")


def delete_segment(ctx: AppContext, segment_id: str) -> Segment:
    """Delete a segment; the audit event records all of it (see :func:`restore_segment`)."""
    with ctx.store.write() as s:
        before = repo.get_segment(s, segment_id)
        _, case = _evidence_and_case(s, before.evidence_id)
        require_open(case)
        require_bound(s, case, segments=[before])
        seg = repo.delete_segment(s, segment_id)
        append_event(s, case_id=case.id, actor=ctx.actor, action="segment.delete", object_type="segment",
                     object_ids=[seg.id], details={"segment": _segment_dict(seg),
                                                   "custody": [custody.deleted("segment", seg.id)]})
    return seg


def restore_segment(ctx: AppContext, segment: Segment) -> Segment:
    """Re-insert a deleted segment with its original id and fields (undo of a delete)."""
    with ctx.store.write() as s:
        ev, case = _evidence_and_case(s, segment.evidence_id)
        require_open(case)
        _check_range(ev, segment.start_sample, segment.end_sample)
        try:
            repo.get_segment(s, segment.id)
        except NotFoundError:
            pass
        else:
            raise InputError(f"segment {segment.id} already exists")
        seg = repo.add_segment(s, ev.id, segment.start_sample, segment.end_sample, segment.sample_rate,
                               source=segment.source, status=segment.status, label=segment.label,
                               speaker_tag=segment.speaker_tag, confidence=segment.confidence,
                               params=dict(segment.params), segment_id=segment.id)
        append_event(s, case_id=case.id, actor=ctx.actor, action="segment.restore", object_type="segment",
                     object_ids=[seg.id], details={"segment": _segment_dict(seg),
                                                   "custody": [custody.state("segment", seg)]})
    return seg


def _overlap(a0: int, a1: int, b0: int, b1: int) -> int:
    return max(0, min(a1, b1) - max(a0, b0))


def run_vad(ctx: AppContext, case_number: str, evidence_id: int, task: Task | None = None,
            **params: Any) -> list[Segment]:
    """Detect speech with silero VAD and store the regions as suggested segments.

    Earlier *suggested* VAD segments of the evidence are replaced; accepted and rejected
    ones stay, and regions mostly covered by them are not suggested again. Keyword
    parameters go to :func:`s2f_desktop.inference.vad.detect_speech_blocks`
    (``threshold``, ``min_speech_s``, ``min_silence_s``, ``device``); they, the model's
    sha256 and the device are stored with every segment. Returns the new suggestions.
    """
    task = task or null_task()
    allowed = {"threshold", "min_speech_s", "min_silence_s", "device"}
    unknown = set(params) - allowed
    if unknown:
        raise InputError(f"unknown VAD parameter(s): {', '.join(sorted(unknown))}")
    with ctx.store.read() as s:
        case, ev = case_evidence(s, case_number, evidence_id)
    require_open(case)
    require_intact(ctx, [ev])
    vad = importlib.import_module("s2f_desktop.inference.vad")
    task.progress(0.0, f"detecting speech in {ev.original_name}")
    with open_audio(vault_path(ctx, ev), frames=ev.media.frames) as src:
        regions, vparams = vad.detect_speech_blocks(src.blocks(channel="mix"), src.sample_rate,
                                                    total_frames=src.frames, task=task.sub(0.0, 0.95), **params)
        sr, frames = src.sample_rate, src.frames
    with ctx.store.write() as s:
        case = repo.get_case(s, case_number)
        require_open(case)
        existing = repo.list_segments(s, ev.id)
        removed = [g for g in existing if g.source is SegmentSource.VAD and g.status is SegmentStatus.SUGGESTED]
        kept = [g for g in existing if g.source is SegmentSource.VAD and g.status is not SegmentStatus.SUGGESTED]
        require_bound(s, case, segments=removed)
        for g in removed:
            repo.delete_segment(s, g.id)
        created: list[Segment] = []
        skipped = 0
        for r in regions:
            a = max(0, min(frames - 1, int(round(r.start_s * sr))))
            b = max(a + 1, min(frames, int(round(r.end_s * sr))))
            if any(_overlap(a, b, k.start_sample, k.end_sample) >= VAD_OVERLAP_KEEP * (b - a) for k in kept):
                skipped += 1
                continue
            created.append(repo.add_segment(s, ev.id, a, b, sr, source=SegmentSource.VAD,
                                            status=SegmentStatus.SUGGESTED, confidence=r.confidence,
                                            params=vparams))
        append_event(s, case_id=case.id, actor=ctx.actor, action="segment.vad", object_type="evidence",
                     object_ids=[ev.id], details={"params": vparams, "suggested": len(created),
                                                  "replaced": [g.id for g in removed], "kept": len(kept),
                                                  "skipped_as_decided": skipped,
                                                  "speech_s": round(sum(r.end_s - r.start_s for r in regions), 3),
                                                  "custody": [custody.deleted("segment", g.id) for g in removed]
                                                  + [custody.state("segment", g) for g in created]})
    task.progress(1.0, f"{len(created)} speech regions suggested")
    return created


def update_segments(ctx: AppContext, changes: dict[str, dict[str, Any]], action: str = "segment.bulk_update"
                    ) -> list[Segment]:
    """Apply per-segment field changes (same keys as :func:`update_segment`) in one transaction.

    All segments must belong to one open case; the whole batch is refused if any change
    is invalid. One audit event names every changed segment with its old and new values
    (``action`` lets the caller say what the analyst did, e.g. ``segment.bulk_accept``).
    Returns the segments after the change, in the order given.
    """
    if not changes:
        return []
    clean: dict[str, dict[str, Any]] = {}
    for seg_id, fields in changes.items():
        clean[seg_id] = _clean_fields(fields)
    out: list[Segment] = []
    diffs: dict[str, dict[str, Any]] = {}
    with ctx.store.write() as s:
        case: Case | None = None
        befores: dict[str, Segment] = {}
        for seg_id, one in clean.items():
            before = befores[seg_id] = repo.get_segment(s, seg_id)
            ev, c = _evidence_and_case(s, before.evidence_id)
            if case is None:
                require_open(c)
                case = c
            elif c.id != case.id:
                raise InputError("a bulk segment change must stay within one case")
            _check_range(ev, one.get("start_sample", before.start_sample), one.get("end_sample", before.end_sample))
        if case is not None:
            require_bound(s, case, segments=list(befores.values()))  # one replay for the whole batch
        for seg_id, one in clean.items():
            before = befores[seg_id]
            diff = {k: {"old": getattr(before, k).value if k == "status" else getattr(before, k),
                        "new": v.value if k == "status" else v}
                    for k, v in one.items() if getattr(before, k) != v}
            if diff:
                out.append(repo.update_segment(s, seg_id, **one))
                diffs[seg_id] = diff
            else:
                out.append(before)
        if diffs and case is not None:
            # The changed rows' new states bind them to the chain, as every single change does (without them
            # verify named every bulk-accepted segment as changed outside the application).
            append_event(s, case_id=case.id, actor=ctx.actor, action=action, object_type="segment",
                         object_ids=list(diffs), details={"changes": diffs, "custody": [
                             custody.state("segment", g) for g in out if g.id in diffs]})
    return out


def set_segments_fields(ctx: AppContext, segment_ids: Iterable[str], action: str = "segment.bulk_update",
                        **fields: Any) -> list[Segment]:
    """The same field change for many segments (bulk accept, reject, label, speaker), one audit event."""
    return update_segments(ctx, {sid: dict(fields) for sid in segment_ids}, action=action)


# ------------------------------------------------------------------------------ label files
#: Statuses written by :func:`export_labels` unless told otherwise (rejected ones are not speech the analyst kept).
EXPORT_STATUSES = (SegmentStatus.ACCEPTED, SegmentStatus.SUGGESTED)


def export_labels(ctx: AppContext, case_number: str, evidence_id: int, path: Path | str,
                  statuses: Iterable[SegmentStatus | str] | None = None) -> Path:
    """Write an evidence item's segments as a Praat TextGrid (``.TextGrid``) or Audacity labels (``.txt``).

    Never overwrites: an existing file is refused. The export is audited (file name and sha256).
    """
    from s2f_desktop.audio import labels

    path = Path(path).expanduser()
    labels.label_format(path)
    if path.exists():
        raise InputError(f"{path} already exists; choose a new file name (nothing is overwritten)")
    safe_output(ctx, path)  # never into the data directory (a file in the vault is an orphan there)
    sts = EXPORT_STATUSES if statuses is None else tuple(SegmentStatus(st) for st in statuses)
    with ctx.store.read() as s:
        case, ev = case_evidence(s, case_number, evidence_id)
        segs = repo.list_segments(s, ev.id, list(sts))
    intervals = [labels.LabelInterval(g.start_s, g.end_s, g.label, g.speaker_tag) for g in segs]
    text = labels.render_labels(path, intervals, ev.media.duration_s)
    data = text.encode("utf-8")
    try:
        with open(path, "xb") as fh:  # exclusive create: a file that appeared meanwhile is not overwritten
            fh.write(data)
    except FileExistsError as exc:
        raise InputError(f"{path} already exists; choose a new file name (nothing is overwritten)") from exc
    except OSError as exc:
        raise InputError(f"cannot write {path}: {exc.strerror or exc}") from exc
    with ctx.store.write() as s:
        append_event(s, case_id=case.id, actor=ctx.actor, action="segment.export_labels", object_type="evidence",
                     object_ids=[ev.id], details={"file": path.name, "format": labels.label_format(path),
                                                  "sha256": hashlib.sha256(data).hexdigest(),
                                                  "segments": [g.id for g in segs]})
    return path


def import_labels(ctx: AppContext, case_number: str, evidence_id: int, path: Path | str) -> list[Segment]:
    """Add the intervals of a TextGrid / Audacity label file as accepted manual segments.

    The whole file is checked first: one interval outside the recording (or with its end
    not after its start) refuses the import and names it. Intervals identical to an
    existing segment (same range, label and speaker) are skipped, so importing a file
    twice adds nothing. Each new segment records the file's name and sha256 in its
    parameters; one audit event lists them all.
    """
    from s2f_desktop.audio import labels

    path = Path(path).expanduser()
    intervals = labels.read_labels(path)
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    with ctx.store.write() as s:
        case, ev = case_evidence(s, case_number, evidence_id, writable=True)
        sr = ev.media.sample_rate
        ranges = []
        for i, iv in enumerate(intervals, start=1):
            a, b = int(round(iv.start_s * sr)), int(round(iv.end_s * sr))
            try:
                _check_range(ev, a, b)
            except InputError as exc:
                raise InputError(f"{path.name}, interval {i} ({iv.start_s:.3f}-{iv.end_s:.3f} s): {exc.message}"
                                 ) from exc
            ranges.append((a, b, iv.label, iv.speaker))
        existing = {(g.start_sample, g.end_sample, g.label, g.speaker_tag) for g in repo.list_segments(s, ev.id)}
        params = {"imported_from": path.name, "sha256": digest, "format": labels.label_format(path)}
        created: list[Segment] = []
        for a, b, label, speaker in ranges:
            if (a, b, label, speaker) in existing:
                continue
            existing.add((a, b, label, speaker))
            created.append(repo.add_segment(s, ev.id, a, b, sr, source=SegmentSource.MANUAL,
                                            status=SegmentStatus.ACCEPTED, label=label, speaker_tag=speaker,
                                            params=params))
        append_event(s, case_id=case.id, actor=ctx.actor, action="segment.import_labels", object_type="segment",
                     object_ids=[g.id for g in created],
                     details={"evidence_id": ev.id, "file": path.name, "sha256": digest,
                              "format": params["format"], "intervals": len(intervals),
                              "skipped_as_present": len(intervals) - len(created),
                              "custody": [custody.state("segment", g) for g in created]})
    return created
