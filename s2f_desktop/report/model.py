"""The report's content as plain data, built only from stored records.

:func:`build_report_data` turns what the store holds (case, evidence with its report-time
verification, segments, one analysis run, its composites, the audit trail) plus the
model cards under ``models/`` into a :class:`ReportData` of display-ready strings. The PDF
renderer only lays this out; nothing here reads widget state or recomputes an analysis.

Determinism: every value comes from stored data or from the ``generated_at`` argument,
lists are in stored order, and floats are formatted with fixed precision. The same stored
state and the same ``generated_at`` therefore give the same text. The report id is a hash
of the *content inputs* (case, evidence hashes and their verification result, the run,
its segments and its composites); it does not depend on ``generated_at`` or on the audit
trail, so re-exporting unchanged findings yields the same id.

The stored analysis results are written by another component and may lack keys, so
every read here is defensive: a missing value is shown as :data:`NA` rather than failing.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

from s2f_desktop.core.models import (
    AnalysisRun,
    AuditEvent,
    Case,
    ChainCheck,
    Composite,
    Evidence,
    EvidenceCheck,
    Segment,
    VerifyStatus,
)
from s2f_desktop.core.traits import INCONCLUSIVE
from s2f_desktop.report import language
from s2f_desktop.report.modelcards import ModelCardInfo

#: Shown wherever a value was not stored.
NA = "not available"
#: The marking on the cover and on every page.
MARKING = "Investigative lead \u2014 not an identification"


# ----------------------------------------------------------------------------- shapes
@dataclass(frozen=True)
class EvidenceItem:
    """One evidence row of the report."""

    id: int
    name: str
    sha256: str
    duration: str
    format: str
    size: str
    imported: str
    status: str  # VerifyStatus value at report time
    actual_sha256: str  # what re-hashing found ("" when identical or missing)


@dataclass(frozen=True)
class SegmentItem:
    """One analysed segment."""

    id: str
    evidence: str
    start: str
    end: str
    duration: str
    label: str
    speaker: str
    source: str
    quality: str
    reasons: str
    sex: str
    age: str


@dataclass(frozen=True)
class SexFinding:
    """Pooled sex estimate as shown in the findings."""

    available: bool
    p_male: str
    label: str
    abstained: bool
    statement: str
    reason: str


@dataclass(frozen=True)
class AgeFinding:
    """Pooled age estimate as shown in the findings."""

    available: bool
    median: str
    interval: str
    label: str
    abstained: bool
    statement: str
    reason: str
    bands: str = ""  # probability of each age band, when stored


@dataclass(frozen=True)
class Measure:
    """An acoustic measure with its unit and a reliability note."""

    name: str
    value: str
    unit: str
    note: str = ""


@dataclass(frozen=True)
class ImageItem:
    """One rendered view of a composite, checked against its stored hash."""

    view: str
    path: Path | None  # None unless the file exists and matches its hash
    sha256: str
    status: str  # OK / ALTERED / MISSING / NOT RECORDED


@dataclass(frozen=True)
class ParamItem:
    """One composite parameter with its origin."""

    name: str
    value: str
    origin: str
    note: str


@dataclass(frozen=True)
class EditItem:
    """One analyst change relative to the parent composite."""

    name: str
    before: str
    after: str
    note: str


@dataclass(frozen=True)
class CompositeItem:
    """One composite (primary or variant) with its images, parameters and edits."""

    id: int
    kind: str
    label: str
    version: int
    parent_id: int | None
    created: str
    created_by: str
    is_primary: bool
    images: tuple[ImageItem, ...]
    parameters: tuple[ParamItem, ...]
    edits: tuple[EditItem, ...]


@dataclass(frozen=True)
class AuditItem:
    """One audit event line."""

    seq: int
    at: str
    actor: str
    action: str
    objects: str
    details: str
    hash: str


@dataclass(frozen=True)
class ReportData:
    """Everything the PDF shows, as display-ready values."""

    report_id: str
    generated_at: str
    app_version: str
    marking: str
    # cover
    case_number: str
    case_title: str
    analyst: str
    agency: str
    case_status: str
    case_opened: str
    # evidence
    evidence: tuple[EvidenceItem, ...]
    evidence_ok: bool
    # material analysed
    run_id: int | None
    run_created: str
    run_created_by: str
    other_runs: tuple[str, ...]
    segments: tuple[SegmentItem, ...]
    net_speech: str
    total_selected: str
    quality_verdict: str
    quality_reasons: tuple[str, ...]
    quality_measures: tuple[Measure, ...]
    consistency: str
    consistency_details: tuple[Measure, ...]
    # findings
    sex: SexFinding
    age: AgeFinding
    acoustics: tuple[Measure, ...]
    acoustic_notes: tuple[str, ...]
    # composites
    composites: tuple[CompositeItem, ...]
    # method and limitations
    models: tuple[ModelCardInfo, ...]
    limitations: tuple[str, ...]
    context_note: str
    scale_note: str
    # audit and reproducibility
    audit: tuple[AuditItem, ...]
    chain_status: str
    chain_ok: bool
    reproducibility: tuple[tuple[str, str], ...]
    warnings: tuple[str, ...] = field(default_factory=tuple)

    def all_text_fields(self) -> str:
        """Canonical JSON of the data (used in tests for the determinism check)."""
        return canonical(self)


# --------------------------------------------------------------------------- helpers
def canonical(obj: Any) -> str:
    """Deterministic JSON of dataclasses, paths and plain values."""
    import dataclasses

    def conv(o: Any) -> Any:
        if dataclasses.is_dataclass(o) and not isinstance(o, type):
            return {f.name: conv(getattr(o, f.name)) for f in dataclasses.fields(o)}
        if isinstance(o, Mapping):
            return {str(k): conv(v) for k, v in o.items()}
        if isinstance(o, (list, tuple)):
            return [conv(v) for v in o]
        if isinstance(o, (Path, datetime)):
            return str(o)
        if hasattr(o, "value") and not isinstance(o, (int, float, str)):
            return str(o.value)
        return o

    return json.dumps(conv(obj), sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def fmt_dt(dt: datetime | None) -> str:
    """Stored (naive UTC) time → text."""
    return NA if dt is None else dt.strftime("%Y-%m-%d %H:%M:%S UTC")


def fmt_clock(seconds: float) -> str:
    """Seconds → m:ss.mmm (h:mm:ss.mmm past an hour)."""
    seconds = max(0.0, float(seconds))
    h, rem = divmod(seconds, 3600)
    m, s = divmod(rem, 60)
    return f"{int(h)}:{int(m):02d}:{s:06.3f}" if h else f"{int(m)}:{s:06.3f}"


def fmt_duration(seconds: float) -> str:
    """A recording's length: seconds, with minutes past one minute."""
    if seconds < 60:
        return f"{seconds:.2f} s"
    return f"{fmt_clock(seconds)} ({seconds:.1f} s)"


