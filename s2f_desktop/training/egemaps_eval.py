"""Issue 13 experiment: do eGeMAPS-style parameters (:mod:`s2f_desktop.training.egemaps`) help the trait heads?

Two steps, both reading the trainer's feature cache (``<cache>/feat``, filled by
``s2f-train traits``; each clip's record holds the exact 16 kHz speech the analysis path
produced, see :func:`s2f_desktop.training.features.load_cached`):

``--extract``
    compute the 88 eGeMAPS-style functionals of every training clip and channel variant and
    store them under ``<cache>/egemaps/<variant>/<key>.npz`` (resumable; per-clip time recorded).
``(default)``
    evaluate, with the trainer's protocol (same items, same 5 grouped folds, verified sex labels,
    usable face-derived ages, nested L2 choice, cross-fitted Platt scaling and band, band-balanced
    weighted split-conformal age intervals), several input sets against the current inputs,
    with 95 % bootstrap intervals over groups and paired bootstrap differences (the same group
    resamples for both arms). Writes ``results.json`` and ``results.md``.

Usage::

    python -m s2f_desktop.training.egemaps_eval --cache /work/cache-13 --extract
    python -m s2f_desktop.training.egemaps_eval --cache /work/cache-13 --out /work/cache-13/egemaps/results.json

Nothing here changes the shipped model: it is a measured experiment for the model card.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np

from s2f_desktop.training.data import Item

VARIANTS = ("clean", "telephone")


def _egemaps_file(cache: Path, item: Item, variant: str) -> Path:
    from s2f_desktop.training.features import _key

    return cache / "egemaps" / _key(item, variant)


def extract(cache: Path, data_root: Path, log: Callable[[str], None] = print) -> dict[str, Any]:
    """Compute and store the eGeMAPS functionals of every cached training clip (skips those done)."""
    from s2f_desktop.training.egemaps import FEATURE_NAMES, egemaps, egemaps_vector
    from s2f_desktop.training.features import load_cached
    from s2f_desktop.training.traits_train import select_items

    items = select_items(data_root, None)
    feat = cache / "feat"
    times: list[float] = []
    speech_s: list[float] = []
    t0 = time.perf_counter()
    done = 0
    for variant in VARIANTS:
        for i, it in enumerate(items):
            f = _egemaps_file(cache, it, variant)
            if f.is_file():
                continue
            rec = load_cached(it, variant, feat)
            if rec is None:
                log(f"  {it.id} ({variant}): not in the feature cache")
                continue
            x = rec["speech16"]
            band = bool(rec["quality"].get("telephone_band", False))
            t1 = time.perf_counter()
            vals = egemaps(x, 16000, band_limited=band)
            dt = time.perf_counter() - t1
            times.append(dt)
            speech_s.append(len(x) / 16000.0)
            f.parent.mkdir(parents=True, exist_ok=True)
            np.savez(f, values=egemaps_vector(vals), names=np.array(FEATURE_NAMES), item=np.array(it.id),
                     variant=np.array(variant), band_limited=np.array(band), seconds=np.array(dt),
                     speech_s=np.array(len(x) / 16000.0))
            done += 1
            if done % 100 == 0:
                log(f"  egemaps: {done} computed ({variant} {i + 1}/{len(items)}, {time.perf_counter() - t0:.0f} s, "
                    f"median {np.median(times):.3f} s per clip)")
    summary = {"computed": done, "total_s": round(time.perf_counter() - t0, 1)}
    if times:
        t, s = np.array(times), np.array(speech_s)
        summary.update(median_s_per_clip=float(np.median(t)), mean_s_per_clip=float(np.mean(t)),
                       max_s_per_clip=float(np.max(t)), s_per_10s_speech=float(10 * t.sum() / max(s.sum(), 1e-9)))
    log(f"egemaps extraction: {summary}")
    return summary


# ---------------------------------------------------------------------------------------------- evaluation

#: Ridge L2 grid for the standardised age inputs (the shipped GE2E-only head uses the trainer's
#: AGE_L2_GRID on the raw embedding; standardised inputs need stronger shrinkage).
AGE_L2_GRID_STD = (1.0, 3.0, 10.0, 30.0, 100.0, 300.0, 1000.0, 3000.0)
#: eGeMAPS columns are winsorised at these training-fold percentiles before standardising
#: (stddevNorm of a near-zero-mean LLD, e.g. MFCC 3, has extreme values).
WINSOR = (0.5, 99.5)


def load_egemaps(cache: Path, items: list[Item]) -> dict[str, np.ndarray]:
    """{variant: (n, 88)} eGeMAPS matrix in ``items`` order (NaN rows where missing)."""
    from s2f_desktop.training.egemaps import FEATURE_NAMES

    out = {}
    for v in VARIANTS:
        rows = []
        for it in items:
            f = _egemaps_file(cache, it, v)
            if f.is_file():
                with np.load(f, allow_pickle=False) as z:
                    assert tuple(str(n) for n in z["names"]) == FEATURE_NAMES
                    rows.append(z["values"].astype(np.float64))
            else:
                rows.append(np.full(len(FEATURE_NAMES), np.nan))
        out[v] = np.stack(rows)
    return out


def _winsorise(blocks: dict[str, np.ndarray], train: np.ndarray) -> dict[str, np.ndarray]:
    """Clip each column at the WINSOR percentiles of the training rows (both variants pooled)."""
    ref = np.vstack([b[train] for b in blocks.values()])
    with np.errstate(all="ignore"):
        lo, hi = np.nanpercentile(ref, WINSOR[0], axis=0), np.nanpercentile(ref, WINSOR[1], axis=0)
    return {v: np.where(np.isnan(b), np.nan, np.clip(b, lo, hi)) for v, b in blocks.items()}


#: Columns of the Praat block holding its F0 measures (log median, 5th and 95th percentile).
_PRAAT_F0 = [0, 1, 2]


class Data:
    """Items, labels, folds and the feature blocks, exactly as the trainer builds them."""

    def __init__(self, cache: Path, data_root: Path, fold_seed: int | None = None) -> None:
        from s2f_desktop.training import traits_train as T
        from s2f_desktop.training.features import compute_features
        from s2f_desktop.training.review import REVIEW_FILE, load_review, verified_sex
        from s2f_desktop.training.teacher import face_labels
        from s2f_desktop.voice import calibration as cal
        from s2f_desktop.voice.acoustics import HEAD_FEATURES

        feat = cache / "feat"
        self.items = T.select_items(data_root, None)
        n = self.n = len(self.items)
        faces = face_labels(self.items, feat / "faces_tta.json", log=lambda m: None)
        fx = compute_features(self.items, feat, variants=VARIANTS, log=lambda m: None)
        review = load_review(REVIEW_FILE)
        self.groups = np.array([it.group for it in self.items])
        self.sex = np.full(n, np.nan)
        self.age = np.full(n, np.nan)
        self.sex_verified = np.zeros(n, bool)
        self.age_usable = np.zeros(n, bool)
        for i, it in enumerate(self.items):
            if it.sex is not None:
                self.sex[i], self.sex_verified[i] = (1.0 if it.sex == "male" else 0.0), True
            elif it.id in faces:
                f = faces[it.id]
                self.sex[i] = 1.0 if f["p_male"] >= 0.5 else 0.0
                self.age[i] = f["age"]
                self.age_usable[i] = bool(f["age_usable"])
                self.sex_verified[i] = verified_sex(f["p_male"] >= 0.5, bool(f["sex_usable"]), review.get(it.id))
        self.ok = np.logical_and.reduce([fx[v]["ok"] for v in VARIANTS])
        # The trainer's folds; another seed only for a sensitivity run (--fold-seed).
        self.folds = cal.group_folds(self.groups, T.FOLDS, T.SEED if fold_seed is None else fold_seed)
        self.sex_train = self.ok & self.sex_verified & np.isfinite(self.sex)
        self.age_train = self.ok & self.age_usable & np.isfinite(self.age)
        d = T.EMBEDDING_DIM
        self.emb = {v: fx[v]["x"][:, :d] for v in VARIANTS}
        self.praat = {v: fx[v]["x"][:, d:] for v in VARIANTS}
        assert self.praat["clean"].shape[1] == len(HEAD_FEATURES)
        self.ege = load_egemaps(cache, self.items)
        self.ege_ok = np.logical_and.reduce([np.any(np.isfinite(self.ege[v]), axis=1) for v in VARIANTS])


def _blocks(d: Data, names: tuple[str, ...], ege_cols: np.ndarray | None, fold: int | None) -> dict[str, np.ndarray]:
    """The input matrix of one arm per variant: named blocks in order (eGeMAPS winsorised per outer fold)."""
    if "ege" in names:
        train = (d.folds != fold) & d.ok if fold is not None else d.ok
        ege = _winsorise({v: d.ege[v][:, ege_cols] for v in VARIANTS}, train)
    out = {}
    for v in VARIANTS:
        fixed = {"emb": d.emb[v], "praat": d.praat[v], "praat_f0": d.praat[v][:, _PRAAT_F0]}
        out[v] = np.hstack([ege[v] if b == "ege" else fixed[b] for b in names])
    return out


def sex_oof(d: Data, names: tuple[str, ...], ege_cols: np.ndarray | None) -> dict[str, np.ndarray]:
    """Out-of-fold sex logits per variant with the shipped recipe (nested L2, class-balanced, clean + telephone)."""
    from s2f_desktop.training import traits_train as T

    oof = {v: np.full(d.n, np.nan) for v in VARIANTS}
    for k in range(T.FOLDS):
        x = _blocks(d, names, ege_cols, k)
        te = (d.folds == k) & d.ok
        head, _ = T.fit_nested("sex", x["clean"], x["telephone"], d.sex, d.sex_train & (d.folds != k), d.groups,
                               T.SEX_L2_GRID, T.SEED + k)
        for v in VARIANTS:
            oof[v][te] = T._predict(head, x[v][te])
    return oof


def sex_calibrated(d: Data, oof: dict[str, np.ndarray]) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Cross-fitted Platt probabilities and the symmetric band (choose_band) per row, as the trainer's evaluate()."""
    from s2f_desktop.training import traits_train as T
    from s2f_desktop.voice import calibration as cal

    p = {v: np.full(d.n, np.nan) for v in VARIANTS}
    band = np.full((d.n, 2), np.nan)
    for k in range(T.FOLDS):
        other = (d.folds != k) & d.ok & d.sex_verified & np.isfinite(d.sex)
        lg = np.concatenate([oof[v][other] for v in VARIANTS])
        yy = np.concatenate([d.sex[other]] * len(VARIANTS))
        a, b = cal.fit_platt(lg, yy)
        sel = (d.folds == k) & d.ok
        band[sel] = T.sex_band(cal.platt_apply(lg, a, b), yy)
        for v in VARIANTS:
            p[v][sel] = cal.platt_apply(oof[v][sel], a, b)
    return p, band


