"""Archive index and search: storage invariants, filters and ranking, scorer interface (no models, fast)."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pyarrow as pa
import pytest

from s2f_desktop.archive.scoring import CalibratedScorer, ChanceRates, CosineScorer, load_scorer
from s2f_desktop.archive.search import Filters, chance_note, search_index, search_table
from s2f_desktop.archive.store import ROW_SCHEMA, STALE_TEMP_AGE_S, IndexStore, embeddings_matrix, write_atomic
from s2f_desktop.core.errors import InputError
from s2f_desktop.inference.archive_pipeline import MAX_TURN_S, _spread, turns_from_regions


def _rows(n: int, key: str = "k1", seed: int = 0, sha_prefix: str = "") -> pa.Table:
    rng = np.random.default_rng(seed)
    e = rng.normal(size=(n, 256)).astype(np.float32)
    e /= np.linalg.norm(e, axis=1, keepdims=True)
    rows = []
    for i in range(n):
        rows.append({
            "sha256": f"{sha_prefix}{i:064x}"[-64:], "index_key": key, "path": f"/arch/r{i}.wav", "status": "ok",
            "speaker": 0, "n_speakers": 1, "start_s": 1.0, "end_s": 4.0, "turns": [[1.0, 4.0]], "speech_s": 3.0,
            "sex_label": ["male", "female", "inconclusive"][i % 3],
            "age_label": ["20-39", "40-59", "inconclusive"][i % 3],
            "age_lo80": [22.0, 41.0, 30.0][i % 3], "age_hi80": [35.0, 58.0, 65.0][i % 3],
            "quality_verdict": ["ok", "warn", "insufficient"][(i // 3) % 3], "embedding": e[i].tolist(),
            "embedding_tel": e[(i + 1) % n].tolist(), "telephone_band": False, "clipping_fraction": 0.0,
            "bandwidth_hz": 7000.0,
            "models_json": json.dumps([{"id": "enc", "sha256": "ENC"}]),
        })
    return pa.Table.from_pylist(rows, schema=ROW_SCHEMA)


def _q(e: np.ndarray, e_tel: np.ndarray | None = None, speech: float = 10.0, tel: bool = False) -> SimpleNamespace:
    return SimpleNamespace(embedding=e, embedding_tel=e if e_tel is None else e_tel, speech_s=speech,
                           telephone_band=tel, clipping_fraction=0.0, bandwidth_hz=3400.0 if tel else 7000.0)


def test_write_atomic_leaves_no_partial_file_and_readers_ignore_temps(tmp_path: Path) -> None:
    store = IndexStore(tmp_path / "idx")
    store.create()
    t = _rows(3)
    for i in range(3):
        write_atomic(t.slice(i, 1), store.row_file("k1", t.column("sha256")[i].as_py()))
    # A writer killed mid-write leaves only a dot-temp file: readers must not see it.
    dead = store.rows_dir("k1") / ".deadbeef.parquet.123.tmp"
    dead.write_bytes(b"PAR1 half a file")
    assert store.read_rows("k1").num_rows == 3
    assert len(store.indexed_shas("k1")) == 3
    # A young temp may belong to a task of a cancelled run still finishing on a worker: kept.
    assert store.remove_stale_temps() == 0 and dead.exists()
    old = time.time() - STALE_TEMP_AGE_S - 1
    os.utime(dead, (old, old))
    assert store.remove_stale_temps() == 1 and not dead.exists()
    # Writing the same recording again replaces its file: no duplicate rows.
    write_atomic(t.slice(0, 1), store.row_file("k1", t.column("sha256")[0].as_py()))
    assert store.read_rows("k1").num_rows == 3


def test_compaction_keeps_every_row_once_even_if_interrupted(tmp_path: Path) -> None:
    store = IndexStore(tmp_path / "idx")
    store.create()
    t = _rows(5)
    for i in range(5):
        write_atomic(t.slice(i, 1), store.row_file("k1", t.column("sha256")[i].as_py()))
    # Simulate a compaction interrupted after writing the merged file, before removing the loose ones.
    write_atomic(t, store.rows_dir("k1") / "compact-interrupted.parquet")
    assert store.read_rows("k1").num_rows == 5
    assert store.compact("k1") == 5
    assert sorted(p.name.startswith("compact-") for p in store.rows_dir("k1").glob("*.parquet")) == [True, True]
    got = store.read_rows("k1")
    assert got.num_rows == 5 and len(set(got.column("sha256").to_pylist())) == 5
    assert store.indexed_shas("k1") == set(t.column("sha256").to_pylist())


def test_index_folder_must_be_an_index(tmp_path: Path) -> None:
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "notes.txt").write_text("mine")
    with pytest.raises(InputError, match="not an archive index"):
        IndexStore(tmp_path / "other").create()
    with pytest.raises(InputError, match="no index.json"):
        IndexStore(tmp_path / "other").check()
    assert (tmp_path / "other" / "notes.txt").read_text() == "mine"


def test_a_failed_first_run_leaves_no_empty_index_behind(tmp_path: Path) -> None:
    """Workers that would not start or a model that would not load: the index this run created is taken back
    (an empty index would pass for a real one); an index that already existed, or the user's folder, stays."""
    from s2f_desktop.archive.engine import run_index

    class BrokenClient:
        def submit(self, *a: object, **k: object) -> object:
            raise RuntimeError("the speaker model could not be loaded")

    rec = tmp_path / "a.wav"
    rec.write_bytes(b"RIFF")
    with pytest.raises(RuntimeError):
        run_index([rec], tmp_path / "new", client=BrokenClient())
    assert not (tmp_path / "new").exists()
    (tmp_path / "empty").mkdir()  # a folder the user made for it: the folder stays, emptied of what the run made
    with pytest.raises(RuntimeError):
        run_index([rec], tmp_path / "empty", client=BrokenClient())
    assert (tmp_path / "empty").is_dir() and not any((tmp_path / "empty").iterdir())
    IndexStore(tmp_path / "old").create()  # an index made earlier is never taken back
    with pytest.raises(RuntimeError):
        run_index([rec], tmp_path / "old", client=BrokenClient())
    IndexStore(tmp_path / "old").check()
    assert rec.read_bytes() == b"RIFF"


