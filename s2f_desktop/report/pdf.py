"""PDF rendering of a :class:`~s2f_desktop.report.model.ReportData` with reportlab.

Layout: an A4 report with a cover page, then one chapter per section, each a PDF
outline entry (bookmark). Every page carries the case number, the report id, the
marking "Investigative lead — not an identification" and "Page x of y".

"Page x of y" needs the page count before the first page is drawn, so the document is
built twice: the first pass counts pages (footers never change the page flow, as they
live outside the frame), the second writes the file.

The output is byte-for-byte reproducible for the same data: reportlab's invariant
mode removes its random document id and wall-clock timestamps, and the PDF creation
date is set from ``ReportData.generated_at`` instead.
"""

from __future__ import annotations

import functools
import io
import unicodedata
from datetime import datetime
from pathlib import Path
from typing import Any, Callable, Sequence
from xml.sax.saxutils import escape

import reportlab
from reportlab.lib import colors
from reportlab.lib.enums import TA_CENTER, TA_LEFT
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import (
    BaseDocTemplate,
    CondPageBreak,
    Flowable,
    Frame,
    Image,
    KeepTogether,
    PageBreak,
    PageTemplate,
    Paragraph,
    Spacer,
    Table,
    TableStyle,
)

from s2f_desktop.core.text import neutralise
from s2f_desktop.report.fonts import MONO, SANS, SANS_BOLD, SERIF, register_fonts
from s2f_desktop.report.model import NA, CompositeItem, Measure, ParamItem, ReportData
from s2f_desktop.report.modelcards import PERFORMANCE_LABEL, ModelCardInfo

#: Versions of the rendering software, quoted in the reproducibility block.
RENDERER_VERSIONS = {"ReportLab": reportlab.Version}

PAGE_W, PAGE_H = A4
MARGIN_X = 18 * mm
MARGIN_TOP = 27 * mm
MARGIN_BOTTOM = 20 * mm
CONTENT_W = PAGE_W - 2 * MARGIN_X

INK = colors.HexColor("#1a1a1a")
NAVY = colors.HexColor("#1f3a5f")
RULE = colors.HexColor("#8a96a3")
HEAD_BG = colors.HexColor("#e4e9f0")
ALT_BG = colors.HexColor("#f6f7f9")
RED = colors.HexColor("#a61b1b")
RED_BG = colors.HexColor("#fbe9e9")
GREEN = colors.HexColor("#1d6b2f")
AMBER = colors.HexColor("#8a5a00")
AMBER_BG = colors.HexColor("#fff4dc")


# ------------------------------------------------------------------------------ styles
def _styles() -> dict[str, ParagraphStyle]:
    base = ParagraphStyle("body", fontName=SERIF, fontSize=9.5, leading=13, textColor=INK, spaceAfter=4)
    return {
        "body": base,
        "small": ParagraphStyle("small", parent=base, fontSize=8, leading=10.5),
        "note": ParagraphStyle("note", parent=base, fontName=SANS, fontSize=7.5, leading=9.5,
                               textColor=colors.HexColor("#444444")),
        "h1": ParagraphStyle("h1", fontName=SANS_BOLD, fontSize=14, leading=18, textColor=NAVY, spaceBefore=6,
                             spaceAfter=6, keepWithNext=1),
        "h2": ParagraphStyle("h2", fontName=SANS_BOLD, fontSize=11, leading=14, textColor=NAVY, spaceBefore=8,
                             spaceAfter=4, keepWithNext=1),
        "title": ParagraphStyle("title", fontName=SANS_BOLD, fontSize=22, leading=27, textColor=NAVY,
                                alignment=TA_LEFT, spaceAfter=4),
        "subtitle": ParagraphStyle("subtitle", fontName=SANS, fontSize=11, leading=14, textColor=INK, spaceAfter=10),
        "marking": ParagraphStyle("marking", fontName=SANS_BOLD, fontSize=13, leading=17, textColor=RED,
                                  alignment=TA_CENTER),
        "cell": ParagraphStyle("cell", fontName=SANS, fontSize=8, leading=10, textColor=INK),
        "cellb": ParagraphStyle("cellb", fontName=SANS_BOLD, fontSize=8, leading=10, textColor=INK),
        "head": ParagraphStyle("head", fontName=SANS_BOLD, fontSize=8, leading=10, textColor=NAVY),
        "mono": ParagraphStyle("mono", fontName=MONO, fontSize=6.8, leading=8.6, textColor=INK),
        "warn": ParagraphStyle("warn", fontName=SANS_BOLD, fontSize=9, leading=12, textColor=RED),
        "caution": ParagraphStyle("caution", fontName=SANS, fontSize=8, leading=10.5, textColor=AMBER, spaceBefore=2),
        "finding": ParagraphStyle("finding", parent=base, fontSize=10.5, leading=14.5),
    }


@functools.lru_cache(maxsize=None)
def _covered(font_name: str) -> frozenset[int]:
    """Code points the embedded font has glyphs for."""
    register_fonts()
    return frozenset(pdfmetrics.getFont(font_name).face.charToGlyph)


def _markup(text: str, font_name: str) -> str:
    """Paragraph markup for plain text: escaped, newlines as breaks, every character shown or named.

    A character the style's font lacks is drawn in the sans font when that has it; one no embedded
    font has (e.g. CJK in names) is printed as its code point ``[U+738B]`` — a clear fallback instead
    of an empty box that would silently change a name. Right-to-left letters (Arabic, Hebrew) are
    named the same way: the PDF library draws them unshaped and left to right, which would misspell
    a name.
    """
    have, sans = _covered(font_name), _covered(SANS)
    out: list[str] = []
    for ch in text:
        if ch == "\n":
            out.append("<br/>")
        elif unicodedata.bidirectional(ch) in ("R", "AL"):
            out.append(f"[U+{ord(ch):04X}]")
        elif ord(ch) in have or ch in " \t":
            out.append(escape(ch))
        elif ord(ch) in sans:
            out.append(f'<font name="{SANS}">{escape(ch)}</font>')
        else:
            out.append(f"[U+{ord(ch):04X}]")
    return "".join(out)


