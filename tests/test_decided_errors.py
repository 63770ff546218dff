"""The card's account of the sex head's decided errors is computed from the stored metrics."""

from __future__ import annotations

from typing import Any

import numpy as np

from s2f_desktop.training.card import _decided_errors_md
from s2f_desktop.training.traits_train import decided_errors, median_f0_hz
from s2f_desktop.voice.acoustics import HEAD_FEATURES


def test_decided_errors_lists_only_decided_contradictions() -> None:
    p = np.array([0.02, 0.97, 0.50, 0.99, 0.01])
    y = np.array([0.0, 0.0, 1.0, 1.0, 1.0])
    decided = np.array([True, True, False, True, True])
    groups = np.array(["v:a", "v:b", "ls:1", "ls:2", "ls:3"])
    out = decided_errors(p, y, decided, ["a", "b", "c", "d", "e"], groups, np.array([210.0, 131.0, 150.0, 120.0,
                                                                                         np.nan]))
    # Clip c is in the band (not decided); a and d were said as labelled.
    assert [e["clip"] for e in out] == ["b", "e"]
    assert out[0] == {"clip": "b", "source": "avspeech", "label": "female", "p_male": 0.97, "median_f0_hz": 131.0}
    assert out[1]["source"] == "librispeech" and out[1]["median_f0_hz"] is None


def test_median_f0_is_read_back_from_the_head_inputs() -> None:
    x = np.zeros((2, 256 + len(HEAD_FEATURES)))
    x[:, 256 + HEAD_FEATURES.index("log_f0_median")] = np.log([120.0, 210.0])
    assert np.allclose(median_f0_hz(x), [120.0, 210.0])


def _metrics(errors: list[dict[str, Any]], n_female: int = 405, abst: float = 0.0864,
             acc: float = 0.98919) -> dict[str, Any]:
    def entry(a: float) -> dict[str, Any]:
        return {"n": n_female, "abstention_rate": {"value": abst}, "accuracy_decided": {"value": a}}

    return {"sex_clean": {"decided_errors": errors, "per_sex": {"female": entry(acc), "male": entry(0.995)}},
            "sex_median_f0_hz_verified_clean": {"female": {"p10": 170.0, "p90": 240.0},
                                               "male": {"p10": 95.0, "p90": 150.0}}}


def _err(label: str, p: float, hz: float, source: str = "avspeech") -> dict[str, Any]:
    return {"clip": f"{label}{hz}", "source": source, "label": label, "p_male": p, "median_f0_hz": hz}


def test_card_sentence_states_sources_f0_and_how_far_the_target_is_missed() -> None:
    errors = [_err("female", 0.959, 139.2), _err("female", 0.997, 128.4), _err("female", 0.986, 134.1),
              _err("female", 0.989, 138.0), _err("male", 0.062, 218.8)]
    text = _decided_errors_md(_metrics(errors))
    assert "4 female labels (4 avspeech) said to be male with P(male) 0.959-0.997, median F0 128-139 Hz, " \
           "4 of them below the 10th percentile of agreed-label female voices (170 Hz)" in text
    assert "1 male label (1 avspeech) said to be female" in text and "above the 90th percentile" in text
    assert "None came from LibriSpeech's self-reported labels" in text
    assert "In every one the voice's median F0 lies beyond" in text
    # 405 gate-passed women, 8.64 % abstaining: 370 decided, 366 right; 1 % of 370 allows 3 errors.
    assert "The women's decided accuracy (98.92 %, 366 of 370) misses 99 % by 1 clip of these 4." in text
    assert "The men's decided accuracy" not in text


def test_card_sentence_does_not_claim_what_the_errors_do_not_show() -> None:
    errors = [_err("female", 0.959, 200.0, "librispeech"), _err("female", 0.99, 130.0)]
    text = _decided_errors_md(_metrics(errors, acc=0.995))
    assert "1 of the 2 came from LibriSpeech's self-reported labels" in text
    assert "In every one" not in text and "In 1 of the 2 the voice's median F0 lies beyond" in text
    assert "misses 99 %" not in text
    assert _decided_errors_md(_metrics([])) == "No decided case on agreed labels (clean) contradicted its label."
    assert _decided_errors_md({"sex_clean": {"decided_errors": errors}}) == ""
