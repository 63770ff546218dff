"""MODEL_CARD.md, Tippett plot and manifest of ``models/comparison-v1`` (written by ``s2f-train comparison``)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

#: Data sets' sources, licences and how they were modified (appended to every regenerated card).
ATTRIBUTION = (
    "\n"
    "## Attribution and licences\n"
    "\n"
    '* **LibriSpeech** — V. Panayotov, G. Chen, D. Povey, S. Khudanpur, "LibriSpeech: an ASR corpus based on\n'
    '  public domain audio books", ICASSP 2015. Source: <https://www.openslr.org/12> (train-clean-100 and\n'
    "  test-other). Licence: CC BY 4.0 (<https://creativecommons.org/licenses/by/4.0/>). How it was modified:\n"
    "  decoded to 16 kHz mono, a simulated telephone-band copy made, cut into windows and reduced to GE2E\n"
    "  embeddings; only the calibration parameters, the cohort's mean embeddings and the validation scores are\n"
    "  kept. No LibriSpeech audio or text is distributed with s2f-desktop.\n"
    '* **AVSpeech** — A. Ephrat et al., "Looking to Listen at the Cocktail Party", ACM SIGGRAPH 2018. Source:\n'
    "  <https://looking-to-listen.github.io/avspeech/>; the 968 test clips published with the Speech2Face\n"
    "  supplementary material (T.-H. Oh et al., CVPR 2019, <https://speech2face.github.io/supplemental/>).\n"
    "  Terms: released for research use; the underlying videos remain their uploaders' works. How it was\n"
    "  modified: audio decoded to 16 kHz mono (and a telephone-band copy) and reduced to GE2E embeddings; the\n"
    "  cohort file holds per-voice mean embeddings, not audio. No AVSpeech audio, face frame or clip id is\n"
    "  distributed with s2f-desktop.\n"
    "* The embeddings come from resemblyzer's GE2E encoder (Apache-2.0; see its model card); calibration metrics\n"
    "  were computed with `lir` (the Netherlands Forensic Institute's LR library, Apache-2.0) at "
    "training time only.\n"
    "* This model (`calibration.json`, `cohort.npy`, this card) is part of s2f-desktop, GPL-3.0-or-later\n"
    "  (see LICENSING.md).\n"
)

#: The card's row order of the validation conditions, the variants tried and the data sources (the
#: order the trainer computes them in; ``metrics.json`` stores its keys sorted, so a card regenerated
#: from it is put back in this order). Names not listed follow in their stored order.
CONDITION_ORDER = ("all", "clean/clean", "clean/telephone", "telephone/telephone", "short/short (both < 5 s)",
                   "short/long (< 5 s vs >= 10 s)", "long/long (both >= 10 s)", "2-3 s shorter side",
                   "targets across utterances only (no within-clip halves)")
TRIED_ORDER = ("ge2e cosine + logistic with duration (no s-norm)", "as-norm + logistic without duration",
               "as-norm + logistic with duration, unbounded", "as-norm + lir KDE calibrator (no duration)")
SOURCE_ORDER = ("avspeech-968", "librispeech-train-clean-251", "librispeech-test-other-10x10")


def _ordered(d: dict[str, Any], order: tuple[str, ...]) -> list[tuple[str, Any]]:
    rank = {k: i for i, k in enumerate(order)}
    return sorted(d.items(), key=lambda kv: rank.get(kv[0], len(order)))


def tippett_png(path: Path, llr: np.ndarray, y: np.ndarray, title: str) -> None:
    """Tippett plot (lir) of cross-validated log10 LRs, saved as PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from lir.data.models import LLRData
    from lir.plotting import tippett

    fig, ax = plt.subplots(figsize=(6.4, 4.2), dpi=110)
    tippett(LLRData(features=llr.astype(float), labels=y.astype(int)), ax=ax)
    ax.set_title(title, fontsize=9)
    ax.set_xlabel("log10 LR")
    ax.grid(True, linestyle=":")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def _fmt(m: dict[str, Any], key: str, pct: bool = False) -> str:
    v = m[key]

    def f(x: float) -> str:
        return f"{100 * x:.1f} %" if pct else f"{x:.3f}"

    return f"{f(v['value'])} ({f(v['ci95'][0])}–{f(v['ci95'][1])})"


