"""How the Analysis page words an estimate: answers, abstentions and numbers kept for the record."""

from __future__ import annotations

from s2f_desktop.core.traits import AgeEstimate, SexEstimate, TraitEstimate
from s2f_desktop.gui.analysis import traits_html

GATE = "only 2.1 s of speech (need 3.0 s)"


def test_a_gate_abstention_shows_numbers_only_as_a_record() -> None:
    t = TraitEstimate(SexEstimate(0.24, "inconclusive", GATE), AgeEstimate(30, (12, 60), "inconclusive", {}, GATE),
                      extra={"age_p_40_plus": 0.32})
    text = traits_html(t)
    assert "Sex and age:" in text and "inconclusive (abstained)" in text and GATE in text
    assert "For the record only, not findings: P(male) = 0.24; age median 30 years" in text
    assert "P(female)" not in text and "P(40 or over)" not in text


def test_nothing_measured_shows_no_numbers() -> None:
    reason = "no usable speech found"
    t = TraitEstimate(SexEstimate(0.5, "inconclusive", reason), AgeEstimate(33, (24, 56), "inconclusive", {}, reason),
                      extra={"estimated": False})
    text = traits_html(t)
    assert "no estimate exists" in text and "0.50" not in text and "33" not in text


def test_an_age_without_a_band_label_is_an_answer_not_an_abstention() -> None:
    t = TraitEstimate(SexEstimate(0.0018, "female"),
                      AgeEstimate(37.4, (13.4, 66.8), "inconclusive", {}, "age bands are not validated"),
                      extra={"age_p_40_plus": 0.4554, "age_baseline": {"median_years": 32.9,
                                                                       "interval_80_years": [24.0, 56.0],
                                                                       "p_40_plus": 0.33}})
    text = traits_html(t)
    assert "Age: median 37 years, 80 % interval 13–67 years <small>(no age band stated)</small>" in text
    assert text.count("abstained") == 0 and "P(40 or over) = 0.46" in text
    assert "Sex: <b>female</b> — P(male) = 0.00" in text
