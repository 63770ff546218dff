"""Filter and rank the speakers of an archive index against a query voice (numpy + pyarrow only).

Filters use the labels the index stored (the trait models' validated, abstaining labels:
a speaker whose sex is ``inconclusive`` never passes ``--sex female``) and the quality
verdict. Ranking uses a :class:`~s2f_desktop.archive.scoring.Scorer`: candidates are
scored in one matrix product and only the top K are turned into hit records.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from s2f_desktop.archive.scoring import CHANCE_LOG10_LR, Batch, ChanceRates
from s2f_desktop.archive.store import IndexStore, embeddings_matrix
from s2f_desktop.core.errors import InputError
from s2f_desktop.core.traits import AGE_BINS

#: Quality verdicts from best to worst (audio.quality).
QUALITY_ORDER = ("ok", "warn", "insufficient")
SEX_CHOICES = ("male", "female")

_SEARCH_COLUMNS = ["path", "status", "n_speakers", "start_s", "end_s", "turns", "speech_s", "duration_s",
                   "sample_rate",
                   "quality_verdict", "snr_db", "telephone_band", "clipping_fraction", "bandwidth_hz", "sex_label",
                   "p_male", "age_label", "age_median",
                   "age_lo80", "age_hi80", "embedding", "embedding_tel"]


def voice_of(hit: dict[str, Any]) -> str:
    """Which of its recording's voices a hit is, as shown ("voice 2 of 3"): the index numbers a recording's
    probable speakers from 0, which read as nobody's name."""
    n = hit.get("n_speakers")
    return f"voice {int(hit['speaker']) + 1}" + (f" of {int(n)}" if n else "")


@dataclass(frozen=True)
class Filters:
    """Trait and quality filters (empty = no filter)."""

    sex: str | None = None
    age_bins: tuple[str, ...] = ()
    min_quality: str | None = None

    def validate(self) -> None:
        if self.sex is not None and self.sex not in SEX_CHOICES:
            raise InputError(f"--sex must be one of {', '.join(SEX_CHOICES)} (got {self.sex!r})")
        bad = [b for b in self.age_bins if b not in AGE_BINS]
        if bad:
            raise InputError(f"--age must be one of {', '.join(AGE_BINS)} (got {bad[0]!r})")
        if self.min_quality is not None and self.min_quality not in QUALITY_ORDER:
            raise InputError(f"--min-quality must be one of {', '.join(QUALITY_ORDER)} (got {self.min_quality!r})")

    def to_dict(self) -> dict[str, Any]:
        return {"sex": self.sex, "age": list(self.age_bins), "min_quality": self.min_quality}


@dataclass
class SearchResult:
    """Hits best first, with what was searched and how it was scored."""

    hits: list[dict[str, Any]]
    candidates: int
    searched_rows: int
    scorer: str
    calibrated: bool
    index_key: str
    filters: dict[str, Any]
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)


#: Years each age band covers, [from, to) (the bands of :data:`s2f_desktop.core.traits.AGE_BINS`).
AGE_BIN_YEARS = {"<20": (0.0, 20.0), "20-39": (20.0, 40.0), "40-59": (40.0, 60.0), ">=60": (60.0, 200.0)}


def filter_mask(table: pa.Table, f: Filters) -> pa.ChunkedArray:
    """Boolean mask of rows that are speakers and pass the filters."""
    # Speaker rows with both embeddings (rows of an older index format have none and are not compared).
    mask = pc.and_(pc.equal(table.column("status"), "ok"), pc.is_valid(table.column("embedding_tel")))
    if f.sex:
        mask = pc.and_(mask, pc.equal(table.column("sex_label"), f.sex))
    if f.age_bins:
        # The trait model gives no validated age band label (it abstains on the band and gives an
        # 80 % interval), so a band selects the speakers whose interval reaches into it: a speaker
        # who *could* be in the band is kept, none is dropped on a label the model does not give.
        lo, hi = table.column("age_lo80"), table.column("age_hi80")
        any_bin = None
        for b in f.age_bins:
            a, z = AGE_BIN_YEARS[b]
            hit = pc.and_(pc.less(lo, z), pc.greater_equal(hi, a))
            any_bin = hit if any_bin is None else pc.or_(any_bin, hit)
        mask = pc.and_(mask, any_bin)
    if f.min_quality:
        allowed = list(QUALITY_ORDER[:QUALITY_ORDER.index(f.min_quality) + 1])
        mask = pc.and_(mask, pc.is_in(table.column("quality_verdict"), value_set=pa.array(allowed)))
    return pc.fill_null(mask, False)