#: (metrics.json key under ``cross_source``, calibrated on, tested on) of the across-sources runs, in card order.
CROSS_RUNS = (("avspeech_to_librispeech", "avspeech-968", "LibriSpeech (train-clean-251 + test-other-10x10)"),
              ("librispeech_to_avspeech", "LibriSpeech (train-clean-251 + test-other-10x10)", "avspeech-968"))
CROSS_ORDER = ("all", "clean/clean", "clean/telephone", "telephone/telephone",
               "targets across utterances only (no within-clip halves)")


def _worse(x: dict[str, Any], ref: dict[str, Any], key: str) -> bool:
    """True when ``x``'s interval of ``key`` lies wholly above ``ref``'s (worse beyond the bootstrap's spread)."""
    return bool(x[key]["ci95"][0] > ref[key]["ci95"][1])


def calibration_transfers(cs: dict[str, Any]) -> bool:
    """False when, in any direction, the across-sources Cllr (all trials) is worse than the in-source one beyond
    both intervals."""
    return not any(_worse(cs[k]["metrics"]["all"], cs[k]["in_source_cv"]["all"], "cllr")
                   for k, _, _ in CROSS_RUNS if "all" in cs.get(k, {}).get("metrics", {}))


def _cross_source_md(result: dict[str, Any]) -> str:
    """The card's "Across sources" section (empty for a result without ``cross_source``)."""
    cs = result.get("cross_source")
    if not cs:
        return ""
    rows = ["| calibrated on → tested on | condition | target / non-target trials | calibration | Cllr | Cllr_min | "
            "Cllr − Cllr_min | EER | misleading for Hd when Hp true | misleading for Hp when Hd true |",
            "|---|---|---|---|---|---|---|---|---|---|"]
    setup, reading = [], []
    for key, fit, test in CROSS_RUNS:
        run = cs.get(key)
        if not run:
            continue
        short_fit, short_test = fit.split(" ")[0], test.split(" ")[0]
        for name, m in _ordered(run["metrics"], CROSS_ORDER):
            for label, v in ((f"{short_fit} only", m), ("both sources (shipped CV)", run["in_source_cv"][name])):
                rows.append(f"| {short_fit} → {short_test} | {name} | {v['n_target']} / "
                            f"{v['n_non_target']} | {label} | {_fmt(v, 'cllr')} | {_fmt(v, 'cllr_min')} | "
                            f"{_fmt(v, 'cllr_cal')} | {_fmt(v, 'eer', True)} | {_fmt(v, 'rme_hp', True)} | "
                            f"{_fmt(v, 'rme_hd', True)} |")
        c = run["calibration"]
        setup.append(f"* Calibrated on {fit}: cohort of {run['cohort_size']} embeddings, "
                     f"{run['calibration_trials']['target']} target and {run['calibration_trials']['non_target']} "
                     f"non-target calibration trials; weights {', '.join(f'{w:.4f}' for w in c['coef'])}, intercept "
                     f"{c['intercept']:.4f}; ELUB bounds {c['lower']:.2f} … {c['upper']:.2f}.")
        x, ref = run["metrics"].get("all"), run["in_source_cv"].get("all")
        if not x or not ref:
            continue
        verdict = (f"**what was fitted on one source does not transfer to the other**: Cllr is "
                   f"{x['cllr']['value'] / ref['cllr']['value']:.1f} times the in-source figure, beyond both intervals"
                   if _worse(x, ref, "cllr") else "within the intervals, what was fitted on one source transfers")
        # Which component grew more against the in-source figure (the loss), not which is larger.
        where = ("most of the loss is calibration (Cllr − Cllr_min)"
                 if x["cllr_cal"]["value"] - ref["cllr_cal"]["value"]
                 > x["cllr_min"]["value"] - ref["cllr_min"]["value"] else
                 "most of the loss is in Cllr_min, the discrimination of the bounded LRs, which the cohort's "
                 "normalisation and the bounds shape too")
        reading.append(
            f"* Calibrated on {fit} alone, tested on {test}: {verdict}. Cllr {_fmt(x, 'cllr')} against "
            f"{_fmt(ref, 'cllr')} for the same trials under the shipped cross-validation; Cllr − Cllr_min "
            f"{_fmt(x, 'cllr_cal')} against {_fmt(ref, 'cllr_cal')}, Cllr_min {_fmt(x, 'cllr_min')} against "
            f"{_fmt(ref, 'cllr_min')} ({where}); EER {_fmt(x, 'eer', True)} against {_fmt(ref, 'eer', True)}. "
            f"Different-speaker pairs given LR > 1: {_fmt(x, 'rme_hd', True)} against {_fmt(ref, 'rme_hd', True)}; "
            f"same-speaker pairs given LR < 1: {_fmt(x, 'rme_hp', True)} against {_fmt(ref, 'rme_hp', True)}.")
    a = result["metrics"]["all"]
    lib = cs.get("avspeech_to_librispeech", {}).get("in_source_cv", {}).get("all")
    note = ""
    if lib and _worse(lib, a, "cllr"):
        note = (f"\n\nThe shipped cross-validation's own figures on the LibriSpeech trials alone are also worse than "
                f"its overall ones (Cllr {_fmt(lib, 'cllr')} against {_fmt(a, 'cllr')}, different-speaker pairs given "
                f"LR > 1 {_fmt(lib, 'rme_hd', True)} against {_fmt(a, 'rme_hd', True)}): the overall figures are "
                f"dominated by avspeech-968's non-target trials.")
    meaning = (
        "What it means for casework: the shipped model is calibrated on a pool of both sources, and its validation "
        "figures hold for speech like them. Speech from a third source (another language, device, channel or "
        "recording style) can shift the scores the way one source shifts against the other here, and its LRs "
        "can then be miscalibrated by as much — overstating the evidence for Hp or for Hd. Nothing in the app "
        "detects such a shift."
        if not calibration_transfers(cs) else
        "What it means for casework: within the intervals, a calibration fitted on one of the two sources holds on "
        "the other; a third source was not tested.")
    return f"""## Across sources (calibrated on one source, tested on the other)

The shipped procedure — AS-norm cohort, 5-fold cross-validated LRs for the ELUB bounds, then the logistic
calibration fitted on all trials — repeated on the trials of one source alone and applied to the trials of the
other source (both sides from it), with the same seed, folds and trials as above. LibriSpeech's two subsets
count as one source. Non-target trials between the two sources belong to neither run and are left out
({cs['left_out_non_targets_between_sources']} of them). Beside each row, the shipped cross-validated LRs (calibrated
on both sources, held-out speakers / videos) of the same trials. 95 % intervals: the same cluster bootstrap
({result['n_boot']} resamples over speakers / videos). This is not the shipped model: its files do not depend on
these runs.

{chr(10).join(setup)}

{chr(10).join(rows)}

Reading:

{chr(10).join(reading)}{note}

{meaning}

Neither source is unseen by the speaker encoder: GE2E was trained by its authors on LibriSpeech and VoxCeleb
(YouTube videos, like avspeech). These runs test the transfer of the cohort, calibration and bounds between the
two sources, not of the encoder; a source the encoder never saw may transfer worse still.
"""


