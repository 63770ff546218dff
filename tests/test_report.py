"""PDF report on a case the app really produced: every printed figure equals the stored one.

The case is built once per module through the services from real speech
(:func:`s2f_desktop.services.samplecase.build_sample_case`: an espeak-ng dialogue, the
asterisk telephone prompts, a fragment too short to analyse) and copied for each test
that changes it. Each figure the report prints (probabilities, intervals, quality
measures and their thresholds, acoustic measures, hashes, audit entries) is formatted
here from the *stored* run, independently of the report code, and looked up in the text
pypdf extracts: a report that prints anything other than what is stored fails.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import stat
import subprocess
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest
from pypdf import PdfReader

from s2f_desktop.core.errors import NotFoundError  # noqa: E402
from s2f_desktop.core.models import AnalysisRun  # noqa: E402
from s2f_desktop.core.traits import INCONCLUSIVE  # noqa: E402
from s2f_desktop.services.context import AppContext  # noqa: E402
from s2f_desktop.services.evidence import audit_trail  # noqa: E402
from s2f_desktop.services.reports import ReportResult, build_report  # noqa: E402
from s2f_desktop.services.samplecase import SampleCase, build_sample_case, prompts_dir  # noqa: E402
from s2f_desktop.store import open_store  # noqa: E402

FIXED_DATE = datetime(2026, 3, 14, 9, 30)
pytestmark = pytest.mark.slow


def pdf_text(path: Path) -> str:
    """All text of a PDF, pages joined."""
    return "\n".join(page.extract_text() or "" for page in PdfReader(str(path)).pages)


def words(path: Path) -> str:
    """All text of a PDF with whitespace runs collapsed (table cells wrap lines anywhere)."""
    return " ".join(pdf_text(path).split())


def flat(text: str) -> str:
    """Text with all whitespace removed (hashes are printed over two lines)."""
    return re.sub(r"\s+", "", text)


# --------------------------------------------------------------- the stored figures, formatted here
def prob(p: float) -> str:
    return f"{p:.4f}" if p >= 0.999 or p <= 0.001 else f"{p:.3f}"


def measure(v: float | None) -> str:
    if v is None:
        return "not measurable"
    return f"{v:.4f}" if abs(v) < 0.1 and v != 0 else f"{v:.2f}"


def expected_figures(run: AnalysisRun) -> list[str]:
    """Every figure of the run the report prints, as text, from the stored values."""
    p = run.results.pooled
    sex, age, q, t = p.traits.sex, p.traits.age, p.quality, p.quality.thresholds
    if p.traits.extra.get("estimated") is False:
        # Nothing was measured: the stored placeholder and training prior are not printed as figures.
        out = ["Probability male: not available", f"Label: {sex.label}", "Median: not available",
               "80 % interval: not available"]
    else:
        out = [f"Probability male: {prob(sex.p_male)}", f"Label: {sex.label}",
               f"Median: {age.median_years:.0f} years",
               f"80 % interval: {age.interval_80[0]:.0f}\u2013{age.interval_80[1]:.0f} years"]
    if age.label != INCONCLUSIVE:
        out.append(f"Age band: {age.label}")
        out.append("Band probabilities (years): " + ", ".join(f"{k}: {v:.2f}" for k, v in
                                                             age.bin_probabilities.items()))
    out += [f"Net speech {q.net_speech_s:.2f} s minimum {t['min_net_speech_s']:g} s, recommended "
            f"{t['warn_net_speech_s']:g} s",
            f"Signal-to-noise ratio {measure(q.snr_db)} dB minimum {t['min_snr_db']:g} dB, recommended "
            f"{t['warn_snr_db']:g} dB; noise from {q.snr_method}",
            f"Clipped samples {q.clipping_fraction * 100:.3f} %",
            f"Effective bandwidth {q.bandwidth_hz:.1f} Hz minimum {t['min_bandwidth_hz']:g} Hz",
            f"Telephone band {'yes' if q.telephone_band else 'no'}",
            f"Speech level {measure(q.level_dbfs)} dBFS", f"Quality verdict {q.verdict.value}"]
    out += [f"Quality reasons {r}" for r in q.reasons[:1]]
    for name, m in p.acoustics.measures.items():
        row = f"{measure(m.value)} {m.unit}"
        out.append(row + (" unreliable here" if not m.reliable else ""))
    for i, r in enumerate(run.results.selection, start=1):
        part = run.results.segment(r.segment_id)
        assert part is not None
        out.append(f"{i} {r.start_sample}\u2013{r.end_sample} at {r.sample_rate} Hz")
        ps = part.traits.sex
        out.append("abstained (nothing measured)" if part.traits.extra.get("estimated") is False
                   else "abstained (quality gate)" if part.traits.gate_reason
                   else f"abstained (p male {prob(ps.p_male)})" if ps.label == INCONCLUSIVE
                   else f"p male {prob(ps.p_male)} ({ps.label})")
    c = run.results.consistency
    if c is not None and c.method == "calibrated":
        out.append(f"Groups kept apart at {c.threshold:.2f} log10 LR {c.threshold_source}")
        for i, sid in enumerate(c.segment_ids, start=1):
            v = c.log10_lr[sid]
            note = " flagged" if sid in c.flagged else " not judged: too little speech" if sid in c.not_judged else ""
            out.append(f"Against the main speaker group, segment #{i} "
                       + (f"{v:.2f}" if v is not None else "not available") + f" log10 LR{note}")
    elif c is not None:
        out.append(f"Threshold {c.threshold:.3f} cosine {c.threshold_source}")
        for i, sid in enumerate(c.segment_ids, start=1):
            v = c.median_similarity[sid]
            out.append(f"Median similarity, segment #{i} {v:.3f} cosine" + (" flagged" if sid in c.flagged else ""))
    t_ = run.timings
    out.append(f"Run #{run.id} timings (s) read_s {t_.read_s:.2f}, load_models_s {t_.load_models_s:.2f}, "
               f"analysis_s {t_.analysis_s:.2f}")
    out.append(f"Run #{run.id} seed {run.seed}")
    return out


def expected_hashes(ctx: AppContext, run: AnalysisRun) -> list[str]:
    """Every hash the report prints for a run: inputs, analysed samples, models, images, chain head."""
    from s2f_desktop.services.composites import list_composites
    from s2f_desktop.services.evidence import list_evidence

    events, _ = audit_trail(ctx, "2026-0042")
    out = [e.sha256 for e in list_evidence(ctx, "2026-0042")]
    out += [r.samples_sha256 for r in run.results.selection if r.samples_sha256]
    out += [m.sha256 for m in run.models]
    out += [sha for c in list_composites(ctx, run.id) for sha in c.image_sha256.values()]
    out.append(events[-1].hash)
    return out


# ------------------------------------------------------------------------------- fixtures
@pytest.fixture(scope="module")
def sample_root(real_voices: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, SampleCase]]:
    assert prompts_dir() is not None
    root = tmp_path_factory.mktemp("sample")
    ctx = AppContext(open_store(root / "data"), "tester")
    try:
        sample = build_sample_case(ctx, root / "in")
    finally:
        ctx.close()
    yield root / "data", sample


@pytest.fixture
def sample(sample_root: tuple[Path, SampleCase], tmp_path: Path) -> Iterator[tuple[AppContext, SampleCase]]:
    """A private copy of the sample case's data directory, opened as 'tester'."""
    data = tmp_path / "data-copy"
    shutil.copytree(sample_root[0], data)
    ctx = AppContext(open_store(data), "tester")
    yield ctx, sample_root[1]
    ctx.close()


