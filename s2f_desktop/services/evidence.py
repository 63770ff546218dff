"""Evidence import, verification and the audit trail view."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from sqlalchemy.exc import IntegrityError as SAIntegrityError

from s2f_desktop.audio.probe import probe
from s2f_desktop.core.errors import InputError, IntegrityError, MediaError, NotFoundError
from s2f_desktop.core.models import AuditEvent, ChainCheck, Evidence, EvidenceCheck, VerifyReport, VerifyStatus
from s2f_desktop.core.progress import Task, null_task
from s2f_desktop.services.cases import require_open
from s2f_desktop.services.context import AppContext
from s2f_desktop.store import repositories as repo
from s2f_desktop.store.audit import append_event, list_events, verify_chain
from s2f_desktop.store.vault import sha256_file, stage_copy

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ImportResult:
    """Outcome for one file: the evidence (new or recognised) or the error message."""

    path: Path
    evidence: Evidence | None
    already_present: bool = False
    error: str = ""

    @property
    def ok(self) -> bool:
        """True when the file is now (or already was) evidence in the case."""
        return self.evidence is not None


def vault_path(ctx: AppContext, evidence: Evidence) -> Path:
    """Absolute path of an evidence item's vault copy (read-only)."""
    return ctx.store.layout.vault / evidence.vault_relpath


def import_file(ctx: AppContext, case_number: str, path: Path, task: Task | None = None) -> ImportResult:
    """Import one file into the case, transactionally.

    Order of work: hash the original, probe it, copy it to a staged vault file and hash
    the copy, then insert the row and its audit event in one transaction and only then
    move the staged file into place. Any failure removes the staged file and leaves no
    row; the original is only ever opened for reading.
    """
    task = task or null_task()
    path = Path(path)
    with ctx.store.read() as s:
        case = repo.get_case(s, case_number)
    require_open(case)
    if not path.exists():
        raise MediaError(f"{path}: no such file")
    if not path.is_file():
        raise MediaError(f"{path}: not a regular file")
    size_total = max(1, path.stat().st_size)
    task.progress(0.0, f"hashing {path.name}")
    try:
        sha, size = sha256_file(path, on_bytes=lambda n: task.progress(0.4 * n / size_total, f"hashing {path.name}"))
    except OSError as exc:
        raise MediaError(f"{path.name}: cannot be read ({exc.strerror or exc.__class__.__name__})") from exc
    with ctx.store.read() as s:
        existing = repo.find_evidence_by_hash(s, case.id, sha)
    if existing is not None:
        task.progress(1.0, f"{path.name} is already evidence #{existing.id}")
        return ImportResult(path, existing, already_present=True)
    task.progress(0.45, f"probing {path.name}")
    media = probe(path)
    task.progress(0.55, f"copying {path.name} into the vault")
    staged = stage_copy(ctx.store.layout.vault, path, sha)
    try:
        task.check()
        with ctx.store.write() as s:
            ev = repo.add_evidence(s, case.id, path.name, str(path.resolve()), sha, size, media, ctx.actor, staged.relpath)
            append_event(s, case_id=case.id, actor=ctx.actor, action="evidence.import", object_type="evidence",
                         object_ids=[ev.id], details={"original_name": path.name, "original_path": str(path.resolve()),
                                                      "sha256": sha, "size_bytes": size, "media": media.to_dict()})
            repo.touch_case(s, case.id)
            staged.commit()
    except SAIntegrityError:
        # The same bytes were imported into this case concurrently (unique case+sha256):
        # nothing of ours was kept, and the other import's row is the evidence.
        staged.discard()
        with ctx.store.read() as s:
            existing = repo.find_evidence_by_hash(s, case.id, sha)
        if existing is None:
            raise
        return ImportResult(path, existing, already_present=True)
    except BaseException:
        staged.discard()
        raise
    task.progress(1.0, f"imported {path.name}")
    log.info("imported %s as evidence %s (sha256 %s)", path, ev.id, sha)
    return ImportResult(path, ev)


