"""Speaker consistency of a selection, and grouping of segments by speaker (numpy/scipy only).

Segments are compared by the cosine similarity of their GE2E embeddings. A segment is
flagged when its median similarity to the other selected segments falls below the
calibrated same-speaker threshold (the equal-error-rate threshold measured on
LibriSpeech test-other, see models/speaker-consistency-v1): it may be a second speaker,
or too short or too degraded to tell. Grouping uses average-linkage agglomerative
clustering cut at the same threshold, so "same group" means "more similar than the
threshold on average". Both are aids for the analyst, not speaker identification.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np


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
    return e @ e.T


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
