"""Binding evidential rows to the audit chain, and replaying the chain against the rows.

Every event that creates or changes an evidential row (case, evidence item, segment,
analysis run, composite, speaker-comparison run) carries, in ``details["custody"]``, the state that row has *after* the
change: ``{"object": TYPE, "id": ID, "values": {...}, "hash": sha256(canonical values)}``,
or ``{"object": TYPE, "id": ID, "deleted": true}``. Because the details are inside the
event's hash, the expected state of every row is protected by the chain.

:func:`replay` walks a case's events in order, keeps the last expected state of every
object, and compares it with the rows as they are now. A row whose values differ names
the field, the expected and found values and the event that recorded the expectation;
a row the chain says exists but is gone is DELETED; a row no event created is UNRECORDED.

Events written by releases before this binding (no ``custody`` key) are read for what
they did record (an import's hash, size, name, path and media info; a segment's bounds
and status; a case's details and status); fields they never recorded are reported as
"not bound (legacy event)" instead of being silently trusted or falsely failed. A
``comparison.run`` event from before comparison runs were bound recorded the sides, the
models, the device and the verdict (log10 LR, words, label, abstention reason): those stay
enforced, the rest of the row is reported as not bound.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Iterable, Sequence

from s2f_desktop.core.jsonutil import canonical_json
from s2f_desktop.core.models import AnalysisRun, AuditEvent, Case, Composite, Evidence, Segment

if TYPE_CHECKING:
    from s2f_desktop.store.comparisons import ComparisonRun

#: Actions that change bound rows; a closed case refuses them, so one recorded after the
#: case's close means the case was reopened outside the services. (Verification, receipts,
#: reports, composites and the like are allowed on a closed case.)
MUTATING_PREFIXES = ("case.update", "case.close", "evidence.import", "evidence.provenance", "segment.", "analysis.run",
                     "comparison.run")


# ----------------------------------------------------------------------- row states
def _iso(dt: Any) -> str:
    return dt.isoformat() if hasattr(dt, "isoformat") else str(dt)


def content_hash(data: Any) -> str:
    """sha256 of the canonical JSON of ``data``."""
    return hashlib.sha256(canonical_json(data).encode("utf-8")).hexdigest()


def case_values(c: Case) -> dict[str, Any]:
    """The bound fields of a case (``updated_at`` is bookkeeping, not evidence)."""
    return {"number": c.number, "title": c.title, "analyst": c.analyst, "agency": c.agency,
            "status": c.status.value, "notes": c.notes, "created_at": _iso(c.created_at),
            "question": c.question, "propositions": c.propositions, "case_info": c.case_info,
            "examiner_role": c.examiner_role, "examiner_qualifications": c.examiner_qualifications,
            "listening_statement": c.listening_statement}


def evidence_values(e: Evidence) -> dict[str, Any]:
    """The bound fields of an evidence item, its recorded provenance (who delivered it, when, on what
    medium, under which seal) included: the report prints it as the exhibit's custody."""
    return {"case_id": e.case_id, "original_name": e.original_name, "original_path": e.original_path,
            "sha256": e.sha256, "size_bytes": e.size_bytes, "media": e.media.to_dict(),
            "imported_at": _iso(e.imported_at), "imported_by": e.imported_by, "vault_relpath": e.vault_relpath,
            "received_from": e.received_from, "received_on": e.received_on, "medium": e.medium, "seal": e.seal}


def segment_values(g: Segment) -> dict[str, Any]:
    """The bound fields of a segment."""
    return {"evidence_id": g.evidence_id, "start_sample": g.start_sample, "end_sample": g.end_sample,
            "sample_rate": g.sample_rate, "label": g.label, "speaker_tag": g.speaker_tag,
            "source": g.source.value, "status": g.status.value, "confidence": g.confidence,
            "params": dict(g.params), "created_at": _iso(g.created_at)}


