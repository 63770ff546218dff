"""The typed, versioned results of a voice analysis: what inference produces and the store keeps.

``inference.analyzer`` builds an :class:`Analysis` from a selection; ``services.analysis``
adds the :class:`Selection` (which ranges of which evidence were analysed, with the hash of
the samples actually analysed) to make :class:`RunResults`, and the store encodes it (see
:mod:`s2f_desktop.store.codec`, the only encoder and decoder). Every reader — report, GUI,
CLI, composites — reads these attributes; nothing reads results by key.

Frozen dataclasses rather than ``msgspec.Struct``: a run holds a few dozen small objects,
encoding one takes well under a millisecond either way (measured in the codec test), and
dataclasses need no extra dependency and are what the rest of ``core`` uses.

Schema versions: 1 is the untyped dictionary written by release 0.1.0 (no schema field,
no analysed-sample hashes); 2 is this module. Alembic revision 0003 migrates stored runs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum

from s2f_desktop.core.timeutil import SampleSpan
from s2f_desktop.core.traits import TraitEstimate

#: Version of the results encoding written by this release.
SCHEMA_VERSION = 2


class QualityVerdict(str, Enum):
    """The quality gate's answer for a segment or a selection."""

    OK = "ok"
    WARN = "warn"
    INSUFFICIENT = "insufficient"


@dataclass(frozen=True)
class Quality:
    """Measured quality of speech (``snr_db``/``level_dbfs`` are None without speech)."""

    verdict: QualityVerdict
    reasons: tuple[str, ...]
    net_speech_s: float
    snr_db: float | None
    clipping_fraction: float
    bandwidth_hz: float
    telephone_band: bool
    level_dbfs: float | None
    duration_s: float
    snr_method: str
    #: The thresholds the verdict was taken against (name → value; units in the name suffix).
    thresholds: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class Measure:
    """One acoustic measure: its value (None when not measurable), its unit, and whether it is reliable here."""

    value: float | None
    unit: str
    reliable: bool = True


@dataclass(frozen=True)
class Acoustics:
    """Praat measures of a stretch of speech, in a fixed order, with units."""

    measures: dict[str, Measure]
    formant_ceiling_hz: float | None
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class Consistency:
    """Speaker-consistency check of a selection: segments whose voice disagrees with the rest are flagged."""

    segment_ids: tuple[str, ...]
    similarity: tuple[tuple[float, ...], ...]
    median_similarity: dict[str, float | None]
    flagged: tuple[str, ...]
    threshold: float
    threshold_source: str
    note: str
    #: "cosine" (speaker-consistency-v1: similarity against a fixed threshold) or "calibrated"
    #: (comparison-v1: each segment against the main speaker group as a log10 LR; ``threshold``
    #: is then the log10 LR below which groups are kept apart). The fields below are the
    #: calibrated check's; they stay empty for the cosine check.
    method: str = "cosine"
    log10_lr: dict[str, float | None] = field(default_factory=dict)
    speech_s: dict[str, float] = field(default_factory=dict)
    not_judged: tuple[str, ...] = ()
    #: Speaker groups of the selection (largest net speech first); ``split`` when there are two or more.
    groups: tuple[tuple[str, ...], ...] = ()
    split: bool = False
    #: log10 LR between every pair of groups (group indices into ``groups``).
    between: tuple[tuple[int, int, float], ...] = ()


@dataclass(frozen=True)
class PartResult:
    """Everything measured on one part of a selection (a segment, or a file range)."""

    id: str
    duration_s: float
    speech_s: float
    speech_regions: tuple[tuple[float, float], ...]
    quality: Quality
    traits: TraitEstimate
    acoustics: Acoustics | None


@dataclass(frozen=True)
class Pooled:
    """The whole selection: the estimate that is reported."""

    quality: Quality
    traits: TraitEstimate
    acoustics: Acoustics
    speech_s: float
    duration_s: float


@dataclass(frozen=True)
class Analysis:
    """What the analyzer returns for a selection: per-part results, pooled result, consistency."""

    parts: tuple[PartResult, ...]
    pooled: Pooled
    consistency: Consistency | None


@dataclass(frozen=True)
class AnalysedRange(SampleSpan):
    """One analysed range: a segment of an evidence item as it was at analysis time (seconds: :class:`SampleSpan`).

    ``samples_sha256`` is the SHA-256 of the mono float32 (little-endian) samples the
    models received; None for runs stored before schema 2, which did not record it.
    """

    segment_id: str
    evidence_id: int
    evidence_sha256: str
    evidence_name: str
    start_sample: int
    end_sample: int
    sample_rate: int
    samples_sha256: str | None


@dataclass(frozen=True)
class RunResults:
    """The stored results of one analysis run (a case's selection)."""

    schema_version: int
    selection: tuple[AnalysedRange, ...]
    segments: tuple[PartResult, ...]
    pooled: Pooled
    consistency: Consistency | None
    #: What the input was like that the numbers cannot show: a segment whose recording's channels carry
    #: different signals (mixed into one, so it may hold two voices). Stored only when there is one, so
    #: runs without notes are encoded as before.
    notes: tuple[str, ...] = ()

    def segment(self, segment_id: str) -> PartResult | None:
        """The result of one analysed segment (None when it was not part of the run)."""
        return next((p for p in self.segments if p.id == segment_id), None)

    def range_of(self, segment_id: str) -> AnalysedRange | None:
        """The analysed range of one segment (None when it was not part of the run)."""
        return next((r for r in self.selection if r.segment_id == segment_id), None)


@dataclass(frozen=True)
class ModelRecord:
    """A model an analysis used: its declared id, file and SHA-256 (verified before loading)."""

    id: str
    file: str
    sha256: str
    #: False when the file is not the one the installation's own manifest declares (weights
    #: swapped under ``S2F_MODELS_DIR`` with a re-hashed manifest): the run, GUI and report say so.
    shipped: bool = True


@dataclass(frozen=True)
class Timings:
    """Wall-clock seconds of a run's stages."""

    read_s: float
    load_models_s: float
    analysis_s: float
