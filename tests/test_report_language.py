"""Plain-language scale for sex probabilities and the defensive report model."""

from __future__ import annotations

import pytest

from s2f_desktop.report import language
from s2f_desktop.report.model import NA, age_finding, measures, sex_finding


@pytest.mark.parametrize(
    ("p_male", "favoured", "strength"),
    [
        (0.5, "", "no meaningful support"),
        (0.6, "", "no meaningful support"),
        (0.4, "", "no meaningful support"),
        (0.7, "male", "weak support"),
        (0.2, "female", "weak support"),
        (0.95, "male", "moderate support"),
        (0.995, "male", "moderately strong support"),
        (0.0005, "female", "strong support"),
        (0.99999, "male", "very strong support"),
        (1.0, "male", "very strong support"),
    ],
)
def test_verbal_scale(p_male: float, favoured: str, strength: str) -> None:
    s = language.express_sex(p_male)
    assert s.favoured == favoured
    assert s.strength == strength
    # the number is always in the sentence
    shown = p_male if p_male >= 0.5 or not favoured else 1 - p_male
    assert language.fmt_probability(shown) in s.sentence


def test_scale_boundaries_follow_likelihood_ratio_bands() -> None:
    # LR = 10 exactly is the start of "moderate" (ENFSI band 10-100) under equal priors
    assert language.sex_strength(10 / 11) == "moderate support"
    assert language.sex_strength(10 / 11 - 1e-9) == "weak support"
    assert language.sex_strength(2 / 3) == "weak support"
    assert language.likelihood_ratio(0.75) == pytest.approx(3.0)


def test_sentences_never_state_identity() -> None:
    for p in (0.0, 0.3, 0.5, 0.8, 0.999, 1.0):
        s = language.express_sex(p).sentence.lower()
        assert "is male" not in s and "is female" not in s and "identif" not in s


def test_sex_finding_defensive() -> None:
    assert not sex_finding({}).available
    assert sex_finding({}).p_male == NA
    f = sex_finding({"p_male": 0.55, "label": "inconclusive", "reason": "uncertain band"})
    assert f.abstained and "ABSTAINED" in f.statement and f.reason == "uncertain band"
    assert sex_finding({"p_male": "garbage"}).p_male == NA


def test_age_finding_defensive() -> None:
    a = age_finding({"median_years": 41.2, "interval_80": [30, 58], "label": "40-59"})
    assert a.median == "41 years" and a.interval == "30\u201358 years" and not a.abstained
    assert age_finding({"median_years": 41.2}).interval == NA
    assert age_finding({"label": "inconclusive"}).abstained
    assert not age_finding({"interval_80": "bad"}).available


def test_measures_units() -> None:
    rows = {m.name: m for m in measures({"f0_median": {"value": 120.0, "unit": "Hz"}, "snr_db": 20.5,
                                         "f4": {"value": None, "unit": "Hz", "reliable": False},
                                         "clipping_fraction": 0.0012, "telephone_band": True, "notes": ["x"]})}
    assert rows["F0 median"].unit == "Hz" and rows["F0 median"].value == "120.00"
    assert rows["Signal-to-noise ratio"].unit == "dB"
    assert rows["F4 (formant 4)"].value == "not measurable" and "unreliable" in rows["F4 (formant 4)"].note
    assert rows["Clipped samples"].value == "0.0012"
    assert rows["Telephone band"].value == "yes"


def test_consistency_forms() -> None:
    from s2f_desktop.report.model import consistency_of

    text, details = consistency_of({"consistency": {
        "segment_ids": ["a" * 32, "b" * 32], "similarity": [[1, 0.4], [0.4, 1]],
        "median_similarity": {"a" * 32: 0.41, "b" * 32: 0.41}, "flagged": ["b" * 32], "threshold": 0.72,
        "threshold_source": "speaker-consistency-v1", "note": "flagged segments disagree with the rest"}},
        {}, {"a" * 32: "segment #1", "b" * 32: "segment #2"})
    assert "NOT consistent: segment #2 may be a different speaker" in text
    assert "Flagged segments disagree with the rest." in text
    names = {m.name: m for m in details}
    assert names["Median similarity, segment #2"].note == "flagged"
    assert names["Threshold"].value == "0.72"
    ok_text, _ = consistency_of({"consistency": {"flagged": [], "threshold": 0.7}}, {})
    assert "consistent (no segment differs" in ok_text
    none_text, _ = consistency_of({}, {})
    assert "not assessed" in none_text


def test_model_card_markdown_becomes_tables_and_lists() -> None:
    from reportlab.platypus import Paragraph, Table

    from s2f_desktop.report.fonts import register_fonts
    from s2f_desktop.report.pdf import _styles, md_flowables

    register_fonts()
    md = "Intro **bold** text\nwrapped.\n\n| metric | value |\n|---|---|\n| sex accuracy | 94 % |\n\n* first\n  continued\n* second"
    out = md_flowables(md, _styles())
    kinds = [type(f).__name__ for f in out]
    assert kinds[0] == "Paragraph" and "<b>bold</b>" in out[0].text and "wrapped." in out[0].text
    tables = [f for f in out if isinstance(f, Table)]
    assert len(tables) == 1 and len(tables[0]._cellvalues) == 2  # header + one row, separator dropped
    bullets = [f.text for f in out if isinstance(f, Paragraph) and f.text.startswith("\u2022")]
    assert bullets == ["\u2022 first continued", "\u2022 second"]