def run_values(r: AnalysisRun) -> dict[str, Any]:
    """The bound fields of an analysis run (results and timings by hash: they are large)."""
    from s2f_desktop.store import codec

    return {"case_id": r.case_id, "segment_ids": list(r.segment_ids), "models": codec.encode_models(r.models),
            "app_version": r.app_version, "device": r.device, "parameters": dict(r.parameters), "seed": r.seed,
            "results_sha256": content_hash(codec.encode_results(r.results)),
            "timings_sha256": content_hash(codec.encode_timings(r.timings)),
            "created_at": _iso(r.created_at), "created_by": r.created_by}


def composite_values(c: Composite) -> dict[str, Any]:
    """The bound fields of a composite (its parameters by hash; the images by their recorded sha256)."""
    from s2f_desktop.store import codec

    return {"run_id": c.run_id, "kind": c.kind, "label": c.label, "version": c.version, "parent_id": c.parent_id,
            "parameters_sha256": content_hash(codec.encode_params(c.parameters)), "images": dict(c.images),
            "image_sha256": dict(c.image_sha256), "created_at": _iso(c.created_at), "created_by": c.created_by}


def comparison_values(r: ComparisonRun) -> dict[str, Any]:
    """The bound fields of a speaker-comparison run.

    The stored results are bound by the hash of their encoding (they are large); the verdict
    (log10 LR, LR, words, label, abstention reason) is bound field by field as well, so an
    edited LR is named as such, and so that what a legacy ``comparison.run`` event recorded
    stays enforced. Timings are bound by hash, as for analysis runs.
    """
    from s2f_desktop.store import codec

    res = r.results
    return {"case_id": r.case_id, "questioned_ids": list(r.questioned_ids), "known_ids": list(r.known_ids),
            "models": [dict(m) for m in r.models], "app_version": r.app_version, "device": r.device,
            "parameters": dict(r.parameters), "log10_lr": res.log10_lr, "lr": res.lr, "verbal": res.verbal,
            "label": res.label, "abstain_reason": res.abstain_reason,
            "results_sha256": content_hash(codec.encode_comparison_results(res)),
            "timings_sha256": content_hash(dict(r.timings)),
            "created_at": _iso(r.created_at), "created_by": r.created_by}


_VALUES: dict[str, Callable[[Any], dict[str, Any]]] = {
    "case": case_values, "evidence": evidence_values, "segment": segment_values, "analysis_run": run_values,
    "composite": composite_values, "comparison_run": comparison_values,
}


def _normalise(values: dict[str, Any]) -> dict[str, Any]:
    # The same JSON round trip the stored details go through, so comparisons are exact.
    import json

    normalised: dict[str, Any] = json.loads(canonical_json(values))
    return normalised


def state(object_type: str, obj: Any) -> dict[str, Any]:
    """The custody entry for a row after a change: its values and their hash."""
    values = _normalise(_VALUES[object_type](obj))
    return {"object": object_type, "id": str(obj.id), "values": values, "hash": content_hash(values)}


def deleted(object_type: str, object_id: Any) -> dict[str, Any]:
    """The custody entry for a row an event removes."""
    return {"object": object_type, "id": str(object_id), "deleted": True}


def selection_hash(segments: Sequence[Segment], evidence: dict[int, Evidence]) -> str:
    """Hash of an analysed selection: each segment's id, bounds and its recording's sha256, in order."""
    return content_hash([[g.id, g.evidence_id, g.start_sample, g.end_sample, g.sample_rate,
                          evidence[g.evidence_id].sha256] for g in segments])