def fmt_num(v: Any, digits: int = 2) -> str:
    """A number with fixed precision; anything else (or NaN) → :data:`NA`."""
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, (int, float)):
        if isinstance(v, float) and not math.isfinite(v):
            return NA
        if isinstance(v, int):
            return str(v)
        return f"{v:.{digits}f}"
    return NA


def fmt_size(n: int) -> str:
    """Bytes → human-readable size (binary units)."""
    if n < 1024:
        return f"{n} B"
    v = float(n)
    for unit in ("KiB", "MiB", "GiB", "TiB"):
        v /= 1024
        if v < 1024 or unit == "TiB":
            break
    return f"{v:.1f} {unit}"


def _as_dict(v: Any) -> dict[str, Any]:
    return v if isinstance(v, dict) else {}


def _first(d: Mapping[str, Any], *keys: str) -> Any:
    """First present, non-None value among ``keys``."""
    for k in keys:
        if k in d and d[k] is not None:
            return d[k]
    return None


def _num(v: Any) -> float | None:
    if isinstance(v, bool):
        return None
    if isinstance(v, (int, float)) and math.isfinite(float(v)):
        return float(v)
    return None


def _text_list(v: Any) -> tuple[str, ...]:
    """Reasons may be stored as strings, dicts ({code, message}) or one string."""
    if v is None:
        return ()
    if isinstance(v, str):
        return (v,) if v else ()
    out: list[str] = []
    if isinstance(v, Iterable):
        for item in v:
            if isinstance(item, dict):
                out.append(str(_first(item, "message", "text", "reason", "code") or canonical(item)))
            elif item is not None and str(item):
                out.append(str(item))
    return tuple(out)


# ------------------------------------------------------------ reading analysis results
def pooled_entry(results: Mapping[str, Any]) -> dict[str, Any]:
    """The whole-selection entry of a run's results (several spellings are accepted)."""
    for key in ("pooled", "overall", "summary", "combined", "aggregate"):
        if isinstance(results.get(key), dict):
            return results[key]
    # A flat results dict carries the pooled values at the top level.
    return dict(results)


