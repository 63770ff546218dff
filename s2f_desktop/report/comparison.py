"""The speaker-comparison section of a case report (built from a stored comparison run).

Two steps, like the rest of the report: :func:`build_comparison_section` turns a stored
:class:`~s2f_desktop.store.comparisons.ComparisonRun` plus the declared model files
(``models/<id>/manifest.json``, ``metrics.json``, ``validation.npz``, each checked against its
sha256) into a plain :class:`ComparisonSection`; :func:`comparison_flowables` renders it with
reportlab: propositions, the LR and its words side by side, the material, the validation
figures per condition with their 95 % intervals, a Tippett plot of the validation LRs with
this case's LR marked, and the limits. Nothing is taken from widgets.

Hook for report/pdf.py: for each run of ``services.comparison.list_comparisons(ctx, case)``
call ``build_comparison_section(run, seg_numbers)`` when building the report data, and
``comparison_flowables(section, styles)`` where the section belongs (after the material).
"""

from __future__ import annotations

import hashlib
import io
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

from s2f_desktop.core.errors import ModelIntegrityError
from s2f_desktop.store.comparisons import ComparisonRun
from s2f_desktop.system.env import models_dir
from s2f_desktop.voice import lr as lrm

CONDITIONS = ("all", "clean/clean", "clean/telephone", "telephone/telephone", "short/short (both < 5 s)",
              "short/long (< 5 s vs >= 10 s)", "long/long (both >= 10 s)",
              "targets across utterances only (no within-clip halves)")

LIMITS = (
    "The likelihood ratio weighs two propositions; it is not an identification and not a probability that the "
    "speakers are the same. Combining it with prior odds is for the trier of fact.",
    "Most same-speaker validation pairs come from one recording or session (halves of a clip, one LibriSpeech "
    "chapter, one video). Casework compares different sessions, devices and speaking styles; the validation "
    "figures are optimistic for that.",
    "Populations: cross-validated on held-out speakers of its training sources only, adult English read speech "
    "(LibriSpeech) and speech from online videos (avspeech), and calibrated on one of the two and tested on the "
    "other (the figures under Validation); no third source was tested. Other languages, children, disguised, "
    "whispered, shouted or emotional speech are not validated.",
    "The speaker encoder (GE2E) was trained by its authors on LibriSpeech and VoxCeleb (YouTube videos), speech "
    "like both validation sources; overlap of their speakers with the validation speakers was not checked, so "
    "the validation figures may be optimistic.",
    "Channels cross-validated: wideband and simulated telephone band. Real codecs, noise and reverberation are "
    "not validated.",
    "LRs are clipped to the empirical bounds (ELUB) that the validation data supports.",
    "Hd's relevant population is adult speakers of the known speaker's sex (the different-speaker validation "
    "pairs are of one sex). The application does not establish that sex: the examiner must, from what is known "
    "of the known speaker; if it is not known, the validation does not describe this comparison.",
    "The calibration weighs the score by the shorter side's duration, so more speech of the same two recordings "
    "moves the LR, and on material unlike the validation sources a moderate score can move from support for Hp "
    "to support for Hd as speech is added: compare the LR of shorter excerpts before relying on its direction.",
)


@dataclass(frozen=True)
class ValidationRow:
    """One condition's validation figures (formatted)."""

    condition: str
    trials: str
    cllr: str
    cllr_min: str
    eer: str
    misleading_hp: str
    misleading_hd: str


