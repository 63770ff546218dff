"""Repositories: the only code that turns ORM rows into frozen dataclasses.

Each function takes an open ``Session`` (from :meth:`Store.read` or :meth:`Store.write`)
so the caller decides the transaction boundary: a service that writes a row and its
audit event does both in one transaction.
"""

from __future__ import annotations

import uuid
from typing import Any, Iterable, Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from s2f_desktop.core.errors import NotFoundError
from s2f_desktop.core.models import (
    AnalysisRun,
    Case,
    CaseStatus,
    Composite,
    CompositeParam,
    Evidence,
    MediaInfo,
    Segment,
    SegmentSource,
    SegmentStatus,
)
from s2f_desktop.core.results import ModelRecord, RunResults, Timings
from s2f_desktop.core.timeutil import utcnow
from s2f_desktop.store import codec
from s2f_desktop.store.orm import AnalysisRunRow, CaseRow, CompositeRow, EvidenceRow, SegmentRow


# --------------------------------------------------------------------------- cases
def to_case(r: CaseRow) -> Case:
    with codec.stored_row(f"case {r.number}"):
        return Case(r.id, r.number, r.title, r.analyst, r.agency, CaseStatus(r.status), r.notes, r.created_at,
                    r.updated_at, r.question, r.propositions, r.case_info, r.examiner_role, r.examiner_qualifications,
                    r.listening_statement)


#: Case fields an analyst may edit (``status`` only through closing).
CASE_FIELDS = ("title", "analyst", "agency", "notes", "question", "propositions", "case_info", "examiner_role",
               "examiner_qualifications", "listening_statement")
#: Exhibit provenance fields.
PROVENANCE_FIELDS = ("received_from", "received_on", "medium", "seal")


def add_case(s: Session, number: str, title: str, analyst: str, agency: str = "", notes: str = "") -> Case:
    now = utcnow()
    row = CaseRow(number=number, title=title, analyst=analyst, agency=agency, notes=notes,
                  status=CaseStatus.OPEN.value, created_at=now, updated_at=now)
    s.add(row)
    s.flush()
    return to_case(row)


def _case_row(s: Session, number: str) -> CaseRow:
    row = s.execute(select(CaseRow).where(CaseRow.number == number)).scalar_one_or_none()
    if row is None:
        raise NotFoundError(f"no case numbered {number!r}")
    return row


def get_case(s: Session, number: str) -> Case:
    return to_case(_case_row(s, number))


def get_case_by_id(s: Session, case_id: int) -> Case:
    row = s.get(CaseRow, case_id)
    if row is None:
        raise NotFoundError(f"no case with id {case_id}")
    return to_case(row)


def find_case(s: Session, number: str) -> Case | None:
    row = s.execute(select(CaseRow).where(CaseRow.number == number)).scalar_one_or_none()
    return None if row is None else to_case(row)


def list_cases(s: Session, status: CaseStatus | None = None) -> list[Case]:
    q = select(CaseRow).order_by(CaseRow.updated_at.desc(), CaseRow.id.desc())
    if status is not None:
        q = q.where(CaseRow.status == status.value)
    return [to_case(r) for r in s.execute(q).scalars()]


def update_case(s: Session, number: str, **fields: Any) -> Case:
    row = _case_row(s, number)
    for key, value in fields.items():
        if key not in CASE_FIELDS and key != "status":
            raise ValueError(f"not an editable case field: {key}")
        setattr(row, key, value.value if isinstance(value, CaseStatus) else value)
    row.updated_at = utcnow()
    s.flush()
    return to_case(row)


def touch_case(s: Session, case_id: int) -> None:
    row = s.get(CaseRow, case_id)
    if row is not None:
        row.updated_at = utcnow()


# ------------------------------------------------------------------------ evidence
def to_evidence(r: EvidenceRow) -> Evidence:
    with codec.stored_row(f"evidence #{r.id}"):
        return Evidence(r.id, r.case_id, r.original_name, r.original_path, r.sha256, r.size_bytes,
                        MediaInfo.from_dict(r.media), r.imported_at, r.imported_by, r.vault_relpath,
                        r.received_from, r.received_on, r.medium, r.seal)


