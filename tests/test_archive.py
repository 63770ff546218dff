"""Archive index and search: storage invariants, filters and ranking, scorer interface (no models, fast)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from s2f_desktop.archive.scoring import CalibratedScorer, CosineScorer, load_scorer, verbal
from s2f_desktop.archive.search import Filters, search_index, search_table
from s2f_desktop.archive.store import ROW_SCHEMA, IndexStore, embeddings_matrix, write_atomic
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
            "sex_label": ["male", "female", "inconclusive"][i % 3], "age_label": ["20-39", "40-59", "inconclusive"][i % 3],
            "quality_verdict": ["ok", "warn", "insufficient"][(i // 3) % 3], "embedding": e[i].tolist(),
            "models_json": json.dumps([{"id": "enc", "sha256": "ENC"}]),
        })
    return pa.Table.from_pylist(rows, schema=ROW_SCHEMA)


def test_write_atomic_leaves_no_partial_file_and_readers_ignore_temps(tmp_path: Path) -> None:
    store = IndexStore(tmp_path / "idx")
    store.create()
    t = _rows(3)
    for i in range(3):
        write_atomic(t.slice(i, 1), store.row_file("k1", t.column("sha256")[i].as_py()))
    # A writer killed mid-write leaves only a dot-temp file: readers must not see it.
    (store.rows_dir("k1") / ".deadbeef.parquet.123.tmp").write_bytes(b"PAR1 half a file")
    assert store.read_rows("k1").num_rows == 3
    assert len(store.indexed_shas("k1")) == 3
    assert store.remove_stale_temps() == 1
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
    hits, n = search_table(t, q, 10.0, CosineScorer(), Filters(), top=3)
    assert n == 9 and hits[0]["sha256"] == t.column("sha256")[4].as_py() and hits[0]["score"] == pytest.approx(1.0)
    assert [h["rank"] for h in hits] == [1, 2, 3]
    assert all(hits[i]["score"] >= hits[i + 1]["score"] for i in range(2))
    hits, n = search_table(t, q, 10.0, CosineScorer(), Filters(sex="female"), top=10)
    assert n == 3 and all(h["sex"]["label"] == "female" for h in hits)  # inconclusive never passes
    hits, n = search_table(t, q, 10.0, CosineScorer(), Filters(min_quality="ok"), top=10)
    assert n == 3 and all(h["quality"] == "ok" for h in hits)
    hits, n = search_table(t, q, 10.0, CosineScorer(), Filters(min_quality="warn", age_bins=("20-39",)), top=10)
    assert all(h["quality"] in ("ok", "warn") and h["age"]["label"] == "20-39" for h in hits) and n == 2
    with pytest.raises(InputError, match="--sex"):
        search_table(t, q, 10.0, CosineScorer(), Filters(sex="unknown"))
    with pytest.raises(InputError, match="--age"):
        search_table(t, q, 10.0, CosineScorer(), Filters(age_bins=("under 40",)))


def test_json_hit_has_the_stable_keys_and_cosine_gives_no_lr() -> None:
    t = _rows(4)
    q = np.asarray(t.column("embedding")[0].as_py(), np.float32)
    hits, _ = search_table(t, q, 10.0, CosineScorer(), Filters(), top=2)
    for key in ("path", "sha256", "speaker", "start_s", "end_s", "log10_lr", "verbal"):
        assert key in hits[0]
    assert hits[0]["log10_lr"] is None and hits[0]["verbal"] is None


def test_calibrated_scorer_reports_lr_and_enfsi_wording() -> None:
    t = _rows(6)
    q = np.asarray(t.column("embedding")[2].as_py(), np.float32)
    seen = {}

    def lr(scores: np.ndarray, qs: float, cs: np.ndarray) -> np.ndarray:
        seen["args"] = (qs, cs.copy())
        return 5.0 * scores - 1.0

    sc = CalibratedScorer(lambda qq, c: c @ qq, lr, model={"id": "cmp-test"})
    hits, _ = search_table(t, q, 12.5, sc, Filters(), top=6)
    assert hits[0]["log10_lr"] == pytest.approx(4.0, abs=1e-3) and hits[0]["verbal"] == "very strong support for the same speaker"
    assert seen["args"][0] == 12.5 and np.allclose(seen["args"][1], 3.0)
    # The ranking is the scorer's, best first; the LR is monotone in it here.
    assert [h["log10_lr"] for h in hits] == sorted([h["log10_lr"] for h in hits], reverse=True)
    assert verbal(-2.5) == "moderately strong support for different speakers"
    assert verbal(0.1) == "no meaningful support for either proposition"
    assert verbal(None) is None


def test_load_scorer_falls_back_to_cosine_until_a_comparison_model_provides_one() -> None:
    sc = load_scorer()
    # Either the calibrated model is installed (then it says so) or search is plainly uncalibrated.
    assert sc.calibrated == (sc.model is not None)
    assert isinstance(sc, (CosineScorer, CalibratedScorer))


def test_search_index_skips_rows_of_another_encoder(tmp_path: Path) -> None:
    store = IndexStore(tmp_path / "idx")
    store.create()
    write_atomic(_rows(4, key="k1"), store.rows_dir("k1") / "compact-a.parquet")
    other = _rows(3, key="k2", seed=1, sha_prefix="f")
    other = other.set_column(other.schema.get_field_index("models_json"), "models_json",
                             pa.array([json.dumps([{"id": "enc2", "sha256": "OTHER"}])] * 3))
    write_atomic(other, store.rows_dir("k2") / "compact-b.parquet")
    q = embeddings_matrix(_rows(4))[1]
    res = search_index(str(store.root), q, 10.0, CosineScorer(), Filters(), top=10, encoder_sha256="ENC")
    assert res.candidates == 4 and res.searched_rows == 7
    assert any("another speaker encoder" in n for n in res.notes)
    assert any("log10_lr and verbal are null" in n for n in res.notes)


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
