"""Speaker comparison services: files, batches of pairs, case segment sets (stored), speaker splits.

Every comparison answers one question with a likelihood ratio of ``models/comparison-v1``:
how much more probable is what we measured if Hp (same speaker) is true than if Hd (a
different speaker of the relevant population) is true. The models are loaded lazily (torch
only through :mod:`s2f_desktop.inference.comparison`) and once per process.

``split_speakers`` is the torch-free decision used to refuse a single profile from a
selection that holds more than one voice (see its docstring); ``check_selection_speakers``
runs it on a case's segments.
"""

from __future__ import annotations

import importlib
import time
from pathlib import Path
from typing import Any, Iterable, Iterator, Sequence

import numpy as np

from s2f_desktop import __version__
from s2f_desktop.core.comparison_results import (
    ComparedEvidence,
    ComparedSegment,
    ComparisonModelRef,
    ComparisonResults,
    ComparisonVerdict,
)
from s2f_desktop.core.errors import InputError, S2FError
from s2f_desktop.core.progress import Task, null_task
from s2f_desktop.core.results import Consistency
from s2f_desktop.core.timeutil import fmt_clock
from s2f_desktop.services.cases import require_open
from s2f_desktop.services.context import AppContext
from s2f_desktop.services.segments import require_disjoint
from s2f_desktop.store import codec, custody
from s2f_desktop.store import comparisons as crepo
from s2f_desktop.store import repositories as repo
from s2f_desktop.store.audit import append_event
from s2f_desktop.store.vault import sha256_file
from s2f_desktop.voice import consistency


def _mod() -> Any:
    return importlib.import_module("s2f_desktop.inference.comparison")


def comparator(device: str = "auto") -> Any:
    """The process-wide loaded comparison system."""
    return _mod().get_comparator(device)


# ------------------------------------------------------------------------------- files
def _read_range(path: Path, start_s: float | None, end_s: float | None,
                flag: str, notes: list[str] | None = None) -> tuple[np.ndarray, int, list[float]]:
    from s2f_desktop.audio.decode import open_audio, read_mixed
    from s2f_desktop.audio.probe import truncation_note
    from s2f_desktop.services.analysis import check_length

    if (start_s is not None and start_s < 0) or (end_s is not None and end_s < 0):
        raise InputError(f"--{flag}-start and --{flag}-end must be >= 0 seconds")
    if end_s is not None and end_s <= (start_s or 0.0):
        raise InputError(f"empty range: --{flag}-end {end_s} is not after --{flag}-start {start_s or 0.0}")
    with open_audio(path) as src:
        sr, frames = src.sample_rate, src.frames
        a = 0 if start_s is None else int(round(start_s * sr))
        b = frames if end_s is None else min(frames, int(round(end_s * sr)))
        if a >= frames:
            raise InputError(f"{path.name}: --{flag}-start {start_s} s is beyond the end ({frames / sr:.2f} s)")
        if end_s is not None and int(round(end_s * sr)) > frames and notes is not None:
            notes.append(f"{path.name}: --{flag}-end {end_s} s is past the end; compared to the end "
                         f"({frames / sr:.3f} s)")
        # As for analysis: a whole long file is refused before it is decoded (a 1-hour file peaked at 3.8 GB);
        # the calibration counts at most 30 s of speech per side anyway.
        check_length((b - a) / sr, f"the range of {path.name} to compare")
        x, said = read_mixed(src, a, b, path.name)
    if notes is not None:
        notes.extend(said)
        notes.extend(n for n in [truncation_note(path)] if n)
    return x, sr, [round(a / sr, 3), round(b / sr, 3)]


def _refuse_self(qsha: str, ksha: str, rq: Sequence[float], rk: Sequence[float]) -> None:
    """Refuse a recording compared with itself: the same content with overlapping ranges says nothing about
    the speaker (a red-team pass got "strong support for Hp" at the bound from a file and its copy)."""
    if qsha == ksha and (not rq or not rk or (rq[0] < rk[1] and rk[0] < rq[1])):
        raise InputError(f"the questioned and known audio are the same recording (sha256 {qsha[:12]}…) with "
                         "overlapping ranges: comparing a recording with itself says nothing about the speaker")


