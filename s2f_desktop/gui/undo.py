"""Undoable segment edits.

Each command performs its change through ``services.segments`` (so every step, undo
included, is written and audited) and then mirrors the returned segment into the
:class:`~s2f_desktop.gui.waveform.WaveformModel`. Segment ids are stable uuids, and
undoing a delete restores the same id, so later commands on the stack stay valid.

A service error inside ``redo``/``undo`` must not corrupt the stack: the command
records it, the stack is told the command is obsolete, and the error is re-raised to
the caller (who shows it).
"""

from __future__ import annotations

from typing import Any, Callable

from PySide6.QtGui import QUndoCommand

from s2f_desktop.core.models import Segment, SegmentStatus
from s2f_desktop.gui.waveform import WaveformModel


def _segments_service() -> Any:
    from s2f_desktop.services import segments

    return segments


class SegmentCommand(QUndoCommand):
    """Base: holds the context, the model and the error of the last attempt."""

    def __init__(self, ctx: Any, model: WaveformModel, text: str) -> None:
        super().__init__(text)
        self.ctx = ctx
        self.model = model
        self.error: BaseException | None = None
        #: Called with the exception when a redo/undo fails (the panel shows it).
        self.on_error: Callable[[BaseException], None] | None = None

    def _guard(self, fn: Callable[[], None]) -> None:
        self.error = None
        try:
            fn()
        except Exception as exc:  # reported through on_error; the stack drops the command
            self.error = exc
            self.setObsolete(True)
            if self.on_error is not None:
                self.on_error(exc)


class AddSegmentCommand(SegmentCommand):
    """Create a manual segment; undo deletes it, redo restores the same id."""

    def __init__(self, ctx: Any, model: WaveformModel, case_number: str, evidence_id: int, start: int, end: int,
                 label: str = "") -> None:
        super().__init__(ctx, model, "Add segment")
        self.case_number, self.evidence_id = case_number, evidence_id
        self.start, self.end, self.label = start, end, label
        self.segment: Segment | None = None

    def redo(self) -> None:
        def go() -> None:
            svc = _segments_service()
            if self.segment is None:
                self.segment = svc.add_segment(self.ctx, self.case_number, self.evidence_id, self.start, self.end,
                                               label=self.label)
            else:
                self.segment = svc.restore_segment(self.ctx, self.segment)
            self.model.upsert(self.segment)
            self.model.select(self.segment.id)

        self._guard(go)

    def undo(self) -> None:
        def go() -> None:
            assert self.segment is not None
            _segments_service().delete_segment(self.ctx, self.segment.id)
            self.model.remove(self.segment.id)

        self._guard(go)


class DeleteSegmentCommand(SegmentCommand):
    """Delete a segment; undo restores it with the same id and fields."""

    def __init__(self, ctx: Any, model: WaveformModel, segment: Segment) -> None:
        super().__init__(ctx, model, f"Delete segment {segment.start_s:.2f}-{segment.end_s:.2f} s")
        self.segment = segment

    def redo(self) -> None:
        def go() -> None:
            self.segment = _segments_service().delete_segment(self.ctx, self.segment.id)
            self.model.remove(self.segment.id)

        self._guard(go)

    def undo(self) -> None:
        def go() -> None:
            self.segment = _segments_service().restore_segment(self.ctx, self.segment)
            self.model.upsert(self.segment)
            self.model.select(self.segment.id)

        self._guard(go)


class ChangeSegmentCommand(SegmentCommand):
    """Change fields of a segment (move, resize, label, status); undo writes the old values back.

    ``redo_fn`` overrides how the forward change is written (e.g. ``accept_suggestion``
    so the audit trail names the analyst's decision); undo always uses ``update_segment``.
    """

    def __init__(self, ctx: Any, model: WaveformModel, before: Segment, text: str,
                 redo_fn: Callable[[Any, str], Segment] | None = None, **after: Any) -> None:
        super().__init__(ctx, model, text)
        self.segment_id = before.id
        self.after = after
        self.before = {k: getattr(before, k) for k in after}
        self.redo_fn = redo_fn

    def _apply(self, fields: dict[str, Any], fn: Callable[[Any, str], Segment] | None) -> None:
        svc = _segments_service()
        if fn is not None:
            seg = fn(self.ctx, self.segment_id)
        else:
            seg = svc.update_segment(self.ctx, self.segment_id, **fields)
        self.model.upsert(seg)
        self.model.select(seg.id)

    def redo(self) -> None:
        self._guard(lambda: self._apply(self.after, self.redo_fn))

    def undo(self) -> None:
        self._guard(lambda: self._apply(self.before, None))


def move_command(ctx: Any, model: WaveformModel, seg: Segment, start: int, end: int) -> ChangeSegmentCommand:
    """Move or resize (text says which)."""
    if end - start == seg.end_sample - seg.start_sample:
        text = "Move segment"
    else:
        text = "Resize segment"
    return ChangeSegmentCommand(ctx, model, seg, text, start_sample=int(start), end_sample=int(end))


def label_command(ctx: Any, model: WaveformModel, seg: Segment, label: str) -> ChangeSegmentCommand:
    """Rename a segment."""
    return ChangeSegmentCommand(ctx, model, seg, f"Label segment '{label}'", label=label)


def status_command(ctx: Any, model: WaveformModel, seg: Segment, accept: bool) -> ChangeSegmentCommand:
    """Accept or reject a speech-detection suggestion."""
    svc = _segments_service()
    fn = svc.accept_suggestion if accept else svc.reject_suggestion
    status = SegmentStatus.ACCEPTED if accept else SegmentStatus.REJECTED
    return ChangeSegmentCommand(ctx, model, seg, "Accept suggestion" if accept else "Reject suggestion",
                                redo_fn=fn, status=status)


class BulkChangeCommand(SegmentCommand):
    """One analyst action over many segments (accept, reject, label, speaker) as one undo step.

    Forward and back are each one ``update_segments`` transaction with one audit event,
    so the chain names every segment the action touched.
    """

    def __init__(self, ctx: Any, model: WaveformModel, segments: list[Segment], text: str, action: str,
                 **after: Any) -> None:
        super().__init__(ctx, model, text)
        self.action = action
        self.after = {s.id: dict(after) for s in segments}
        self.before = {s.id: {k: (getattr(s, k).value if k == "status" else getattr(s, k)) for k in after}
                       for s in segments}
        self.primary = model.selected_id
        self.ids = [s.id for s in segments]

    def _apply(self, changes: dict[str, dict[str, Any]], action: str) -> None:
        segs = _segments_service().update_segments(self.ctx, changes, action=action)
        self.model.upsert_many(segs)
        self.model.select_many(self.ids, self.primary)

    def redo(self) -> None:
        self._guard(lambda: self._apply(self.after, self.action))

    def undo(self) -> None:
        self._guard(lambda: self._apply(self.before, self.action + ".undo"))