def _p(text: Any, style: ParagraphStyle) -> Paragraph:
    """A paragraph from plain text (escaped; newlines kept).

    Control and formatting characters (bidirectional overrides, escapes) in stored text are
    printed as visible escapes, so text cannot disguise itself on the page; characters the
    embedded fonts cannot draw are named by code point (see :func:`_markup`).
    """
    return Paragraph(_markup(neutralise(text, keep_newlines=True), style.fontName), style)


def _hash(sha: str, style: ParagraphStyle) -> Paragraph:
    """A sha256 split over two lines so it fits a narrow column."""
    if len(sha) == 64:
        return Paragraph(f"{sha[:32]}<br/>{sha[32:]}", style)
    return Paragraph(escape(sha or NA), style)


class _Heading(Paragraph):
    """A heading that also becomes a PDF outline entry."""

    def __init__(self, text: str, style: ParagraphStyle, level: int, key: str) -> None:
        # Headings can hold stored text (a run's name): shown as _p shows it, so no control character acts on
        # the page and a character no font has is named by code point; the outline gets the neutralised text.
        safe = neutralise(text, keep_newlines=False)
        super().__init__(_markup(safe, style.fontName), style)
        self.outline_text = safe
        self.outline_level = level
        self.outline_key = key


def _table(rows: Sequence[Sequence[Any]], widths: Sequence[float], header: bool = True,
           extra: Sequence[tuple[Any, ...]] = ()) -> Table:
    t = Table([list(r) for r in rows], colWidths=list(widths), repeatRows=1 if header else 0, hAlign="LEFT")
    style = [
        ("FONTNAME", (0, 0), (-1, -1), SANS),  # plain-string cells would otherwise use unembedded Helvetica
        ("GRID", (0, 0), (-1, -1), 0.4, RULE),
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ("LEFTPADDING", (0, 0), (-1, -1), 3),
        ("RIGHTPADDING", (0, 0), (-1, -1), 3),
        ("TOPPADDING", (0, 0), (-1, -1), 2),
        ("BOTTOMPADDING", (0, 0), (-1, -1), 2.5),
    ]
    if header:
        style.append(("BACKGROUND", (0, 0), (-1, 0), HEAD_BG))
        for i in range(2, len(rows), 2):
            style.append(("BACKGROUND", (0, i), (-1, i), ALT_BG))
    style.extend(extra)
    t.setStyle(TableStyle(style))
    return t


def _md_inline(text: str) -> str:
    """Markdown emphasis and code → reportlab paragraph markup (input escaped first)."""
    import re

    t = escape(text)
    t = re.sub(r"`([^`]+)`", lambda m: f'<font name="{MONO}">{m.group(1)}</font>', t)
    t = re.sub(r"\*\*([^*]+)\*\*", r"<b>\1</b>", t)
    t = re.sub(r"(?<![\w*])\*([^*\n]+)\*(?!\w)", r"<i>\1</i>", t)
    t = re.sub(r"\[([^\]]+)\]\([^)]*\)", r"\1", t)
    return t


def md_flowables(md: str, st: dict[str, ParagraphStyle]) -> list[Flowable]:
    """A small Markdown subset (paragraphs, bullet lists, pipe tables) → flowables.

    Model cards are written in Markdown; quoting them as tables and lists keeps their
    figures legible in print instead of flattening them into run-on text.
    """
    out: list[Flowable] = []
    lines = md.splitlines()
    i = 0
    para: list[str] = []
    bullet_style = ParagraphStyle("mdli", parent=st["small"], leftIndent=10, firstLineIndent=-7, spaceAfter=1.5)

    def flush_para() -> None:
        if para:
            out.append(Paragraph(_md_inline(" ".join(para)), st["small"]))
            para.clear()

    while i < len(lines):
        line = lines[i].rstrip()
        s = line.strip()
        if not s:
            flush_para()
            i += 1
        elif s.startswith("|"):
            flush_para()
            rows = []
            while i < len(lines) and lines[i].strip().startswith("|"):
                cells = [c.strip() for c in lines[i].strip().strip("|").split("|")]
                if not all(set(c) <= set("-: ") for c in cells):
                    rows.append(cells)
                i += 1
            if rows:
                n = max(len(r) for r in rows)
                cell_style = ParagraphStyle("mdcell", parent=st["cell"], fontSize=7, leading=8.6)
                head_style = ParagraphStyle("mdhead", parent=st["head"], fontSize=7, leading=8.6)
                data = [[Paragraph(_md_inline(c), head_style if r == 0 else cell_style)
                         for c in row + [""] * (n - len(row))] for r, row in enumerate(rows)]
                # Wide tables give their first (label) column less, so no header word is split.
                first = CONTENT_W * (0.5 if n <= 2 else 0.34 if n <= 5 else 0.22 if n <= 7 else 0.16)
                widths = [first] + [(CONTENT_W - first) / (n - 1)] * (n - 1) if n > 1 else [CONTENT_W]
                out.append(_table(data, widths))
                out.append(Spacer(1, 3))
        elif s[:2] in ("* ", "- ", "+ "):
            flush_para()
            item = [s[2:]]
            i += 1
            while i < len(lines) and lines[i].strip() and lines[i].startswith((" ", "\t")) \
                    and lines[i].strip()[:2] not in ("* ", "- ", "+ "):
                item.append(lines[i].strip())
                i += 1
            out.append(Paragraph("\u2022 " + _md_inline(" ".join(item)), bullet_style))
        else:
            para.append(s)
            i += 1
    flush_para()
    return out


def _kv_table(pairs: Sequence[tuple[str, Any]], st: dict[str, ParagraphStyle], key_w: float = 45 * mm,
              mono_keys: Sequence[str] = ()) -> Table:
    rows = []
    for k, v in pairs:
        value = v if isinstance(v, Flowable) else (_p(v, st["mono"]) if k in mono_keys else _p(v, st["cell"]))
        rows.append([_p(k, st["cellb"]), value])
    return _table(rows, [key_w, CONTENT_W - key_w], header=False,
                  extra=[("BACKGROUND", (0, 0), (0, -1), HEAD_BG)])


