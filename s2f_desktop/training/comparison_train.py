"""Train and validate ``models/comparison-v1``: GE2E + adaptive s-norm + logistic calibration + ELUB bounds.

Data (``../shared/data``, read-only):

* target (same-speaker) pairs
  - ``librispeech-test-other-10x10``: two disjoint sets of a speaker's utterances (each speaker's ten
    utterances come from ONE chapter in this subset, so these are same-session, different-utterance pairs);
  - ``avspeech-968``: two clips cut from the same YouTube video (the same speaker is *assumed*; it is not
    labelled) — 37 videos;
  - within-recording pairs: the first and the second half of one clip (non-overlapping windows), for
    every avspeech-968 and LibriSpeech-251 clip long enough;
* non-target pairs: sides of two different groups (speaker / YouTube video) of the same sex where a sex
  is known (LibriSpeech's SPEAKERS.TXT; for avspeech the face-model teacher estimate of traits-v1 when it
  is usable), drawn within a cross-validation fold.

Each side is clean or telephone band (voice/channel.py) and is cut to a net-speech duration drawn from
2-30 s (shorter when the material is shorter) by taking its first GE2E windows, which is what a case of
that duration computes.

Validation: 5-fold cross-validation grouped by speaker / YouTube video (no speaker or video in both the
training and the test part of a fold; the s-norm cohort of a fold excludes the test groups and, for each
trial, its own groups). Metrics with ``lir`` (Cllr, Cllr_min, ELUB bounds, ECE) and 95 % intervals from a
cluster bootstrap over groups.

Across sources (``cross_source`` in metrics.json; no shipped file depends on it): the same procedure run on
avspeech-968 trials only (cohort, calibration, bounds) and tested on LibriSpeech trials, and the reverse.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Callable

import numpy as np

from s2f_desktop.training.data import AVSPEECH, LIBRI_TEST, LIBRI_TRAIN, Item, avspeech_items, librispeech_items
from s2f_desktop.voice import lr as lrm

SEED = 14
N_FOLDS = 5
DURATIONS = (2.0, 3.0, 5.0, 8.0, 12.0, 20.0, 30.0)
TOP_K = 200
MIN_SPEECH_S = 2.0
CHANNELS = ("clean", "telephone")


def _nwin(d: float) -> int:
    from s2f_desktop.inference.comparison import windows_for_speech

    return windows_for_speech(d)


def _speech_of(n: int) -> float:
    """Net speech represented by the first ``n`` windows (window 1.6 s, hop 1/1.3 s)."""
    return 1.6 + (n - 1) / 1.3


def teacher_sex(models: Path) -> dict[str, str]:
    """avspeech clip id -> 'male'/'female' from traits-v1's face-model teacher labels (only where usable)."""
    p = models / "traits-v1" / "teacher_labels.json"
    if not p.is_file():
        return {}
    clips = json.loads(p.read_text(encoding="utf-8"))["clips"]
    out = {}
    for cid, c in clips.items():
        if c.get("sex_usable") and abs(c["p_male"] - 0.5) > 0.4:
            out[cid] = "male" if c["p_male"] > 0.5 else "female"
    return out


class Sides:
    """Pool of comparison sides: (clip windows subsets, channel) -> embedding, speech, group."""

    def __init__(self, wins: dict[str, list[np.ndarray | None]], speech: list[float]) -> None:
        self.wins = wins
        self.emb: list[np.ndarray] = []
        self.speech: list[float] = []
        self.group: list[str] = []
        self.chan: list[str] = []

    def add(self, group: str, channel: str, parts: list[tuple[int, int, int]], max_win: int,
            embed_channel: str | None = None) -> int:
        """A side made of (clip, start window, end window) parts, truncated to ``max_win`` windows.

        ``channel`` is the side's recording channel; ``embed_channel`` the version embedded (the telephone
        band when the other side is narrow-band: both sides are compared in their common band).
        """
        ws = []
        left = max_win
        for clip, a, b in parts:
            w = self.wins[embed_channel or channel][clip]
            if w is None or left <= 0:
                continue
            take = w[a:min(b, a + left)]
            ws.append(take)
            left -= len(take)
        allw = np.concatenate(ws) if ws else np.zeros((0, 256), np.float32)
        if len(allw) == 0:
            return -1
        self.emb.append(lrm.unit(allw.mean(axis=0)))
        self.speech.append(_speech_of(len(allw)))
        self.group.append(group)
        self.chan.append(channel)
        return len(self.emb) - 1