def report_of(ctx: AppContext, sc: SampleCase, run: AnalysisRun, out: Path, record: bool = True) -> ReportResult:
    return build_report(ctx, sc.number, out=out, run_id=run.id, generated_at=FIXED_DATE, record=record)


# ---------------------------------------------------------------------------------- tests
def test_every_printed_figure_equals_the_stored_one(sample, tmp_path):
    ctx, sc = sample
    for run in sc.runs:
        res = report_of(ctx, sc, run, tmp_path / f"run{run.id}.pdf", record=False)
        text, compact = words(res.path), flat(pdf_text(res.path))
        missing = [f for f in expected_figures(run) if f not in text]
        assert not missing, f"run #{run.id}: printed figures differ from the stored ones: {missing}"
        missing = [h for h in expected_hashes(ctx, run) if h not in compact]
        assert not missing, f"run #{run.id}: hashes not printed as stored: {missing}"
        for other in (r for r in sc.runs if r.id != run.id):  # no run is left out, nor listed without its outcome
            o = other.results.pooled
            line = f"run #{other.id} of {other.created_at:%Y-%m-%d %H:%M:%S} UTC by {other.created_by}: " \
                   f"{len(other.results.selection)} segment(s), quality {o.quality.verdict.value}, "
            line += ("sex abstained (nothing measured)" if o.traits.extra.get("estimated") is False
                     else "sex abstained (quality gate)" if o.traits.gate_reason
                     else f"sex abstained (p male {prob(o.traits.sex.p_male)})" if o.traits.sex.label == INCONCLUSIVE
                     else f"sex {o.traits.sex.label} (p male {prob(o.traits.sex.p_male)})")
            age = o.traits.age
            line += (", age abstained" if o.traits.gate_reason else
                     f", age {age.median_years:.0f} y, 80 % interval {age.interval_80[0]:.0f}\u2013"
                     f"{age.interval_80[1]:.0f} y" + (" (no band stated)" if age.label == INCONCLUSIVE else ""))
            assert line in text, line