def test_turns_merge_close_regions_and_cut_long_ones() -> None:
    turns = turns_from_regions([(0.0, 1.0), (1.2, 2.0), (5.0, 5.0 + 2.5 * MAX_TURN_S)])
    assert turns[0] == (0.0, 2.0)
    assert len(turns) == 1 + 3 and all(b - a <= MAX_TURN_S + 1e-9 for a, b in turns)
    assert turns[-1][1] == pytest.approx(5.0 + 2.5 * MAX_TURN_S)


def test_acoustic_budget_spreads_turns_over_the_recording() -> None:
    members = [str(i) for i in range(20)]
    picked = _spread(members, [5.0] * 20, 30.0)
    assert 5 <= len(picked) <= 7
    assert picked[0] == "0" and int(picked[-1]) >= 15  # from the start to near the end, not the first 30 s
    assert _spread(members[:3], [5.0] * 3, 30.0) == members[:3]


def test_filters_use_stored_labels_and_quality_order() -> None:
    t = _rows(9)
    q = np.asarray(t.column("embedding")[4].as_py(), np.float32)
    hits, n = search_table(t, _q(q), CosineScorer(), Filters(), top=3)
    assert n == 9 and hits[0]["sha256"] == t.column("sha256")[4].as_py() and hits[0]["score"] == pytest.approx(1.0)
    assert [h["rank"] for h in hits] == [1, 2, 3]
    assert all(hits[i]["score"] >= hits[i + 1]["score"] for i in range(2))
    hits, n = search_table(t, _q(q), CosineScorer(), Filters(sex="female"), top=10)
    assert n == 3 and all(h["sex"]["label"] == "female" for h in hits)  # inconclusive never passes
    hits, n = search_table(t, _q(q), CosineScorer(), Filters(min_quality="ok"), top=10)
    assert n == 3 and all(h["quality"] == "ok" for h in hits)
    # An age band keeps the speakers whose 80 % interval reaches into it (the model gives no band label).
    hits, n = search_table(t, _q(q), CosineScorer(), Filters(min_quality="warn", age_bins=("20-39",)), top=10)
    assert n == 4 and all(h["quality"] in ("ok", "warn") for h in hits)
    assert all(h["age"]["interval_80"][0] < 40 and h["age"]["interval_80"][1] >= 20 for h in hits)
    hits, n = search_table(t, _q(q), CosineScorer(), Filters(age_bins=(">=60",)), top=10)
    assert n == 3 and all(h["age"]["interval_80"][1] >= 60 for h in hits)
    with pytest.raises(InputError, match="--sex"):
        search_table(t, _q(q), CosineScorer(), Filters(sex="unknown"))
    with pytest.raises(InputError, match="--age"):
        search_table(t, _q(q), CosineScorer(), Filters(age_bins=("under 40",)))


