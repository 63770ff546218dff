"""The on-disk archive index: a Parquet dataset written one recording at a time, atomically.

Layout of an index folder::

    index.json                         format version and the index keys it holds
    rows/key=<index key>/<sha256>.parquet      one file per indexed recording (one row per speaker)
    rows/key=<index key>/compact-<id>.parquet  many recordings merged by `compact`
    rows/key=<index key>/compact-<id>.embeddings.npy  the same file's two embedding columns as one
                                               float32 array (2, n, 256), NaN for rows without one
    errors/key=<index key>/<path key>.parquet  one file per recording that failed (one row, the reason)
    catalog/<run>-<n>.parquet          path, size, mtime -> sha256 (so a later run skips unchanged files unread)
    withdrawn/<run>.parquet            (sha256, path) pairs a run found gone or changed on disk, or back again

A recording's rows stay in the index when its file is deleted or replaced (they are content-addressed);
an indexing run that finds, in its scope, a path gone or holding other content records the pair as
withdrawn, and readers leave withdrawn rows out (the latest record of a pair decides, so a file put back
is listed again). Nothing is deleted: the rows of a withdrawn recording can still be read by sha256.

Every file is written under a dot-name in its final folder, flushed, fsynced and then
renamed into place (``os.replace``), so a reader or a killed writer never sees half a
file: a recording's result is either entirely there or absent. A recording's file name is
its content hash, so computing the same recording twice (a worker killed after writing
but before reporting, or two copies of one file) replaces the file with identical rows
instead of adding a duplicate. Readers still de-duplicate on (sha256, speaker) in case a
compaction was interrupted between writing the merged file and removing the loose ones.
Dot-files (unfinished writes) are ignored by readers and removed by the next run.

The ``.embeddings.npy`` next to a compacted file is a derived copy for speed: Parquet stores a
fixed-size list column with repetition levels, and decoding 100,000 x 2 x 256 floats that way
takes most of a first search; a ``.npy`` loads at disk speed. The Parquet file keeps its own
embedding columns (older readers, and the fallback when the sidecar is missing or does not
match the file's row count), so the index stays readable by every version.

The index key (:func:`s2f_desktop.inference.archive_pipeline.index_key`) digests the
models, their sha256, the analysis parameters and the pipeline version: a recording is
"already indexed" only for the same key, so changing a model re-indexes, never mixes.
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
import time
import uuid
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, BinaryIO, Callable, Iterable

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from s2f_desktop.core.errors import InputError

FORMAT = "s2f-archive-index"
FORMAT_VERSION = 1
EMBEDDING_DIM = 256
#: A temp file untouched this long (seconds) is a dead writer's: a live write renames its temp within
#: about a second of creating it (one recording's rows), so ten minutes leaves a wide margin.
STALE_TEMP_AGE_S = 600.0

ROW_SCHEMA = pa.schema([
    ("sha256", pa.string()),
    ("index_key", pa.string()),
    ("path", pa.string()),
    ("size_bytes", pa.int64()),
    ("mtime_ns", pa.int64()),
    ("status", pa.string()),  # "ok" (a speaker row) or "no_speech" (one row, no speaker)
    ("speaker", pa.int32()),
    ("n_speakers", pa.int32()),
    ("start_s", pa.float64()),  # the speaker's longest turn (for listening and import)
    ("end_s", pa.float64()),
    ("turns", pa.list_(pa.list_(pa.float64()))),
    ("speech_s", pa.float64()),  # the speaker's net speech after the encoder's silence trimming
    ("recording_speech_s", pa.float64()),
    ("duration_s", pa.float64()),
    ("sample_rate", pa.int32()),
    ("channels", pa.int32()),
    ("codec", pa.string()),
    ("quality_verdict", pa.string()),
    ("snr_db", pa.float64()),
    ("telephone_band", pa.bool_()),
    ("clipping_fraction", pa.float64()),
    ("bandwidth_hz", pa.float64()),
    ("sex_label", pa.string()),
    ("p_male", pa.float64()),
    ("age_label", pa.string()),
    ("age_median", pa.float64()),
    ("age_lo80", pa.float64()),
    ("age_hi80", pa.float64()),
    ("f0_median_hz", pa.float64()),
    ("embedding", pa.list_(pa.float32(), EMBEDDING_DIM)),  # mean GE2E window embedding, unit length
    ("embedding_tel", pa.list_(pa.float32(), EMBEDDING_DIM)),  # the same, speech band-limited to 300-3400 Hz
    ("quality_json", pa.string()),
    ("traits_json", pa.string()),
    ("acoustics_json", pa.string()),
    ("models_json", pa.string()),
    ("device", pa.string()),
    ("app_version", pa.string()),
    ("indexed_at", pa.timestamp("ms", tz="UTC")),
])

ERROR_SCHEMA = pa.schema([
    ("path", pa.string()),
    ("path_key", pa.string()),
    ("size_bytes", pa.int64()),
    ("mtime_ns", pa.int64()),
    ("sha256", pa.string()),
    ("index_key", pa.string()),
    ("error", pa.string()),
    ("indexed_at", pa.timestamp("ms", tz="UTC")),
])

WITHDRAWN_SCHEMA = pa.schema([
    ("sha256", pa.string()),
    ("path", pa.string()),
    ("withdrawn", pa.bool_()),  # False: the pair was found again (a file put back)
    ("reason", pa.string()),
    ("at", pa.timestamp("ms", tz="UTC")),
])

CATALOG_SCHEMA = pa.schema([
    ("path", pa.string()),
    ("size_bytes", pa.int64()),
    ("mtime_ns", pa.int64()),
    ("sha256", pa.string()),
    ("index_key", pa.string()),
    ("status", pa.string()),
])


def now_utc() -> datetime:
    """Timestamp stored with rows."""
    return datetime.now(timezone.utc)


def path_key(path: str) -> str:
    """File-name-safe key of a path (error rows are per path: an unreadable file may have no hash)."""
    return hashlib.sha256(path.encode("utf-8", "surrogateescape")).hexdigest()[:32]


def write_atomic(table: pa.Table, final: Path) -> None:
    """Write ``table`` to ``final`` so that it appears whole or not at all."""
    _write_atomic(final, lambda fh: pq.write_table(table, fh, compression="zstd"))


def _write_atomic(final: Path, write: Callable[[BinaryIO], None]) -> None:
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = final.parent / f".{final.name}.{uuid.uuid4().hex}.tmp"
    try:
        with open(tmp, "wb") as fh:
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, final)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    try:  # make the rename itself durable
        fd = os.open(final.parent, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
    except OSError:
        pass


class IndexStore:
    """One index folder (see the module docstring)."""

    def __init__(self, root: Path | str) -> None:
        self.root = Path(root)

    # ------------------------------------------------------------ layout
    def rows_dir(self, key: str) -> Path:
        return self.root / "rows" / f"key={key}"

    def errors_dir(self, key: str) -> Path:
        return self.root / "errors" / f"key={key}"

    def row_file(self, key: str, sha256: str) -> Path:
        return self.rows_dir(key) / f"{sha256}.parquet"

    def error_file(self, key: str, path: str) -> Path:
        return self.errors_dir(key) / f"{path_key(path)}.parquet"

    def create(self) -> None:
        """Create the folder (or check an existing one is an index)."""
        meta = self.root / "index.json"
        if self.root.exists() and not self.root.is_dir():
            raise InputError(f"{self.root} is a file, not a folder; give a new or empty folder for the index")
        if self.root.exists() and any(self.root.iterdir()) and not meta.exists():
            raise InputError(f"{self.root} exists and is not an archive index (no index.json); choose an empty folder")
        self.root.mkdir(parents=True, exist_ok=True)
        if not meta.exists():
            tmp = self.root / ".index.json.tmp"
            tmp.write_text(json.dumps({"format": FORMAT, "format_version": FORMAT_VERSION,
                                       "created": now_utc().isoformat()}, indent=2), encoding="utf-8")
            os.replace(tmp, meta)

    def check(self) -> None:
        """Raise InputError unless this folder is an index."""
        meta = self.root / "index.json"
        if not meta.is_file():
            raise InputError(f"{self.root}: not an archive index (no index.json)")
        info = json.loads(meta.read_text(encoding="utf-8"))
        if info.get("format") != FORMAT or int(info.get("format_version", 0)) > FORMAT_VERSION:
            raise InputError(f"{self.root}: index format {info.get('format')} v{info.get('format_version')} "
                             f"is not readable by this version")

    def keys(self) -> list[str]:
        """Index keys present (one per model/parameter set)."""
        d = self.root / "rows"
        return sorted(p.name.split("=", 1)[1] for p in d.glob("key=*") if p.is_dir()) if d.exists() else []

    def remove_stale_temps(self, min_age_s: float = STALE_TEMP_AGE_S) -> int:
        """Remove unfinished writes left by killed workers (only dot-files ending in .tmp).

        Only temps untouched for ``min_age_s``: a task of a cancelled run may still be running on
        a worker (Dask cannot stop a running task) and be about to rename its temp into place;
        removing that temp would make its write fail. Readers ignore temps, so a young one left
        by a killed worker is harmless until a later run removes it.
        """
        n = 0
        cutoff = time.time() - min_age_s
        for sub in ("rows", "errors", "catalog", "withdrawn"):
            for p in (self.root / sub).rglob(".*.tmp") if (self.root / sub).exists() else []:
                try:
                    if p.stat().st_mtime > cutoff:
                        continue
                    p.unlink()
                except FileNotFoundError:  # its writer renamed or removed it meanwhile
                    continue
                n += 1
        return n

    # ------------------------------------------------------------ what is done
    def indexed_shas(self, key: str) -> set[str]:
        """sha256 of recordings with rows under ``key`` (loose files by name, compacted files by content)."""
        d = self.rows_dir(key)
        if not d.exists():
            return set()
        done = {p.stem for p in d.glob("*.parquet") if not p.name.startswith("compact-")}
        for p in d.glob("compact-*.parquet"):
            done.update(pq.read_table(p, columns=["sha256"]).column("sha256").to_pylist())
        return done

    def errored(self, key: str) -> dict[str, tuple[int, int]]:
        """Path -> (size, mtime_ns) of recordings that failed under ``key``."""
        d = self.errors_dir(key)
        if not d.exists():
            return {}
        out: dict[str, tuple[int, int]] = {}
        for p in d.glob("*.parquet"):
            t = pq.read_table(p, columns=["path", "size_bytes", "mtime_ns"]).to_pylist()
            for r in t:
                out[r["path"]] = (int(r["size_bytes"] or -1), int(r["mtime_ns"] or -1))
        return out

    def catalog(self) -> dict[tuple[str, int, int], str]:
        """(path, size, mtime_ns) -> sha256 of files seen by earlier runs."""
        d = self.root / "catalog"
        if not d.exists():
            return {}
        out: dict[tuple[str, int, int], str] = {}
        for p in sorted(d.glob("*.parquet")):
            for r in pq.read_table(p).to_pylist():
                if r["sha256"]:
                    out[(r["path"], int(r["size_bytes"]), int(r["mtime_ns"]))] = r["sha256"]
        return out

    def add_catalog(self, entries: list[dict[str, Any]], run_id: str, n: int) -> None:
        """Append catalog entries as one new file."""
        if entries:
            write_atomic(pa.Table.from_pylist(entries, schema=CATALOG_SCHEMA),
                         self.root / "catalog" / f"{run_id}-{n:05d}.parquet")

    def withdrawn(self) -> dict[tuple[str, str], str]:
        """(sha256, path) -> reason, for pairs whose latest record withdraws them (files in run order)."""
        d = self.root / "withdrawn"
        if not d.exists():
            return {}
        latest: dict[tuple[str, str], tuple[bool, str]] = {}
        for p in sorted(f for f in d.glob("*.parquet") if not f.name.startswith(".")):
            for r in pq.read_table(p).to_pylist():
                latest[(r["sha256"], r["path"])] = (bool(r["withdrawn"]), str(r["reason"] or ""))
        return {k: why for k, (out, why) in latest.items() if out}

    def add_withdrawn(self, entries: list[dict[str, Any]], run_id: str) -> None:
        """Record (sha256, path, withdrawn, reason) entries of one run as one new file."""
        if entries:
            at = now_utc()
            write_atomic(pa.Table.from_pylist([{**e, "at": at} for e in entries], schema=WITHDRAWN_SCHEMA),
                         self.root / "withdrawn" / f"{run_id}.parquet")

    # ------------------------------------------------------------ reading
    def read_rows(self, key: str | None = None, columns: list[str] | None = None,
                  include_withdrawn: bool = False) -> pa.Table:
        """All rows (of one key, or every key), de-duplicated on (index_key, sha256, speaker), without
        the rows of withdrawn (sha256, path) pairs unless ``include_withdrawn``."""
        gone = {} if include_withdrawn else self.withdrawn()
        borrowed = bool(gone) and columns is not None and "path" not in columns  # read only to filter
        table = self._read_rows(key, columns + ["path"] if borrowed and columns is not None else columns)
        if gone and table.num_rows:
            keep = [(s, p) not in gone for s, p in zip(table.column("sha256").to_pylist(),
                                                       table.column("path").to_pylist())]
            table = table.filter(pa.array(keep, pa.bool_()))
        return table.drop_columns(["path"]) if borrowed else table

    def _read_rows(self, key: str | None = None, columns: list[str] | None = None) -> pa.Table:
        keys = [key] if key else self.keys()
        files: list[Path] = []
        for k in keys:
            d = self.rows_dir(k)
            if d.exists():
                files += sorted(p for p in d.glob("*.parquet") if not p.name.startswith("."))
        cols = list(ROW_SCHEMA.names) if columns is None else \
            list(dict.fromkeys(["index_key", "sha256", "speaker"] + columns))
        if not files:
            return ROW_SCHEMA.empty_table().select(cols)
        import pyarrow.dataset as ds

        emb_cols = [c for c in cols if c in _EMBEDDING_COLUMNS]
        parts: list[pa.Table] = []
        loose: list[str] = []
        for f in files:
            side = _read_sidecar(f) if emb_cols and f.name.startswith("compact-") else None
            if side is None:
                loose.append(str(f))
                continue
            # Through the dataset reader with the current schema: columns a file predates read as nulls.
            t = ds.dataset([str(f)], schema=ROW_SCHEMA, format="parquet").to_table(
                columns=[c for c in cols if c not in _EMBEDDING_COLUMNS])
            if t.num_rows != side.shape[1]:  # not this file's sidecar: read the file's own columns
                loose.append(str(f))
                continue
            arrays = {name: t.column(name) for name in t.column_names}
            for name in emb_cols:
                arrays[name] = pa.chunked_array([_fixed_list(side[_EMBEDDING_COLUMNS.index(name)])])
            parts.append(pa.table([arrays[c] for c in cols], schema=_schema_of(cols)))
        if loose:
            parts.append(ds.dataset(loose, schema=ROW_SCHEMA, format="parquet").to_table(columns=cols))
        table = parts[0] if len(parts) == 1 else pa.concat_tables(parts)
        # Duplicates exist only when a compacted file sits next to other files (an interrupted compaction):
        # loose files are one per recording, and one compaction merges distinct loose files.
        if len(files) > 1 and any(p.name.startswith("compact-") for p in files) and table.num_rows:
            table = _dedup(table)
        return table

    def read_errors(self, key: str | None = None) -> pa.Table:
        keys = [key] if key else [p.name.split("=", 1)[1] for p in (self.root / "errors").glob("key=*")] \
            if (self.root / "errors").exists() else []
        files = [str(p) for k in keys for p in sorted(self.errors_dir(k).glob("*.parquet"))]
        if not files:
            return ERROR_SCHEMA.empty_table()
        import pyarrow.dataset as ds

        return ds.dataset(files, schema=ERROR_SCHEMA, format="parquet").to_table()

    # ------------------------------------------------------------ compaction
    def compact(self, key: str) -> int:
        """Merge the loose per-recording files of ``key`` into one file; returns how many were merged.

        Order: write the merged file atomically, then remove the loose files it holds.
        A crash between the two leaves duplicates that readers drop; nothing is lost.
        """
        d = self.rows_dir(key)
        loose = sorted(p for p in d.glob("*.parquet") if not p.name.startswith(("compact-", ".")))
        if len(loose) < 2:
            return 0
        import pyarrow.dataset as ds

        table = ds.dataset([str(p) for p in loose], schema=ROW_SCHEMA, format="parquet").to_table()
        write_compact(table, d / f"compact-{time.strftime('%Y%m%dT%H%M%S')}-{uuid.uuid4().hex[:8]}.parquet")
        for p in loose:
            p.unlink(missing_ok=True)
        return len(loose)


def _dedup(table: pa.Table) -> pa.Table:
    """Keep the first row of each (index_key, sha256, speaker)."""
    keys = table.select(["index_key", "sha256", "speaker"]).append_column(
        "_row", pa.array(np.arange(table.num_rows, dtype=np.int64)))
    first = keys.group_by(["index_key", "sha256", "speaker"], use_threads=False).aggregate([("_row", "min")])
    if first.num_rows == table.num_rows:
        return table
    keep = np.sort(first.column("_row_min").to_numpy())
    return table.take(pa.array(keep, pa.int64()))


#: The embedding columns, in the order of a sidecar's second axis.
_EMBEDDING_COLUMNS = ("embedding", "embedding_tel")


def sidecar_path(parquet: Path) -> Path:
    """The ``.embeddings.npy`` next to a compacted rows file."""
    return parquet.with_name(parquet.name.removesuffix(".parquet") + ".embeddings.npy")


def write_compact(table: pa.Table, final: Path) -> None:
    """Write a compacted rows file and its embeddings sidecar (sidecar first: a file never lacks a finished one)."""
    side = np.stack([embeddings_matrix(table, c, missing=np.nan) for c in _EMBEDDING_COLUMNS])
    _write_atomic(sidecar_path(final), lambda fh: np.save(fh, side.astype(np.float32), allow_pickle=False))
    write_atomic(table, final)


def _read_sidecar(parquet: Path) -> np.ndarray | None:
    """A compacted file's embeddings sidecar, or None when absent or unreadable (the reader falls back)."""
    p = sidecar_path(parquet)
    try:
        arr = np.load(p, allow_pickle=False)
    except (OSError, ValueError):
        return None
    if arr.ndim != 3 or arr.shape[0] != len(_EMBEDDING_COLUMNS) or arr.shape[2] != EMBEDDING_DIM \
            or arr.dtype != np.float32:
        return None
    out: np.ndarray = arr
    return out