def import_files(ctx: AppContext, case_number: str, paths: Sequence[Path], task: Task | None = None) -> list[ImportResult]:
    """Import several files; each is its own transaction and a bad file does not stop the rest."""
    task = task or null_task()
    results: list[ImportResult] = []
    n = max(1, len(paths))
    for i, p in enumerate(paths):
        sub = task.sub(i / n, (i + 1) / n)
        try:
            results.append(import_file(ctx, case_number, Path(p), sub))
        except (MediaError, IntegrityError) as exc:
            results.append(ImportResult(Path(p), None, error=exc.message))
    return results


def list_evidence(ctx: AppContext, case_number: str) -> list[Evidence]:
    """Evidence of a case in import order."""
    with ctx.store.read() as s:
        case = repo.get_case(s, case_number)
        return repo.list_evidence(s, case.id)


def get_evidence(ctx: AppContext, evidence_id: int) -> Evidence:
    """One evidence item."""
    with ctx.store.read() as s:
        return repo.get_evidence(s, evidence_id)


def resolve_evidence(ctx: AppContext, case_number: str, ref: str) -> Evidence:
    """Find evidence of a case by id, sha256 prefix (≥ 8 hex digits) or original file name."""
    items = list_evidence(ctx, case_number)
    ref = ref.strip()
    if ref.isdigit():
        for e in items:
            if e.id == int(ref):
                return e
    matches = [e for e in items if (len(ref) >= 8 and e.sha256.startswith(ref.lower())) or e.original_name == ref]
    if len(matches) == 1:
        return matches[0]
    if len(matches) > 1:
        raise InputError(f"{ref!r} matches several evidence items in case {case_number}; use the id")
    raise NotFoundError(f"no evidence {ref!r} in case {case_number}")


def check_evidence(ctx: AppContext, evidence: Evidence) -> EvidenceCheck:
    """Re-hash one vault file."""
    p = vault_path(ctx, evidence)
    if not p.exists():
        return EvidenceCheck(evidence.id, evidence.original_name, evidence.sha256, VerifyStatus.MISSING)
    actual, _ = sha256_file(p)
    status = VerifyStatus.OK if actual == evidence.sha256 else VerifyStatus.ALTERED
    return EvidenceCheck(evidence.id, evidence.original_name, evidence.sha256, status, actual)


def audit_trail(ctx: AppContext, case_number: str) -> tuple[list[AuditEvent], ChainCheck]:
    """A case's audit events in order, with the chain's verification."""
    with ctx.store.read() as s:
        case = repo.get_case(s, case_number)
        events = list_events(s, case.id)
    return events, verify_chain(events)


def verify_case(ctx: AppContext, case_number: str, task: Task | None = None, record: bool = True) -> VerifyReport:
    """Re-hash every evidence item and check the audit chain.

    The verification itself is recorded as an audit event (after the check, so the
    result describes the chain as it was found) unless ``record`` is False.
    """
    task = task or null_task()
    with ctx.store.read() as s:
        case = repo.get_case(s, case_number)
        items = repo.list_evidence(s, case.id)
    checks = []
    for i, ev in enumerate(items):
        task.progress(i / max(1, len(items)), f"hashing {ev.original_name}")
        checks.append(check_evidence(ctx, ev))
    events, chain = audit_trail(ctx, case_number)
    report = VerifyReport(case.number, tuple(checks), chain)
    if record:
        with ctx.store.write() as s:
            append_event(s, case_id=case.id, actor=ctx.actor, action="case.verify", object_type="case",
                         object_ids=[case.id], details={
                             "evidence": {str(c.evidence_id): c.status.value for c in checks},
                             "chain_ok": chain.ok, "chain_first_broken": chain.first_broken,
                         })
    task.progress(1.0, "verified")
    return report