#: Calibrated ranking normalises each candidate against the model's cohort, which costs a
#: cohort-sized product per candidate; it is done for the best candidates by raw cosine only.
SHORTLIST_MIN = 1000
SHORTLIST_PER_HIT = 20


def search_table(table: pa.Table, query: Any, scorer: Any, filters: Filters, top: int = 20,
                 exclude_sha256: Sequence[str] = (),
                 notes: list[str] | None = None, shortlist: int | None = None,
                 left_out: bool = False) -> tuple[list[dict[str, Any]], int]:
    """Rank the rows of ``table`` (schema :data:`~s2f_desktop.archive.store.ROW_SCHEMA`); returns (hits, candidates).

    ``query`` has ``embedding``, ``embedding_tel``, ``speech_s``, ``telephone_band``,
    ``clipping_fraction`` and ``bandwidth_hz`` (:class:`~s2f_desktop.inference.archive_pipeline.QueryVoice`).
    Channel matching: when the query or the candidate recording is telephone band, both
    sides' telephone-band embeddings are compared (as the comparison model does), otherwise
    both wideband. With a calibrated scorer the best ``max(1000, 20 x top)`` candidates by
    raw cosine are calibrated and ranked by log10 LR (abstentions after every LR); without
    one, the ranking is the raw cosine. ``shortlist`` overrides how many are calibrated (a quick look);
    ``left_out`` ranks the rows the filters leave out instead of those they keep.
    """
    filters.validate()
    if top < 1:
        raise InputError("--top must be at least 1")
    mask = filter_mask(table, filters)
    if left_out:  # speaker rows (as without filters) that the filters reject
        mask = pc.and_(filter_mask(table, Filters()), pc.invert(mask))
    if exclude_sha256:
        mask = pc.and_(mask, pc.invert(pc.is_in(table.column("sha256"), value_set=pa.array(list(exclude_sha256)))))
    # The embeddings stay in the whole table's matrices (converted once per loaded table): candidates are rows of
    # them by position, and only the shortlist's rows are copied out.
    pos = np.flatnonzero(np.asarray(pc.fill_null(mask, False).to_numpy(zero_copy_only=False), dtype=bool))
    n = int(pos.size)
    if n == 0:
        return [], 0
    cand = table.drop_columns(["embedding", "embedding_tel"]).take(pa.array(pos, pa.int64()))
    emb_all, emb_tel_all = _matrices(table)
    tel = np.asarray(pc.fill_null(cand.column("telephone_band"), False).to_numpy(zero_copy_only=False), dtype=bool)
    if query.telephone_band:
        tel[:] = True
    q_wide = np.asarray(query.embedding, np.float32)
    q_tel = np.asarray(query.embedding_tel, np.float32)
    raw = np.where(tel, (emb_tel_all @ q_tel)[pos], (emb_all @ q_wide)[pos]).astype(np.float64)
    wanted = shortlist if shortlist is not None else max(SHORTLIST_MIN, SHORTLIST_PER_HIT * top)
    k = min(n, max(top, wanted) if scorer.calibrated else top)
    idx = np.argpartition(-raw, k - 1)[:k] if k < n else np.arange(n)
    idx = idx[np.lexsort((idx, -raw[idx]))]  # best first; ties in index order (deterministic)
    lrs: np.ndarray | None = None
    reasons: list[str | None] = [None] * len(idx)
    if scorer.calibrated:
        def col(name: str) -> np.ndarray:
            return np.asarray(pc.fill_null(cand.column(name).take(pa.array(idx)), np.nan)
                              .to_numpy(zero_copy_only=False), dtype=np.float64)

        t = tel[idx]
        batch = Batch(query=np.where(t[:, None], q_tel[None, :], q_wide[None, :]),
                      emb=np.where(t[:, None], emb_tel_all[pos[idx]], emb_all[pos[idx]]), raw=raw[idx],
                      query_speech_s=float(query.speech_s), speech_s=col("speech_s"),
                      query_clipping=float(query.clipping_fraction), query_bandwidth_hz=float(query.bandwidth_hz),
                      clipping=col("clipping_fraction"), bandwidth_hz=col("bandwidth_hz"),
                      query_snr_db=getattr(query, "snr_db", None), snr_db=col("snr_db"))
        out = scorer.log10_lr(batch)
        if out is not None:
            lrs, reasons = out
            order = np.lexsort((np.arange(len(idx)), -raw[idx], -np.nan_to_num(lrs, nan=-np.inf)))
            idx, lrs, reasons = idx[order], lrs[order], [reasons[i] for i in order]
            abstained = [j for j in range(len(idx)) if not np.isfinite(lrs[j])]
            if abstained and notes is not None:
                # Ranked after every scored candidate, whatever their similarity: say so, and name the most
                # similar, so a recording too short to score is not lost at the bottom of a long list.
                best = max(abstained, key=lambda j: raw[idx[j]])
                where = f"rank {best + 1}" if best < top else f"not among the {top} shown"
                notes.append(f"{len(abstained)} of the {len(idx)} candidates compared abstained (too little speech, or "
                             "degraded audio: their abstain_reason) and are ranked after every scored one; the most "
                             f"similar of them by cosine: {cand.column('path')[int(idx[best])].as_py()} (cosine "
                             f"{raw[idx[best]]:.3f}, {where})")
    idx = idx[:top]
    sel = cand.take(pa.array(idx, pa.int64())).to_pylist()
    hits = []
    for j, r in enumerate(sel):
        lr = None if lrs is None or not np.isfinite(lrs[j]) else round(float(lrs[j]), 3)
        hits.append({
            "rank": j + 1,
            "path": r["path"], "sha256": r["sha256"], "speaker": r["speaker"], "n_speakers": r["n_speakers"],
            "start_s": r["start_s"], "end_s": r["end_s"],
            "log10_lr": lr, "verbal": scorer.verbal(lr) if scorer.calibrated else None,
            "abstain_reason": reasons[j],
            "score": round(float(raw[idx[j]]), 4),
            "channel": "telephone band" if tel[idx[j]] else "wideband",
            "turns": r["turns"], "speech_s": r["speech_s"], "duration_s": r["duration_s"],
            "sample_rate": r["sample_rate"], "quality": r["quality_verdict"], "snr_db": r["snr_db"],
            "telephone_band": r["telephone_band"],
            "sex": {"label": r["sex_label"], "p_male": r["p_male"]},
            "age": {"label": r["age_label"], "median_years": r["age_median"],
                    "interval_80": [r["age_lo80"], r["age_hi80"]]},
            "index_key": r["index_key"],
        })
    return hits, n


