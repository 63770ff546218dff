"""Typed speaker-comparison results (house rule 4): rows as today's writer stores them decode, re-encode byte
for byte, print as stored, and a case holding them still verifies intact."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from s2f_desktop.core.comparison_results import (
    ComparedEvidence,
    ComparedSegment,
    ComparisonResults,
    ValidationPosition,
)
from s2f_desktop.core.errors import IntegrityError
from s2f_desktop.core.results import QualityVerdict
from s2f_desktop.store import codec

# ``comparison_runs.results`` of runs 1 and 3 of a case compared with the untyped writer (main at 3cf916c,
# services.comparison.compare_segments on CPU): an espeak-ng male voice against itself (an LR at the upper
# bound) and a 1.2 s excerpt against it (the system abstains). Copied verbatim from the SQLite file.
STORED_LR = (
    '{"score": 1.0, "snorm": 14.1875, "log10_lr": 3.67, "lr": 4677.0, "verbal": "strong support for Hp (same '
    'speaker)", "label": "same", "abstain_reason": null, "speech_s": {"questioned": 9.42, "known": 9.42}, "at'
    '_bound": true, "hp": "the questioned and the known speech were spoken by the same speaker", "hd": "the q'
    'uestioned and the known speech were spoken by different speakers of the relevant population (adult speak'
    'ers of the same sex as the known speaker; mostly English speech)", "scale": "ENFSI Guideline for Evaluat'
    'ive Reporting in Forensic Science (2015)", "channel": "wideband", "quality": {"questioned": {"verdict": '
    '"ok", "reasons": [], "net_speech_s": 9.06, "snr_db": 22.42, "clipping_fraction": 0.0, "bandwidth_hz": 11'
    '025.0, "telephone_band": false, "level_dbfs": -20.86, "duration_s": 9.687, "snr_method": "percentile", "'
    'thresholds": {"min_net_speech_s": 3.0, "warn_net_speech_s": 6.0, "min_snr_db": 10.0, "warn_snr_db": 20.0'
    ', "max_clipping": 0.01, "warn_clipping": 0.001, "telephone_band_hz": 5000.0, "min_bandwidth_hz": 2500.0,'
    ' "min_level_dbfs": -45.0}}, "known": {"verdict": "ok", "reasons": [], "net_speech_s": 9.06, "snr_db": 22'
    '.46, "clipping_fraction": 0.0, "bandwidth_hz": 11025.0, "telephone_band": false, "level_dbfs": -20.86, "'
    'duration_s": 9.687, "snr_method": "percentile", "thresholds": {"min_net_speech_s": 3.0, "warn_net_speech'
    '_s": 6.0, "min_snr_db": 10.0, "warn_snr_db": 20.0, "max_clipping": 0.01, "warn_clipping": 0.001, "teleph'
    'one_band_hz": 5000.0, "min_bandwidth_hz": 2500.0, "min_level_dbfs": -45.0}}}, "segments_used": {"questio'
    'ned": ["881fabf6cdd14d88adacc223250eff0d"], "known": ["030adc94e0f7442faeed5ee8db931b7e"]}, "validation_'
    'position": {"share_same_speaker_trials_at_or_below": 0.5254, "share_different_speaker_trials_at_or_above'
    '": 0.0001}, "segments": {"881fabf6cdd14d88adacc223250eff0d": {"evidence_id": 1, "range_samples": [0, 213'
    '598], "side": "questioned"}, "030adc94e0f7442faeed5ee8db931b7e": {"evidence_id": 1, "range_samples": [45'
    '1540, 665138], "side": "known"}}, "evidence": {"1": {"sha256": "64949b925374f6f802d7f685d9d42daf78cc81d0'
    '097bb7ff0b7d87144bc2ca53", "name": "call.wav"}}, "model": {"id": "comparison-v1", "sha256": "98b2977a882'
    '16a371441d44c339143ee5debb35514e1d2aa516053e60957fe7c"}}')

STORED_ABSTAIN = (
    '{"score": 0.8866, "snorm": null, "log10_lr": null, "lr": null, "verbal": "no opinion (the system abstain'
    'ed)", "label": "abstain", "abstain_reason": "too little net speech on the questioned side (1.2 s / 9.4 s'
    '; the validation covers 2 s or more)", "speech_s": {"questioned": 1.2, "known": 9.42}, "at_bound": false'
    ', "hp": "the questioned and the known speech were spoken by the same speaker", "hd": "the questioned and'
    ' the known speech were spoken by different speakers of the relevant population (adult speakers of the sa'
    'me sex as the known speaker; mostly English speech)", "scale": "ENFSI Guideline for Evaluative Reporting'
    ' in Forensic Science (2015)", "channel": "wideband", "quality": {"questioned": {"verdict": "insufficient'
    '", "reasons": ["net speech 1.2 s is below the 3 s minimum"], "net_speech_s": 1.16, "snr_db": 22.79, "cli'
    'pping_fraction": 0.0, "bandwidth_hz": 11025.0, "telephone_band": false, "level_dbfs": -19.82, "duration_'
    's": 1.2, "snr_method": "percentile", "thresholds": {"min_net_speech_s": 3.0, "warn_net_speech_s": 6.0, "'
    'min_snr_db": 10.0, "warn_snr_db": 20.0, "max_clipping": 0.01, "warn_clipping": 0.001, "telephone_band_hz'
    '": 5000.0, "min_bandwidth_hz": 2500.0, "min_level_dbfs": -45.0}}, "known": {"verdict": "ok", "reasons": '
    '[], "net_speech_s": 9.06, "snr_db": 22.46, "clipping_fraction": 0.0, "bandwidth_hz": 11025.0, "telephone'
    '_band": false, "level_dbfs": -20.86, "duration_s": 9.687, "snr_method": "percentile", "thresholds": {"mi'
    'n_net_speech_s": 3.0, "warn_net_speech_s": 6.0, "min_snr_db": 10.0, "warn_snr_db": 20.0, "max_clipping":'
    ' 0.01, "warn_clipping": 0.001, "telephone_band_hz": 5000.0, "min_bandwidth_hz": 2500.0, "min_level_dbfs"'
    ': -45.0}}}, "segments_used": {"questioned": ["d23b3ee72ab5427f93903bbea948dcb5"], "known": ["030adc94e0f'
    '7442faeed5ee8db931b7e"]}, "segments": {"d23b3ee72ab5427f93903bbea948dcb5": {"evidence_id": 1, "range_sam'
    'ples": [11025, 37485], "side": "questioned"}, "030adc94e0f7442faeed5ee8db931b7e": {"evidence_id": 1, "ra'
    'nge_samples": [451540, 665138], "side": "known"}}, "evidence": {"1": {"sha256": "64949b925374f6f802d7f68'
    '5d9d42daf78cc81d0097bb7ff0b7d87144bc2ca53", "name": "call.wav"}}, "model": {"id": "comparison-v1", "sha2'
    '56": "98b2977a88216a371441d44c339143ee5debb35514e1d2aa516053e60957fe7c"}}')


def _decode(text: str) -> ComparisonResults:
    return codec.decode_comparison_results(json.loads(text))


def test_stored_rows_decode_and_reencode_byte_for_byte() -> None:
    for text in (STORED_LR, STORED_ABSTAIN):
        assert json.dumps(codec.encode_comparison_results(_decode(text))) == text
    lr = _decode(STORED_LR)
    assert lr.log10_lr == 3.67 and lr.lr == 4677.0 and lr.at_bound and not lr.abstained and lr.label == "same"
    assert lr.speech_s.questioned == 9.42 and lr.channel == "wideband" and lr.schema_version == 1
    assert lr.validation_position == ValidationPosition(0.5254, 0.0001)
    assert lr.quality.questioned.verdict is QualityVerdict.OK and lr.quality.known.net_speech_s == 9.06
    assert lr.segments_used.questioned == ("881fabf6cdd14d88adacc223250eff0d",)
    assert lr.segments == (ComparedSegment("881fabf6cdd14d88adacc223250eff0d", 1, 0, 213598, "questioned"),
                           ComparedSegment("030adc94e0f7442faeed5ee8db931b7e", 1, 451540, 665138, "known"))
    assert lr.evidence == (ComparedEvidence(1, "64949b925374f6f802d7f685d9d42daf78cc81d0097bb7ff0b7d87144bc2ca53",
                                            "call.wav"),)
    assert lr.model.id == "comparison-v1" and lr.model.sha256.startswith("98b2977a")
    ab = _decode(STORED_ABSTAIN)
    assert ab.abstained and ab.lr is None and ab.snorm is None and ab.validation_position is None
    assert ab.score == 0.8866 and ab.label == "abstain" and "too little net speech" in (ab.abstain_reason or "")
    assert ab.quality.questioned.verdict is QualityVerdict.INSUFFICIENT


def test_numbers_keep_their_stored_type() -> None:
    """An integer stays an integer (a float() on decoding would re-encode 3 as 3.0 and change the row's bytes)."""
    d = json.loads(STORED_LR)
    d["quality"]["known"]["thresholds"]["min_net_speech_s"] = 3
    d["speech_s"]["known"] = 9
    assert json.dumps(codec.encode_comparison_results(codec.decode_comparison_results(d))) == json.dumps(d)


def test_other_schema_versions_and_malformed_rows_are_refused() -> None:
    d = json.loads(STORED_LR)
    with pytest.raises(IntegrityError, match="schema version 2"):
        codec.decode_comparison_results({**d, "schema_version": 2})
    broken = [{k: v for k, v in d.items() if k != "hp"}, {**d, "log10_lr": "3.67"},
              {**d, "segments": {"x": {"evidence_id": 1}}}, {**d, "quality": {"questioned": {}, "known": {}}},
              {**d, "speech_s": {"questioned": True, "known": 1.0}}]
    for b in broken:
        with pytest.raises(IntegrityError, match="malformed"):
            codec.decode_comparison_results(b)
    with pytest.raises(ValueError):
        codec.encode_comparison_results(replace(_decode(STORED_LR), schema_version=2))


def _insert_untyped(ctx, case_id: int, results: dict) -> int:  # type: ignore[no-untyped-def,type-arg]
    """A comparison row and its audit event exactly as the untyped compare_segments wrote them."""
    from s2f_desktop.core.timeutil import utcnow
    from s2f_desktop.store.audit import append_event
    from s2f_desktop.store.orm import ComparisonRunRow

    q, k = list(results["segments_used"]["questioned"]), list(results["segments_used"]["known"])
    models = [{"id": "comparison-v1", "file": "calibration.json", "sha256": results["model"]["sha256"]}]
    with ctx.store.write() as s:
        row = ComparisonRunRow(case_id=case_id, questioned_ids=q, known_ids=k, models=models, app_version="0.1.0",
                               device="cpu (test)", parameters={"top_k": 200}, results=results,
                               timings={"read_s": 0.1, "load_models_s": 0.2, "comparison_s": 0.3},
                               created_at=utcnow(), created_by="tester")
        s.add(row)
        s.flush()
        append_event(s, case_id=case_id, actor="tester", action="comparison.run", object_type="comparison_run",
                     object_ids=[row.id], details={
                         "questioned": q, "known": k, "models": models, "device": "cpu (test)",
                         "log10_lr": results["log10_lr"], "verbal": results["verbal"], "label": results["label"],
                         "abstain_reason": results["abstain_reason"]})
        return int(row.id)


def test_rows_written_before_typing_read_print_and_verify(ctx, case) -> None:  # type: ignore[no-untyped-def]
    from s2f_desktop.report.comparison import build_comparison_section
    from s2f_desktop.services import comparison as svc
    from s2f_desktop.services.evidence import verify_case

    ids = [_insert_untyped(ctx, case.id, json.loads(text)) for text in (STORED_LR, STORED_ABSTAIN)]
    runs = svc.list_comparisons(ctx, "T-1")
    assert [r.id for r in runs] == ids
    assert runs[0].results == _decode(STORED_LR) and runs[1].results == _decode(STORED_ABSTAIN)
    # Reading changed nothing: the rows hold the same bytes.
    con = sqlite3.connect(ctx.data_dir / "cases.sqlite3")
    try:
        raw = [t for (t,) in con.execute("SELECT results FROM comparison_runs ORDER BY id")]
    finally:
        con.close()
    assert raw == [STORED_LR, STORED_ABSTAIN]
    # The CLI's JSON of a stored run and the report section print what is stored.
    stored = json.loads(STORED_LR)
    obj = svc.comparison_to_dict(runs[0])
    for key in ("score", "snorm", "log10_lr", "lr", "verbal", "label", "abstain_reason", "speech_s", "hp", "hd",
                "scale", "channel", "model"):
        assert obj[key] == stored[key], key
    sec = build_comparison_section(runs[0], {})
    assert sec.log10_lr == 3.67 and sec.verbal == stored["verbal"] and sec.hd == stored["hd"]
    assert sec.lr_text.endswith("at the bound the validation supports") and stored["model"]["sha256"] in sec.model
    abst = build_comparison_section(runs[1], {})
    assert abst.log10_lr is None and abst.abstain_reason == json.loads(STORED_ABSTAIN)["abstain_reason"]
    check = verify_case(ctx, "T-1", record=False)
    assert check.ok and check.chain.ok


@pytest.mark.slow
def test_comparison_through_the_services_is_stored_as_encoded_and_verifies(  # type: ignore[no-untyped-def]
        ctx, case, speech_wav, tmp_path: Path) -> None:
    from s2f_desktop.services import comparison as svc
    from s2f_desktop.services import evidence as ev_svc
    from s2f_desktop.services import segments as seg_svc
    from s2f_desktop.services.evidence import verify_case

    m = speech_wav("The committee met on Thursday morning to review the annual budget and the costs.",
                   voice="en-us+m3", name="m.wav")
    x, sr = sf.read(str(m), dtype="float32")
    both = tmp_path / "two.wav"
    sf.write(str(both), np.concatenate([x, np.zeros(sr // 2, np.float32), x]), sr)
    ev = ev_svc.import_file(ctx, "T-1", both).evidence
    a = seg_svc.add_segment(ctx, "T-1", ev.id, 0, len(x), speaker_tag="q")
    b = seg_svc.add_segment(ctx, "T-1", ev.id, len(x) + sr // 2, 2 * len(x) + sr // 2, speaker_tag="k")
    run = svc.compare_segments(ctx, "T-1", [a.id], [b.id], device="cpu")
    r = run.results
    assert isinstance(r, ComparisonResults) and r.label == "same" and r.log10_lr is not None
    assert r.segments == (ComparedSegment(a.id, ev.id, a.start_sample, a.end_sample, "questioned"),
                          ComparedSegment(b.id, ev.id, b.start_sample, b.end_sample, "known"))
    assert r.evidence == (ComparedEvidence(ev.id, ev.sha256, ev.original_name),)
    con = sqlite3.connect(ctx.data_dir / "cases.sqlite3")
    try:
        (raw,) = con.execute("SELECT results FROM comparison_runs WHERE id = ?", (run.id,)).fetchone()
    finally:
        con.close()
    # The row holds the codec's encoding, in the key order of the untyped writer.
    assert raw == json.dumps(codec.encode_comparison_results(r))
    assert list(json.loads(raw)) == list(json.loads(STORED_LR))
    assert svc.get_comparison(ctx, run.id).results == r
    check = verify_case(ctx, "T-1", record=False)
    assert check.ok and check.chain.ok