def card_markdown(result: dict[str, Any]) -> str:
    """MODEL_CARD.md's text from a training result (the ``metrics.json`` that ``s2f-train comparison`` writes)."""
    from s2f_desktop.audio.quality import DC_OFFSET_LIMIT, MIN_NET_SPEECH_S, MIN_SNR_DB
    from s2f_desktop.inference.comparison import _ABSTAIN_BANDWIDTH_HZ, _ABSTAIN_CLIPPING

    cal = result["calibration"]
    rows = ["| condition | target / non-target trials | Cllr | Cllr_min | Cllr − Cllr_min | EER | "
            "misleading for Hd when Hp true | misleading for Hp when Hd true |",
            "|---|---|---|---|---|---|---|---|"]
    for name, m in _ordered(result["metrics"], CONDITION_ORDER):
        rows.append(f"| {name} | {m['n_target']} / {m['n_non_target']} | {_fmt(m, 'cllr')} | {_fmt(m, 'cllr_min')} | "
                    f"{_fmt(m, 'cllr_cal')} | {_fmt(m, 'eer', True)} | {_fmt(m, 'rme_hp', True)} | "
                    f"{_fmt(m, 'rme_hd', True)} |")
    tried = ["| variant | Cllr | Cllr_min | EER |", "|---|---|---|---|"]
    for name, m in _ordered(result["tried"], TRIED_ORDER):
        if "cllr" in m:
            tried.append(f"| {name} | {m['cllr']['value']:.3f} | {m['cllr_min']['value']:.3f} | "
                         f"{100 * m['eer']['value']:.1f} % |")
        else:
            tried.append(f"| {name} | failed: {m.get('error', '')} | | |")
    a = result["metrics"]["all"]
    tr = result["trials"]
    cs = result.get("cross_source")
    if not cs:
        tested = "it was not tested on speech from any other source"
        no_cross = ("no run was calibrated on one source and tested on the other, and no third source was tested")
    elif calibration_transfers(cs):
        tested = ("with its cohort, calibration and bounds fitted on one of the two sources alone and tested on the "
                  "other, it held within the intervals (see Across sources); it was not tested on speech from any "
                  "third source")
        no_cross = ("the across-sources runs (calibrated on one, tested on the other) are the only test of transfer, "
                    "and no third source was tested")
    else:
        tested = ("with its cohort, calibration and bounds fitted on one of the two sources alone and tested on the "
                  "other, its LRs were markedly worse, beyond the bootstrap intervals (see Across sources); it was "
                  "not tested on speech from any third source")
        no_cross = ("the across-sources runs (calibrated on one, tested on the other) are the only test of transfer, "
                    "and they show that what is fitted on one does not transfer to the other; no third source was "
                    "tested")
    abstain = ", ".join(f"{k} {100 * v:.1f} %" for k, v in _ordered(result["clips_below_min_speech"], SOURCE_ORDER))
    snr = result.get("clips_below_min_snr")
    noisy = ""
    if snr:
        shares = ", ".join(f"{k} {v['below']} of {v['clips']}" for k, v in
                           _ordered({k: v for k, v in snr.items() if isinstance(v, dict)}, SOURCE_ORDER))
        noisy = (f" A side whose estimated SNR is under the quality gate's {snr['min_snr_db']:g} dB minimum also "
                 f"abstains (noise is not validated; see Limits): whole clips under it — {shares}. The trials "
                 "above were drawn without that rule and include such clips, on which the shipped system abstains.")
    card = f"""# comparison-v1 — speaker comparison with calibrated likelihood ratios

**What it does.** Compares a questioned set of speech with a known set and gives a likelihood ratio (LR)
for two stated propositions, with its verbal expression on the ENFSI 2015 scale:

* **Hp**: the questioned and the known speech were spoken by the same speaker;
* **Hd**: they were spoken by different speakers of the relevant population (adult speakers of the same
  sex; mostly English read speech and English speech from online videos — the only populations the
  validation data covers).

The LR is the output of an automatic system cross-validated on held-out speakers of its training sources
(LibriSpeech and avspeech-968); {tested}. It is one piece of evidence
for a trier of fact and must be combined with prior odds by them; it is **not an identification**, and an LR
near 1 means the system cannot tell.

## Method

1. GE2E speaker embedding (resemblyzer 0.1.4, sha256 `{result['embedding']['sha256'][:16]}…`): the mean of all
   1.6 s window embeddings of a side (each window equal weight), unit length.
2. Raw score: cosine similarity of the two sides.
3. Adaptive symmetric s-norm (AS-norm): each side against a cohort of {result['cohort']['size']} embeddings
   (every clip of avspeech-968 and LibriSpeech-251, clean and telephone band), mean and sd of its
   {cal['top_k']} highest cohort scores.
4. Calibration: class-balanced logistic regression (natural-log odds) on
   `[s, s·q, q]`, `q = log2(min(net speech of the two sides) / 3 s)`: weights \
{', '.join(f'{c:.4f}' for c in cal['coef'])},
   intercept {cal['intercept']:.4f}. The weight of the score grows with duration, so a short side gives an
   LR nearer to 1 instead of being flagged by a fixed threshold. Durations over {cal['max_speech_s']:g} s are treated as
   {cal['max_speech_s']:g} s.
5. Bounds: log10 LR clipped to the empirical lower and upper bounds (ELUB, Vergeer et al. 2016, computed with
   `lir`) of the cross-validated LRs: **{cal['lower']:.2f} ≤ log10 LR ≤ {cal['upper']:.2f}**
   (LR between {10 ** cal['lower']:.3g} and {10 ** cal['upper']:.3g}).
6. Abstention: no LR when either side has less than {cal['min_speech_s']:g} s of net speech (after silence
   trimming), more than {100 * _ABSTAIN_CLIPPING:g} % clipped samples, an effective bandwidth under
   {_ABSTAIN_BANDWIDTH_HZ:g} Hz, an estimated SNR under the quality gate's {MIN_SNR_DB:g} dB minimum, or no speech
   found by the speech detector (so that its noise cannot be measured). The quality gate's other rule,
   {MIN_NET_SPEECH_S:g} s of net speech, is not applied: the calibration takes the duration into account (step 4).
   A DC offset above {DC_OFFSET_LIMIT:g} of full scale is removed before speech detection and the embedding.

## Data

All from `../shared/data` (read-only). Groups are speakers (LibriSpeech) or YouTube videos (avspeech-968).

* Same-speaker (target) trials: {tr['test-other utterance sets']} from LibriSpeech test-other (two disjoint sets of
  one speaker's utterances, 10 speakers; in this subset each speaker's utterances come from one chapter, so these
  are same-session pairs — *no cross-chapter pairs exist in the data*); {tr['same-video avspeech clips']} \
from two clips of one
  avspeech YouTube video (37 videos; the same speaker is assumed from the video, not labelled);
  {tr['within-clip halves']} from the first and second half of one clip (no shared audio; same recording).
* Different-speaker (non-target) trials: {tr['non-target']}, two different groups of the same sex where the sex is
  known (LibriSpeech SPEAKERS.TXT; for avspeech the traits-v1 face-model teacher estimate where usable,
  otherwise unrestricted).
* Each side clean or telephone band (300–3400 Hz, 8 kHz; `voice/channel.py`), cut to a net-speech duration
  drawn from 2, 3, 5, 8, 12, 20, 30 s (shorter when the material is shorter; 30 s only exists for the
  LibriSpeech test-other sets).

## Validation ({result['folds']}-fold cross-validation grouped by speaker / video, on the training sources)

No speaker or video is in both the training and the test part of a fold; a fold's s-norm cohort excludes its
test groups, and every trial's cohort excludes the trial's own groups. 95 % intervals: cluster bootstrap over
groups ({result['n_boot']} resamples; a trial between two groups is weighted by how often both are drawn).
Rates of misleading evidence: share of same-speaker trials with LR < 1, and of different-speaker trials with LR > 1.

{chr(10).join(rows)}

Overall: **Cllr {_fmt(a, 'cllr')}**, Cllr_min {_fmt(a, 'cllr_min')}, EER {_fmt(a, 'eer', True)}.

Notes on the figures: the ELUB bounds are computed on the same cross-validated LRs they are then applied to,
so the bounded figures are slightly optimistic (the unbounded Cllr is under "Tried"). The point value of
Cllr − Cllr_min uses `lir`'s PAV; its interval comes from a bootstrap with scikit-learn's weighted PAV, so a point
can fall just outside its interval. Abstention on net speech below {cal['min_speech_s']:g} s: share of whole clips
that would abstain — {abstain}.{noisy}

![Tippett plot](tippett.png)

Tippett plot (lir; H1 = Hp, H2 = Hd): cumulative proportion of cross-validated log10 LRs of same-speaker (Hp true) and
different-speaker (Hd true) trials, all conditions.

{_cross_source_md(result)}
## Tried (cross-validated, same trials)

{chr(10).join(tried)}

Not tried for lack of time in this iteration: fusion with Praat measures (F0, formants), PLDA back-end.

## Limits

* Cross-validated on held-out speakers of its training sources only: every trial, the s-norm cohort, the
  calibration and the ELUB bounds come from the same two sources (avspeech-968 and LibriSpeech). The folds hold
  out speakers and videos, not sources; {no_cross}.
* The GE2E encoder was trained by its authors on LibriSpeech and VoxCeleb 1 and 2 (speech from YouTube
  videos; see its card), so both validation sources resemble the encoder's own training data. Which
  LibriSpeech subsets it used was not checked against those used here, nor whether avspeech and VoxCeleb
  share speakers or videos; either would make these figures optimistic.
* Most same-speaker trials are within one recording or session (halves of a clip, one LibriSpeech chapter,
  one video). Real casework compares different sessions, often days or years apart, different devices and
  speaking styles; the within-speaker variation there is larger and these figures are **optimistic** for it.
  The trials with targets across utterances only are the nearest to casework the data allows.
* Relevant population: adults in English read speech (LibriSpeech) and online-video speech (avspeech);
  other languages, children, disguised, shouted, whispered or emotional speech are not validated.
* Channel: clean and simulated telephone band only; real codecs (AMR, GSM, VoIP), noise and reverberation are
  not validated.
* Same-speaker avspeech trials assume one speaker per video; a video with two speakers would make a
  non-target look like a target (it lowers, not raises, the measured performance).
* Sex for avspeech non-target matching is a face-model estimate, not a label.
* Small data: 10 LibriSpeech test-other speakers and 37 multi-clip videos give the cross-utterance targets.

## Reproduce

`s2f-train comparison --data ../shared/data` (seed {result['seed']}, {result['n_boot']} bootstrap resamples; window
embeddings cached under `--cache`; about 2 minutes on 2 CPU cores once the embeddings are cached — 93 s measured,
across-sources runs included — and 4 minutes to embed).
"""
    return card + ATTRIBUTION


