"""The app's abstention gate, shared by the analysis path and the trainer that scores it (no models, fast)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from s2f_desktop.inference.traits import gate_abstain_reason
from s2f_desktop.training.traits_train import GATE_NEED, gate_entry, gate_mask, whole_abstention


@pytest.mark.parametrize(("voiced", "f0", "verdict", "net", "stopped"), [
    (5.0, 120.0, "ok", 10.0, ""),
    (5.0, 120.0, "warn", 3.0, ""),  # exactly the minimum passes
    (5.0, 120.0, "insufficient", 10.0, "speech quality is insufficient"),
    (5.0, 120.0, "ok", 2.999, "only 3.0 s of speech (need 3.0 s)"),
    (0.4, 120.0, "ok", 10.0, "only 0.4 s of voiced speech (need 0.5 s)"),
    (None, None, "ok", 10.0, "only 0.0 s of voiced speech (need 0.5 s)"),
    (5.0, None, "ok", 10.0, "only 5.0 s of voiced speech (need 0.5 s)"),  # no measurable F0
])
def test_gate_rule(voiced: float | None, f0: float | None, verdict: str, net: float, stopped: str) -> None:
    assert gate_abstain_reason(GATE_NEED, voiced, f0, verdict, net) == stopped
    assert gate_mask([(voiced, f0, verdict, net)]).tolist() == [bool(stopped)]


def test_the_trainer_gates_with_the_shipped_thresholds() -> None:
    """The trainer's thresholds are the ones the shipped calibration gives the app."""
    from s2f_desktop.system.env import models_dir

    cal = json.loads((models_dir() / "traits-v1" / "calibration.json").read_text(encoding="utf-8"))
    assert cal["abstention"] == GATE_NEED


def test_gate_counts_and_whole_abstention() -> None:
    sex = np.array([0, 0, 0, 0, 1, 1, 1, 1, 1, np.nan])
    labelled = np.isfinite(sex)
    stopped = np.array([1, 0, 0, 0, 1, 1, 0, 0, 0, 1], bool)
    e = gate_entry(labelled, stopped, sex)
    assert (e["labelled"], e["stopped"]) == (9, 3)
    assert e["female"] == {"labelled": 4, "stopped": 1, "rate": 0.25}
    assert e["male"]["labelled"] == 5 and e["male"]["stopped"] == 2
    # Answered: women 2 of 4 (one stopped, one in the band), men 3 of 5.
    answered = np.array([0, 1, 1, 0, 0, 0, 1, 1, 1, 0], bool)
    groups = np.arange(10).astype(str)
    w = whole_abstention(labelled, answered, sex, groups, n_boot=50)
    assert set(w) == {"female", "male"}
    assert w["female"]["n"] == 4 and w["female"]["abstention_rate"]["value"] == 0.5
    assert w["male"]["abstention_rate"]["value"] == pytest.approx(0.4)
    lo, hi = w["male"]["abstention_rate"]["ci95"]
    assert 0.0 <= lo <= 0.4 <= hi <= 1.0
