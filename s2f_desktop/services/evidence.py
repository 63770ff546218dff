"""Evidence import, verification and the audit trail view."""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Sequence

from sqlalchemy.exc import IntegrityError as SAIntegrityError

from s2f_desktop.audio.decode import check_finite_samples
from s2f_desktop.audio.probe import probe
from s2f_desktop.core.errors import InputError, IntegrityError, MediaError, NotFoundError
from s2f_desktop.core.models import (
    AuditEvent,
    ChainCheck,
    Composite,
    Evidence,
    EvidenceCheck,
    VerifyReport,
    VerifyStatus,
)
from s2f_desktop.core.progress import Task, null_task
from s2f_desktop.core.timeutil import utcnow
from s2f_desktop.services.cases import require_bound, require_open
from s2f_desktop.services.context import AppContext
from s2f_desktop.store import comparisons as crepo
from s2f_desktop.store import custody
from s2f_desktop.store import repositories as repo
from s2f_desktop.store.audit import GENESIS, append_event, chain_head, list_events, verify_chain
from s2f_desktop.store.custody import CustodyFinding
from s2f_desktop.store.vault import sha256_file, stage_copy
from s2f_desktop.system.faults import fault_point
from s2f_desktop.system.paths import StagedOutput, TempJournal, check_output_path

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
    # Both paths are recorded: the one given (a symbolic link, perhaps) and the file it resolves to.
    given_path = os.path.abspath(path)
    resolved_path = str(path.resolve())
    with ctx.store.read() as s:
        existing = repo.find_evidence_by_hash(s, case.id, sha)
    if existing is not None:
        _record_reimport(ctx, case.id, existing, path, given_path, resolved_path)
        task.progress(1.0, f"{path.name} is already evidence #{existing.id}")
        return ImportResult(path, existing, already_present=True)
    fault_point("import.hashed")
    task.progress(0.45, f"probing {path.name}")
    media = probe(path)
    check_finite_samples(path, media.codec, lambda f: task.progress(0.45 + 0.1 * f, f"checking {path.name}"))
    task.progress(0.55, f"copying {path.name} into the vault")
    staged = stage_copy(ctx.store.layout.vault, path, sha)
    try:
        fault_point("import.staged")
        task.check()
        with ctx.store.write() as s:
            # A case row altered outside the services (e.g. a closed case set open in SQL) takes no new evidence.
            require_bound(s, repo.get_case(s, case.number))
            ev = repo.add_evidence(s, case.id, path.name, resolved_path, sha, size, media, ctx.actor, staged.relpath)
            details: dict[str, Any] = {"original_name": path.name, "original_path": resolved_path,
                                       "sha256": sha, "size_bytes": size, "media": media.to_dict(),
                                       "custody": [custody.state("evidence", ev)]}
            if given_path != resolved_path:
                details["given_path"] = given_path
            append_event(s, case_id=case.id, actor=ctx.actor, action="evidence.import", object_type="evidence",
                         object_ids=[ev.id], details=details)
            repo.touch_case(s, case.id)
            staged.commit()
            fault_point("import.placed")
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


def import_files(ctx: AppContext, case_number: str, paths: Sequence[Path],
                 task: Task | None = None) -> list[ImportResult]:
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


def require_intact(ctx: AppContext, evidence: Iterable[Evidence]) -> None:
    """Refuse to measure recordings whose vault copy no longer matches its imported sha256.

    Every analysis, comparison, quality check and speech detection reads the vault copy: a finding
    must not be computed from altered or missing material and then stored as if it were the evidence.
    """
    for ev in {e.id: e for e in evidence}.values():
        check = check_evidence(ctx, ev)
        if check.status != VerifyStatus.OK:
            found = f" (sha256 now {check.actual_sha256[:16]}…)" if check.actual_sha256 else ""
            raise IntegrityError(f"{ev.original_name}: the vault copy is {check.status.value}{found}, not the "
                                 f"recording imported with sha256 {ev.sha256[:16]}…; nothing was measured. "
                                 "Run `s2f verify` on the case.")