def age_oof(d: Data, names: tuple[str, ...], ege_cols: np.ndarray | None, raw_embedding: bool) -> dict[str, np.ndarray]:
    """Out-of-fold age predictions (years) per variant: band-balanced ridge on clean rows, nested L2.

    ``raw_embedding``: the shipped head (GE2E only, unstandardised, the trainer's grid); otherwise all
    blocks standardised with :data:`AGE_L2_GRID_STD`.
    """
    from s2f_desktop.training import traits_train as T

    saved = T.AGE_FEATURES
    T.AGE_FEATURES = "embedding" if raw_embedding else "all"
    try:
        oof = {v: np.full(d.n, np.nan) for v in VARIANTS}
        for k in range(T.FOLDS):
            x = _blocks(d, names, ege_cols, k)
            te = (d.folds == k) & d.ok
            head, _ = T.fit_nested("age", x["clean"], None, d.age, d.age_train & (d.folds != k), d.groups,
                                   T.AGE_L2_GRID if raw_embedding else AGE_L2_GRID_STD, T.SEED + k)
            for v in VARIANTS:
                oof[v][te] = T._predict(head, x[v][te])
    finally:
        T.AGE_FEATURES = saved
    return oof


#: The age head shipped since its third round (``traits_train.AGE_HEAD = "stretched_probe"``): a ridge on the raw
#: GE2E embedding (``PROBE_L2``) whose predictions are stretched about the training mean by the factor the inner
#: folds choose. With eGeMAPS the functionals are winsorised and standardised on the training fold and appended,
#: multiplied by the arm's scale: the embedding is unit-norm, so under the same L2 the scale sets how much the
#: 88 functionals may weigh against it (three scales tried; choosing among them on these folds is optimistic).
PROBE_ARMS: dict[str, float | None] = {
    "stretched probe (shipped)": None,
    "stretched probe + eGeMAPS x0.02": 0.02,
    "stretched probe + eGeMAPS x0.05": 0.05,
    "stretched probe + eGeMAPS x0.1": 0.1,
}