def _fixed_list(m: np.ndarray) -> pa.Array:
    """(n, 256) float32 rows as a fixed-size-list column; all-NaN rows (no embedding) become nulls."""
    m = np.ascontiguousarray(m, dtype=np.float32)
    missing = np.isnan(m[:, 0]) if len(m) else np.zeros(0, bool)
    return pa.FixedSizeListArray.from_arrays(pa.array(m.reshape(-1)), EMBEDDING_DIM,
                                             mask=pa.array(missing) if missing.any() else None)


def _schema_of(cols: list[str]) -> pa.Schema:
    return pa.schema([ROW_SCHEMA.field(c) for c in cols])


def embeddings_matrix(table: pa.Table, column: str = "embedding", missing: float | None = None) -> np.ndarray:
    """An embedding column as an (n, 256) float32 array without per-row Python work.

    ``missing``: value written into the rows whose embedding is null (by default they hold
    whatever the column's storage holds there; callers filter nulls out first).
    A column of one chunk (a compacted index) is returned as a read-only view of its Arrow buffer:
    combining chunks copies even a single one, and copying 100,000 rows' two columns (200 MB) was most
    of a first search's time, and of its variance (benchmarks/bench_archive.py ``search_latency``).
    """
    chunked = table.column(column)
    col = chunked.chunk(0) if chunked.num_chunks == 1 else chunked.combine_chunks()
    if len(col) == 0:
        return np.zeros((0, EMBEDDING_DIM), np.float32)
    # .values ignores a sliced array's offset: take this array's own part of it.
    values = col.values.slice(col.offset * EMBEDDING_DIM, len(col) * EMBEDDING_DIM)
    out: np.ndarray = values.to_numpy(zero_copy_only=False).reshape(len(col), EMBEDDING_DIM)
    if missing is not None and col.null_count:
        out = out.copy()
        out[np.asarray(col.is_null().to_numpy(zero_copy_only=False), dtype=bool)] = missing
    return out


