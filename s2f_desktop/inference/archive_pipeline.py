"""Whole-recording indexing for archive triage: speech, quality, speakers, embeddings, traits, acoustics.

One call of :func:`index_recording` reads one recording (read-only), finds its speech
with silero VAD, measures its quality, cuts the speech into turns, embeds every turn
with the GE2E encoder and groups the turns by probable speaker the way the analysis
does (:func:`speaker_groups`: the calibrated split of models/comparison-v1,
:func:`s2f_desktop.voice.consistency.split_speakers`, when installed; otherwise
average-linkage clustering cut at the cosine threshold of speaker-consistency-v1). For
each speaker group it pools the turns' window embeddings, measures the Praat acoustics
on that speaker's speech and estimates the traits with the declared heads. It returns
plain Python values (no pyarrow here): the archive layer turns them into Parquet rows.

Speaker groups inside one recording are an aid to triage, not diarisation of record:
turns shorter than :data:`MIN_TURN_S` are not embedded (too little speech for a stable
GE2E embedding) and stay unassigned, and so do turns with less net speech than the
comparison model was validated on (it cannot tell whose they are).
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from s2f_desktop.core.errors import InputError

#: Speech regions closer than this are one turn (seconds).
TURN_GAP_S = 0.5
#: Turns longer than this are cut, so a change of speaker inside a long region can still be seen.
MAX_TURN_S = 8.0
#: Turns shorter than this are not embedded.
MIN_TURN_S = 1.0
#: Praat measures (and so the trait heads' acoustic inputs) use at most this much of a speaker's
#: speech, taken from turns spread over the recording: Praat's cost grows with length, and
#: beyond half a minute the medians it reports barely move (the embedding uses all the speech).
MAX_ACOUSTIC_S = 30.0
#: Version of the per-recording pipeline (part of the index key: a change re-indexes).
#: 3: silero windows scored in blocks (vad._BatchedScorer); speakers grouped by the calibrated split.
PIPELINE_VERSION = "archive-pipeline-3"


@dataclass
class SpeakerResult:
    """One probable speaker of a recording."""

    speaker: int
    turns: list[tuple[float, float]]
    speech_s: float  # net speech after the encoder's silence trimming (what the comparison model calls speech)
    embedding: np.ndarray
    traits: dict[str, Any]
    acoustics: dict[str, Any]
    embedding_tel: np.ndarray  # the same speech band-limited to 300-3400 Hz (= embedding for telephone recordings)


@dataclass
class RecordingResult:
    """Everything the index stores about one recording."""

    media: dict[str, Any]
    quality: dict[str, Any]
    speech_s: float
    speech_regions: list[tuple[float, float]]
    speakers: list[SpeakerResult]
    unassigned_turns: list[tuple[float, float]]
    device: str
    timings: dict[str, float] = field(default_factory=dict)


def worker_setup() -> None:
    """Per-process setup on an indexing worker: one torch thread (workers are the parallelism).

    Both pools: a second intra-op or inter-op thread per worker would compete with the other
    workers for the same cores instead of adding throughput.
    """
    import torch

    torch.set_num_threads(1)
    try:
        torch.set_num_interop_threads(1)
    except RuntimeError:  # already fixed once parallel work has started in this process
        pass


def model_records(analyzer: Any) -> list[dict[str, str]]:
    """The analyzer's model records as the index stores them (id, file, sha256)."""
    return [{"id": m.id, "file": m.file, "sha256": m.sha256} for m in analyzer.models()]


