"""The report's content as plain data, built only from stored records.

:func:`build_report_data` turns what the store holds (case, evidence with its report-time
verification, segments, one analysis run, its composites, the audit trail) plus the
model cards under ``models/`` into a :class:`ReportData` of display-ready strings. The PDF
renderer only lays this out; nothing here reads widget state or recomputes an analysis.

The run's results are the typed :class:`~s2f_desktop.core.results.RunResults`; every value
printed is read from an attribute of it, formatted with fixed precision. "Material
analysed" comes from the run's stored ranges and the hashes of the samples analysed; a
segment edited or deleted after the run is shown as such.

Determinism: every value comes from stored data or from the ``generated_at`` argument,
lists are in stored order, and floats are formatted with fixed precision. The same stored
state and the same ``generated_at`` therefore give the same text. The report id is a hash
of the *content inputs* (case, evidence hashes and their verification result, the run,
its segments and its composites); it does not depend on ``generated_at`` or on the audit
trail, so re-exporting unchanged findings yields the same id.
"""

from __future__ import annotations

import dataclasses
import hashlib
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Mapping, Sequence

from s2f_desktop.core.jsonutil import canonical_json
from s2f_desktop.core.models import (
    AnalysisRun,
    AuditEvent,
    Case,
    ChainCheck,
    Composite,
    CompositeParam,
    Evidence,
    EvidenceCheck,
    Segment,
    VerifyStatus,
)
from s2f_desktop.core.results import Acoustics, Consistency, Quality
from s2f_desktop.core.timeutil import fmt_clock, fmt_dt, fmt_duration
from s2f_desktop.core.traits import INCONCLUSIVE, AgeEstimate, SexEstimate, TraitEstimate, age_limit_note
from s2f_desktop.report import language
from s2f_desktop.report.comparison import ComparisonSection
from s2f_desktop.report.modelcards import ModelCardInfo, TraitPerformance
from s2f_desktop.store import codec

#: Shown wherever a value was not stored.
NA = "not available"
#: The age band shown when the model states none (its band labels are not validated on an unseen source).
NO_BAND = "none stated (not validated)"
#: Shown for a case or exhibit field the examiner has not filled in.
NOT_STATED = "not stated"
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
    original_path: str = ""
    received_from: str = NOT_STATED
    received_on: str = NOT_STATED
    medium: str = NOT_STATED
    seal: str = NOT_STATED


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
    samples: str  # the analysed range in samples at the native rate
    samples_sha256: str  # hash of the samples analysed (NA for runs stored before it was recorded)
    state: str  # "as analysed", or what changed since the run


@dataclass(frozen=True)
class SexFinding:
    """Pooled sex estimate as shown in the findings."""

    available: bool
    p_male: str
    label: str
    abstained: bool
    statement: str
    reason: str
    performance: str = ""  # the model's cross-validated performance, from its manifest


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
    performance: str = ""  # the model's cross-validated performance (with the constant-answer baseline)


@dataclass(frozen=True)
class Measure:
    """A measure as printed: name, value, unit, and a note (threshold or reliability)."""

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
class RunSection:
    """One reported analysis run: the material it analysed, its findings, its composites, its conclusions."""

    run_id: int
    created: str
    created_by: str
    outcome: str
    segments: tuple[SegmentItem, ...]
    net_speech: str
    total_selected: str
    quality_verdict: str
    quality_reasons: tuple[str, ...]
    quality_measures: tuple[Measure, ...]
    consistency: str
    consistency_details: tuple[Measure, ...]
    sex: SexFinding
    age: AgeFinding
    acoustics: tuple[Measure, ...]
    acoustic_notes: tuple[str, ...]
    composites: tuple[CompositeItem, ...]
    conclusions: tuple[str, ...]
    #: The analyst's name and notes for the run (the latest ``analysis.annotate`` event), "" when none.
    name: str = ""
    notes: str = ""
    named_by: str = ""


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
    # the request and the examiner
    question: str
    propositions: str
    case_info: str
    examiner_role: str
    examiner_qualifications: str
    listening_statement: str
    review: tuple[tuple[str, str], ...]  # the latest recorded second-examiner review, as (field, value)
    # evidence
    evidence: tuple[EvidenceItem, ...]
    evidence_ok: bool
    # the analysis runs reported (all of the case's unless restricted), and the others with their outcomes
    runs: tuple[RunSection, ...]
    other_runs: tuple[str, ...]
    # method and limitations
    models: tuple[ModelCardInfo, ...]
    limitations: tuple[str, ...]
    context_note: str
    scale_note: str
    # audit and reproducibility
    audit: tuple[AuditItem, ...]
    chain_status: str
    chain_ok: bool
    chain_head: str
    reproducibility: tuple[tuple[str, str], ...]
    warnings: tuple[str, ...] = field(default_factory=tuple)
    # speaker-comparison runs of the case (evaluative: propositions, LR, validation), oldest first
    comparisons: tuple[ComparisonSection, ...] = field(default_factory=tuple)

    def all_text_fields(self) -> str:
        """Canonical JSON of the data (used in tests for the determinism check)."""
        return canonical(self)


# --------------------------------------------------------------------------- helpers
def canonical(obj: Any) -> str:
    """Deterministic JSON (see :func:`s2f_desktop.core.jsonutil.canonical_json`)."""
    return canonical_json(obj)


