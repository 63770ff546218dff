"""Plain-language scale for sex probabilities and the defensive report model."""

from __future__ import annotations

from typing import Any

import pytest

from s2f_desktop.core.results import Acoustics, Consistency, Measure, Quality, QualityVerdict
from s2f_desktop.core.traits import AgeEstimate, SexEstimate
from s2f_desktop.report import language
from s2f_desktop.report.model import NA, acoustic_measures, age_finding, quality_measures, sex_finding


@pytest.mark.parametrize(
    ("p_male", "favoured", "strength"),
    [
        (0.5, "", "no meaningful indication"),
        (0.6, "", "no meaningful indication"),
        (0.4, "", "no meaningful indication"),
        (0.7, "male", "weak indication"),
        (0.2, "female", "weak indication"),
        (0.95, "male", "moderate indication"),
        (0.995, "male", "moderately strong indication"),
        (0.0005, "female", "strong indication"),
        (0.99999, "male", "very strong indication"),
        (1.0, "male", "very strong indication"),
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
    assert language.sex_strength(10 / 11) == "moderate indication"
    assert language.sex_strength(10 / 11 - 1e-9) == "weak indication"
    assert language.sex_strength(2 / 3) == "weak indication"
    assert language.likelihood_ratio(0.75) == pytest.approx(3.0)


def test_sentences_never_state_identity() -> None:
    for p in (0.0, 0.3, 0.5, 0.8, 0.999, 1.0):
        s = language.express_sex(p).sentence.lower()
        assert "is male" not in s and "is female" not in s and "identif" not in s
        # Not ENFSI's words for a likelihood ratio: the same report states the comparisons' LRs in them.
        assert "support" not in s


def test_sex_finding_states_abstention_with_its_reason() -> None:
    f = sex_finding(SexEstimate(0.55, "inconclusive", "uncertain band"))
    assert f.abstained and "ABSTAINED" in f.statement and f.reason == "uncertain band" and f.p_male == "0.550"
    g = sex_finding(SexEstimate(0.97, "male"))
    assert not g.abstained and g.label == "male" and "male speaker" in g.statement and g.p_male == "0.970"


def test_age_finding() -> None:
    a = age_finding(AgeEstimate(41.2, (30.0, 58.0), "40-59", {"20-39": 0.3, "40-59": 0.7}))
    assert a.median == "41 years" and a.interval == "30\u201358 years" and not a.abstained
    assert a.bands == "20-39: 0.30, 40-59: 0.70"
    b = age_finding(AgeEstimate(35.0, (20.0, 60.0), "inconclusive", {}, "no age bin reaches 0.50"))
    assert b.abstained and "ABSTAINED" in b.statement and b.reason == "no age bin reaches 0.50"


def test_measures_units_and_thresholds() -> None:
    ac = Acoustics({"f0_median": Measure(120.0, "Hz"), "f4": Measure(None, "Hz", reliable=False),
                    "jitter_local": Measure(0.0123, "%")}, 5000.0, ("x",))
    rows = {m.name: m for m in acoustic_measures(ac)}
    assert rows["F0 median"].unit == "Hz" and rows["F0 median"].value == "120.00"
    assert rows["F4 (formant 4)"].value == "not measurable" and "unreliable" in rows["F4 (formant 4)"].note
    assert rows["Jitter (local)"].value == "0.0123"
    q = Quality(QualityVerdict.WARN, ("r",), 4.5, 20.5, 0.0012, 3400.0, True, -30.0, 5.0, "pauses",
                {"min_net_speech_s": 3.0, "warn_net_speech_s": 6.0, "min_snr_db": 10.0, "warn_snr_db": 20.0,
                 "max_clipping": 0.01, "warn_clipping": 0.001, "telephone_band_hz": 5000.0,
                 "min_bandwidth_hz": 2500.0, "min_level_dbfs": -45.0})
    qrows = {m.name: m for m in quality_measures(q)}
    assert qrows["Signal-to-noise ratio"].value == "20.50" and "minimum 10 dB" in qrows["Signal-to-noise ratio"].note
    assert qrows["Clipped samples"].value == "0.120" and qrows["Clipped samples"].unit == "%"
    assert qrows["Telephone band"].value == "yes"
    assert all(m.value != NA for m in qrows.values())


def test_consistency_forms() -> None:
    from s2f_desktop.report.model import consistency_of

    a, b = "a" * 32, "b" * 32
    c = Consistency((a, b), ((1.0, 0.4), (0.4, 1.0)), {a: 0.41, b: 0.41}, (b,), 0.72, "speaker-consistency-v1",
                    "flagged segments disagree with the rest")
    text, details = consistency_of(c, {a: "segment #1", b: "segment #2"})
    assert "NOT consistent: segment #2 may be a different speaker" in text
    assert "Flagged segments disagree with the rest." in text
    names = {m.name: m for m in details}
    assert names["Median similarity, segment #2"].note == "flagged"
    assert names["Threshold"].value == "0.720"
    ok = Consistency((a, b), ((1.0, 0.9), (0.9, 1.0)), {a: 0.9, b: 0.9}, (), 0.72, "v1", "note")
    assert "consistent (no segment differs" in consistency_of(ok, {})[0]
    assert "not assessed" in consistency_of(None, {})[0]


def test_model_card_markdown_becomes_tables_and_lists() -> None:
    from reportlab.platypus import Paragraph, Table

    from s2f_desktop.report.fonts import register_fonts
    from s2f_desktop.report.pdf import _styles, md_flowables

    register_fonts()
    md = ("Intro **bold** text\nwrapped.\n\n| metric | value |\n|---|---|\n| sex accuracy | 94 % |\n\n"
          "* first\n  continued\n* second")
    out = md_flowables(md, _styles())
    kinds = [type(f).__name__ for f in out]
    assert kinds[0] == "Paragraph" and "<b>bold</b>" in out[0].text and "wrapped." in out[0].text
    tables = [f for f in out if isinstance(f, Table)]
    assert len(tables) == 1 and len(tables[0]._cellvalues) == 2  # header + one row, separator dropped
    bullets = [f.text for f in out if isinstance(f, Paragraph) and f.text.startswith("\u2022")]
    assert bullets == ["\u2022 first continued", "\u2022 second"]


def test_the_channel_drift_limitation_is_what_validation_measured() -> None:
    # The report says which channels moved whose voices which way; a retrain that stops showing it fails here.
    import json
    from pathlib import Path

    from s2f_desktop.report.model import LIMITATIONS

    text = next(t for t in LIMITATIONS if "toward male" in t)
    assert "low-rate internet call (Opus at 8 kbit/s" in text and "clipped recordings" in text
    m = json.loads((Path(__file__).resolve().parents[1] / "models" / "traits-v1" / "metrics.json")
                   .read_text(encoding="utf-8"))["metrics"]

    def per(v: str, sx: str) -> dict[str, Any]:
        e: dict[str, Any] = m[f"sex_{v}"]["per_sex"][sx]
        return e

    for v in ("opus-8000", "opus-8000-loss10"):  # women toward male, abstaining more
        assert per(v, "female")["mean_p_male"] > per("clean", "female")["mean_p_male"]
        assert per(v, "female")["abstention_rate"]["ci95"][0] > per("clean", "female")["abstention_rate"]["value"]
    clip = {b["bin"]: b["sex"]["female"] for b in m["degradation"]["clipping"]["bins"] if b["sex"]}
    assert clip["1-3 %"]["mean_p_male"] > clip["0-0.1 %"]["mean_p_male"]  # clipped recordings: women toward male


def test_gate_abstention_prints_the_interval_for_the_record_only() -> None:
    extra = {"age_p_40_plus": 0.32, "age_baseline": {"median_years": 33.0, "interval_80_years": [24.0, 56.0],
                                                     "p_40_plus": 0.33}}
    gate = "speech quality is insufficient"
    a = age_finding(AgeEstimate(30.0, (12.0, 60.0), "inconclusive", {}, gate), extra, gate)
    assert a.abstained and a.statement.startswith("ABSTAINED") and "it is not a finding" in a.statement
    assert "probability of 40 years or over" not in a.statement
    # Without the gate, an estimate without a band label states its interval as the answer.
    b = age_finding(AgeEstimate(30.0, (12.0, 60.0), "inconclusive", {}, "age bands are not validated"), extra)
    assert b.statement.startswith("No age band is stated") and "probability of 40 years or over 0.32" in b.statement


def test_nothing_measured_prints_no_numbers() -> None:
    s = sex_finding(SexEstimate(0.5, "inconclusive", "no usable speech found"), estimated=False)
    assert s.abstained and s.p_male == "not available" and "0.5" not in s.statement
    a = age_finding(AgeEstimate(33.0, (24.0, 56.0), "inconclusive", {}, "no usable speech found"),
                    {"estimated": False}, "no usable speech found")
    assert a.median == a.interval == "not available" and "33" not in a.statement