def index_key(analyzer: Any) -> str:
    """Short stable key of everything that determines an index row: models, parameters, pipeline version."""
    blob = json.dumps({"models": model_records(analyzer), "parameters": analyzer.parameters(),
                       "pipeline": PIPELINE_VERSION, "embedding": "mean of GE2E windows; + telephone-band twin",
                       "turn": [TURN_GAP_S, MAX_TURN_S, MIN_TURN_S], "max_acoustic_s": MAX_ACOUSTIC_S},
                      sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def turns_from_regions(regions: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """Merge close speech regions into turns and cut long turns into pieces of at most MAX_TURN_S."""
    merged: list[list[float]] = []
    for a, b in regions:
        if merged and a - merged[-1][1] < TURN_GAP_S:
            merged[-1][1] = max(merged[-1][1], b)
        else:
            merged.append([a, b])
    out: list[tuple[float, float]] = []
    for a, b in merged:
        n = max(1, int(np.ceil((b - a) / MAX_TURN_S)))
        step = (b - a) / n
        out += [(a + i * step, a + (i + 1) * step) for i in range(n)]
    return out


def window_embeddings(encoder: Any, x16k: np.ndarray) -> tuple[np.ndarray, float]:
    """All 1.6 s GE2E window embeddings of one stretch of 16 kHz speech, and its net speech (s).

    The speaker-comparison model's own computation (:func:`s2f_desktop.inference.comparison.window_embeddings`),
    so the index and the query are embedded exactly as ``models/comparison-v1`` was validated. A side's
    embedding is the mean of *all* its windows, so the index keeps window means, not means of turn means.
    Raises InputError with too little speech.
    """
    from s2f_desktop.inference.comparison import window_embeddings as comparison_windows

    return comparison_windows(encoder, x16k)


def unit_mean(windows: np.ndarray) -> np.ndarray:
    """Mean of window embeddings, unit length (float32)."""
    raw = np.asarray(windows, dtype=np.float64).mean(axis=0)
    mean: np.ndarray = (raw / max(float(np.linalg.norm(raw)), 1e-12)).astype(np.float32)
    return mean


def _spread(members: list[str], durs: list[float], budget_s: float) -> list[str]:
    """Turns (in time order) evenly spread over the recording whose speech adds up to about ``budget_s``."""
    total = sum(durs)
    if total <= budget_s:
        return members
    step = total / budget_s
    picked, acc, next_at = [], 0.0, 0.0
    for t, d in zip(members, durs):
        if acc >= next_at:
            picked.append(t)
            next_at += d * step
        acc += d
    return picked or members[:1]


def _clip_regions(regions: list[tuple[float, float]], a: float, b: float) -> list[tuple[float, float]]:
    return [(max(a, r0), min(b, r1)) for r0, r1 in regions if r1 > a and r0 < b]


def speaker_groups(ids: list[str], embs: list[np.ndarray], windows: list[np.ndarray], net_s: list[float],
                   analyzer: Any) -> list[list[str]]:
    """Turn ids grouped by probable speaker, the analysis's own way (``Analyzer.speaker_groups``).

    With models/comparison-v1 installed: :func:`~s2f_desktop.voice.consistency.split_speakers`, the
    calibrated split (groups stay apart only on at least moderate support, LR <= 1/10, for different
    speakers); turns with less net speech than the model was validated on are judged by nobody and
    left unassigned. When no turn is long enough to judge, or without the model, the cosine
    threshold of speaker-consistency-v1 (average linkage), as before.
    """
    from s2f_desktop.voice.consistency import group_by_speaker, split_speakers

    if not ids:
        return []
    if analyzer.comparison is not None:
        cal, cohort, _ = analyzer.comparison
        split = split_speakers(ids, windows, net_s, cal, cohort)
        if split.groups:
            return [list(g) for g in split.groups]
    return group_by_speaker(ids, embs, analyzer.threshold)


def index_recording(path: Path | str, analyzer: Any) -> RecordingResult:
    """Index one recording with a loaded :class:`~s2f_desktop.inference.analyzer.Analyzer`.

    Raises :class:`~s2f_desktop.core.errors.S2FError` subclasses (one-line reasons) for
    unreadable or undecodable files; the caller turns them into error rows.
    """
    from s2f_desktop.audio.decode import open_audio
    from s2f_desktop.audio.probe import probe
    from s2f_desktop.audio.quality import assess, remove_dc
    from s2f_desktop.inference.analyzer import VAD_PARAMS
    from s2f_desktop.inference.resample import ANALYSIS_RATE, resample
    from s2f_desktop.inference.traits import VoiceFeatures
    from s2f_desktop.inference.vad import detect_speech
    from s2f_desktop.store.codec import encode_traits
    from s2f_desktop.voice.acoustics import concat_regions, measure

    t0 = time.perf_counter()
    path = Path(path)
    media = probe(path)
    with open_audio(path, frames=media.frames) as src:
        sr = src.sample_rate
        x = np.asarray(src.read(0, None, channel="mix"), dtype=np.float32)
    t1 = time.perf_counter()
    raw, x = x, remove_dc(x)
    regions = [(r.start_s, r.end_s) for r in detect_speech(
        x, sr, threshold=VAD_PARAMS["threshold"], min_speech_s=VAD_PARAMS["min_speech_s"],
        min_silence_s=VAD_PARAMS["min_silence_s"], batched=True)]  # windows scored per block: see vad._BatchedScorer
    t2 = time.perf_counter()
    quality = assess(raw, sr, speech=regions)
    x16 = resample(x, sr, ANALYSIS_RATE)
    del x, raw
    turns = turns_from_regions(regions)
    from s2f_desktop.voice.channel import telephone_band

    ids: list[str] = []
    embs: list[np.ndarray] = []
    wins_of: dict[str, np.ndarray] = {}
    net_of: dict[str, float] = {}
    speech_by_turn: dict[str, np.ndarray] = {}
    turn_of: dict[str, tuple[float, float]] = {}
    unassigned: list[tuple[float, float]] = []
    for i, (a, b) in enumerate(turns):
        speech = concat_regions(x16, ANALYSIS_RATE, _clip_regions(regions, a, b)).astype(np.float32)
        if len(speech) < MIN_TURN_S * ANALYSIS_RATE:
            unassigned.append((a, b))
            continue
        try:
            wins, net = window_embeddings(analyzer.encoder, speech)
        except InputError:  # too little left after the encoder's own silence trimming
            unassigned.append((a, b))
            continue
        tid = str(i)
        ids.append(tid)
        embs.append(unit_mean(wins))  # = encoder.embed(speech)
        wins_of[tid], net_of[tid] = wins, net
        speech_by_turn[tid] = speech
        turn_of[tid] = (a, b)
    t3 = time.perf_counter()
    groups = speaker_groups(ids, embs, [wins_of[t] for t in ids], [net_of[t] for t in ids], analyzer)
    assigned = {t for g in groups for t in g}
    unassigned = sorted(unassigned + [turn_of[t] for t in ids if t not in assigned])
    speakers: list[SpeakerResult] = []
    for g, members in enumerate(groups):
        members = sorted(members, key=lambda t: turn_of[t][0])
        durs = [len(speech_by_turn[t]) / ANALYSIS_RATE for t in members]
        pooled = unit_mean(np.concatenate([wins_of[t] for t in members]))
        if quality.telephone_band:
            pooled_tel = pooled
        else:
            # The same speaker as a telephone line would carry it: comparisons with a telephone-band
            # side band-limit both sides (models/comparison-v1), and the index cannot re-embed at search time.
            tel = []
            for t in members:
                try:
                    tel.append(window_embeddings(analyzer.encoder, telephone_band(speech_by_turn[t]))[0])
                except InputError:
                    continue
            pooled_tel = unit_mean(np.concatenate(tel)) if tel else pooled
        joined = np.concatenate([speech_by_turn[t] for t in _spread(members, durs, MAX_ACOUSTIC_S)])
        acoustics = measure(joined, ANALYSIS_RATE, band_limited=quality.telephone_band)
        speech_s = float(sum(net_of[t] for t in members))
        est = analyzer.heads.estimate(VoiceFeatures(pooled, acoustics), quality_verdict=quality.verdict,
                                      net_speech_s=speech_s, device=analyzer.device)
        ac = acoustics.to_dict()
        ac["measured_speech_s"] = round(len(joined) / ANALYSIS_RATE, 3)
        speakers.append(SpeakerResult(g, [turn_of[t] for t in members], speech_s, pooled,
                                      encode_traits(est, provenance=False), ac, pooled_tel))
    t4 = time.perf_counter()
    return RecordingResult(
        media=media.to_dict(), quality=quality.to_dict(), speech_s=float(sum(b - a for a, b in regions)),
        speech_regions=regions, speakers=speakers, unassigned_turns=unassigned, device=analyzer.device,
        timings={"read_s": t1 - t0, "vad_s": t2 - t1, "embed_s": t3 - t2, "speakers_s": t4 - t3, "total_s": t4 - t0})


@dataclass
class QueryVoice:
    """A query voice as search needs it: wideband and telephone-band embeddings, net speech, channel, quality."""

    embedding: np.ndarray
    embedding_tel: np.ndarray
    speech_s: float
    telephone_band: bool
    clipping_fraction: float
    bandwidth_hz: float
    snr_db: float | None = None  # None: not measurable (too little noise to measure, or no speech)


def query_embedding(parts: list[tuple[np.ndarray, int]], analyzer: Any) -> QueryVoice:
    """The query voice from (mono samples, rate) pairs: a questioned file or a case's segments (speech only)."""
    from s2f_desktop.audio.quality import assess_parts, remove_dc
    from s2f_desktop.inference.analyzer import VAD_PARAMS
    from s2f_desktop.inference.resample import ANALYSIS_RATE, resample
    from s2f_desktop.inference.vad import detect_speech
    from s2f_desktop.voice.acoustics import concat_regions
    from s2f_desktop.voice.channel import telephone_band

    speech_parts, region_list = [], []
    for x, sr in parts:
        x = remove_dc(x)
        regions = [(r.start_s, r.end_s) for r in detect_speech(
            x, sr, threshold=VAD_PARAMS["threshold"], min_speech_s=VAD_PARAMS["min_speech_s"],
            min_silence_s=VAD_PARAMS["min_silence_s"], batched=True)]
        region_list.append(regions)
        if regions:
            speech_parts.append(
                concat_regions(resample(x, sr, ANALYSIS_RATE), ANALYSIS_RATE, regions).astype(np.float32))
    q = assess_parts((np.asarray(x, dtype=np.float32), sr, r) for (x, sr), r in zip(parts, region_list))
    wide, tel, net = [], [], 0.0
    for sp in speech_parts:
        try:
            w, s_net = window_embeddings(analyzer.encoder, sp)
        except InputError:
            continue
        wide.append(w)
        net += s_net
        if not q.telephone_band:
            try:
                tel.append(window_embeddings(analyzer.encoder, telephone_band(sp))[0])
            except InputError:
                pass
    if not wide:
        raise InputError("the query has too little speech for a speaker embedding")
    e = unit_mean(np.concatenate(wide))
    e_tel = e if q.telephone_band or not tel else unit_mean(np.concatenate(tel))
    return QueryVoice(e, e_tel, net, bool(q.telephone_band), float(q.clipping_fraction), float(q.bandwidth_hz),
                      None if q.snr_db is None else float(q.snr_db))