def fmt_num(v: float | int | bool | None, digits: int = 2) -> str:
    """A number with fixed precision; None → :data:`NA`."""
    if v is None:
        return NA
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, int):
        return str(v)
    return f"{v:.{digits}f}"


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


# ------------------------------------------------------------ reading analysis results
def sex_finding(sex: SexEstimate, estimated: bool = True) -> SexFinding:
    """Pooled sex estimate → finding with its plain-language statement (``estimated`` False: nothing
    could be measured, and the stored probability is a placeholder, not the model's)."""
    p = language.fmt_probability(sex.p_male)
    if not estimated:
        text = ("ABSTAINED: the model declines to state a sex for this material; nothing in it could be measured, "
                "so no probability exists.")
        return SexFinding(True, NA, INCONCLUSIVE, True, text, sex.reason)
    if sex.label == INCONCLUSIVE:
        text = (f"ABSTAINED: the model declines to state a sex for this material. For the record, the calibrated "
                f"probability of a male speaker was {p}; it is not a finding.")
        return SexFinding(True, p, INCONCLUSIVE, True, text, sex.reason)
    stmt = language.express_sex(sex.p_male)
    return SexFinding(True, p, sex.label, False, stmt.sentence, sex.reason)


def fmt_interval(age: AgeEstimate) -> str:
    """The 80 % interval as printed."""
    lo, hi = age.interval_80
    return f"{lo:.0f}\u2013{hi:.0f} years"


def age_finding(age: AgeEstimate, extra: Mapping[str, Any] | None = None, gate_reason: str = "") -> AgeFinding:
    """Pooled age estimate → finding (median, 80 % interval, band).

    ``extra`` is the trait estimate's ``extra``: when the model made an estimate but states no band
    (band labels are not validated across sources), the interval, P(40 or over) and the
    always-the-median baseline are printed side by side, so the answer is read with its worth.
    ``gate_reason`` (:attr:`TraitEstimate.gate_reason`): both traits abstained before any answer
    counted, so the interval is printed for the record only, never as the answer.
    """
    med, lo, hi = age.median_years, age.interval_80[0], age.interval_80[1]
    interval = fmt_interval(age)
    extra = extra or {}
    base = extra.get("age_baseline")
    if age.label == INCONCLUSIVE and not gate_reason and "age_p_40_plus" in extra and isinstance(base, Mapping):
        b_lo, b_hi = base["interval_80_years"]
        limit = age_limit_note(age, dict(extra))
        limit = limit + " " if limit else ""
        text = (f"No age band is stated ({age.reason or 'band labels are not validated'}). The model's 80 % "
                f"interval is {interval} (median {med:.0f} years); probability of 40 years or over "
                f"{float(extra['age_p_40_plus']):.2f}. Baseline for comparison, always answering the training "
                f"median: {float(base['median_years']):.0f} years (80 % interval {b_lo:.0f}\u2013{b_hi:.0f} years), "
                f"probability of 40 or over {float(base['p_40_plus']):.2f}. {limit}An investigative lead about the "
                f"voice, not a finding about a person.")
        # An answer without a band label: the interval is the finding, not an abstention.
        return AgeFinding(True, f"{med:.0f} years", interval, NO_BAND, False, text, age.reason)
    if age.label == INCONCLUSIVE and extra.get("estimated") is False:
        # Nothing was measured (no usable speech): the stored numbers are the training prior.
        text = ("ABSTAINED: the model declines to state an age range for this material; nothing in it could be "
                "measured, so no estimate exists.")
        return AgeFinding(True, NA, NA, INCONCLUSIVE, True, text, age.reason)
    if age.label == INCONCLUSIVE:
        text = (f"ABSTAINED: the model declines to state an age range for this material. For the record, the "
                f"median was {med:.0f} years (80 % interval {interval}); it is not a finding.")
        return AgeFinding(True, f"{med:.0f} years", interval, INCONCLUSIVE, True, text, age.reason)
    bands = ", ".join(f"{k}: {v:.2f}" for k, v in age.bin_probabilities.items())
    return AgeFinding(True, f"{med:.0f} years", interval, age.label, False, language.express_age(med, lo, hi),
                      age.reason, bands)


#: Readable names of the acoustic measures (keys of :data:`s2f_desktop.voice.acoustics.UNITS`).
ACOUSTIC_NAMES = {"f0_median": "F0 median", "f0_p5": "F0 5th percentile", "f0_p95": "F0 95th percentile",
                  "f0_range": "F0 range (5\u201395 %)", "f1": "F1 (formant 1)", "f2": "F2 (formant 2)",
                  "f3": "F3 (formant 3)", "f4": "F4 (formant 4)", "formant_dispersion": "Formant dispersion",
                  "vocal_tract_length": "Apparent vocal-tract length", "hnr": "Harmonics-to-noise ratio",
                  "jitter_local": "Jitter (local)", "shimmer_local": "Shimmer (local)",
                  "voiced_duration": "Voiced duration", "voiced_fraction": "Voiced fraction"}


def fmt_measure(v: float | None) -> str:
    """A measured value: 4 decimals below 0.1, else 2; None → not measurable."""
    if v is None:
        return "not measurable"
    return fmt_num(v, 4 if (abs(v) < 0.1 and v != 0) else 2)