def _boxed(flowables: list[Flowable], border: Any, bg: Any) -> Table:
    t = Table([[flowables]], colWidths=[CONTENT_W])
    t.setStyle(TableStyle([("FONTNAME", (0, 0), (-1, -1), SANS),
                           ("BOX", (0, 0), (-1, -1), 1.2, border), ("BACKGROUND", (0, 0), (-1, -1), bg),
                           ("LEFTPADDING", (0, 0), (-1, -1), 8), ("RIGHTPADDING", (0, 0), (-1, -1), 8),
                           ("TOPPADDING", (0, 0), (-1, -1), 6), ("BOTTOMPADDING", (0, 0), (-1, -1), 6)]))
    return t


def _boxed_small(text: str, width: float, st: dict[str, ParagraphStyle]) -> Table:
    """A red placeholder of an image's size, for an image that failed its hash check."""
    t = Table([[_p(text, st["warn"])]], colWidths=[width], rowHeights=[width])
    t.setStyle(TableStyle([("FONTNAME", (0, 0), (-1, -1), SANS),
                           ("BOX", (0, 0), (-1, -1), 1, RED), ("BACKGROUND", (0, 0), (-1, -1), RED_BG),
                           ("VALIGN", (0, 0), (-1, -1), "MIDDLE"), ("ALIGN", (0, 0), (-1, -1), "CENTER")]))
    return t


def _status_para(status: str, st: dict[str, ParagraphStyle]) -> Paragraph:
    color = "#1d6b2f" if status == "OK" else "#a61b1b"
    return Paragraph(f'<font name="{SANS_BOLD}" color="{color}">{escape(status)}</font>', st["cell"])


def _measure_rows(items: Sequence[Measure], st: dict[str, ParagraphStyle]) -> list[list[Any]]:
    rows: list[list[Any]] = [[_p(h, st["head"]) for h in ("Measure", "Value", "Unit", "Note")]]
    for m in items:
        rows.append([_p(m.name, st["cell"]), _p(m.value, st["cell"]), _p(m.unit or "\u2014", st["cell"]),
                     _p(m.note, st["cell"])])
    return rows


# ------------------------------------------------------------------------------ sections
def _subtitle(d: ReportData) -> str:
    """What the report holds, as its subtitle says it (composites only when some were rendered)."""
    parts = []
    if d.runs:
        parts.append("speaker characteristics estimated from recorded speech"
                     + (", with composite faces" if any(r.composites for r in d.runs) else ""))
    if d.comparisons:
        parts.append("speaker comparison with likelihood ratios")
    text = "; ".join(parts) or "evidence and audit trail (no analysis or comparison stored)"
    return text[0].upper() + text[1:]


def _banner(d: ReportData) -> str:
    """The cover's caution: what the profile and, when present, the comparisons can and cannot say."""
    text = ("This report supports an investigation. A voice profile describes broad characteristics suggested by a "
            "voice: it does not identify anyone and must not be used as evidence of identity.")
    if d.comparisons:
        text += (" A speaker comparison gives a likelihood ratio for two stated propositions: how much more "
                 "probable the speech is if one is true than if the other is. It weighs the speech evidence; it "
                 "does not decide whether the speakers are the same, which is for the court with all the evidence.")
    return text


def _cover(d: ReportData, st: dict[str, ParagraphStyle]) -> list[Flowable]:
    out: list[Flowable] = [
        Spacer(1, 6 * mm),
        _Heading("Forensic voice profile report", st["title"], 0, "cover"),
        _p(_subtitle(d), st["subtitle"]),
        _boxed([_p(d.marking.upper(), st["marking"]),
                _p(_banner(d), ParagraphStyle("m2", parent=st["small"], alignment=TA_CENTER))], RED, RED_BG),
        Spacer(1, 6 * mm),
        _kv_table([
            ("Case number", d.case_number), ("Case title", d.case_title), ("Analyst", d.analyst),
            ("Agency", d.agency), ("Case status", d.case_status), ("Case opened", d.case_opened),
            ("Report date", d.generated_at), ("Report id", d.report_id),
            ("Application", f"s2f-desktop {d.app_version}"),
            ("Analyses reported", "; ".join(f"run #{r.run_id}" + (f" \u201c{r.name}\u201d" if r.name else "")
                                            + f" of {r.created} by {r.created_by}" for r in d.runs)
             or "no analysis run stored"),
            ("Speaker comparisons reported", "; ".join(f"comparison #{c.run_id} of {c.created}" for c in d.comparisons)
             or "none stored"),
        ], st),
        Spacer(1, 5 * mm),
    ]
    if d.warnings:
        out.append(_boxed([_p("WARNING", st["warn"])] + [_p(w, st["warn"]) for w in d.warnings], RED, RED_BG))
        out.append(Spacer(1, 4 * mm))
    out.append(KeepTogether([_p("The request", st["h2"]),
                             _kv_table([("Question asked", d.question), ("Propositions", d.propositions),
                                        ("Case information received", d.case_info)], st)]))
    out.append(Spacer(1, 3 * mm))
    summary: list[Flowable] = [_p("Summary of findings", st["h2"])]
    for r in d.runs:
        summary.append(_p(f"Run #{r.run_id} ({len(r.segments)} segment(s), net speech {r.net_speech}, quality "
                          f"{r.quality_verdict}): sex: {r.sex.statement} Age: {r.age.statement}", st["body"]))
    if not d.runs:
        summary.append(_p(("No analysis run (voice profile) is stored for this case" if not d.other_runs else
                           "No analysis run is reported in full")
                          + ("; the speaker comparisons follow." if d.comparisons else "."), st["body"]))
    if d.other_runs:
        # A report of chosen runs must not read as the case's only findings.
        summary.append(_p(f"{len(d.other_runs)} other analysis run(s) of this case are not summarised here; "
                          "they are listed with their outcomes under \u201cOther analysis runs of this case\u201d.",
                          st["body"]))
    for c in d.comparisons:
        # Evaluative: the propositions and the LR, with the words of the stated scale.
        outcome = (f"{c.lr_text}; {c.verbal} ({c.scale})" if c.abstain_reason is None
                   else f"no likelihood ratio: {c.abstain_reason}")
        summary.append(_p(f"Speaker comparison #{c.run_id} (questioned: {c.questioned}; known: {c.known}): "
                          f"{outcome}. Hp: {c.hp}. Hd: {c.hd}.", st["body"]))
    summary.append(_p(f"Evidence verification at report time: "
                      f"{'all items OK' if d.evidence_ok else 'FAILED - see section 1'}.", st["body"]))
    out.append(KeepTogether(summary))
    out.append(PageBreak())
    return out


