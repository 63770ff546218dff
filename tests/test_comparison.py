"""Speaker comparison end to end: files, batches of pairs, stored case comparisons, the one-voice check."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from s2f_desktop.cli.main import main as cli_main

TEXT = ("The committee met on Thursday morning to review the annual budget. After a long discussion about "
        "maintenance costs, they agreed to postpone the decision until the next quarterly meeting.")
KEYS = {"questioned", "known", "score", "log10_lr", "verbal", "label", "model"}


def _libri(root: Path, spk: str, n: int) -> Path:
    return sorted((root / "librispeech-test-other-10x10" / spk).glob("*.flac"))[n]


@pytest.mark.slow
@pytest.mark.needs_data
def test_files_same_and_different_speakers(shared_data: Path, capsys: pytest.CaptureFixture[str]) -> None:
    a0, a1 = _libri(shared_data, "1688", 0), _libri(shared_data, "1688", 1)
    b0 = _libri(shared_data, "2033", 0)  # another male speaker: Hd's relevant population is the same sex
    assert cli_main(["compare", str(a0), str(a1), "--device", "cpu", "--json"]) == 0
    same = json.loads(capsys.readouterr().out)
    assert KEYS <= set(same) and {"path", "sha256", "speech_s"} <= set(same["questioned"])
    assert same["label"] == "same" and same["log10_lr"] >= 1.0 and "support for Hp" in same["verbal"]
    assert same["model"]["id"] == "comparison-v1" and len(same["model"]["sha256"]) == 64
    assert same["device"].startswith("cpu") and same["hp"] and same["hd"]
    assert cli_main(["compare", str(a0), str(b0), "--device", "cpu", "--json", "--k-start", "0.5", "--k-end", "9"]) == 0
    diff = json.loads(capsys.readouterr().out)
    assert diff["label"] == "different" and diff["log10_lr"] <= -1.0
    assert diff["known"]["range_s"] == [0.5, 9.0]
    # Human output states the propositions and the scale, and never calls it an identification.
    assert cli_main(["compare", str(a0), str(b0), "--device", "cpu", "--k-start", "0.5", "--k-end", "9"]) == 0
    out = capsys.readouterr().out
    assert "Hp:" in out and "Hd:" in out and "ENFSI" in out and "not an identification" in out
    from s2f_desktop.report.comparison import lr_text

    assert lr_text(diff["log10_lr"]) in out  # one wording of an LR in the CLI, the GUI and the report
    assert "s of speech compared" in out and "channel: wideband (neither side is telephone band)" in out


@pytest.mark.slow
@pytest.mark.needs_data
def test_file_comparison_names_the_telephone_band_side(shared_data: Path, tmp_path: Path,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    """A telephone-band questioned call against a wideband known recording: the channel's words say which side
    was telephone band and that the other was band-limited to match; the JSON keeps its stored value."""
    from scipy.signal import resample_poly

    x, sr = sf.read(str(_libri(shared_data, "1688", 0)), dtype="float32")
    call = tmp_path / "call_8k.wav"
    sf.write(str(call), resample_poly(x, 1, sr // 8000).astype(np.float32), 8000)
    known = _libri(shared_data, "1688", 1)
    assert cli_main(["compare", str(call), str(known), "--device", "cpu"]) == 0
    out = capsys.readouterr().out
    assert ("channel: telephone band: the questioned side is telephone band; the known side (wideband) was "
            "band-limited to 300\u20133400 Hz to match") in out
    assert cli_main(["compare", str(call), str(known), "--device", "cpu", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["channel"] == "telephone band (both sides)"


@pytest.mark.slow
@pytest.mark.needs_data
def test_pairs_batch_keeps_order_and_survives_a_bad_file(shared_data: Path, tmp_path: Path,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    a0, a1, b0 = _libri(shared_data, "1998", 0), _libri(shared_data, "1998", 1), _libri(shared_data, "3080", 0)
    short = tmp_path / "short.wav"
    x, sr = sf.read(str(a0), dtype="float32")
    sf.write(str(short), x[: int(1.2 * sr)], sr)
    pairs = tmp_path / "pairs.tsv"
    pairs.write_text(f"{a0}\t{a1}\nmissing.wav\t{a1}\n{a0}\t{b0}\n{short}\t{a1}\n", encoding="utf-8")
    assert cli_main(["compare", "--pairs", str(pairs), "--device", "cpu", "--json"]) == 3
    lines = [json.loads(s) for s in capsys.readouterr().out.splitlines()]
    assert len(lines) == 4
    assert lines[0]["label"] == "same" and lines[0]["log10_lr"] > 0
    assert "error" in lines[1] and lines[1]["log10_lr"] is None
    assert lines[1]["questioned"]["path"].endswith("missing.wav")
    assert lines[2]["label"] == "different"
    # Too little net speech: the system abstains with its reason, the line is not an error.
    assert lines[3]["log10_lr"] is None and lines[3]["label"] == "abstain"
    assert "net speech" in lines[3]["abstain_reason"]
    for obj in (lines[0], lines[2], lines[3]):
        assert KEYS <= set(obj) and {"path", "sha256", "speech_s"} <= set(obj["known"])
    assert lines[0]["questioned"]["sha256"] == lines[2]["questioned"]["sha256"]


def _dialogue(ctx, speech_wav, tmp_path: Path):  # type: ignore[no-untyped-def]
    from s2f_desktop.services import evidence as ev_svc

    m = speech_wav(TEXT, voice="en-us+m3", name="m.wav")
    f = speech_wav(TEXT, voice="en-us+f3", name="f.wav")
    xm, sr = sf.read(str(m), dtype="float32")
    xf, _ = sf.read(str(f), dtype="float32")
    gap = np.zeros(sr // 2, np.float32)
    both = tmp_path / "dialogue.wav"
    sf.write(str(both), np.concatenate([xm, gap, xm, gap, xf, gap, xf]), sr)
    ev = ev_svc.import_file(ctx, "T-1", both).evidence
    step = [len(xm) + len(gap), len(xm) + len(gap), len(xf) + len(gap), len(xf)]
    starts = np.concatenate([[0], np.cumsum(step)[:-1]])
    lens = [len(xm), len(xm), len(xf), len(xf)]
    return ev, sr, [(int(a), int(a + n)) for a, n in zip(starts, lens)]


@pytest.mark.slow
def test_case_comparison_is_stored_and_audited(ctx, case, speech_wav, tmp_path: Path,  # type: ignore[no-untyped-def]
                                               capsys: pytest.CaptureFixture[str]) -> None:
    from s2f_desktop.services import comparison as svc
    from s2f_desktop.services import segments as seg_svc
    from s2f_desktop.services.evidence import audit_trail

    ev, _, ranges = _dialogue(ctx, speech_wav, tmp_path)
    tags = ["caller", "suspect", "other", "other"]
    segs = [seg_svc.add_segment(ctx, "T-1", ev.id, a, b, speaker_tag=t) for (a, b), t in zip(ranges, tags)]
    assert svc.segments_by_speaker(ctx, "T-1") == {"caller": [segs[0].id], "suspect": [segs[1].id],
                                                   "other": [segs[2].id, segs[3].id]}
    run = svc.compare_segments(ctx, "T-1", [segs[0].id], [segs[1].id], device="cpu")
    r = run.results
    assert run.questioned_ids == (segs[0].id,) and run.known_ids == (segs[1].id,)
    assert r.label == "same" and r.log10_lr is not None and r.log10_lr > 0
    assert {m["id"] for m in run.models} >= {"resemblyzer-ge2e-0.1.4", "comparison-v1"}
    assert all(len(m["sha256"]) == 64 for m in run.models) and run.device.startswith("cpu")
    assert run.parameters["bounds_log10_lr"][0] < 0 < run.parameters["bounds_log10_lr"][1]
    events, chain = audit_trail(ctx, "T-1")
    assert chain.ok and events[-1].action == "comparison.run" and events[-1].object_ids == (str(run.id),)
    assert events[-1].details["log10_lr"] == r.log10_lr
    # The CLI form with speaker labels stores a second run; a segment on both sides is refused.
    assert cli_main(["--data-dir", str(ctx.data_dir), "compare", "T-1", "--questioned", "speaker:caller",
                     "--known", "speaker:other", "--device", "cpu", "--json"]) == 0
    obj = json.loads(capsys.readouterr().out)
    assert obj["label"] == "different" and obj["known"] == [segs[2].id, segs[3].id]
    assert [c.id for c in svc.list_comparisons(ctx, "T-1")][-1] == obj["comparison_id"]
    assert cli_main(["--data-dir", str(ctx.data_dir), "compare", "T-1", "--questioned", segs[0].id,
                     "--known", f"{segs[0].id},{segs[1].id}"]) == 2
    err = capsys.readouterr().err
    # Named by recording and time, as the analyst sees it, not by its internal id.
    assert "both sides" in err and segs[0].id not in err and "of " in err and err.count("\n") == 1


@pytest.mark.slow
def test_analysis_of_two_voices_is_split_and_short_segments_are_not_flagged(  # type: ignore[no-untyped-def]
        ctx, case, speech_wav, tmp_path: Path) -> None:
    from s2f_desktop.inference.analyzer import Part, get_analyzer
    from s2f_desktop.services.comparison import MultipleSpeakersError, require_single_speaker

    ev, sr, ranges = _dialogue(ctx, speech_wav, tmp_path)
    x, _ = sf.read(str(tmp_path / "dialogue.wav"), dtype="float32")
    an = get_analyzer("cpu")
    parts = [Part(f"s{i}", x[a:b], sr) for i, (a, b) in enumerate(ranges)]
    chk = an.analyze(parts)[0].consistency
    assert chk is not None and chk.method == "calibrated"
    assert chk.split and sorted(map(sorted, chk.groups)) == [["s0", "s1"], ["s2", "s3"]]
    assert set(chk.flagged) in ({"s0", "s1"}, {"s2", "s3"})
    with pytest.raises(MultipleSpeakersError):
        require_single_speaker(chk, "T-1")
    # One voice with two sub-second snippets: the snippets are not judged, nothing is flagged, no split.
    a, b = ranges[0]
    one = [Part("long1", x[a:b], sr), Part("tiny1", x[a + sr: a + int(1.8 * sr)], sr),
           Part("long2", x[ranges[1][0]:ranges[1][1]], sr), Part("tiny2", x[a + 3 * sr: a + int(3.7 * sr)], sr)]
    chk1 = an.analyze(one)[0].consistency
    assert chk1 is not None and chk1.flagged == ()
    assert not chk1.split
    assert set(chk1.not_judged) == {"tiny1", "tiny2"}
    require_single_speaker(chk1)


@pytest.mark.slow
@pytest.mark.needs_data
def test_a_dc_offset_or_an_inaudible_side_never_gives_a_confident_lr(shared_data: Path, tmp_path: Path,
                                                                      capsys: pytest.CaptureFixture[str]) -> None:
    """A red-team pass added an offset of 0.2 full scale to one side of a same-speaker pair: the LR went to the
    Hd bound ("moderately strong support for Hd"); at 1/500 of its level a noisy side passed the noise rule."""
    a0, a1 = _libri(shared_data, "1998", 0), _libri(shared_data, "1998", 1)
    x, sr = sf.read(str(a0), dtype="float32")
    offset, quiet = tmp_path / "offset.wav", tmp_path / "quiet.wav"
    sf.write(str(offset), 0.3 * x - 0.2, sr, subtype="FLOAT")
    noisy = x + np.random.default_rng(0).normal(0.0, float(np.std(x)), x.size).astype(np.float32)
    sf.write(str(quiet), 0.002 * noisy, sr, subtype="FLOAT")
    assert cli_main(["compare", str(a0), str(a1), "--device", "cpu", "--json"]) == 0
    plain = json.loads(capsys.readouterr().out)
    assert cli_main(["compare", str(offset), str(a1), "--device", "cpu", "--json"]) == 0
    shifted = json.loads(capsys.readouterr().out)
    assert shifted["label"] == plain["label"] == "same"
    assert shifted["log10_lr"] == pytest.approx(plain["log10_lr"], abs=0.3)
    assert cli_main(["compare", str(quiet), str(a1), "--device", "cpu", "--json"]) == 0
    inaudible = json.loads(capsys.readouterr().out)
    assert inaudible["log10_lr"] is None and inaudible["label"] == "abstain"
    assert "noise level cannot be measured" in inaudible["abstain_reason"]


@pytest.mark.slow
def test_case_comparison_of_a_two_voice_stereo_call_notes_the_mixed_channels(  # type: ignore[no-untyped-def]
        ctx, case, speech_wav, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A call with one party per channel compared as a case segment: the run stores that the questioned side's
    channels carry different signals (mixed into one); the GUI, the report and the CLI show it; a comparison of
    mono recordings stores no notes key, so its encoding is as before."""
    from s2f_desktop.gui.comparison import comparison_html
    from s2f_desktop.services import comparison as svc
    from s2f_desktop.services import evidence as ev_svc
    from s2f_desktop.services import segments as seg_svc
    from s2f_desktop.services.reports import collect_report_data
    from s2f_desktop.store import codec

    ev, _, ranges = _dialogue(ctx, speech_wav, tmp_path)
    known = seg_svc.add_segment(ctx, "T-1", ev.id, *ranges[0])
    other = seg_svc.add_segment(ctx, "T-1", ev.id, *ranges[1])
    from helpers import stereo_call

    call, n = stereo_call(speech_wav, TEXT, tmp_path)
    stereo = ev_svc.import_file(ctx, "T-1", call).evidence
    q = seg_svc.add_segment(ctx, "T-1", stereo.id, 0, n)
    run = svc.compare_segments(ctx, "T-1", [q.id], [known.id], device="cpu")
    (note,) = run.results.notes
    assert note.startswith("questioned: call.wav 0:00.000\u2013") and "2 channels carry different signals" in note
    assert svc.get_comparison(ctx, run.id).results.notes == (note,)
    assert codec.encode_comparison_results(run.results)["notes"] == [note]
    assert "Channels mixed:" in comparison_html(run) and "call.wav" in comparison_html(run)
    plain = svc.compare_segments(ctx, "T-1", [other.id], [known.id], device="cpu")
    assert plain.results.notes == () and "notes" not in codec.encode_comparison_results(plain.results)
    assert "Channels mixed:" not in comparison_html(plain)
    sections = {c.run_id: c for c in collect_report_data(ctx, "T-1").comparisons}
    assert sections[run.id].notes == (note,) and sections[plain.id].notes == ()
    assert cli_main(["--data-dir", str(ctx.data_dir), "compare", "T-1", "--questioned", q.id, "--known", known.id,
                     "--device", "cpu", "--json"]) == 0
    out = capsys.readouterr()
    assert f"s2f: note: {note}" in out.err and "notes" not in json.loads(out.out)


