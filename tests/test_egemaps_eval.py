"""The eGeMAPS experiment's metric helpers (training/egemaps_eval.py): paired bootstrap and band statistics."""

from __future__ import annotations

import numpy as np
import pytest

from s2f_desktop.training.egemaps_eval import _resamples, _sex_stats, _summarise, _winsorise


def test_paired_difference_of_identical_arms_is_exactly_zero_and_a_better_arm_is_flagged() -> None:
    rng = np.random.default_rng(0)
    n = 400
    y = (rng.random(n) < 0.5).astype(float)
    groups = np.arange(n) // 2
    p_a = np.clip(np.where(y == 1, 0.8, 0.2) + 0.3 * rng.standard_normal(n), 0, 1)
    p_b = np.where(y == 1, 0.99, 0.01)  # perfect and confident
    band = np.tile([0.1, 0.9], (n, 1))
    arms = {"a": _sex_stats(p_a, y, band), "a again": _sex_stats(p_a, y, band), "b": _sex_stats(p_b, y, band)}
    res = _summarise(arms, "a", n, _resamples(groups, 200, 1))
    same = res["a again"]["female_abstention"]
    assert same["diff_vs_base"] == 0.0 and same["diff_ci95"] == [0.0, 0.0] and not same["diff_excludes_0"]
    better = res["b"]["female_abstention"]
    assert better["value"] == 0.0 and better["diff_excludes_0"] and better["diff_ci95"][1] < 0
    assert res["b"]["auc"]["value"] == pytest.approx(1.0)


def test_resamples_keep_groups_whole() -> None:
    groups = np.array(["a", "a", "b", "c", "c", "c"])
    for idx in _resamples(groups, 50, 3):
        counts = {g: int(np.sum(groups[idx] == g)) for g in "abc"}
        assert counts["a"] % 2 == 0 and counts["c"] % 3 == 0


def test_winsorise_uses_training_rows_only() -> None:
    x = {"clean": np.array([[0.0], [1.0], [2.0], [1000.0]]), "telephone": np.array([[0.0], [1.0], [2.0], [np.nan]])}
    train = np.array([True, True, True, False])
    out = _winsorise(x, train)
    assert out["clean"][3, 0] <= 2.0 and np.isnan(out["telephone"][3, 0])
