"""Typed run results: the store is the only encoder/decoder, and runs stored by release 0.1.0 migrate.

``tests/data/store-release-0.1.0.sqlite3`` was written by release 0.1.0 (commit 73ca9f3)
through its services: case REL-1, an espeak-ng recording cut in two segments and an
asterisk prompt, analysed together (run 1, consistency check over three segments) and the
prompt alone (run 2).
"""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path

import pytest
from alembic import command

from s2f_desktop.core.errors import IntegrityError
from s2f_desktop.core.results import SCHEMA_VERSION, QualityVerdict
from s2f_desktop.store import codec, open_store
from s2f_desktop.store import repositories as repo
from s2f_desktop.store.db import alembic_config

RELEASE_DB = Path(__file__).parent / "data" / "store-release-0.1.0.sqlite3"


def _v1_rows(db: Path) -> dict[int, dict]:
    con = sqlite3.connect(db)
    try:
        return {i: {"results": json.loads(r), "models": json.loads(m), "device": d, "segment_ids": json.loads(s)}
                for i, r, m, d, s in con.execute("SELECT id, results, models, device, segment_ids FROM analysis_runs")}
    finally:
        con.close()


@pytest.fixture
def release_store(tmp_path: Path) -> Path:
    data = tmp_path / "data"
    data.mkdir()
    shutil.copy(RELEASE_DB, data / "cases.sqlite3")
    return data


def test_runs_of_release_0_1_0_are_migrated_and_read_as_typed_results(release_store: Path) -> None:
    old = _v1_rows(release_store / "cases.sqlite3")
    assert set(old) == {1, 2} and all("schema_version" not in o["results"] for o in old.values())
    store = open_store(release_store)
    try:
        with store.read() as s:
            case = repo.get_case(s, "REL-1")
            runs = repo.list_runs(s, case.id)
            evidence = {e.id: e for e in repo.list_evidence(s, case.id)}
            segments = {g.id: g for g in repo.list_case_segments(s, case.id)}
    finally:
        store.close()
    assert [r.id for r in runs] == [1, 2]
    for run in runs:
        v1 = old[run.id]["results"]
        r = run.results
        assert r.schema_version == SCHEMA_VERSION
        # Selection: every analysed range, in run order, with the evidence hash and the native rate.
        assert tuple(x.segment_id for x in r.selection) == run.segment_ids == tuple(old[run.id]["segment_ids"])
        for x in r.selection:
            seg, v1seg = segments[x.segment_id], v1["segments"][x.segment_id]
            assert (x.start_sample, x.end_sample) == (seg.start_sample, seg.end_sample) == tuple(v1seg["range_samples"])
            assert x.sample_rate == seg.sample_rate == evidence[x.evidence_id].media.sample_rate
            assert x.evidence_sha256 == evidence[x.evidence_id].sha256 == v1["evidence"][str(x.evidence_id)]["sha256"]
            assert x.samples_sha256 is None  # 0.1.0 did not record it
        # Findings: every value as stored by 0.1.0.
        p, v1p = r.pooled, v1["pooled"]
        assert p.traits.sex.p_male == v1p["traits"]["sex"]["p_male"]
        assert p.traits.sex.label == v1p["traits"]["sex"]["label"]
        assert p.traits.age.median_years == v1p["traits"]["age"]["median_years"]
        assert list(p.traits.age.interval_80) == v1p["traits"]["age"]["interval_80"]
        assert p.traits.age.bin_probabilities == v1p["traits"]["age"]["bin_probabilities"]
        assert p.quality.verdict is QualityVerdict(v1p["quality"]["verdict"])
        assert codec.encode_quality(p.quality) == v1p["quality"]
        assert codec.encode_acoustics(p.acoustics) == v1p["acoustics"]
        assert (p.speech_s, p.duration_s) == (v1p["speech_s"], v1p["duration_s"])
        traits_rec = next(m for m in run.models if m.id.startswith("traits-"))
        assert (p.traits.model_id, p.traits.model_sha256, p.traits.device) == (traits_rec.id, traits_rec.sha256,
                                                                               run.device)
        for part in r.segments:
            v1seg = v1["segments"][part.id]
            assert codec.encode_traits(part.traits, provenance=False) == v1seg["traits"]
            assert codec.encode_quality(part.quality) == v1seg["quality"]
            assert [list(x) for x in part.speech_regions] == v1seg["speech_regions"]
        if v1["consistency"] is None:
            assert r.consistency is None
        else:
            assert r.consistency is not None and codec.encode_consistency(r.consistency) == v1["consistency"]
    assert runs[0].results.consistency is not None and len(runs[0].results.consistency.segment_ids) == 3


def test_downgrade_restores_the_release_form(release_store: Path) -> None:
    old = _v1_rows(release_store / "cases.sqlite3")
    store = open_store(release_store)
    try:
        command.downgrade(alembic_config(store.engine), "0001")
    finally:
        store.close()
    assert {i: o["results"] for i, o in _v1_rows(release_store / "cases.sqlite3").items()} == \
        {i: o["results"] for i, o in old.items()}


def test_codec_round_trip(release_store: Path) -> None:
    store = open_store(release_store)
    try:
        with store.read() as s:
            run = repo.get_run(s, 1)
    finally:
        store.close()
    encoded = codec.encode_results(run.results)
    assert codec.decode_results(json.loads(json.dumps(encoded))) == run.results


def test_unmigrated_results_are_refused_not_guessed() -> None:
    with pytest.raises(IntegrityError, match="schema version"):
        codec.decode_results({"pooled": {}, "segments": {}})