def build_trials(items: list[Item], wins: dict[str, list[Any]], sexes: dict[str, str], rng: np.random.Generator,
                 n_nontarget_per_fold: int = 6000) -> tuple[Sides, np.ndarray, dict[str, int]]:
    """Sides and trials (rows: q side, k side, label, kind) plus the fold of every group."""
    groups = sorted({it.group for it in items})
    # Folds: test-other speakers spread evenly; other groups at random.
    fold: dict[str, int] = {}
    lt = [g for g in groups if any(it.group == g and it.source == LIBRI_TEST for it in items)]
    for i, g in enumerate(sorted(lt)):
        fold[g] = i % N_FOLDS
    rest = [g for g in groups if g not in fold]
    perm = rng.permutation(len(rest))
    for i, j in enumerate(perm):
        fold[rest[j]] = i % N_FOLDS
    sides = Sides(wins, [])
    # q, k, label, kind (0 test-other, 1 same video, 2 halves, 3 non-target)
    trials: list[tuple[int, int, int, int]] = []
    by_group: dict[str, list[int]] = {}
    for i, it in enumerate(items):
        by_group.setdefault(it.group, []).append(i)

    def n_of(i: int) -> int:
        w = wins["clean"][i]
        return 0 if w is None else len(w)

    def dur() -> int:
        return _nwin(float(rng.choice(DURATIONS)))

    def chans() -> tuple[str, str]:
        c = rng.integers(0, 3)
        pair = [("clean", "clean"), ("clean", "telephone"), ("telephone", "telephone")][c]
        return pair if rng.random() < 0.5 else (pair[1], pair[0])

    def add_pair(g: str, pq: list[tuple[int, int, int]], pk: list[tuple[int, int, int]], kind: int, label: int,
                 gk: str | None = None) -> None:
        cq, ck = chans()
        common = "telephone" if "telephone" in (cq, ck) else "clean"
        q = sides.add(g, cq, pq, dur(), common)
        k = sides.add(gk or g, ck, pk, dur(), common)
        if q >= 0 and k >= 0 and min(sides.speech[q], sides.speech[k]) >= MIN_SPEECH_S:
            trials.append((q, k, label, kind))

    min_half = _nwin(MIN_SPEECH_S)
    for g, idx in by_group.items():
        src = items[idx[0]].source
        if src == LIBRI_TEST:
            for _ in range(40):
                p = rng.permutation(idx)
                add_pair(g, [(i, 0, n_of(i)) for i in p[:5]], [(i, 0, n_of(i)) for i in p[5:]], 0, 1)
        elif len(idx) >= 2:
            for _ in range(4):
                a, b = rng.permutation(idx)[:2]
                add_pair(g, [(a, 0, n_of(a))], [(b, 0, n_of(b))], 1, 1)
        if src != LIBRI_TEST:
            for i in idx:
                n = n_of(i)
                h = n // 2
                # Windows hop 0.77 s and last 1.6 s: leave one window out each side of the cut (no shared audio).
                if h - 1 >= min_half and n - (h + 1) >= min_half:
                    add_pair(g, [(i, 0, h - 1)], [(i, h + 1, n)], 2, 1)
    # Non-targets within each fold, same sex where both sexes are known.
    sex_of: dict[str, str] = {}
    for it in items:
        s = it.sex or sexes.get(it.id)
        if s:
            sex_of.setdefault(it.group, s)
    for f in range(N_FOLDS):
        gs = [g for g in groups if fold[g] == f]
        made = 0
        while made < n_nontarget_per_fold:
            ga, gb = rng.choice(len(gs), 2, replace=False)
            a, b = gs[ga], gs[gb]
            if a in sex_of and b in sex_of and sex_of[a] != sex_of[b]:
                continue
            ia, ib = rng.choice(by_group[a]), rng.choice(by_group[b])
            before = len(trials)
            add_pair(a, [(ia, 0, n_of(ia))], [(ib, 0, n_of(ib))], 3, 0, gk=b)
            made += len(trials) - before
    return sides, np.array(trials, dtype=np.int64), fold