_cache_lock = threading.Lock()
#: The embedding matrices of the last table searched (the cached index rows): (table, wideband, telephone band).
_matrix_cache: list[tuple[pa.Table, np.ndarray, np.ndarray]] = []


def _matrices(table: pa.Table) -> tuple[np.ndarray, np.ndarray]:
    """The wideband and telephone-band embedding matrices of ``table``, converted once while it is the one searched."""
    with _cache_lock:
        if _matrix_cache and _matrix_cache[0][0] is table:
            return _matrix_cache[0][1], _matrix_cache[0][2]
    emb, tel = embeddings_matrix(table), embeddings_matrix(table, "embedding_tel")
    with _cache_lock:
        _matrix_cache[:] = [(table, emb, tel)]
    return emb, tel
#: The last index read (one per process): a GUI searching the same index again skips the Parquet read.
_cache: dict[str, Any] = {}


def _files_signature(store: IndexStore, keys: list[str]) -> tuple[Any, ...]:
    sig = []
    for k in keys:
        for p in [*sorted(store.rows_dir(k).glob("*.parquet")), *sorted((store.root / "withdrawn").glob("*.parquet"))]:
            if not p.name.startswith("."):
                st = p.stat()
                sig.append((p.name, st.st_size, st.st_mtime_ns))
    return tuple(sig)