def acoustic_measures(a: Acoustics) -> tuple[Measure, ...]:
    """Acoustic measures in stored order, with their units and reliability."""
    out = [Measure(ACOUSTIC_NAMES.get(k, k), fmt_measure(m.value), m.unit,
                   "" if m.reliable else "unreliable here (needs the band above 3.4 kHz)")
           for k, m in a.measures.items()]
    if a.formant_ceiling_hz is not None:
        out.append(Measure("Formant ceiling", fmt_measure(a.formant_ceiling_hz), "Hz", "analysis setting"))
    return tuple(out)


def quality_measures(q: Quality) -> tuple[Measure, ...]:
    """The quality gate's measures, each with the thresholds it was judged against."""
    t = q.thresholds
    return (
        Measure("Net speech", fmt_num(q.net_speech_s, 2), "s",
                f"minimum {t['min_net_speech_s']:g} s, recommended {t['warn_net_speech_s']:g} s"),
        Measure("Signal-to-noise ratio", fmt_measure(q.snr_db), "dB",
                f"minimum {t['min_snr_db']:g} dB, recommended {t['warn_snr_db']:g} dB; noise from {q.snr_method}"),
        Measure("Clipped samples", fmt_num(q.clipping_fraction * 100, 3), "%",
                f"maximum {t['max_clipping'] * 100:g} %, recommended at most {t['warn_clipping'] * 100:g} %"),
        Measure("Effective bandwidth", fmt_num(q.bandwidth_hz, 1), "Hz",
                f"minimum {t['min_bandwidth_hz']:g} Hz; telephone band at or below {t['telephone_band_hz']:g} Hz"),
        Measure("Telephone band", fmt_num(q.telephone_band), "", ""),
        Measure("Speech level", fmt_measure(q.level_dbfs), "dBFS", f"warning below {t['min_level_dbfs']:g} dBFS"),
        Measure("Duration measured", fmt_num(q.duration_s, 2), "s", ""),
    )


def _sex_short(traits: TraitEstimate) -> str:
    sex = traits.sex
    if not traits.measured:
        return "abstained (nothing measured)"
    if traits.gate_reason:
        # The heads' outputs behind a gate abstention are kept in the store, never printed as a finding.
        return "abstained (quality gate)"
    p = language.fmt_probability(sex.p_male)
    return f"abstained (p male {p})" if sex.label == INCONCLUSIVE else f"p male {p} ({sex.label})"


def _age_short(traits: TraitEstimate) -> str:
    """The age answer in brief: an estimate without a band label is still an answer (its interval);
    only an abstention of both traits (:attr:`TraitEstimate.gate_reason`) is "abstained"."""
    age = traits.age
    if traits.gate_reason:
        return "abstained"
    band = "no band" if age.label == INCONCLUSIVE else age.label
    out = f"{age.median_years:.0f} y ({age.interval_80[0]:.0f}\u2013{age.interval_80[1]:.0f}; {band}"
    # An interval end at the ages the model clips to is its limit, not a finding (the pooled estimate's
    # sentence, age_limit_note, says it in full): marked here too, where a table cell has room for a word.
    clip = traits.extra.get("age_clip_years") if traits.extra else None
    if isinstance(clip, (list, tuple)) and len(clip) == 2:
        ends = [w for w, hit in (("lower", age.interval_80[0] <= float(clip[0])),
                                 ("upper", age.interval_80[1] >= float(clip[1]))) if hit]
        if ends:
            out += f"; {' and '.join(ends)} end at the model's limit: no {'/'.join(ends)} limit"
    return out + ")"


def run_outcome(run: AnalysisRun) -> str:
    """One line with a run's outcome, so that no run is listed without its result."""
    p = run.results.pooled
    sex, age = p.traits.sex, p.traits.age
    sex_txt = f"sex {_sex_short(p.traits)}" if sex.label == INCONCLUSIVE \
        else f"sex {sex.label} (p male {language.fmt_probability(sex.p_male)})"
    age_txt = "age abstained" if p.traits.gate_reason else \
        f"age {age.median_years:.0f} y, 80 % interval {age.interval_80[0]:.0f}\u2013{age.interval_80[1]:.0f} y" \
        + (" (no band stated)" if age.label == INCONCLUSIVE else "")
    flagged = f", {len(run.results.consistency.flagged)} segment(s) flagged as a possible second speaker" \
        if run.results.consistency and run.results.consistency.flagged else ""
    return (f"{len(run.results.selection)} segment(s), quality {p.quality.verdict.value}, {sex_txt}, {age_txt}"
            f"{flagged}")


