"""Calibration and evaluation maths (numpy only): Platt scaling, ECE, EER, bootstrap CIs.

These functions are shared by training (fitting, metrics for the model card) and
inference (applying a fitted calibration), so the numbers in the card are computed
by the same code that turns model outputs into reported probabilities.
"""

from __future__ import annotations

from typing import Callable, Sequence

import numpy as np


def sigmoid(z: np.ndarray) -> np.ndarray:
    """Numerically stable logistic function."""
    z = np.asarray(z, dtype=np.float64)
    out: np.ndarray = np.where(z >= 0, 1 / (1 + np.exp(-np.abs(z))), np.exp(-np.abs(z)) / (1 + np.exp(-np.abs(z))))
    return out


def fit_logistic(x: np.ndarray, y: np.ndarray, l2: float = 1.0, weights: np.ndarray | None = None,
                 iters: int = 100) -> tuple[np.ndarray, float]:
    """L2-regularised logistic regression by Newton's method (deterministic, no randomness).

    ``y`` in [0, 1] (soft labels allowed); ``l2`` penalises the weights, not the bias.
    Returns (weights, bias).
    """
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    n, d = x.shape
    sw = np.ones(n) if weights is None else np.asarray(weights, dtype=np.float64)
    xa = np.hstack([x, np.ones((n, 1))])
    beta = np.zeros(d + 1)
    reg = np.full(d + 1, l2)
    reg[-1] = 0.0
    for _ in range(iters):
        p = sigmoid(xa @ beta)
        g = xa.T @ (sw * (p - y)) + reg * beta
        h = (xa * (sw * p * (1 - p))[:, None]).T @ xa + np.diag(reg) + 1e-9 * np.eye(d + 1)
        step = np.linalg.solve(h, g)
        beta -= step
        if np.max(np.abs(step)) < 1e-8:
            break
    return beta[:-1], float(beta[-1])


def fit_platt(logits: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """Platt scaling p = sigmoid(a * logit + b) fitted on held-out logits (tiny L2 for stability)."""
    w, b = fit_logistic(np.asarray(logits, dtype=np.float64)[:, None], y, l2=1e-3)
    return float(w[0]), b


def platt_apply(logits: np.ndarray, a: float, b: float) -> np.ndarray:
    """Apply a fitted Platt scaling."""
    return sigmoid(a * np.asarray(logits, dtype=np.float64) + b)


def fit_ridge(x: np.ndarray, y: np.ndarray, l2: float = 1.0,
              weights: np.ndarray | None = None) -> tuple[np.ndarray, float]:
    """(Weighted) ridge regression (bias unpenalised), closed form. Returns (weights, bias).

    ``weights`` (optional, one per row) scale each row's squared error; without them this is
    ordinary ridge regression.
    """
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    sw = np.ones(len(y)) if weights is None else np.asarray(weights, dtype=np.float64)
    sw = sw / sw.mean()
    xm, ym = (sw @ x) / sw.sum(), float(sw @ y / sw.sum())
    xc = x - xm
    w = np.linalg.solve(xc.T @ (xc * sw[:, None]) + l2 * np.eye(x.shape[1]), xc.T @ (sw * (y - ym)))
    return w, float(ym - xm @ w)


def ece(p: np.ndarray, y: np.ndarray, bins: int = 10) -> float:
    """Expected calibration error of P(y=1) with equal-width bins (reliability of the stated probability)."""
    p = np.asarray(p, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    idx = np.minimum((p * bins).astype(int), bins - 1)
    total = 0.0
    for b in range(bins):
        m = idx == b
        if m.any():
            total += m.sum() * abs(p[m].mean() - y[m].mean())
    return float(total / max(1, len(p)))


def age_bin_probabilities(samples: np.ndarray, edges: Sequence[float], names: Sequence[str]) -> dict[str, float]:
    """Probability of each age bin from equally weighted samples of the age distribution."""
    s = np.asarray(samples, dtype=np.float64)
    idx = np.searchsorted(np.asarray(edges, dtype=np.float64), s, side="right")
    counts = np.bincount(idx, minlength=len(names)).astype(np.float64)
    return {n: float(c / max(1, len(s))) for n, c in zip(names, counts)}


def age_bin(age: np.ndarray, edges: Sequence[float] = (20.0, 40.0, 60.0)) -> np.ndarray:
    """Bin index of each age (0: <20, 1: 20-39, 2: 40-59, 3: >=60)."""
    return np.searchsorted(np.asarray(edges, dtype=np.float64), np.asarray(age, dtype=np.float64), side="right")


def eer(scores: np.ndarray, same: np.ndarray) -> tuple[float, float]:
    """Equal error rate of similarity ``scores`` for target trials ``same``; returns (eer, threshold)."""
    s = np.asarray(scores, dtype=np.float64)
    t = np.asarray(same, dtype=bool)
    best = (1.0, 0.0, float(np.median(s)))
    for thr in np.unique(s):
        far = float(np.mean(s[~t] >= thr)) if (~t).any() else 0.0  # impostor pairs accepted
        frr = float(np.mean(s[t] < thr)) if t.any() else 0.0  # same-speaker pairs rejected
        gap = abs(far - frr)
        if gap < best[0] or (gap == best[0] and thr < best[2]):
            best = (gap, (far + frr) / 2, float(thr))
    return best[1], best[2]


def bootstrap_ci(stat: Callable[[np.ndarray], float], groups: np.ndarray, n_boot: int = 1000, seed: int = 0,
                 alpha: float = 0.05) -> tuple[float, float]:
    """Percentile CI of ``stat(indices)`` resampling whole groups (speakers / videos) with replacement."""
    groups = np.asarray(groups)
    uniq, inverse = np.unique(groups, return_inverse=True)
    members = [np.flatnonzero(inverse == g) for g in range(len(uniq))]
    rng = np.random.default_rng(seed)
    vals = []
    for _ in range(n_boot):
        pick = rng.integers(0, len(uniq), len(uniq))
        idx = np.concatenate([members[g] for g in pick])
        vals.append(stat(idx))
    lo, hi = np.nanpercentile(vals, [100 * alpha / 2, 100 * (1 - alpha / 2)])
    return float(lo), float(hi)


def group_folds(groups: np.ndarray, k: int = 5, seed: int = 0) -> np.ndarray:
    """Fold index per item such that all items of a group share a fold (seeded, reproducible)."""
    groups = np.asarray(groups)
    uniq = np.unique(groups)
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(uniq))
    fold_of = {uniq[g]: i % k for i, g in enumerate(order)}
    return np.array([fold_of[g] for g in groups])
