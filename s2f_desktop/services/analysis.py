"""Voice analysis services: analyse files directly, or a case's selected segments as a recorded run.

The models live in :mod:`s2f_desktop.inference.analyzer` and are imported lazily here so
that commands which do not analyse (``s2f case list``) never load torch. The analyzer is
cached per process: a batch of files or repeated GUI runs load the models once.
"""

from __future__ import annotations

import importlib
import time
from pathlib import Path
from typing import Any, Iterator, Sequence

from s2f_desktop import __version__
from s2f_desktop.core.errors import InputError, S2FError
from s2f_desktop.core.models import AnalysisRun
from s2f_desktop.core.progress import Task, null_task
from s2f_desktop.services.cases import require_open
from s2f_desktop.services.context import AppContext
from s2f_desktop.store import repositories as repo
from s2f_desktop.store.audit import append_event
from s2f_desktop.store.vault import sha256_file
from s2f_desktop.system.faults import fault_point


#: Longest audio one analysis reads (seconds). The whole selection is held in memory and
#: analysed at once (a 10-hour segment took 14 GB); ten minutes peak at 1.6 GB with the
#: models loaded (benchmarks/bench_custody.py), under the 2 GB target, and a voice profile
#: needs minutes of net speech, not hours. Longer selections are refused with the reason,
#: before anything is decoded.
MAX_SELECTION_S = 600.0


def _check_length(seconds: float, what: str) -> None:
    if seconds > MAX_SELECTION_S:
        raise InputError(f"{what} is {seconds / 60:.1f} min long; one analysis reads at most "
                         f"{MAX_SELECTION_S / 60:.0f} min of audio (select shorter segments or a --start/--end range)")


def _analyzer_module() -> Any:
    return importlib.import_module("s2f_desktop.inference.analyzer")


def _analyzer(device: str) -> Any:
    return _analyzer_module().get_analyzer(device)


def analyze_file(path: Path | str, start_s: float | None = None, end_s: float | None = None, device: str = "auto",
                 task: Task | None = None) -> dict[str, Any]:
    """Analyse one audio file (or a time range of it) without a case; returns the CLI JSON object.

    Speech detection always removes the pauses; without a range it runs over the whole
    file. The object has the keys ``input``, ``quality``, ``traits``, ``acoustics``,
    ``model``, ``models``, ``device`` and ``parameters`` (see docs; keys are stable).
    """
    from s2f_desktop.audio.decode import open_audio

    task = task or null_task()
    path = Path(path)
    if start_s is not None and start_s < 0 or end_s is not None and end_s < 0:
        raise InputError("--start and --end must be >= 0 seconds")
    if start_s is not None and end_s is not None and end_s <= start_s:
        raise InputError(f"empty range: --end {end_s} is not after --start {start_s}")
    with open_audio(path) as src:
        sr, frames = src.sample_rate, src.frames
        a = 0 if start_s is None else int(round(start_s * sr))
        b = frames if end_s is None else min(frames, int(round(end_s * sr)))
        if a >= frames:
            raise InputError(f"{path.name}: --start {start_s} s is beyond the end ({frames / sr:.2f} s)")
        _check_length((b - a) / sr, f"the range of {path.name} to analyse")
        x = src.read(a, b, channel="mix")
    sha, _ = sha256_file(path)
    an = _analyzer(device)
    task.progress(0.05, f"analysing {path.name}")
    mod = _analyzer_module()
    res = an.analyze([mod.Part(path.name, x, sr)], task.sub(0.05, 1.0))
    pooled = res["results"]["pooled"]
    t = res["traits"]
    return {
        "input": {"path": str(path), "sha256": sha, "duration_s": round(frames / sr, 3),
                  "range_s": [round(a / sr, 3), round(b / sr, 3)], "sample_rate": sr,
                  "speech_s": pooled["speech_s"]},
        "quality": pooled["quality"],
        "traits": pooled["traits"],
        "acoustics": pooled["acoustics"],
        "model": {"id": t.model_id, "sha256": t.model_sha256},
        "models": an.models(),
        "device": an.device,
        "parameters": an.parameters(),
        "app_version": __version__,
    }


