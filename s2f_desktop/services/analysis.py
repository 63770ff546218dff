"""Voice analysis services: analyse files directly, or a case's selected segments as a recorded run.

The models live in :mod:`s2f_desktop.inference.analyzer` and are imported lazily here so
that commands which do not analyse (``s2f case list``) never load torch. The analyzer is
cached per process: a batch of files or repeated GUI runs load the models once.
"""

from __future__ import annotations

import hashlib
import importlib
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator, Sequence

import numpy as np

from s2f_desktop import __version__
from s2f_desktop.core.errors import InputError, NotFoundError, S2FError
from s2f_desktop.core.hashing import file_sha256
from s2f_desktop.core.models import AnalysisRun, SegmentStatus
from s2f_desktop.core.progress import Task, null_task
from s2f_desktop.core.results import SCHEMA_VERSION, AnalysedRange, Analysis, ModelRecord, RunResults, Timings
from s2f_desktop.services.cases import require_open
from s2f_desktop.services.context import AppContext
from s2f_desktop.store import codec
from s2f_desktop.store import repositories as repo
from s2f_desktop.store.audit import append_event
from s2f_desktop.system.faults import fault_point

if TYPE_CHECKING:
    from s2f_desktop.inference.analyzer import Analyzer

#: Longest audio one analysis reads (seconds). The whole selection is held in memory and
#: analysed at once (a 10-hour segment took 14 GB); ten minutes peak at 1.6 GB with the
#: models loaded (benchmarks/bench_custody.py), under the 2 GB target, and a voice profile
#: needs minutes of net speech, not hours. Longer selections are refused with the reason,
#: before anything is decoded.
MAX_SELECTION_S = 600.0


def check_length(seconds: float, what: str) -> None:
    if seconds > MAX_SELECTION_S:
        raise InputError(f"{what} is {seconds / 60:.1f} min long; one analysis reads at most "
                         f"{MAX_SELECTION_S / 60:.0f} min of audio (select shorter segments or a --start/--end range)")


def _analyzer_module() -> Any:
    return importlib.import_module("s2f_desktop.inference.analyzer")


def _analyzer(device: str) -> Analyzer:
    an: Analyzer = _analyzer_module().get_analyzer(device)
    return an


@dataclass(frozen=True)
class FileAnalysis:
    """The analysis of one audio file (or a range of it) outside any case."""

    path: Path
    sha256: str
    duration_s: float
    range_s: tuple[float, float]
    sample_rate: int
    analysis: Analysis
    models: tuple[ModelRecord, ...]
    device: str
    parameters: dict[str, Any]
    #: What the analyst must know about the input that the results do not say (e.g. channels that differ);
    #: printed beside the results, not part of the JSON contract.
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class FileError:
    """A file of a batch that could not be analysed, with the one-line reason."""

    path: Path
    error: str


def file_json(fa: FileAnalysis | FileError) -> dict[str, Any]:
    """The ``s2f analyze FILES --json`` object (the project owner's contract: keys are stable).

    Keys: ``input``, ``quality``, ``traits``, ``acoustics``, ``model``, ``models``, ``device``,
    ``parameters``, ``app_version``; a failed file gives ``{"input": {"path"}, "error"}``.
    """
    if isinstance(fa, FileError):
        return {"input": {"path": str(fa.path)}, "error": fa.error}
    pooled = fa.analysis.pooled
    return {
        "input": {"path": str(fa.path), "sha256": fa.sha256, "duration_s": fa.duration_s,
                  "range_s": list(fa.range_s), "sample_rate": fa.sample_rate, "speech_s": pooled.speech_s},
        "quality": codec.encode_quality(pooled.quality),
        "traits": codec.encode_traits(pooled.traits, provenance=False),
        "acoustics": codec.encode_acoustics(pooled.acoustics),
        "model": {"id": pooled.traits.model_id, "sha256": pooled.traits.model_sha256},
        "models": codec.encode_models(fa.models),
        "device": fa.device,
        "parameters": fa.parameters,
        "app_version": __version__,
    }


def analyze_file(path: Path | str, start_s: float | None = None, end_s: float | None = None, device: str = "auto",
                 task: Task | None = None) -> FileAnalysis:
    """Analyse one audio file (or a time range of it) without a case.

    Speech detection always removes the pauses; without a range it runs over the whole file.
    """
    from s2f_desktop.audio.decode import open_audio, read_mixed
    from s2f_desktop.audio.probe import truncation_note

    task = task or null_task()
    path = Path(path)
    if start_s is not None and start_s < 0 or end_s is not None and end_s < 0:
        raise InputError("--start and --end must be >= 0 seconds")
    if end_s is not None and end_s <= (start_s or 0.0):
        raise InputError(f"empty range: --end {end_s} is not after --start {start_s or 0.0}")
    with open_audio(path) as src:
        sr, frames = src.sample_rate, src.frames
        a = 0 if start_s is None else int(round(start_s * sr))
        b = frames if end_s is None else min(frames, int(round(end_s * sr)))
        if a >= frames:
            raise InputError(f"{path.name}: --start {start_s} s is beyond the end ({frames / sr:.2f} s)")
        check_length((b - a) / sr, f"the range of {path.name} to analyse")
        x, notes = read_mixed(src, a, b, path.name)
        if end_s is not None and int(round(end_s * sr)) > frames:
            notes += (f"{path.name}: --end {end_s} s is past the end; analysed to the end ({frames / sr:.3f} s)",)
    notes = notes + tuple(n for n in [truncation_note(path)] if n)
    sha = file_sha256(path)
    an = _analyzer(device)
    task.progress(0.05, f"analysing {path.name}")
    result, _ = an.analyze([_analyzer_module().Part(path.name, x, sr)], task.sub(0.05, 1.0))
    return FileAnalysis(path, sha, round(frames / sr, 3), (round(a / sr, 3), round(b / sr, 3)), sr, result,
                        an.models(), an.device, an.parameters(), notes)