def test_json_hit_has_the_stable_keys_and_cosine_gives_no_lr() -> None:
    t = _rows(4)
    q = np.asarray(t.column("embedding")[0].as_py(), np.float32)
    hits, _ = search_table(t, _q(q), CosineScorer(), Filters(), top=2)
    for key in ("path", "sha256", "speaker", "n_speakers", "start_s", "end_s", "log10_lr", "verbal"):
        assert key in hits[0]
    assert hits[0]["log10_lr"] is None and hits[0]["verbal"] is None


def test_channel_matching_compares_telephone_band_embeddings_when_either_side_is() -> None:
    t = _rows(4)
    e = embeddings_matrix(t)
    # Row 2's telephone-band twin is row 3's embedding (see _rows): a telephone query equal to it finds row 2.
    hits, _ = search_table(t, _q(e[0], e_tel=e[3], tel=True), CosineScorer(), Filters(), top=1)
    assert hits[0]["sha256"] == t.column("sha256")[2].as_py() and hits[0]["channel"] == "telephone band"
    hits, _ = search_table(t, _q(e[0], e_tel=e[3], tel=False), CosineScorer(), Filters(), top=1)
    assert hits[0]["sha256"] == t.column("sha256")[0].as_py() and hits[0]["channel"] == "wideband"


class _FakeCal:
    """Stands in for voice.lr.Calibration: log10 LR = 2 x s-norm score, bounded to [-3, 3]."""

    top_k = 2
    min_speech_s = 2.0

    def log10_lr(self, sn: np.ndarray, sq: np.ndarray, sk: np.ndarray) -> np.ndarray:
        return np.clip(2.0 * np.asarray(sn), -3.0, 3.0)


_FAKE_LRM = SimpleNamespace(
    cohort_stats=lambda emb, cohort, k: (np.zeros(len(emb)), np.ones(len(emb))),
    as_norm=lambda raw, qs, ks: 0.5 * ((raw - qs[0]) / qs[1] + (raw - ks[0]) / ks[1]),
    verbal=lambda llr: "abstained" if llr is None else f"support {llr:+.1f}",
)


def test_calibrated_scorer_ranks_by_lr_and_abstains_on_short_or_degraded_speech() -> None:
    t = _rows(6)
    speech = [10.0, 10.0, 1.0, 10.0, 10.0, 10.0]  # row 2: too little speech for an LR
    t = t.set_column(t.schema.get_field_index("speech_s"), "speech_s", pa.array(speech))
    clip = [0.0, 0.0, 0.0, 0.05, 0.0, 0.0]  # row 3: clipped beyond what the model was validated on
    t = t.set_column(t.schema.get_field_index("clipping_fraction"), "clipping_fraction", pa.array(clip))
    snr = [30.0, 30.0, 30.0, 30.0, 9.996, None]  # row 4: under the gate's 10 dB minimum; row 5 not measurable
    t = t.set_column(t.schema.get_field_index("snr_db"), "snr_db", pa.array(snr, pa.float64()))
    e = embeddings_matrix(t)
    q = (e[2] + e[3] + 0.2 * e[1]).astype(np.float32)
    q /= np.linalg.norm(q)
    sc = CalibratedScorer(_FAKE_LRM, _FakeCal(), np.zeros((3, 256), np.float32),
                          {"id": "cmp-test", "sha256": "ab" * 32})
    hits, _ = search_table(t, _q(q), sc, Filters(), top=6)
    lrs = [h["log10_lr"] for h in hits]
    given = [v for v in lrs if v is not None]
    assert given == sorted(given, reverse=True) and len(given) == 3
    assert lrs[-3:] == [None, None, None]  # abstentions after every LR, with their reasons
    assert {h["sha256"] for h in hits[-3:]} == {t.column("sha256")[i].as_py() for i in (2, 3, 4)}
    reasons = " ".join(h["abstain_reason"] or "" for h in hits)
    assert "too little net speech" in reasons and "clipped" in reasons
    assert "the recording's estimated SNR is 9.99 dB (not validated below 10 dB)" in reasons
    assert hits[0]["verbal"] == f"support {hits[0]['log10_lr']:+.1f}" and hits[-1]["verbal"] == "abstained"
    assert hits[0]["sha256"] == t.column("sha256")[1].as_py()
    # The most similar abstained candidate is named (a red-team pass found the true speaker, too short to
    # score, at rank 129 of 143 with nothing saying so).
    notes: list[str] = []
    hits, _ = search_table(t, _q(q), sc, Filters(), top=2, notes=notes)
    assert len(notes) == 1 and notes[0].startswith("3 of the 6 candidates compared abstained")
    best = max((2, 3, 4), key=lambda i: float(e[i] @ q))
    assert f"the most similar of them by cosine: /arch/r{best}.wav" in notes[0] and "not among the 2 shown" in notes[0]