def conclusions(run: AnalysisRun) -> tuple[str, ...]:
    """The conclusions drawn from the stored findings, in investigative wording (one paragraph each)."""
    p = run.results.pooled
    sex, age, q = p.traits.sex, p.traits.age, p.quality
    out = [f"Material: run #{run.id} analysed {len(run.results.selection)} segment(s) with {q.net_speech_s:.2f} s of "
           f"net speech; the quality gate's verdict was \u201c{q.verdict.value}\u201d."]
    if sex.label == INCONCLUSIVE:
        out.append(f"Sex: no conclusion. The model abstained ({sex.reason}).")
    else:
        out.append(f"Sex: the voice is more consistent with a {sex.label} speaker (calibrated probability "
                   f"{language.fmt_probability(sex.p_male if sex.label == 'male' else 1 - sex.p_male)}). This is an "
                   f"investigative lead about the voice, not a statement about any person.")
    if p.traits.gate_reason or (age.label == INCONCLUSIVE and "age_p_40_plus" not in p.traits.extra):
        out.append(f"Age: no conclusion. The model abstained ({age.reason}).")
    elif age.label == INCONCLUSIVE:
        limit = age_limit_note(age, p.traits.extra)
        out.append(f"Age: around {age.median_years:.0f} years, 80 % interval {age.interval_80[0]:.0f}\u2013"
                   f"{age.interval_80[1]:.0f} years; no age band is stated ({age.reason}). Read the interval, not "
                   f"the median, beside the always-the-median baseline in section 3. {limit + ' ' if limit else ''}"
                   f"An investigative lead about the voice, not a statement about any person.")
    else:
        out.append(f"Age: around {age.median_years:.0f} years, 80 % interval {age.interval_80[0]:.0f}\u2013"
                   f"{age.interval_80[1]:.0f} years. The age band alone is not offered as a conclusion: the model's "
                   f"cross-validated figures are printed beside it in section 3.")
    if run.results.consistency is not None and run.results.consistency.flagged:
        out.append(f"Speaker consistency: {len(run.results.consistency.flagged)} segment(s) may be a different "
                   f"speaker from the rest of the selection; the pooled estimate mixes them.")
    if run.results.notes:
        out.append("Channels: " + "; ".join(run.results.notes) + ".")
    out.append("Nothing in this report identifies, confirms or excludes any person.")
    return tuple(out)


def consistency_of(c: Consistency | None, seg_numbers: Mapping[str, str]) -> tuple[str, tuple[Measure, ...]]:
    """Speaker-consistency verdict and its details (median similarity of each segment to the others)."""
    if c is None:
        return ("Speaker consistency was not assessed for this analysis (fewer than two segments with enough "
                "speech).", ())

    def seg_name(sid: str) -> str:
        return seg_numbers.get(sid, f"segment {sid[:8]}")

    if c.flagged:
        verdict = ("NOT consistent: " + ", ".join(seg_name(f) for f in c.flagged) +
                   " may be a different speaker from the rest of the selection")
    else:
        verdict = "consistent (no segment differs from the rest of the selection)"
    text = f"Speaker consistency: {verdict}. {c.note[0].upper()}{c.note[1:]}."
    if c.method == "calibrated":
        # The calibrated speaker check (comparison-v1): each segment against the main speaker group,
        # as a bounded log10 likelihood ratio; segments too short to judge are named, never flagged.
        details = [Measure("Groups kept apart at", fmt_num(c.threshold, 2), "log10 LR", c.threshold_source)]
        for sid in c.segment_ids:
            v = c.log10_lr.get(sid)
            note = ("flagged" if sid in c.flagged else
                    "not judged: too little speech" if sid in c.not_judged else "")
            details.append(Measure(f"Against the main speaker group, {seg_name(sid)}",
                                   fmt_num(v, 2) if v is not None else NA, "log10 LR", note))
        return text, tuple(details)
    details = [Measure("Threshold", fmt_num(c.threshold, 3), "cosine", c.threshold_source)]
    for sid, v in c.median_similarity.items():
        details.append(Measure(f"Median similarity, {seg_name(sid)}", fmt_num(v, 3) if v is not None else NA,
                               "cosine", "flagged" if sid in c.flagged else ""))
    return text, tuple(details)


# ------------------------------------------------------------------ composites
def _fmt_value(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.4g}"
    if isinstance(v, (dict, list)):
        return canonical(v)
    return str(v)