def _evidence(d: ReportData, st: dict[str, ParagraphStyle]) -> list[Flowable]:
    out: list[Flowable] = [_Heading("1. Evidence", st["h1"], 0, "evidence"),
                           _p("Every recording imported into the case, with the SHA-256 recorded at import and the "
                              "result of re-hashing the vault copy when this report was produced.", st["body"])]
    rows: list[list[Any]] = [[_p(h, st["head"]) for h in ("#", "File name", "SHA-256 (at import)", "Duration",
                                                          "Format", "Status")]]
    extra = []
    for i, e in enumerate(d.evidence, start=1):
        status: Any = _status_para(e.status, st)
        rows.append([_p(e.id, st["cell"]), _p(f"{e.name}\n{e.size}", st["cell"]), _hash(e.sha256, st["mono"]),
                     _p(e.duration, st["cell"]), _p(e.format, st["cell"]), status])
        if e.status != "OK":
            extra.append(("BACKGROUND", (0, i), (-1, i), RED_BG))
    if len(rows) == 1:
        rows.append([_p("\u2014", st["cell"]), _p("No evidence has been imported.", st["cell"]), "", "", "", ""])
    out.append(_table(rows, [8 * mm, 38 * mm, 50 * mm, 26 * mm, 34 * mm, 18 * mm], extra=extra))
    for e in d.evidence:
        if e.actual_sha256:
            out.append(_p(f"Evidence #{e.id} ({e.name}) is ALTERED: its vault copy now hashes to {e.actual_sha256}.",
                          st["warn"]))
        elif e.status == "MISSING":
            out.append(_p(f"Evidence #{e.id} ({e.name}) is MISSING from the vault.", st["warn"]))
    if d.evidence:
        out.append(Spacer(1, 1.5 * mm))
        out.append(_p("Imported: " + "; ".join(f"#{e.id} {e.imported}" for e in d.evidence) + ".", st["note"]))
        out.append(_p("Provenance of the exhibits", st["h2"]))
        prow: list[list[Any]] = [[_p(h, st["head"]) for h in ("#", "Received from", "Received on", "Original medium",
                                                              "Seal / reference", "Original path")]]
        for e in d.evidence:
            prow.append([_p(e.id, st["cell"]), _p(e.received_from, st["cell"]), _p(e.received_on, st["cell"]),
                         _p(e.medium, st["cell"]), _p(e.seal, st["cell"]), _p(e.original_path, st["mono"])])
        out.append(_table(prow, [8 * mm, 32 * mm, 24 * mm, 30 * mm, 28 * mm, CONTENT_W - 122 * mm]))
    return out


def _material(d: ReportData, st: dict[str, ParagraphStyle]) -> list[Flowable]:
    out: list[Flowable] = [_Heading("2. Material analysed", st["h1"], 0, "material")]
    if not d.runs:
        out.append(_p("No analysis has been run for this case.", st["body"]))
    for r in d.runs:
        out.append(_Heading(f"Run #{r.run_id}", st["h2"], 1, f"material-{r.run_id}"))
        out.append(_p(f"Analysis run #{r.run_id} ({r.created}, {r.created_by}) analysed the ranges below, as "
                      f"stored with the run. Times are from the start of each recording; the state column compares "
                      f"each range with the case's segment as it is now.", st["body"]))
        rows: list[list[Any]] = [[_p(h, st["head"]) for h in ("#", "Recording", "Start", "End", "Duration",
                                                              "Label / speaker", "State")]]
        extra = []
        for i, s in enumerate(r.segments, start=1):
            state: Any = _p(s.state, st["cell"]) if s.state == "as analysed" else _status_para(s.state, st)
            rows.append([_p(i, st["cell"]), _p(s.evidence, st["cell"]), _p(s.start, st["cell"]), _p(s.end, st["cell"]),
                         _p(s.duration, st["cell"]), _p(f"{s.label} / {s.speaker}", st["cell"]), state])
            if s.state != "as analysed":
                extra.append(("BACKGROUND", (0, i), (-1, i), RED_BG))
        out.append(_table(rows, [8 * mm, 40 * mm, 20 * mm, 20 * mm, 18 * mm, 30 * mm, CONTENT_W - 136 * mm],
                          extra=extra))
        if r.segments:
            out.append(Spacer(1, 1.5 * mm))
            hrows: list[list[Any]] = [[_p(h, st["head"]) for h in ("#", "Samples analysed (native rate)",
                                                                   "SHA-256 of the samples analysed (mono float32)")]]
            for i, s in enumerate(r.segments, start=1):
                hrows.append([_p(i, st["cell"]), _p(s.samples, st["cell"]), _hash(s.samples_sha256, st["mono"])])
            out.append(_table(hrows, [8 * mm, 52 * mm, CONTENT_W - 60 * mm]))
        out.append(Spacer(1, 3 * mm))
        out.append(_kv_table([("Selected duration", r.total_selected), ("Net speech", r.net_speech),
                              ("Quality verdict", r.quality_verdict),
                              ("Quality reasons",
                               "\n".join(r.quality_reasons) if r.quality_reasons else "none stated")], st))
        if r.quality_measures:
            out.append(_p("Recording quality measures (whole selection)", st["h2"]))
            out.append(_table(_measure_rows(r.quality_measures, st), [55 * mm, 30 * mm, 25 * mm, CONTENT_W - 110 * mm]))
        out.append(_p("Speaker consistency", st["h2"]))
        out.append(_p(r.consistency, st["body"]))
        if r.consistency_details:
            out.append(_table(_measure_rows(r.consistency_details, st), [55 * mm, 30 * mm, 25 * mm,
                                                                         CONTENT_W - 110 * mm]))
    if d.other_runs:
        out.append(_p("Other analysis runs of this case", st["h2"]))
        out.append(_p("Every other run stored for this case, with its outcome (their details are not repeated "
                      "here; a report of each can be produced from the store):", st["body"]))
        for item in d.other_runs:
            out.append(Paragraph("\u2022 " + escape(item), ParagraphStyle("or", parent=st["body"], leftIndent=10,
                                                                          firstLineIndent=-7)))
    return out