@pytest.mark.slow
@pytest.mark.needs_data
def test_a_side_or_a_query_of_two_voices_is_refused(ctx, case, shared_data: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """As an analysis refuses to pool two voices into one profile, a comparison side and an archive query do
    (two LibriSpeech readers of one sex, 1688 and 2033, which the comparison tells apart: see the files test)."""
    from s2f_desktop.core.errors import InputError
    from s2f_desktop.services import archive
    from s2f_desktop.services import comparison as svc
    from s2f_desktop.services import evidence as ev_svc
    from s2f_desktop.services import segments as seg_svc

    a0, _ = sf.read(str(_libri(shared_data, "1688", 0)), dtype="float32")
    a1, sr = sf.read(str(_libri(shared_data, "1688", 1)), dtype="float32")
    a2, _ = sf.read(str(_libri(shared_data, "1688", 2)), dtype="float32")
    b0, _ = sf.read(str(_libri(shared_data, "2033", 0)), dtype="float32")
    gap = np.zeros(sr // 2, np.float32)
    both = tmp_path / "two-readers.wav"
    sf.write(str(both), np.concatenate([a0, gap, a1, gap, b0, gap, a2]), sr)
    ev = ev_svc.import_file(ctx, "T-1", both).evidence
    s1 = len(a0) + len(gap)
    s2 = s1 + len(a1) + len(gap)
    s3 = s2 + len(b0) + len(gap)
    x1 = seg_svc.add_segment(ctx, "T-1", ev.id, 0, len(a0))
    x2 = seg_svc.add_segment(ctx, "T-1", ev.id, s1, s1 + len(a1))
    y = seg_svc.add_segment(ctx, "T-1", ev.id, s2, s2 + len(b0))
    x3 = seg_svc.add_segment(ctx, "T-1", ev.id, s3, s3 + len(a2))
    # More of one voice does not hide a second (a red-team case): 10 s of reader 1998 between 20 s of 1688 pool
    # above the split threshold, but 1998 against the first 1688 excerpt is below it; every pair is checked.
    m1 = sf.read(str(shared_data / "librispeech-test-other-10x10/1688/1688-142285-0000.flac"), dtype="float32")[0]
    m2 = np.concatenate([sf.read(str(shared_data / f"librispeech-test-other-10x10/1688/1688-142285-000{i}.flac"),
                                 dtype="float32")[0] for i in (1, 2)])
    f1 = sf.read(str(shared_data / "librispeech-test-other-10x10/1998/1998-15444-0000.flac"), dtype="float32")[0]
    m1, m2, f1 = m1[:160000], m2[:160000], f1[:160000]
    three = tmp_path / "three.wav"
    sf.write(str(three), np.concatenate([m1, gap[:8000], f1, gap[:8000], m2]), 16000)
    ev3 = ev_svc.import_file(ctx, "T-1", three).evidence
    c1, c2 = len(m1) + 8000, len(m1) + 8000 + len(f1) + 8000
    side = [seg_svc.add_segment(ctx, "T-1", ev3.id, a, b).id
            for a, b in ((0, len(m1)), (c1, c1 + len(f1)), (c2, c2 + len(m2)))]
    with pytest.raises(InputError, match="the questioned side holds 2 different voices"):
        svc.compare_segments(ctx, "T-1", side, [x3.id], device="cpu")
    with pytest.raises(InputError, match="the questioned side holds 2 different voices"):
        svc.compare_segments(ctx, "T-1", [x1.id, y.id], [x2.id], device="cpu")
    with pytest.raises(InputError, match="the known side holds 2 different voices"):
        svc.compare_segments(ctx, "T-1", [x2.id], [x1.id, y.id], device="cpu")
    with pytest.raises(InputError, match="the query holds 2 different voices"):
        archive.query_from_segments(ctx, "T-1", [x1.id, y.id], device="cpu")
    assert svc.list_comparisons(ctx, "T-1") == []
    assert svc.compare_segments(ctx, "T-1", [x1.id], [x2.id], device="cpu").results.label == "same"
