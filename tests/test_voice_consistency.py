"""Speaker consistency, grouping and the calibration maths (numpy only)."""

from __future__ import annotations

import numpy as np
import pytest

from s2f_desktop.voice import calibration as cal
from s2f_desktop.voice.consistency import consistency, cosine_matrix, group_by_speaker


def _speaker_embeddings(n_per: int, centres: np.ndarray, noise: float, seed: int = 0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    out = []
    for c in centres:
        for _ in range(n_per):
            v = c + noise * rng.standard_normal(c.shape)
            out.append(v / np.linalg.norm(v))
    return out


def test_flags_the_second_speaker() -> None:
    rng = np.random.default_rng(3)
    a, b = rng.standard_normal((2, 64))
    embs = _speaker_embeddings(4, np.stack([a]), 0.1) + _speaker_embeddings(1, np.stack([b]), 0.1, seed=9)
    ids = [f"s{i}" for i in range(5)]
    rep = consistency(ids, embs, threshold=0.7)
    assert rep.flagged == ("s4",)
    d = rep.to_dict()
    assert d["median_similarity"]["s0"] > 0.9 and d["median_similarity"]["s4"] < 0.5
    assert np.allclose(np.diag(cosine_matrix(embs)), 1.0)


def test_grouping_by_speaker_is_ordered_and_complete() -> None:
    rng = np.random.default_rng(5)
    centres = rng.standard_normal((2, 64))
    embs = _speaker_embeddings(2, centres[:1], 0.1) + _speaker_embeddings(3, centres[1:], 0.1, seed=2)
    ids = ["a1", "a2", "b1", "b2", "b3"]
    groups = group_by_speaker(ids, embs, threshold=0.7)
    assert groups == [["b1", "b2", "b3"], ["a1", "a2"]]
    assert group_by_speaker(["x"], embs[:1], 0.7) == [["x"]]
    assert group_by_speaker([], [], 0.7) == []


def test_eer_and_threshold() -> None:
    scores = np.array([0.9, 0.8, 0.75, 0.4, 0.3, 0.78])
    same = np.array([1, 1, 1, 0, 0, 0], bool)
    e, thr = cal.eer(scores, same)
    assert e == pytest.approx(1 / 3, abs=0.01)
    assert 0.75 <= thr <= 0.8
    e0, _ = cal.eer(np.array([0.9, 0.8, 0.2, 0.1]), np.array([1, 1, 0, 0], bool))
    assert e0 == 0.0


def test_platt_recovers_a_known_calibration() -> None:
    rng = np.random.default_rng(0)
    logits = rng.normal(0, 3, 20000)
    y = (rng.random(20000) < cal.sigmoid(0.5 * logits - 0.3)).astype(float)
    a, b = cal.fit_platt(logits, y)
    assert a == pytest.approx(0.5, abs=0.05) and b == pytest.approx(-0.3, abs=0.07)
    p = cal.platt_apply(logits, a, b)
    assert cal.ece(p, y) < 0.02
    assert cal.ece(cal.sigmoid(3 * logits), y) > 0.1  # overconfident scores are caught


def test_ridge_and_logistic_fit_simple_data() -> None:
    rng = np.random.default_rng(1)
    x = rng.standard_normal((500, 3))
    w, b = cal.fit_ridge(x, x @ np.array([1.0, -2.0, 0.5]) + 4.0, l2=1e-6)
    assert np.allclose(w, [1.0, -2.0, 0.5], atol=1e-6) and b == pytest.approx(4.0)
    lw, lb = cal.fit_logistic(x, (x[:, 0] > 0).astype(float), l2=1.0)
    assert lw[0] > 3 * abs(lw[1])


def test_age_bins_and_bootstrap_and_folds() -> None:
    probs = cal.age_bin_probabilities(np.array([10, 25, 30, 45, 70.0]), (20, 40, 60), ("<20", "20-39", "40-59", ">=60"))
    assert probs == {"<20": 0.2, "20-39": 0.4, "40-59": 0.2, ">=60": 0.2}
    assert list(cal.age_bin(np.array([19.9, 20, 59.9, 60]))) == [0, 1, 2, 3]
    groups = np.repeat(np.arange(20), 3)
    folds = cal.group_folds(groups, 5, seed=1)
    for g in range(20):
        assert len(set(folds[groups == g])) == 1
    assert np.array_equal(folds, cal.group_folds(groups, 5, seed=1))
    vals = np.arange(60, dtype=float)
    lo, hi = cal.bootstrap_ci(lambda i: float(vals[i].mean()), groups, 200, seed=0)
    assert lo < vals.mean() < hi