def _side_record(path: Path, sha: str, rng: list[float], speech_s: float) -> dict[str, Any]:
    return {"path": str(path), "sha256": sha, "range_s": rng, "speech_s": round(speech_s, 2)}


def _assemble(cmp: Any, res: ComparisonVerdict, q: dict[str, Any], k: dict[str, Any]) -> dict[str, Any]:
    """The stable CLI/JSON object of one comparison: the verdict's fields as the codec encodes them."""
    verdict = codec.encode_comparison_verdict(res)
    out: dict[str, Any] = {"questioned": q, "known": k}
    for key in ("score", "snorm", "log10_lr", "lr", "verbal", "label", "abstain_reason", "at_bound", "hp", "hd",
                "scale", "channel"):
        out[key] = verdict[key]
    # The codec leaves the position out when the system abstained; this contract prints null.
    out["validation_position"] = None if res.validation_position is None else verdict["validation_position"]
    out["quality"] = {side: verdict["quality"][side]["verdict"] for side in ("questioned", "known")}
    out["model"] = cmp.model_record()
    out["models"] = cmp.models()
    out["device"] = cmp.device
    out["app_version"] = __version__
    return out


def compare_files(questioned: Path | str, known: Path | str, q_start: float | None = None, q_end: float | None = None,
                  k_start: float | None = None, k_end: float | None = None, device: str = "auto",
                  task: Task | None = None, notes: list[str] | None = None,
                  telephone: list[bool] | None = None) -> dict[str, Any]:
    """Compare two audio files (optionally time ranges of them); returns the CLI JSON object.

    ``telephone``: filled with each side's telephone-band flag (questioned, known), for the words of the
    channel; the JSON object does not carry them (its keys are a contract).

    Keys (stable): ``questioned``/``known`` ({path, sha256, range_s, speech_s}), ``score`` (raw cosine),
    ``snorm``, ``log10_lr`` (null when abstaining), ``lr``, ``verbal``, ``label``, ``abstain_reason``,
    ``at_bound``, ``hp``, ``hd``, ``scale``, ``channel``, ``quality``, ``model`` ({id, sha256}),
    ``models``, ``device``, ``app_version``.
    """
    task = task or null_task()
    qp, kp = Path(questioned), Path(known)
    xq, srq, rq = _read_range(qp, q_start, q_end, "q", notes)
    xk, srk, rk = _read_range(kp, k_start, k_end, "k", notes)
    sq, _ = sha256_file(qp)
    sk, _ = sha256_file(kp)
    _refuse_self(sq, sk, rq, rk)
    cmp = comparator(device)
    mod = _mod()
    res = cmp.compare([mod.SidePart(qp.name, xq, srq)], [mod.SidePart(kp.name, xk, srk)], task.sub(0.0, 0.98))
    task.progress(1.0, "comparison done")
    if telephone is not None:
        telephone[:] = [bool(res.quality.questioned.telephone_band), bool(res.quality.known.telephone_band)]
    return _assemble(cmp, res, _side_record(qp, sq, rq, res.speech_s.questioned),
                     _side_record(kp, sk, rk, res.speech_s.known))


def read_pairs(path: Path | str) -> list[tuple[str, str]]:
    """Pairs of a TSV file (``questioned<TAB>known`` per line; blank lines and ``#`` comments skipped).

    A line without exactly two fields is kept as a pair whose known path is empty, so its output line
    carries an error and the batch keeps its order.
    """
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read the pairs file {p}: {exc}") from exc
    out: list[tuple[str, str]] = []
    for n, line in enumerate(text.removeprefix("\ufeff").splitlines()):  # a BOM (some editors write one)
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        f = line.rstrip("\r\n").split("\t")
        if not out and n == 0 and [x.strip().lower() for x in f] == ["questioned", "known"]:
            continue  # a header line
        out.append((f[0].strip(), f[1].strip()) if len(f) == 2 else (line.strip(), ""))
    if not out:
        raise InputError(f"the pairs file {p} holds no pairs (questioned<TAB>known per line)")
    return out