def _finding_box(title: str, lines: list[tuple[str, str]], statement: str, abstained: bool,
                 reason: str, st: dict[str, ParagraphStyle]) -> Table:
    head = f"{title} \u2014 ABSTAINED" if abstained else title
    content: list[Flowable] = [_p(head, ParagraphStyle("fh", parent=st["h2"], spaceBefore=0,
                                                       textColor=AMBER if abstained else NAVY))]
    content.append(_p(statement, st["finding"]))
    for k, v in lines:
        content.append(Paragraph(f"<b>{escape(k)}:</b> {escape(v)}", st["body"]))
    if reason:
        content.append(Paragraph(f"<b>Reason:</b> {escape(reason)}", st["body"]))
    return _boxed(content, AMBER if abstained else RULE, AMBER_BG if abstained else colors.white)


def _findings(d: ReportData, st: dict[str, ParagraphStyle]) -> list[Flowable]:
    out: list[Flowable] = [CondPageBreak(80 * mm), _Heading("3. Findings", st["h1"], 0, "findings")]
    if d.runs:
        out.append(_p("Estimates for the whole selection (all segments pooled). Numbers are calibrated "
                      "probabilities and intervals from the models described in section 5.", st["body"]))
    for r in d.runs:
        out.append(_Heading(f"Run #{r.run_id}" + (f" \u201c{r.name}\u201d" if r.name else "") + f": {r.outcome}",
                            st["h2"], 1, f"findings-{r.run_id}"))
        if r.notes:
            out.append(_p(f"Notes on this run (by {r.named_by}): {r.notes}", st["note"]))
        sex_lines = [("Probability male", r.sex.p_male), ("Label", r.sex.label)]
        if r.sex.performance:
            sex_lines.append((PERFORMANCE_LABEL, r.sex.performance))
        out.append(_finding_box("Sex", sex_lines, r.sex.statement, r.sex.abstained, r.sex.reason, st))
        out.append(_p("The words follow the verbal scale set out in section 5; the number is the finding.", st["note"]))
        out.append(Spacer(1, 3 * mm))
        age_lines = [("Median", r.age.median), ("80 % interval", r.age.interval), ("Age band", r.age.label)]
        if r.age.bands:
            age_lines.append(("Band probabilities (years)", r.age.bands))
        if r.age.performance:
            age_lines.append((PERFORMANCE_LABEL, r.age.performance))
        out.append(_finding_box("Age", age_lines, r.age.statement, r.age.abstained, r.age.reason, st))
        out.append(_p("Acoustic measures", st["h2"]))
        if r.acoustics:
            out.append(_table(_measure_rows(r.acoustics, st), [55 * mm, 30 * mm, 25 * mm, CONTENT_W - 110 * mm]))
            for n in r.acoustic_notes:
                out.append(_p(n, st["note"]))
        else:
            out.append(_p("No acoustic measures were stored for this analysis (not available).", st["body"]))
        if r.segments:
            out.append(_p("Per-segment results", st["h2"]))
            rows: list[list[Any]] = [[_p(h, st["head"]) for h in ("#", "Quality", "Reasons", "Sex", "Age (80 %)")]]
            for i, s in enumerate(r.segments, start=1):
                rows.append([_p(i, st["cell"]), _p(s.quality, st["cell"]), _p(s.reasons or "\u2014", st["cell"]),
                             _p(s.sex, st["cell"]), _p(s.age, st["cell"])])
            out.append(_table(rows, [8 * mm, 24 * mm, 70 * mm, 38 * mm, CONTENT_W - 140 * mm]))
    out.append(CondPageBreak(40 * mm))
    out.append(_Heading("Listening statement", st["h2"], 1, "listening"))
    out.append(_p("What the examiner heard when listening to the material (their statement, as recorded in the "
                  "case):", st["note"]))
    out.append(_p(d.listening_statement, st["body"]))
    out.append(CondPageBreak(60 * mm))
    out.append(_Heading("Conclusions", st["h2"], 1, "conclusions"))
    if not d.runs:
        out.append(_p("No analysis run (voice profile) is stored: there is no finding on the speaker's "
                      "characteristics." + (f" The {len(d.comparisons)} speaker comparison(s) are reported, with their "
                                            "propositions, likelihood ratios and validation, in the sections that "
                                            "follow." if d.comparisons else ""), st["body"]))
    for r in d.runs:
        block = [_p(f"Run #{r.run_id}", st["cellb"])] if len(d.runs) > 1 else []
        out.append(KeepTogether(block + [_p(c, st["body"]) for c in r.conclusions]))
    return out


def _signature(d: ReportData, st: dict[str, ParagraphStyle]) -> list[Flowable]:
    out: list[Flowable] = [CondPageBreak(90 * mm), _Heading("8. Examiner and review", st["h1"], 0, "examiner")]
    out.append(_kv_table([("Examiner", d.analyst), ("Role", d.examiner_role),
                          ("Qualifications", d.examiner_qualifications), ("Agency", d.agency),
                          ("Signature", "\n\n"), ("Date", "")], st))
    out.append(_p("Second examiner's review", st["h2"]))
    if d.review:
        out.append(_kv_table(list(d.review), st))
    else:
        out.append(_p("No second-examiner review is recorded in the case's audit trail.", st["body"]))
    return out


#: How each composite kind is introduced in the report (kinds from services.composites).
COMPOSITE_ROLES = {"primary": "Primary composite", "variant": "Variant", "age_low": "Variant",
                   "age_high": "Variant", "other_sex": "Variant", "analyst_edit": "Analyst edit"}


def _image(path: Path, box: float, draft: bool) -> Flowable:
    """An image fitted into a ``box`` x ``box`` square.

    In the page-counting pass (``draft``) only a spacer of the same size is laid out:
    decoding and compressing the images twice would double the report time for nothing.
    """
    from PIL import Image as PILImage

    with PILImage.open(path) as im:  # reads the header only
        iw, ih = im.size
    scale = box / max(iw, ih)
    w, h = iw * scale, ih * scale
    return Spacer(w, h) if draft else Image(str(path), width=w, height=h)