def audit_trail(ctx: AppContext, case_number: str) -> tuple[list[AuditEvent], ChainCheck]:
    """A case's audit events in order, with the chain's verification."""
    with ctx.store.read() as s:
        case = repo.get_case(s, case_number)
        events = list_events(s, case.id)
    return events, verify_chain(events)


def _record_reimport(ctx: AppContext, case_id: int, existing: Evidence, path: Path, given_path: str,
                     resolved_path: str) -> None:
    """Audit an import of bytes the case already holds (nothing else changes)."""
    details: dict[str, Any] = {"evidence_id": existing.id, "original_name": path.name, "original_path": resolved_path,
                               "sha256": existing.sha256}
    if given_path != resolved_path:
        details["given_path"] = given_path
    with ctx.store.write() as s:
        append_event(s, case_id=case_id, actor=ctx.actor, action="evidence.reimport", object_type="evidence",
                     object_ids=[existing.id], details=details)


@dataclass(frozen=True)
class CaseVerification(VerifyReport):
    """:class:`VerifyReport` plus the chain-versus-rows replay and the store-wide file checks.

    ``custody``: findings of :func:`s2f_desktop.store.custody.replay` (UNBOUND ones are
    informational); ``orphans``: vault files no evidence row names (left by a crash
    between placing the file and committing, or by a deleted row); ``leftovers``: what the
    start-up sweep of interrupted temporary files did; ``head``: the chain head
    ``(seq, hash)``; ``recorded``: whether this verification was written to the chain
    (False on read-only media or when asked not to).
    """

    custody: tuple[CustodyFinding, ...] = ()
    orphans: tuple[str, ...] = ()
    leftovers: tuple[str, ...] = ()
    head: tuple[int, str] = (0, GENESIS)
    recorded: bool = False

    @property
    def ok(self) -> bool:
        """True when files, chain and rows all agree and the vault holds no unexplained file."""
        return super().ok and not any(f.failing for f in self.custody) and not self.orphans

    @property
    def problems(self) -> list[str]:
        """One short phrase per failing item (for the one-line summary on stderr)."""
        out = [f"#{c.evidence_id} {c.original_name} {c.status.value}"
               for c in self.evidence if c.status is not VerifyStatus.OK]
        if not self.chain.ok:
            out.append(f"audit chain broken at event {self.chain.first_broken}")
        out += [f.describe() for f in self.custody if f.failing]
        if self.orphans:
            out.append(f"{len(self.orphans)} orphan vault file(s) (see 's2f repair')")
        return out


def orphan_vault_files(ctx: AppContext) -> list[str]:
    """Vault files (relative paths) that no evidence row of any case names."""
    from sqlalchemy import select

    from s2f_desktop.store.orm import EvidenceRow

    root = ctx.store.layout.vault
    if not root.is_dir():
        return []
    with ctx.store.read() as s:
        named = {str(r) for r in s.execute(select(EvidenceRow.vault_relpath)).scalars()}
    out = []
    for p in sorted(root.glob("*/*")):
        if p.name.startswith(".") or not p.is_file():
            continue
        rel = f"{p.parent.name}/{p.name}"
        if rel not in named:
            out.append(rel)
    return out


def custody_findings(ctx: AppContext, case_number: str) -> list[CustodyFinding]:
    """Replay the case's chain against its current rows (see :mod:`s2f_desktop.store.custody`)."""
    with ctx.store.read() as s:
        case = repo.get_case(s, case_number)
        runs = repo.list_runs(s, case.id)
        return custody.replay(list_events(s, case.id), case, repo.list_evidence(s, case.id),
                              repo.list_case_segments(s, case.id), runs,
                              [c for r in runs for c in repo.list_composites(s, r.id)],
                              crepo.list_comparisons(s, case.id))