def compare_pairs(pairs: Iterable[tuple[str, str]], device: str = "auto", task: Task | None = None,
                  base: Path | None = None, notes: list[str] | None = None) -> Iterator[dict[str, Any]]:
    """Compare many pairs in order with the models loaded once; a failing pair yields an ``error`` line.

    Relative paths are taken relative to ``base`` (the pairs file's folder). Each file's
    embedding is computed once per channel (wideband / telephone band) and reused across pairs.
    """
    task = task or null_task()
    cmp = comparator(device)
    mod = _mod()
    pairs = list(pairs)
    sides: dict[str, tuple[Any, str, list[float]]] = {}  # path -> (PreparedSide, sha256, range_s)
    embs: dict[tuple[str, bool], dict[str, tuple[np.ndarray, float]]] = {}

    def resolve(p: str) -> Path:
        q = Path(p)
        return q if q.is_absolute() or base is None else base / q

    def side(p: Path) -> tuple[Any, str, list[float]]:
        key = str(p)
        if key not in sides:
            x, sr, rng = _read_range(p, None, None, "q", notes)
            if len(sides) > 256:
                sides.clear()
                embs.clear()
            sides[key] = (cmp.prepare([mod.SidePart(p.name, x, sr)]), sha256_file(p)[0], rng)
        return sides[key]

    def emb(p: Path, prep: Any, tel: bool) -> dict[str, tuple[np.ndarray, float]]:
        key = (str(p), tel)
        if key not in embs:
            embs[key] = cmp.embed(prep, tel)
        return embs[key]

    n = max(1, len(pairs))
    for i, (qs, ks) in enumerate(pairs):
        task.progress(i / n, f"pair {i + 1} of {len(pairs)}")
        # An empty path stays empty: resolved, it would name the pairs file's folder.
        qp, kp = (resolve(qs) if qs else None), (resolve(ks) if ks else None)
        try:
            if qp is None or kp is None:
                raise InputError("a pairs line needs exactly two tab-separated paths")
            (qprep, qsha, rq), (kprep, ksha, rk) = side(qp), side(kp)
            _refuse_self(qsha, ksha, rq, rk)
            tel = bool(qprep.telephone or kprep.telephone)
            res = cmp.verdict_from(qprep, kprep, emb(qp, qprep, tel), emb(kp, kprep, tel), tel)
            # range_s stays [] here (the whole file), as the contract has always printed it.
            yield _assemble(cmp, res, _side_record(qp, qsha, [], res.speech_s.questioned),
                            _side_record(kp, ksha, [], res.speech_s.known))
        except S2FError as exc:
            # The error line's keys are the contract's (questioned, known, error, log10_lr, label, model).
            yield {"questioned": {"path": "" if qp is None else str(qp)},
                   "known": {"path": "" if kp is None else str(kp)}, "error": exc.message,
                   "log10_lr": None, "label": "error", "model": cmp.model_record()}
    task.progress(1.0, "pairs done")


# ------------------------------------------------------------------------------- case segments
def _segment_parts(ctx: AppContext, case_id: int, ids: Sequence[str], task: Task) -> tuple[list[Any], list[str]]:
    """Each segment's samples mixed to mono, and a note for every segment whose channels carry different
    signals (:func:`~s2f_desktop.audio.decode.channel_note`)."""
    from s2f_desktop.audio.decode import open_audio, read_mixed
    from s2f_desktop.services.evidence import require_intact, vault_path

    with ctx.store.read() as s:
        segs = [repo.get_segment(s, sid) for sid in ids]
        evs = {seg.evidence_id: repo.get_evidence(s, seg.evidence_id) for seg in segs}
    require_intact(ctx, evs.values())
    parts = []
    notes: list[str] = []
    mod = _mod()
    for i, seg in enumerate(segs):
        ev = evs[seg.evidence_id]
        if ev.case_id != case_id:
            raise InputError(f"segment {seg.id} does not belong to this case")
        task.progress(i / max(1, len(segs)), f"reading segment {seg.id[:8]}")
        with open_audio(vault_path(ctx, ev), frames=ev.media.frames) as src:
            x, said = read_mixed(src, seg.start_sample, seg.end_sample,
                                 f"{ev.original_name} {fmt_clock(seg.start_s)}\u2013{fmt_clock(seg.end_s)}")
            parts.append(mod.SidePart(seg.id, x, src.sample_rate))
        notes.extend(said)
    return parts, notes