def test_load_scorer_falls_back_to_cosine_until_a_comparison_model_provides_one() -> None:
    sc = load_scorer()
    # Either the calibrated model is installed (then it says so) or search is plainly uncalibrated.
    assert sc.calibrated == (sc.model is not None)
    assert isinstance(sc, (CosineScorer, CalibratedScorer))


def test_calibrated_search_notes_the_chance_hits_expected_at_its_size(tmp_path: Path) -> None:
    """Every calibrated search says how many speakers of its size reach LR > 1, > 10, > 100 by chance, from the
    model's cross-validation rates, and that a ranked hit's LR is not validated for a database search."""
    store = IndexStore(tmp_path / "idx")
    store.create()
    write_atomic(_rows(6), store.rows_dir("k1") / "compact-a.parquet")
    # 200 different-speaker validation pairs: 10 above LR 1, 4 above LR 10, 1 above LR 100 (targets ignored).
    llr = np.concatenate([np.full(190, -1.0), np.full(6, 0.5), np.full(3, 1.5), [2.5], np.full(7, 3.0)])
    label = np.concatenate([np.zeros(200, int), np.ones(7, int)])
    chance = ChanceRates.from_validation(llr, label)
    assert chance == ChanceRates(200, (10, 4, 1))
    sc = CalibratedScorer(_FAKE_LRM, _FakeCal(), np.zeros((3, 256), np.float32),
                          {"id": "cmp-test", "sha256": "ab" * 32}, chance)
    res = search_index(str(store.root), _q(embeddings_matrix(_rows(6))[0]), sc, Filters(sex="male"), top=2)
    note = next(n for n in res.notes if n.startswith("chance hits"))
    assert res.candidates == 2  # two of the six rows are labelled male
    assert "cmp-test's cross-validation gave LR > 1 / > 10 / > 100 to 10 / 4 / 1 of 200" in note
    assert "(same sex where known; 5.00 / 2.00 / 0.50 %)" in note
    assert "none of the 2 voices compared (one per speaker found in each recording; a person heard in " \
        "several recordings is compared once for each), about 0.1 / 0.04 / 0.01 of them" in note
    assert "not for a database search" in note and "never an identification" in note
    # The hit records keep their stable keys; the caveat is a note, not a field.
    assert {"path", "sha256", "speaker", "start_s", "end_s", "log10_lr", "verbal"} <= set(res.hits[0])
    assert not any("chance" in k for k in res.hits[0])
    assert chance_note(100_000, chance, "m").count("about 5,000 / 2,000 / 500 of them") == 1
    assert "number is unknown" in chance_note(10, None, "m")
    # The across-sources runs' worst LR > 1 rate is stated beside the pooled one, scaled to the size.
    metrics = {"cross_source": {"a_to_b": {"metrics": {"all": {"rme_hd": {"value": 0.30, "ci95": [0.2, 0.4]}}}},
                                "b_to_a": {"metrics": {"all": {"rme_hd": {"value": 0.12, "ci95": [0.1, 0.2]}}}},
                                "left_out": 5}}
    worse = ChanceRates.from_validation(llr, label, metrics)
    assert (worse.worst_cross_source_lr1, worse.worst_cross_source_run) == (0.30, "a_to_b")
    assert "(a -> b), 30.0 % of different-speaker pairs reached LR > 1 (here about 30,000 voices)" in \
        chance_note(100_000, worse, "m")
    assert "depend on the material" not in chance_note(100_000, chance, "m")


