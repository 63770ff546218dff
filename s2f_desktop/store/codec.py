"""The one encoder and decoder of stored results (JSON-ready dicts ↔ :mod:`s2f_desktop.core.results`
and :mod:`s2f_desktop.core.comparison_results`).

The stored form (schema 2) is what ``analysis_runs.results`` holds; the blocks ``quality``,
``traits`` (without provenance) and ``acoustics`` are also the blocks of the
``s2f analyze FILES --json`` contract, so both come from the same functions here.
Decoding refuses any other schema version: older runs are migrated by Alembic revision
0003, never read by guessing.

Speaker-comparison results (``comparison_runs.results``, schema 1) are encoded exactly as
they have been stored since revision 0005 (same keys, order and values; no version key), so
no stored row changes; see :func:`encode_comparison_results`. Their first keys are the
comparison system's verdict (:func:`encode_comparison_verdict`), which is also what
``s2f compare --json`` prints for files and ``--pairs``.
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Any, Iterator

from s2f_desktop.core.comparison_results import (
    COMPARISON_SCHEMA_VERSION,
    BySide,
    ComparedEvidence,
    ComparedSegment,
    ComparisonModelRef,
    ComparisonResults,
    ComparisonVerdict,
    ValidationPosition,
)
from s2f_desktop.core.errors import IntegrityError
from s2f_desktop.core.models import CompositeParam, Origin
from s2f_desktop.core.results import (
    SCHEMA_VERSION,
    Acoustics,
    AnalysedRange,
    Consistency,
    Measure,
    ModelRecord,
    PartResult,
    Pooled,
    Quality,
    QualityVerdict,
    RunResults,
    Timings,
)
from s2f_desktop.core.traits import AgeEstimate, SexEstimate, TraitEstimate

JSON = dict[str, Any]


# ------------------------------------------------------------------------- quality
def encode_quality(q: Quality) -> JSON:
    """Quality block (keys as in the CLI contract)."""
    return {"verdict": q.verdict.value, "reasons": list(q.reasons), "net_speech_s": q.net_speech_s,
            "snr_db": q.snr_db, "clipping_fraction": q.clipping_fraction, "bandwidth_hz": q.bandwidth_hz,
            "telephone_band": q.telephone_band, "level_dbfs": q.level_dbfs, "duration_s": q.duration_s,
            "snr_method": q.snr_method, "thresholds": dict(q.thresholds)}


def decode_quality(d: JSON) -> Quality:
    """Inverse of :func:`encode_quality`."""
    return Quality(QualityVerdict(d["verdict"]), tuple(str(r) for r in d["reasons"]), float(d["net_speech_s"]),
                   _opt_float(d["snr_db"]), float(d["clipping_fraction"]), float(d["bandwidth_hz"]),
                   bool(d["telephone_band"]), _opt_float(d["level_dbfs"]), float(d["duration_s"]),
                   str(d["snr_method"]), {str(k): float(v) for k, v in d["thresholds"].items()})


# -------------------------------------------------------------------------- traits
def encode_traits(t: TraitEstimate, provenance: bool = True) -> JSON:
    """Trait block; without ``provenance`` exactly the CLI contract's ``traits`` (``sex``, ``age``)."""
    out: JSON = {
        "sex": {"p_male": t.sex.p_male, "label": t.sex.label, "reason": t.sex.reason},
        "age": {"median_years": t.age.median_years, "interval_80": list(t.age.interval_80), "label": t.age.label,
                "bin_probabilities": dict(t.age.bin_probabilities), "reason": t.age.reason},
    }
    if provenance:
        out["model"] = {"id": t.model_id, "sha256": t.model_sha256}
        out["device"] = t.device
        out["extra"] = dict(t.extra)
    return out