def segment_entries(results: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """Per-segment entries keyed by segment id (list or mapping storage accepted)."""
    raw = _first(results, "segments", "per_segment", "by_segment")
    out: dict[str, dict[str, Any]] = {}
    if isinstance(raw, dict):
        for k, v in raw.items():
            if isinstance(v, dict):
                out[str(k)] = v
    elif isinstance(raw, list):
        for v in raw:
            if isinstance(v, dict):
                sid = _first(v, "segment_id", "id", "segment")
                if sid is not None:
                    out[str(sid)] = v
    return out


def entry_traits(entry: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """``(sex, age)`` dicts of an entry, looked up under ``traits`` or at the top level."""
    traits = _as_dict(_first(entry, "traits", "estimate", "estimates")) or dict(entry)
    return _as_dict(traits.get("sex")), _as_dict(traits.get("age"))


def entry_quality(entry: Mapping[str, Any]) -> dict[str, Any]:
    """The quality dict of an entry."""
    return _as_dict(entry.get("quality"))


def _is_abstention(label: Any) -> bool:
    return isinstance(label, str) and label.strip().lower() in {INCONCLUSIVE, "abstain", "abstained", "abstention"}


def sex_finding(sex: Mapping[str, Any]) -> SexFinding:
    """Pooled sex estimate → finding with its plain-language statement."""
    p = _num(_first(sex, "p_male", "probability_male", "p"))
    label = str(_first(sex, "label", "decision") or "")
    reason = " ".join(_text_list(_first(sex, "reason", "reasons", "abstain_reason")))
    if p is None:
        if _is_abstention(label):
            return SexFinding(True, NA, INCONCLUSIVE, True,
                              "ABSTAINED: no sex estimate is given for this material.", reason)
        return SexFinding(False, NA, label or NA, False, "No sex estimate was stored for this analysis.", reason)
    stmt = language.express_sex(p)
    if _is_abstention(label):
        text = (f"ABSTAINED: the model declines to state a sex for this material. For the record, the calibrated "
                f"probability of a male speaker was {language.fmt_probability(p)}; it is not a finding.")
        return SexFinding(True, language.fmt_probability(p), INCONCLUSIVE, True, text, reason)
    return SexFinding(True, language.fmt_probability(p), label or stmt.favoured or NA, False, stmt.sentence, reason)


def age_finding(age: Mapping[str, Any]) -> AgeFinding:
    """Pooled age estimate → finding (median, 80 % interval, bin label)."""
    med = _num(_first(age, "median_years", "median", "years"))
    interval = _first(age, "interval_80", "interval", "ci80")
    lo = hi = None
    if isinstance(interval, (list, tuple)) and len(interval) == 2:
        lo, hi = _num(interval[0]), _num(interval[1])
    label = str(_first(age, "label", "bin") or "")
    reason = " ".join(_text_list(_first(age, "reason", "reasons", "abstain_reason")))
    if med is None:
        if _is_abstention(label):
            return AgeFinding(True, NA, NA, INCONCLUSIVE, True,
                              "ABSTAINED: no age estimate is given for this material.", reason)
        return AgeFinding(False, NA, NA, label or NA, False, "No age estimate was stored for this analysis.", reason)
    interval_txt = f"{lo:.0f}\u2013{hi:.0f} years" if lo is not None and hi is not None else NA
    if _is_abstention(label):
        text = (f"ABSTAINED: the model declines to state an age range for this material. For the record, the "
                f"median was {med:.0f} years (80 % interval {interval_txt}); it is not a finding.")
        return AgeFinding(True, f"{med:.0f} years", interval_txt, INCONCLUSIVE, True, text, reason)
    if lo is not None and hi is not None:
        text = language.express_age(med, lo, hi)
    else:
        text = f"The estimated age is around {med:.0f} years; no interval was stored."
    bins = _as_dict(age.get("bin_probabilities"))
    bands = ", ".join(f"{k}: {fmt_num(_num(v), 2)}" for k, v in bins.items() if _num(v) is not None)
    return AgeFinding(True, f"{med:.0f} years", interval_txt, label or NA, False, text, reason, bands)


_SUFFIX_UNITS = (("_hz", "Hz"), ("_db", "dB"), ("_dbfs", "dBFS"), ("_ms", "ms"), ("_s", "s"), ("_pct", "%"),
                 ("_percent", "%"), ("_cm", "cm"), ("_st", "semitones"))
_KNOWN_UNITS = {"f0": "Hz", "f0_median": "Hz", "f0_mean": "Hz", "f1": "Hz", "f2": "Hz", "f3": "Hz", "f4": "Hz",
                "hnr": "dB", "jitter_local": "%", "shimmer_local": "%", "formant_dispersion": "Hz",
                "vocal_tract_length": "cm", "snr": "dB", "level": "dBFS", "clipping_fraction": "fraction",
                "bandwidth": "Hz", "net_speech": "s", "voiced_fraction": "ratio"}
_PRETTY = {"f0_median": "F0 median", "f0_p5": "F0 5th percentile", "f0_p95": "F0 95th percentile",
           "f0_range": "F0 range (5\u201395 %)", "f1": "F1 (formant 1)", "f2": "F2 (formant 2)",
           "f3": "F3 (formant 3)", "f4": "F4 (formant 4)", "formant_dispersion": "Formant dispersion",
           "vocal_tract_length": "Apparent vocal-tract length", "hnr": "Harmonics-to-noise ratio",
           "jitter_local": "Jitter (local)", "shimmer_local": "Shimmer (local)", "voiced_duration": "Voiced duration",
           "voiced_fraction": "Voiced fraction", "snr_db": "Signal-to-noise ratio", "level_dbfs": "Speech level",
           "clipping_fraction": "Clipped samples", "bandwidth_hz": "Effective bandwidth",
           "telephone_band": "Telephone band", "net_speech_s": "Net speech", "formant_ceiling_hz": "Formant ceiling"}


def pretty_name(key: str) -> str:
    """Stored measure key → readable name."""
    if key in _PRETTY:
        return _PRETTY[key]
    base = key
    for suffix, _ in _SUFFIX_UNITS:
        if base.endswith(suffix):
            base = base[: -len(suffix)]
            break
    return base.replace("_", " ").strip().capitalize() or key


def unit_for(key: str) -> str:
    """Unit of a measure stored as a bare number (from its name)."""
    if key in _KNOWN_UNITS:
        return _KNOWN_UNITS[key]
    for suffix, unit in _SUFFIX_UNITS:
        if key.endswith(suffix):
            return unit
    return ""


def measures(d: Mapping[str, Any], skip: Iterable[str] = ()) -> tuple[Measure, ...]:
    """``{name: value}`` or ``{name: {"value", "unit"}}`` → measures, in stored order."""
    skip = set(skip)
    out: list[Measure] = []
    for key, raw in d.items():
        if key in skip or key in ("notes",):
            continue
        note = ""
        if isinstance(raw, dict):
            value = raw.get("value")
            unit = str(raw.get("unit") or unit_for(key))
            if raw.get("reliable") is False:
                note = "unreliable here (needs the band above 3.4 kHz)"
            elif raw.get("note"):
                note = str(raw["note"])
        else:
            value, unit = raw, unit_for(key)
        if isinstance(value, (dict, list)):
            continue
        if isinstance(value, bool):
            text = "yes" if value else "no"
            unit = ""
        elif isinstance(value, (int, float)):
            digits = 4 if (isinstance(value, float) and abs(value) < 0.1 and value != 0) else 2
            text = fmt_num(value, digits)
        elif value is None:
            text = "not measurable"
        else:
            text = str(value)
        out.append(Measure(pretty_name(key), text, unit, note))
    return tuple(out)


def _sex_short(sex: Mapping[str, Any]) -> str:
    p = _num(_first(sex, "p_male", "probability_male", "p"))
    label = str(_first(sex, "label", "decision") or "")
    if _is_abstention(label):
        return "abstained" + (f" (p male {language.fmt_probability(p)})" if p is not None else "")
    if p is None:
        return NA
    return f"p male {language.fmt_probability(p)}" + (f" ({label})" if label else "")


def _age_short(age: Mapping[str, Any]) -> str:
    med = _num(_first(age, "median_years", "median"))
    label = str(_first(age, "label", "bin") or "")
    if _is_abstention(label):
        return "abstained"
    if med is None:
        return NA
    interval = _first(age, "interval_80", "interval")
    if isinstance(interval, (list, tuple)) and len(interval) == 2 and _num(interval[0]) is not None \
            and _num(interval[1]) is not None:
        return f"{med:.0f} y ({_num(interval[0]):.0f}\u2013{_num(interval[1]):.0f})"
    return f"{med:.0f} y"


def consistency_of(results: Mapping[str, Any], pooled: Mapping[str, Any],
                   seg_numbers: Mapping[str, str] | None = None) -> tuple[str, tuple[Measure, ...]]:
    """Speaker-consistency verdict and its details.

    Accepts a verdict-style dict (``verdict``/``consistent``/``message``) and the form of
    :meth:`s2f_desktop.voice.consistency.ConsistencyReport.to_dict` (``flagged`` segment
    ids, ``median_similarity`` per segment, ``threshold``), plus an optional ``warnings`` list.
    """
    seg_numbers = seg_numbers or {}
    raw = _first(results, "consistency", "speaker_consistency")
    if raw is None:
        raw = _first(pooled, "consistency", "speaker_consistency")
    if isinstance(raw, list):
        raw = {"warnings": raw}
    c = _as_dict(raw)
    if not c:
        return "Speaker consistency was not assessed for this analysis.", ()

    def seg_name(sid: Any) -> str:
        return seg_numbers.get(str(sid), f"segment {str(sid)[:8]}")

    verdict = _first(c, "verdict", "result", "label", "status", "summary")
    consistent = c.get("consistent")
    flagged = c.get("flagged")
    if verdict is None and isinstance(consistent, bool):
        verdict = "consistent" if consistent else "NOT consistent"
    if verdict is None and isinstance(flagged, list):
        if flagged:
            verdict = ("NOT consistent: " + ", ".join(seg_name(f) for f in flagged) +
                       " may be a different speaker from the rest of the selection")
        else:
            verdict = "consistent (no segment differs from the rest of the selection)"
    text = f"Speaker consistency: {verdict if verdict is not None else NA}."
    for key in ("message", "explanation", "note"):
        if isinstance(c.get(key), str) and c[key]:
            text += f" {c[key][0].upper()}{c[key][1:]}" + ("" if c[key].endswith(".") else ".")
    warnings = _text_list(c.get("warnings"))
    if warnings:
        text += " Warnings: " + "; ".join(warnings) + "."
    skip = {"verdict", "result", "label", "status", "summary", "message", "explanation", "note", "consistent",
            "warnings", "flagged", "segment_ids", "similarity", "median_similarity"}
    details = list(measures({k: v for k, v in c.items() if k not in skip}))
    med = c.get("median_similarity")
    if isinstance(med, dict):
        for sid, v in med.items():
            details.append(Measure(f"Median similarity, {seg_name(sid)}", fmt_num(v, 3) if v is not None else NA,
                                   "cosine", "flagged" if isinstance(flagged, list) and sid in flagged else ""))
    return text, tuple(details)


# ------------------------------------------------------------------ composites
def _fmt_value(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.4g}"
    if isinstance(v, (dict, list)):
        return canonical(v)
    return str(v)


def _param_parts(raw: Any) -> tuple[Any, str, str]:
    """``(value, origin, note)`` of a stored parameter; illustrative parameters say so in the note."""
    if isinstance(raw, dict) and "value" in raw:
        note = str(raw.get("note") or "")
        if raw.get("illustrative"):
            note = f"{note} (illustrative)" if note else "illustrative"
        return raw.get("value"), str(raw.get("origin") or NA), note
    return raw, NA, ""


def composite_items(composites: Sequence[Composite], image_root: Path,
                    image_checks: Mapping[tuple[int, str], str]) -> tuple[CompositeItem, ...]:
    """Composites → report items, each with its edits relative to its parent.

    Order: the primary first, then the variants in creation order; every analyst edit
    follows the composite it was derived from.
    """
    by_id = {c.id: c for c in composites}
    children: dict[int, list[Composite]] = {}
    roots: list[Composite] = []
    for c in composites:
        if c.parent_id is not None and c.parent_id in by_id:
            children.setdefault(c.parent_id, []).append(c)
        else:
            roots.append(c)
    ordered: list[Composite] = []

    def visit(c: Composite) -> None:
        ordered.append(c)
        for child in sorted(children.get(c.id, []), key=lambda x: (x.version, x.id)):
            visit(child)

    for root in sorted(roots, key=lambda x: (0 if x.kind == "primary" else 1, x.id)):
        visit(root)

    items: list[CompositeItem] = []
    for c in ordered:
        images = []
        for view in sorted(c.images):
            status = image_checks.get((c.id, view), "NOT CHECKED")
            path = image_root / c.images[view] if status == VerifyStatus.OK.value else None
            images.append(ImageItem(view, path, c.image_sha256.get(view, ""), status))
        params = tuple(ParamItem(name, _fmt_value(v), origin, note)
                       for name, (v, origin, note) in ((n, _param_parts(c.parameters[n]))
                                                       for n in c.parameters))  # stored (mapping) order
        edits: list[EditItem] = []
        parent = by_id.get(c.parent_id) if c.parent_id is not None else None
        if parent is not None:
            for name in list(c.parameters) + [n for n in parent.parameters if n not in c.parameters]:
                new_v, new_o, note = _param_parts(c.parameters.get(name))
                old_v, _, _ = _param_parts(parent.parameters.get(name))
                if name not in c.parameters:
                    edits.append(EditItem(name, _fmt_value(old_v), "(removed)", ""))
                elif name not in parent.parameters or canonical(new_v) != canonical(old_v):
                    edits.append(EditItem(name, _fmt_value(old_v) if name in parent.parameters else "(absent)",
                                          _fmt_value(new_v), note))
        items.append(CompositeItem(c.id, c.kind, c.label, c.version, c.parent_id, fmt_dt(c.created_at), c.created_by,
                                   c.kind == "primary", tuple(images), params, tuple(edits)))
    return tuple(items)


# ------------------------------------------------------------------ limitations
LIMITATIONS: tuple[str, ...] = (
    "This report is an investigative lead, not an identification. Nothing in it identifies, confirms or excludes "
    "any person; it describes what the recorded voice suggests about broad speaker characteristics.",
    "Training population: the models learned from the speakers in their training data (see the model card). "
    "Speakers unlike that population (other languages, accents, ages, recording conditions, voice disorders, "
    "disguise or deliberate voice change) may be estimated less accurately, and the stated uncertainty may be too "
    "small for them.",
    "Sex is estimated as the probability that the voice belongs to a male rather than a female speaker. This "
    "describes voice characteristics, not a person's sex or gender identity. Children, some adolescents and some "
    "adults are often misjudged.",
    "Age is only weakly identifiable from voice: voices age differently, and errors of ten years or more are "
    "common. Use the interval, not the median, and treat it as a broad range.",
    "No identity: the composite faces are average faces built from a few estimated traits. They are not "
    "reconstructions of the speaker's face and must never be used for facial comparison, line-ups or publication "
    "as a likeness.",
    "No ancestry or ethnicity is inferred from voice. Voice and accent reflect language and upbringing, not "
    "ancestry. In the composites, ancestry mix, skin tone, hair and eye colour are either a neutral default or the "
    "analyst's input, as each parameter's origin states; they are illustrative, not findings.",
    "Telephone-band audio (about 300\u20133400 Hz) removes the upper formants; vocal-tract measures are then "
    "unreliable and estimates are less certain. Codecs, noise, reverberation and clipping degrade all measures.",
    "Short speech: with less net speech than the quality threshold the models abstain; estimates from little "
    "speech are less stable even above it.",
)

SPEECH2FACE_CONTEXT = (
    "Context from the literature: Speech2Face (Oh et al., \u201cSpeech2Face: Learning the Face Behind a Voice\u201d, "
    "CVPR 2019) reconstructed face images from about six seconds of speech and compared automatic attribute "
    "classifications of the reconstructions with those of the speakers' real photographs on AVSpeech test clips. "
    "Agreement was about 94 % for sex, about 30 % for the exact age decade, and about 48 % for ethnicity, which "
    "reflects accent and recording conditions as much as ancestry; the authors state that the method cannot recover "
    "a person's identity and produces average-looking faces. This report does not use Speech2Face: it estimates sex "
    "and age only, never ancestry or ethnicity, and its composites show only the traits estimated above, with the "
    "figures of this application's own models given in the method section."
)


# --------------------------------------------------------------------------- report id
def report_id(case: Case, checks: Sequence[EvidenceCheck], run: AnalysisRun | None, segments: Sequence[Segment],
              composites: Sequence[Composite], image_checks: Mapping[tuple[int, str], str]) -> str:
    """Deterministic id from the content inputs (not from the time of generation)."""
    inputs = {
        "case": [case.number, case.title, case.analyst, case.agency],
        "evidence": [[c.evidence_id, c.sha256, c.status.value, c.actual_sha256 or ""] for c in checks],
        "run": None if run is None else {
            "id": run.id, "segments": list(run.segment_ids), "models": list(run.models), "device": run.device,
            "parameters": run.parameters, "seed": run.seed, "results": run.results, "app_version": run.app_version,
        },
        "segments": [[s.id, s.evidence_id, s.start_sample, s.end_sample, s.sample_rate, s.label, s.speaker_tag]
                     for s in segments],
        "composites": [[c.id, c.kind, c.label, c.version, c.parent_id, c.parameters, c.image_sha256]
                       for c in composites],
        "images": sorted([f"{k[0]}:{k[1]}:{v}" for k, v in image_checks.items()]),
    }
    digest = hashlib.sha256(canonical(inputs).encode("utf-8")).hexdigest()
    return "R-" + digest[:16].upper()


# ------------------------------------------------------------------------ the builder
def _media_format(e: Evidence) -> str:
    m = e.media
    ch = "mono" if m.channels == 1 else f"{m.channels} ch"
    return f"{m.container}/{m.codec}, {m.sample_rate} Hz, {ch}"


def _short_id(object_id: str) -> str:
    """Segment uuids are shortened to 8 hex digits in tables (still unique in practice)."""
    return object_id[:8] if len(object_id) == 32 and all(ch in "0123456789abcdef" for ch in object_id) else object_id


def _summarise_details(details: Mapping[str, Any], limit: int = 160) -> str:
    text = canonical(details) if details else ""
    return text if len(text) <= limit else text[: limit - 1] + "\u2026"


def build_report_data(
    *,
    case: Case,
    evidence: Sequence[Evidence],
    checks: Sequence[EvidenceCheck],
    run: AnalysisRun | None,
    all_runs: Sequence[AnalysisRun],
    segments: Sequence[Segment],
    composites: Sequence[Composite],
    image_root: Path,
    image_checks: Mapping[tuple[int, str], str],
    events: Sequence[AuditEvent],
    chain: ChainCheck,
    model_cards: Sequence[ModelCardInfo],
    generated_at: datetime,
    app_version: str,
    renderer_versions: Mapping[str, str] | None = None,
) -> ReportData:
    """Assemble the report content from stored records (see the module docstring)."""
    warnings: list[str] = []
    ev_by_id = {e.id: e for e in evidence}
    check_by_id = {c.evidence_id: c for c in checks}
    ev_items = []
    for e in evidence:
        c = check_by_id.get(e.id)
        status = c.status.value if c else "NOT CHECKED"
        actual = c.actual_sha256 if (c and c.actual_sha256 and c.actual_sha256 != e.sha256) else ""
        ev_items.append(EvidenceItem(e.id, e.original_name, e.sha256, fmt_duration(e.media.duration_s),
                                     _media_format(e), fmt_size(e.size_bytes),
                                     f"{fmt_dt(e.imported_at)} by {e.imported_by}", status, actual))
    evidence_ok = all(i.status == VerifyStatus.OK.value for i in ev_items)
    if not evidence_ok:
        bad = ", ".join(f"#{i.id} {i.name}: {i.status}" for i in ev_items if i.status != VerifyStatus.OK.value)
        warnings.append(f"Evidence verification FAILED at report time ({bad}). Findings derived from this evidence "
                        "cannot be relied on until the discrepancy is explained.")
    if not chain.ok:
        warnings.append(f"The audit trail's hash chain is BROKEN ({chain.reason}).")

    results: Mapping[str, Any] = run.results if run is not None else {}
    pooled = pooled_entry(results)
    per_seg = segment_entries(results)
    seg_items = []
    for s in segments:
        entry = per_seg.get(s.id, {})
        q = entry_quality(entry)
        sx, ag = entry_traits(entry)
        ev = ev_by_id.get(s.evidence_id)
        seg_items.append(SegmentItem(
            s.id, ev.original_name if ev else f"evidence #{s.evidence_id}", fmt_clock(s.start_s), fmt_clock(s.end_s),
            f"{s.duration_s:.2f} s", s.label or "\u2014", s.speaker_tag or "\u2014", s.source.value,
            str(q.get("verdict") or NA) if q else NA, "; ".join(_text_list(q.get("reasons"))) if q else "",
            _sex_short(sx) if entry else NA, _age_short(ag) if entry else NA))
    total_selected = sum(s.duration_s for s in segments)
    pq = entry_quality(pooled)
    net = _num(_first(pq, "net_speech_s", "net_speech")) if pq else None
    if net is None:
        net = _num(_first(_as_dict(results), "net_speech_s"))
    quality_measures = measures(pq, skip=("verdict", "reasons")) if pq else ()
    seg_numbers = {sg.id: f"segment #{i}" for i, sg in enumerate(segments, start=1)}
    consistency_text, consistency_details = consistency_of(_as_dict(results), pooled, seg_numbers)

    sx, ag = entry_traits(pooled)
    acoustics_raw = _as_dict(_first(pooled, "acoustics", "acoustic", "measures"))
    acoustic_notes = _text_list(acoustics_raw.get("notes")) if acoustics_raw else ()

    run_items: list[str] = []
    for r in all_runs:
        if run is None or r.id != run.id:
            run_items.append(f"run #{r.id} of {fmt_dt(r.created_at)} by {r.created_by}")
    if run is None:
        warnings.append("No analysis run is stored for this case: the report lists evidence and the audit trail only.")

    # Reproducibility block: everything needed to re-run the analysis and re-check this report.
    repro: list[tuple[str, str]] = [("Report id", "(see header)")]
    for e in evidence:
        repro.append((f"Input #{e.id} sha256", e.sha256))
    for s in segments:
        repro.append((f"Segment {s.id[:8]}", f"evidence #{s.evidence_id}, samples {s.start_sample}\u2013{s.end_sample} "
                                             f"at {s.sample_rate} Hz"))
    if run is not None:
        repro.append(("Analysis run", f"#{run.id}, {fmt_dt(run.created_at)}, by {run.created_by}"))
        repro.append(("Seed", str(run.seed)))
        repro.append(("Device", run.device or NA))
        repro.append(("App version (analysis)", run.app_version or NA))
        for m in run.models:
            repro.append((f"Model {m.get('id', NA)}", f"{m.get('file', NA)} sha256 {m.get('sha256', NA)}"))
        repro.append(("Parameters", canonical(run.parameters) if run.parameters else "{}"))
        if run.timings:
            repro.append(("Timings (s)", ", ".join(f"{k} {fmt_num(v, 2)}" for k, v in run.timings.items())))
    for c in composites:
        for view in sorted(c.image_sha256):
            repro.append((f"Composite #{c.id} {view}", c.image_sha256[view]))
    repro.append(("App version (report)", app_version))
    for name, ver in (renderer_versions or {}).items():
        repro.append((name, ver))
    repro.append(("Audit chain head", events[-1].hash if events else NA))
    rid = report_id(case, checks, run, segments, composites, image_checks)
    repro[0] = ("Report id", rid)

    audit_items = tuple(AuditItem(e.seq, fmt_dt(e.at), e.actor, e.action,
                                  f"{e.object_type} {', '.join(_short_id(i) for i in e.object_ids)}" if e.object_ids
                                  else e.object_type,
                                  _summarise_details(e.details), e.hash[:16]) for e in events)
    chain_status = (f"Hash chain intact: {chain.events} events verified." if chain.ok
                    else f"Hash chain BROKEN at event {chain.first_broken}: {chain.reason}")

    return ReportData(
        report_id=rid,
        generated_at=fmt_dt(generated_at),
        app_version=app_version,
        marking=MARKING,
        case_number=case.number,
        case_title=case.title,
        analyst=case.analyst,
        agency=case.agency or NA,
        case_status=case.status.value,
        case_opened=fmt_dt(case.created_at),
        evidence=tuple(ev_items),
        evidence_ok=evidence_ok,
        run_id=run.id if run else None,
        run_created=fmt_dt(run.created_at) if run else NA,
        run_created_by=run.created_by if run else NA,
        other_runs=tuple(run_items),
        segments=tuple(seg_items),
        net_speech=f"{net:.2f} s" if net is not None else NA,
        total_selected=f"{total_selected:.2f} s",
        quality_verdict=str(pq.get("verdict") or NA) if pq else NA,
        quality_reasons=_text_list(pq.get("reasons")) if pq else (),
        quality_measures=quality_measures,
        consistency=consistency_text,
        consistency_details=consistency_details,
        sex=sex_finding(sx),
        age=age_finding(ag),
        acoustics=measures(acoustics_raw) if acoustics_raw else (),
        acoustic_notes=acoustic_notes,
        composites=composite_items(composites, image_root, image_checks),
        models=tuple(model_cards),
        limitations=LIMITATIONS,
        context_note=SPEECH2FACE_CONTEXT,
        scale_note=language.SCALE_NOTE,
        audit=audit_items,
        chain_status=chain_status,
        chain_ok=chain.ok,
        reproducibility=tuple(repro),
        warnings=tuple(warnings),
    )