@dataclass(frozen=True)
class ComparisonSection:
    """Everything the report prints about one comparison run."""

    run_id: int
    hp: str
    hd: str
    log10_lr: float | None
    lr_text: str
    verbal: str
    scale: str
    abstain_reason: str | None
    questioned: str
    known: str
    speech: str
    channel: str
    model: str
    device: str
    created: str
    bounds: str
    validation: tuple[ValidationRow, ...]
    validation_llr: np.ndarray
    validation_label: np.ndarray
    cross_source: str = ""  # the across-sources sentence (from metrics.json's ``cross_source``), or ""
    limits: tuple[str, ...] = LIMITS
    notes: tuple[str, ...] = ()  # the stored input notes (channels carrying different signals, mixed)


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def load_validation(model_id: str, root: Path | None = None) -> tuple[dict[str, Any], np.ndarray, np.ndarray]:
    """The model's metrics and validation LRs/labels, each file checked against the manifest's sha256."""
    base = (root or models_dir()) / model_id
    man = json.loads((base / "manifest.json").read_text(encoding="utf-8"))
    for name in ("metrics.json", "validation.npz"):
        if _sha(base / name) != man["files"].get(name):
            raise ModelIntegrityError(f"model {model_id}: {name} does not match its declared sha256")
    metrics = json.loads((base / "metrics.json").read_text(encoding="utf-8"))
    z = np.load(base / "validation.npz")
    return metrics, z["log10_lr"].astype(np.float64), z["label"].astype(np.int64)


def _ci(m: Mapping[str, Any], key: str, pct: bool = False) -> str:
    v = m[key]

    def f(x: float) -> str:
        return f"{100 * x:.1f} %" if pct else f"{x:.3f}"

    return f"{f(v['value'])} ({f(v['ci95'][0])}\u2013{f(v['ci95'][1])})"


#: (metrics.json key, what was fitted on, what it was tested on) of the across-sources runs, in print order.
CROSS_SOURCE_RUNS = (("avspeech_to_librispeech", "avspeech-968", "LibriSpeech"),
                     ("librispeech_to_avspeech", "LibriSpeech", "avspeech-968"))


def cross_source_text(metrics: Mapping[str, Any]) -> str:
    """One sentence with the across-sources Cllr and EER (all trials) of the stored metrics, or "" without them."""
    cs = metrics.get("cross_source") or {}
    parts = [f"fitted on {fit} alone and tested on {test}, Cllr {_ci(cs[key]['metrics']['all'], 'cllr')} and "
             f"EER {_ci(cs[key]['metrics']['all'], 'eer', True)}"
             for key, fit, test in CROSS_SOURCE_RUNS if "all" in cs.get(key, {}).get("metrics", {})]
    if not parts:
        return ""
    return ("Across sources, with the cohort, calibration and bounds " + "; ".join(parts) + " (the rows above are "
            "calibrated on both sources; neither source is unseen by the speaker encoder, which was trained on "
            "LibriSpeech and VoxCeleb).")


def channel_text(channel: str, telephone: Any = None) -> str:
    """The stored channel in words, naming which side was telephone band when the per-side quality is known
    (``telephone``: a BySide of booleans, or None). The stored value "telephone band (both sides)" means both
    sides were *compared* band-limited, not that both were recorded so: a wideband side was filtered to match."""
    if channel == "wideband":
        return "wideband (neither side is telephone band)"
    if not channel.startswith("telephone band"):
        return channel
    how = "both sides compared band-limited to 300\u20133400 Hz"
    if telephone is None:
        return f"telephone band: {how}, because at least one side is telephone band"
    q, k = bool(telephone.questioned), bool(telephone.known)
    if not (q or k):  # the sides' stored quality does not say which (it should): the general statement
        return f"telephone band: {how}, because at least one side is telephone band"
    if q and k:
        return f"telephone band: both sides are telephone band ({how})"
    narrow, wide = ("questioned", "known") if q else ("known", "questioned")
    return f"telephone band: the {narrow} side is telephone band; the {wide} side (wideband) was band-limited to " \
           "300\u20133400 Hz to match"


def side_text(results: Any, side: str, rates: Mapping[int, int] | None = None) -> str:
    """The stored material of one side ("questioned"/"known") as compared: recording and time range of each
    segment, from the ranges stored with the comparison (a segment edited since does not change it), in
    recording and time order; "" when the run stored no ranges."""
    from s2f_desktop.core.timeutil import fmt_clock

    names = {e.evidence_id: e.name for e in results.evidence}
    rates = rates or {}
    parts = []
    for g in sorted((g for g in results.segments if g.side == side), key=lambda g: (g.evidence_id, g.start_sample)):
        name = names.get(g.evidence_id, f"evidence #{g.evidence_id}")
        rate = rates.get(g.evidence_id)
        parts.append(f"{name} {fmt_clock(g.start_sample / rate)}\u2013{fmt_clock(g.end_sample / rate)}" if rate
                     else f"{name} samples {g.start_sample}\u2013{g.end_sample}")
    return "; ".join(parts)