def _fit_logistic(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, float]:
    """Class-balanced logistic regression (natural-log odds), nearly unregularised."""
    from sklearn.linear_model import LogisticRegression

    m = LogisticRegression(class_weight="balanced", C=1e4, max_iter=2000).fit(x, y)
    return m.coef_[0].astype(float), float(m.intercept_[0])


def _weighted_cllr(llr: np.ndarray, y: np.ndarray, w: np.ndarray) -> float:
    ln = llr * np.log(10.0)
    c1 = np.sum(w[y == 1] * np.logaddexp(0, -ln[y == 1]) / np.log(2)) / max(w[y == 1].sum(), 1e-12)
    c0 = np.sum(w[y == 0] * np.logaddexp(0, ln[y == 0]) / np.log(2)) / max(w[y == 0].sum(), 1e-12)
    return float(0.5 * (c0 + c1))


def _weighted_cllr_min(llr: np.ndarray, y: np.ndarray, w: np.ndarray) -> float:
    from sklearn.isotonic import IsotonicRegression

    # PAV on balanced weights gives the optimal monotone posterior at prior 0.5 -> LLR = logit(p).
    bw = np.where(y == 1, w / max(w[y == 1].sum(), 1e-12), w / max(w[y == 0].sum(), 1e-12))
    p = IsotonicRegression(y_min=1e-6, y_max=1 - 1e-6, out_of_bounds="clip").fit(llr, y, sample_weight=bw).predict(llr)
    return _weighted_cllr(np.log10(p / (1 - p)), y, w)


def _weighted_eer(score: np.ndarray, y: np.ndarray, w: np.ndarray) -> float:
    o = np.argsort(-score, kind="mergesort")
    s, yy, ww = score[o], y[o], w[o]
    tp = np.cumsum(ww * (yy == 1)) / max(ww[yy == 1].sum(), 1e-12)
    fp = np.cumsum(ww * (yy == 0)) / max(ww[yy == 0].sum(), 1e-12)
    # Only at the end of a run of equal scores: no threshold separates tied LRs (many sit at an ELUB bound),
    # so a point inside a run would order its trials by their position in the list and flatter the EER.
    end = np.r_[s[1:] != s[:-1], True]
    fnr, fp = 1 - tp[end], fp[end]
    i = int(np.argmin(np.abs(fnr - fp)))
    return float((fnr[i] + fp[i]) / 2)