def test_case_report_carries_every_run_in_full(sample, tmp_path, capsys):
    """One PDF: the female turn and the male turns of the dialogue (one run per speaker), the phone call and
    the abstention, each in full."""
    from s2f_desktop.cli.main import main

    ctx, sc = sample
    assert {r.results.pooled.traits.sex.label for r in sc.runs} >= {"male", "female", INCONCLUSIVE}
    hashes = {run.id: expected_hashes(ctx, run) for run in sc.runs}  # before the export adds its audit event
    out = tmp_path / "case.pdf"
    assert main(["--data-dir", str(ctx.data_dir), "report", sc.number, "--out", str(out)]) == 0
    text, compact = words(out), flat(pdf_text(out))
    for run in sc.runs:
        missing = [f for f in expected_figures(run) if f not in text]
        assert not missing, f"run #{run.id}: {missing}"
        assert all(h in compact for h in hashes[run.id])
        assert f"Run #{run.id}:" in text
    assert "Other analysis runs of this case" not in text
    # --runs restricts the runs given in full; the others stay listed with their outcomes.
    two = tmp_path / "two.pdf"
    ids = f"{sc.runs[0].id},{sc.runs[2].id}"
    assert main(["--data-dir", str(ctx.data_dir), "report", sc.number, "--runs", ids, "--out", str(two)]) == 0
    text = words(two)
    assert "Other analysis runs of this case" in text
    n_other = len(sc.runs) - 2
    assert f"{n_other} other analysis run(s) of this case are not summarised here" in text  # on the first page
    assert f"run #{sc.runs[1].id} of" in text and f"run #{sc.runs[3].id} of" in text
    assert f"Run #{sc.runs[1].id}:" not in text
    capsys.readouterr()
    assert main(["--data-dir", str(ctx.data_dir), "report", sc.number, "--runs", "1,x"]) == 2
    assert "--runs takes run ids" in capsys.readouterr().err


def test_findings_show_cross_validated_performance_beside_them(sample, tmp_path):
    """Beside each finding: the manifest's figures of what the report shows, named as cross-validated on the
    training sources, with the label sources; no accuracy of an age band the model never states."""
    import json

    from s2f_desktop.report.modelcards import AGE_LABEL_SOURCES, PERFORMANCE_LABEL, SEX_LABEL_SOURCES
    from s2f_desktop.system.env import models_dir

    ctx, sc = sample
    traits = next(m for m in sc.male_run.models if m.id.startswith("traits-"))
    base = models_dir() / traits.id
    metrics = json.loads((base / "manifest.json").read_text(encoding="utf-8"))["metrics"]
    by_bin = json.loads((base / "metrics.json").read_text(encoding="utf-8"))["metrics"]["age_clean"][
        "coverage_80_by_bin"]

    def fig(key: str, digits: int = 3) -> str:
        m = metrics[key]
        return f"{m['value']:.{digits}f} (95 % CI {m['ci95'][0]:.{digits}f}\u2013{m['ci95'][1]:.{digits}f})"

    text = words(report_of(ctx, sc, sc.male_run, tmp_path / "p.pdf", record=False).path)
    assert "Validated performance" not in text
    assert f"{PERFORMANCE_LABEL}: accuracy {fig('sex_accuracy_decided_clean')} where the model states a sex" in text
    assert text.count(f"{PERFORMANCE_LABEL}:") == 2
    tel = json.loads((base / "metrics.json").read_text(encoding="utf-8"))["metrics"]["sex_telephone"]
    dec = tel["accuracy_decided"]
    assert (f"through a simulated telephone channel, accuracy {dec['value']:.3f} (95 % CI {dec['ci95'][0]:.3f}\u2013"
            f"{dec['ci95'][1]:.3f}) where the model states a sex, abstaining on "
            f"{tel['abstention_rate']['value'] * 100:.1f} % of the clips the quality gate passes") in text
    assert " ".join(SEX_LABEL_SOURCES.split()) in text and " ".join(AGE_LABEL_SOURCES.split()) in text
    assert text.count("cross-validated on held-out speakers of the training sources (traits-") == 2
    # Compared with the baseline printed beside the answer (always the training median), from metrics.json.
    med = json.loads((base / "metrics.json").read_text(encoding="utf-8"))["metrics"]["age_clean"][
        "mae_predict_median_years"]
    worse = "larger" if metrics["age_mae_years_clean"]["value"] > med["value"] else "smaller"
    assert (f"the median's mean absolute error {fig('age_mae_years_clean', 1)} years, {worse} than that of always "
            f"answering the training median (the baseline printed beside the answer): {med['value']:.1f} (95 % CI "
            f"{med['ci95'][0]:.1f}–{med['ci95'][1]:.1f}) years") in text
    assert f"80 % interval coverage {fig('age_coverage_80_clean')} (by reference age band: " in text
    # Every band measured, the adult ones from the manifest and under 20 (where the interval fails) from metrics.json.
    assert f"under 20 {by_bin['<20']['value']:.2f} [{by_bin['<20']['n']} clips]" in text
    for b, name in (("20-39", "20\u201339"), ("40-59", "40\u201359"), (">=60", "60 and over")):
        assert f"{name} {metrics[f'age_coverage_80_{b}_clean']['value']:.2f}" in text, b
    assert f"area under the ROC curve {fig('age_p40_auc_clean')}" in text
    assert "age band correct" not in text and "most common band" not in text
    assert "likelihood ratio" not in text.split("5. Method")[0]  # traits are worded as investigative estimates