def lr_text(log10_lr: float | None) -> str:
    """'LR = 4.7 x 10^3 (log10 LR +3.67)' style text, or the abstention."""
    if log10_lr is None:
        return "no likelihood ratio (the system abstained)"
    lr = 10 ** log10_lr
    shown = f"{lr:.3g}" if 0.01 <= lr < 1000 else f"{lr:.2e}"
    return f"LR = {shown} (log10 LR {log10_lr:+.2f})" + ("" if lr >= 1 else f", i.e. 1 / {1 / lr:.3g}")


def telephone_sides(r: Any) -> Any:
    """Each side's telephone-band flag, from the quality stored with every comparison."""
    from s2f_desktop.core.comparison_results import BySide

    return BySide(r.quality.questioned.telephone_band, r.quality.known.telephone_band)


def build_comparison_section(run: ComparisonRun, seg_numbers: Mapping[str, str] | None = None,
                             root: Path | None = None, rates: Mapping[int, int] | None = None) -> ComparisonSection:
    """The report section of a stored comparison run (reads the declared validation files).

    The sides are named from the ranges stored with the run (``rates``: evidence id -> sample rate, for times);
    ``seg_numbers`` (segment id -> name) only for a run that stored none."""
    r = run.results
    seg_numbers = seg_numbers or {}
    metrics, vllr, vlab = load_validation(r.model.id, root)
    rows = []
    for cond in CONDITIONS:
        m = metrics["metrics"].get(cond)
        if m:
            rows.append(ValidationRow(cond, f"{m['n_target']} / {m['n_non_target']}", _ci(m, "cllr"),
                                      _ci(m, "cllr_min"), _ci(m, "eer", True), _ci(m, "rme_hp", True),
                                      _ci(m, "rme_hd", True)))
    numbers = seg_numbers

    def name(ids: Sequence[str]) -> str:
        return ", ".join(numbers.get(s, f"segment {s[:8]}") for s in ids)

    cal = metrics["calibration"]
    at_bound = " — at the bound the validation supports" if r.at_bound else ""
    return ComparisonSection(
        run_id=run.id, hp=r.hp or lrm.HP, hd=r.hd or lrm.HD, log10_lr=r.log10_lr,
        lr_text=lr_text(r.log10_lr) + at_bound, verbal=r.verbal or lrm.verbal(r.log10_lr),
        scale=r.scale or lrm.SCALE_NAME, abstain_reason=r.abstain_reason,
        questioned=side_text(r, "questioned", rates) or name(run.questioned_ids),
        known=side_text(r, "known", rates) or name(run.known_ids),
        speech=(f"questioned {float(r.speech_s.questioned):.2f} s, known {float(r.speech_s.known):.2f} s: the audio "
                "left after the speaker model's own silence trimming, which its validation is binned by (the quality "
                "measures' net speech comes from the speech detector and can differ)"),
        channel=channel_text(r.channel, telephone_sides(r)), model=f"{r.model.id} (sha256 {r.model.sha256})",
        device=run.device, created=f"{run.created_at:%Y-%m-%d %H:%M} UTC by {run.created_by}",
        bounds=f"{cal['lower']:+.2f} \u2264 log10 LR \u2264 {cal['upper']:+.2f}",
        validation=tuple(rows), validation_llr=vllr, validation_label=vlab, cross_source=cross_source_text(metrics),
        notes=tuple(r.notes))