def update_provenance(s: Session, evidence_id: int, **fields: str) -> Evidence:
    row = s.get(EvidenceRow, evidence_id)
    if row is None:
        raise NotFoundError(f"no evidence with id {evidence_id}")
    for key, value in fields.items():
        if key not in PROVENANCE_FIELDS:
            raise ValueError(f"not a provenance field: {key}")
        setattr(row, key, value)
    s.flush()
    return to_evidence(row)


def add_evidence(s: Session, case_id: int, original_name: str, original_path: str, sha256: str, size_bytes: int,
                 media: MediaInfo, imported_by: str, vault_relpath: str) -> Evidence:
    row = EvidenceRow(case_id=case_id, original_name=original_name, original_path=original_path, sha256=sha256,
                      size_bytes=size_bytes, media=media.to_dict(), imported_at=utcnow(), imported_by=imported_by,
                      vault_relpath=vault_relpath)
    s.add(row)
    s.flush()
    return to_evidence(row)


def list_evidence(s: Session, case_id: int) -> list[Evidence]:
    rows = s.execute(select(EvidenceRow).where(EvidenceRow.case_id == case_id).order_by(EvidenceRow.id)).scalars()
    return [to_evidence(r) for r in rows]


def get_evidence(s: Session, evidence_id: int) -> Evidence:
    row = s.get(EvidenceRow, evidence_id)
    if row is None:
        raise NotFoundError(f"no evidence with id {evidence_id}")
    return to_evidence(row)


def find_evidence_by_hash(s: Session, case_id: int, sha256: str) -> Evidence | None:
    row = s.execute(
        select(EvidenceRow).where(EvidenceRow.case_id == case_id, EvidenceRow.sha256 == sha256)
    ).scalar_one_or_none()
    return None if row is None else to_evidence(row)


# ------------------------------------------------------------------------ segments
def to_segment(r: SegmentRow) -> Segment:
    with codec.stored_row(f"segment {r.id}"):
        return Segment(r.id, r.evidence_id, r.start_sample, r.end_sample, r.sample_rate, r.label, r.speaker_tag,
                       SegmentSource(r.source), SegmentStatus(r.status), r.confidence, dict(r.params or {}),
                       r.created_at)


def new_segment_id() -> str:
    """A stable, globally unique segment id (survives undo/redo and export)."""
    return uuid.uuid4().hex


def add_segment(s: Session, evidence_id: int, start_sample: int, end_sample: int, sample_rate: int, *,
                source: SegmentSource = SegmentSource.MANUAL, status: SegmentStatus | None = None,
                label: str = "", speaker_tag: str = "", confidence: float | None = None,
                params: dict[str, Any] | None = None, segment_id: str | None = None) -> Segment:
    if status is None:
        status = SegmentStatus.SUGGESTED if source is SegmentSource.VAD else SegmentStatus.ACCEPTED
    row = SegmentRow(id=segment_id or new_segment_id(), evidence_id=evidence_id, start_sample=int(start_sample),
                     end_sample=int(end_sample), sample_rate=int(sample_rate), label=label, speaker_tag=speaker_tag,
                     source=source.value, status=status.value, confidence=confidence, params=params or {},
                     created_at=utcnow())
    s.add(row)
    s.flush()
    return to_segment(row)


def get_segment(s: Session, segment_id: str) -> Segment:
    row = s.get(SegmentRow, segment_id)
    if row is None:
        raise NotFoundError(f"no segment with id {segment_id}")
    return to_segment(row)


def list_segments(s: Session, evidence_id: int, statuses: Iterable[SegmentStatus] | None = None) -> list[Segment]:
    q = select(SegmentRow).where(SegmentRow.evidence_id == evidence_id).order_by(SegmentRow.start_sample, SegmentRow.id)
    if statuses is not None:
        q = q.where(SegmentRow.status.in_([st.value for st in statuses]))
    return [to_segment(r) for r in s.execute(q).scalars()]


def list_case_segments(s: Session, case_id: int) -> list[Segment]:
    q = (select(SegmentRow).join(EvidenceRow, EvidenceRow.id == SegmentRow.evidence_id)
         .where(EvidenceRow.case_id == case_id).order_by(SegmentRow.evidence_id, SegmentRow.start_sample))
    return [to_segment(r) for r in s.execute(q).scalars()]


