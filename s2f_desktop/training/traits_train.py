"""Train, calibrate and evaluate the trait heads; write ``models/traits-<version>/``.

Procedure (every step seeded; the same data give byte-identical weights):

1. Items: avspeech-968 (sex and age from the face teacher) and LibriSpeech
   train-clean-251 (sex from SPEAKERS.TXT, no ages).
2. Features: GE2E embedding + Praat measures for each clip, clean and telephone-band
   (augmentation: both variants are training rows; they share the clip's group).
3. Splits: 5 folds grouped by YouTube video / LibriSpeech speaker, so no speaker is in
   both the training and the evaluation part of a fold.
4. Heads fitted per fold; out-of-fold (OOF) outputs are calibrated (Platt for sex,
   residual quantiles for age). Reported metrics use *cross-fitted* calibration (the
   calibration applied to fold k was fitted on the other folds' OOF outputs), so the
   calibration is never evaluated on the data it was fitted on.
5. Final heads are refitted on everything; calibration is fitted on all OOF outputs.
6. Metrics get 95 % CIs from a bootstrap over groups (videos / speakers).
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np

from s2f_desktop.core.traits import AGE_BINS
from s2f_desktop.training.data import LIBRI_TRAIN, AVSPEECH, Item, avspeech_items, librispeech_items
from s2f_desktop.training.features import FEATURE_VERSION, compute_features
from s2f_desktop.training.teacher import TEACHER_ID, face_labels
from s2f_desktop.voice import calibration as cal
from s2f_desktop.voice.acoustics import HEAD_FEATURES

SEED = 20240611
FOLDS = 5
SEX_L2 = 300.0
AGE_L2 = 1000.0
#: Face-teacher sex confidence below which a clip's sex label is too uncertain to train or score on.
TEACHER_MIN_SEX_CONF = 0.8
#: P(male) band in which the sex head abstains.
UNCERTAIN_BAND = (0.2, 0.8)
MIN_NET_SPEECH_S = 3.0
MIN_VOICED_S = 0.5
MIN_BIN_PROBABILITY = 0.6
AGE_CLIP = (12.0, 85.0)
AGE_EDGES = (20.0, 40.0, 60.0)


def _standardiser(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    mean = np.nanmean(x, axis=0)
    scale = np.nanstd(x, axis=0)
    return np.nan_to_num(mean), np.where(np.nan_to_num(scale) > 1e-8, np.nan_to_num(scale), 1.0)


def _z(x: np.ndarray, mean: np.ndarray, scale: np.ndarray) -> np.ndarray:
    z = (x - mean) / scale
    return np.where(np.isfinite(z), z, 0.0)


def select_items(root: Path, limit: int | None) -> list[Item]:
    """All training items, or for a smoke run the first ``limit`` groups of each corpus."""
    av, ls = avspeech_items(root), librispeech_items(root, LIBRI_TRAIN)
    if limit:
        def first_groups(items: list[Item]) -> list[Item]:
            keep = sorted({it.group for it in items})[:limit]
            return [it for it in items if it.group in keep]
        av, ls = first_groups(av), first_groups(ls)
    return av + ls


def train_traits(data_root: Path, out_dir: Path, cache_dir: Path, *, limit: int | None = None,
                 version: str = "v1", device: str = "cpu", n_boot: int = 1000,
                 log: Callable[[str], None] = print) -> dict[str, Any]:
    """Run the whole procedure and write the model folder; returns the metrics."""
    t0 = time.perf_counter()
    items = select_items(data_root, limit)
    log(f"{len(items)} clips ({sum(i.source == AVSPEECH for i in items)} avspeech, "
        f"{sum(i.source == LIBRI_TRAIN for i in items)} LibriSpeech)")
    faces = face_labels(items, cache_dir / "faces.json", log=log)
    t_faces = time.perf_counter()
    feats = compute_features(items, cache_dir, device=device, log=log)
    t_feats = time.perf_counter()

    n = len(items)
    groups = np.array([it.group for it in items])
    is_av = np.array([it.source == AVSPEECH for it in items])
    sex = np.full(n, np.nan)
    age = np.full(n, np.nan)
    n_uncertain_teacher = 0
    for i, it in enumerate(items):
        if it.sex is not None:
            sex[i] = 1.0 if it.sex == "male" else 0.0
        elif it.id in faces:
            f = faces[it.id]
            age[i] = f["age"]
            if max(f["p_male"], 1 - f["p_male"]) >= TEACHER_MIN_SEX_CONF:
                sex[i] = 1.0 if f["p_male"] >= 0.5 else 0.0
            else:
                n_uncertain_teacher += 1
    ok = feats["clean"]["ok"] & feats["telephone"]["ok"]
    xc, xt = feats["clean"]["x"], feats["telephone"]["x"]
    folds = cal.group_folds(groups, FOLDS, SEED)

    # ---------------------------------------------------------------- cross-validation
    oof_sex = {"clean": np.full(n, np.nan), "telephone": np.full(n, np.nan)}
    oof_age = {"clean": np.full(n, np.nan), "telephone": np.full(n, np.nan)}
    for k in range(FOLDS):
        tr, te = (folds != k) & ok, (folds == k) & ok
        xtr = np.vstack([xc[tr], xt[tr]])
        mean, scale = _standardiser(xtr)
        s_tr = np.concatenate([sex[tr], sex[tr]])
        m = np.isfinite(s_tr)
        w, b = cal.fit_logistic(_z(xtr, mean, scale)[m], s_tr[m], l2=SEX_L2)
        a_tr = np.concatenate([age[tr], age[tr]])
        ma = np.isfinite(a_tr)
        aw, ab = cal.fit_ridge(_z(xtr, mean, scale)[ma], a_tr[ma], l2=AGE_L2)
        for name, x in (("clean", xc), ("telephone", xt)):
            zt = _z(x[te], mean, scale)
            oof_sex[name][te] = zt @ w + b
            oof_age[name][te] = zt @ aw + ab
        log(f"  fold {k + 1}/{FOLDS} done")

    metrics = evaluate(oof_sex, oof_age, sex, age, groups, folds, ok, n_boot, log)
    metrics["sex_disagreements_avspeech"] = disagreement_analysis(oof_sex["clean"], sex, xc, is_av & ok)

    # ---------------------------------------------------------------- final fit
    xall = np.vstack([xc[ok], xt[ok]])
    mean, scale = _standardiser(xall)
    s_all = np.concatenate([sex[ok], sex[ok]])
    m = np.isfinite(s_all)
    w, b = cal.fit_logistic(_z(xall, mean, scale)[m], s_all[m], l2=SEX_L2)
    a_all = np.concatenate([age[ok], age[ok]])
    ma = np.isfinite(a_all)
    aw, ab = cal.fit_ridge(_z(xall, mean, scale)[ma], a_all[ma], l2=AGE_L2)
    logits = np.concatenate([oof_sex["clean"], oof_sex["telephone"]])
    ys = np.concatenate([sex, sex])
    mm = np.isfinite(logits) & np.isfinite(ys)
    pa, pb = cal.fit_platt(logits[mm], ys[mm])
    res = np.concatenate([age - oof_age["clean"], age - oof_age["telephone"]])
    res = res[np.isfinite(res)]
    quantiles = np.percentile(res, np.arange(101))

    metrics.update(external_test(data_root, cache_dir, device, mean, scale, w, b, pa, pb, n_boot, log, limit))
    t_end = time.perf_counter()
    timings = {"faces_s": round(t_faces - t0, 1), "features_s": round(t_feats - t_faces, 1),
               "fit_and_evaluate_s": round(t_end - t_feats, 1), "total_s": round(t_end - t0, 1)}
    data_summary = {
        "clips": int(n), "clips_with_features": int(ok.sum()),
        "avspeech_clips": int(is_av.sum()), "avspeech_videos": int(len(set(groups[is_av]))),
        "librispeech_speakers": int(len(set(groups[~is_av]))),
        "avspeech_teacher_sex_uncertain": int(n_uncertain_teacher),
        "avspeech_face_detected": int(sum(1 for it in items if it.id in faces and faces[it.id]["detected"])),
        "sex_labels": {"male": int(np.nansum(sex == 1)), "female": int(np.nansum(sex == 0))},
        "age_face_years": _describe(age[np.isfinite(age)]),
    }
    calib = {
        "model_id": f"traits-{version}",
        "acoustic_features": list(HEAD_FEATURES),
        "embedding": "resemblyzer-ge2e-0.1.4 (256-d)",
        "feature_version": FEATURE_VERSION,
        "sex": {"platt_a": pa, "platt_b": pb, "uncertain_band": list(UNCERTAIN_BAND)},
        "age": {"residual_quantiles": [round(float(q), 4) for q in quantiles], "clip_years": list(AGE_CLIP),
                "min_bin_probability": MIN_BIN_PROBABILITY, "bin_edges": list(AGE_EDGES),
                # Face-derived age distribution of the training set (10/50/90 %): the answer when
                # nothing can be measured, labelled inconclusive.
                "prior_years": [round(float(v), 1) for v in np.percentile(age[np.isfinite(age)], [10, 50, 90])]},
        "abstention": {"min_net_speech_s": MIN_NET_SPEECH_S, "min_voiced_s": MIN_VOICED_S},
        "seed": SEED,
        "cv_folds": FOLDS,
    }
    write_model(out_dir, version, mean, scale, w, b, aw, ab, calib, metrics, data_summary, timings, limit)
    log(f"wrote {out_dir} in {t_end - t0:.0f} s")
    return {"metrics": metrics, "data": data_summary, "timings": timings}


def external_test(data_root: Path, cache_dir: Path, device: str, mean: np.ndarray, scale: np.ndarray, w: np.ndarray,
                  b: float, pa: float, pb: float, n_boot: int, log: Callable[[str], None],
                  limit: int | None) -> dict[str, Any]:
    """Sex accuracy of the final heads on LibriSpeech test-other (never used in training; clean labels)."""
    from s2f_desktop.training.data import LIBRI_TEST

    if not (data_root / LIBRI_TEST).is_dir():
        return {}
    items = librispeech_items(data_root, LIBRI_TEST)
    if limit:
        keep = sorted({it.group for it in items})[:max(2, limit // 2)]
        items = [it for it in items if it.group in keep]
    feats = compute_features(items, cache_dir, device=device, log=log)
    y = np.array([1.0 if it.sex == "male" else 0.0 for it in items])
    g = np.array([it.group for it in items])
    out: dict[str, Any] = {}
    for v in ("clean", "telephone"):
        p = cal.platt_apply(_z(feats[v]["x"], mean, scale) @ w + b, pa, pb)
        pred = (p >= 0.5).astype(float)
        decided = (p < UNCERTAIN_BAND[0]) | (p > UNCERTAIN_BAND[1])

        def acc(i: np.ndarray) -> float:
            return float(np.mean(pred[i] == y[i]))

        def abst(i: np.ndarray) -> float:
            return float(np.mean(~decided[i]))

        allidx = np.arange(len(y))
        out[f"sex_external_{v}"] = {
            "n": int(len(y)), "speakers": int(len(set(g))), "data": LIBRI_TEST,
            "accuracy": {"value": acc(allidx), "ci95": list(cal.bootstrap_ci(acc, g, n_boot, SEED))},
            "abstention_rate": {"value": abst(allidx), "ci95": list(cal.bootstrap_ci(abst, g, n_boot, SEED))},
        }
        wrong_spk = []
        for spk in sorted(set(g)):
            i = g == spk
            if np.mean(pred[i] == y[i]) < 0.5:
                f0 = np.exp(np.nanmedian(feats[v]["x"][i, -len(HEAD_FEATURES) + HEAD_FEATURES.index("log_f0_median")]))
                wrong_spk.append({"speaker": str(spk), "listed_sex": "male" if y[i][0] == 1 else "female",
                                  "median_f0_hz": round(float(f0), 1)})
        out[f"sex_external_{v}"]["speakers_misclassified"] = wrong_spk
        log(f"  external sex ({v}, {LIBRI_TEST}): accuracy {acc(allidx):.4f}; misclassified speakers {wrong_spk}")
    return out


def disagreement_analysis(logits: np.ndarray, sex: np.ndarray, x: np.ndarray, mask: np.ndarray) -> dict[str, int]:
    """How many voice/face sex disagreements have a median F0 that sides with the voice.

    A face labelled female with a median F0 below 145 Hz, or male above 175 Hz, is more
    likely a teacher error (or a clip whose audible speaker is not the face shown) than a
    voice-model error; the count bounds how much of the avspeech "error" is label noise.
    """
    f0 = np.exp(x[:, HEAD_FEATURES.index("log_f0_median") + (x.shape[1] - len(HEAD_FEATURES))])
    m = mask & np.isfinite(sex) & np.isfinite(logits)
    wrong = m & ((logits > 0) != (sex == 1))
    sided = wrong & (((sex == 0) & (f0 < 145)) | ((sex == 1) & (f0 > 175)))
    return {"scored": int(m.sum()), "disagreements": int(wrong.sum()), "f0_sides_with_voice": int(sided.sum())}


def _describe(v: np.ndarray) -> dict[str, float]:
    if not len(v):
        return {}
    q = np.percentile(v, [0, 10, 50, 90, 100])
    return {"min": float(q[0]), "p10": float(q[1]), "median": float(q[2]), "p90": float(q[3]), "max": float(q[4]),
            "n": int(len(v))}


def evaluate(oof_sex: dict[str, np.ndarray], oof_age: dict[str, np.ndarray], sex: np.ndarray, age: np.ndarray,
             groups: np.ndarray, folds: np.ndarray, ok: np.ndarray, n_boot: int,
             log: Callable[[str], None]) -> dict[str, Any]:
    """Metrics with cross-fitted calibration and group-bootstrap 95 % CIs."""
    out: dict[str, Any] = {}
    # Cross-fitted Platt: fold k is calibrated on the other folds' OOF logits (both variants).
    p_cf = {v: np.full(len(sex), np.nan) for v in oof_sex}
    for k in range(FOLDS):
        other = (folds != k) & ok & np.isfinite(sex)
        lg = np.concatenate([oof_sex["clean"][other], oof_sex["telephone"][other]])
        yy = np.concatenate([sex[other], sex[other]])
        a, b = cal.fit_platt(lg, yy)
        for v in oof_sex:
            sel = (folds == k) & ok
            p_cf[v][sel] = cal.platt_apply(oof_sex[v][sel], a, b)
    for v in ("clean", "telephone"):
        m = ok & np.isfinite(sex)
        p, y, g = p_cf[v][m], sex[m], groups[m]
        pred = (p >= 0.5).astype(float)
        decided = (p < UNCERTAIN_BAND[0]) | (p > UNCERTAIN_BAND[1])

        def acc(idx: np.ndarray) -> float:
            return float(np.mean(pred[idx] == y[idx]))

        def acc_dec(idx: np.ndarray) -> float:
            d = idx[decided[idx]]
            return float(np.mean(pred[d] == y[d])) if len(d) else float("nan")

        def ece_(idx: np.ndarray) -> float:
            return cal.ece(p[idx], y[idx])

        def abst(idx: np.ndarray) -> float:
            return float(np.mean(~decided[idx]))

        allidx = np.arange(len(y))
        entry = {"n": int(len(y))}
        for name, fn in (("accuracy", acc), ("accuracy_decided", acc_dec), ("ece", ece_), ("abstention_rate", abst)):
            lo, hi = cal.bootstrap_ci(fn, g, n_boot, SEED)
            entry[name] = {"value": fn(allidx), "ci95": [lo, hi]}
        for src, sel in (("avspeech", np.char.startswith(g.astype(str), "yt:")),
                         ("librispeech", np.char.startswith(g.astype(str), "ls:"))):
            idx = np.flatnonzero(sel)
            if len(idx):
                lo, hi = cal.bootstrap_ci(lambda i, idx=idx: acc(idx[i]), g[idx], n_boot, SEED)
                entry[f"accuracy_{src}"] = {"value": acc(idx), "ci95": [lo, hi], "n": int(len(idx))}
        out[f"sex_{v}"] = entry
        log(f"  sex ({v}): accuracy {entry['accuracy']['value']:.4f} ECE {entry['ece']['value']:.4f} "
            f"abstain {entry['abstention_rate']['value']:.3f}")

    for v in ("clean", "telephone"):
        m = ok & np.isfinite(age)
        if not m.any():
            continue
        # Cross-fitted residual quantiles (same idea as the Platt cross-fitting).
        med, lo80, hi80 = (np.full(len(age), np.nan) for _ in range(3))
        binp = np.full((len(age), len(AGE_BINS)), np.nan)
        for k in range(FOLDS):
            other = (folds != k) & m
            r = np.concatenate([age[other] - oof_age["clean"][other], age[other] - oof_age["telephone"][other]])
            qs = np.percentile(r, np.arange(101))
            sel = (folds == k) & m
            if not sel.any() or not other.any():  # tiny subsets: a fold may hold no aged clip
                continue
            pt = oof_age[v][sel]
            med[sel] = np.clip(pt + qs[50], *AGE_CLIP)
            lo80[sel] = np.clip(pt + qs[10], *AGE_CLIP)
            hi80[sel] = np.clip(pt + qs[90], *AGE_CLIP)
            binp[sel] = np.array([list(cal.age_bin_probabilities(p_ + qs, AGE_EDGES, AGE_BINS).values()) for p_ in pt])
        m = m & np.isfinite(med)
        y, g = age[m], groups[m]
        mdn, lo_, hi_, bp = med[m], lo80[m], hi80[m], binp[m]
        ybin = cal.age_bin(y, AGE_EDGES)
        pbin = bp.argmax(axis=1)
        majority = np.bincount(ybin, minlength=len(AGE_BINS)).argmax()

        stats = {
            "mae_years": lambda i: float(np.mean(np.abs(mdn[i] - y[i]))),
            "bin_accuracy": lambda i: float(np.mean(pbin[i] == ybin[i])),
            "majority_bin_accuracy": lambda i: float(np.mean(ybin[i] == majority)),
            "coverage_80": lambda i: float(np.mean((y[i] >= lo_[i]) & (y[i] <= hi_[i]))),
            "interval_80_width_years": lambda i: float(np.mean(hi_[i] - lo_[i])),
            "mae_predict_mean_years": lambda i: float(np.mean(np.abs(np.mean(y) - y[i]))),
            # The label abstains below MIN_BIN_PROBABILITY: how often a bin is given, and how right it is.
            "labelled_rate": lambda i: float(np.mean(bp[i].max(axis=1) >= MIN_BIN_PROBABILITY)),
            "labelled_bin_accuracy": lambda i: _masked_acc(pbin[i], ybin[i], bp[i].max(axis=1) >= MIN_BIN_PROBABILITY),
        }
        allidx = np.arange(len(y))
        entry = {"n": int(len(y)), "majority_bin": AGE_BINS[majority],
                 "bin_counts": {b: int(c) for b, c in zip(AGE_BINS, np.bincount(ybin, minlength=len(AGE_BINS)))}}
        for name, fn in stats.items():
            lo, hi = cal.bootstrap_ci(fn, g, n_boot, SEED)
            entry[name] = {"value": fn(allidx), "ci95": [lo, hi]}
        out[f"age_{v}"] = entry
        log(f"  age ({v}): MAE {entry['mae_years']['value']:.2f} y, bin acc {entry['bin_accuracy']['value']:.3f} "
            f"(majority {entry['majority_bin_accuracy']['value']:.3f}), 80% coverage {entry['coverage_80']['value']:.3f}")
    return out


def save_npz(path: Path, **arrays: np.ndarray) -> None:
    """Write an ``.npz`` whose bytes depend only on the arrays.

    ``np.savez`` stamps each zip entry with the current time, so the same weights would
    get a new sha256 on every run; fixed entry dates keep training reproducible to the byte.
    """
    import io
    import zipfile

    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED) as zf:
        for name in sorted(arrays):
            buf = io.BytesIO()
            np.lib.format.write_array(buf, np.asarray(arrays[name]), allow_pickle=False)
            info = zipfile.ZipInfo(f"{name}.npy", date_time=(1980, 1, 1, 0, 0, 0))
            zf.writestr(info, buf.getvalue())


def _masked_acc(pred: np.ndarray, y: np.ndarray, mask: np.ndarray) -> float:
    return float(np.mean(pred[mask] == y[mask])) if mask.any() else float("nan")


def write_model(out_dir: Path, version: str, mean: np.ndarray, scale: np.ndarray, w: np.ndarray, b: float,
                aw: np.ndarray, ab: float, calib: dict[str, Any], metrics: dict[str, Any], data: dict[str, Any],
                timings: dict[str, float], limit: int | None) -> None:
    """Write weights, calibration, metrics, manifest (sha256 of each file) and the model card."""
    from s2f_desktop.inference.registry import sha256_of
    from s2f_desktop.training.card import render_card

    out_dir.mkdir(parents=True, exist_ok=True)
    weights = out_dir / "heads.npz"
    save_npz(weights, mean=mean.astype(np.float64), scale=scale.astype(np.float64), sex_w=w.astype(np.float64),
             sex_b=np.float64(b), age_w=aw.astype(np.float64), age_b=np.float64(ab))
    (out_dir / "calibration.json").write_text(json.dumps(calib, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    (out_dir / "metrics.json").write_text(json.dumps({"metrics": metrics, "data": data, "training_timings": timings,
                                                      "subset_limit": limit}, indent=1, sort_keys=True) + "\n",
                                          encoding="utf-8")
    (out_dir / "MODEL_CARD.md").write_text(render_card(f"traits-{version}", calib, metrics, data, timings, limit,
                                                       TEACHER_ID), encoding="utf-8")
    files = {name: sha256_of(out_dir / name) for name in ("heads.npz", "calibration.json", "metrics.json",
                                                          "MODEL_CARD.md")}
    manifest = {"id": f"traits-{version}", "files": files, "card": "MODEL_CARD.md",
                "weights": "heads.npz", "format": "numpy .npz (no pickle) + JSON",
                "trained_with": "s2f-train traits", "feature_version": FEATURE_VERSION}
    (out_dir / "manifest.json").write_text(json.dumps(manifest, indent=1, sort_keys=True) + "\n", encoding="utf-8")