def test_performance_skips_an_undeclared_metrics_file(tmp_path):
    """The under-20 coverage is read from metrics.json only when it matches the manifest's sha256."""
    import json

    from s2f_desktop.report.modelcards import trait_performance
    from s2f_desktop.system.env import models_dir

    src = models_dir() / "traits-v1"
    dst = tmp_path / "traits-v1"
    dst.mkdir()
    for name in ("manifest.json", "metrics.json"):
        (dst / name).write_bytes((src / name).read_bytes())
    full = json.loads((dst / "metrics.json").read_text(encoding="utf-8"))
    under20 = full["metrics"]["age_clean"]["coverage_80_by_bin"]["<20"]
    good = trait_performance("traits-v1", tmp_path)
    assert f"under 20 {under20['value']:.2f} [{under20['n']} clips]" in good.age
    assert "where the model states a sex, abstaining" in good.sex.split("telephone")[1]
    under20["value"] = 0.987
    (dst / "metrics.json").write_text(json.dumps(full), encoding="utf-8")
    perf = trait_performance("traits-v1", tmp_path)
    assert "under 20" not in perf.age
    man = json.loads((dst / "manifest.json").read_text(encoding="utf-8"))["metrics"]
    assert f"accuracy {man['sex_accuracy_telephone']['value']:.3f}" in perf.sex  # the manifest's all-clip figure
    assert "of the more probable sex on every clip, decided or not" in perf.sex
    # The manifest's own figures still print.
    assert f"20\u201339 {man['age_coverage_80_20-39_clean']['value']:.2f}" in perf.age


def test_audit_entries_are_printed_as_stored(sample, tmp_path):
    ctx, sc = sample
    events, chain = audit_trail(ctx, sc.number)
    res = report_of(ctx, sc, sc.male_run, tmp_path / "a.pdf", record=False)
    text, compact = words(res.path), flat(pdf_text(res.path))
    assert chain.ok and f"Hash chain intact: {len(events)} events verified." in text
    for e in events:
        assert e.hash[:12] in compact, e
        assert f"{e.at:%Y-%m-%d %H:%M:%S}" in text, e
    for action in ("case.create", "evidence.import", "segment.add", "analysis.run", "composite.create",
                   "composite.adjust"):
        assert action in text
        assert text.count(action) >= sum(1 for e in events if e.action == action)
    assert f"Chain head (hash of the last event) {events[-1].hash}" in text


