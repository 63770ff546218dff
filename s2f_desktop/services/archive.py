"""Archive triage and speaker search: index a folder of recordings, search it, import a hit into a case.

Every user action on archives is one function here, used by ``s2f archive`` and the GUI's
Archive tab. The work itself lives in :mod:`s2f_desktop.archive` (Dask engine, Parquet
index, ranking) and :mod:`s2f_desktop.inference.archive_pipeline` (models, loaded on the
workers); both are imported lazily so that the CLI starts without Dask or torch.

Archive recordings are only ever opened for reading; the index is written to its own
folder, and importing a hit goes through the normal evidence import (hash, probe, vault
copy) with an extra ``archive.import`` audit event naming the archive path, the index and
the index entry that led to it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

from s2f_desktop.core.errors import InputError, MediaError, NotFoundError
from s2f_desktop.core.progress import Task, null_task
from s2f_desktop.services.context import AppContext

#: Manifest files: one recording path per line (relative paths are relative to the manifest's folder).
MANIFEST_EXTS = {".txt", ".lst", ".list", ".m3u", ".csv", ".tsv"}


def collect_recordings(root_or_manifest: Path | str) -> list[Path]:
    """The recordings named by a folder (walked recursively) or a manifest file, in a stable order."""
    from s2f_desktop.archive.store import iter_audio_files
    from s2f_desktop.audio.probe import SUPPORTED_EXTS

    src = Path(root_or_manifest)
    if src.is_dir():
        return iter_audio_files(src, SUPPORTED_EXTS)
    if not src.is_file():
        raise InputError(f"{src}: no such folder or manifest file")
    if src.suffix.lower() not in MANIFEST_EXTS:
        raise InputError(f"{src}: give a folder of recordings or a manifest ({', '.join(sorted(MANIFEST_EXTS))}) "
                         f"with one path per line")
    out: list[Path] = []
    seen: set[str] = set()
    for line in src.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if src.suffix.lower() in (".csv", ".tsv"):
            line = line.split("\t" if src.suffix.lower() == ".tsv" else ",")[0].strip().strip('"')
            if line.lower() == "path":
                continue
        p = Path(line)
        p = p if p.is_absolute() else (src.parent / p)
        key = str(p)
        if key not in seen:
            seen.add(key)
            out.append(p)
    return out


def index_archive(root_or_manifest: Path | str, index_dir: Path | str, *, workers: int = 2,
                  scheduler: str | None = None, memory_limit: str | None = None, device: str = "cpu",
                  retry_errors: bool = False, task: Task | None = None,
                  on_progress: Callable[[Any], None] | None = None, client: Any = None) -> Any:
    """Index (or resume indexing) an archive; returns an :class:`~s2f_desktop.archive.engine.IndexSummary`.

    Raises CancelledError when cancelled; what was written stays and a later call resumes.
    """
    from s2f_desktop.archive import engine

    task = task or null_task()
    index_dir = Path(index_dir)
    paths = collect_recordings(root_or_manifest)
    if not paths:
        raise InputError(f"{root_or_manifest}: no recordings found")
    resolved_index = index_dir.resolve()
    if any(p.resolve() == resolved_index or resolved_index in p.resolve().parents for p in paths[:1000]):
        raise InputError("the index folder holds recordings of the archive; choose a folder outside the archive")
    src = Path(root_or_manifest)
    return engine.run_index([p.resolve() for p in paths], index_dir, workers=workers, scheduler=scheduler,
                            memory_limit=memory_limit or engine.DEFAULT_MEMORY_LIMIT, device=device,
                            retry_errors=retry_errors, client=client, task=task, on_progress=on_progress,
                            roots=[src.resolve()] if src.is_dir() else [])


def index_status(index_dir: Path | str) -> dict[str, Any]:
    """What an index holds: keys, recordings, speaker rows, no-speech recordings, error rows (with reasons)."""
    from s2f_desktop.archive.store import IndexStore

    store = IndexStore(index_dir)
    store.check()
    out: dict[str, Any] = {"index_dir": str(index_dir), "keys": {}}
    gone = store.withdrawn()  # read once: every key's rows are filtered here
    for key in store.keys():
        everything = store.read_rows(key, columns=["status", "duration_s", "path"], include_withdrawn=True).to_pydict()
        out_of_it = {sp for sp in zip(everything["sha256"], everything["path"]) if sp in gone}
        keep = [(s, p) not in out_of_it for s, p in zip(everything["sha256"], everything["path"])]
        t = {c: [v for v, k in zip(everything[c], keep) if k] for c in ("sha256", "status", "duration_s")}
        shas = set(t["sha256"])
        per_rec = {s: d for s, d in zip(t["sha256"], t["duration_s"])}
        errs = store.read_errors(key).to_pylist()
        out["keys"][key] = {"recordings": len(shas), "speaker_rows": sum(s == "ok" for s in t["status"]),
                            "withdrawn": len(out_of_it),
                            "no_speech": sum(s == "no_speech" for s in t["status"]),
                            "audio_hours": round(sum(d or 0.0 for d in per_rec.values()) / 3600, 3),
                            "errors": [{"path": e["path"], "error": e["error"]} for e in errs]}
    return out


def compact_index(index_dir: Path | str) -> int:
    """Merge the per-recording files of every key into one file each (search reads fewer files); returns how many."""
    from s2f_desktop.archive.store import IndexStore

    store = IndexStore(index_dir)
    store.check()
    return sum(store.compact(k) for k in store.keys())


# ------------------------------------------------------------------------------ query
@dataclass(frozen=True)
class Query:
    """The query voice (a :class:`~s2f_desktop.inference.archive_pipeline.QueryVoice`) and where it came from."""

    voice: Any
    source: dict[str, Any]
    encoder_sha256: str
    sha256s: tuple[str, ...] = ()
    index_key: str | None = None  # the index key of the models that embedded the query

    @property
    def speech_s(self) -> float:
        return float(self.voice.speech_s)


def _pipeline() -> Any:
    import importlib

    return importlib.import_module("s2f_desktop.inference.archive_pipeline")


def _analyzer(device: str) -> Any:
    import importlib

    return importlib.import_module("s2f_desktop.inference.analyzer").get_analyzer(device)


def query_from_file(path: Path | str, device: str = "auto", start_s: float | None = None,
                    end_s: float | None = None) -> Query:
    """The query voice from an audio file (speech only; optionally a time range)."""
    from s2f_desktop.audio.decode import open_audio
    from s2f_desktop.store.vault import sha256_file

    path = Path(path)
    if not path.is_file():
        raise MediaError(f"{path}: no such file")
    with open_audio(path) as src:
        sr = src.sample_rate
        a = 0 if start_s is None else int(round(start_s * sr))
        b = None if end_s is None else int(round(end_s * sr))
        x = src.read(a, b, channel="mix")
    an = _analyzer(device)
    voice = _pipeline().query_embedding([(x, sr)], an)
    sha, _ = sha256_file(path)
    return Query(voice, {"type": "file", "path": str(path), "sha256": sha}, an.encoder.spec.sha256, (sha,),
                 _pipeline().index_key(an))


def query_from_segments(ctx: AppContext, case_number: str, segment_ids: Sequence[str], device: str = "auto") -> Query:
    """The query voice from a case's segments (pooled over the segments' speech)."""
    from s2f_desktop.audio.decode import open_audio
    from s2f_desktop.services.evidence import require_intact, vault_path
    from s2f_desktop.services.segments import require_disjoint
    from s2f_desktop.store import repositories as repo

    if not segment_ids:
        raise InputError("no segments selected for the query")
    with ctx.store.read() as s:
        case = repo.get_case(s, case_number)
        segs = [repo.get_segment(s, sid) for sid in segment_ids]
        evs = {g.evidence_id: repo.get_evidence(s, g.evidence_id) for g in segs}
    foreign = [g.id for g in segs if evs[g.evidence_id].case_id != case.id]
    if foreign:
        raise InputError(f"segment {foreign[0]} does not belong to case {case_number}")
    require_disjoint(segs, evs, "the query")
    require_intact(ctx, evs.values())
    parts = []
    for g in segs:
        ev = evs[g.evidence_id]
        with open_audio(vault_path(ctx, ev), frames=ev.media.frames) as src:
            parts.append((src.read(g.start_sample, g.end_sample, channel="mix"), src.sample_rate))
    if len(parts) > 1:  # one voice, as an analysis or a comparison side (on the samples just read)
        from s2f_desktop.services import comparison

        split = comparison.split_of_samples([(g.id, x, sr) for g, (x, sr) in zip(segs, parts)], device)
        comparison.refuse_several_voices(ctx, split, "the query")
    an = _analyzer(device)
    voice = _pipeline().query_embedding(parts, an)
    return Query(voice, {"type": "case_segments", "case": case_number, "segments": list(segment_ids),
                               "evidence_sha256": sorted({e.sha256 for e in evs.values()})},
                 an.encoder.spec.sha256, tuple(sorted({e.sha256 for e in evs.values()})), _pipeline().index_key(an))


def search_archive(index_dir: Path | str, query: Query, *, sex: str | None = None, age_bins: Sequence[str] = (),
                   min_quality: str | None = None, top: int = 20, include_query_recordings: bool = False) -> Any:
    """Rank the archive's speakers against the query voice; returns a :class:`~s2f_desktop.archive.search.SearchResult`.

    The query's own recordings (same sha256) are left out unless asked for: finding the
    query in itself says nothing.
    """
    from s2f_desktop.archive.scoring import load_scorer
    from s2f_desktop.archive.search import Filters, search_index

    filters = Filters(sex, tuple(age_bins), min_quality)
    filters.validate()
    res = search_index(str(index_dir), query.voice, load_scorer(), filters, top,
                       encoder_sha256=query.encoder_sha256, index_key=query.index_key,
                       exclude_sha256=() if include_query_recordings else query.sha256s)
    res.notes.insert(0, f"query: {json.dumps(query.source)}; {query.speech_s:.1f} s of speech")
    return res


def get_entry(index_dir: Path | str, sha256: str, speaker: int | None = None) -> dict[str, Any]:
    """One index entry (a recording's speaker row), without its embedding."""
    import pyarrow.compute as pc

    from s2f_desktop.archive.store import IndexStore

    store = IndexStore(index_dir)
    store.check()
    t = store.read_rows()
    t = t.filter(pc.equal(t.column("sha256"), sha256))
    if speaker is not None:
        t = t.filter(pc.fill_null(pc.equal(t.column("speaker"), speaker), False))
    if t.num_rows == 0:
        raise NotFoundError(f"no index entry for sha256 {sha256[:12]}…"
                            + ("" if speaker is None else f" speaker group {speaker} (voice {speaker + 1})"))
    row = t.drop_columns(["embedding", "embedding_tel"]).slice(0, 1).to_pylist()[0]
    row["indexed_at"] = row["indexed_at"].isoformat() if row.get("indexed_at") else None
    for k in ("quality_json", "traits_json", "acoustics_json", "models_json"):
        row[k.removesuffix("_json")] = json.loads(row.pop(k)) if row.get(k) else None
    result: dict[str, Any] = row
    return result


def read_hit_audio(index_dir: Path | str, sha256: str, speaker: int | None = None, path: str | None = None,
                   start_s: float | None = None, end_s: float | None = None) -> tuple[Any, int]:
    """Samples of a hit (its speaker's longest turn by default) for listening; checks the file is unchanged."""
    from s2f_desktop.audio.decode import open_audio
    from s2f_desktop.store.vault import sha256_file

    entry = get_entry(index_dir, sha256, speaker)
    p = Path(path or entry["path"])
    if not p.is_file():
        raise MediaError(f"{p}: the archive recording is no longer there")
    got, _ = sha256_file(p)
    if got != sha256:
        raise MediaError(f"{p.name}: the archive recording changed since it was indexed (sha256 differs)")
    a = entry["start_s"] if start_s is None else start_s
    b = entry["end_s"] if end_s is None else end_s
    with open_audio(p) as src:
        sr = src.sample_rate
        x = src.read(int(round((a or 0.0) * sr)), None if b is None else int(round(b * sr)), channel="mix")
    return x, sr


@dataclass(frozen=True)
class HitImport:
    """Outcome of importing an archive hit: the evidence, whether it was already there, the segment added."""

    evidence: Any
    already_present: bool
    segment: Any


def import_hit(ctx: AppContext, case_number: str, index_dir: Path | str, sha256: str, speaker: int | None = None,
               add_segment: bool = True, task: Task | None = None) -> HitImport:
    """Import an archive hit's recording into a case as evidence, recorded in the audit trail.

    The recording is imported by the normal evidence import (hash, probe, vault copy,
    ``evidence.import`` event); the hash must equal the index entry's (a changed archive
    file is refused). Then an ``archive.import`` event names the archive path, the index
    folder and key and the entry (speaker, time ranges, stored labels and models), and,
    with ``add_segment``, the speaker's longest turn becomes an accepted segment.
    """
    from s2f_desktop.services import evidence as ev_svc
    from s2f_desktop.services import segments as seg_svc
    from s2f_desktop.services.cases import require_open
    from s2f_desktop.store import repositories as repo
    from s2f_desktop.store.audit import append_event

    task = task or null_task()
    sha256 = sha256.strip().lower()  # as printed by other tools too (sha256sum is lower case, some upper)
    with ctx.store.read() as s:
        case = repo.get_case(s, case_number)
    require_open(case)
    from s2f_desktop.archive.search import voice_of

    entry = get_entry(index_dir, sha256, speaker)
    path = Path(entry["path"])
    res = ev_svc.import_file(ctx, case_number, path, task.sub(0.0, 0.9))
    if res.evidence is None:
        raise MediaError(res.error or f"{path.name}: not imported")
    ev = res.evidence
    if ev.sha256 != sha256:
        raise MediaError(f"{path.name}: the archive recording changed since it was indexed "
                         f"(sha256 {ev.sha256[:12]}… ≠ index {sha256[:12]}…)")
    details = {
        "archive_path": str(path), "index_dir": str(Path(index_dir).resolve()), "index_key": entry["index_key"],
        "sha256": sha256, "already_present": res.already_present,
        "entry": {k: entry[k] for k in ("speaker", "n_speakers", "start_s", "end_s", "turns", "speech_s",
                                        "duration_s", "quality_verdict", "sex_label", "p_male", "age_label",
                                        "age_median", "age_lo80", "age_hi80", "indexed_at", "app_version",
                                        "device", "models")},
    }
    with ctx.store.write() as s:
        append_event(s, case_id=case.id, actor=ctx.actor, action="archive.import", object_type="evidence",
                     object_ids=[ev.id], details=details)
        repo.touch_case(s, case.id)
    seg = None
    if add_segment and entry["start_s"] is not None and entry["end_s"] is not None:
        sr = ev.media.sample_rate
        a = int(round(entry["start_s"] * sr))
        b = min(ev.media.frames, int(round(entry["end_s"] * sr)))
        # Imported before: the hit's segment is already there (accepted or not), so it is not added again.
        twin = next((g for g in seg_svc.list_segments(ctx, ev.id) if (g.start_sample, g.end_sample) == (a, b)), None)
        if twin is not None:
            seg = twin
        elif b > a:
            seg = seg_svc.add_segment(ctx, case_number, ev.id, a, b,
                                      label=f"archive hit: {voice_of(entry)}",
                                      speaker_tag=f"archive-{sha256[:8]}-{entry['speaker']}")
    task.progress(1.0, f"imported {path.name}")
    return HitImport(ev, res.already_present, seg)