def compare_segments(ctx: AppContext, case_number: str, questioned_ids: Sequence[str], known_ids: Sequence[str],
                     device: str = "auto", task: Task | None = None) -> crepo.ComparisonRun:
    """Compare a case's questioned segment set with its known set and store the run (with an audit event)."""
    task = task or null_task()
    q, k = list(questioned_ids), list(known_ids)
    if not q or not k:
        raise InputError("a comparison needs at least one questioned and one known segment")
    if len(set(q)) != len(q) or len(set(k)) != len(k):
        raise InputError("a segment is listed twice on one side")
    both = set(q) & set(k)
    with ctx.store.read() as s:
        case = repo.get_case(s, case_number)
        if both:
            # Named as the analyst sees it (recording and time), not by its internal id.
            seg = repo.get_segment(s, sorted(both)[0])
            ev = repo.get_evidence(s, seg.evidence_id)
            raise InputError(f"the segment {fmt_clock(seg.start_s)}-{fmt_clock(seg.end_s)} of "
                             f"{ev.original_name} is on both sides; a side cannot be compared with itself")
    require_open(case)
    with ctx.store.read() as s:
        sides = [repo.get_segment(s, sid) for sid in q + k]
        recordings = {g.evidence_id: repo.get_evidence(s, g.evidence_id) for g in sides}
    # Within a side an overlap counts speech twice; across the sides it compares audio with itself.
    require_disjoint(sides, recordings, "the comparison")
    t0 = time.perf_counter()
    qp, q_notes = _segment_parts(ctx, case.id, q, task.sub(0.0, 0.05))
    kp, k_notes = _segment_parts(ctx, case.id, k, task.sub(0.05, 0.1))
    t1 = time.perf_counter()
    cmp = comparator(device)
    t2 = time.perf_counter()

    def one_voice_per_side(qe: dict[str, Any], ke: dict[str, Any]) -> None:
        # Checked on the embeddings the comparison itself uses (nothing read or embedded twice).
        refuse_several_voices(ctx, _split_from_embeddings(cmp, q, qe), "the questioned side")
        refuse_several_voices(ctx, _split_from_embeddings(cmp, k, ke), "the known side")

    res = cmp.compare(qp, kp, task.sub(0.1, 0.97), side_check=one_voice_per_side)
    t3 = time.perf_counter()
    compared: list[ComparedSegment] = []
    evs: dict[int, ComparedEvidence] = {}
    with ctx.store.read() as s:
        for sid in q + k:
            seg = repo.get_segment(s, sid)
            ev = repo.get_evidence(s, seg.evidence_id)
            evs.setdefault(ev.id, ComparedEvidence(ev.id, ev.sha256, ev.original_name))
            compared.append(ComparedSegment(sid, seg.evidence_id, seg.start_sample, seg.end_sample,
                                            "questioned" if sid in q else "known"))
    results = ComparisonResults.of(res, tuple(compared), tuple(evs.values()), ComparisonModelRef(**cmp.model_record()),
                                   tuple([f"questioned: {n}" for n in q_notes] + [f"known: {n}" for n in k_notes]))
    timings = {"read_s": round(t1 - t0, 3), "load_models_s": round(t2 - t1, 3), "comparison_s": round(t3 - t2, 3)}
    task.progress(0.98, "recording the comparison")
    with ctx.store.write() as s:
        # Re-checked inside the write transaction: the case may have been closed meanwhile (a comparison
        # recorded after the close would be named by verify as a change to a closed case).
        require_open(repo.get_case(s, case_number))
        run = crepo.add_comparison(s, case.id, q, k, cmp.models(), __version__, cmp.device, cmp.parameters(),
                                   results, timings, ctx.actor)
        # The custody block binds the stored row to the chain (see store/custody.py); the other keys are
        # what events recorded before the binding, kept for the audit table and for older readers.
        append_event(s, case_id=case.id, actor=ctx.actor, action="comparison.run", object_type="comparison_run",
                     object_ids=[run.id], details={
                         "questioned": q, "known": k, "models": cmp.models(), "device": cmp.device,
                         "log10_lr": results.log10_lr, "verbal": results.verbal, "label": results.label,
                         "abstain_reason": results.abstain_reason,
                         "custody": [custody.state("comparison_run", run)]})
        repo.touch_case(s, case.id)
    task.progress(1.0, "comparison recorded")
    return run