def test_report_structure_marking_and_composites(sample, tmp_path):
    ctx, sc = sample
    res = report_of(ctx, sc, sc.male_run, tmp_path / "r.pdf")
    text = words(res.path)
    positions = [text.index(h) for h in ("1. Evidence", "2. Material analysed", "3. Findings", "4. Composites",
                                         "5. Method and limitations", "6. Audit trail", "7. Reproducibility")]
    assert positions == sorted(positions)
    for s in ("2026-0042", "Threatening call to a bank branch", "A. Analyst", "Example Police",
              "2026-03-14 09:30:00 UTC", res.report_id, "Investigative lead \u2014 not an identification"):
        assert s in text, s
    for c in sc.composites:
        assert c.label.split(":")[0] in text
        assert "front \u2014 OK" in text
    assert "Analyst edits relative to" in text
    reader = PdfReader(str(res.path))
    assert res.pages == len(reader.pages) >= 5
    for i, page in enumerate(reader.pages, start=1):
        t = " ".join(page.extract_text().split())
        assert f"Page {i} of {res.pages}" in t and res.report_id in t and "INVESTIGATIVE LEAD" in t
    meta = reader.metadata
    assert meta is not None and meta.author == "A. Analyst" and "not an identification" in (meta.subject or "")


def test_report_sha_is_recorded_in_audit_trail(sample, tmp_path):
    ctx, sc = sample
    res = report_of(ctx, sc, sc.male_run, tmp_path / "r.pdf")
    events, chain = audit_trail(ctx, sc.number)
    assert chain.ok
    last = events[-1]
    assert last.action == "report.export"
    assert last.details["sha256"] == hashlib.sha256(res.path.read_bytes()).hexdigest() == res.sha256
    assert last.details["report_id"] == res.report_id and last.details["pages"] == res.pages


def test_same_stored_state_gives_byte_identical_report(sample, tmp_path):
    ctx, sc = sample
    a = report_of(ctx, sc, sc.male_run, tmp_path / "a.pdf", record=False)
    b = report_of(ctx, sc, sc.male_run, tmp_path / "b.pdf", record=False)
    assert a.report_id == b.report_id and a.sha256 == b.sha256
    later = build_report(ctx, sc.number, out=tmp_path / "c.pdf", run_id=sc.male_run.id,
                         generated_at=datetime(2026, 4, 1, 8, 0), record=False)
    assert later.report_id == a.report_id  # the id depends on content, not on the date
    diff = [(x, y) for x, y in zip(pdf_text(a.path).splitlines(), pdf_text(later.path).splitlines()) if x != y]
    assert diff and all("2026-03-14 09:30:00 UTC" in x and "2026-04-01 08:00:00 UTC" in y for x, y in diff)


def test_segments_changed_or_deleted_after_the_run_are_shown(sample, tmp_path):
    from s2f_desktop.services import segments as seg_svc

    ctx, sc = sample
    run = sc.male_run
    before = report_of(ctx, sc, run, tmp_path / "before.pdf", record=False)
    first, second = run.results.selection
    label_then = seg_svc.get_segment(ctx, first.segment_id).label or "\u2014"
    seg_svc.update_segment(ctx, first.segment_id, end_sample=first.end_sample - 2205, label="suspect confession")
    seg_svc.delete_segment(ctx, second.segment_id)
    res = report_of(ctx, sc, run, tmp_path / "after.pdf", record=False)
    text = words(res.path)
    # A label given after the run is named as such (a red-team pass saw it printed as what was analysed).
    assert f"{label_then} (relabelled after the run: now suspect confession)" in text
    assert "DELETED after the run" in text
    assert "CHANGED after the run: now" in text
    assert f"The material analysed in run #{run.id} has changed since the run" in text
    # The findings are still those stored with the run, over the ranges as analysed.
    assert all(f in text for f in expected_figures(run))
    assert res.report_id != before.report_id


def test_a_recorded_review_or_export_gives_the_next_report_a_new_id(sample, tmp_path):
    """Content the id's stored rows do not hold (a review record, earlier exports in the audit section)
    is in the audit chain, whose head the id covers: two reports that differ never share an id."""
    from s2f_desktop.services import cases

    ctx, sc = sample
    a = report_of(ctx, sc, sc.male_run, tmp_path / "a.pdf", record=False)
    cases.record_review(ctx, sc.number, "R. Second", "peer reviewer", "not agreed")
    b = report_of(ctx, sc, sc.male_run, tmp_path / "b.pdf", record=True)
    assert b.report_id != a.report_id and "not agreed" in words(b.path)
    c = report_of(ctx, sc, sc.male_run, tmp_path / "c.pdf", record=False)
    assert c.report_id != b.report_id and b.report_id in flat(pdf_text(c.path))  # b's export, audited