# -------------------------------------------------------------------------- replay
@dataclass(frozen=True)
class CustodyFinding:
    """One disagreement between the chain and the rows (or a field the chain never bound).

    ``problem``: CHANGED (a field differs), DELETED (the chain says the row exists, it does
    not), UNRECORDED (a row no event created), OUT_OF_BAND (an event that the recorded
    state forbids, e.g. a change to a closed case), or UNBOUND (informational: only a
    legacy event covers the row, so these fields cannot be checked).
    """

    object_type: str
    object_id: str
    field: str
    problem: str
    expected: str = ""
    found: str = ""
    event_seq: int | None = None
    event_id: int | None = None

    @property
    def failing(self) -> bool:
        """False only for the informational UNBOUND finding."""
        return self.problem != "UNBOUND"

    def describe(self) -> str:
        """One line naming the object, field, values and the event that recorded the expectation."""
        where = f" (recorded by event #{self.event_seq}, id {self.event_id})" if self.event_seq is not None else ""
        label = self.object_type.replace("_", " ")
        obj = f"{label} #{self.object_id}" if self.object_id.isdigit() else f"{label} {self.object_id}"
        if self.problem == "CHANGED":
            return f"{obj}: {self.field} is {self.found}, expected {self.expected}{where}"
        if self.problem == "DELETED":
            return f"{obj}: row is missing (DELETED outside the services){where}"
        if self.problem == "UNRECORDED":
            return f"{obj}: row exists but no audit event created it{self.found and ' (' + self.found + ')'}"
        if self.problem == "OUT_OF_BAND":
            return f"{obj}: {self.found}{where}"
        return f"{obj}: {self.field} not bound (legacy event){where}"


@dataclass
class _Expected:
    values: dict[str, Any]
    origin: dict[str, tuple[int, int]]  # field -> (event seq, event id)
    complete: bool
    deleted_at: tuple[int, int] | None = None


def _short(v: Any) -> str:
    text = canonical_json(v)
    return text if len(text) <= 80 else text[:77] + "..."


def _legacy_assertions(ev: AuditEvent) -> list[dict[str, Any]]:
    """What an event from before the binding did record, as partial custody entries."""
    d, a = ev.details, ev.action
    oid = ev.object_ids[0] if ev.object_ids else ""
    if a == "case.create":
        vals = {k: d[k] for k in ("number", "title", "analyst", "agency") if k in d}
        vals["status"] = "open"
        return [{"object": "case", "id": oid, "values": vals, "partial": True}]
    if a == "case.update":
        return [{"object": "case", "id": oid, "partial": True,
                 "values": {k: v.get("new") for k, v in (d.get("changes") or {}).items()}}]
    if a == "case.close":
        return [{"object": "case", "id": oid, "values": {"status": "closed"}, "partial": True}]
    if a == "evidence.import":
        vals = {k: d[k] for k in ("original_name", "original_path", "sha256", "size_bytes", "media") if k in d}
        vals["case_id"] = ev.case_id
        return [{"object": "evidence", "id": oid, "values": vals, "partial": True}]
    if a == "evidence.provenance":
        # Provenance events from before provenance was bound recorded each change's old and new value.
        return [{"object": "evidence", "id": oid, "partial": True,
                 "values": {k: v.get("new") for k, v in (d.get("changes") or {}).items()}}]
    if a == "segment.add":
        vals = {k: d[k] for k in ("evidence_id", "start_sample", "end_sample", "sample_rate", "label", "speaker_tag")
                if k in d}
        vals.update(source="manual", status="accepted")
        return [{"object": "segment", "id": oid, "values": vals, "partial": True}]
    if a == "segment.update":
        return [{"object": "segment", "id": oid, "partial": True,
                 "values": {k: v.get("new") for k, v in (d.get("changes") or {}).items()}}]
    if a in ("segment.accept", "segment.reject"):
        return [{"object": "segment", "id": oid, "values": {"status": d.get("new_status")}, "partial": True}]
    if a == "segment.delete":
        return [deleted("segment", oid)]
    if a == "segment.restore":
        seg = dict(d.get("segment") or {})
        seg.pop("id", None)
        return [{"object": "segment", "id": oid, "values": seg, "partial": True}]
    if a == "segment.vad":
        return [deleted("segment", sid) for sid in d.get("replaced", [])]
    changes = d.get("changes")
    if a.startswith("segment.") and isinstance(changes, dict) and changes \
            and all(k in ev.object_ids for k in changes):
        # Bulk changes (bulk accept, label, speaker, speaker groups, their undo) written before they were bound
        # recorded each segment's old and new values, keyed by segment id.
        return [{"object": "segment", "id": sid, "partial": True,
                 "values": {k: v.get("new") for k, v in diff.items() if isinstance(v, dict)}}
                for sid, diff in changes.items() if isinstance(diff, dict)]
    if a == "analysis.run":
        vals = {"segment_ids": d.get("segments"), "models": d.get("models"), "device": d.get("device")}
        return [{"object": "analysis_run", "id": oid, "partial": True,
                 "values": {k: v for k, v in vals.items() if v is not None}}]
    if a in ("composite.create", "composite.adjust"):
        # Composites made before the binding: the event recorded the images' sha256 (and the run).
        vals = {"image_sha256": d.get("image_sha256")}
        if a == "composite.create":
            vals["run_id"] = d.get("run_id")
        return [{"object": "composite", "id": oid, "partial": True,
                 "values": {k: v for k, v in vals.items() if v is not None}}]
    if a == "comparison.run":
        # None is a recorded value here (an abstention has no LR; an LR has no abstention reason).
        names = {"questioned": "questioned_ids", "known": "known_ids", "models": "models", "device": "device",
                 "log10_lr": "log10_lr", "verbal": "verbal", "label": "label", "abstain_reason": "abstain_reason"}
        return [{"object": "comparison_run", "id": oid, "partial": True,
                 "values": {new: d[old] for old, new in names.items() if old in d}}]
    return []