def decode_traits(d: JSON) -> TraitEstimate:
    """Inverse of :func:`encode_traits` (stored form, with provenance)."""
    sx, ag = d["sex"], d["age"]
    lo, hi = ag["interval_80"]
    return TraitEstimate(
        SexEstimate(float(sx["p_male"]), str(sx["label"]), str(sx["reason"])),
        AgeEstimate(float(ag["median_years"]), (float(lo), float(hi)), str(ag["label"]),
                    {str(k): float(v) for k, v in ag["bin_probabilities"].items()}, str(ag["reason"])),
        str(d["model"]["id"]), str(d["model"]["sha256"]), str(d["device"]), dict(d["extra"]))


# ----------------------------------------------------------------------- acoustics
def encode_acoustics(a: Acoustics) -> JSON:
    """``{name: {"value", "unit"[, "reliable": false]}}`` in measure order, then the ceiling and notes."""
    out: JSON = {}
    for name, m in a.measures.items():
        entry: JSON = {"value": m.value, "unit": m.unit}
        if not m.reliable:
            entry["reliable"] = False
        out[name] = entry
    out["formant_ceiling_hz"] = a.formant_ceiling_hz
    out["notes"] = list(a.notes)
    return out


def decode_acoustics(d: JSON) -> Acoustics:
    """Inverse of :func:`encode_acoustics`."""
    measures = {k: Measure(_opt_float(v["value"]), str(v["unit"]), bool(v.get("reliable", True)))
                for k, v in d.items() if k not in ("formant_ceiling_hz", "notes")}
    return Acoustics(measures, _opt_float(d["formant_ceiling_hz"]), tuple(str(n) for n in d["notes"]))


# --------------------------------------------------------------------- consistency
def encode_consistency(c: Consistency) -> JSON:
    """Consistency block (the calibrated check's fields only when it is the calibrated check)."""
    out: JSON = {"segment_ids": list(c.segment_ids), "similarity": [list(r) for r in c.similarity],
                 "median_similarity": dict(c.median_similarity), "flagged": list(c.flagged),
                 "threshold": c.threshold, "threshold_source": c.threshold_source, "note": c.note}
    if c.method != "cosine":
        out.update({"method": c.method, "log10_lr": dict(c.log10_lr), "speech_s": dict(c.speech_s),
                    "not_judged": list(c.not_judged), "groups": [list(g) for g in c.groups], "split": c.split,
                    "between": [[a, b, v] for a, b, v in c.between]})
    return out


def decode_consistency(d: JSON) -> Consistency:
    """Inverse of :func:`encode_consistency`."""
    return Consistency(tuple(d["segment_ids"]), tuple(tuple(float(v) for v in r) for r in d["similarity"]),
                       {str(k): _opt_float(v) for k, v in d["median_similarity"].items()}, tuple(d["flagged"]),
                       float(d["threshold"]), str(d["threshold_source"]), str(d["note"]),
                       method=str(d.get("method", "cosine")),
                       log10_lr={str(k): _opt_float(v) for k, v in d.get("log10_lr", {}).items()},
                       speech_s={str(k): float(v) for k, v in d.get("speech_s", {}).items()},
                       not_judged=tuple(d.get("not_judged", ())),
                       groups=tuple(tuple(g) for g in d.get("groups", ())), split=bool(d.get("split", False)),
                       between=tuple((int(a), int(b), float(v)) for a, b, v in d.get("between", ())))


# ---------------------------------------------------------------- parts and pooled
def encode_part(p: PartResult) -> JSON:
    """One segment's (or file range's) result."""
    return {"id": p.id, "duration_s": p.duration_s, "speech_s": p.speech_s,
            "speech_regions": [[a, b] for a, b in p.speech_regions], "quality": encode_quality(p.quality),
            "traits": encode_traits(p.traits),
            "acoustics": None if p.acoustics is None else encode_acoustics(p.acoustics)}


def decode_part(d: JSON) -> PartResult:
    """Inverse of :func:`encode_part`."""
    return PartResult(str(d["id"]), float(d["duration_s"]), float(d["speech_s"]),
                      tuple((float(a), float(b)) for a, b in d["speech_regions"]), decode_quality(d["quality"]),
                      decode_traits(d["traits"]), None if d["acoustics"] is None else decode_acoustics(d["acoustics"]))