def update_segment(s: Session, segment_id: str, **fields: Any) -> Segment:
    row = s.get(SegmentRow, segment_id)
    if row is None:
        raise NotFoundError(f"no segment with id {segment_id}")
    allowed = {"start_sample", "end_sample", "label", "speaker_tag", "status", "confidence", "params"}
    for key, value in fields.items():
        if key not in allowed:
            raise ValueError(f"not an editable segment field: {key}")
        setattr(row, key, value.value if isinstance(value, SegmentStatus) else value)
    s.flush()
    return to_segment(row)


def delete_segment(s: Session, segment_id: str) -> Segment:
    row = s.get(SegmentRow, segment_id)
    if row is None:
        raise NotFoundError(f"no segment with id {segment_id}")
    seg = to_segment(row)
    s.delete(row)
    s.flush()
    return seg


# -------------------------------------------------------------------------- runs
def to_run(r: AnalysisRunRow) -> AnalysisRun:
    with codec.stored_row(f"analysis run #{r.id}"):
        return AnalysisRun(r.id, r.case_id, tuple(r.segment_ids), codec.decode_models(r.models), r.app_version,
                           r.device, dict(r.parameters), r.seed, codec.decode_results(r.results),
                           codec.decode_timings(r.timings), r.created_at, r.created_by)


def add_run(s: Session, case_id: int, segment_ids: Sequence[str], models: Sequence[ModelRecord], app_version: str,
            device: str, parameters: dict[str, Any], seed: int, results: RunResults, timings: Timings,
            created_by: str) -> AnalysisRun:
    row = AnalysisRunRow(case_id=case_id, segment_ids=list(segment_ids), models=codec.encode_models(tuple(models)),
                         app_version=app_version, device=device, parameters=parameters, seed=seed,
                         results=codec.encode_results(results), timings=codec.encode_timings(timings),
                         created_at=utcnow(), created_by=created_by)
    s.add(row)
    s.flush()
    return to_run(row)


def get_run(s: Session, run_id: int) -> AnalysisRun:
    row = s.get(AnalysisRunRow, run_id)
    if row is None:
        raise NotFoundError(f"no analysis run with id {run_id}")
    return to_run(row)


def list_runs(s: Session, case_id: int) -> list[AnalysisRun]:
    q = select(AnalysisRunRow).where(AnalysisRunRow.case_id == case_id).order_by(AnalysisRunRow.id)
    rows = s.execute(q).scalars()
    return [to_run(r) for r in rows]


# -------------------------------------------------------------------- composites
def to_composite(r: CompositeRow) -> Composite:
    with codec.stored_row(f"composite #{r.id}"):
        return Composite(r.id, r.run_id, r.kind, r.label, r.version, r.parent_id, codec.decode_params(r.parameters),
                         dict(r.images), dict(r.image_sha256), r.created_at, r.created_by)


def add_composite(s: Session, run_id: int, kind: str, label: str, parameters: dict[str, CompositeParam],
                  images: dict[str, str], image_sha256: dict[str, str], created_by: str, parent_id: int | None = None,
                  version: int = 1) -> Composite:
    row = CompositeRow(run_id=run_id, kind=kind, label=label, version=version, parent_id=parent_id,
                       parameters=codec.encode_params(parameters), images=images, image_sha256=image_sha256,
                       created_at=utcnow(), created_by=created_by)
    s.add(row)
    s.flush()
    return to_composite(row)


def attach_composite_images(s: Session, composite_id: int, images: dict[str, str],
                            image_sha256: dict[str, str]) -> Composite:
    """Record the images of a composite created in the same transaction without them.

    The marking burned into each image names the composite's id, which exists only
    once the row is flushed; images are attached once and never replaced.
    """
    row = s.get(CompositeRow, composite_id)
    if row is None:
        raise NotFoundError(f"no composite with id {composite_id}")
    if row.images or row.image_sha256:
        raise ValueError(f"composite #{composite_id} already has images; composites are never changed")
    row.images, row.image_sha256 = dict(images), dict(image_sha256)
    s.flush()
    return to_composite(row)


def get_composite(s: Session, composite_id: int) -> Composite:
    row = s.get(CompositeRow, composite_id)
    if row is None:
        raise NotFoundError(f"no composite with id {composite_id}")
    return to_composite(row)


def list_composites(s: Session, run_id: int) -> list[Composite]:
    rows = s.execute(select(CompositeRow).where(CompositeRow.run_id == run_id).order_by(CompositeRow.id)).scalars()
    return [to_composite(r) for r in rows]