def probe_oof(d: Data, scale: float | None) -> dict[str, np.ndarray]:
    """Out-of-fold age predictions (years) of the stretched probe, with eGeMAPS appended at ``scale`` (None: the
    shipped head, as ``traits_train.fit_age_head`` fits it, fold by fold with the trainer's seeds)."""
    from s2f_desktop.training import traits_train as T
    from s2f_desktop.voice import calibration as cal

    oof = {v: np.full(d.n, np.nan) for v in VARIANTS}
    for k in range(T.FOLDS):
        train = d.age_train & (d.folds != k)
        te = (d.folds == k) & d.ok
        xs = {v: d.emb[v] for v in VARIANTS}
        if scale is not None:
            ege = _winsorise({v: d.ege[v] for v in VARIANTS}, (d.folds != k) & d.ok)
            with np.errstate(all="ignore"):
                mu, sd = np.nanmean(ege["clean"][train], axis=0), np.nanstd(ege["clean"][train], axis=0)
            sd = np.where(np.isfinite(sd) & (sd > 0), sd, 1.0)
            mu = np.where(np.isfinite(mu), mu, 0.0)
            xs = {v: np.hstack([d.emb[v], scale * np.nan_to_num((ege[v] - mu) / sd)]) for v in VARIANTS}
        x, y = xs["clean"], d.age
        idx = np.flatnonzero(train)
        inner = cal.group_folds(d.groups[idx], T.INNER_FOLDS, T.SEED + k)
        inner_oof = np.full(len(idx), np.nan)
        for j in sorted(set(inner)):
            w_j, b_j = cal.fit_ridge(x[idx[inner != j]], y[idx[inner != j]], T.PROBE_L2)
            inner_oof[inner == j] = x[idx[inner == j]] @ w_j + b_j
        w, b = cal.fit_ridge(x[train], y[train], T.PROBE_L2)
        mid = float(np.mean(y[train]))
        s_ = T.choose_stretch(inner_oof, y[idx], mid)
        for v in VARIANTS:
            oof[v][te] = mid + s_ * (xs[v][te] @ w + b - mid)
    return oof