def metrics(llr: np.ndarray, y: np.ndarray, gq: np.ndarray, gk: np.ndarray, n_boot: int,
            rng: np.random.Generator) -> dict[str, Any]:
    """Cllr, Cllr_min (lir), EER, rates of misleading evidence, with 95 % cluster-bootstrap intervals."""
    import lir.metrics
    from lir.data.models import LLRData

    d = LLRData(features=llr.astype(float), labels=y.astype(int))
    point = {"cllr": float(lir.metrics.cllr(d)), "cllr_min": float(lir.metrics.cllr_min(d)),
             "eer": _weighted_eer(llr, y, np.ones(len(y))),
             "rme_hp": float(np.mean(llr[y == 1] < 0)), "rme_hd": float(np.mean(llr[y == 0] > 0))}
    point["cllr_cal"] = point["cllr"] - point["cllr_min"]
    groups = np.unique(np.concatenate([gq, gk]))
    gi = {g: i for i, g in enumerate(groups)}
    iq = np.array([gi[g] for g in gq])
    ik = np.array([gi[g] for g in gk])
    boots: dict[str, list[float]] = {k: [] for k in point}
    for _ in range(n_boot):
        c = rng.multinomial(len(groups), np.full(len(groups), 1 / len(groups))).astype(float)
        # A trial of two groups counts as often as both are drawn; within-group trials as often as the group.
        w = np.where(iq == ik, c[iq], c[iq] * c[ik])
        if w[y == 1].sum() == 0 or w[y == 0].sum() == 0:
            continue
        cl, cm = _weighted_cllr(llr, y, w), _weighted_cllr_min(llr, y, w)
        boots["cllr"].append(cl)
        boots["cllr_min"].append(cm)
        boots["cllr_cal"].append(cl - cm)
        boots["eer"].append(_weighted_eer(llr, y, w))
        boots["rme_hp"].append(float(np.sum(w[y == 1] * (llr[y == 1] < 0)) / w[y == 1].sum()))
        boots["rme_hd"].append(float(np.sum(w[y == 0] * (llr[y == 0] > 0)) / w[y == 0].sum()))
    out: dict[str, Any] = {"n_target": int((y == 1).sum()), "n_non_target": int((y == 0).sum())}
    for k, v in point.items():
        lo, hi = (np.percentile(boots[k], [2.5, 97.5]) if boots[k] else (np.nan, np.nan))
        out[k] = {"value": round(v, 4), "ci95": [round(float(lo), 4), round(float(hi), 4)]}
    return out


def _snorm_all(sides: Sides, trials: np.ndarray, cohort: np.ndarray, cgroup: np.ndarray,
               exclude_groups: set[str]) -> np.ndarray:
    """AS-norm scores of trials; each side's cohort excludes its trial's groups and ``exclude_groups``."""
    emb = np.stack(sides.emb)
    g = np.array(sides.group)
    base = np.isin(cgroup, list(exclude_groups)) if exclude_groups else np.zeros(len(cgroup), bool)
    q, k = trials[:, 0], trials[:, 1]
    raw = np.sum(emb[q] * emb[k], axis=1)
    out = np.empty(len(trials))
    for a in range(0, len(trials), 2000):
        sl = slice(a, a + 2000)
        qq, kk = q[sl], k[sl]
        mask = base[None, :] | (cgroup[None, :] == g[qq][:, None]) | (cgroup[None, :] == g[kk][:, None])
        qs = lrm.cohort_stats(emb[qq], cohort, TOP_K, mask)
        ks = lrm.cohort_stats(emb[kk], cohort, TOP_K, mask)
        out[sl] = lrm.as_norm(raw[sl], qs, ks)
    return out


#: The two sources of the cross-source runs: LibriSpeech's two subsets count as one source.
SOURCES = {"avspeech": (AVSPEECH,), "librispeech": (LIBRI_TRAIN, LIBRI_TEST)}
#: The conditions reported for each cross-source run (channel pairs, and targets across utterances).
CROSS_CONDITIONS = ("all", "clean/clean", "clean/telephone", "telephone/telephone",
                    "targets across utterances only (no within-clip halves)")


def _conditions(base: np.ndarray, chq: np.ndarray, chk: np.ndarray, kind: np.ndarray) -> dict[str, np.ndarray]:
    """Masks of :data:`CROSS_CONDITIONS` within ``base``, in that order."""
    masks = (base, base & (chq == "clean") & (chk == "clean"), base & (chq != chk),
             base & (chq == "telephone") & (chk == "telephone"), base & (kind != 2))
    return dict(zip(CROSS_CONDITIONS, masks, strict=True))