def case_chain_head(ctx: AppContext, case_number: str) -> tuple[int, str]:
    """``(seq, sha256)`` of the case's newest audit event: the value a report or receipt prints as its anchor."""
    with ctx.store.read() as s:
        case = repo.get_case(s, case_number)
        return chain_head(list_events(s, case.id))


def check_composite_images(root: Path, composites: Sequence[Composite]) -> dict[tuple[int, str], str]:
    """Re-hash every composite image: OK, ALTERED, MISSING or NOT RECORDED (no stored hash)."""
    out: dict[tuple[int, str], str] = {}
    for c in composites:
        for view, rel in c.images.items():
            path = root / rel
            expected = c.image_sha256.get(view)
            if not path.is_file():
                out[(c.id, view)] = VerifyStatus.MISSING.value
            elif not expected:
                out[(c.id, view)] = "NOT RECORDED"
            else:
                out[(c.id, view)] = VerifyStatus.OK.value if sha256_file(path)[0] == expected \
                    else VerifyStatus.ALTERED.value
    return out


def composite_image_findings(ctx: AppContext, case_id: int) -> list[CustodyFinding]:
    """A finding for every stored composite image of the case that is altered or missing: the images are
    outputs, not evidence, but what they show is recorded by hash and must not change unseen (the GUI shows
    them and the report prints them)."""
    with ctx.store.read() as s:
        comps = [c for r in repo.list_runs(s, case_id) for c in repo.list_composites(s, r.id)]
    out = []
    for (cid, view), status in sorted(check_composite_images(ctx.store.layout.composites, comps).items()):
        if status in (VerifyStatus.ALTERED.value, VerifyStatus.MISSING.value):
            expected = next(c.image_sha256.get(view, "") for c in comps if c.id == cid)
            out.append(CustodyFinding("composite", str(cid), f"{view} image", "CHANGED", f"sha256 {expected[:16]}…",
                                      "a file whose sha256 differs" if status == VerifyStatus.ALTERED.value
                                      else "missing"))
    return out