def age_outputs(d: Data, oof: dict[str, np.ndarray]) -> dict[str, dict[str, np.ndarray]]:
    """Per variant: conformal median, 80 % interval, band probabilities (weighted split-conformal, cross-fitted)."""
    from s2f_desktop.core.traits import AGE_BINS
    from s2f_desktop.training import traits_train as T
    from s2f_desktop.voice import calibration as cal

    mask = d.age_train & np.isfinite(d.age)
    fold_qs = T.residual_quantiles_per_fold(oof, d.age, d.folds, mask)
    out = {}
    for v in VARIANTS:
        med, lo, hi = (np.full(d.n, np.nan) for _ in range(3))
        binp = np.full((d.n, len(AGE_BINS)), np.nan)
        for k, qs in fold_qs.items():
            sel = (d.folds == k) & mask
            pt = oof[v][sel]
            med[sel] = np.clip(pt + qs[50], *T.AGE_CLIP)
            lo[sel] = np.clip(pt + qs[10], *T.AGE_CLIP)
            hi[sel] = np.clip(pt + qs[90], *T.AGE_CLIP)
            binp[sel] = np.array([list(cal.age_bin_probabilities(p_ + qs, T.AGE_EDGES, AGE_BINS).values())
                                  for p_ in pt])
        out[v] = {"median": med, "lo": lo, "hi": hi, "binp": binp}
    return out


# ---------------------------------------------------------------------------------------------- metrics