def list_comparisons(ctx: AppContext, case_number: str) -> list[crepo.ComparisonRun]:
    """The stored comparison runs of a case, oldest first."""
    with ctx.store.read() as s:
        case = repo.get_case(s, case_number)
        return crepo.list_comparisons(s, case.id)


def get_comparison(ctx: AppContext, comparison_id: int) -> crepo.ComparisonRun:
    """One stored comparison run."""
    with ctx.store.read() as s:
        return crepo.get_comparison(s, comparison_id)


def comparison_to_dict(run: crepo.ComparisonRun) -> dict[str, Any]:
    """JSON form of a stored comparison run (the CLI's ``--json`` output for a case comparison)."""
    # The verdict's fields exactly as stored (the codec's encoding), in the contract's order.
    stored = codec.encode_comparison_results(run.results)
    verdict = {k: stored[k] for k in ("score", "snorm", "log10_lr", "lr", "verbal", "label", "abstain_reason",
                                      "speech_s", "hp", "hd", "scale", "channel", "model")}
    return {"comparison_id": run.id, "case_id": run.case_id, "questioned": list(run.questioned_ids),
            "known": list(run.known_ids), **verdict, "models": list(run.models), "device": run.device,
            "parameters": run.parameters, "timings": run.timings,
            "created_at": run.created_at.isoformat(), "created_by": run.created_by, "app_version": run.app_version}


# ------------------------------------------------------------------------------- one voice or several?
# The decision itself is torch-free and lives in voice/consistency.py (the analyzer uses it too).
SpeakerSplit = consistency.SpeakerSplit
split_speakers = consistency.split_speakers
SPLIT_LOG10_LR = consistency.SPLIT_LOG10_LR


class MultipleSpeakersError(InputError):
    """A selection that the calibrated comparison splits into different speakers cannot be one profile."""

    def __init__(self, split: consistency.SpeakerSplit, case_number: str = "") -> None:
        self.split = split
        self.groups = [list(g) for g in split.groups]
        worst = min((v for _, _, v in split.between), default=0.0)
        runs = " and ".join(f"`s2f analyze {case_number or 'CASE'} --segments {','.join(g)}`" for g in self.groups)
        short = list(split.unassessed)
        left_out = (f"; {len(short)} segment(s) with too little speech to judge belong to no group and are in none "
                    f"of these runs ({', '.join(short)})") if short else ""
        super().__init__(
            f"the selection holds {len(self.groups)} different voices (calibrated comparison between groups: "
            f"log10 LR {worst:+.2f}, {lrm_verbal(worst)}); one profile must not pool them — analyse each group "
            f"separately: {runs}{left_out}")


def lrm_verbal(log10_lr: float) -> str:
    """ENFSI 2015 words for a log10 LR."""
    from s2f_desktop.voice.lr import verbal

    return verbal(log10_lr)


def require_single_speaker(check: Consistency | None, case_number: str = "") -> None:
    """Raise :class:`MultipleSpeakersError` when an analysis's calibrated speaker check split the selection.

    ``check`` is the analysis's consistency block (:attr:`Analysis.consistency`). Called by
    ``services.analysis.analyze_selection`` after the analysis and before storing the run, so a
    profile is never pooled across speakers.
    """
    if check is None or not check.split:
        return
    split = consistency.SpeakerSplit(check.groups, check.not_judged, check.between, True, check.threshold)
    raise MultipleSpeakersError(split, case_number)


def check_selection_speakers(ctx: AppContext, case_number: str, segment_ids: Sequence[str], device: str = "auto",
                             task: Task | None = None) -> SpeakerSplit:
    """Does a case selection hold one voice? Reads the segments, embeds them and runs :func:`split_speakers`.

    Changes nothing. The analysis service calls this before pooling a selection into one profile and
    refuses (offering one run per group) when ``split`` is True.
    """
    task = task or null_task()
    with ctx.store.read() as s:
        case = repo.get_case(s, case_number)
    parts, _ = _segment_parts(ctx, case.id, list(segment_ids), task.sub(0.0, 0.2))
    out = split_of_samples([(p.id, p.x, p.sr) for p in parts], device, task.sub(0.2, 0.95))
    task.progress(1.0, "speaker check done")
    return out