def verify_case(ctx: AppContext, case_number: str, task: Task | None = None, record: bool = True) -> CaseVerification:
    """Re-hash every evidence item, check the audit chain and replay it against every row.

    The verification itself is recorded as an audit event (after the check, so the
    result describes the chain as it was found) unless ``record`` is False or the store
    is read-only; ``recorded`` in the result says which.
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
    findings = custody_findings(ctx, case_number) + composite_image_findings(ctx, case.id)
    orphans = orphan_vault_files(ctx)
    head = chain_head(events)
    read_only = bool(getattr(ctx.store, "read_only", False))
    do_record = record and not read_only
    report = CaseVerification(case.number, tuple(checks), chain, custody=tuple(findings), orphans=tuple(orphans),
                              leftovers=tuple(getattr(ctx.store, "recovered", ())), head=head, recorded=do_record)
    if do_record:
        with ctx.store.write() as s:
            append_event(s, case_id=case.id, actor=ctx.actor, action="case.verify", object_type="case",
                         object_ids=[case.id], details={
                             "evidence": {str(c.evidence_id): c.status.value for c in checks},
                             "chain_ok": chain.ok, "chain_first_broken": chain.first_broken,
                             "head_seq": head[0], "head_hash": head[1],
                             "custody_ok": not any(f.failing for f in findings),
                             "custody_problems": [f.describe() for f in findings if f.failing][:50],
                             "orphans": orphans[:50],
                         })
    task.progress(1.0, "verified")
    return report


# ------------------------------------------------------------------ custody receipt
RECEIPT_FORMAT = "s2f-custody-receipt/1"
RECEIPT_STATEMENT = (
    "This receipt records the head of the case's audit chain at the time it was exported. Each audit event's "
    "hash covers every earlier event, so if this receipt is kept outside the data directory (printed, filed, "
    "sent to another party), any later edit, deletion or reordering of events up to this head can be detected "
    "by 's2f verify CASE --receipt FILE'. It does not prove that what was recorded before the receipt was true, "
    "who operated the computer, or that the whole database was not rewritten before the receipt was made; it is "
    "not a cryptographic signature of a person."
)


def custody_receipt(ctx: AppContext, case_number: str) -> dict[str, Any]:
    """The custody receipt of a case as a JSON-ready dict (its own sha256 included)."""
    from s2f_desktop import __version__

    with ctx.store.read() as s:
        case = repo.get_case(s, case_number)
        events = list_events(s, case.id)
        items = repo.list_evidence(s, case.id)
    chain = verify_chain(events)
    seq, head = chain_head(events)
    body = {
        "format": RECEIPT_FORMAT,
        "case_number": case.number,
        "case_title": case.title,
        "chain": {"events": len(events), "head_seq": seq, "head_hash": head, "intact_when_exported": chain.ok,
                  "rows_matched_chain_when_exported": not any(f.failing for f in
                                                              custody_findings(ctx, case_number))},
        "evidence": [{"id": e.id, "original_name": e.original_name, "sha256": e.sha256, "size_bytes": e.size_bytes}
                     for e in items],
        "exported_at": utcnow().isoformat(timespec="seconds") + "Z",
        "exported_by": ctx.actor,
        "app_version": __version__,
        "statement": RECEIPT_STATEMENT,
    }
    body["receipt_sha256"] = custody.content_hash(body)
    return body


def _protected_files(ctx: AppContext) -> list[Path]:
    from sqlalchemy import select

    from s2f_desktop.store.orm import EvidenceRow

    with ctx.store.read() as s:
        return [Path(p) for p in s.execute(select(EvidenceRow.original_path)).scalars()]


def safe_output(ctx: AppContext, out: Path, force: bool = False) -> Path:
    """Check a user-chosen output path: never inside the data directory (except its ``reports``
    folder), never an evidence original, never an existing file without ``force``."""
    layout = ctx.store.layout
    return check_output_path(out, force=force, protected_dirs=[layout.root],
                             protected_files=_protected_files(ctx), allowed_dirs=[layout.reports])


def export_receipt(ctx: AppContext, case_number: str, out: Path, force: bool = False) -> tuple[Path, dict[str, Any]]:
    """Write the custody receipt (JSON) to ``out``, atomically, and record the export in the chain."""
    target = safe_output(ctx, out, force)
    receipt = custody_receipt(ctx, case_number)
    text = json.dumps(receipt, indent=2, ensure_ascii=False) + "\n"
    with StagedOutput(target, force=force, journal=TempJournal(ctx.store.layout.root), prefix=".receipt-") as staged:
        staged.path.write_text(text, encoding="utf-8")
        staged.place()
    if not getattr(ctx.store, "read_only", False):
        with ctx.store.write() as s:
            case = repo.get_case(s, case_number)
            append_event(s, case_id=case.id, actor=ctx.actor, action="case.receipt", object_type="case",
                         object_ids=[case.id], details={"path": str(target),
                                                        "receipt_sha256": receipt["receipt_sha256"],
                                                        "head_seq": receipt["chain"]["head_seq"],
                                                        "head_hash": receipt["chain"]["head_hash"]})
    return target, receipt


def check_receipt(ctx: AppContext, case_number: str, receipt_file: Path) -> list[str]:
    """Compare a custody receipt with the case's chain now; returns the problems (empty: it matches)."""
    try:
        data = json.loads(Path(receipt_file).read_text(encoding="utf-8"))
        claimed = data.pop("receipt_sha256")
        seq, head = int(data["chain"]["head_seq"]), str(data["chain"]["head_hash"])
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise InputError(f"{receipt_file} is not a readable custody receipt ({exc.__class__.__name__})") from exc
    problems = []
    if custody.content_hash(data) != claimed:
        problems.append("the receipt itself was edited (its sha256 does not match its content)")
    if data.get("case_number") != case_number:
        # Another case's chain says nothing about this one: comparing them would only invent a rewrite.
        problems.append(f"the receipt is for case {data.get('case_number')!r}, not {case_number}")
        return problems
    with ctx.store.read() as s:
        case = repo.get_case(s, case_number)
        events = list_events(s, case.id)
    if seq == 0:
        return problems
    if len(events) < seq:
        problems.append(f"the chain has {len(events)} events; the receipt's head is event #{seq} (events deleted)")
    elif events[seq - 1].hash != head:
        problems.append(f"event #{seq} now has hash {events[seq - 1].hash[:16]}…, "
                        f"the receipt recorded {head[:16]}… "
                        "(the chain was rewritten up to the receipt)")
    else:
        prefix = verify_chain(events[:seq])
        if not prefix.ok:
            problems.append(f"the chain up to the receipt's head does not verify: {prefix.reason}")
    return problems


