"""Speaker consistency of a selection, and grouping of segments by speaker (numpy/scipy only).

Two methods. The calibrated one (:func:`calibrated_consistency`, :func:`split_speakers`) uses the
likelihood ratios of models/comparison-v1, so a short segment is judged with the uncertainty its
duration implies (its LR stays near 1) and only at least moderate support for a different speaker
flags it or splits a selection. The older cosine-threshold functions below are kept for callers
that have no comparison model (and for the stored runs that used them).

Segments are compared by the cosine similarity of their GE2E embeddings. A segment is
flagged when its median similarity to the other selected segments falls below the
calibrated same-speaker threshold (the equal-error-rate threshold measured on
LibriSpeech test-other, see models/speaker-consistency-v1): it may be a second speaker,
or too short or too degraded to tell. Grouping uses average-linkage agglomerative
clustering cut at the same threshold, so "same group" means "more similar than the
threshold on average". Both are aids for the analyst, not speaker identification.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np

from s2f_desktop.core.errors import InputError
from s2f_desktop.voice import lr as lrm

#: A selection is split into speaker groups only when two groups compare at or below this
#: log10 LR: at least "moderate support" (ENFSI 2015) for different speakers.
SPLIT_LOG10_LR = -1.0


@dataclass(frozen=True)
class ConsistencyReport:
    """Pairwise similarities of the selected segments and the flagged ones."""

    segment_ids: tuple[str, ...]
    similarity: tuple[tuple[float, ...], ...]
    median_similarity: tuple[float | None, ...]
    flagged: tuple[str, ...]
    threshold: float
    threshold_source: str

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {
            "segment_ids": list(self.segment_ids),
            "similarity": [[round(v, 4) for v in row] for row in self.similarity],
            "median_similarity": {s: (None if m is None else round(m, 4))
                                  for s, m in zip(self.segment_ids, self.median_similarity)},
            "flagged": list(self.flagged),
            "threshold": round(self.threshold, 4),
            "threshold_source": self.threshold_source,
            "note": "flagged segments disagree with the rest of the selection (possible second speaker)",
        }


def cosine_matrix(embeddings: Sequence[np.ndarray]) -> np.ndarray:
    """Pairwise cosine similarities."""
    e = np.stack([np.asarray(v, dtype=np.float64) for v in embeddings])
    e = e / np.linalg.norm(e, axis=1, keepdims=True).clip(1e-12)
    sim: np.ndarray = e @ e.T
    return sim


def consistency(segment_ids: Sequence[str], embeddings: Sequence[np.ndarray], threshold: float,
                threshold_source: str = "") -> ConsistencyReport:
    """Flag segments whose median similarity to the others is below ``threshold``."""
    n = len(segment_ids)
    if n == 0:
        return ConsistencyReport((), (), (), (), threshold, threshold_source)
    sim = cosine_matrix(embeddings)
    med: list[float | None] = []
    flagged = []
    for i in range(n):
        others = np.delete(sim[i], i)
        m = float(np.median(others)) if len(others) else None
        med.append(m)
        # With two segments a disagreement cannot say which one is the odd one out: flag both.
        if m is not None and m < threshold:
            flagged.append(segment_ids[i])
    return ConsistencyReport(tuple(segment_ids), tuple(tuple(float(v) for v in r) for r in sim), tuple(med),
                             tuple(flagged), float(threshold), threshold_source)


def group_by_speaker(segment_ids: Sequence[str], embeddings: Sequence[np.ndarray], threshold: float) -> list[list[str]]:
    """Groups of segment ids that probably share a speaker, largest group first.

    Average-linkage clustering on cosine distance, cut at ``1 - threshold``; within a group
    ids keep their input order, and equal-sized groups keep the order of first appearance.
    """
    n = len(segment_ids)
    if n == 0:
        return []
    if n == 1:
        return [[segment_ids[0]]]
    from scipy.cluster.hierarchy import fcluster, linkage
    from scipy.spatial.distance import squareform

    dist = np.clip(1.0 - cosine_matrix(embeddings), 0.0, 2.0)
    np.fill_diagonal(dist, 0.0)
    z = linkage(squareform(dist, checks=False), method="average")
    labels = fcluster(z, t=1.0 - threshold, criterion="distance")
    groups: dict[int, list[str]] = {}
    for sid, lab in zip(segment_ids, labels):
        groups.setdefault(int(lab), []).append(sid)
    first = {lab: segment_ids.index(g[0]) for lab, g in groups.items()}
    return [groups[lab] for lab in sorted(groups, key=lambda lab: (-len(groups[lab]), first[lab]))]


# ------------------------------------------------------------------ calibrated (comparison-v1)
@dataclass(frozen=True)
class SpeakerSplit:
    """The decision whether a selection holds one voice.

    ``groups``: segment ids per probable speaker (largest net speech first); ``unassessed``: segments with
    too little speech to be judged (they join no group and are never called a second speaker);
    ``between``: log10 LR of every pair of groups (pooled speech of each group); ``split``: True when at
    least two groups compare at or below ``SPLIT_LOG10_LR`` — then one profile must not pool them.
    """

    groups: tuple[tuple[str, ...], ...]
    unassessed: tuple[str, ...]
    between: tuple[tuple[int, int, float], ...]
    split: bool
    threshold_log10_lr: float = SPLIT_LOG10_LR

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {"split": self.split, "groups": [list(g) for g in self.groups], "unassessed": list(self.unassessed),
                "between_groups_log10_lr": [{"a": a, "b": b, "log10_lr": round(v, 3)} for a, b, v in self.between],
                "threshold_log10_lr": self.threshold_log10_lr,
                "rule": "groups are kept apart when their comparison gives at least moderate support (LR <= 1/10) "
                        "for different speakers; segments too short to judge are left unassessed"}


def split_speakers(segment_ids: Sequence[str], windows: Sequence[np.ndarray], speech_s: Sequence[float],
                   calibration: lrm.Calibration, cohort: np.ndarray,
                   threshold_log10_lr: float = SPLIT_LOG10_LR, pairwise: bool = False) -> SpeakerSplit:
    """Group segments by speaker with the calibrated comparison (torch-free).

    ``windows[i]`` are segment i's GE2E window embeddings and ``speech_s[i]`` its net speech (as
    :func:`s2f_desktop.inference.comparison.window_embeddings` returns them). Segments below the model's
    minimum net speech are *unassessed*. The others are merged greedily (agglomerative): the two groups
    whose pooled comparison gives the highest log10 LR are merged while that LR is above
    ``threshold_log10_lr``. A short segment therefore never looks like a second speaker: its LR is near 1,
    and only evidence at least moderately supporting different speakers keeps groups apart.

    ``pairwise`` (the check before anything is pooled into one voice: an analysis, a comparison side, an
    archive query): two groups whose pooled comparison does not support the same speaker (log10 LR < 0) are also
    kept apart when a segment of one compares with a segment of the other at or below the threshold. Without it,
    pooling a second voice with more of the first hid it (a red-team case: two readers, the minority reader's 10 s
    against the majority's 20 s pooled at log10 LR -0.58, while its pair with one majority segment was -1.12).
    Groups whose pooled LR supports the same speaker are merged whatever one pair says, so a rare low pair of one
    speaker (0.49 % of the model's same-speaker validation trials reach log10 LR <= -1) does not split a long
    selection. ``between`` then holds, for a pair of groups pooled below 0, the lower of the pooled LR and their
    worst segment pair. The archive's turn grouping keeps the plain rule (its stored index rows were made with it).
    """
    ids = list(segment_ids)
    if not (len(ids) == len(windows) == len(speech_s)):
        raise InputError("segment ids, windows and durations differ in length")
    ok = [i for i in range(len(ids)) if speech_s[i] >= calibration.min_speech_s and len(windows[i])]
    unassessed = tuple(ids[i] for i in range(len(ids)) if i not in ok)
    groups: list[list[int]] = [[i] for i in ok]
    # A pair's LR depends only on the two groups' members (kept sorted), so it is computed once per
    # pair, and each group's mean and cohort statistics once per group: a merge then costs the new
    # group's pairs, not all pairs again (n^2 cheap comparisons instead of n^3 full ones; the values,
    # and so the merges, are exactly those of the plain loop).
    memo: dict[tuple[tuple[int, ...], tuple[int, ...]], float] = {}
    sides: dict[tuple[int, ...], tuple[np.ndarray, float, tuple[np.ndarray, np.ndarray]]] = {}

    def side(g: list[int]) -> tuple[np.ndarray, float, tuple[np.ndarray, np.ndarray]]:
        key = tuple(g)
        if key not in sides:
            mean = np.concatenate([windows[i] for i in g]).mean(axis=0)
            sides[key] = (mean, float(sum(speech_s[i] for i in g)),
                          lrm.cohort_stats(lrm.unit(mean)[None], cohort, calibration.top_k))
        return sides[key]

    def llr(a: list[int], b: list[int]) -> float:
        key = (tuple(a), tuple(b))
        if key not in memo:
            (ma, sa, st_a), (mb, sb, st_b) = side(a), side(b)
            v = lrm.compare_embeddings(calibration, cohort, ma, mb, sa, sb, q_stats=st_a, k_stats=st_b)
            memo[key] = float(v.log10_lr) if v.log10_lr is not None else 0.0
        return memo[key]

    def worst_pair(a: list[int], b: list[int]) -> float:
        return min(llr([min(i, j)], [max(i, j)]) for i in a for j in b)

    def apart(a: list[int], b: list[int]) -> float:
        v = llr(a, b)
        return min(v, worst_pair(a, b)) if pairwise and v < 0 else v

    while len(groups) > 1:
        best, pair = -np.inf, (0, 1)
        for a in range(len(groups)):
            for b in range(a + 1, len(groups)):
                v = apart(groups[a], groups[b])
                if v > best:
                    best, pair = v, (a, b)
        if best <= threshold_log10_lr:
            break
        a, b = pair
        groups[a] = sorted(groups[a] + groups[b])
        del groups[b]
    groups.sort(key=lambda g: (-sum(speech_s[i] for i in g), g[0]))
    between = tuple((a, b, apart(groups[a], groups[b])) for a in range(len(groups))
                    for b in range(a + 1, len(groups)))
    return SpeakerSplit(tuple(tuple(ids[i] for i in g) for g in groups), unassessed, between,
                        any(v <= threshold_log10_lr for _, _, v in between), threshold_log10_lr)


@dataclass(frozen=True)
class CalibratedConsistency:
    """Each segment compared with the rest of the selection by the calibrated comparison.

    ``log10_lr[i]``: segment i (questioned) against the main speaker group less itself (known); None when
    it cannot be judged. ``not_judged``: segments with too little speech (never flagged). ``flagged``: the
    segments outside the main group when the selection splits into speakers.
    """

    segment_ids: tuple[str, ...]
    log10_lr: tuple[float | None, ...]
    speech_s: tuple[float, ...]
    flagged: tuple[str, ...]
    not_judged: tuple[str, ...]
    model_id: str
    split: SpeakerSplit | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def compatible_dict(self) -> dict[str, Any]:
        """The short form stored as a run's ``consistency`` (the keys older readers know)."""
        return {"segment_ids": list(self.segment_ids), "flagged": list(self.flagged),
                "note": self.to_dict()["note"], "threshold_source": self.model_id}

    def to_dict(self) -> dict[str, Any]:
        """JSON form (keys ``segment_ids``, ``flagged`` as in :class:`ConsistencyReport`)."""
        return {
            "segment_ids": list(self.segment_ids),
            "log10_lr": {s: (None if v is None else round(v, 3)) for s, v in zip(self.segment_ids, self.log10_lr)},
            "speech_s": {s: round(v, 2) for s, v in zip(self.segment_ids, self.speech_s)},
            "flagged": list(self.flagged),
            "not_judged": list(self.not_judged),
            "threshold_log10_lr": SPLIT_LOG10_LR,
            "threshold_source": self.model_id,
            "method": "calibrated likelihood ratios (short segments give LRs near 1 instead of being flagged)",
            "note": ("flagged segments belong to another speaker group: the calibrated comparison gives at least "
                     "moderate support (LR <= 1/10) for different speakers"),
            "speaker_split": self.split.to_dict() if self.split is not None else None,
            **self.extra,
        }


def calibrated_consistency(segment_ids: Sequence[str], windows: Sequence[np.ndarray], speech_s: Sequence[float],
                           calibration: lrm.Calibration, cohort: np.ndarray, model_id: str = "comparison-v1"
                           ) -> CalibratedConsistency:
    """Speaker split of a selection, and every segment compared with the main group (less itself).

    Flagged: the segments outside the main group (largest net speech) when the selection splits, i.e.
    when groups compare with at least moderate support for different speakers. Segments too short
    to be judged are listed in ``not_judged`` and never flagged.
    """
    ids = list(segment_ids)
    split = split_speakers(ids, windows, speech_s, calibration, cohort, pairwise=True)
    main = set(split.groups[0]) if split.groups else set()
    out: list[float | None] = []
    for i, sid in enumerate(ids):
        ref = [j for j in range(len(ids)) if j != i and ids[j] in main and len(windows[j])]
        if not ref or not len(windows[i]) or speech_s[i] < calibration.min_speech_s:
            out.append(None)
            continue
        v = lrm.compare_embeddings(calibration, cohort, np.asarray(windows[i]).mean(axis=0),
                                   np.concatenate([windows[j] for j in ref]).mean(axis=0),
                                   float(speech_s[i]), float(sum(speech_s[j] for j in ref)))
        out.append(v.log10_lr)
    flagged = tuple(sid for sid in ids if split.split and sid not in main and sid not in split.unassessed)
    return CalibratedConsistency(tuple(ids), tuple(out), tuple(float(s) for s in speech_s), flagged,
                                 split.unassessed, model_id, split)
