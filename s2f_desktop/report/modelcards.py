"""Model cards and manifests as the report shows them.

A project model declares itself in ``models/<id>/manifest.json`` (files and their
sha256, the card's file name, and measured ``metrics``) and documents itself in
``MODEL_CARD.md``. The report quotes the declared hashes and metrics and the card's
sections on data and calibration. A missing card or manifest is not an error here: the
report states plainly that it is absent, because a report must still be producible (and
must say so) when an installation is incomplete.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping

#: Card sections quoted in the report, by keywords in their headings.
SECTION_KEYS = {
    "data": ("validation", "evaluation data", "training data", "data"),
    "calibration": ("calibration",),
    "metrics": ("metric", "performance", "results", "evaluation"),
}
MAX_SECTION_CHARS = 1200
MAX_METRICS = 40


@dataclass(frozen=True)
class ModelCardInfo:
    """What the report says about one model used by the run."""

    id: str
    file: str
    sha256: str  # as recorded with the run
    declared_sha256: str  # as declared in the manifest ("" when no manifest)
    manifest_found: bool
    card_found: bool
    title: str = ""
    data: str = ""
    calibration: str = ""
    metrics_text: str = ""
    metrics: tuple[tuple[str, str], ...] = field(default_factory=tuple)
    card_text: str = ""  # the card's text when it has none of the sections above
    note: str = ""
    #: Whole card sections as Markdown, (heading, body) in card order, for rendering as
    #: paragraphs, lists and tables (the plain fields above are their text equivalents).
    sections_md: tuple[tuple[str, str], ...] = field(default_factory=tuple)


def _flatten(prefix: str, v: Any, out: list[tuple[str, str]]) -> None:
    if len(out) >= MAX_METRICS:
        return
    if isinstance(v, Mapping):
        for k in v:
            _flatten(f"{prefix} / {k}" if prefix else str(k), v[k], out)
    elif isinstance(v, bool):
        out.append((prefix, "yes" if v else "no"))
    elif isinstance(v, (int, float)):
        if isinstance(v, float):
            out.append((prefix, f"{v:.4g}" if math.isfinite(v) else "not available"))
        else:
            out.append((prefix, str(v)))
    elif isinstance(v, str):
        out.append((prefix, v))
    elif isinstance(v, list) and len(v) <= 6 and all(isinstance(x, (int, float, str)) for x in v):
        out.append((prefix, ", ".join(f"{x:.4g}" if isinstance(x, float) else str(x) for x in v)))


def flatten_metrics(metrics: Any) -> tuple[tuple[str, str], ...]:
    """Nested metrics → ``(path, value)`` rows (scalars and short lists only)."""
    out: list[tuple[str, str]] = []
    _flatten("", metrics, out)
    return tuple(out)


def plain_markdown(text: str) -> str:
    """Markdown → plain text good enough for quoting (emphasis, code and links removed)."""
    text = re.sub(r"`([^`]*)`", r"\1", text)
    text = re.sub(r"\*\*([^*]+)\*\*|__([^_]+)__", lambda m: m.group(1) or m.group(2), text)
    text = re.sub(r"(?<![\w*])\*([^*\n]+)\*(?!\w)", r"\1", text)
    text = re.sub(r"\[([^\]]+)\]\([^)]*\)", r"\1", text)
    lines = []
    for line in text.splitlines():
        s = line.strip()
        if not s or set(s) <= set("|-: "):
            lines.append("")
            continue
        s = re.sub(r"^[-*+]\s+", "\u2022 ", s)
        if s.startswith("|"):
            s = " ; ".join(c.strip() for c in s.strip("|").split("|"))
        lines.append(s)
    # Collapse blank runs.
    out = re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()
    return out


def card_sections(markdown: str) -> dict[str, str]:
    """Heading (lower case) → plain-text body, in order."""
    sections: dict[str, str] = {}
    heading = ""
    buf: list[str] = []
    for line in markdown.splitlines():
        m = re.match(r"^(#{1,6})\s+(.*)$", line)
        if m:
            if heading or buf:
                sections[heading] = plain_markdown("\n".join(buf))
            heading, buf = m.group(2).strip().lower(), []
        else:
            buf.append(line)
    if heading or buf:
        sections[heading] = plain_markdown("\n".join(buf))
    return sections


def card_sections_markdown(markdown: str) -> list[tuple[str, str, int, str]]:
    """Every headed section in order: (heading lower case, heading as written, level, Markdown body)."""
    sections: list[tuple[str, str, int, str]] = []
    title, level = "", 0
    buf: list[str] = []
    for line in markdown.splitlines():
        m = re.match(r"^(#{1,6})\s+(.*)$", line)
        if m:
            if title:
                sections.append((title.lower(), title, level, "\n".join(buf).strip()))
            title, level, buf = m.group(2).strip(), len(m.group(1)), []
        else:
            buf.append(line)
    if title:
        sections.append((title.lower(), title, level, "\n".join(buf).strip()))
    return sections


def with_subsections(sections: list[tuple[str, str, int, str]], keys: set[str]) -> tuple[tuple[str, str], ...]:
    """The sections named by ``keys``, each followed by its subsections (deeper headings up to the next
    heading of its own level or higher), in the card's order, as (heading, Markdown body); empty bodies
    are left out."""
    out: list[tuple[str, str]] = []
    depth = 0  # level of the section being quoted; 0: outside one
    for key, title, level, body in sections:
        if depth and level <= depth:
            depth = 0
        if not depth and key in keys:
            depth = level
        if depth and body:
            out.append((title, body))
    return tuple(out)


def _pick(sections: Mapping[str, str], keys: Iterable[str], exclude: set[str]) -> tuple[str, str]:
    for key in keys:
        for heading, body in sections.items():
            if heading and key in heading and heading not in exclude and body:
                text = body if len(body) <= MAX_SECTION_CHARS else body[: MAX_SECTION_CHARS - 1].rstrip() + "\u2026"
                return heading, text
    return "", ""


def load_model_card(model_id: str, file: str, sha256: str, root: Path) -> ModelCardInfo:
    """Read ``root/<model_id>/manifest.json`` and its card, tolerating either being absent."""
    base = root / model_id
    manifest: dict[str, Any] = {}
    manifest_path = base / "manifest.json"
    notes: list[str] = []
    if manifest_path.is_file():
        try:
            manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            notes.append(f"The manifest {manifest_path.name} could not be read ({exc.__class__.__name__}).")
    else:
        notes.append(f"No manifest is installed for model {model_id} (expected models/{model_id}/manifest.json); "
                     "its declared hash and measured metrics cannot be quoted.")
    declared = ""
    files = manifest.get("files")
    if isinstance(files, Mapping):
        declared = str(files.get(file, "")) if file in files else ""
    if declared and sha256 and declared != sha256:
        notes.append(f"The installed manifest declares a different sha256 for {file} than the one recorded with the "
                     "analysis: the model was replaced after the analysis.")
    card_name = str(manifest.get("card") or "MODEL_CARD.md")
    card_path = base / card_name
    sections: dict[str, str] = {}
    raw: list[tuple[str, str, int, str]] = []
    title = str(manifest.get("name") or manifest.get("title") or "")
    if card_path.is_file():
        md = card_path.read_text(encoding="utf-8", errors="replace")
        sections = card_sections(md)
        raw = card_sections_markdown(md)
        if not title:
            m = re.search(r"^#\s+(.+)$", md, flags=re.M)
            title = plain_markdown(m.group(1)) if m else ""
    else:
        notes.append(f"No model card is installed for model {model_id} (expected models/{model_id}/{card_name}).")
    used: set[str] = set()
    h, data = _pick(sections, SECTION_KEYS["data"], used)
    used.add(h)
    h, calibration = _pick(sections, SECTION_KEYS["calibration"], used)
    used.add(h)
    h, metrics_text = _pick(sections, SECTION_KEYS["metrics"], used)
    used.add(h)
    # The quoted sections in full with their subsections (the metrics section's tables per sex, channel,
    # codec, source, age, quality gate, noise, short speech and clipping), in the card's own order.
    sections_md = with_subsections(raw, {k for k in used if k})
    if not data:
        d = manifest.get("validation") or manifest.get("data") or manifest.get("datasets")
        if d:
            data = d if isinstance(d, str) else json.dumps(d, sort_keys=True, ensure_ascii=False)
    card_text = ""
    if sections and not (data or calibration or metrics_text):
        body = "\n\n".join(b for b in sections.values() if b)
        card_text = body if len(body) <= 2 * MAX_SECTION_CHARS else body[: 2 * MAX_SECTION_CHARS - 1] + "\u2026"
    return ModelCardInfo(
        id=model_id, file=file, sha256=sha256, declared_sha256=declared, manifest_found=bool(manifest),
        card_found=card_path.is_file(), title=title, data=data, calibration=calibration,
        metrics_text=metrics_text if not manifest.get("metrics") else "",
        metrics=flatten_metrics(manifest.get("metrics", {})), card_text=card_text, note=" ".join(notes),
        sections_md=sections_md,
    )


@dataclass(frozen=True)
class TraitPerformance:
    """The trait model's cross-validated performance, as printed beside each finding (from its manifest)."""

    sex: str
    age: str


