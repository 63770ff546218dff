"""PDF report: content, structure, determinism, abstentions, tampering, CLI.

Fixture cases are written straight into the store by
:func:`benchmarks.bench_report.build_fixture_case` (no neural models needed).
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import stat
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import pytest
from pypdf import PdfReader

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:  # benchmarks/ is a top-level package beside tests/
    sys.path.insert(0, str(REPO))

from benchmarks.bench_report import FIXED_DATE, build_fixture_case  # noqa: E402
from s2f_desktop.core.errors import NotFoundError  # noqa: E402
from s2f_desktop.services.evidence import audit_trail  # noqa: E402
from s2f_desktop.services.reports import build_report  # noqa: E402


def pdf_text(path: Path) -> str:
    """All text of a PDF, pages joined."""
    return "\n".join(page.extract_text() or "" for page in PdfReader(str(path)).pages)


def words(path: Path) -> str:
    """All text of a PDF with whitespace runs collapsed (table cells wrap lines anywhere)."""
    return " ".join(pdf_text(path).split())


def flat(text: str) -> str:
    """Text with all whitespace removed (hashes are printed over two lines)."""
    return re.sub(r"\s+", "", text)


@pytest.fixture
def fixture_case(ctx, tmp_path, monkeypatch):  # type: ignore[no-untyped-def]
    # The fixture's run names a made-up traits-v1 sha256: isolate it from the models shipped in the repo.
    monkeypatch.setenv("S2F_MODELS_DIR", str(tmp_path / "no-models"))
    return build_fixture_case(ctx, tmp_path)


@pytest.fixture
def report(ctx, fixture_case, tmp_path):  # type: ignore[no-untyped-def]
    return build_report(ctx, fixture_case.number, out=tmp_path / "out" / "report.pdf", generated_at=FIXED_DATE)


def test_report_has_every_section_and_key_figure(ctx, fixture_case, report):  # type: ignore[no-untyped-def]
    text = words(report.path)
    # 1. cover
    for s in ("2026-0042", "Threatening call to a bank branch", "A. Analyst", "Example Police",
              "2026-03-14 09:30:00 UTC", report.report_id, "s2f-desktop 0.1.0",
              "Investigative lead \u2014 not an identification", "INVESTIGATIVE LEAD \u2014 NOT AN IDENTIFICATION"):
        assert s in text, s
    # section headings, in order
    positions = [text.index(h) for h in ("1. Evidence", "2. Material analysed", "3. Findings", "4. Composites",
                                         "5. Method and limitations", "6. Audit trail", "7. Reproducibility")]
    assert positions == sorted(positions)
    # 2. evidence with hash, duration, format and status
    ev_sha = hashlib.sha256(fixture_case.evidence_path.read_bytes()).hexdigest()
    assert ev_sha in flat(text)
    assert "call-2026-0042.wav" in text and "6.00 s" in text and "16000 Hz" in text
    assert re.search(r"16000 Hz,\s+mono\s+OK\s", text)  # the status cell follows the format cell
    # 3. material analysed
    for s in ("0:00.200", "0:02.450", "0:03.100", "0:05.600", "2.25 s", "2.50 s", "Net speech", "4.32 s",
              "Quality verdict", "mild background noise", "Speaker consistency: consistent", "0.83"):
        assert s in text, s
    # 4. findings: probability with words, age median and interval, acoustic measures with units
    assert "moderate support for a male speaker" in text
    assert "0.962" in text and "25.3" in text
    assert "38 years" in text and "27\u201352 years" in text and "20-39" in text
    for s in ("F0 median", "118.40", "Hz", "Apparent vocal-tract length", "18.24", "cm", "Jitter (local)", "dB"):
        assert s in text, s
    # 5. composites: labels, origins, analyst edits
    for s in ("Primary composite: Most probable: male, about 38 years", "Younger end of the interval: 27 years",
              "Older end of the interval: 52 years", "Analyst edit: Most probable, analyst-adjusted build",
              "Analyst edits relative to #1", "voice", "default",
              "analyst", "witness described a heavy build", "never inferred from voice", "front \u2014 OK"):
        assert s in text, s
    order = [text.index(t) for t in ("Primary composite: Most probable", "Analyst edit: Most probable",
                                     "Variant: Younger end", "Variant: Older end")]
    assert order == sorted(order)  # an analyst edit follows the composite it was derived from
    # 6. method and limitations
    for s in ("traits-v1", "3" * 32, "No manifest is installed for model traits-v1", "ENFSI", "Training population",
              "weakly identifiable", "No identity", "No ancestry", "Telephone-band", "Short speech", "Speech2Face",
              "about 94 % for sex", "about 30 % for the exact age decade"):
        assert s in text, s
    # 7. audit trail and reproducibility
    for s in ("Hash chain intact", "case.create", "evidence.import", "analysis.run", "composite.render", "Seed",
              "1234", "Device", "cpu", "ReportLab", "Audit chain head", "min_net_speech_s"):
        assert s in text, s
    # 8. header/footer on every page
    reader = PdfReader(str(report.path))
    assert report.pages == len(reader.pages) >= 5
    for i, page in enumerate(reader.pages, start=1):
        t = " ".join(page.extract_text().split())
        assert f"Page {i} of {report.pages}" in t
        assert "Case 2026-0042" in t and report.report_id in t
        assert "INVESTIGATIVE LEAD" in t


def test_outline_metadata_and_embedded_fonts(report):  # type: ignore[no-untyped-def]
    reader = PdfReader(str(report.path))
    titles = []

    def walk(items):  # type: ignore[no-untyped-def]
        for it in items:
            if isinstance(it, list):
                walk(it)
            else:
                titles.append(it.title)

    walk(reader.outline)
    for t in ("1. Evidence", "2. Material analysed", "3. Findings", "4. Composites", "5. Method and limitations",
              "6. Audit trail", "7. Reproducibility", "Acoustic measures", "Limitations"):
        assert t in titles, t
    # Outline destinations point at the right pages.
    findings = next(it for it in reader.outline if not isinstance(it, list) and it.title == "3. Findings")
    assert "3. Findings" in reader.pages[reader.get_destination_page_number(findings)].extract_text()
    meta = reader.metadata
    assert meta.title == "Forensic voice profile report \u2014 case 2026-0042"
    assert meta.author == "A. Analyst"
    assert "not an identification" in meta.subject
    assert meta.creator == "s2f-desktop 0.1.0"
    assert str(meta.creation_date.date()) == "2026-03-14"
    fonts = set()
    for page in reader.pages:
        for font in page["/Resources"]["/Font"].values():
            font = font.get_object()
            desc = font["/FontDescriptor"].get_object() if "/FontDescriptor" in font else {}
            assert "/FontFile2" in desc, f"font {font['/BaseFont']} is not embedded"
            fonts.add(str(font["/BaseFont"]).split("+")[-1])
    assert {"DejaVuSans", "DejaVuSerif", "DejaVuSansMono", "DejaVuSans-Bold"} <= fonts


def test_report_sha_is_recorded_in_audit_trail(ctx, fixture_case, report):  # type: ignore[no-untyped-def]
    events, chain = audit_trail(ctx, fixture_case.number)
    assert chain.ok
    last = events[-1]
    assert last.action == "report.export"
    assert last.details["sha256"] == hashlib.sha256(report.path.read_bytes()).hexdigest() == report.sha256
    assert last.details["report_id"] == report.report_id
    assert last.details["pages"] == report.pages
    assert last.details["evidence"] == {str(fixture_case.evidence_id): "OK"}


def test_same_stored_state_gives_same_report(ctx, fixture_case, tmp_path):  # type: ignore[no-untyped-def]
    a = build_report(ctx, fixture_case.number, out=tmp_path / "a.pdf", generated_at=FIXED_DATE, record=False)
    b = build_report(ctx, fixture_case.number, out=tmp_path / "b.pdf", generated_at=FIXED_DATE, record=False)
    assert a.report_id == b.report_id
    assert pdf_text(a.path) == pdf_text(b.path)
    assert a.sha256 == b.sha256  # invariant mode: byte-identical, not only the same text
    later = build_report(ctx, fixture_case.number, out=tmp_path / "c.pdf", generated_at=datetime(2026, 4, 1, 8, 0),
                         record=False)
    assert later.report_id == a.report_id  # the id depends on content, not on the date
    diff = [(x, y) for x, y in zip(pdf_text(a.path).splitlines(), pdf_text(later.path).splitlines()) if x != y]
    assert diff and all("2026-03-14 09:30:00 UTC" in x and "2026-04-01 08:00:00 UTC" in y for x, y in diff)


def test_report_id_changes_with_content(ctx, fixture_case, tmp_path):  # type: ignore[no-untyped-def]
    from s2f_desktop.services.cases import update_case

    a = build_report(ctx, fixture_case.number, out=tmp_path / "a.pdf", generated_at=FIXED_DATE, record=False)
    update_case(ctx, fixture_case.number, title="Threatening call, second branch")
    b = build_report(ctx, fixture_case.number, out=tmp_path / "b.pdf", generated_at=FIXED_DATE, record=False)
    assert a.report_id != b.report_id


@pytest.mark.skipif(shutil.which("pdftoppm") is None, reason="poppler-utils (pdftoppm) is not installed")
def test_rendered_pages_are_not_blank(report, tmp_path):  # type: ignore[no-untyped-def]
    from PIL import Image

    prefix = tmp_path / "page"
    subprocess.run(["pdftoppm", "-r", "40", "-gray", "-png", str(report.path), str(prefix)], check=True)
    pngs = sorted(tmp_path.glob("page-*.png"))
    assert len(pngs) == report.pages
    for png in pngs:
        img = Image.open(png).convert("L")
        w, h = img.size
        # The body region only (header and footer are on every page and would hide a blank body).
        body = img.crop((0, int(h * 0.12), w, int(h * 0.86)))
        dark = sum(1 for v in body.tobytes() if v < 160)
        assert dark > 0.002 * body.size[0] * body.size[1], f"{png.name} looks blank ({dark} dark pixels)"


def test_abstention_is_stated(ctx, tmp_path):  # type: ignore[no-untyped-def]
    fx = build_fixture_case(ctx, tmp_path, number="ABS-1", abstain=True)
    res = build_report(ctx, fx.number, out=tmp_path / "abs.pdf", generated_at=FIXED_DATE)
    text = words(res.path)
    assert "Sex \u2014 ABSTAINED" in text and "Age \u2014 ABSTAINED" in text
    assert "the model declines to state a sex" in text
    assert "net speech 1.8 s is below the 3.0 s minimum" in text
    assert "insufficient" in text
    assert "support for a male speaker" not in text


def test_tampered_evidence_shows_altered(ctx, fixture_case, tmp_path):  # type: ignore[no-untyped-def]
    from s2f_desktop.services.evidence import get_evidence, vault_path

    p = vault_path(ctx, get_evidence(ctx, fixture_case.evidence_id))
    os.chmod(p, stat.S_IRUSR | stat.S_IWUSR)
    data = bytearray(p.read_bytes())
    data[-10] ^= 0xFF
    p.write_bytes(bytes(data))
    res = build_report(ctx, fixture_case.number, out=tmp_path / "t.pdf", generated_at=FIXED_DATE)
    text = words(res.path)
    assert "ALTERED" in text
    assert "Evidence verification FAILED at report time" in text
    assert hashlib.sha256(bytes(data)).hexdigest() in flat(text)
    events, _ = audit_trail(ctx, fixture_case.number)
    assert events[-1].details["evidence"] == {str(fixture_case.evidence_id): "ALTERED"}


def test_tampered_composite_image_is_not_shown(ctx, fixture_case, tmp_path):  # type: ignore[no-untyped-def]
    from s2f_desktop.store import repositories as repo

    with ctx.store.read() as s:
        comp = repo.list_composites(s, fixture_case.run_id)[0]
    (ctx.store.layout.composites / comp.images["front"]).write_bytes(b"not the rendered image")
    res = build_report(ctx, fixture_case.number, out=tmp_path / "i.pdf", generated_at=FIXED_DATE)
    text = words(res.path)
    assert "image ALTERED: not shown" in text
    assert "front \u2014 ALTERED" in text


def test_sparse_results_and_model_cards(ctx, case, tone_wav, tmp_path, monkeypatch):  # type: ignore[no-untyped-def]
    """A run with hardly any stored results still reports, saying what is not available."""
    import json

    from s2f_desktop.services.evidence import import_file
    from s2f_desktop.store import repositories as repo

    models = tmp_path / "models" / "traits-v1"
    models.mkdir(parents=True)
    (models / "manifest.json").write_text(json.dumps({
        "id": "traits-v1", "files": {"heads.pt": "a" * 64}, "card": "MODEL_CARD.md",
        "metrics": {"sex": {"accuracy": 0.953, "ece": 0.021}, "age": {"mae_years": 8.4, "coverage_80": 0.79}}}))
    (models / "MODEL_CARD.md").write_text("# Trait heads v1\n\n## Validation data\n\nLibriSpeech speakers, "
                                          "**251** held out.\n\n## Calibration\n\nTemperature scaling on the "
                                          "validation folds.\n")
    monkeypatch.setenv("S2F_MODELS_DIR", str(tmp_path / "models"))
    ev = import_file(ctx, case.number, tone_wav()).evidence
    with ctx.store.write() as s:
        seg = repo.add_segment(s, ev.id, 0, 16000, 16000)
        repo.add_run(s, case.id, [seg.id], [{"id": "traits-v1", "file": "heads.pt", "sha256": "a" * 64}], "0.1.0",
                     "cpu", {}, 0, {}, {}, "tester")
    res = build_report(ctx, case.number, out=tmp_path / "sparse.pdf", generated_at=FIXED_DATE)
    text = words(res.path)
    assert "No sex estimate was stored for this analysis." in text
    assert "No acoustic measures were stored" in text
    assert "Speaker consistency was not assessed" in text
    assert "not available" in text
    # the model card is quoted
    assert "Trait heads v1" in text and "LibriSpeech speakers, 251 held out." in text
    assert "Temperature scaling" in text and "matches the installed manifest" in text
    assert "sex / accuracy" in text and "0.953" in text and "age / coverage_80" in text


def test_case_without_analysis(ctx, case, tmp_path):  # type: ignore[no-untyped-def]
    res = build_report(ctx, case.number, out=tmp_path / "empty.pdf", generated_at=FIXED_DATE)
    text = words(res.path)
    assert "No analysis run is stored for this case" in text
    assert "No evidence has been imported." in text
    assert "7. Reproducibility" in text


def test_run_selection_default_path_and_errors(ctx, fixture_case):  # type: ignore[no-untyped-def]
    with pytest.raises(NotFoundError):
        build_report(ctx, fixture_case.number, run_id=999)
    with pytest.raises(NotFoundError):
        build_report(ctx, "NO-SUCH-CASE")
    a = build_report(ctx, fixture_case.number, run_id=fixture_case.run_id, generated_at=FIXED_DATE)
    b = build_report(ctx, fixture_case.number, generated_at=FIXED_DATE)
    assert a.path.parent == ctx.store.layout.reports
    assert a.path.name == f"2026-0042-{a.report_id}.pdf"
    assert b.path != a.path and a.path.exists()  # an earlier report is never overwritten
    assert f"run #{fixture_case.run_id}" in words(a.path)


def test_cli_report(ctx, fixture_case, tmp_path, capsys):  # type: ignore[no-untyped-def]
    from s2f_desktop.cli.main import main

    out = tmp_path / "cli.pdf"
    rc = main(["--data-dir", str(ctx.data_dir), "report", fixture_case.number, "--out", str(out)])
    assert rc == 0
    printed = capsys.readouterr().out
    assert str(out) in printed and hashlib.sha256(out.read_bytes()).hexdigest() in printed
    assert main(["--data-dir", str(ctx.data_dir), "report", fixture_case.number, "--run", "999"]) == 2
    assert "no analysis run #999" in capsys.readouterr().err