def analyze_files(paths: Sequence[Path | str], start_s: float | None = None, end_s: float | None = None,
                  device: str = "auto", task: Task | None = None) -> Iterator[FileAnalysis | FileError]:
    """Analyse several files in order; a file that fails yields a :class:`FileError` and the batch goes on.

    The device is resolved (and the models loaded) before the first file, so a bad
    ``--device`` fails the whole batch at once rather than once per file.
    """
    task = task or null_task()
    _analyzer(device)
    n = max(1, len(paths))
    for i, p in enumerate(paths):
        try:
            yield analyze_file(p, start_s, end_s, device, task.sub(i / n, (i + 1) / n))
        except S2FError as exc:
            yield FileError(Path(p), exc.message)


def _load_parts(ctx: AppContext, segment_ids: Sequence[str], task: Task,
                pooled: bool = True) -> tuple[list[Any], list[Any], Any, tuple[str, ...]]:
    """Each segment's samples (vault copies re-hashed first), mixed to mono, and a note for every segment whose
    channels carry different signals (:func:`~s2f_desktop.audio.decode.channel_note`). ``pooled``: the parts will
    be measured together, so overlapping segments are refused (speaker grouping embeds each part on its own and
    allows them)."""
    from s2f_desktop.audio.decode import open_audio, read_mixed
    from s2f_desktop.core.timeutil import fmt_clock
    from s2f_desktop.services.evidence import require_intact, vault_path
    from s2f_desktop.services.segments import require_disjoint

    if not segment_ids:
        raise InputError("no segments selected")
    if len(set(segment_ids)) != len(segment_ids):
        raise InputError("a segment is selected twice")
    with ctx.store.read() as s:
        segs = [repo.get_segment(s, sid) for sid in segment_ids]
        evs = {seg.evidence_id: repo.get_evidence(s, seg.evidence_id) for seg in segs}
    if pooled:
        require_disjoint(segs, evs)
    require_intact(ctx, evs.values())
    check_length(sum((g.end_sample - g.start_sample) / g.sample_rate for g in segs), "the selection")
    mod = _analyzer_module()
    parts = []
    notes: list[str] = []
    for i, seg in enumerate(segs):
        task.progress(i / len(segs), f"reading segment {seg.id[:8]}")
        ev = evs[seg.evidence_id]
        with open_audio(vault_path(ctx, ev), frames=ev.media.frames) as src:
            x, said = read_mixed(src, seg.start_sample, seg.end_sample,
                                 f"{ev.original_name} {fmt_clock(seg.start_s)}\u2013{fmt_clock(seg.end_s)}")
            parts.append(mod.Part(seg.id, x, src.sample_rate))
        notes.extend(said)
    return parts, segs, evs, tuple(notes)


def mark_unshipped(models: Sequence[ModelRecord]) -> tuple[ModelRecord, ...]:
    """Model records, each not declared with that sha256 by the models shipped with this
    installation (``S2F_MODELS_DIR`` pointing at other weights and a re-hashed manifest)
    marked ``shipped=False``, so the run, the GUI and the report can say so."""
    import dataclasses
    import json

    from s2f_desktop.system.env import install_root

    out: list[ModelRecord] = []
    for m in models:
        try:
            manifest = json.loads((install_root() / "models" / m.id / "manifest.json").read_text())
            shipped = manifest.get("files", {}).get(m.file) == m.sha256
        except (OSError, ValueError, AttributeError):
            shipped = False
        out.append(m if shipped else dataclasses.replace(m, shipped=False))
    return tuple(out)


def accepted_segment_ids(ctx: AppContext, case_number: str) -> list[str]:
    """The selection "all accepted segments" of a case, in evidence and time order."""
    with ctx.store.read() as s:
        case = repo.get_case(s, case_number)
        return [g.id for g in repo.list_case_segments(s, case.id) if g.status is SegmentStatus.ACCEPTED]


def samples_sha256(x: np.ndarray) -> str:
    """SHA-256 of the samples the models receive (mono float32, little-endian)."""
    return hashlib.sha256(np.ascontiguousarray(x, dtype="<f4").tobytes()).hexdigest()