# ------------------------------------------------------------------------------ rendering
def tippett_drawing(llr: np.ndarray, label: np.ndarray, case_llr: float | None, width: float, height: float) -> Any:
    """A Tippett plot (reportlab Drawing): share of same-/different-speaker validation LRs >= x, case LR marked."""
    from reportlab.graphics.shapes import Drawing, Line, PolyLine, String
    from reportlab.lib import colors

    d = Drawing(width, height)
    left, bottom, right, top = 34.0, 26.0, width - 8.0, height - 14.0
    lo = float(min(np.min(llr), case_llr if case_llr is not None else 0.0)) - 0.25
    hi = float(max(np.max(llr), case_llr if case_llr is not None else 0.0)) + 0.25

    def px(v: float) -> float:
        return left + (v - lo) / (hi - lo) * (right - left)

    def py(p: float) -> float:
        return bottom + p * (top - bottom)

    d.add(Line(left, bottom, right, bottom, strokeColor=colors.black, strokeWidth=0.6))
    d.add(Line(left, bottom, left, top, strokeColor=colors.black, strokeWidth=0.6))
    for t in range(int(np.ceil(lo)), int(np.floor(hi)) + 1):
        d.add(Line(px(t), bottom, px(t), bottom - 3, strokeColor=colors.black, strokeWidth=0.5))
        d.add(String(px(t), bottom - 11, f"{t:+d}" if t else "0", fontSize=6.5, textAnchor="middle"))
        d.add(Line(px(t), bottom, px(t), top, strokeColor=colors.lightgrey, strokeWidth=0.3))
    for p in (0.0, 0.5, 1.0):
        d.add(String(left - 4, py(p) - 2, f"{int(p * 100)} %", fontSize=6.5, textAnchor="end"))
    d.add(String((left + right) / 2, 3, "log10 LR", fontSize=7, textAnchor="middle"))
    xs = np.linspace(lo, hi, 240)
    for cls, col, name in ((1, colors.HexColor("#1f5fa8"), "same speaker (Hp true)"),
                           (0, colors.HexColor("#c62828"), "different speakers (Hd true)")):
        v = np.sort(llr[label == cls])
        share = 1.0 - np.searchsorted(v, xs, side="left") / max(1, len(v))
        d.add(PolyLine([c for x, s in zip(xs, share) for c in (px(x), py(s))], strokeColor=col, strokeWidth=1.1))
        y_leg = py(0.5) if cls == 1 else py(0.5) - 10
        d.add(Line(left + 30, y_leg + 2, left + 42, y_leg + 2, strokeColor=col, strokeWidth=1.1))
        d.add(String(left + 45, y_leg, f"{name}, n = {len(v)}", fontSize=6.5))
    if case_llr is not None:
        d.add(Line(px(case_llr), bottom, px(case_llr), top, strokeColor=colors.black, strokeWidth=1.2,
                   strokeDashArray=[3, 2]))
        anchor = "end" if px(case_llr) > (left + right) / 2 else "start"
        d.add(String(px(case_llr) + (-3 if anchor == "end" else 3), py(0.2), f"this case {case_llr:+.2f}",
                     fontSize=7, textAnchor=anchor))
    return d


