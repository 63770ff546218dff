"""Calibrate the speaker-consistency threshold on LibriSpeech test-other (10 speakers x 10 utterances).

Every pair of utterances is a trial (same speaker or not); the threshold is the cosine
similarity at the equal error rate. The EER and its 95 % CI (bootstrap over speakers,
pairs rebuilt from the resampled speakers) are written beside the threshold.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Callable

import numpy as np

from s2f_desktop.training.data import LIBRI_TEST, librispeech_items
from s2f_desktop.voice import calibration as cal
from s2f_desktop.voice.consistency import cosine_matrix

SEED = 7


def _load_16k(path: Path) -> np.ndarray:
    """Whole clip, mono, 16 kHz via scipy (the consistency threshold's historical input).

    Kept unchanged so the committed speaker-consistency-v1 threshold stays reproducible; unlike
    the trait heads (issue 13), this calibration does not yet use the analysis path
    (inference/features.py). Moving it there needs a recalibration of speaker-consistency-v1.
    """
    import soundfile as sf

    x: np.ndarray
    x, sr = sf.read(str(path), dtype="float32", always_2d=True)
    x = x.mean(axis=1)
    if sr != 16000:
        from scipy.signal import resample_poly

        x = resample_poly(x, 16000, sr).astype(np.float32)
    return x


def manifest_metrics(result: dict[str, Any]) -> dict[str, Any]:
    """The measured numbers the report quotes from the manifest (``metrics``)."""
    return {"eer": {"value": result["eer"], "ci95": result["eer_ci95"]}, "threshold": result["threshold"],
            "trials_target": result["trials"]["target"], "trials_non_target": result["trials"]["non_target"],
            "speakers": result["speakers"], "data": result["data"],
            "evaluation": "all utterance pairs; 95 % CI: bootstrap over speakers"}


def calibrate_consistency(data_root: Path, out_dir: Path, device: str = "cpu", n_boot: int = 1000,
                          log: Callable[[str], None] = print) -> dict[str, Any]:
    """Measure the EER threshold and write ``threshold.json``, ``MODEL_CARD.md`` and ``manifest.json``."""
    from s2f_desktop.inference.embedding import get_encoder, resemblyzer_spec
    from s2f_desktop.inference.registry import sha256_of

    items = librispeech_items(data_root, LIBRI_TEST)
    enc = get_encoder(device)
    embs = [enc.embed(_load_16k(it.path)) for it in items]
    spk = np.array([it.group for it in items])
    sim = cosine_matrix(embs)
    iu = np.triu_indices(len(items), 1)
    scores, same = sim[iu], spk[iu[0]] == spk[iu[1]]
    e, thr = cal.eer(scores, same)

    uniq = np.unique(spk)
    rng = np.random.default_rng(SEED)
    boots = []
    for _ in range(n_boot):
        pick = rng.integers(0, len(uniq), len(uniq))
        idx = np.concatenate([np.flatnonzero(spk == uniq[p]) for p in pick])
        lab = np.concatenate([[f"{j}" for _ in np.flatnonzero(spk == uniq[p])] for j, p in enumerate(pick)])
        s = sim[np.ix_(idx, idx)]
        tri = np.triu_indices(len(idx), 1)
        # Target pairs: two different utterances within one drawn copy of a speaker. Non-target pairs:
        # utterances of two different original speakers. Pairs between two copies of the same
        # speaker are neither, and are skipped.
        a, b = idx[tri[0]], idx[tri[1]]
        same_copy = lab[tri[0]] == lab[tri[1]]
        keep = (a != b) & (same_copy | (spk[a] != spk[b]))
        boots.append(cal.eer(s[tri][keep], (lab[tri[0]] == lab[tri[1]])[keep])[0])
    lo, hi = np.percentile(boots, [2.5, 97.5])
    result = {"threshold": round(thr, 6), "eer": round(e, 6), "eer_ci95": [round(float(lo), 6), round(float(hi), 6)],
              "trials": {"target": int(same.sum()), "non_target": int((~same).sum())},
              "speakers": int(len(uniq)), "utterances": len(items), "data": LIBRI_TEST,
              "embedding": resemblyzer_spec().as_record(),
              "method": "cosine similarity of GE2E embeddings; EER threshold"}
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "threshold.json").write_text(json.dumps(result, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    (out_dir / "MODEL_CARD.md").write_text(f"""# speaker-consistency-v1

Threshold on the cosine similarity of two GE2E (resemblyzer) embeddings above which two
stretches of speech are treated as the same speaker, for flagging selection segments that
disagree with the rest and for grouping segments by speaker. An aid for picking segments,
**not** speaker identification or verification evidence.

* Calibration data: {LIBRI_TEST} (LibriSpeech test-other, CC BY 4.0): {len(uniq)} speakers x
  {len(items) // max(1, len(uniq))} utterances, every pair a trial ({int(same.sum())} same-speaker,
  {int((~same).sum())} different-speaker).
* Threshold (equal error rate): **{thr:.4f}**; EER **{100 * e:.2f} %** (95 % CI {100 * lo:.2f}-{100 * hi:.2f} %,
  bootstrap over speakers, {n_boot} resamples).
* Limits: read English speech of whole utterances (about 2-20 s); short segments, telephone
  band, noise, other languages and emotional or disguised speech lower similarity and raise the
  rate of false flags. Ten speakers make the threshold itself uncertain.
* Reproduce: `s2f-train consistency --data ../shared/data`.
""", encoding="utf-8")
    files = {n: sha256_of(out_dir / n) for n in ("threshold.json", "MODEL_CARD.md")}
    manifest = {"id": out_dir.name, "files": files, "card": "MODEL_CARD.md",
                "metrics": manifest_metrics(result)}
    (out_dir / "manifest.json").write_text(json.dumps(manifest, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    log(f"EER {100 * e:.2f} % [{100 * lo:.2f}, {100 * hi:.2f}] at threshold {thr:.4f}")
    return result