#: Printed beside each finding under this name: every figure comes from cross-validation on held-out
#: speakers (or videos) of the sources the model was trained on, none from a source it was not trained on.
PERFORMANCE_LABEL = "Cross-validated performance (held-out speakers of the training sources)"

#: What the reference labels are, in plain words (the manifest's ``evaluation`` says the same in short).
#: The sex labels are LibriSpeech's published speaker sex and, for the avspeech clips, a face model's
#: reading of the clip's face frame; the ages are a face model's estimates, never a true age.
SEX_LABEL_SOURCES = ("labels: LibriSpeech's published speaker sex and, for the avspeech video clips, the sex an "
                     "automatic face model read from the clip's face frame, kept where a second automatic rater of "
                     "the same frame agreed")
AGE_LABEL_SOURCES = ("reference ages: an automatic face model's age estimates from each avspeech clip's face frame, "
                     "not true ages")


def _metric(metrics: Mapping[str, Any], key: str) -> tuple[float, tuple[float, float] | None] | None:
    m = metrics.get(key)
    if not isinstance(m, Mapping) or not isinstance(m.get("value"), (int, float)):
        return None
    ci = m.get("ci95")
    interval = (float(ci[0]), float(ci[1])) if isinstance(ci, (list, tuple)) and len(ci) == 2 else None
    return float(m["value"]), interval


