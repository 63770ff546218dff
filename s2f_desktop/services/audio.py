"""Audio services: waveform overview, spectrogram tiles, segment audio and quality, recording.

Everything here works on the vault copy of an evidence item (never the original) and
streams: no call reads a whole recording into memory except where the caller asks for
one bounded range.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Iterator, Sequence

import numpy as np

from s2f_desktop.audio.decode import open_audio
from s2f_desktop.audio.devices import Recorder
from s2f_desktop.audio.overview import Overview, build_overview
from s2f_desktop.audio.quality import QualityReport, assess_parts
from s2f_desktop.audio.spectrogram import spectrogram_tile
from s2f_desktop.core.errors import InputError, IntegrityError
from s2f_desktop.core.models import Evidence, Segment
from s2f_desktop.core.progress import Task, null_task
from s2f_desktop.services.cases import require_open
from s2f_desktop.services.context import AppContext
from s2f_desktop.services.evidence import import_file, require_intact, vault_path
from s2f_desktop.services.segments import require_disjoint
from s2f_desktop.store import repositories as repo
from s2f_desktop.store.audit import append_event
from s2f_desktop.store.vault import sha256_file

#: Segments are assessed in parts of this length (s), pooled exactly (bounded memory).
QUALITY_PART_S = 60.0


def evidence_audio_path(ctx: AppContext, evidence: Evidence) -> Path:
    """The vault copy to decode (read-only)."""
    return vault_path(ctx, evidence)


def evidence_overview(ctx: AppContext, evidence: Evidence, task: Task | None = None) -> Overview:
    """The waveform pyramid of an evidence item, from the cache or built (progress, cancellable)."""
    return build_overview(evidence_audio_path(ctx, evidence), evidence.sha256, ctx.store.layout.cache, task,
                          frames=evidence.media.frames)


def evidence_spectrogram(ctx: AppContext, evidence: Evidence, start_sample: int, end_sample: int,
                         n_fft: int = 512, max_columns: int = 1024) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Log-magnitude spectrogram tile of a visible range (see ``audio.spectrogram``)."""
    return spectrogram_tile(evidence_audio_path(ctx, evidence), start_sample, end_sample, n_fft=n_fft,
                            max_columns=max_columns, frames=evidence.media.frames)


def read_evidence(ctx: AppContext, evidence: Evidence, start_sample: int, end_sample: int,
                  channel: int | str | None = "mix") -> np.ndarray:
    """Samples of one range at the native rate (float32)."""
    with open_audio(evidence_audio_path(ctx, evidence), frames=evidence.media.frames) as src:
        return src.read(start_sample, end_sample, channel=channel)


def segment_audio(ctx: AppContext, segment_id: str, channel: int | str | None = "mix") -> tuple[np.ndarray, int]:
    """A segment's samples and rate (for playback)."""
    with ctx.store.read() as s:
        seg = repo.get_segment(s, segment_id)
        ev = repo.get_evidence(s, seg.evidence_id)
    return read_evidence(ctx, ev, seg.start_sample, seg.end_sample, channel), ev.media.sample_rate


def _segments(ctx: AppContext, segment_ids: Sequence[str]) -> list[tuple[Segment, Evidence]]:
    if not segment_ids:
        raise InputError("no segments selected")
    out = []
    with ctx.store.read() as s:
        for sid in segment_ids:
            seg = repo.get_segment(s, sid)
            out.append((seg, repo.get_evidence(s, seg.evidence_id)))
    require_intact(ctx, [ev for _seg, ev in out])
    return out


def _parts(ctx: AppContext, items: list[tuple[Segment, Evidence]], task: Task, vad: bool
           ) -> Iterator[tuple[np.ndarray, int, list[tuple[float, float]] | None]]:
    detect = importlib.import_module("s2f_desktop.inference.vad").detect_speech if vad else None
    total = sum(seg.end_sample - seg.start_sample for seg, _ in items) or 1
    done = 0
    for seg, ev in items:
        with open_audio(evidence_audio_path(ctx, ev), frames=ev.media.frames) as src:
            sr = src.sample_rate
            block = max(1, int(QUALITY_PART_S * sr))
            for x in src.blocks(seg.start_sample, seg.end_sample, block_frames=block, channel="mix"):
                speech = None
                if detect is not None:
                    speech = [(r.start_s, r.end_s) for r in detect(x, sr)]
                done += x.shape[0]
                task.progress(done / total, "assessing quality")
                yield x, sr, speech


def segment_quality(ctx: AppContext, segment_ids: Sequence[str], task: Task | None = None,
                    vad: bool = True) -> QualityReport:
    """Pooled quality of a selection of segments (one verdict for what the analysis would use).

    Speech inside the segments is found with silero VAD, as the analysis finds it (its gate then
    agrees with this verdict), or with the faster energy detector of ``audio.quality`` when ``vad``
    is False (a quick look only: in noise it can miss speech the analysis measures, or the reverse).
    """
    task = task or null_task()
    items = _segments(ctx, segment_ids)
    # Pooled: an overlap would count its speech twice (each segment on its own, segment_qualities, is fine).
    require_disjoint([seg for seg, _ev in items], {ev.id: ev for _seg, ev in items})
    return assess_parts(_parts(ctx, items, task, vad))


def segment_qualities(ctx: AppContext, segment_ids: Sequence[str], task: Task | None = None,
                      vad: bool = True) -> dict[str, QualityReport]:
    """Quality of each segment on its own."""
    task = task or null_task()
    items = _segments(ctx, segment_ids)
    out = {}
    for i, item in enumerate(items):
        sub = task.sub(i / len(items), (i + 1) / len(items))
        out[item[0].id] = assess_parts(_parts(ctx, [item], sub, vad))
    return out


def record_evidence(ctx: AppContext, case_number: str, recorder: Recorder, task: Task | None = None) -> Evidence:
    """Stop ``recorder`` and import its WAV as evidence of the case (through the vault).

    The file's sha256 taken when recording stopped must equal the hash computed by the
    import, so nothing can change it in between. Device or import errors leave no
    evidence and no temporary file. An ``evidence.record`` audit event records the
    device, rate, channels and input overflows next to the import event.
    """
    task = task or null_task()
    with ctx.store.read() as s:
        case = repo.get_case(s, case_number)
    try:
        require_open(case)
    except InputError:
        recorder.cancel()
        raise
    path = recorder.stop()
    try:
        if sha256_file(path)[0] != recorder.sha256:
            raise IntegrityError("the recording changed between the end of recording and its import")
        result = import_file(ctx, case_number, path, task)
        ev = result.evidence
        assert ev is not None
        if ev.sha256 != recorder.sha256:
            raise IntegrityError("the recording changed between the end of recording and its import")
        with ctx.store.write() as s:
            append_event(s, case_id=case.id, actor=ctx.actor, action="evidence.record", object_type="evidence",
                         object_ids=[ev.id],
                         details={"device": None if recorder.device is None else str(recorder.device),
                                  "sample_rate": recorder.sample_rate,
                                  "channels": recorder.channels, "frames": recorder.frames,
                                  "input_overflows": recorder.overflows,
                                  "sha256_at_stop": recorder.sha256})
        return ev
    finally:
        recorder.discard_file()