def analyze_selection(ctx: AppContext, case_number: str, segment_ids: Sequence[str], device: str = "auto",
                      task: Task | None = None) -> AnalysisRun:
    """Analyse selected segments of an open case and store the run (with an audit event).

    Every segment must belong to the case. The run records the analysed ranges (evidence,
    samples, and the SHA-256 of the samples analysed), every model used, the app version,
    the device, the parameters, the seed, per-segment and pooled results, the
    speaker-consistency check and timings.
    """
    task = task or null_task()
    with ctx.store.read() as s:
        case = repo.get_case(s, case_number)
    require_open(case)
    t0 = time.perf_counter()
    parts, segs, evs, notes = _load_parts(ctx, segment_ids, task.sub(0.0, 0.05))
    foreign = [seg.id for seg in segs if evs[seg.evidence_id].case_id != case.id]
    if foreign:
        raise InputError(f"segment {foreign[0]} does not belong to case {case_number}")
    selection = tuple(AnalysedRange(seg.id, seg.evidence_id, evs[seg.evidence_id].sha256,
                                    evs[seg.evidence_id].original_name, seg.start_sample, seg.end_sample,
                                    seg.sample_rate, samples_sha256(p.x)) for seg, p in zip(segs, parts))
    t1 = time.perf_counter()
    an = _analyzer(device)
    t2 = time.perf_counter()
    analysis, _ = an.analyze(parts, task.sub(0.05, 0.97))
    t3 = time.perf_counter()
    # A profile is never pooled across voices: when the calibrated comparison splits the
    # selection into speaker groups, nothing is stored and the error names one run per group.
    from s2f_desktop.services.comparison import require_single_speaker

    require_single_speaker(analysis.consistency, case_number)
    results = RunResults(SCHEMA_VERSION, selection, analysis.parts, analysis.pooled, analysis.consistency, notes)
    timings = Timings(round(t1 - t0, 3), round(t2 - t1, 3), round(t3 - t2, 3))
    task.progress(0.98, "recording the run")
    pooled = results.pooled
    with ctx.store.write() as s:
        # Re-checked inside the write transaction: the case may have been closed meanwhile.
        require_open(repo.get_case(s, case_number))
        run = repo.add_run(s, case.id, list(segment_ids), mark_unshipped(an.models()), __version__, an.device,
                           an.parameters(), _analyzer_module().SEED, results, timings, ctx.actor)
        from s2f_desktop.store import custody

        append_event(s, case_id=case.id, actor=ctx.actor, action="analysis.run", object_type="analysis_run",
                     object_ids=[run.id], details={
                         "selection_sha256": custody.selection_hash(segs, evs),
                         "custody": [custody.state("analysis_run", run)],
                         "segments": list(segment_ids), "models": codec.encode_models(run.models),
                         "device": an.device, "sex": pooled.traits.sex.label, "p_male": pooled.traits.sex.p_male,
                         "age": pooled.traits.age.label, "age_interval_80": list(pooled.traits.age.interval_80),
                         "quality": pooled.quality.verdict.value,
                         "flagged_segments": list(results.consistency.flagged) if results.consistency else [],
                         "samples_sha256": {r.segment_id: r.samples_sha256 for r in selection},
                     })
        repo.touch_case(s, case.id)
        fault_point("analysis.recording")
    task.progress(1.0, "analysis recorded")
    return run


def get_run(ctx: AppContext, case_number: str, run_id: int) -> AnalysisRun:
    """A stored run of the named case (a run of another case is refused, as if absent)."""
    with ctx.store.read() as s:
        case = repo.get_case(s, case_number)
        run = repo.get_run(s, run_id)
    if run.case_id != case.id:
        raise NotFoundError(f"case {case_number} has no analysis run #{run_id}")
    return run


def speaker_groups(ctx: AppContext, evidence_id: int, segment_ids: Sequence[str], device: str = "auto",
                   task: Task | None = None) -> tuple[list[list[str]], list[str]]:
    """Group segments of one evidence item by probable speaker (largest group first), and list those with
    too little speech to judge (in no group); changes nothing."""
    task = task or null_task()
    parts, segs, _, _ = _load_parts(ctx, segment_ids, task.sub(0.0, 0.2), pooled=False)
    other = [seg.id for seg in segs if seg.evidence_id != evidence_id]
    if other:
        raise InputError(f"segment {other[0]} is not part of evidence #{evidence_id}")
    return _analyzer(device).speaker_groups(parts, task.sub(0.2, 1.0))


def run_json(run: AnalysisRun) -> dict[str, Any]:
    """A stored run as JSON (``s2f analyze CASE --segments ... --json``): its fields, results as stored."""
    return {"id": run.id, "case_id": run.case_id, "segment_ids": list(run.segment_ids),
            "models": codec.encode_models(run.models), "app_version": run.app_version, "device": run.device,
            "parameters": run.parameters, "seed": run.seed, "results": codec.encode_results(run.results),
            "timings": codec.encode_timings(run.timings), "created_at": run.created_at.isoformat(),
            "created_by": run.created_by}