def cross_source(sides: Sides, trials: np.ndarray, fold: dict[str, int], src_of: dict[str, str],
                 cohort: np.ndarray, cgroup: np.ndarray, cv_b: np.ndarray, n_boot: int,
                 log: Callable[[str], None] = print) -> dict[str, Any]:
    """Calibrate on one source's trials only and test on the other source's trials, both ways.

    For each direction the shipped procedure is repeated with the training source alone: AS-norm cohort of
    that source's cohort entries, 5-fold cross-validation grouped by speaker / video (same folds) to get the
    cross-validated LRs whose ELUB bounds are taken, then the logistic calibration fitted on all that
    source's trials. The other source's trials (both sides from it) are scored with that cohort,
    calibration and bounds. Non-target trials between the two sources belong to neither and are left out.
    ``cv_b`` (the shipped, bounded cross-validated LRs) gives the in-source figures of the same test trials.
    Leaves every input unchanged and uses its own random generator (the shipped files do not depend on it).
    """
    from lir.algorithms.bayeserror import elub

    g = np.array(sides.group)
    gq, gk = g[trials[:, 0]], g[trials[:, 1]]
    sq = np.array([src_of[x] for x in gq])
    sk = np.array([src_of[x] for x in gk])
    fq = np.array([fold[x] for x in gq])
    fk = np.array([fold[x] for x in gk])
    y = trials[:, 2]
    kind = trials[:, 3]
    sp = np.array(sides.speech)
    spq, spk = sp[trials[:, 0]], sp[trials[:, 1]]
    chq = np.array(sides.chan)[trials[:, 0]]
    chk = np.array(sides.chan)[trials[:, 1]]
    csrc = np.array([src_of[x] for x in cgroup])
    brng = np.random.default_rng(SEED + 2)
    out: dict[str, Any] = {}
    for train_src, test_src in (("avspeech", "librispeech"), ("librispeech", "avspeech")):
        on_tr = (sq == train_src) & (sk == train_src)
        on_te = (sq == test_src) & (sk == test_src)
        cm = csrc == train_src
        coh, cg = cohort[cm], cgroup[cm]
        # The shipped procedure on the training source alone: cross-validated LRs for the ELUB bounds ...
        cv = np.full(len(trials), np.nan)
        for f in range(N_FOLDS):
            test_groups = {x for x, v in fold.items() if v == f}
            tr = on_tr & (fq != f) & (fk != f)
            te = on_tr & (fq == f) & (fk == f)
            sn_tr = _snorm_all(sides, trials[tr], coh, cg, test_groups)
            sn_te = _snorm_all(sides, trials[te], coh, cg, test_groups)
            c, i = _fit_logistic(lrm.quality_features(sn_tr, spq[tr], spk[tr]), y[tr])
            cv[te] = (i + lrm.quality_features(sn_te, spq[te], spk[te]) @ c) / np.log(10)
        ev = ~np.isnan(cv)
        lower, upper = (float(b) for b in elub(cv[ev].copy(), y[ev].astype(float)))
        # ... and the calibration fitted on all its trials (cohort excluding each trial's own groups).
        sn = _snorm_all(sides, trials[on_tr], coh, cg, set())
        coef, icpt = _fit_logistic(lrm.quality_features(sn, spq[on_tr], spk[on_tr]), y[on_tr])
        # The other source's trials, scored with the training source's cohort, calibration and bounds.
        sn_te = _snorm_all(sides, trials[on_te], coh, cg, set())
        llr = np.full(len(trials), np.nan)
        llr[on_te] = np.clip((icpt + lrm.quality_features(sn_te, spq[on_te], spk[on_te]) @ coef) / np.log(10),
                             lower, upper)
        res: dict[str, Any] = {}
        ins: dict[str, Any] = {}
        for name, m in _conditions(on_te, chq, chk, kind).items():
            if (y[m] == 1).sum() < 5 or (y[m] == 0).sum() < 5:
                continue
            res[name] = metrics(llr[m], y[m], gq[m], gk[m], n_boot, brng)
            ins[name] = metrics(cv_b[m], y[m], gq[m], gk[m], n_boot, brng)
            log(f"{train_src} -> {test_src}, {name}: Cllr {res[name]['cllr']['value']:.3f} "
                f"(in-source CV {ins[name]['cllr']['value']:.3f}) min {res[name]['cllr_min']['value']:.3f} "
                f"EER {res[name]['eer']['value']:.3f} (t {res[name]['n_target']}, nt {res[name]['n_non_target']})")
        out[f"{train_src}_to_{test_src}"] = {
            "calibrated_on": list(SOURCES[train_src]), "tested_on": list(SOURCES[test_src]),
            "calibration_trials": {"target": int((y[on_tr] == 1).sum()), "non_target": int((y[on_tr] == 0).sum())},
            "cohort_size": int(cm.sum()),
            "calibration": {"coef": [float(c) for c in coef], "intercept": icpt, "lower": lower, "upper": upper},
            "metrics": res, "in_source_cv": ins}
    out["left_out_non_targets_between_sources"] = int(((sq != sk) & (y == 0)).sum())
    return out


