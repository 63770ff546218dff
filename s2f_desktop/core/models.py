"""Frozen dataclasses handed out by the store and passed between layers.

These are the only shapes the GUI, CLI and report ever see; ORM rows never leave
``s2f_desktop.store``. Times on the signal axis are integer *samples at the evidence's
native rate*; conversion to seconds or pixels happens at the edges.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum
from typing import Any

from s2f_desktop.core.results import ModelRecord, RunResults, Timings
from s2f_desktop.core.timeutil import SampleSpan


class CaseStatus(str, Enum):
    """Lifecycle of a case."""

    OPEN = "open"
    CLOSED = "closed"


class SegmentSource(str, Enum):
    """Who proposed a segment."""

    MANUAL = "manual"
    VAD = "vad"


class SegmentStatus(str, Enum):
    """Whether a segment is part of the analyst's selection.

    VAD proposals start as ``suggested``; the analyst accepts or rejects them.
    Manual segments are created ``accepted``.
    """

    SUGGESTED = "suggested"
    ACCEPTED = "accepted"
    REJECTED = "rejected"


class Origin(str, Enum):
    """Where a composite parameter came from."""

    VOICE = "voice"
    ANALYST = "analyst"
    DEFAULT = "default"


@dataclass(frozen=True)
class CompositeParam:
    """One parameter of a composite: its value, where it came from, a note, and whether it is illustrative.

    Illustrative parameters (skin, hair and eye colour, hair style...) are never findings.
    """

    value: Any
    origin: Origin
    note: str = ""
    illustrative: bool = False


class VerifyStatus(str, Enum):
    """Result of re-hashing one evidence item."""

    OK = "OK"
    MISSING = "MISSING"
    ALTERED = "ALTERED"


@dataclass(frozen=True)
class Case:
    """An investigation; evidence, segments, runs and composites belong to one case."""

    id: int
    number: str
    title: str
    analyst: str
    agency: str
    status: CaseStatus
    notes: str
    created_at: datetime
    updated_at: datetime
    #: The question the examiner was asked, and the propositions (for comparisons, Hp and Hd).
    question: str = ""
    propositions: str = ""
    #: Case information received with the request (what the examiner was told).
    case_info: str = ""
    #: The examiner is ``analyst``; these describe them in the report's signature block.
    examiner_role: str = ""
    examiner_qualifications: str = ""
    #: What the examiner heard (language, accent, speaking style, channel): their statement, verbatim.
    listening_statement: str = ""


@dataclass(frozen=True)
class MediaInfo:
    """What probing an audio or video file found about its (first) audio stream."""

    duration_s: float
    sample_rate: int
    channels: int
    codec: str
    container: str
    frames: int

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly form."""
        return {
            "duration_s": self.duration_s,
            "sample_rate": self.sample_rate,
            "channels": self.channels,
            "codec": self.codec,
            "container": self.container,
            "frames": self.frames,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "MediaInfo":
        """Inverse of :meth:`to_dict`."""
        return cls(
            duration_s=float(d["duration_s"]),
            sample_rate=int(d["sample_rate"]),
            channels=int(d["channels"]),
            codec=str(d["codec"]),
            container=str(d["container"]),
            frames=int(d["frames"]),
        )


@dataclass(frozen=True)
class Evidence:
    """An imported recording: an immutable, hashed copy in the vault."""

    id: int
    case_id: int
    original_name: str
    original_path: str
    sha256: str
    size_bytes: int
    media: MediaInfo
    imported_at: datetime
    imported_by: str
    vault_relpath: str
    #: Provenance as recorded by the analyst: who delivered the exhibit, when, on what medium, seal/reference.
    received_from: str = ""
    received_on: str = ""
    medium: str = ""
    seal: str = ""


@dataclass(frozen=True)
class Segment(SampleSpan):
    """A time range of one evidence item, in samples at the evidence's native rate (seconds: :class:`SampleSpan`)."""

    id: str
    evidence_id: int
    start_sample: int
    end_sample: int
    sample_rate: int
    label: str
    speaker_tag: str
    source: SegmentSource
    status: SegmentStatus
    confidence: float | None
    params: dict[str, Any]
    created_at: datetime


@dataclass(frozen=True)
class AnalysisRun:
    """One trait analysis over a set of segments, with everything needed to reproduce it."""

    id: int
    case_id: int
    segment_ids: tuple[str, ...]
    models: tuple[ModelRecord, ...]
    app_version: str
    device: str
    parameters: dict[str, Any]
    seed: int
    results: RunResults
    timings: Timings
    created_at: datetime
    created_by: str


@dataclass(frozen=True)
class Composite:
    """One rendered composite face.

    ``parameters`` maps a parameter name to a :class:`CompositeParam` (value, origin, note, illustrative).
    Analyst edits are new rows whose ``parent_id`` names the version they were derived
    from; the voice-derived version is never overwritten.
    """

    id: int
    run_id: int
    kind: str
    label: str
    version: int
    parent_id: int | None
    parameters: dict[str, CompositeParam]
    images: dict[str, str]
    image_sha256: dict[str, str]
    created_at: datetime
    created_by: str


@dataclass(frozen=True)
class AuditEvent:
    """One entry of a case's hash-chained audit trail."""

    id: int
    case_id: int | None
    seq: int
    at: datetime
    actor: str
    action: str
    object_type: str
    object_ids: tuple[str, ...]
    details: dict[str, Any]
    prev_hash: str
    hash: str


@dataclass(frozen=True)
class EvidenceCheck:
    """Verification outcome for one evidence item."""

    evidence_id: int
    original_name: str
    sha256: str
    status: VerifyStatus
    actual_sha256: str | None = None


@dataclass(frozen=True)
class ChainCheck:
    """Verification outcome for an audit chain; ``first_broken`` is the first bad event id."""

    ok: bool
    events: int
    first_broken: int | None = None
    reason: str = ""


@dataclass(frozen=True)
class VerifyReport:
    """Everything ``verify`` found for a case."""

    case_number: str
    evidence: tuple[EvidenceCheck, ...]
    chain: ChainCheck
    checked_at: datetime = field(default_factory=datetime.now)

    @property
    def ok(self) -> bool:
        """True when every item is OK and the chain is intact."""
        return self.chain.ok and all(e.status is VerifyStatus.OK for e in self.evidence)