# ------------------------------------------------------------------------ repair
def repair_orphans(ctx: AppContext, action: str, case_number: str | None = None) -> list[str]:
    """Deal with orphan vault files: ``quarantine`` moves them to ``<data>/quarantine`` (nothing is
    deleted), ``adopt`` imports them into ``case_number`` as evidence. Either way an audit event
    (``store.repair``) names every file; returns one line per file."""
    orphans = orphan_vault_files(ctx)
    if not orphans:
        return []
    if action not in ("quarantine", "adopt"):
        raise InputError(f"unknown repair action {action!r}: use quarantine or adopt")
    if action == "adopt" and not case_number:
        raise InputError("adopting orphan vault files needs the case to adopt them into")
    lines: list[str] = []
    done: list[dict[str, Any]] = []
    vault = ctx.store.layout.vault
    qdir = ctx.store.layout.root / "quarantine"

    def quarantine(src: Path) -> Path:
        qdir.mkdir(exist_ok=True)
        dst = qdir / src.name
        n = 2
        while dst.exists():
            dst = qdir / f"{src.stem}-{n}{src.suffix}"
            n += 1
        os.replace(src, dst)
        return dst

    if action == "quarantine":
        for rel in orphans:
            src = vault / rel
            sha, size = sha256_file(src)
            dst = quarantine(src)
            done.append({"vault_relpath": rel, "sha256": sha, "size_bytes": size, "moved_to": str(dst)})
            lines.append(f"quarantined {rel} -> {dst}")
        with ctx.store.write() as s:
            append_event(s, case_id=None, actor=ctx.actor, action="store.repair", object_type="vault",
                         object_ids=[d["sha256"] for d in done], details={"action": "quarantine", "files": done})
        return lines
    assert case_number is not None
    with ctx.store.read() as s:
        case = repo.get_case(s, case_number)
    for rel in orphans:
        res = import_file(ctx, case_number, vault / rel)
        assert res.evidence is not None
        entry: dict[str, Any] = {"vault_relpath": rel, "sha256": res.evidence.sha256, "evidence_id": res.evidence.id}
        what = (f"is already evidence #{res.evidence.id}" if res.already_present
                else f"adopted as evidence #{res.evidence.id}")
        if res.evidence.vault_relpath != rel:
            # The import placed its own hash-named copy in the vault; the stray file (same bytes) is moved out of
            # the vault, not deleted, so `verify` no longer reports it and nothing is lost.
            entry["moved_to"] = str(quarantine(vault / rel))
            what += f"; the stray copy was moved to {entry['moved_to']}"
        done.append(entry)
        lines.append(f"{rel} {what} of case {case_number}")
    with ctx.store.write() as s:
        append_event(s, case_id=case.id, actor=ctx.actor, action="store.repair", object_type="vault",
                     object_ids=[d["sha256"] for d in done], details={"action": "adopt", "files": done,
                                                                     "note": "orphan vault files adopted as evidence; "
                                                                             "their original paths are unknown"})
    return lines