def _composite_block(c: CompositeItem, primary: CompositeItem | None, st: dict[str, ParagraphStyle],
                     draft: bool) -> list[Flowable]:
    role = COMPOSITE_ROLES.get(c.kind, f"Variant ({c.kind})")
    # Labels written by the composite service already start with "Primary: ...".
    named = c.label.lower().startswith(role.split()[0].lower())
    title = f"{c.label if named else f'{role}: {c.label}'} (#{c.id}, version {c.version})"
    head: list[Flowable] = [_Heading(title, st["h2"], 1, f"composite-{c.id}")]
    derived = f"; derived from #{c.parent_id}" if c.parent_id is not None else ""
    head.append(_p(f"Created {c.created} by {c.created_by}{derived}.", st["note"]))
    cells: list[Any] = []
    captions: list[Any] = []
    n = max(1, len(c.images))
    img_w = min(52 * mm, (CONTENT_W - 4 * mm * (n - 1)) / n)
    for im in c.images:
        if im.path is not None:
            cells.append(_image(im.path, img_w, draft))
        else:
            cells.append(_boxed_small(f"image {im.status}: not shown", img_w, st))
        captions.append(_p(f"{im.view} \u2014 {im.status}\n{im.sha256[:16]}\u2026" if im.sha256 else im.view,
                           st["note"]))
    if cells:
        t = Table([cells, captions], colWidths=[img_w + 4 * mm] * len(cells), hAlign="LEFT")
        t.setStyle(TableStyle([("FONTNAME", (0, 0), (-1, -1), SANS),
                           ("ALIGN", (0, 0), (-1, -1), "CENTER"), ("VALIGN", (0, 0), (-1, -1), "MIDDLE")]))
        head.append(t)
    else:
        head.append(_p("No images were stored for this composite.", st["body"]))
    out: list[Flowable] = [KeepTogether(head)]
    params = c.parameters
    note = ""
    if c.parent_id is not None:
        # A derived version differs from its parent only by the edits listed below.
        params = ()
    elif primary is not None and not c.is_primary:
        base = {p.name: (p.value, p.origin) for p in primary.parameters}
        params = tuple(p for p in c.parameters if base.get(p.name) != (p.value, p.origin))
        note = f"Parameters that differ from the primary composite #{primary.id}; all others are identical."
    # Fine facial adjustments left at their defaults are many and all alike: one summary row.
    untouched = [p for p in params if p.name.startswith("adjust.") and p.origin == "default"]
    if len(untouched) > 3:
        params = tuple(p for p in params if p not in untouched) + (ParamItem(
            f"adjust.* ({len(untouched)} facial adjustments)", "defaults", "default",
            "all at their defaults: " + ", ".join(p.note or p.name.removeprefix("adjust.") for p in untouched)),)
    rows: list[list[Any]] = [[_p(h, st["head"]) for h in ("Parameter", "Value", "Origin", "Note")]]
    for prm in params:
        color = {"voice": "#1f3a5f", "analyst": "#8a5a00"}.get(prm.origin, "#555555")
        rows.append([_p(prm.name, st["cell"]), _p(prm.value, st["cell"]),
                     Paragraph(f'<font color="{color}">{escape(prm.origin)}</font>', st["cellb"]),
                     _p(prm.note, st["cell"])])
    if len(rows) > 1:
        if note:
            out.append(_p(note, st["note"]))
        out.append(_table(rows, [52 * mm, 34 * mm, 20 * mm, CONTENT_W - 106 * mm]))
    if c.edits:
        erows: list[list[Any]] = [[_p(h, st["head"]) for h in ("Parameter", "Before", "After", "Analyst's note")]]
        for e in c.edits:
            erows.append([_p(e.name, st["cell"]), _p(e.before, st["cell"]), _p(e.after, st["cell"]),
                          _p(e.note or "\u2014", st["cell"])])
        out.append(KeepTogether([_p(f"Analyst edits relative to #{c.parent_id}", st["cellb"]),
                                 _table(erows, [52 * mm, 30 * mm, 30 * mm, CONTENT_W - 112 * mm],
                                        extra=[("BACKGROUND", (0, 1), (-1, -1), AMBER_BG)])]))
    out.append(Spacer(1, 4 * mm))
    return out


def _composites(d: ReportData, st: dict[str, ParagraphStyle], draft: bool) -> list[Flowable]:
    out: list[Flowable] = [CondPageBreak(120 * mm), _Heading("4. Composites", st["h1"], 0, "composites"),
                           _p("Composite faces are average faces that display only the estimated traits and their "
                              "uncertainty. They are not likenesses of the speaker. Each parameter's origin says "
                              "whether it was set from the voice analysis, by the analyst, or left at the neutral "
                              "default.", st["body"])]
    with_composites = [r for r in d.runs if r.composites]
    if not with_composites:
        out.append(_p("No composites were rendered for the runs reported.", st["body"]))
    for r in with_composites:
        if len(d.runs) > 1:
            out.append(_Heading(f"Composites of run #{r.run_id}", st["h2"], 1, f"composites-{r.run_id}"))
        primary = next((c for c in r.composites if c.is_primary), None)
        for c in r.composites:
            out.extend(_composite_block(c, primary, st, draft))
    return out