def test_installed_comparison_model_states_its_validation_chance_rates() -> None:
    """The installed scorer's rates are counted from its declared validation LRs (LR > 1 is the manifest's rme_hd)."""
    from s2f_desktop.system.env import models_dir

    sc = load_scorer()
    assert sc.calibrated  # models/comparison-v1 ships in the repository

    base = models_dir() / "comparison-v1"
    with np.load(base / "validation.npz") as z:
        d = z["log10_lr"][z["label"] == 0]
    assert sc.chance.n_different == len(d)
    assert sc.chance.above == (int((d > 0).sum()), int((d > 1).sum()), int((d > 2).sum()))
    cross = json.loads((base / "metrics.json").read_text(encoding="utf-8"))["cross_source"]
    assert sc.chance.worst_cross_source_lr1 == max(r["metrics"]["all"]["rme_hd"]["value"] for r in cross.values()
                                                   if isinstance(r, dict) and "metrics" in r)
    rme_hd = json.loads((base / "manifest.json").read_text(encoding="utf-8"))["metrics"]["rme_hd"]["value"]
    assert abs(sc.chance.rate(0) - rme_hd) < 5e-5


def test_search_index_skips_rows_of_another_encoder(tmp_path: Path) -> None:
    store = IndexStore(tmp_path / "idx")
    store.create()
    write_atomic(_rows(4, key="k1"), store.rows_dir("k1") / "compact-a.parquet")
    other = _rows(3, key="k2", seed=1, sha_prefix="f")
    other = other.set_column(other.schema.get_field_index("models_json"), "models_json",
                             pa.array([json.dumps([{"id": "enc2", "sha256": "OTHER"}])] * 3))
    write_atomic(other, store.rows_dir("k2") / "compact-b.parquet")
    q = embeddings_matrix(_rows(4))[1]
    res = search_index(str(store.root), _q(q), CosineScorer(), Filters(), top=10, encoder_sha256="ENC")
    assert res.candidates == 4 and res.searched_rows == 7
    assert any("another speaker encoder" in n for n in res.notes)
    assert any("log10_lr and verbal are null" in n for n in res.notes)
    # Searching as the k1 pipeline: k2's recordings are left out and named.
    res = search_index(str(store.root), _q(q), CosineScorer(), Filters(), top=10, index_key="k1")
    assert res.candidates == 4 and any("3 recordings indexed with other models" in n for n in res.notes)
    with pytest.raises(InputError, match="no recording is indexed with the current models"):
        search_index(str(store.root), _q(q), CosineScorer(), Filters(), top=10, index_key="k3")


def test_a_pipe_named_like_audio_is_not_collected_and_a_worker_refuses_it(tmp_path: Path) -> None:
    """A red-team pass put a FIFO named pipe.wav in the archive: indexing hung until it was killed."""
    from s2f_desktop.archive.engine import index_one
    from s2f_desktop.archive.store import iter_audio_files

    (tmp_path / "a.wav").write_bytes(b"RIFF")
    os.mkfifo(tmp_path / "pipe.wav")
    assert [p.name for p in iter_audio_files(tmp_path, {".wav"})] == ["a.wav"]
    store = IndexStore(tmp_path / "idx")
    store.create()
    r = index_one(str(tmp_path / "pipe.wav"), str(store.root), "k1")  # returns at once, with the reason
    assert r["status"] == "error" and "not a regular file" in r["error"]