def _param_parts(p: CompositeParam) -> tuple[Any, str, str]:
    """``(value, origin, note)`` of a stored parameter; illustrative parameters say so in the note."""
    note = f"{p.note} (illustrative)" if p.illustrative and p.note else ("illustrative" if p.illustrative else p.note)
    return p.value, p.origin.value, note


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
                if name not in c.parameters:
                    edits.append(EditItem(name, _fmt_value(parent.parameters[name].value), "(removed)", ""))
                    continue
                new_v, _, note = _param_parts(c.parameters[name])
                if name not in parent.parameters:
                    edits.append(EditItem(name, "(absent)", _fmt_value(new_v), note))
                elif canonical(new_v) != canonical(parent.parameters[name].value):
                    edits.append(EditItem(name, _fmt_value(parent.parameters[name].value), _fmt_value(new_v), note))
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
    "adults are often misjudged; a man with a high-pitched voice or a woman with a low-pitched one can be assigned "
    "the other sex with a confident probability (the model card lists such a case from its validation).",
    "Age is only weakly identifiable from voice: voices age differently, and errors of ten years or more are "
    "common. Use the interval, not the median, and treat it as a broad range.",
    "No identity: the composite faces are average faces built from a few estimated traits. They are not "
    "reconstructions of the speaker's face and must never be used for facial comparison, line-ups or publication "
    "as a likeness.",
    "No ancestry or ethnicity is inferred from voice. Voice and accent reflect language and upbringing, not "
    "ancestry. In the composites, ancestry mix, skin tone, hair and eye colour are either a neutral default or the "
    "analyst's input, as each parameter's origin states; they are illustrative, not findings.",
    "Telephone-band audio (about 300\u20133400 Hz) removes the upper formants; vocal-tract measures are then "
    "unreliable and estimates are less certain. Codecs, noise, reverberation and clipping degrade all measures. "
    "In validation, a low-rate internet call (Opus at 8 kbit/s, with or without lost packets) and clipped "
    "recordings moved women's voices toward male, so the model abstained on women more often there than on clean "
    "speech (model card: real codecs; noise, short speech and clipping).",
    "Short speech: with less net speech than the quality threshold the models abstain; estimates from little "
    "speech are less stable even above it.",
    "A DC offset (a constant shifted into the signal by some recorders) is not removed before the trait "
    "analysis: the models were fitted on recordings as recorded, a few of them with offsets. A large offset "
    "moves the speaker embedding and with it the estimates (speaker comparison removes it). Several channels "
    "are mixed into one: if they hold different speakers, the estimate describes a mixture.",
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
def report_id(case: Case, checks: Sequence[EvidenceCheck], runs: Sequence[AnalysisRun], segments: Sequence[Segment],
              composites: Sequence[Composite], image_checks: Mapping[tuple[int, str], str],
              chain_head: str = "") -> str:
    """Deterministic id from the content inputs (not from the time of generation).

    ``chain_head``: the hash of the case's last audit event before this export. Everything else the
    report prints (speaker comparisons, provenance, the review record, earlier exports in the audit
    section) is recorded in the chain, so a report whose content differs never shares an id.
    """
    inputs = {
        "audit_chain_head": chain_head,
        "case": [case.number, case.title, case.analyst, case.agency, case.question, case.propositions,
                 case.case_info, case.examiner_role, case.examiner_qualifications, case.listening_statement],
        "evidence": [[c.evidence_id, c.sha256, c.status.value, c.actual_sha256 or ""] for c in checks],
        "runs": [{
            "id": run.id, "segments": list(run.segment_ids), "models": codec.encode_models(run.models),
            "device": run.device, "parameters": run.parameters, "seed": run.seed,
            "results": codec.encode_results(run.results), "app_version": run.app_version,
        } for run in runs],
        "segments": [[s.id, s.evidence_id, s.start_sample, s.end_sample, s.sample_rate, s.label, s.speaker_tag]
                     for s in segments],
        "composites": [[c.id, c.kind, c.label, c.version, c.parent_id, codec.encode_params(c.parameters),
                        c.image_sha256]
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


def _readable(v: Any) -> str:
    if isinstance(v, Mapping):
        return ", ".join(f"{k} {_readable(x)}" for k, x in v.items())
    if isinstance(v, (list, tuple)):
        return ", ".join(_readable(x) for x in v)
    if isinstance(v, float):
        return f"{v:.4g}"
    text = str(v)
    # Hashes and ids are shortened in the table; the full values are in the store and section 7.
    return _short_id(text) if len(text) == 32 else (text[:12] + "\u2026" if len(text) == 64 else text)


def _summarise_details(details: Mapping[str, Any], limit: int = 200) -> str:
    """An event's details as readable text ("key: value; ..."), shortened for the table."""
    text = "; ".join(f"{k.replace('_', ' ')}: {_readable(v)}" for k, v in details.items())
    return text if len(text) <= limit else text[: limit - 1] + "\u2026"


def labels_at_runs(events: Sequence[AuditEvent]) -> dict[str, dict[str, tuple[str, str]]]:
    """For each analysis run (by id), the (label, speaker tag) the chain recorded for each segment when the
    run was made: the segment states bound by the events before the run's ``analysis.run`` event (and what
    earlier releases' segment events recorded)."""
    state: dict[str, dict[str, str]] = {}
    out: dict[str, dict[str, tuple[str, str]]] = {}
    for ev in events:
        entries = ev.details.get("custody")
        if isinstance(entries, list):
            for e in entries:
                if e.get("object") == "segment" and isinstance(e.get("values"), dict):
                    state[str(e.get("id"))] = {k: str(e["values"].get(k) or "") for k in ("label", "speaker_tag")}
        elif ev.action in ("segment.add", "segment.update") and ev.object_ids:
            d = ev.details if ev.action == "segment.add" else \
                {k: v.get("new") for k, v in (ev.details.get("changes") or {}).items() if isinstance(v, dict)}
            cur = state.setdefault(str(ev.object_ids[0]), {"label": "", "speaker_tag": ""})
            cur.update({k: str(d[k] or "") for k in ("label", "speaker_tag") if k in d})
        if ev.action == "analysis.run" and ev.object_ids:
            out[str(ev.object_ids[0])] = {sid: (v["label"], v["speaker_tag"]) for sid, v in state.items()}
    return out


def run_section(run: AnalysisRun, segments: Mapping[str, Segment], ev_by_id: Mapping[int, Evidence],
                composites: Sequence[Composite], image_root: Path, image_checks: Mapping[tuple[int, str], str],
                performance: TraitPerformance | None, warnings: list[str],
                labels_at_run: Mapping[str, tuple[str, str]] | None = None) -> tuple[RunSection, list[Segment]]:
    """One run's section (and the analysed segments still as they were), from its stored results.

    ``segments`` are the case's segments as they are now, by id: a range whose segment was
    since edited or deleted is reported as such (and a warning is added).
    """
    res = run.results
    items: list[SegmentItem] = []
    used: list[Segment] = []
    changed: list[str] = []
    for i, r in enumerate(res.selection, start=1):
        part = res.segment(r.segment_id)
        now = segments.get(r.segment_id)
        if now is None:
            state = "DELETED after the run"
        elif (now.evidence_id, now.start_sample, now.end_sample) != (r.evidence_id, r.start_sample, r.end_sample):
            state = (f"CHANGED after the run: now {fmt_clock(now.start_s)}\u2013{fmt_clock(now.end_s)} "
                     f"(samples {now.start_sample}\u2013{now.end_sample})")
        else:
            state = "as analysed"
            used.append(now)
        if state != "as analysed":
            changed.append(f"segment #{i} {state.split(':')[0].lower()}")
        ev = ev_by_id.get(r.evidence_id)
        # The label and speaker tag the chain recorded for the segment when the run was made; a later
        # relabelling is named, never shown as what was analysed.
        then = (labels_at_run or {}).get(r.segment_id)
        label_now, tag_now = ((now.label or "\u2014"), (now.speaker_tag or "\u2014")) if now else ("\u2014", "\u2014")
        label_cell, tag_cell = label_now, tag_now
        if then is not None and now is not None:
            label_then, tag_then = (then[0] or "\u2014"), (then[1] or "\u2014")
            label_cell = label_then if label_then == label_now else \
                f"{label_then} (relabelled after the run: now {label_now})"
            tag_cell = tag_then if tag_then == tag_now else f"{tag_then} (changed after the run: now {tag_now})"
        items.append(SegmentItem(
            r.segment_id, ev.original_name if ev else r.evidence_name, fmt_clock(r.start_s), fmt_clock(r.end_s),
            f"{(r.end_sample - r.start_sample) / r.sample_rate:.2f} s",
            label_cell, tag_cell,
            now.source.value if now else "\u2014",
            part.quality.verdict.value if part else NA, "; ".join(part.quality.reasons) if part else "",
            _sex_short(part.traits) if part else NA, _age_short(part.traits) if part else NA,
            f"{r.start_sample}\u2013{r.end_sample} at {r.sample_rate} Hz", r.samples_sha256 or NA, state))
    if changed:
        warnings.append(f"The material analysed in run #{run.id} has changed since the run: " + "; ".join(changed)
                        + ". The findings describe the material as it was analysed (ranges and sample hashes in "
                          "section 2), not the segments as they are now.")
    pooled = res.pooled
    seg_numbers = {item.id: f"segment #{i}" for i, item in enumerate(items, start=1)}
    consistency_text, consistency_details = consistency_of(res.consistency, seg_numbers)
    sex = sex_finding(pooled.traits.sex, pooled.traits.measured)
    age = age_finding(pooled.traits.age, pooled.traits.extra, pooled.traits.gate_reason)
    if performance is not None:
        sex = dataclasses.replace(sex, performance=performance.sex)
        age = dataclasses.replace(age, performance=performance.age)
    total = sum((r.end_sample - r.start_sample) / r.sample_rate for r in res.selection)
    section = RunSection(
        run.id, fmt_dt(run.created_at), run.created_by, run_outcome(run), tuple(items),
        f"{pooled.quality.net_speech_s:.2f} s", f"{total:.2f} s", pooled.quality.verdict.value,
        tuple(pooled.quality.reasons), quality_measures(pooled.quality), consistency_text, consistency_details,
        sex, age, acoustic_measures(pooled.acoustics), tuple(pooled.acoustics.notes),
        composite_items(composites, image_root, image_checks), conclusions(run))
    return section, used


#: Audit actions after which a review no longer covers the case as it is: new or changed findings,
#: evidence, segments, illustrations or case text.
_REVIEWABLE = ("case.update", "evidence.", "segment.", "analysis.run", "comparison.run", "composite.")


def _review_summary(rev: AuditEvent) -> str:
    notes = str(rev.details.get("notes", "")).strip()
    return (f"{fmt_dt(rev.at)}: {rev.details.get('reviewer', '')}, outcome \u201c{rev.details.get('outcome', '')}\u201d"
            f"{' (' + notes + ')' if notes else ''}; audit event {rev.seq}")


def review_rows(events: Sequence[AuditEvent], warnings: list[str]) -> tuple[tuple[str, str], ...]:
    """The latest second-examiner review as (field, value) rows, with what it could not have seen.

    A review covers the case as it stood at its audit event: anything evidential recorded later
    (a new run or comparison, changed segments, evidence or case text) is named, and warned about,
    so an "agreed" is never read as agreeing with work done after it. Earlier reviews are listed, so
    a dissent is not hidden by a later review. The application does not authenticate people: a
    review is entered by whoever runs it, which the "Recorded" row says.
    """
    reviews = [e for e in events if e.action == "case.review"]
    if not reviews:
        return ()
    rev = reviews[-1]
    reviewer = str(rev.details.get("reviewer", ""))
    rows = [("Reviewer", reviewer), ("Role", str(rev.details.get("role", "")) or NOT_STATED),
            ("Outcome", str(rev.details.get("outcome", ""))),
            ("Comments", str(rev.details.get("notes", "")) or "none"),
            ("Recorded", f"{fmt_dt(rev.at)} by {rev.actor} (audit event {rev.seq}, hash {rev.hash[:16]})"
                         + ("" if rev.actor == reviewer else
                            f"; entered under the analyst name {rev.actor}, not by the reviewer: the application "
                            "records who entered a review, it cannot confirm the reviewer's identity"))]
    later = [e for e in events if e.seq > rev.seq and e.action.startswith(_REVIEWABLE)]
    if later:
        named = "; ".join(f"{e.action} {', '.join('#' + _short_id(i) for i in e.object_ids)} (event {e.seq})"
                          for e in later[:12]) + (f"; and {len(later) - 12} more" if len(later) > 12 else "")
        rows.append(("Not covered", f"recorded after this review, so not reviewed: {named}"))
        warnings.append(f"The latest second-examiner review (audit event {rev.seq}) predates {len(later)} "
                        "evidential change(s) or result(s) in this report (section 8 names them): its outcome does "
                        "not cover them.")
    else:
        rows.append(("Covers", f"everything recorded up to audit event {rev.seq}; nothing evidential was recorded "
                               "after it"))
    if len(reviews) > 1:
        rows.append(("Earlier reviews", " | ".join(_review_summary(e) for e in reviews[:-1])))
    return tuple(rows)


#: The audit action that names and annotates an analysis run (``services.runs.ACTION``; the report reads events,
#: not services, so the value is stated here and a test holds the two equal).
RUN_ANNOTATE_ACTION = "analysis.annotate"


def comparison_repro(comparison_runs: Sequence[Any], rates: Mapping[int, int] | None = None) -> list[tuple[str, str]]:
    """Reproducibility rows of stored speaker comparisons: who and when, the exact sample ranges of each side
    (the evidence's hashes are the "Input" rows), every model file with its hash, and the parameters."""
    rows: list[tuple[str, str]] = []
    for c in comparison_runs:
        r = c.results
        names = {e.evidence_id: e.name for e in r.evidence}
        rows.append((f"Comparison #{c.id}", f"{fmt_dt(c.created_at)}, by {c.created_by}; device {c.device or NA}; "
                                           f"app version {c.app_version or NA}"))
        for side in ("questioned", "known"):
            parts = [f"{names.get(g.evidence_id, f'evidence #{g.evidence_id}')} (input #{g.evidence_id}) samples "
                     f"{g.start_sample}\u2013{g.end_sample}"
                     + (f" at {rates[g.evidence_id]} Hz" if rates and g.evidence_id in rates else "")
                     for g in r.segments if g.side == side]
            rows.append((f"Comparison #{c.id} {side} side", "; ".join(parts) or NA))
        for m in c.models:
            rows.append((f"Comparison #{c.id} model {m.get('id', '?')}", f"{m.get('file', '?')} sha256 "
                                                                       f"{m.get('sha256', NA)}"))
        rows.append((f"Comparison #{c.id} parameters", canonical(c.parameters) if c.parameters else "{}"))
    return rows


def build_report_data(
    *,
    case: Case,
    evidence: Sequence[Evidence],
    checks: Sequence[EvidenceCheck],
    runs: Sequence[AnalysisRun],
    all_runs: Sequence[AnalysisRun],
    segments: Mapping[str, Segment],
    composites: Mapping[int, Sequence[Composite]],
    image_root: Path,
    image_checks: Mapping[tuple[int, str], str],
    events: Sequence[AuditEvent],
    chain: ChainCheck,
    model_cards: Sequence[ModelCardInfo],
    performance: TraitPerformance | None,
    generated_at: datetime,
    app_version: str,
    renderer_versions: Mapping[str, str] | None = None,
    custody_problems: Sequence[str] = (),
    comparison_runs: Sequence[Any] = (),
) -> ReportData:
    """Assemble the report content from stored records (see the module docstring).

    ``segments`` are the case's segments as they are now, by id: a run's range whose
    segment was since edited or deleted is reported as such. ``custody_problems``: one line per
    stored record that differs from what the audit chain recorded for it (the replay ``s2f verify``
    runs); an intact hash chain says nothing about rows edited beside it, so these are stated on
    the first page and beside the chain's status. ``comparison_runs``: the case's stored speaker
    comparisons (``store.comparisons.ComparisonRun``), whose material, models and parameters the
    reproducibility block lists (their sections are built by ``report.comparison``).
    """
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
                                     f"{fmt_dt(e.imported_at)} by {e.imported_by}", status, actual, e.original_path,
                                     e.received_from or NOT_STATED, e.received_on or NOT_STATED,
                                     e.medium or NOT_STATED, e.seal or NOT_STATED))
    evidence_ok = all(i.status == VerifyStatus.OK.value for i in ev_items)
    if not evidence_ok:
        bad = ", ".join(f"#{i.id} {i.name}: {i.status}" for i in ev_items if i.status != VerifyStatus.OK.value)
        warnings.append(f"Evidence verification FAILED at report time ({bad}). Findings derived from this evidence "
                        "cannot be relied on until the discrepancy is explained.")
    if not chain.ok:
        warnings.append(f"The audit trail's hash chain is BROKEN ({chain.reason}).")
    if custody_problems:
        shown = "; ".join(custody_problems[:10]) + (f"; and {len(custody_problems) - 10} more"
                                                    if len(custody_problems) > 10 else "")
        warnings.append(f"{len(custody_problems)} stored record(s) DIFFER from what the audit trail recorded for "
                        f"them: they were changed, added or removed without an audit event ({shown}). What this "
                        "report prints from those records cannot be relied on until the discrepancy is explained "
                        "('s2f verify' lists them).")

    sections: list[RunSection] = []
    used_segments: list[Segment] = []
    seg_items_all: list[SegmentItem] = []
    labels = labels_at_runs(events)
    # The run names the analyst gave (GUI "Name / notes…", `s2f runs annotate`): the audit trail holds them; the
    # latest event for a run is the one in force, as on the Analysis page.
    annotations: dict[int, tuple[str, str, str]] = {}
    for event in events:
        if event.action == RUN_ANNOTATE_ACTION:
            for oid in event.object_ids:
                annotations[int(oid)] = (str(event.details.get("name", "")), str(event.details.get("notes", "")),
                                         event.actor)
    for run in runs:
        section, used = run_section(run, segments, ev_by_id, composites.get(run.id, ()), image_root, image_checks,
                                    performance, warnings, labels.get(str(run.id)))
        if run.id in annotations:
            name, notes, by = annotations[run.id]
            section = dataclasses.replace(section, name=name, notes=notes, named_by=by)
        sections.append(section)
        used_segments += used
        seg_items_all += section.segments
    if not runs and not comparison_runs:
        warnings.append("No analysis run is stored for this case: the report lists evidence and the audit trail only.")
    reported = {r.id for r in runs}
    run_items = [f"run #{r.id} of {fmt_dt(r.created_at)} by {r.created_by}: {run_outcome(r)}" for r in all_runs
                 if r.id not in reported]

    # Reproducibility block: everything needed to re-run the analysis and re-check this report.
    repro: list[tuple[str, str]] = [("Report id", "(see header)")]
    for e in evidence:
        repro.append((f"Input #{e.id} sha256", e.sha256))
    for item in dict.fromkeys(seg_items_all):
        repro.append((f"Segment {item.id[:8]}", item.samples))
        repro.append((f"Segment {item.id[:8]} samples sha256", item.samples_sha256))
    for run in runs:
        repro.append((f"Analysis run #{run.id}", f"{fmt_dt(run.created_at)}, by {run.created_by}"))
        repro.append((f"Run #{run.id} results schema", str(run.results.schema_version)))
        repro.append((f"Run #{run.id} seed", str(run.seed)))
        repro.append((f"Run #{run.id} device", run.device or NA))
        repro.append((f"Run #{run.id} app version", run.app_version or NA))
        for m in run.models:
            repro.append((f"Run #{run.id} model {m.id}", f"{m.file} sha256 {m.sha256}"))
        repro.append((f"Run #{run.id} parameters", canonical(run.parameters) if run.parameters else "{}"))
        t = run.timings
        repro.append((f"Run #{run.id} timings (s)", f"read_s {t.read_s:.2f}, load_models_s {t.load_models_s:.2f}, "
                                     f"analysis_s {t.analysis_s:.2f}"))
    repro += comparison_repro(comparison_runs, {e.id: e.media.sample_rate for e in evidence})
    all_composites = [c for run in runs for c in composites.get(run.id, ())]
    for comp in all_composites:
        for view in sorted(comp.image_sha256):
            repro.append((f"Composite #{comp.id} {view}", comp.image_sha256[view]))
    repro.append(("App version (report)", app_version))
    for name, ver in (renderer_versions or {}).items():
        repro.append((name, ver))
    chain_head = events[-1].hash if events else NA
    review = review_rows(events, warnings)
    repro.append(("Audit chain head", chain_head))
    rid = report_id(case, checks, runs, used_segments, all_composites, image_checks, chain_head)
    repro[0] = ("Report id", rid)

    audit_items = tuple(AuditItem(e.seq, fmt_dt(e.at), e.actor, e.action,
                                  f"{e.object_type} {', '.join(_short_id(i) for i in e.object_ids)}" if e.object_ids
                                  else e.object_type,
                                  _summarise_details(e.details), e.hash[:16]) for e in events)
    chain_status = (f"Hash chain intact: {chain.events} events verified." if chain.ok
                    else f"Hash chain BROKEN at event {chain.first_broken}: {chain.reason}")
    chain_status += (f" Stored records: {len(custody_problems)} DIFFER from what the chain recorded (see the "
                     "warning on the first page)." if custody_problems
                     else " Stored records: every one agrees with what the chain recorded.")

    return ReportData(
        report_id=rid,
        generated_at=fmt_dt(generated_at),
        app_version=app_version,
        marking=MARKING,
        case_number=case.number,
        case_title=case.title,
        analyst=case.analyst,
        agency=case.agency or NOT_STATED,
        case_status=case.status.value,
        case_opened=fmt_dt(case.created_at),
        question=case.question or NOT_STATED,
        propositions=case.propositions or NOT_STATED,
        case_info=case.case_info or NOT_STATED,
        examiner_role=case.examiner_role or NOT_STATED,
        examiner_qualifications=case.examiner_qualifications or NOT_STATED,
        listening_statement=case.listening_statement or "No listening statement has been recorded by the examiner.",
        review=review,
        evidence=tuple(ev_items),
        evidence_ok=evidence_ok,
        runs=tuple(sections),
        other_runs=tuple(run_items),
        models=tuple(model_cards),
        limitations=LIMITATIONS,
        context_note=SPEECH2FACE_CONTEXT,
        scale_note=language.SCALE_NOTE,
        audit=audit_items,
        chain_status=chain_status,
        chain_ok=chain.ok and not custody_problems,
        chain_head=chain_head,
        reproducibility=tuple(repro),
        warnings=tuple(warnings),
    )