def _method(d: ReportData, st: dict[str, ParagraphStyle]) -> list[Flowable]:
    out: list[Flowable] = [PageBreak(), _Heading("5. Method and limitations", st["h1"], 0, "method")]
    if d.runs:
        out.append(_p("Speech segments selected by the analyst were checked for quality, analysed with Praat "
                      "acoustic measures and passed through the trait models below; the models abstain when quality "
                      "is insufficient or the estimate is too uncertain.", st["body"]))
    out.append(_p("All processing ran offline on the analyst's machine.", st["body"]))
    if d.comparisons:
        out.append(_p("Speaker comparisons: the speech of each side was embedded with the GE2E speaker encoder, scored "
                      "against the other side and normalised against a cohort of other speakers, and the score turned "
                      "into a likelihood ratio by the comparison model's calibration, within the bounds its validation "
                      "supports; the files are listed below and each comparison's section gives its validation.",
                      st["body"]))
    if not d.models:
        out.append(_p("No models are recorded for the runs reported.", st["body"]))
    else:
        out.append(_p("Models used (one row per declared file). Appendix A reproduces each model card's sections on "
                      "data, metrics (with all their tables) and calibration; the whole card is installed with the "
                      "application (models/<model>/MODEL_CARD.md, listed in the model's manifest).", st["body"]))
        rows: list[list[Any]] = [[_p(h, st["head"]) for h in ("Model", "File", "SHA-256 (recorded)", "Declaration")]]
        for m in d.models:
            rows.append([_p(m.id + (f"\n{m.title}" if m.title and m.title != m.id else ""), st["cell"]),
                         _p(m.file, st["cell"]), _hash(m.sha256, st["mono"]), _p(_declared(m), st["cell"])])
        out.append(_table(rows, [42 * mm, 28 * mm, 62 * mm, CONTENT_W - 132 * mm]))
        for m in d.models:
            if m.note:
                out.append(_p(f"{m.id}: {m.note}", st["caution"]))
    out.append(_Heading("Limitations", st["h2"], 1, "limitations"))
    for item in d.limitations:
        out.append(Paragraph("\u2022 " + escape(item), ParagraphStyle("li", parent=st["body"], leftIndent=10,
                                                                      firstLineIndent=-7)))
    out.append(_Heading("Verbal scale", st["h2"], 1, "scale"))
    out.append(_p(d.scale_note, st["body"]))
    out.append(_Heading("Published context", st["h2"], 1, "context"))
    out.append(_p(d.context_note, st["body"]))
    return out


def _declared(m: ModelCardInfo) -> str:
    if m.declared_sha256:
        return "matches the installed manifest" if m.declared_sha256 == m.sha256 else \
            f"DIFFERS from the installed manifest ({m.declared_sha256})"
    return "no installed declaration to compare with"


def _appendix_cards(d: ReportData, st: dict[str, ParagraphStyle]) -> list[Flowable]:
    """Appendix A: each model card's data, metrics and calibration sections (with their subsections), as
    installed with the application."""
    if not d.models:
        return []
    out: list[Flowable] = [PageBreak(), _Heading("Appendix A. Model cards", st["h1"], 0, "appendix-cards"),
                           _p("The sections on data, metrics and calibration of the cards of the models named in "
                              "section 5, as installed with the application that produced this report; the rest of "
                              "each card (method, what was tried, limits, licences) is in the installed card.",
                              st["body"])]
    shown: set[str] = set()
    for m in d.models:
        if m.id in shown:
            continue
        shown.add(m.id)
        out.append(_Heading(f"Model {m.id}" + (f" \u2014 {m.title}" if m.title and m.title != m.id else ""),
                            st["h2"], 1, f"model-{m.id}"))
        if m.sections_md:
            for heading, body in m.sections_md:
                out.append(_p(f"From the model card: {heading}", st["cellb"]))
                out.extend(md_flowables(body, st))
        else:
            for label, text in (("Training / validation data", m.data), ("Calibration", m.calibration),
                                ("Reported performance", m.metrics_text)):
                if text:
                    out.append(_p(label, st["cellb"]))
                    out.append(_p(text, st["body"]))
            if m.card_text:
                out.extend(md_flowables(m.card_text, st))  # paragraphs re-flowed, never broken mid-sentence
        # The card's own metrics table is the readable form of the manifest's figures; the
        # raw manifest rows are shown only when the card has no metrics section.
        if m.metrics and not any("metric" in h.lower() for h, _ in m.sections_md):
            out.append(_p("Measured metrics (from the model's manifest)", st["cellb"]))
            rows = [[_p("Metric", st["head"]), _p("Value", st["head"])]] + \
                [[_p(k, st["cell"]), _p(v, st["cell"])] for k, v in m.metrics]
            out.append(_table(rows, [110 * mm, CONTENT_W - 110 * mm]))
    return out


def _audit(d: ReportData, st: dict[str, ParagraphStyle]) -> list[Flowable]:
    out: list[Flowable] = [PageBreak(), _Heading("6. Audit trail", st["h1"], 0, "audit")]
    out.append(Paragraph(("" if d.chain_ok else '<font color="#a61b1b">') + escape(d.chain_status) +
                         ("" if d.chain_ok else "</font>"), st["cellb"]))
    out.append(_kv_table([("Chain head (hash of the last event)", d.chain_head)], st, key_w=60 * mm,
                         mono_keys=["Chain head (hash of the last event)"]))
    out.append(_p("Every change to the case, in order. Each event's hash covers its content and the previous "
                  "event's hash, so any later edit breaks the chain. The export of this report is recorded after "
                  "the file is written, with the file's SHA-256.", st["note"]))
    rows: list[list[Any]] = [[_p(h, st["head"]) for h in ("#", "Time (UTC)", "Actor", "Action", "Object", "Details",
                                                          "Hash (start)")]]
    small = ParagraphStyle("a", parent=st["cell"], fontSize=7, leading=8.6)
    for e in d.audit:
        rows.append([_p(e.seq, small), _p(e.at.replace(" UTC", ""), small), _p(e.actor, small), _p(e.action, small),
                     _p(e.objects, small), _p(e.details, ParagraphStyle("ad", parent=st["cell"], fontSize=6.5,
                                                                         leading=8)),
                     _p(e.hash[:12], ParagraphStyle("ah", parent=st["mono"], fontSize=6, leading=7.5))])
    # Action and object wide enough for "evidence.provenance" and "comparison_run 12" (they broke mid-word).
    out.append(_table(rows, [7 * mm, 19 * mm, 16 * mm, 30 * mm, 25 * mm, CONTENT_W - 116 * mm, 19 * mm]))
    return out


