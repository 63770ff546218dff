"""Helpers several test modules share (fixtures live in conftest.py).

Imported as ``from helpers import ...``: pytest puts tests/ on ``sys.path``.
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

from s2f_desktop.core.results import SCHEMA_VERSION, Acoustics, Pooled, Quality, QualityVerdict, RunResults
from s2f_desktop.core.traits import AgeEstimate, SexEstimate, TraitEstimate


class FakeStream:
    """An output stream that 'plays' instantly (no sound card here): ``start`` pulls blocks from the
    player's callback until it stops, then calls the finished callback. ``played`` counts the frames
    pulled by every instance (reset it before use)."""

    played = 0
    BLOCK = 1024

    def __init__(self, callback: Callable[..., Any], finished_callback: Callable[[], Any], channels: int,
                 **_kw: Any) -> None:
        self.cb, self.fin, self.ch = callback, finished_callback, channels

    def start(self) -> None:
        out = np.zeros((self.BLOCK, self.ch), dtype=np.float32)
        try:
            while True:
                self.cb(out, self.BLOCK, None, None)
                FakeStream.played += self.BLOCK
        except Exception:
            self.fin()

    def stop(self) -> None:
        pass

    def close(self) -> None:
        pass


def stub_quality(thresholds: dict[str, float] | None = None) -> Quality:
    """A quality block with the verdict 'ok' (placeholder values, not a measurement)."""
    return Quality(QualityVerdict.OK, (), 1.0, 30.0, 0.0, 8000.0, False, -20.0, 1.0, "pauses", dict(thresholds or {}))


def stub_traits() -> TraitEstimate:
    """Traits that abstained on both sex and age (placeholder values, not a model's output)."""
    return TraitEstimate(SexEstimate(0.5, "inconclusive"), AgeEstimate(40.0, (20.0, 60.0), "inconclusive"))


def stub_results(thresholds: dict[str, float] | None = None) -> RunResults:
    """Typed results with an empty selection, for tests that need a stored run row rather than an analysis."""
    pooled = Pooled(stub_quality(thresholds), stub_traits(), Acoustics({}, None), 1.0, 1.0)
    return RunResults(SCHEMA_VERSION, (), (), pooled, None)


def stereo_call(speech_wav: Callable[..., Any], text: str, folder: Any) -> tuple[Any, int]:
    """A two-party call recorded one party per channel (espeak-ng male left, female right): ``call.wav`` in
    ``folder`` and its length in frames."""
    import soundfile as sf

    xm, sr = sf.read(str(speech_wav(text, voice="en-us+m3", name="m.wav")), dtype="float32")
    xf, _ = sf.read(str(speech_wav(text, voice="en-us+f3", name="f.wav")), dtype="float32")
    n = min(len(xm), len(xf))
    call = folder / "call.wav"
    sf.write(str(call), np.stack([xm[:n], xf[:n]], axis=1), sr)
    return call, n


def add_suggestions(ctx: Any, evidence: Any, ranges: list[tuple[int, int, float]]) -> list[Any]:
    """Speech-detection suggestions stored the way ``run_vad`` stores them: the rows and one ``segment.vad``
    event binding them (a row without its event is refused by every audited change, as tampering)."""
    from s2f_desktop.core.models import SegmentSource
    from s2f_desktop.store import custody
    from s2f_desktop.store import repositories as repo
    from s2f_desktop.store.audit import append_event

    with ctx.store.write() as s:
        segs = [repo.add_segment(s, evidence.id, a, b, evidence.media.sample_rate, source=SegmentSource.VAD,
                                 confidence=conf) for a, b, conf in ranges]
        append_event(s, case_id=evidence.case_id, actor=ctx.actor, action="segment.vad", object_type="evidence",
                     object_ids=[evidence.id], details={"suggested": len(segs),
                                                        "custody": [custody.state("segment", g) for g in segs]})
    return segs