def load_rows(store: IndexStore, keys: list[str], encoder_sha256: str | None,
              notes: list[str]) -> tuple[pa.Table, int]:
    """The rows to compare (cached while the index files are unchanged) and the total row count."""
    sig = (str(store.root.resolve()), encoder_sha256, _files_signature(store, keys))
    with _cache_lock:
        hit = _cache.get("rows")
        if hit is not None and hit[0] == sig:
            notes.extend(hit[3])
            return hit[1], hit[2]
    tables = []
    total = 0
    mine: list[str] = []
    for key in keys:
        t = store.read_rows(key, columns=_SEARCH_COLUMNS + ["models_json"])
        total += t.num_rows
        if not t.num_rows:
            continue
        if encoder_sha256 is not None:
            models = json.loads(t.column("models_json")[0].as_py())
            if not any(m.get("sha256") == encoder_sha256 for m in models):
                mine.append(f"index key {key}: {t.num_rows} rows made with another speaker encoder were not compared")
                continue
        tables.append(t.drop_columns(["models_json"]))
    table = pa.concat_tables(tables) if tables else store.read_rows(keys[0], columns=_SEARCH_COLUMNS).slice(0, 0)
    with _cache_lock:
        _cache["rows"] = (sig, table, total, mine)
    notes.extend(mine)
    return table, total


def _about(x: float) -> str:
    return f"{x:.2g}" if x < 1 else f"{x:.1f}" if x < 10 else f"{x:,.0f}"


def chance_note(compared: int, chance: ChanceRates | None, model_id: str) -> str:
    """The caveat printed with every calibrated search: how many high LRs chance alone gives at this size.

    ``chance`` holds the model's rates from its declared cross-validation LRs (None when the scorer
    has none). The expected counts are the validation's different-speaker rates times the number of
    voices compared (the index's speaker rows: one per speaker found in each recording, so a person heard
    in several recordings is compared several times): what an index that does not hold the query's speaker
    would still show if every one of them were scored.
    """
    limit = ("A ranked hit is the highest-scoring of many comparisons: its LR was cross-validated for one "
             "comparison of two voices, not for a database search, and it is a lead for listening, never an "
             "identification.")
    if chance is None or not chance.n_different:
        return f"chance hits: {model_id} states no validation rates here, so their number is unknown. {limit}"
    names = " / ".join(f"> {10 ** t:g}" for t in CHANCE_LOG10_LR)
    rates = [chance.rate(i) for i in range(len(CHANCE_LOG10_LR))]
    counts = " / ".join(f"{k:,}" for k in chance.above)
    shares = " / ".join(f"{100 * r:.2f}" for r in rates)
    expected = " / ".join(_about(compared * r) for r in rates)
    spread = ""
    if chance.worst_cross_source_lr1 is not None:
        w = chance.worst_cross_source_lr1
        spread = (f" These rates depend on the material: calibrated on one of the model's two sources and tested "
                  f"on the other ({chance.worst_cross_source_run.replace('_to_', ' -> ')}), {100 * w:.1f} % of "
                  f"different-speaker pairs reached LR > 1 (here about {_about(compared * w)} voices): on "
                  f"recordings unlike the validation data expect several times more chance hits.")
    return (f"chance hits: {model_id}'s cross-validation gave LR {names} to {counts} of {chance.n_different:,} "
            f"different-speaker pairs (same sex where known; {shares} %). If the query's speaker is none of the "
            f"{compared:,} voices compared (one per speaker found in each recording; a person heard in several "
            f"recordings is compared once for each), about {expected} of them would still reach LR {names} by "
            f"chance alone.{spread} {limit}")


#: Rows left out by the filters that the note's quick look calibrates (by raw cosine, best first).
_NOTE_SHORTLIST = 20


