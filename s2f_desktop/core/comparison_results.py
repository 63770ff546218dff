"""The typed results of a speaker comparison: the system's verdict and a stored run's results.

The comparison system (``inference.comparison.Comparator``) returns a :class:`ComparisonVerdict`;
``services.comparison`` prints it for file comparisons (``s2f compare A B --json``, ``--pairs``)
and, for a case, extends it with the case's segments, evidence and model into the
:class:`ComparisonResults` of table ``comparison_runs``. :mod:`s2f_desktop.store.codec` is the only
encoder and decoder of both, and every reader — report, GUI, CLI — reads these attributes;
nothing reads a comparison's results by key.

Schema versions: 1 is the shape written since Alembic revision 0005 created the table. It
carries no ``schema_version`` key, and this release writes it byte for byte as before, so
stored runs and the audit events that describe them stay as they were. A later shape must
write its version key and come with an Alembic revision that migrates stored runs.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Generic, TypeVar

from s2f_desktop.core.results import Quality

#: Version of the comparison results encoding written by this release.
COMPARISON_SCHEMA_VERSION = 1

T = TypeVar("T")


@dataclass(frozen=True)
class BySide(Generic[T]):
    """One value for each side of a comparison."""

    questioned: T
    known: T


@dataclass(frozen=True)
class ValidationPosition:
    """Where the case LR falls among the model's cross-validated LRs (shares of validation trials)."""

    share_same_speaker_trials_at_or_below: float
    share_different_speaker_trials_at_or_above: float


@dataclass(frozen=True)
class ComparedSegment:
    """A segment of one side as it was when compared (sample range of its evidence item)."""

    segment_id: str
    evidence_id: int
    start_sample: int
    end_sample: int
    #: "questioned" or "known"
    side: str


@dataclass(frozen=True)
class ComparedEvidence:
    """An evidence item a comparison read, with its SHA-256 and original name at comparison time."""

    evidence_id: int
    sha256: str
    name: str


@dataclass(frozen=True)
class ComparisonModelRef:
    """The comparison model: its id and the SHA-256 of its calibration file (which defines the LRs)."""

    id: str
    sha256: str


@dataclass(frozen=True)
class ComparisonVerdict:
    """What the comparison system answers for a questioned and a known side, at its reported precision.

    ``log10_lr`` and ``lr`` are None when the system abstained (``abstain_reason`` says why);
    ``at_bound`` is True when the LR was clipped to the empirical bounds (ELUB) of the
    validation. ``hp``/``hd`` are the propositions, ``verbal`` the words of ``scale``.
    """

    score: float | None
    snorm: float | None
    log10_lr: float | None
    lr: float | None
    verbal: str
    label: str
    abstain_reason: str | None
    #: net speech per side (s), as used for the embedding and the calibration
    speech_s: BySide[float]
    at_bound: bool
    hp: str
    hd: str
    scale: str
    channel: str
    quality: BySide[Quality]
    #: ids of the parts (segments) of each side that had speech long enough to embed
    segments_used: BySide[tuple[str, ...]]
    #: None when the system abstained
    validation_position: ValidationPosition | None

    @property
    def abstained(self) -> bool:
        """True when no LR was given."""
        return self.log10_lr is None


@dataclass(frozen=True)
class ComparisonResults(ComparisonVerdict):
    """The stored results of one speaker comparison of a case: the verdict, then what it compared."""

    segments: tuple[ComparedSegment, ...]
    evidence: tuple[ComparedEvidence, ...]
    model: ComparisonModelRef
    schema_version: int = COMPARISON_SCHEMA_VERSION
    #: What the input was like that the numbers cannot show: a segment whose recording's channels carry
    #: different signals (mixed into one, so a side may hold two voices). Stored only when there is one, so
    #: comparisons without notes are encoded byte for byte as before.
    notes: tuple[str, ...] = ()

    @classmethod
    def of(cls, verdict: ComparisonVerdict, segments: tuple[ComparedSegment, ...],
           evidence: tuple[ComparedEvidence, ...], model: ComparisonModelRef,
           notes: tuple[str, ...] = ()) -> ComparisonResults:
        """The results of a case comparison: ``verdict`` with the case's segments and evidence and the model."""
        return cls(**{f.name: getattr(verdict, f.name) for f in fields(ComparisonVerdict)},
                   segments=segments, evidence=evidence, model=model, notes=notes)
