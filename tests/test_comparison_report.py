"""The report's speaker-comparison section prints what is stored (run and declared validation files)."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import pytest

from s2f_desktop.core.comparison_results import BySide, ComparisonModelRef, ComparisonResults
from s2f_desktop.core.results import Quality, QualityVerdict
from s2f_desktop.report.comparison import build_comparison_section, lr_text, render_comparison_pdf
from s2f_desktop.store.comparisons import ComparisonRun
from s2f_desktop.system.env import models_dir
from s2f_desktop.voice import lr as lrm


def _run(log10_lr: float | None, reason: str | None = None) -> ComparisonRun:
    sha = json.loads((models_dir() / "comparison-v1" / "manifest.json").read_text())["files"]["calibration.json"]
    q = Quality(QualityVerdict.OK, (), 6.4, 30.0, 0.0, 8000.0, False, -20.0, 7.0, "pauses", {})
    res = ComparisonResults(
        score=0.5, snorm=None, log10_lr=log10_lr, lr=None if log10_lr is None else 10 ** log10_lr,
        verbal=lrm.verbal(log10_lr), label=lrm.label(log10_lr), abstain_reason=reason, speech_s=BySide(6.4, 21.0),
        at_bound=False, hp=lrm.HP, hd=lrm.HD, scale=lrm.SCALE_NAME, channel="telephone band (both sides)",
        quality=BySide(q, q), segments_used=BySide(("q" * 32,), ("k" * 32,)), validation_position=None, segments=(),
        evidence=(), model=ComparisonModelRef("comparison-v1", sha))
    return ComparisonRun(5, 1, ("q" * 32,), ("k" * 32,), (), "0.1", "cpu (test)", {}, res, {},
                         datetime(2026, 12, 1, 1, 0), "analyst A")


def test_section_prints_stored_lr_words_and_validation(tmp_path: Path) -> None:
    from pypdf import PdfReader

    sec = build_comparison_section(_run(-1.42), {"q" * 32: "segment 3"})
    assert sec.questioned == "segment 3" and sec.lr_text.startswith("LR = 0.038")
    metrics = json.loads((models_dir() / "comparison-v1" / "metrics.json").read_text())
    text = " ".join(p.extract_text() for p in PdfReader(str(render_comparison_pdf(sec, tmp_path / "c.pdf"))).pages)
    text = " ".join(text.split())
    assert "Hp: the questioned and the known speech were spoken by the same speaker" in text
    assert "log10 LR -1.42" in text and "moderate support for Hd" in text and "ENFSI" in text
    a = metrics["metrics"]["all"]["cllr"]
    assert f"{a['value']:.3f} ({a['ci95'][0]:.3f}" in text
    assert "this case -1.42" in text and "not an identification" in text and "Limits" in text
    # Named for what it is: cross-validation on held-out speakers of its training sources, the encoder's own
    # training data stated as a limit.
    assert "Validation (cross-validated on held-out speakers of the training sources; 95 % intervals)" in text
    assert "cross-validated on held-out speakers of its training sources only" in text
    assert "LibriSpeech and VoxCeleb" in text and "Validated populations" not in text
    # The across-sources figures are the stored ones (metrics.json's cross_source, all trials), both directions.
    assert sec.cross_source.startswith("Across sources, with the cohort, calibration and bounds fitted on")
    for key, fit, test in (("avspeech_to_librispeech", "avspeech-968", "LibriSpeech"),
                           ("librispeech_to_avspeech", "LibriSpeech", "avspeech-968")):
        m = metrics["cross_source"][key]["metrics"]["all"]
        c, e = m["cllr"], m["eer"]
        printed = (f"fitted on {fit} alone and tested on {test}, Cllr {c['value']:.3f} ({c['ci95'][0]:.3f}\u2013"
                   f"{c['ci95'][1]:.3f}) and EER {100 * e['value']:.1f} % ({100 * e['ci95'][0]:.1f} %\u2013"
                   f"{100 * e['ci95'][1]:.1f} %)")
        assert printed in sec.cross_source and printed in text, key
    assert "no third source was tested" in text


def test_cross_source_sentence_is_absent_without_stored_figures() -> None:
    from s2f_desktop.report.comparison import cross_source_text

    assert cross_source_text({"metrics": {}}) == "" and cross_source_text({"cross_source": {}}) == ""


def test_abstention_is_printed_with_its_reason(tmp_path: Path) -> None:
    sec = build_comparison_section(_run(None, "too little net speech on the questioned side"))
    assert sec.lr_text.startswith("no likelihood ratio") and sec.abstain_reason
    assert render_comparison_pdf(sec, tmp_path / "a.pdf").stat().st_size > 1000


def test_altered_validation_file_is_refused(tmp_path: Path) -> None:
    import shutil

    from s2f_desktop.core.errors import ModelIntegrityError

    root = tmp_path / "models"
    shutil.copytree(models_dir() / "comparison-v1", root / "comparison-v1")
    with open(root / "comparison-v1" / "metrics.json", "a", encoding="utf-8") as fh:
        fh.write(" ")
    with pytest.raises(ModelIntegrityError):
        build_comparison_section(_run(1.0), root=root)
    assert lr_text(2.0).startswith("LR = 100")


def test_channel_names_the_side_that_was_telephone_band() -> None:
    """"telephone band (both sides)" is stored when either side is: a wideband side was filtered to match, which
    the words say instead of calling a 16 kHz exhibit telephone band."""
    from s2f_desktop.report.comparison import channel_text

    tb = "telephone band (both sides)"
    assert channel_text(tb, BySide(True, False)) == ("telephone band: the questioned side is telephone band; the known "
                                                     "side (wideband) was band-limited to 300\u20133400 Hz to match")
    assert "the known side is telephone band; the questioned side (wideband)" in channel_text(tb, BySide(False, True))
    assert channel_text(tb, BySide(True, True)).startswith("telephone band: both sides are telephone band")
    assert "at least one side" in channel_text(tb, None)
    assert "at least one side" in channel_text(tb, BySide(False, False))
    assert channel_text("wideband", BySide(False, False)) == "wideband (neither side is telephone band)"


def test_sides_are_named_from_the_ranges_stored_with_the_comparison() -> None:
    """Recording and times from the stored sample ranges, in recording and time order: a segment edited after
    the comparison does not change what the result says it compared (the GUI and the report use this)."""
    from dataclasses import replace

    from s2f_desktop.core.comparison_results import ComparedEvidence, ComparedSegment
    from s2f_desktop.report.comparison import side_text

    run = _run(-1.0)
    res = replace(run.results, segments=(ComparedSegment("b" * 32, 2, 160000, 176000, "known"),
                                         ComparedSegment("a" * 32, 2, 16000, 48000, "known"),
                                         ComparedSegment("q" * 32, 1, 8000, 16000, "questioned")),
                  evidence=(ComparedEvidence(1, "0" * 64, "call.wav"), ComparedEvidence(2, "1" * 64, "suspect.wav")))
    assert side_text(res, "known", {2: 16000}) == ("suspect.wav 0:01.000\u20130:03.000; "
                                                   "suspect.wav 0:10.000\u20130:11.000")
    assert side_text(res, "questioned", {}) == "call.wav samples 8000\u201316000"  # no rate known: samples
    assert side_text(run.results, "known", {2: 16000}) == ""  # a run that stored no ranges: the caller's fallback
    sec = build_comparison_section(replace(run, results=res), {}, rates={1: 8000, 2: 16000})
    assert sec.questioned == "call.wav 0:01.000\u20130:02.000" and sec.known.startswith("suspect.wav 0:01.000")