def clips_below_min_snr(items: list[Item], quality_cache: Path, device: str,
                        log: Callable[[str], None]) -> dict[str, Any]:
    """Share of each source's whole clips (clean) whose estimated SNR is under the quality gate's minimum, on
    which a comparison abstains (``inference.comparison``); the validation trials were drawn without that
    rule, so they include such clips."""
    from s2f_desktop.audio.quality import MIN_SNR_DB
    from s2f_desktop.training.features import compute_features

    quality = compute_features(items, quality_cache, variants=("clean",), device=device, log=log)["clean"]["quality"]
    out: dict[str, Any] = {"min_snr_db": MIN_SNR_DB}
    for src in (AVSPEECH, LIBRI_TRAIN, LIBRI_TEST):
        snr = [q.get("snr_db") for it, q in zip(items, quality) if it.source == src]
        out[src] = {"clips": len(snr), "below": sum(v is not None and v < MIN_SNR_DB for v in snr)}
    return out


def train_comparison(data_root: Path, out_dir: Path, cache_dir: Path, device: str = "cpu", n_boot: int = 500,
                     log: Callable[[str], None] = print, quality_cache: Path | None = None) -> dict[str, Any]:
    """Build trials, cross-validate, fit the final model and write ``out_dir`` (manifest, card, plots).

    ``quality_cache``: the trait trainer's feature cache (default ``cache_dir``, as ``make train`` shares
    one), read for each clip's quality gate record: how many clips the SNR abstention rule would stop.
    """
    from lir.algorithms.bayeserror import elub

    from s2f_desktop.inference.embedding import resemblyzer_spec
    from s2f_desktop.system.env import models_dir
    from s2f_desktop.training.comparison_data import clip_windows

    rng = np.random.default_rng(SEED)
    items = (librispeech_items(data_root, LIBRI_TEST) + librispeech_items(data_root, LIBRI_TRAIN)
             + avspeech_items(data_root))
    cw = clip_windows(items, cache_dir / "windows", device=device, log=log)
    wins = {ch: [None if r is None else r[0] for r in cw[ch]] for ch in CHANNELS}
    sexes = teacher_sex(models_dir())
    sides, trials, fold = build_trials(items, wins, sexes, rng)
    log(f"{len(sides.emb)} sides, {len(trials)} trials ({int(trials[:, 2].sum())} target)")

    # Cohort: full clips of avspeech-968 and LibriSpeech-251, clean and telephone band.
    coh_wins = [(i, w) for ch in CHANNELS for i, (it, w) in enumerate(zip(items, wins[ch]))
                if it.source != LIBRI_TEST and w is not None]
    cohort = np.stack([lrm.unit(w.mean(axis=0)) for _, w in coh_wins]).astype(np.float32)
    coh_idx = [(i, "") for i, _ in coh_wins]
    cgroup = np.array([items[i].group for i, _ in coh_idx])

    g = np.array(sides.group)
    gq, gk = g[trials[:, 0]], g[trials[:, 1]]
    fq = np.array([fold[x] for x in gq])
    fk = np.array([fold[x] for x in gk])
    y = trials[:, 2]
    sp = np.array(sides.speech)
    spq, spk = sp[trials[:, 0]], sp[trials[:, 1]]
    raw = np.sum(np.stack(sides.emb)[trials[:, 0]] * np.stack(sides.emb)[trials[:, 1]], axis=1)

    cv_llr = np.full(len(trials), np.nan)
    cv_llr_plain = np.full(len(trials), np.nan)
    cv_llr_raw = np.full(len(trials), np.nan)
    cv_sn = np.full(len(trials), np.nan)
    for f in range(N_FOLDS):
        test_groups = {x for x, v in fold.items() if v == f}
        tr = (fq != f) & (fk != f)
        te = (fq == f) & (fk == f)
        sn_tr = _snorm_all(sides, trials[tr], cohort, cgroup, test_groups)
        sn_te = _snorm_all(sides, trials[te], cohort, cgroup, test_groups)
        coef, icpt = _fit_logistic(lrm.quality_features(sn_tr, spq[tr], spk[tr]), y[tr])
        cv_llr[te] = (icpt + lrm.quality_features(sn_te, spq[te], spk[te]) @ coef) / np.log(10)
        c1, i1 = _fit_logistic(sn_tr[:, None], y[tr])
        cv_llr_plain[te] = (i1 + sn_te * c1[0]) / np.log(10)
        c2, i2 = _fit_logistic(lrm.quality_features(raw[tr], spq[tr], spk[tr]), y[tr])
        cv_llr_raw[te] = (i2 + lrm.quality_features(raw[te], spq[te], spk[te]) @ c2) / np.log(10)
        cv_sn[te] = sn_te
        log(f"fold {f}: {int(tr.sum())} training, {int(te.sum())} test trials")
    ev = ~np.isnan(cv_llr)
    lower, upper = elub(cv_llr[ev].copy(), y[ev].astype(float))
    lower, upper = float(lower), float(upper)
    cv_b = np.clip(cv_llr, lower, upper)
    log(f"ELUB bounds {lower:.2f} .. {upper:.2f}")

    # Final model: all trials, cohort excluding only each trial's own groups.
    sn_all = _snorm_all(sides, trials, cohort, cgroup, set())
    coef, icpt = _fit_logistic(lrm.quality_features(sn_all, spq, spk), y)

    kind = trials[:, 3]
    chq = np.array(sides.chan)[trials[:, 0]]
    chk = np.array(sides.chan)[trials[:, 1]]
    mind = np.minimum(spq, spk)
    maxd = np.maximum(spq, spk)
    conds = {
        "all": ev,
        "clean/clean": ev & (chq == "clean") & (chk == "clean"),
        "clean/telephone": ev & (chq != chk),
        "telephone/telephone": ev & (chq == "telephone") & (chk == "telephone"),
        "short/short (both < 5 s)": ev & (maxd < 5),
        "short/long (< 5 s vs >= 10 s)": ev & (mind < 5) & (maxd >= 10),
        "long/long (both >= 10 s)": ev & (mind >= 10),
        "2-3 s shorter side": ev & (mind < 3),
        "targets across utterances only (no within-clip halves)": ev & (kind != 2),
    }
    brng = np.random.default_rng(SEED + 1)
    results: dict[str, Any] = {}
    for name, m in conds.items():
        if (y[m] == 1).sum() < 5 or (y[m] == 0).sum() < 5:
            continue
        results[name] = metrics(cv_b[m], y[m], gq[m], gk[m], n_boot, brng)
        log(f"{name}: Cllr {results[name]['cllr']['value']:.3f} min {results[name]['cllr_min']['value']:.3f} "
            f"EER {results[name]['eer']['value']:.3f} "
            f"(t {results[name]['n_target']}, nt {results[name]['n_non_target']})")
    tried = {
        "ge2e cosine + logistic with duration (no s-norm)":
            metrics(np.clip(cv_llr_raw, lower, upper)[ev], y[ev], gq[ev], gk[ev], 0, brng),
        "as-norm + logistic without duration":
            metrics(np.clip(cv_llr_plain, lower, upper)[ev], y[ev], gq[ev], gk[ev], 0, brng),
        "as-norm + logistic with duration, unbounded": metrics(cv_llr[ev], y[ev], gq[ev], gk[ev], 0, brng),
    }
    try:
        from lir.algorithms.kde import KDECalibrator

        kde_llr = np.full(len(trials), np.nan)
        for f in range(N_FOLDS):
            tr = (fq != f) & (fk != f) & ev
            te = (fq == f) & (fk == f)
            kc = KDECalibrator(bandwidth="silverman").fit(cv_sn[tr], y[tr])
            kde_llr[te] = kc.transform(cv_sn[te])
        kde_llr = np.clip(kde_llr, lower, upper)
        tried["as-norm + lir KDE calibrator (no duration)"] = metrics(kde_llr[ev], y[ev], gq[ev], gk[ev], 0, brng)
    except Exception as exc:  # noqa: BLE001 -- a comparison that failed is reported, not fatal
        tried["as-norm + lir KDE calibrator (no duration)"] = {"error": str(exc)[:200]}
    for k, v in tried.items():
        if "cllr" in v:
            log(f"tried {k}: Cllr {v['cllr']['value']:.3f} min {v['cllr_min']['value']:.3f} "
                f"EER {v['eer']['value']:.3f}")
    src_of = {it.group: src for it in items for src, names in SOURCES.items() if it.source in names}
    xsource = cross_source(sides, trials, fold, src_of, cohort, cgroup, cv_b, n_boot, log)

    cal = lrm.Calibration(TOP_K, tuple(float(c) for c in coef), icpt, lower, upper, MIN_SPEECH_S, max(DURATIONS),
                          {"features": "[snorm, snorm*q, q], q = log2(min(speech_q, speech_k) / 3 s)",
                           "odds": "natural log",
                           "bounds": "ELUB (lir.algorithms.bayeserror.elub) of the cross-validated log10 LRs"})
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "calibration.json").write_text(json.dumps(cal.to_dict(), indent=1, sort_keys=True) + "\n",
                                              encoding="utf-8")
    np.save(out_dir / "cohort.npy", cohort.astype(np.float16))
    # Validation LLRs (cross-validated, bounded) for Tippett plots in the app and the report.
    np.savez_compressed(out_dir / "validation.npz", log10_lr=cv_b[ev].astype(np.float32), label=y[ev].astype(np.int8),
                        speech_q=spq[ev].astype(np.float32), speech_k=spk[ev].astype(np.float32),
                        channel_q=(chq[ev] == "telephone").astype(np.int8),
                        channel_k=(chk[ev] == "telephone").astype(np.int8))
    kinds = {0: "test-other utterance sets", 1: "same-video avspeech clips", 2: "within-clip halves", 3: "non-target"}
    result = {"metrics": results, "tried": tried, "cross_source": xsource, "calibration": cal.to_dict(),
              "trials": {kinds[k]: int((kind[ev] == k).sum()) for k in kinds},
              "groups": len(fold), "folds": N_FOLDS, "embedding": resemblyzer_spec().as_record(),
              "cohort": {"size": int(len(cohort)), "sources": [AVSPEECH, LIBRI_TRAIN], "channels": list(CHANNELS)},
              "n_boot": n_boot, "seed": SEED,
              "clips_below_min_speech": {
                  src: round(float(np.mean([(r is None or r[1] < MIN_SPEECH_S)
                                            for it, r in zip(items, cw["clean"]) if it.source == src])), 4)
                  for src in (AVSPEECH, LIBRI_TRAIN, LIBRI_TEST)},
              "clips_below_min_snr": clips_below_min_snr(items, quality_cache or cache_dir, device, log)}
    (out_dir / "metrics.json").write_text(json.dumps(result, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    from s2f_desktop.training.comparison_card import write_card

    write_card(out_dir, result, cv_b[ev], y[ev])
    return result