def encode_pooled(p: Pooled) -> JSON:
    """The pooled block."""
    return {"quality": encode_quality(p.quality), "traits": encode_traits(p.traits),
            "acoustics": encode_acoustics(p.acoustics), "speech_s": p.speech_s, "duration_s": p.duration_s}


def decode_pooled(d: JSON) -> Pooled:
    """Inverse of :func:`encode_pooled`."""
    return Pooled(decode_quality(d["quality"]), decode_traits(d["traits"]), decode_acoustics(d["acoustics"]),
                  float(d["speech_s"]), float(d["duration_s"]))


# ------------------------------------------------------------------------ the run
def encode_range(r: AnalysedRange) -> JSON:
    """One analysed range."""
    return {"segment_id": r.segment_id, "evidence_id": r.evidence_id, "evidence_sha256": r.evidence_sha256,
            "evidence_name": r.evidence_name, "start_sample": r.start_sample, "end_sample": r.end_sample,
            "sample_rate": r.sample_rate, "samples_sha256": r.samples_sha256}


def decode_range(d: JSON) -> AnalysedRange:
    """Inverse of :func:`encode_range`."""
    return AnalysedRange(str(d["segment_id"]), int(d["evidence_id"]), str(d["evidence_sha256"]),
                         str(d["evidence_name"]), int(d["start_sample"]), int(d["end_sample"]), int(d["sample_rate"]),
                         None if d["samples_sha256"] is None else str(d["samples_sha256"]))


def encode_results(r: RunResults) -> JSON:
    """A run's results as stored (schema :data:`SCHEMA_VERSION`)."""
    return {"schema_version": r.schema_version, "selection": [encode_range(x) for x in r.selection],
            "segments": [encode_part(p) for p in r.segments], "pooled": encode_pooled(r.pooled),
            "consistency": None if r.consistency is None else encode_consistency(r.consistency),
            **({"notes": list(r.notes)} if r.notes else {})}


def decode_results(d: JSON) -> RunResults:
    """Inverse of :func:`encode_results`; a stored run of another schema version is an integrity error."""
    version = d.get("schema_version") if isinstance(d, dict) else None
    if not isinstance(version, int):
        raise IntegrityError("the stored analysis results carry no schema version, so this application did not "
                             "write them: the database was changed outside it (restore it from a backup)")
    if version != SCHEMA_VERSION:
        raise IntegrityError(f"stored analysis results have schema version {version!r}, this release reads "
                             f"{SCHEMA_VERSION}; open the store with this release to migrate it")
    return RunResults(SCHEMA_VERSION, tuple(decode_range(x) for x in d["selection"]),
                      tuple(decode_part(p) for p in d["segments"]), decode_pooled(d["pooled"]),
                      None if d["consistency"] is None else decode_consistency(d["consistency"]),
                      tuple(str(n) for n in d.get("notes", ())))


def encode_models(models: tuple[ModelRecord, ...]) -> list[dict[str, Any]]:
    """Model records as stored (and printed); ``"shipped": false`` only on models outside the shipped set."""
    return [{"id": m.id, "file": m.file, "sha256": m.sha256, **({} if m.shipped else {"shipped": False})}
            for m in models]


def decode_models(rows: list[dict[str, Any]]) -> tuple[ModelRecord, ...]:
    """Inverse of :func:`encode_models`."""
    return tuple(ModelRecord(str(m["id"]), str(m["file"]), str(m["sha256"]), bool(m.get("shipped", True)))
                 for m in rows)


def encode_timings(t: Timings) -> dict[str, float]:
    """Timings as stored."""
    return {"read_s": t.read_s, "load_models_s": t.load_models_s, "analysis_s": t.analysis_s}


def decode_timings(d: dict[str, float]) -> Timings:
    """Inverse of :func:`encode_timings`."""
    return Timings(float(d["read_s"]), float(d["load_models_s"]), float(d["analysis_s"]))


def _opt_float(v: Any) -> float | None:
    return None if v is None else float(v)