def comparison_flowables(sec: ComparisonSection, st: Mapping[str, Any], width: float | None = None) -> list[Any]:
    """reportlab flowables of the section.

    ``st`` holds ParagraphStyles (h1, h2, body, cell, cellb, head, note, warn).
    """
    from xml.sax.saxutils import escape

    from reportlab.lib import colors
    from reportlab.lib.units import mm
    from reportlab.platypus import Paragraph, Spacer, Table, TableStyle

    width = width or 170 * mm

    def p(t: object, s: str) -> Any:
        return Paragraph(escape(str(t)), st[s])

    def table(rows: Sequence[Sequence[Any]], widths: Sequence[float], header: bool = True) -> Table:
        t = Table([list(r) for r in rows], colWidths=list(widths), repeatRows=1 if header else 0)
        style = [("GRID", (0, 0), (-1, -1), 0.4, colors.grey), ("VALIGN", (0, 0), (-1, -1), "TOP")]
        if header:
            style.append(("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#eeeeee")))
        t.setStyle(TableStyle(style))
        return t

    out: list[Any] = [p(f"Speaker comparison (comparison run #{sec.run_id})", "h1"),
                      p("Propositions", "h2"), p(f"Hp: {sec.hp}.", "body"), p(f"Hd: {sec.hd}.", "body")]
    result = [[p("Likelihood ratio", "cellb"), p(sec.lr_text, "cell")],
              [p("Verbal expression", "cellb"), p(f"{sec.verbal} ({sec.scale})", "cell")]]
    if sec.abstain_reason:
        result.append([p("Why no LR", "cellb"), p(sec.abstain_reason, "cell")])
    if sec.notes:
        result.append([p("Channels", "cellb"), p("; ".join(sec.notes) + ".", "cell")])
    out += [p("Result", "h2"), table(result, [40 * mm, width - 40 * mm], header=False),
            p("The LR says how much more probable the measured speech is if Hp is true than if Hd is true. "
              "It is not the probability that the speakers are the same, and it is not an identification.", "note"),
            p("Material and method", "h2"),
            table([[p("Questioned", "cellb"), p(sec.questioned, "cell")], [p("Known", "cellb"), p(sec.known, "cell")],
                   [p("Speech compared", "cellb"), p(sec.speech, "cell")],
                   [p("Channel", "cellb"), p(sec.channel, "cell")],
                   [p("System", "cellb"), p(f"{sec.model}; GE2E embeddings, adaptive s-norm, logistic calibration "
                                            f"with duration, bounds {sec.bounds}", "cell")],
                   [p("Device / run", "cellb"), p(f"{sec.device}; {sec.created}", "cell")]],
                  [40 * mm, width - 40 * mm], header=False),
            p("Validation (cross-validated on held-out speakers of the training sources; 95 % intervals)", "h2")]
    head = ("Condition", "Trials, same / different", "Cllr", "Cllr_min", "EER", "Misleading, Hp true",
            "Misleading, Hd true")
    rows = [[p(h, "head") for h in head]] + [[p(v, "cell") for v in (r.condition, r.trials, r.cllr, r.cllr_min, r.eer,
                                                                        r.misleading_hp, r.misleading_hd)]
                                             for r in sec.validation]
    w = width / 100
    out.append(table(rows, [22 * w, 14 * w, 13 * w, 13 * w, 12 * w, 13 * w, 13 * w]))
    if sec.cross_source:
        out.append(p(sec.cross_source, "note"))
    out.append(Spacer(1, 2 * mm))
    out.append(tippett_drawing(sec.validation_llr, sec.validation_label, sec.log10_lr, width, 62 * mm))
    out.append(p("Tippett plot: share of validation LRs at or above each value, for same-speaker and "
                 "different-speaker pairs; the dashed line is this case's LR.", "note"))
    out.append(p("Limits", "h2"))
    out += [p(f"\u2022 {t}", "body") for t in sec.limits]
    return out


def render_comparison_pdf(sec: ComparisonSection, path: Path) -> Path:
    """A one-section PDF of a comparison (used by tests and for a quick look; the case report embeds the section)."""
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.styles import ParagraphStyle, getSampleStyleSheet
    from reportlab.lib.units import mm
    from reportlab.platypus import SimpleDocTemplate

    base = getSampleStyleSheet()
    st = {"h1": base["Heading1"], "h2": base["Heading2"], "body": base["BodyText"],
          "cell": ParagraphStyle("cell", parent=base["BodyText"], fontSize=8, leading=10),
          "cellb": ParagraphStyle("cellb", parent=base["BodyText"], fontSize=8, leading=10, fontName="Helvetica-Bold"),
          "head": ParagraphStyle("head", parent=base["BodyText"], fontSize=7.5, leading=9, fontName="Helvetica-Bold"),
          "note": ParagraphStyle("note", parent=base["BodyText"], fontSize=7.5, leading=9, textColor="#444444"),
          "warn": base["BodyText"]}
    buf = io.BytesIO()
    doc = SimpleDocTemplate(buf, pagesize=A4, leftMargin=20 * mm, rightMargin=20 * mm, topMargin=18 * mm,
                            bottomMargin=18 * mm, title=f"Speaker comparison #{sec.run_id}")
    doc.build(comparison_flowables(sec, st, A4[0] - 40 * mm))
    path.write_bytes(buf.getvalue())
    return path