def split_of_samples(parts: Sequence[tuple[str, np.ndarray, int]], device: str = "auto",
                     task: Task | None = None) -> SpeakerSplit:
    """The calibrated speaker split of samples already read (``(id, mono samples, rate)`` each), pairwise as
    before any pooling. One channel for all: if any part is narrow-band, all are compared in the telephone band."""
    cmp = comparator(device)
    prep = cmp.prepare([_mod().SidePart(i, x, sr) for i, x, sr in parts])
    return _split_from_embeddings(cmp, [i for i, _x, _sr in parts], cmp.embed(prep, prep.telephone, task))


def _split_from_embeddings(cmp: Any, ids: Sequence[str], emb: dict[str, tuple[np.ndarray, float]]) -> SpeakerSplit:
    """:func:`split_speakers` (pairwise) on a comparator's per-part embeddings; parts without speech are unassessed."""
    wins = [emb[i][0] if i in emb else np.zeros((0, 256), np.float32) for i in ids]
    sp = [emb[i][1] if i in emb else 0.0 for i in ids]
    return split_speakers(list(ids), wins, sp, cmp.calibration, cmp.cohort, pairwise=True)


def refuse_several_voices(ctx: AppContext, split: SpeakerSplit, what: str) -> None:
    """Refuse ``what`` (a side of a comparison, an archive query) when its segments split into several voices.

    The same calibrated check as the analysis's: a side pooled across two voices would compare a mixture; one
    segment is one voice as far as this check can tell (the channel note covers a two-party stereo segment).
    """
    if split.split:
        worst = min((v for _, _, v in split.between), default=0.0)
        with ctx.store.read() as s:  # named as the analyst sees them: recording and time, not internal ids
            segs = {sid: repo.get_segment(s, sid) for g in split.groups for sid in g}
            names = {g.evidence_id: repo.get_evidence(s, g.evidence_id).original_name for g in segs.values()}

        def where(sid: str) -> str:
            g = segs[sid]
            return f"{names[g.evidence_id]} {fmt_clock(g.start_s)}-{fmt_clock(g.end_s)}"

        groups = "; ".join(f"voice {i}: " + ", ".join(where(sid) for sid in g) for i, g in enumerate(split.groups, 1))
        raise InputError(f"{what} holds {len(split.groups)} different voices (calibrated comparison: log10 LR "
                         f"{worst:+.2f}, {lrm_verbal(worst)}); give the segments of one voice ({groups})")


def segments_by_speaker(ctx: AppContext, case_number: str) -> dict[str, list[str]]:
    """Accepted segments of a case grouped by speaker label ('' for unlabelled), in evidence and time order."""
    from s2f_desktop.core.models import SegmentStatus
    from s2f_desktop.services import evidence as evidence_svc
    from s2f_desktop.services import segments as seg_svc

    out: dict[str, list[str]] = {}
    for ev in evidence_svc.list_evidence(ctx, case_number):
        for g in seg_svc.list_segments(ctx, ev.id, [SegmentStatus.ACCEPTED]):
            out.setdefault(g.speaker_tag or "", []).append(g.id)
    return out


def resolve_segment_spec(ctx: AppContext, case_number: str, spec: str) -> list[str]:
    """Segment ids from a side specification: ``ID,ID,...`` or ``speaker:LABEL`` (accepted segments with that label)."""
    spec = spec.strip()
    if spec.startswith("speaker:"):
        tag = spec[len("speaker:"):].strip()
        if not tag:
            # "speaker:" would select every segment nobody put in a speaker group: several voices, one side.
            raise InputError("speaker: needs a speaker label (e.g. speaker:caller); segments without a speaker "
                             "label are not a speaker")
        groups = segments_by_speaker(ctx, case_number)
        if tag not in groups:
            # Unlabelled segments are grouped under "" and are no speaker (refused above): not offered here.
            known = ", ".join(repr(t) for t in sorted(groups) if t) or "none"
            raise InputError(f"case {case_number} has no accepted segments with the speaker label {tag!r} "
                             f"(speaker labels: {known})")
        return groups[tag]
    ids = [s.strip() for s in spec.split(",") if s.strip()]
    if not ids:
        raise InputError("a side needs at least one segment id (or speaker:LABEL)")
    return ids