def _repro(d: ReportData, st: dict[str, ParagraphStyle]) -> list[Flowable]:
    out: list[Flowable] = [CondPageBreak(60 * mm), _Heading("7. Reproducibility", st["h1"], 0, "reproducibility"),
                           _p("What is needed to repeat the analysis and to check this report: the input hashes, the "
                              "exact segments, the parameters, the seed, the device and the software and model "
                              "versions.", st["body"])]
    mono_keys = [k for k, v in d.reproducibility if len(v) >= 40 and " " not in v.strip()]
    out.append(_kv_table(list(d.reproducibility), st, key_w=48 * mm, mono_keys=mono_keys))
    return out


def _comparisons(d: ReportData, st: dict[str, ParagraphStyle]) -> list[Flowable]:
    """Section 3b: each stored speaker comparison (propositions, LR and words, validation, Tippett plot)."""
    from s2f_desktop.report.comparison import comparison_flowables

    out: list[Flowable] = []
    for sec in d.comparisons:
        out.append(CondPageBreak(120 * mm))
        out.extend(comparison_flowables(sec, st, CONTENT_W))
    return out


def story(d: ReportData, draft: bool = False) -> list[Flowable]:
    """All flowables of the report, in order (``draft``: images replaced by same-size spacers)."""
    st = _styles()
    out: list[Flowable] = []
    for part in (_cover, _evidence, _material, _findings, _comparisons):
        out.extend(part(d, st))
    out.extend(_composites(d, st, draft))
    for part in (_method, _audit, _repro, _signature, _appendix_cards):
        out.extend(part(d, st))
    return out


# ------------------------------------------------------------------------------ document
class _ReportDoc(BaseDocTemplate):
    """Document template: header/footer on every page, outline entries for headings."""

    def __init__(self, target: Any, data: ReportData, total_pages: int | None, **kw: Any) -> None:
        super().__init__(target, pagesize=A4, leftMargin=MARGIN_X, rightMargin=MARGIN_X, topMargin=MARGIN_TOP,
                         bottomMargin=MARGIN_BOTTOM, invariant=1, initialFontName=SANS, **kw)
        self.data = data
        self.total_pages = total_pages
        frame = Frame(MARGIN_X, MARGIN_BOTTOM, CONTENT_W, PAGE_H - MARGIN_TOP - MARGIN_BOTTOM, id="body",
                      leftPadding=0, rightPadding=0, topPadding=0, bottomPadding=0)
        self.addPageTemplates([PageTemplate(id="page", frames=[frame], onPage=self._decorate)])

    def afterFlowable(self, flowable: Flowable) -> None:
        if isinstance(flowable, _Heading):
            self.canv.bookmarkPage(flowable.outline_key)
            self.canv.addOutlineEntry(flowable.outline_text, flowable.outline_key, level=flowable.outline_level,
                                      closed=False)

    def _decorate(self, canv: Canvas, doc: Any) -> None:
        d = self.data
        canv.saveState()
        if doc.page == 1:
            canv.showOutline()
        top = PAGE_H - 12 * mm
        canv.setFillColor(RED)
        canv.setFont(SANS_BOLD, 8.5)
        canv.drawCentredString(PAGE_W / 2, top, d.marking.upper())
        canv.setFillColor(INK)
        canv.setFont(SANS, 8)
        canv.drawString(MARGIN_X, top - 5.5 * mm, f"Case {d.case_number}")
        canv.drawRightString(PAGE_W - MARGIN_X, top - 5.5 * mm, f"Report {d.report_id}")
        canv.setFont(SANS, 7)
        canv.setFillColor(colors.HexColor("#555555"))
        canv.drawCentredString(PAGE_W / 2, top - 5.5 * mm, "Forensic voice profile report")
        canv.setStrokeColor(RULE)
        canv.setLineWidth(0.6)
        canv.line(MARGIN_X, top - 7.5 * mm, PAGE_W - MARGIN_X, top - 7.5 * mm)
        y = 12 * mm
        canv.line(MARGIN_X, y + 4 * mm, PAGE_W - MARGIN_X, y + 4 * mm)
        canv.setFillColor(INK)
        canv.setFont(SANS, 7.5)
        canv.drawString(MARGIN_X, y, f"Case {d.case_number} \u00b7 Report {d.report_id} \u00b7 s2f-desktop "
                                     f"{d.app_version}")
        total = "?" if self.total_pages is None else str(self.total_pages)
        canv.setFont(SANS_BOLD, 8)
        canv.drawRightString(PAGE_W - MARGIN_X, y, f"Page {doc.page} of {total}")
        canv.setFont(SANS, 6.5)
        canv.setFillColor(RED)
        canv.drawCentredString(PAGE_W / 2, y - 4 * mm, d.marking)
        canv.restoreState()


def _canvas_maker(created: datetime) -> Callable[..., Canvas]:
    """A canvas class whose PDF dates are ``created`` (reportlab's invariant mode otherwise)."""

    class _FixedDateCanvas(Canvas):
        def __init__(self, *args: Any, **kw: Any) -> None:
            kw["invariant"] = 1
            super().__init__(*args, **kw)
            ts = self._doc._timeStamp
            ts.YMDhms = (created.year, created.month, created.day, created.hour, created.minute, created.second)
            ts.dhh = ts.dmm = 0

    return _FixedDateCanvas


def render_pdf(data: ReportData, out: Path | io.BytesIO, created: datetime) -> int:
    """Write the report; returns the number of pages. ``created`` becomes the PDF creation date."""
    register_fonts()
    meta = dict(title=f"Forensic voice profile report \u2014 case {data.case_number}", author=data.analyst,
                subject=f"{data.marking}. Case {data.case_number}: {data.case_title}",
                creator=f"s2f-desktop {data.app_version}", producer=f"s2f-desktop {data.app_version} "
                f"(ReportLab {reportlab.Version})", keywords=[data.report_id, data.case_number, "investigative lead"],
                lang="en")
    maker = _canvas_maker(created)
    counting = _ReportDoc(io.BytesIO(), data, None, **meta)
    counting.build(story(data, draft=True), canvasmaker=maker)
    pages = counting.page
    target: Any = str(out) if isinstance(out, Path) else out
    final = _ReportDoc(target, data, pages, **meta)
    final.build(story(data), canvasmaker=maker)
    if final.page != pages:  # pragma: no cover - footers are outside the frame, so this cannot change
        raise RuntimeError("page count changed between passes")
    return int(pages)
