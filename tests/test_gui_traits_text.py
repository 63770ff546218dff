"""How the Analysis page words an estimate: answers, abstentions and numbers kept for the record."""

from __future__ import annotations

import html

from s2f_desktop.core.traits import AgeEstimate, SexEstimate, TraitEstimate
from s2f_desktop.gui.analysis import traits_html

GATE = "only 2.1 s of speech (need 3.0 s)"


def test_a_gate_abstention_shows_numbers_only_as_a_record() -> None:
    t = TraitEstimate(SexEstimate(0.24, "inconclusive", GATE), AgeEstimate(30, (12, 60), "inconclusive", {}, GATE),
                      extra={"age_p_40_plus": 0.32})
    text = traits_html(t)
    assert "Sex and age:" in text and "inconclusive (abstained)" in text and GATE in text
    assert "For the record only, not findings: P(male) = 0.240; age median 30 years" in text
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
    # The report's digits: never "P(female) = 1.00" for a calibrated probability (the GUI printed two decimals).
    assert "Sex: <b>female</b> — P(male) = 0.002, P(female) = 0.998" in text


def test_the_command_line_words_estimates_as_the_gui_does() -> None:
    from s2f_desktop.cli.commands.analyze import trait_lines

    gated = TraitEstimate(SexEstimate(0.24, "inconclusive", GATE), AgeEstimate(30, (12, 60), "inconclusive", {},
                                                                                GATE))
    assert trait_lines(gated) == [f"  sex and age: inconclusive  [{GATE}]",
                                  "  for the record only, not findings: P(male) = 0.240; age median 30 y, "
                                  "80 % interval 12-60 y"]
    nothing = TraitEstimate(SexEstimate(0.5, "inconclusive", "no usable speech found"),
                            AgeEstimate(33, (24, 56), "inconclusive", {}, "no usable speech found"),
                            extra={"estimated": False})
    (line,) = trait_lines(nothing)
    assert "no estimate exists" in line and "0.5" not in line and "33" not in line
    answer = TraitEstimate(SexEstimate(0.0018, "female"),
                           AgeEstimate(37.4, (13.4, 66.8), "inconclusive", {}, "age bands are not validated"))
    assert trait_lines(answer) == ["  sex: female  P(male) = 0.002",
                                   "  age: median 37 y, 80 % interval 13-67 y  (no age band stated)"]
    # With P(40+) and the baseline stored (today's model), both are printed beside the answer, as in the GUI.
    base = {"interval_80_years": [24.0, 56.2], "median_years": 32.9, "p_40_plus": 0.3257}
    with_base = TraitEstimate(answer.sex, answer.age, extra={"age_p_40_plus": 0.4123, "age_baseline": base})
    assert trait_lines(with_base)[2] == ("       P(40 or over) = 0.41; baseline (always the training median): 33 y, "
                                         "80 % interval 24-56 y, P(40 or over) 0.33")


def test_archive_hits_show_numbers_only_for_estimates_that_passed_the_gate() -> None:
    from s2f_desktop.gui.archive import hit_traits

    hit = {"quality": "warn", "sex": {"label": "female", "p_male": 0.0312},
           "age": {"label": "inconclusive", "median_years": 41.4, "interval_80": [18.2, 70.9]}}
    assert hit_traits(hit) == ("female (P(male) 0.031)", "41 y (80 % 18–71)")
    stopped = {"quality": "insufficient", "sex": {"label": "inconclusive", "p_male": 0.998},
               "age": {"label": "inconclusive", "median_years": 45.0, "interval_80": [21.0, 74.0]}}
    assert hit_traits(stopped) == ("abstained (quality insufficient)",) * 2


def test_an_interval_at_the_models_age_limits_says_so_everywhere_it_is_printed() -> None:
    """12 and 85 years are where the model clips its answers: an interval end there is not the voice's."""
    from s2f_desktop.cli.commands.analyze import trait_lines
    from s2f_desktop.core.traits import age_limit_note
    from s2f_desktop.gui.analysis import traits_html
    from s2f_desktop.report.model import age_finding

    clip = {"age_clip_years": [12.0, 85.0]}
    low = AgeEstimate(33.0, (12.0, 61.0), "inconclusive", {}, "age bands are not validated")
    note = age_limit_note(low, clip)
    assert note.startswith("The 80 % interval reaches the model's limits: its lower end, 12 years, is the lowest")
    assert "upper end" not in note
    assert "its upper end, 85 years" in age_limit_note(AgeEstimate(70.0, (40.0, 85.0), "inconclusive"), clip)
    assert age_limit_note(AgeEstimate(35.0, (20.0, 60.0), "inconclusive"), clip) == ""
    assert age_limit_note(low, {}) == ""  # runs stored before the bounds were recorded say nothing
    assert "the median sits at that limit too" in age_limit_note(AgeEstimate(12.0, (12.0, 40.0), "inconclusive"), clip)
    assert "median" not in note
    extra = {**clip, "age_p_40_plus": 0.3, "age_baseline": {"interval_80_years": [24.0, 56.2], "median_years": 32.9,
                                                             "p_40_plus": 0.3257}}
    est = TraitEstimate(SexEstimate(0.01, "female"), low, extra=extra)
    assert trait_lines(est)[-1] == f"       {note}"
    assert html.escape(note) in traits_html(est)
    assert note in age_finding(low, extra).statement
    # The report's per-segment table marks it in brief (it dropped the caveat the GUI shows).
    from s2f_desktop.report.model import _age_short

    assert _age_short(est) == "33 y (12\u201361; no band; lower end at the model's limit: no lower limit)"
    assert _age_short(TraitEstimate(SexEstimate(0.01, "female"), AgeEstimate(35.0, (20.0, 60.0), "inconclusive"),
                                    extra=extra)) == "35 y (20\u201360; no band)"