def test_abstention_and_telephone_runs(sample, tmp_path):
    ctx, sc = sample
    abstained = sc.runs[-1]
    text = words(report_of(ctx, sc, abstained, tmp_path / "abs.pdf", record=False).path)
    assert "Sex \u2014 ABSTAINED" in text and "Age \u2014 ABSTAINED" in text
    assert abstained.results.pooled.traits.sex.reason in text
    assert "indication of a male speaker" not in text
    phone = next(r for r in sc.runs if r.results.pooled.quality.telephone_band)
    text = words(report_of(ctx, sc, phone, tmp_path / "tel.pdf", record=False).path)
    assert "Telephone band yes" in text and "unreliable here" in text


def test_tampered_evidence_shows_altered(sample, tmp_path):
    from s2f_desktop.services.evidence import vault_path

    ctx, sc = sample
    p = vault_path(ctx, sc.dialogue)
    os.chmod(p, stat.S_IRUSR | stat.S_IWUSR)
    data = bytearray(p.read_bytes())
    data[-10] ^= 0xFF
    p.write_bytes(bytes(data))
    res = report_of(ctx, sc, sc.male_run, tmp_path / "t.pdf")
    text = words(res.path)
    assert "ALTERED" in text and "Evidence verification FAILED at report time" in text
    assert hashlib.sha256(bytes(data)).hexdigest() in flat(text)
    events, _ = audit_trail(ctx, sc.number)
    assert events[-1].details["evidence"][str(sc.dialogue.id)] == "ALTERED"


def test_tampered_composite_image_is_not_shown(sample, tmp_path):
    ctx, sc = sample
    comp = sc.composites[0]
    (ctx.store.layout.composites / comp.images["front"]).write_bytes(b"not the rendered image")
    text = words(report_of(ctx, sc, sc.male_run, tmp_path / "i.pdf").path)
    assert "image ALTERED: not shown" in text and "front \u2014 ALTERED" in text


@pytest.mark.skipif(shutil.which("pdftoppm") is None, reason="poppler-utils (pdftoppm) is not installed")
def test_rendered_pages_are_not_blank(sample, tmp_path):
    from PIL import Image

    ctx, sc = sample
    res = build_report(ctx, sc.number, out=tmp_path / "case.pdf", generated_at=FIXED_DATE, record=False)
    prefix = tmp_path / "page"
    subprocess.run(["pdftoppm", "-r", "40", "-gray", "-png", str(res.path), str(prefix)], check=True)
    pngs = sorted(tmp_path.glob("page-*.png"))
    assert len(pngs) == res.pages
    for png in pngs:
        img = Image.open(png).convert("L")
        w, h = img.size
        body = img.crop((0, int(h * 0.12), w, int(h * 0.86)))  # header and footer would hide a blank body
        dark = sum(1 for v in body.tobytes() if v < 160)
        assert dark > 0.002 * body.size[0] * body.size[1], f"{png.name} looks blank ({dark} dark pixels)"


def test_case_without_analysis(ctx, case, tmp_path):
    res = build_report(ctx, case.number, out=tmp_path / "empty.pdf", generated_at=FIXED_DATE)
    text = words(res.path)
    assert "No analysis run is stored for this case" in text
    assert "No evidence has been imported." in text
    assert "7. Reproducibility" in text