def test_collect_recordings_from_folder_and_manifest(tmp_path: Path) -> None:
    from s2f_desktop.services.archive import collect_recordings

    (tmp_path / "a" / ".hidden").mkdir(parents=True)
    for name in ("a/x.wav", "a/y.flac", "a/notes.txt", "a/.hidden/z.wav"):
        (tmp_path / name).write_bytes(b"")
    got = collect_recordings(tmp_path / "a")
    assert [p.name for p in got] == ["x.wav", "y.flac"]
    man = tmp_path / "list.txt"
    man.write_text("# calls\na/x.wav\n\n/abs/other.wav\na/x.wav\n")
    assert [str(p) for p in collect_recordings(man)] == [str(tmp_path / "a/x.wav"), "/abs/other.wav"]
    with pytest.raises(InputError, match="manifest"):
        collect_recordings(tmp_path / "a" / "x.wav")


def test_cli_status_and_one_line_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from s2f_desktop.archive.store import error_table
    from s2f_desktop.cli.main import main

    store = IndexStore(tmp_path / "idx")
    store.create()
    write_atomic(_rows(3), store.rows_dir("k1") / "compact-a.parquet")
    write_atomic(error_table(path="/arch/bad.wav", size=3, mtime_ns=1, sha256=None, key="k1",
                             error="bad.wav: not audio"), store.error_file("k1", "/arch/bad.wav"))
    assert main(["archive", "status", str(store.root)]) == 0
    out = capsys.readouterr().out
    assert "key k1: 3 recordings" in out and "failed: /arch/bad.wav: bad.wav: not audio" in out
    assert main(["archive", "search", str(store.root), "--query", str(tmp_path / "nope.wav")]) != 0
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "no such file" in err[0]
    assert main(["archive", "index", str(tmp_path / "missing"), "--out", str(tmp_path / "i2")]) != 0
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "no such folder or manifest" in err[0]
    assert not (tmp_path / "i2").exists()
    assert main(["archive", "status", str(tmp_path)]) != 0
    assert "not an archive index" in capsys.readouterr().err
    # An existing file as the index folder (a red-team pass got a traceback): one line, the file untouched.
    (tmp_path / "arch").mkdir()
    (tmp_path / "arch" / "x.wav").write_bytes(b"RIFF")
    mine = tmp_path / "notes.txt"
    mine.write_text("mine")
    assert main(["archive", "index", str(tmp_path / "arch"), "--out", str(mine)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "is a file, not a folder" in err[0] and mine.read_text() == "mine"
    # Times must be finite numbers (nan and inf were tracebacks in `compare`).
    for bad in ("nan", "inf"):
        with pytest.raises(SystemExit) as stop:
            main(["compare", "a.wav", "b.wav", "--q-start", bad])
        assert stop.value.code == 2
    capsys.readouterr()


def test_query_of_a_case_accepted_segments_uses_the_case_selection(ctx, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from s2f_desktop.cli.commands.archive import parse_query
    from s2f_desktop.services import analysis, cases
    from s2f_desktop.services import archive as svc

    cases.create_case(ctx, "A-1", "archive query")
    with pytest.raises(InputError, match="has no accepted segments"):
        parse_query(lambda: ctx, "A-1:accepted", "cpu")
    seen: list[tuple[str, list[str]]] = []
    monkeypatch.setattr(analysis, "accepted_segment_ids", lambda c, number: ["s1", "s2"])
    monkeypatch.setattr(svc, "query_from_segments", lambda c, number, ids, device: seen.append((number, ids)))
    parse_query(lambda: ctx, "A-1:accepted", "cpu")
    assert seen == [("A-1", ["s1", "s2"])]


def test_repeated_search_uses_cached_rows_until_the_index_changes(tmp_path: Path) -> None:
    store = IndexStore(tmp_path / "idx")
    store.create()
    t = _rows(5)
    write_atomic(t.slice(0, 4), store.rows_dir("k1") / "compact-a.parquet")
    q = _q(embeddings_matrix(t)[0])
    first = search_index(str(store.root), q, CosineScorer(), Filters(), top=10)
    again = search_index(str(store.root), q, CosineScorer(), Filters(), top=10)
    assert first.candidates == again.candidates == 4
    write_atomic(t.slice(4, 1), store.row_file("k1", t.column("sha256")[4].as_py()))
    assert search_index(str(store.root), q, CosineScorer(), Filters(), top=10).candidates == 5


def test_compaction_writes_an_embeddings_sidecar_that_reads_as_the_parquet_columns(tmp_path: Path) -> None:
    from s2f_desktop.archive.store import sidecar_path

    store = IndexStore(tmp_path / "idx")
    store.create()
    t = _rows(6)
    # A recording without speech: one row, no embeddings (nulls must survive the sidecar).
    blank = {name: None for name in ROW_SCHEMA.names}
    blank.update({"sha256": "f" * 64, "index_key": "k1", "path": "/arch/silence.wav", "status": "no_speech"})
    t = pa.concat_tables([t, pa.Table.from_pylist([blank], schema=ROW_SCHEMA)])
    for i in range(t.num_rows):
        write_atomic(t.slice(i, 1), store.row_file("k1", t.column("sha256")[i].as_py()))
    loose = store.read_rows("k1")
    assert store.compact("k1") == 7
    (compact,) = store.rows_dir("k1").glob("compact-*.parquet")
    assert sidecar_path(compact).is_file()
    cols = ["path", "status", "embedding", "embedding_tel"]
    fast = store.read_rows("k1", columns=cols)
    assert fast.column("embedding").null_count == 1 and fast.column("embedding_tel").null_count == 1
    order = np.argsort(fast.column("sha256").to_numpy(zero_copy_only=False))
    ref = np.argsort(loose.column("sha256").to_numpy(zero_copy_only=False))
    for c in ("embedding", "embedding_tel"):
        assert fast.column(c).take(pa.array(order)).to_pylist() == loose.column(c).take(pa.array(ref)).to_pylist()
    # Without the sidecar (an index compacted by an older version) the Parquet columns are read: same rows.
    sidecar_path(compact).rename(tmp_path / "aside.npy")
    assert store.read_rows("k1", columns=cols).equals(fast)
    # A sidecar that does not belong to the file (other row count) is not used.
    np.save(sidecar_path(compact), np.zeros((2, 3, 256), np.float32))
    assert store.read_rows("k1", columns=cols).equals(fast)


def test_dedup_keeps_the_first_row_of_each_recording_speaker() -> None:
    from s2f_desktop.archive.store import _dedup

    t = _rows(4)
    both = pa.concat_tables([t, t.slice(1, 2), t])
    got = _dedup(both)
    assert got.column("sha256").to_pylist() == t.column("sha256").to_pylist()
    assert _dedup(t) is t


def test_archive_groups_turns_with_the_calibrated_split_and_falls_back_to_cosine() -> None:
    from s2f_desktop.inference.archive_pipeline import speaker_groups
    from s2f_desktop.system.env import models_dir
    from s2f_desktop.voice import lr as lrm
    from s2f_desktop.voice.consistency import group_by_speaker, split_speakers

    model = models_dir() / "comparison-v1"
    cal = lrm.Calibration.load(model / "calibration.json")
    cohort = np.load(model / "cohort.npy").astype(np.float32)
    rng = np.random.default_rng(4)

    def voice(centre: np.ndarray, n: int) -> np.ndarray:
        return lrm.unit(centre[None, :] + 0.25 * rng.standard_normal((n, 256)) / 16.0).astype(np.float32)

    a, b = cohort[10].astype(np.float64), cohort[700].astype(np.float64)
    ids = ["0", "1", "2", "3", "4"]
    wins = [voice(a, 8), voice(b, 8), voice(a, 9), voice(b, 6), voice(a, 1)]
    net = [7.0, 7.0, 8.0, 5.0, 0.8]  # the last turn is too short for the calibrated comparison
    embs = [lrm.unit(w.mean(axis=0)).astype(np.float32) for w in wins]
    calibrated = SimpleNamespace(comparison=(cal, cohort, ()), threshold=0.7)
    got = speaker_groups(ids, embs, wins, net, calibrated)
    assert got == [list(g) for g in split_speakers(ids, wins, net, cal, cohort).groups]
    assert sorted(map(sorted, got)) == [["0", "2"], ["1", "3"]]  # "4" is left unassigned
    # No turn long enough to judge, or no comparison model: the cosine threshold groups them.
    short = [0.9] * 5
    assert speaker_groups(ids, embs, wins, short, calibrated) == group_by_speaker(ids, embs, 0.7)
    cosine = SimpleNamespace(comparison=None, threshold=0.7)
    assert speaker_groups(ids, embs, wins, net, cosine) == group_by_speaker(ids, embs, 0.7)
    assert speaker_groups([], [], [], [], calibrated) == []


def test_files_gone_or_changed_are_withdrawn_from_searches_and_listed_again_when_back(tmp_path: Path) -> None:
    """A red-team pass deleted one file and replaced another with a different speaker, re-indexed: the deleted
    file was still the first hit and the replaced path still showed the old voice."""
    from s2f_desktop.archive.engine import withdraw_stale
    from s2f_desktop.services.archive import index_status

    store = IndexStore(tmp_path / "idx")
    store.create()
    rows = _rows(4)  # /arch/r0.wav ... /arch/r3.wav
    other = _rows(1).set_column(2, "path", pa.array(["/elsewhere/x.wav"])).set_column(0, "sha256",
                                                                                    pa.array(["c" * 64]))
    write_atomic(pa.concat_tables([rows, other]), store.rows_dir("k1") / "compact-a.parquet")
    sha = rows.column("sha256").to_pylist()
    # r0 unchanged, r1 deleted, r2 now holds other content, r3 unreadable now (left alone).
    current: dict[str, str | None] = {"/arch/r0.wav": sha[0], "/arch/r2.wav": "b" * 64, "/arch/r3.wav": None}
    assert withdraw_stale(store, current, [Path("/arch")], "run1") == 2
    assert set(store.withdrawn().values()) == {"the file is no longer in the archive",
                                               f"the file now holds other content (sha256 {'b' * 12}…)"}
    assert sorted(store.read_rows().column("path").to_pylist()) == ["/arch/r0.wav", "/arch/r3.wav",
                                                                    "/elsewhere/x.wav"]
    assert store.read_rows(include_withdrawn=True).num_rows == 5  # nothing is deleted
    q = embeddings_matrix(rows)[1]
    res = search_index(str(store.root), _q(q), CosineScorer(), Filters(), top=10)
    assert "/arch/r1.wav" not in [h["path"] for h in res.hits]
    status = index_status(store.root)["keys"]["k1"]
    assert status["recordings"] == 3 and status["withdrawn"] == 2
    # The same run again withdraws nothing more; a file put back is listed again; a manifest run (no root)
    # never withdraws paths outside its own list.
    assert withdraw_stale(store, current, [Path("/arch")], "run2") == 0
    assert withdraw_stale(store, {**current, "/arch/r1.wav": sha[1]}, [Path("/arch")], "run3") == 0
    assert "/arch/r1.wav" in store.read_rows().column("path").to_pylist()
    assert withdraw_stale(store, {"/arch/r0.wav": sha[0]}, [], "run4") == 0


def test_a_filter_that_hides_the_best_voice_says_so(tmp_path: Path) -> None:
    """Filters read the trait models' stored labels, which can be wrong: when they leave out the voice that ranks
    first without them, the search says which and how it scored; when they do not, it says nothing."""
    from s2f_desktop.archive.store import embeddings_matrix

    store = IndexStore(tmp_path / "idx")
    store.create()
    rows = _rows(6)
    write_atomic(rows, store.rows_dir("k1") / "compact-a.parquet")
    q = _q(embeddings_matrix(rows)[1])  # the query is row 1's voice, stored as "female"
    res = search_index(str(store.root), q, CosineScorer(), Filters(sex="male"), top=3)
    note = next(n for n in res.notes if n.startswith("filters:"))
    assert "2 of 6 voices passed them (sex male)" in note and "/arch/r1.wav (speaker 0, cosine 1.000" in note
    assert "stored as sex female" in note and "can hide the speaker sought" in note
    kept = search_index(str(store.root), q, CosineScorer(), Filters(sex="female"), top=3)
    assert not any(n.startswith("filters:") for n in kept.notes) and kept.hits[0]["path"] == "/arch/r1.wav"
    plain = search_index(str(store.root), q, CosineScorer(), Filters(), top=3)
    assert not any(n.startswith("filters:") for n in plain.notes)