def _fmt_metric(v: tuple[float, tuple[float, float] | None], digits: int = 3) -> str:
    value, ci = v
    return f"{value:.{digits}f}" + (f" (95 % CI {ci[0]:.{digits}f}\u2013{ci[1]:.{digits}f})" if ci else "")


def _per_sex_abstention(metrics: Mapping[str, Any]) -> str:
    """" (women x %, men y %)" from the per-sex headline metrics, when the model card has them."""
    f, m = _metric(metrics, "sex_abstention_rate_female_clean"), _metric(metrics, "sex_abstention_rate_male_clean")
    return f" (women {f[0] * 100:.1f} %, men {m[0] * 100:.1f} %)" if f and m else ""


#: Age bands as printed, in order (keys of the training metrics' ``coverage_80_by_bin``).
_BAND_NAMES = {"<20": "under 20", "20-39": "20\u201339", "40-59": "40\u201359", ">=60": "60 and over"}


def _declared_metrics_json(base: Path, manifest: Mapping[str, Any]) -> Mapping[str, Any]:
    """The model's ``metrics.json`` when the manifest declares it and its sha256 matches, else empty."""
    files = manifest.get("files")
    declared = files.get("metrics.json") if isinstance(files, Mapping) else None
    path = base / "metrics.json"
    if not declared or not path.is_file():
        return {}
    try:
        raw = path.read_bytes()
        if hashlib.sha256(raw).hexdigest() != declared:
            return {}
        data = json.loads(raw.decode("utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, Mapping) else {}


def _coverage_by_band(metrics: Mapping[str, Any], full: Mapping[str, Any]) -> str:
    """" (by reference age band: 20-39 a, ...)" for every band measured.

    The adult bands come from the manifest's headline metrics; the bands it leaves out (under 20)
    from the declared ``metrics.json`` (``metrics.age_clean.coverage_80_by_bin``), with their count,
    so that a band where the interval fails is printed too.
    """
    by_bin = full.get("metrics", {}).get("age_clean", {}).get("coverage_80_by_bin", {}) \
        if isinstance(full.get("metrics"), Mapping) else {}
    parts = []
    for b, name in _BAND_NAMES.items():
        c = _metric(metrics, f"age_coverage_80_{b}_clean")
        if c:
            parts.append(f"{name} {c[0]:.2f}")
            continue
        e = by_bin.get(b) if isinstance(by_bin, Mapping) else None
        if isinstance(e, Mapping) and isinstance(e.get("value"), (int, float)):
            n = f" [{int(e['n'])} clips]" if isinstance(e.get("n"), int) else ""
            parts.append(f"{name} {float(e['value']):.2f}{n}")
    return f" (by reference age band: {', '.join(parts)})" if parts else ""


def trait_performance(model_id: str, root: Path) -> TraitPerformance:
    """What the trait model's manifest states about its cross-validated performance, in words.

    Only figures of what the report shows are printed: for sex, the accuracy where a sex is stated
    and the abstention; for age, the median's error, the 80 % interval's coverage (overall and per
    age band) and how well P(40 or over) ranks speakers. The age band is never stated, so no band
    accuracy is printed. The median's error is printed beside that of always answering the mean
    reference age, so that a reader sees when the median does no better than that constant.
    """
    missing = f"not stated in the manifest of {model_id}"
    try:
        manifest = json.loads((root / model_id / "manifest.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return TraitPerformance(missing, missing)
    metrics = manifest.get("metrics") if isinstance(manifest, Mapping) else None
    if not isinstance(metrics, Mapping):
        return TraitPerformance(missing, missing)
    full = _declared_metrics_json(root / model_id, manifest)
    how = str(metrics.get("evaluation", "")).split(";")[0].strip()
    sex_parts = []
    decided, abstain = _metric(metrics, "sex_accuracy_decided_clean"), _metric(metrics, "sex_abstention_rate_clean")
    if decided:
        sex_parts.append(f"accuracy {_fmt_metric(decided)} where the model states a sex"
                         + (f", abstaining on {abstain[0] * 100:.1f} % of the clips the quality gate passes"
                            if abstain else "")
                         + _per_sex_abstention(metrics))
    # Telephone band: the accuracy where a sex is stated and the abstention (declared metrics.json); the
    # manifest alone has only the accuracy of the more probable sex on every clip, decided or not.
    tel_stats = full.get("metrics", {}).get("sex_telephone", {}) if isinstance(full.get("metrics"), Mapping) else {}
    tel_dec = _metric(tel_stats, "accuracy_decided") if isinstance(tel_stats, Mapping) else None
    tel_abs = _metric(tel_stats, "abstention_rate") if isinstance(tel_stats, Mapping) else None
    tel = _metric(metrics, "sex_accuracy_telephone")
    if tel_dec:
        sex_parts.append(f"through a simulated telephone channel, accuracy {_fmt_metric(tel_dec)} where the model "
                         "states a sex" + (f", abstaining on {tel_abs[0] * 100:.1f} % of the clips the quality gate "
                                           "passes" if tel_abs else ""))
    elif tel:
        sex_parts.append(f"through a simulated telephone channel, accuracy {_fmt_metric(tel)} of the more probable "
                         "sex on every clip, decided or not")
    age_parts = []
    mae = _metric(metrics, "age_mae_years_clean")
    # The baseline printed beside every age answer is "always the training median", so its error is the
    # one to compare with; the mean reference age is the fallback for a metrics.json without it.
    age_full = full.get("metrics", {}).get("age_clean", {}) if isinstance(full.get("metrics"), Mapping) else {}
    med = _metric(age_full, "mae_predict_median_years") if isinstance(age_full, Mapping) else None
    base = _metric(metrics, "age_mae_predict_mean_years_clean")
    if mae and med:
        worse = "larger than" if mae[0] > med[0] else "smaller than" if mae[0] < med[0] else "equal to"
        age_parts.append(f"the median's mean absolute error {_fmt_metric(mae, 1)} years, {worse} that of always "
                         f"answering the training median (the baseline printed beside the answer): "
                         f"{_fmt_metric(med, 1)} years")
    elif mae:
        age_parts.append(f"the median's mean absolute error {_fmt_metric(mae, 1)} years"
                         + (f" (always answering the mean reference age: {_fmt_metric(base, 1)} years)"
                            if base else ""))
    cov = _metric(metrics, "age_coverage_80_clean")
    if cov:
        age_parts.append(f"80 % interval coverage {_fmt_metric(cov)}" + _coverage_by_band(metrics, full))
    auc = _metric(metrics, "age_p40_auc_clean")
    if auc:
        age_parts.append(f"probability of 40 or over, area under the ROC curve {_fmt_metric(auc)}")
    where = f"{model_id}; {how}" if how else model_id
    sex_where = f"; cross-validated on held-out speakers of the training sources ({where}); {SEX_LABEL_SOURCES}"
    age_where = f"; cross-validated on held-out speakers of the training sources ({where}); {AGE_LABEL_SOURCES}"
    return TraitPerformance("; ".join(sex_parts) + sex_where if sex_parts else missing,
                            "; ".join(age_parts) + age_where if age_parts else missing)