def test_run_selection_default_path_errors_and_cli(sample, tmp_path, capsys):
    from s2f_desktop.cli.main import main

    ctx, sc = sample
    with pytest.raises(NotFoundError):
        build_report(ctx, sc.number, run_id=999)
    with pytest.raises(NotFoundError):
        build_report(ctx, "NO-SUCH-CASE")
    a = build_report(ctx, sc.number, run_id=sc.male_run.id, generated_at=FIXED_DATE)
    b = build_report(ctx, sc.number, run_id=sc.male_run.id, generated_at=FIXED_DATE)
    assert a.path.parent == ctx.store.layout.reports and a.path.name == f"2026-0042-{a.report_id}.pdf"
    assert b.path != a.path and a.path.exists()  # an earlier report is never overwritten
    assert f"run #{sc.male_run.id}" in words(a.path)
    out = tmp_path / "cli.pdf"
    assert main(["--data-dir", str(ctx.data_dir), "report", sc.number, "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert str(out) in printed and hashlib.sha256(out.read_bytes()).hexdigest() in printed
    assert main(["--data-dir", str(ctx.data_dir), "report", sc.number, "--run", "999"]) == 2
    assert "no analysis run #999" in capsys.readouterr().err


def test_report_pdf_prints_the_marked_composite_images(sample, tmp_path):
    """Every composite image in the PDF is the stored, marked image (pixels extracted with pypdf)."""
    import io

    import numpy as np
    from PIL import Image

    from s2f_desktop.report.marking import verify_marking
    from s2f_desktop.services import composites as svc

    ctx, sc = sample
    pdf = report_of(ctx, sc, sc.male_run, tmp_path / "r.pdf", record=False).path
    extracted = [np.asarray(im.image.convert("RGB")) for page in PdfReader(pdf).pages for im in page.images]
    comps = svc.list_composites(ctx, sc.male_run.id)
    assert comps
    for c in comps:
        for view in c.images:
            stored = svc.composite_image_path(ctx, c, view).read_bytes()
            assert verify_marking(stored, svc.mark_info(sc.number, c, view)) == []
            ref = np.asarray(Image.open(io.BytesIO(stored)).convert("RGB"))
            assert any(e.shape == ref.shape and np.array_equal(e, ref) for e in extracted), (c.id, view)


def test_case_report_carries_the_speaker_comparison_as_stored(sample, tmp_path):
    """A stored comparison (the female turn against the male turns) is reported with its propositions, the LR
    and its words exactly as stored, and the validation of the system that computed it."""
    from s2f_desktop.report.comparison import lr_text
    from s2f_desktop.services import comparison

    ctx, sc = sample
    female, male = sc.runs[0], sc.runs[1]
    run = comparison.compare_segments(ctx, sc.number, list(female.segment_ids), list(male.segment_ids),
                                      device="cpu")
    res = build_report(ctx, sc.number, out=tmp_path / "cmp.pdf", generated_at=FIXED_DATE, record=False)
    text = words(res.path)
    r = run.results
    assert f"Speaker comparison (comparison run #{run.id})" in text
    assert f"Hp: {r.hp}." in text and f"Hd: {r.hd}." in text
    assert lr_text(r.log10_lr) in text
    assert r.verbal in text
    assert "Cllr" in text and "Tippett plot" in text
    # Every file the LR was computed with is named with its hash (validation.npz draws the Tippett plot), and
    # the reproducibility block gives each side's exact sample ranges and the comparison's parameters.
    packed = flat(pdf_text(res.path))
    for m in run.models:
        assert m["sha256"] in packed, m
    assert "validation.npz" in text and f"Comparison #{run.id} questioned side" in text
    for g in r.segments:
        assert f"samples {g.start_sample}\u2013{g.end_sample}" in text
    assert f"Comparison #{run.id} parameters" in text and '"top_k"' in text
    assert f"comparison #{run.id} of" in text  # named on the cover beside the analysis runs


def test_a_case_of_comparisons_only_does_not_say_it_has_no_finding(ctx, case, speech_wav, tmp_path):
    """A comparison case without a voice profile: no 'no finding' warning beside an LR, no promise of
    composites, the comparison's models listed in the method section."""
    from s2f_desktop.services import comparison
    from s2f_desktop.services import evidence as ev_svc
    from s2f_desktop.services import segments as seg_svc

    text_a = ("The committee met on Thursday morning to review the annual budget. After a long discussion about "
              "maintenance costs, they agreed to postpone the decision until the next quarterly meeting.")
    ids = []
    for voice, name in (("en-us+m3", "q.wav"), ("en-us+f3", "k.wav")):
        ev = ev_svc.import_file(ctx, case.number, speech_wav(text_a, voice=voice, name=name)).evidence
        ids.append(seg_svc.add_segment(ctx, case.number, ev.id, 0, ev.media.frames).id)
    run = comparison.compare_segments(ctx, case.number, [ids[0]], [ids[1]], device="cpu")
    res = build_report(ctx, case.number, out=tmp_path / "only.pdf", generated_at=FIXED_DATE, record=False)
    text = words(res.path)
    assert "No analysis run is stored for this case: the report lists evidence" not in text
    assert "there is no finding on the speaker's characteristics" in text
    assert "speaker comparison(s) are reported" in text
    assert "composite faces" not in text.split("Case number")[0]  # the subtitle promises none
    assert "Speaker comparison with likelihood ratios" in text
    assert "No models are recorded" not in text and "comparison-v1" in text
    assert "passed through the trait models" not in text  # no analysis: the method says what was done
    assert f"comparison #{run.id} of" in text and "it does not decide whether the speakers are the same" in text


def test_age_answer_is_printed_with_p40_and_the_median_baseline(sample, tmp_path):
    """No age band is validated: the report prints the interval, P(40 or over) and the always-the-median
    baseline, each as stored with the run's estimate."""
    ctx, sc = sample
    run = sc.male_run
    extra = run.results.pooled.traits.extra
    base = extra["age_baseline"]
    text = words(report_of(ctx, sc, run, tmp_path / "age.pdf", record=False).path)
    assert f"probability of 40 years or over {float(extra['age_p_40_plus']):.2f}" in text
    assert f"always answering the training median: {float(base['median_years']):.0f} years" in text
    lo, hi = base["interval_80_years"]
    assert f"(80 % interval {lo:.0f}\u2013{hi:.0f} years), probability of 40 or over {float(base['p_40_plus']):.2f}" \
        in text


def test_names_in_scripts_the_fonts_lack_are_named_not_dropped(ctx, tmp_path):
    """A title with CJK (no embedded font has it) and Arabic (drawn unshaped and left to right by the PDF
    library): both are printed as code points, so the name is exact rather than boxes or misspelt."""
    from s2f_desktop.services import cases

    cases.create_case(ctx, "N-1", "Call from \u0633\u0627\u0631\u0629 and \u738b\u5c0f\u660e", analyst="A. Analyst")
    res = build_report(ctx, "N-1", out=tmp_path / "n.pdf", generated_at=FIXED_DATE, record=False)
    text = words(res.path)
    assert "[U+738B][U+5C0F][U+660E]" in text
    assert "[U+0633][U+0627][U+0631][U+0629]" in text


def test_appendix_quotes_the_metrics_section_with_all_its_subsections() -> None:
    from pathlib import Path

    from s2f_desktop.report.modelcards import card_sections_markdown, load_model_card, with_subsections

    md = "# Card\n\n## Data\n\nd\n\n## Metrics\n\nm\n\n### Per sex\n\n| a | b |\n\n#### Detail\n\nx\n\n" \
         "## Limits\n\nl\n\n### Other\n\no\n"
    got = with_subsections(card_sections_markdown(md), {"data", "metrics"})
    assert [h for h, _ in got] == ["Data", "Metrics", "Per sex", "Detail"]  # not Limits, not its subsection
    root = Path(__file__).resolve().parents[1] / "models"
    info = load_model_card("traits-v1", "heads.npz", "", root)
    quoted = [h for h, _ in info.sections_md]
    for sub in ("Women and men (equal treatment)", "Noise, short speech and clipping (evaluation only)"):
        assert sub in quoted, sub
    assert "Limits" not in quoted


def test_a_named_run_is_reported_under_its_name_with_its_notes(ctx, case, speech_wav, tmp_path):
    """The name and notes the analyst gave a run (the Analysis page shows them) are in the report too."""
    from s2f_desktop.report.model import RUN_ANNOTATE_ACTION
    from s2f_desktop.services import analysis, runs
    from s2f_desktop.services import evidence as ev_svc
    from s2f_desktop.services import segments as seg_svc

    assert RUN_ANNOTATE_ACTION == runs.ACTION
    text_a = ("The committee met on Thursday morning to review the annual budget. After a long discussion about "
              "maintenance costs, they agreed to postpone the decision until the next quarterly meeting.")
    ev = ev_svc.import_file(ctx, case.number, speech_wav(text_a, voice="en-us+m3", name="call.wav")).evidence
    seg = seg_svc.add_segment(ctx, case.number, ev.id, 0, ev.media.frames)
    run = analysis.analyze_selection(ctx, case.number, [seg.id], device="cpu")
    runs.annotate_run(ctx, case.number, run.id, "First draft", "superseded")
    runs.annotate_run(ctx, case.number, run.id, "Caller \u2014 call.wav", "the caller's turns only")
    text = words(build_report(ctx, case.number, out=tmp_path / "named.pdf", generated_at=FIXED_DATE,
                              record=False).path)
    assert f"Run #{run.id} \u201cCaller \u2014 call.wav\u201d:" in text  # the findings heading
    assert f"run #{run.id} \u201cCaller \u2014 call.wav\u201d of" in text  # the cover
    assert "Notes on this run (by tester): the caller's turns only" in text
    assert "First draft" not in text.split("6. Audit trail")[0]  # the annotation in force, not an earlier one
    # A name is stored text: in the heading as everywhere, a control character is shown, not obeyed, and a
    # character no font has is named by code point.
    runs.annotate_run(ctx, case.number, run.id, "Caller \u202e\u738b")
    raw = pdf_text(build_report(ctx, case.number, out=tmp_path / "named2.pdf", generated_at=FIXED_DATE,
                                record=False).path)
    assert "\u202e" not in raw and f"Run #{run.id} \u201cCaller \\u202e[U+738B]\u201d:" in " ".join(raw.split())