def rows_for_recording(result: Any, *, sha256: str, key: str, path: str, size: int, mtime_ns: int,
                       models: list[dict[str, str]], app_version: str) -> pa.Table:
    """Rows (one per speaker, or one ``no_speech`` row) of a :class:`RecordingResult`."""
    m, q = result.media, result.quality
    base = {
        "sha256": sha256, "index_key": key, "path": path, "size_bytes": size, "mtime_ns": mtime_ns,
        "n_speakers": len(result.speakers), "recording_speech_s": round(result.speech_s, 3),
        "duration_s": m["duration_s"], "sample_rate": m["sample_rate"], "channels": m["channels"],
        "codec": m["codec"], "quality_verdict": q["verdict"], "snr_db": q["snr_db"],
        "telephone_band": q["telephone_band"], "clipping_fraction": q["clipping_fraction"],
        "bandwidth_hz": q["bandwidth_hz"], "quality_json": json.dumps(q, sort_keys=True),
        "models_json": json.dumps(models, sort_keys=True), "device": result.device, "app_version": app_version,
        "indexed_at": now_utc(),
    }
    rows = []
    for sp in result.speakers:
        longest = max(sp.turns, key=lambda t: t[1] - t[0])
        t, a = sp.traits, sp.acoustics
        rows.append({**base, "status": "ok", "speaker": sp.speaker, "start_s": round(longest[0], 3),
                     "end_s": round(longest[1], 3), "turns": [[round(x, 3), round(y, 3)] for x, y in sp.turns],
                     "speech_s": round(sp.speech_s, 3), "sex_label": t["sex"]["label"], "p_male": t["sex"]["p_male"],
                     "age_label": t["age"]["label"], "age_median": t["age"]["median_years"],
                     "age_lo80": t["age"]["interval_80"][0], "age_hi80": t["age"]["interval_80"][1],
                     "f0_median_hz": (a.get("f0_median") or {}).get("value"),
                     "embedding": np.asarray(sp.embedding, np.float32).tolist(),
                     "embedding_tel": np.asarray(sp.embedding_tel, np.float32).tolist(),
                     "traits_json": json.dumps(t, sort_keys=True), "acoustics_json": json.dumps(a, sort_keys=True)})
    if not rows:
        rows.append({**base, "status": "no_speech", "speaker": None, "start_s": None, "end_s": None,
                     "turns": [], "speech_s": 0.0, "embedding": None, "embedding_tel": None})
    return pa.Table.from_pylist(rows, schema=ROW_SCHEMA)


def error_table(*, path: str, size: int | None, mtime_ns: int | None, sha256: str | None, key: str,
                error: str) -> pa.Table:
    """The one-row table recorded for a recording that could not be indexed."""
    return pa.Table.from_pylist([{"path": path, "path_key": path_key(path), "size_bytes": size, "mtime_ns": mtime_ns,
                                  "sha256": sha256, "index_key": key, "error": error, "indexed_at": now_utc()}],
                                schema=ERROR_SCHEMA)


def iter_audio_files(root: Path, exts: Iterable[str]) -> list[Path]:
    """Audio files under ``root`` (sorted, hidden folders skipped, symlinked folders not followed; a pipe,
    device or socket named like audio is not a recording and is left out: reading it would block)."""
    wanted = {e.lower() for e in exts}
    out: list[Path] = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for f in sorted(filenames):
            if not f.startswith(".") and Path(f).suffix.lower() in wanted:
                p = Path(dirpath) / f
                try:
                    regular = stat.S_ISREG(os.stat(p).st_mode)
                except OSError:  # a dangling link: kept, so the run names why it cannot be read
                    regular = True
                if regular:
                    out.append(p)
    return out