def write_card(out_dir: Path, result: dict[str, Any], llr: np.ndarray, y: np.ndarray) -> None:
    """Write the Tippett plot, MODEL_CARD.md and manifest.json from a training result."""
    from s2f_desktop.inference.registry import sha256_of

    tippett_png(out_dir / "tippett.png", llr, y, "comparison-v1: cross-validated LRs, all conditions (held-out groups)")
    (out_dir / "MODEL_CARD.md").write_text(card_markdown(result), encoding="utf-8")
    a = result["metrics"]["all"]
    cal = result["calibration"]
    files = {n: sha256_of(out_dir / n) for n in ("calibration.json", "cohort.npy", "validation.npz", "metrics.json",
                                                 "MODEL_CARD.md", "tippett.png")}
    manifest = {"id": out_dir.name, "files": files, "card": "MODEL_CARD.md",
                "depends_on": [result["embedding"]],
                "metrics": {"cllr": a["cllr"], "cllr_min": a["cllr_min"], "cllr_cal": a["cllr_cal"], "eer": a["eer"],
                            "rme_hp": a["rme_hp"], "rme_hd": a["rme_hd"], "bounds_log10": [cal["lower"], cal["upper"]],
                            "evaluation": f"{result['folds']}-fold CV grouped by speaker/video; "
                                          "95 % CI cluster bootstrap"}}
    (out_dir / "manifest.json").write_text(json.dumps(manifest, indent=1, sort_keys=True) + "\n", encoding="utf-8")