def replay(events: Sequence[AuditEvent], case: Case, evidence: Iterable[Evidence], segments: Iterable[Segment],
           runs: Iterable[AnalysisRun], composites: Iterable[Composite] = (),
           comparisons: Iterable[ComparisonRun] = (), only: set[tuple[str, str]] | None = None) -> list[CustodyFinding]:
    """Compare the state the chain records with the rows as they are now.

    ``only``: follow just these objects (and the case row) through the chain, for a check before a write; the
    events' own state hashes are then not re-checked (the chain's hashes cover the details, and verification
    checks both), which keeps the check cheap on a long chain."""
    expected: dict[tuple[str, str], _Expected] = {}
    findings: list[CustodyFinding] = []
    legacy_vad_evidence: set[str] = set()
    legacy_label_segments: set[str] = set()  # created by a label import from before those were bound
    closed_at: tuple[int, int] | None = None
    for ev in events:
        entries = ev.details.get("custody")
        if not isinstance(entries, list):
            entries = _legacy_assertions(ev)
            if ev.action == "segment.vad":
                legacy_vad_evidence.update(ev.object_ids)
            elif ev.action == "segment.import_labels":
                legacy_label_segments.update(ev.object_ids)
        mark = (ev.seq, ev.id)
        if closed_at is not None and ev.action.startswith(MUTATING_PREFIXES):
            findings.append(CustodyFinding("case", str(case.id), "status", "OUT_OF_BAND",
                                           found=f"event #{ev.seq} ({ev.action}) changed a case the chain records "
                                                 f"as closed at event #{closed_at[0]}: it was reopened outside "
                                                 "the services", event_seq=ev.seq, event_id=ev.id))
        for entry in entries:
            key = (str(entry.get("object")), str(entry.get("id")))
            if only is not None and key not in only and key[0] != "case":
                continue
            if entry.get("deleted"):
                cur = expected.setdefault(key, _Expected({}, {}, True))
                cur.deleted_at = mark
                continue
            vals = dict(entry.get("values") or {})
            if entry.get("partial"):
                cur = expected.setdefault(key, _Expected({}, {}, False))
                cur.deleted_at = None
                cur.values.update(vals)
                cur.origin.update({k: mark for k in vals})
            else:
                if only is None and "hash" in entry and content_hash(vals) != entry["hash"]:
                    findings.append(CustodyFinding(key[0], key[1], "(state)", "OUT_OF_BAND",
                                                   found=f"event #{ev.seq} states values that do not match its "
                                                         "own state hash", event_seq=ev.seq, event_id=ev.id))
                expected[key] = _Expected(vals, {k: mark for k in vals}, True)
            if key[0] == "case" and vals.get("status") == "closed":
                closed_at = mark
            elif key[0] == "case" and "status" in vals:
                closed_at = None

    current: dict[tuple[str, str], dict[str, Any]] = {}
    current[("case", str(case.id))] = _normalise(case_values(case))
    for e in evidence:
        current[("evidence", str(e.id))] = _normalise(evidence_values(e))
    seg_list = list(segments)
    for g in seg_list:
        current[("segment", str(g.id))] = _normalise(segment_values(g))
    for r in runs:
        current[("analysis_run", str(r.id))] = _normalise(run_values(r))
    for c in composites:
        current[("composite", str(c.id))] = _normalise(composite_values(c))
    for k in comparisons:
        current[("comparison_run", str(k.id))] = _normalise(comparison_values(k))
    seg_by_id = {str(g.id): g for g in seg_list}

    for key, exp in expected.items():
        otype, oid = key
        row = current.get(key)
        if exp.deleted_at is not None:
            if row is not None:
                findings.append(CustodyFinding(otype, oid, "(row)", "UNRECORDED",
                                               found=f"the chain records its deletion at event #{exp.deleted_at[0]}",
                                               event_seq=exp.deleted_at[0], event_id=exp.deleted_at[1]))
            continue
        if row is None:
            seq, eid = max(exp.origin.values(), default=(None, None))
            findings.append(CustodyFinding(otype, oid, "(row)", "DELETED", event_seq=seq, event_id=eid))
            continue
        for fld, want in exp.values.items():
            if fld not in row:
                continue
            if canonical_json(row[fld]) != canonical_json(want):
                seq, eid = exp.origin[fld]
                findings.append(CustodyFinding(otype, oid, fld, "CHANGED", _short(want), _short(row[fld]), seq, eid))
        # A full state written by an earlier release lacks the fields bound since (e.g. an exhibit's
        # provenance): those are named as not bound rather than silently trusted.
        unbound = sorted(set(row) - set(exp.values))
        if unbound:
            seq, eid = max(exp.origin.values(), default=(None, None))
            findings.append(CustodyFinding(otype, oid, ", ".join(unbound), "UNBOUND", event_seq=seq, event_id=eid))
    for key, row in current.items():
        if key in expected:
            continue
        otype, oid = key
        vad_seg = seg_by_id.get(oid) if otype == "segment" else None
        if vad_seg is not None and vad_seg.source.value == "vad" and str(vad_seg.evidence_id) in legacy_vad_evidence:
            findings.append(CustodyFinding(otype, oid, "all fields", "UNBOUND",
                                           found="suggested by a legacy speech-detection event"))
            continue
        if otype == "segment" and oid in legacy_label_segments:
            findings.append(CustodyFinding(otype, oid, "all fields", "UNBOUND",
                                           found="created by a legacy label-import event"))
            continue
        findings.append(CustodyFinding(otype, oid, "(row)", "UNRECORDED"))
    order = {"case": 0, "evidence": 1, "segment": 2, "analysis_run": 3, "composite": 4, "comparison_run": 5}
    findings.sort(key=lambda f: (not f.failing, order.get(f.object_type, 9), f.object_id, f.field))
    return findings


def row_findings(events: Sequence[AuditEvent], case: Case, evidence: Iterable[Evidence] = (),
                 segments: Iterable[Segment] = ()) -> list[CustodyFinding]:
    """The failing findings of :func:`replay` about the case row and the given rows only: what a write must
    check before it changes them, so that an audited change never records a row altered outside the
    services as its trusted state (which would hide the alteration from every later verification)."""
    evidence, segments = list(evidence), list(segments)
    keys = {("case", str(case.id))} | {("evidence", str(e.id)) for e in evidence} | \
        {("segment", str(g.id)) for g in segments}
    return [f for f in replay(events, case, evidence, segments, (), only=keys)
            if f.failing and (f.object_type, f.object_id) in keys]