def _filtered_out_note(table: Any, query: Any, scorer: Any, filters: Filters, hits: list[dict[str, Any]], n: int,
                       exclude_sha256: Sequence[str]) -> str:
    """A note when the filters left out a voice that would have ranked first without them ("" otherwise).

    The filters read the labels the trait models stored (sex, age band) and the quality verdict; an estimate can be
    wrong (a man with a high voice labelled female), and a filter then hides the very speaker sought without a word.
    Only the rows the filters left out are ranked, on the table already read, with the best
    :data:`_NOTE_SHORTLIST` of them by cosine calibrated (a caution, not a second search: it kept a filtered
    100,000-row search within a few milliseconds of its time without the note).
    """
    others, n_out = search_table(table, query, scorer, filters, 1, exclude_sha256, None, shortlist=_NOTE_SHORTLIST,
                                 left_out=True)
    if not others:
        return ""
    best, n_all = others[0], n + n_out

    def key(h: dict[str, Any]) -> tuple[float, float]:
        return (-np.inf if h["log10_lr"] is None else float(h["log10_lr"]), float(h["score"]))

    if hits and key(hits[0]) >= key(best):
        return ""
    how = (f"log10 LR {best['log10_lr']:+.2f}" if best["log10_lr"] is not None else f"cosine {best['score']:.3f}")
    used = ", ".join(f"{k} {v}" for k, v in filters.to_dict().items() if v)
    return (f"filters: {n:,} of {n_all:,} voices passed them ({used}); "
            f"the voice that ranks first without them was left out: {best['path']} (speaker {best['speaker']}, "
            f"{how}; stored as sex {best['sex']['label']}, age {best['age']['label']}, quality {best['quality']}). "
            "The labels are the trait models' estimates and can be wrong: a filter can hide the speaker sought.")


def search_index(index_dir: str, query: Any, scorer: Any, filters: Filters,
                 top: int = 20, encoder_sha256: str | None = None, index_key: str | None = None,
                 exclude_sha256: Sequence[str] = ()) -> SearchResult:
    """Search an index folder.

    Only rows embedded with the query's encoder (``encoder_sha256``) are compared, and with
    ``index_key`` only the rows made by that pipeline and model set (the one that embedded
    the query): rows of an older key would compare unlike with like and could list a
    recording twice. What was left out is named in the notes.
    """
    import time

    t0 = time.perf_counter()
    store = IndexStore(index_dir)
    store.check()
    keys = store.keys()
    if not keys:
        raise InputError(f"{index_dir}: the index holds no recordings yet")
    notes: list[str] = []
    if index_key is not None:
        others = [k for k in keys if k != index_key]
        if others:
            n_other = sum(len(store.indexed_shas(k)) for k in others)
            notes.append(f"{n_other} recordings indexed with other models or settings (keys {', '.join(others)}) "
                         f"were not searched; run `s2f archive index` again to index them with the current ones")
        keys = [k for k in keys if k == index_key]
        if not keys:
            raise InputError(f"{index_dir}: no recording is indexed with the current models (key {index_key}); "
                             f"run `s2f archive index` on the archive first")
    table, total = load_rows(store, keys, encoder_sha256, notes)
    hits, n = search_table(table, query, scorer, filters, top, exclude_sha256, notes)
    if filters != Filters():
        note = _filtered_out_note(table, query, scorer, filters, hits, n, exclude_sha256)
        if note:
            notes.append(note)
    if not scorer.calibrated:
        notes.append("ranked by cosine similarity; no calibrated speaker-comparison model is installed, "
                     "so log10_lr and verbal are null")
    else:
        notes.append(f"log10 LR from {scorer.name}: propositions same speaker vs different speakers; the best "
                     f"{max(SHORTLIST_MIN, SHORTLIST_PER_HIT * top)} candidates by raw cosine were calibrated")
        notes.append(chance_note(n, getattr(scorer, "chance", None), (scorer.model or {}).get("id", "the model")))
    return SearchResult(hits, n, total, scorer.name, bool(scorer.calibrated), ",".join(keys), filters.to_dict(),
                        time.perf_counter() - t0, notes)