def analyze_files(paths: Sequence[Path | str], start_s: float | None = None, end_s: float | None = None,
                  device: str = "auto", task: Task | None = None) -> Iterator[dict[str, Any]]:
    """Analyse several files in order; a file that fails yields ``{"input": {"path"}, "error"}`` and the batch goes on.

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
            yield {"input": {"path": str(p)}, "error": exc.message}


def _load_parts(ctx: AppContext, segment_ids: Sequence[str], task: Task) -> tuple[list[Any], list[Any], Any]:
    from s2f_desktop.audio.decode import open_audio
    from s2f_desktop.services.evidence import vault_path

    if not segment_ids:
        raise InputError("no segments selected")
    if len(set(segment_ids)) != len(segment_ids):
        raise InputError("a segment is selected twice")
    with ctx.store.read() as s:
        segs = [repo.get_segment(s, sid) for sid in segment_ids]
        evs = {seg.evidence_id: repo.get_evidence(s, seg.evidence_id) for seg in segs}
    _check_length(sum((g.end_sample - g.start_sample) / g.sample_rate for g in segs), "the selection")
    mod = _analyzer_module()
    parts = []
    for i, seg in enumerate(segs):
        task.progress(i / len(segs), f"reading segment {seg.id[:8]}")
        ev = evs[seg.evidence_id]
        with open_audio(vault_path(ctx, ev), frames=ev.media.frames) as src:
            parts.append(mod.Part(seg.id, src.read(seg.start_sample, seg.end_sample, channel="mix"), src.sample_rate))
    return parts, segs, evs


def mark_unshipped(models: Sequence[dict[str, str]]) -> list[dict[str, Any]]:
    """Model records, each not declared with that sha256 by the models shipped with this
    installation (``S2F_MODELS_DIR`` pointing at other weights and a re-hashed manifest)
    marked ``"shipped": false``, so the run, the GUI and the report can say so."""
    import json

    from s2f_desktop.system.env import install_root

    out: list[dict[str, Any]] = []
    for m in models:
        rec: dict[str, Any] = dict(m)
        try:
            manifest = json.loads((install_root() / "models" / str(m.get("id", "")) / "manifest.json").read_text())
            shipped = manifest.get("files", {}).get(m.get("file")) == m.get("sha256")
        except (OSError, ValueError, AttributeError):
            shipped = False
        if not shipped:
            rec["shipped"] = False
        out.append(rec)
    return out


def analyze_selection(ctx: AppContext, case_number: str, segment_ids: Sequence[str], device: str = "auto",
                      task: Task | None = None) -> AnalysisRun:
    """Analyse selected segments of a case and store the run (with an audit event).

    The run records the segment ids, every model used ({id, file, sha256}), the app
    version, the device, the parameters, the seed, per-segment and pooled results
    (quality, traits, acoustics), the speaker-consistency check and timings.
    """
    task = task or null_task()
    with ctx.store.read() as s:
        case = repo.get_case(s, case_number)
    require_open(case)
    t0 = time.perf_counter()
    parts, segs, evs = _load_parts(ctx, segment_ids, task.sub(0.0, 0.05))
    foreign = [seg.id for seg in segs if evs[seg.evidence_id].case_id != case.id]
    if foreign:
        raise InputError(f"segment {foreign[0]} does not belong to case {case_number}")
    t1 = time.perf_counter()
    an = _analyzer(device)
    t2 = time.perf_counter()
    res = an.analyze(parts, task.sub(0.05, 0.97))
    t3 = time.perf_counter()
    results = res["results"]
    results["evidence"] = {str(e.id): {"sha256": e.sha256, "name": e.original_name} for e in evs.values()}
    for seg in segs:
        results["segments"][seg.id]["range_samples"] = [seg.start_sample, seg.end_sample]
        results["segments"][seg.id]["evidence_id"] = seg.evidence_id
    timings = {"read_s": round(t1 - t0, 3), "load_models_s": round(t2 - t1, 3), "analysis_s": round(t3 - t2, 3)}
    task.progress(0.98, "recording the run")
    with ctx.store.write() as s:
        run = repo.add_run(s, case.id, list(segment_ids), mark_unshipped(an.models()), __version__, an.device,
                           an.parameters(),
                           _analyzer_module().SEED, results, timings, ctx.actor)
        pooled = results["pooled"]["traits"]
        from s2f_desktop.store import custody

        append_event(s, case_id=case.id, actor=ctx.actor, action="analysis.run", object_type="analysis_run",
                     object_ids=[run.id], details={
                         "selection_sha256": custody.selection_hash(segs, evs),
                         "custody": [custody.state("analysis_run", run)],
                         "segments": list(segment_ids), "models": an.models(), "device": an.device,
                         "sex": pooled["sex"]["label"], "p_male": pooled["sex"]["p_male"],
                         "age": pooled["age"]["label"], "age_interval_80": pooled["age"]["interval_80"],
                         "quality": results["pooled"]["quality"]["verdict"],
                         "flagged_segments": (results["consistency"] or {}).get("flagged", []),
                     })
        repo.touch_case(s, case.id)
        fault_point("analysis.recording")
    task.progress(1.0, "analysis recorded")
    return run


def speaker_groups(ctx: AppContext, evidence_id: int, segment_ids: Sequence[str], device: str = "auto",
                   task: Task | None = None) -> list[list[str]]:
    """Group segments of one evidence item by probable speaker (largest group first); changes nothing."""
    task = task or null_task()
    parts, segs, _ = _load_parts(ctx, segment_ids, task.sub(0.0, 0.2))
    other = [seg.id for seg in segs if seg.evidence_id != evidence_id]
    if other:
        raise InputError(f"segment {other[0]} is not part of evidence #{evidence_id}")
    return _analyzer(device).speaker_groups(parts, task.sub(0.2, 1.0))


def trait_estimate_from_dict(traits: dict[str, Any], model: dict[str, str] | None = None, device: str = "") -> Any:
    """Rebuild a :class:`~s2f_desktop.core.traits.TraitEstimate` from its JSON form (``traits`` key)."""
    from s2f_desktop.core.traits import AgeEstimate, SexEstimate, TraitEstimate

    sex, age = traits["sex"], traits["age"]
    model = model or {}
    return TraitEstimate(
        SexEstimate(float(sex["p_male"]), sex["label"], sex.get("reason", "")),
        AgeEstimate(float(age["median_years"]), (float(age["interval_80"][0]), float(age["interval_80"][1])),
                    age["label"], dict(age.get("bin_probabilities", {})), age.get("reason", "")),
        model.get("id", ""), model.get("sha256", ""), device)


def trait_estimate_from_run(run: AnalysisRun) -> Any:
    """The pooled :class:`~s2f_desktop.core.traits.TraitEstimate` of a stored run."""
    rec = next((m for m in run.models if m["id"].startswith("traits-") and m["file"] == "heads.npz"), None)
    return trait_estimate_from_dict(run.results["pooled"]["traits"], rec, run.device)