def _resamples(groups: np.ndarray, n_boot: int, seed: int) -> list[np.ndarray]:
    """Row-index resamples (whole groups with replacement), shared by every arm: paired bootstrap."""
    uniq, inv = np.unique(groups, return_inverse=True)
    members = [np.flatnonzero(inv == g) for g in range(len(uniq))]
    rng = np.random.default_rng(seed)
    return [np.concatenate([members[g] for g in rng.integers(0, len(uniq), len(uniq))]) for _ in range(n_boot)]


def _sex_stats(p: np.ndarray, y: np.ndarray, band: np.ndarray) -> dict[str, Callable[[np.ndarray], float]]:
    from s2f_desktop.training.traits_train import _auc

    decided = (p < band[:, 0]) | (p > band[:, 1])
    right = (p >= 0.5) == (y == 1)

    def per(sx: float, what: str) -> Callable[[np.ndarray], float]:
        def f(i: np.ndarray) -> float:
            j = i[y[i] == sx]
            if not len(j):
                return float("nan")
            if what == "abstention":
                return float(np.mean(~decided[j]))
            if what == "accuracy_decided":
                dj = j[decided[j]]
                return float(np.mean(right[dj])) if len(dj) else float("nan")
            if what == "accuracy":
                return float(np.mean(right[j]))
            return float(np.mean(p[j]))
        return f

    stats: dict[str, Callable[[np.ndarray], float]] = {}
    for sx, name in ((0.0, "female"), (1.0, "male")):
        for what in ("abstention", "accuracy_decided", "accuracy", "mean_p_male"):
            stats[f"{name}_{what}"] = per(sx, what)
    stats["auc"] = lambda i: _auc(p[i], y[i])
    stats["abstention"] = lambda i: float(np.mean(~decided[i]))
    stats["accuracy_decided"] = lambda i: float(np.mean(right[i][decided[i]])) if decided[i].any() else float("nan")
    stats["accuracy"] = lambda i: float(np.mean(right[i]))
    return stats


def _age_stats(o: dict[str, np.ndarray], y: np.ndarray) -> dict[str, Callable[[np.ndarray], float]]:
    from s2f_desktop.core.traits import AGE_BINS
    from s2f_desktop.training.traits_train import AGE_EDGES, _auc, _balanced_acc
    from s2f_desktop.voice import calibration as cal

    yb = cal.age_bin(y, AGE_EDGES)
    pb = o["binp"].argmax(axis=1)
    p40 = o["binp"][:, 2:].sum(axis=1)
    o40 = (yb >= 2).astype(float)
    big = [b for b in range(len(AGE_BINS)) if np.sum(yb == b) >= 10]
    cov = (y >= o["lo"]) & (y <= o["hi"])
    stats: dict[str, Callable[[np.ndarray], float]] = {
        "band_exact": lambda i: float(np.mean(pb[i] == yb[i])),
        "balanced_band_accuracy": lambda i: _balanced_acc(pb[i], yb[i], big),
        "mae_years": lambda i: float(np.mean(np.abs(o["median"][i] - y[i]))),
        "p40_auc": lambda i: _auc(p40[i], o40[i]),
        "coverage_80": lambda i: float(np.mean(cov[i])),
        "interval_80_width_years": lambda i: float(np.mean(o["hi"][i] - o["lo"][i])),
    }
    for b, name in enumerate(AGE_BINS):
        def cb(i: np.ndarray, b: int = b) -> float:
            j = i[yb[i] == b]
            return float(np.mean(cov[j])) if len(j) else float("nan")
        stats[f"coverage_80_{name}"] = cb
    return stats


def _summarise(arms: dict[str, dict[str, Callable[[np.ndarray], float]]], base: str, n: int,
               boots: list[np.ndarray]) -> dict[str, Any]:
    """Point value, 95 % CI and the paired difference to ``base`` (with its 95 % CI) for every arm and stat."""
    allidx = np.arange(n)
    out: dict[str, Any] = {}
    base_b = {s: np.array([f(i) for i in boots]) for s, f in arms[base].items()}
    for arm, stats in arms.items():
        e: dict[str, Any] = {}
        for s, f in stats.items():
            vb = base_b[s] if arm == base else np.array([f(i) for i in boots])
            v = f(allidx)
            with np.errstate(all="ignore"):
                ci = np.nanpercentile(vb, [2.5, 97.5]).tolist()
            entry: dict[str, Any] = {"value": v, "ci95": ci}
            if arm != base:
                diff = vb - base_b[s]
                with np.errstate(all="ignore"):
                    dci = np.nanpercentile(diff, [2.5, 97.5]).tolist()
                entry["diff_vs_base"] = v - arms[base][s](allidx)
                entry["diff_ci95"] = dci
                entry["diff_excludes_0"] = bool(dci[0] > 0 or dci[1] < 0)
            e[s] = entry
        out[arm] = e
    return out