# ---------------------------------------------------------------- composite parameters
def encode_params(params: dict[str, CompositeParam]) -> dict[str, JSON]:
    """Composite parameters as stored (and as the face renderer takes them): ``{name: {value, origin, note,
    illustrative}}`` in order."""
    return {k: {"value": p.value, "origin": p.origin.value, "note": p.note, "illustrative": p.illustrative}
            for k, p in params.items()}


def decode_params(d: dict[str, JSON]) -> dict[str, CompositeParam]:
    """Inverse of :func:`encode_params` (also reads the face layer's parameter records)."""
    return {str(k): CompositeParam(v["value"], Origin(v["origin"]), str(v["note"]), bool(v["illustrative"]))
            for k, v in d.items()}


# ------------------------------------------------------------------ speaker comparisons
def encode_comparison_verdict(v: ComparisonVerdict) -> JSON:
    """The comparison system's verdict: the first keys of a stored run (``score`` … ``validation_position``).

    ``s2f compare --json`` (files and ``--pairs``) prints its fields from this encoding, so the
    CLI and the store cannot disagree on a value. ``validation_position`` is left out when the
    system abstained.
    """
    out: JSON = {"score": v.score, "snorm": v.snorm, "log10_lr": v.log10_lr, "lr": v.lr, "verbal": v.verbal,
                 "label": v.label, "abstain_reason": v.abstain_reason,
                 "speech_s": {"questioned": v.speech_s.questioned, "known": v.speech_s.known},
                 "at_bound": v.at_bound, "hp": v.hp, "hd": v.hd, "scale": v.scale, "channel": v.channel,
                 "quality": {"questioned": encode_quality(v.quality.questioned),
                             "known": encode_quality(v.quality.known)},
                 "segments_used": {"questioned": list(v.segments_used.questioned),
                                   "known": list(v.segments_used.known)}}
    if v.validation_position is not None:
        vp = v.validation_position
        out["validation_position"] = {
            "share_same_speaker_trials_at_or_below": vp.share_same_speaker_trials_at_or_below,
            "share_different_speaker_trials_at_or_above": vp.share_different_speaker_trials_at_or_above}
    return out


def decode_comparison_verdict(d: JSON) -> ComparisonVerdict:
    """Inverse of :func:`encode_comparison_verdict` (numbers keep the type they were stored with)."""
    with _malformed_comparison():
        sp, q, used = d["speech_s"], d["quality"], d["segments_used"]
        vp = d.get("validation_position")
        return ComparisonVerdict(
            score=_opt_num(d["score"]), snorm=_opt_num(d["snorm"]), log10_lr=_opt_num(d["log10_lr"]),
            lr=_opt_num(d["lr"]), verbal=str(d["verbal"]), label=str(d["label"]),
            abstain_reason=None if d["abstain_reason"] is None else str(d["abstain_reason"]),
            speech_s=BySide(_num(sp["questioned"]), _num(sp["known"])), at_bound=bool(d["at_bound"]),
            hp=str(d["hp"]), hd=str(d["hd"]), scale=str(d["scale"]), channel=str(d["channel"]),
            quality=BySide(_decode_quality_exact(q["questioned"]), _decode_quality_exact(q["known"])),
            segments_used=BySide(tuple(str(s) for s in used["questioned"]), tuple(str(s) for s in used["known"])),
            validation_position=None if vp is None else ValidationPosition(
                _num(vp["share_same_speaker_trials_at_or_below"]),
                _num(vp["share_different_speaker_trials_at_or_above"])))