SEX_ARMS: dict[str, tuple[tuple[str, ...], str]] = {
    "current (GE2E + Praat)": (("emb", "praat"), "none"),
    "GE2E + Praat + eGeMAPS": (("emb", "praat", "ege"), "all"),
    "eGeMAPS alone": (("ege",), "all"),
    "GE2E + eGeMAPS (no Praat)": (("emb", "ege"), "all"),
    "GE2E + Praat + eGeMAPS F0 subset": (("emb", "praat", "ege"), "f0"),
    "GE2E + eGeMAPS F0 subset (no Praat)": (("emb", "ege"), "f0"),
    "GE2E alone (control)": (("emb",), "none"),
    "GE2E + Praat F0 only (control)": (("emb", "praat_f0"), "none"),
}
AGE_ARMS: dict[str, tuple[tuple[str, ...], str, bool]] = {
    "shipped (GE2E raw, years, band-balanced)": (("emb",), "none", True),
    "GE2E standardised (control)": (("emb",), "none", False),
    "GE2E + eGeMAPS": (("emb", "ege"), "all", False),
    "eGeMAPS alone": (("ege",), "all", False),
    "GE2E + Praat + eGeMAPS (all)": (("emb", "praat", "ege"), "all", False),
}


def evaluate_all(cache: Path, data_root: Path, n_boot: int = 1000, log: Callable[[str], None] = print,
                 fold_seed: int | None = None, sex_arms: tuple[str, ...] | None = None,
                 with_age: bool = True, probe: bool = False) -> dict[str, Any]:
    """Every arm, out-of-fold, clean and telephone; bootstrap CIs and paired differences.

    ``probe``: the age arms are the stretched probe (the shipped head) without and with eGeMAPS
    (:data:`PROBE_ARMS`) instead of :data:`AGE_ARMS`, the heads of the round eGeMAPS was first tried with."""
    from s2f_desktop.training import traits_train as T
    from s2f_desktop.training.egemaps import F0_FEATURES, FEATURE_NAMES

    t0 = time.perf_counter()
    d = Data(cache, data_root, fold_seed)
    sex_arm_defs = {a: SEX_ARMS[a] for a in (sex_arms or tuple(SEX_ARMS))}
    age_arm_defs = AGE_ARMS if with_age and not probe else {}
    cols = {"none": None, "all": np.arange(len(FEATURE_NAMES)),
            "f0": np.array([FEATURE_NAMES.index(n) for n in F0_FEATURES])}
    res: dict[str, Any] = {
        "protocol": ("traits_train: same items, 5 grouped folds (group_folds(groups, 5, SEED)), sex on verified "
                     "labels with nested L2 (SEX_L2_GRID), class-balanced weights, clean + telephone rows, "
                     "cross-fitted Platt and symmetric band (choose_band, decided error <= 1 %); age on usable "
                     "face-derived ages, ridge in years on clean rows, band-balanced weights, nested L2, weighted "
                     "split-conformal quantiles cross-fitted per fold. eGeMAPS columns winsorised at the training "
                     f"fold's {WINSOR} percentiles, standardised, NaN -> training mean. 95 % CI: percentile "
                     f"bootstrap over groups ({n_boot} resamples, the same resamples for every arm: paired "
                     "differences vs the first arm)."),
        "fold_seed": T.SEED if fold_seed is None else fold_seed,
        "n_items": d.n, "egemaps_missing_rows": int(np.sum(d.ok & ~d.ege_ok)),
        "sex": {}, "age": {},
    }
    assert np.all(d.ege_ok[d.ok]), "eGeMAPS missing for some clips with features; run --extract first"
    sex_p: dict[str, tuple[dict[str, np.ndarray], np.ndarray]] = {}
    for arm, (names, c) in sex_arm_defs.items():
        oof = sex_oof(d, names, cols[c])
        sex_p[arm] = sex_calibrated(d, oof)
        log(f"  sex arm done: {arm} ({time.perf_counter() - t0:.0f} s)")
    age_o: dict[str, dict[str, dict[str, np.ndarray]]] = {}
    if probe:
        for arm, scale in PROBE_ARMS.items():
            age_o[arm] = age_outputs(d, probe_oof(d, scale))
            log(f"  age arm done: {arm} ({time.perf_counter() - t0:.0f} s)")
    for arm, (names, c, raw) in age_arm_defs.items():
        age_o[arm] = age_outputs(d, age_oof(d, names, cols[c], raw))
        log(f"  age arm done: {arm} ({time.perf_counter() - t0:.0f} s)")
    for v in VARIANTS:
        m = d.sex_train & np.isfinite(sex_p[next(iter(sex_arm_defs))][0][v])
        y, g = d.sex[m], d.groups[m]
        boots = _resamples(g, n_boot, T.SEED)
        arms = {a: _sex_stats(p[v][m], y, band[m]) for a, (p, band) in sex_p.items()}
        res["sex"][v] = {"n": int(m.sum()), "n_female": int(np.sum(y == 0)), "n_male": int(np.sum(y == 1)),
                         "arms": _summarise(arms, next(iter(sex_arm_defs)), int(m.sum()), boots)}
        if not age_o:
            continue
        ma = d.age_train & np.isfinite(age_o[next(iter(age_o))][v]["median"])
        ya, ga = d.age[ma], d.groups[ma]
        boots_a = _resamples(ga, n_boot, T.SEED)
        arms_a = {a: _age_stats({k: o[v][k][ma] for k in o[v]}, ya) for a, o in age_o.items()}
        from s2f_desktop.voice import calibration as cal
        res["age"][v] = {"n": int(ma.sum()),
                         "band_counts": np.bincount(cal.age_bin(ya, T.AGE_EDGES), minlength=4).tolist(),
                         "arms": _summarise(arms_a, next(iter(age_o)), int(ma.sum()), boots_a)}
        log(f"  metrics done: {v} ({time.perf_counter() - t0:.0f} s)")
    res["runtime_s"] = round(time.perf_counter() - t0, 1)
    ext = cache / "egemaps" / "extraction.json"
    if ext.is_file():
        res["extraction"] = json.loads(ext.read_text(encoding="utf-8"))
    return res


def _fmt(e: dict[str, Any], pct: bool, paired: bool) -> str:
    k = 100.0 if pct else 1.0
    dig = 1 if pct else 3
    s = f"{e['value'] * k:.{dig}f} [{e['ci95'][0] * k:.{dig}f}, {e['ci95'][1] * k:.{dig}f}]"
    if paired and "diff_vs_base" in e:
        star = " *" if e["diff_excludes_0"] else ""
        s += (f"<br>diff {e['diff_vs_base'] * k:+.{dig}f} [{e['diff_ci95'][0] * k:+.{dig}f}, "
              f"{e['diff_ci95'][1] * k:+.{dig}f}]{star}")
    return s


def render_md(res: dict[str, Any]) -> str:
    """Readable tables of :func:`evaluate_all`'s results."""
    lines = ["# eGeMAPS-style parameters for the trait heads (issue 13): out-of-fold comparison", "",
             res["protocol"], "",
             "Each cell: value [95 % CI]; below it the paired difference to the first row [95 % CI], "
             "`*` when that interval excludes 0. Percentages for rates; AUC, P(male) as fractions.", ""]
    lines += ["## Sex in brief (issue target: decided accuracy >= 99 % with abstention <= 10 %, women and men)", "",
              "| channel | inputs | women: abstention | women: decided accuracy | men: abstention "
              "| men: decided accuracy |", "|---|---|---|---|---|---|"]
    for v, r in res["sex"].items():
        for arm, e in r["arms"].items():
            cells = []
            for c in ("female_abstention", "female_accuracy_decided", "male_abstention", "male_accuracy_decided"):
                x = e[c]
                d = (f" ({x['diff_vs_base'] * 100:+.1f} [{x['diff_ci95'][0] * 100:+.1f}, "
                     f"{x['diff_ci95'][1] * 100:+.1f}]{'*' if x['diff_excludes_0'] else ''})"
                     if "diff_vs_base" in x else "")
                cells.append(f"{x['value'] * 100:.1f}{d}")
            lines.append(f"| {v} | {arm} | " + " | ".join(cells) + " |")
    lines.append("")
    sex_cols = [("female_abstention", True), ("female_accuracy_decided", True), ("female_accuracy", True),
                ("female_mean_p_male", False), ("male_abstention", True), ("male_accuracy_decided", True),
                ("male_accuracy", True), ("male_mean_p_male", False), ("auc", False)]

    def table(title: str, cols: list[tuple[str, bool]], arms: dict[str, Any]) -> None:
        lines.extend([title, "", "| inputs | " + " | ".join(c for c, _ in cols) + " |", "|---" * (len(cols) + 1) + "|"])
        for arm, e in arms.items():
            lines.append(f"| {arm} | " + " | ".join(_fmt(e[c], p, True) for c, p in cols if c in e) + " |")
        lines.append("")

    for v, r in res["sex"].items():
        table(f"## Sex, {v} (verified labels: {r['n_female']} women, {r['n_male']} men)", sex_cols, r["arms"])
    age_cols = [("band_exact", True), ("balanced_band_accuracy", True), ("mae_years", False), ("p40_auc", False),
                ("coverage_80", True), ("coverage_80_<20", True), ("coverage_80_20-39", True),
                ("coverage_80_40-59", True), ("coverage_80_>=60", True), ("interval_80_width_years", False)]
    for v, r in res["age"].items():
        table(f"## Age, {v} (usable face-derived ages, n = {r['n']}, per band {r['band_counts']})", age_cols,
              r["arms"])
    if "extraction" in res:
        lines += [f"Extraction: {res['extraction']}", ""]
    lines.append(f"Evaluation run time: {res['runtime_s']} s")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m s2f_desktop.training.egemaps_eval", description=__doc__.split("\n")[0])
    ap.add_argument("--cache", type=Path, required=True, help="the trainer's cache folder (holds feat/)")
    ap.add_argument("--data", type=Path, default=Path("../shared/data"), help="data root (shared/data)")
    ap.add_argument("--extract", action="store_true", help="compute and store the eGeMAPS functionals")
    ap.add_argument("--out", type=Path, default=None, help="results.json (results.md is written beside it)")
    ap.add_argument("--boot", type=int, default=1000, help="bootstrap resamples")
    ap.add_argument("--fold-seed", type=int, default=None,
                    help="sensitivity run: other grouped folds (default: the trainer's SEED)")
    ap.add_argument("--sex-arms", nargs="*", default=None, help="only these sex arms (names as in SEX_ARMS)")
    ap.add_argument("--no-age", action="store_true", help="skip the age arms")
    ap.add_argument("--probe", action="store_true",
                    help="age arms: the shipped stretched probe without and with eGeMAPS (PROBE_ARMS)")
    ap.add_argument("--render", type=Path, default=None, help="only re-render results.md from this results.json")
    a = ap.parse_args(argv)
    if a.extract:
        s = extract(a.cache, a.data)
        (a.cache / "egemaps").mkdir(parents=True, exist_ok=True)
        (a.cache / "egemaps" / "extraction.json").write_text(json.dumps(s, indent=1), encoding="utf-8")
        return 0
    if a.render:
        md = render_md(json.loads(a.render.read_text(encoding="utf-8")))
        a.render.with_suffix(".md").write_text(md, encoding="utf-8")
        print(md)
        return 0
    out = a.out or a.cache / "egemaps" / "results.json"
    res = evaluate_all(a.cache, a.data, a.boot, fold_seed=a.fold_seed,
                       sex_arms=tuple(a.sex_arms) if a.sex_arms else None, with_age=not a.no_age, probe=a.probe)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(res, indent=1, allow_nan=True), encoding="utf-8")
    out.with_suffix(".md").write_text(render_md(res), encoding="utf-8")
    print(out.with_suffix(".md").read_text(encoding="utf-8"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