def encode_comparison_results(r: ComparisonResults) -> JSON:
    """A comparison's results as stored (schema 1: the keys, order and values written since revision 0005).

    The verdict's keys (:func:`encode_comparison_verdict`) come first; ``segments`` (segment
    id → evidence id, sample range, side), ``evidence`` (evidence id as text → sha256, name)
    and ``model`` follow.
    """
    if r.schema_version != COMPARISON_SCHEMA_VERSION:
        raise ValueError(f"this release writes comparison results schema {COMPARISON_SCHEMA_VERSION}, "
                         f"not {r.schema_version}")
    out = encode_comparison_verdict(r)
    out["segments"] = {g.segment_id: {"evidence_id": g.evidence_id, "range_samples": [g.start_sample, g.end_sample],
                                      "side": g.side} for g in r.segments}
    out["evidence"] = {str(e.evidence_id): {"sha256": e.sha256, "name": e.name} for e in r.evidence}
    out["model"] = {"id": r.model.id, "sha256": r.model.sha256}
    if r.notes:
        out["notes"] = list(r.notes)
    return out


def decode_comparison_results(d: JSON) -> ComparisonResults:
    """Inverse of :func:`encode_comparison_results`; another schema version is an integrity error.

    Numbers keep the type they were stored with, so ``encode(decode(d)) == d`` holds exactly
    for every row written since revision 0005 (tested against today's writer).
    """
    version = d.get("schema_version", 1) if isinstance(d, dict) else None
    if version != COMPARISON_SCHEMA_VERSION:
        raise IntegrityError(f"stored comparison results have schema version {version!r}, this release reads "
                             f"{COMPARISON_SCHEMA_VERSION}")
    verdict = decode_comparison_verdict(d)
    with _malformed_comparison():
        return ComparisonResults.of(
            verdict,
            segments=tuple(ComparedSegment(str(sid), int(g["evidence_id"]), int(g["range_samples"][0]),
                                           int(g["range_samples"][1]), str(g["side"]))
                           for sid, g in d["segments"].items()),
            evidence=tuple(ComparedEvidence(int(eid), str(e["sha256"]), str(e["name"]))
                           for eid, e in d["evidence"].items()),
            model=ComparisonModelRef(str(d["model"]["id"]), str(d["model"]["sha256"])),
            notes=tuple(str(n) for n in d.get("notes", ())))


@contextmanager
def stored_row(label: str) -> Iterator[None]:
    """Reading one stored row (``label``, e.g. "analysis run #2"): a missing key, a value of the wrong
    type or an unreadable encoding is an integrity error that names the row, so ``s2f verify`` and
    the report say what was changed outside the application (exit status 4) instead of failing
    with an internal error."""
    try:
        yield
    except IntegrityError as exc:  # its message says what is wrong (another schema version, a malformed value)
        raise IntegrityError(f"{label}: {exc.message}") from exc
    except (KeyError, TypeError, ValueError, IndexError, AttributeError) as exc:
        what = f"the field {exc.args[0]!r} is missing" if isinstance(exc, KeyError) else f"{type(exc).__name__}: {exc}"
        raise IntegrityError(f"{label}: a stored value cannot be read ({what}); the database was changed outside "
                             "the application (restore it from a backup)") from exc


@contextmanager
def _malformed_comparison() -> Iterator[None]:
    """A missing key or a value of the wrong type in stored comparison results is an integrity error."""
    try:
        yield
    except (KeyError, TypeError, ValueError, IndexError, AttributeError) as exc:
        raise IntegrityError(f"comparison results are malformed ({type(exc).__name__}: {exc})") from exc


def _decode_quality_exact(d: JSON) -> Quality:
    """:func:`decode_quality` keeping each stored number's type (an int stays an int: byte-identical re-encoding)."""
    return Quality(QualityVerdict(d["verdict"]), tuple(str(r) for r in d["reasons"]), _num(d["net_speech_s"]),
                   _opt_num(d["snr_db"]), _num(d["clipping_fraction"]), _num(d["bandwidth_hz"]),
                   bool(d["telephone_band"]), _opt_num(d["level_dbfs"]), _num(d["duration_s"]),
                   str(d["snr_method"]), {str(k): _num(v) for k, v in d["thresholds"].items()})


def _num(v: Any) -> float:
    """A stored number as it is (int or float); anything else is refused."""
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise TypeError(f"expected a number, found {v!r}")
    n: float = v
    return n


def _opt_num(v: Any) -> float | None:
    return None if v is None else _num(v)
