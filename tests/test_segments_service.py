"""Segment services and the segments/quality CLI: validation, audit, undo, VAD suggestions."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

from s2f_desktop.cli.main import main
from s2f_desktop.core.errors import InputError, NotFoundError
from s2f_desktop.core.models import SegmentSource, SegmentStatus
from s2f_desktop.services import audio as audio_svc
from s2f_desktop.services import segments as seg_svc
from s2f_desktop.services.cases import close_case
from s2f_desktop.services.evidence import audit_trail, import_file


@pytest.mark.parametrize("text,seconds", [("12.5", 12.5), ("1:02.5", 62.5), ("0:01:02", 62.0), ("2:00:00", 7200.0)])
def test_parse_time(text, seconds):
    assert seg_svc.parse_time(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["", "abc", "1:75", "-3", "1:2:3:4"])
def test_parse_time_rejects(text):
    with pytest.raises(InputError):
        seg_svc.parse_time(text)


@pytest.fixture
def tone_evidence(ctx, case, tone_wav):
    return import_file(ctx, case.number, tone_wav(seconds=4.0, sr=16000)).evidence


def test_edit_cycle_is_validated_and_audited(ctx, case, tone_evidence):
    ev = tone_evidence
    seg = seg_svc.add_segment(ctx, case.number, ev.id, 1600, 16000, label="first", speaker_tag="A")
    assert seg.status is SegmentStatus.ACCEPTED and seg.source is SegmentSource.MANUAL and seg.sample_rate == 16000
    for a, b in [(-1, 100), (500, 500), (0, ev.media.frames + 1)]:
        with pytest.raises(InputError):
            seg_svc.add_segment(ctx, case.number, ev.id, a, b)
    seg = seg_svc.update_segment(ctx, seg.id, start=3200, label="renamed")
    assert (seg.start_sample, seg.label) == (3200, "renamed")
    with pytest.raises(InputError):
        seg_svc.update_segment(ctx, seg.id, end=100)
    with pytest.raises(InputError):
        seg_svc.update_segment(ctx, seg.id, colour="red")
    gone = seg_svc.delete_segment(ctx, seg.id)
    assert seg_svc.list_segments(ctx, ev.id) == []
    back = seg_svc.restore_segment(ctx, gone)
    assert back.id == seg.id and back.label == "renamed"
    assert seg_svc.reject_suggestion(ctx, back.id).status is SegmentStatus.REJECTED
    assert seg_svc.accept_suggestion(ctx, back.id).status is SegmentStatus.ACCEPTED
    events, chain = audit_trail(ctx, case.number)
    actions = [e.action for e in events]
    assert chain.ok
    assert actions[-6:] == ["segment.add", "segment.update", "segment.delete", "segment.restore",
                            "segment.reject", "segment.accept"]
    assert events[-4].details["segment"]["label"] == "renamed"
    close_case(ctx, case.number)
    with pytest.raises(InputError, match="closed"):
        seg_svc.update_segment(ctx, seg.id, label="late")
    with pytest.raises(NotFoundError):
        seg_svc.delete_segment(ctx, "nope")


def test_vad_suggestions_replace_earlier_ones_and_keep_decisions(ctx, case, speech_wav, tmp_path):
    x, sr = sf.read(speech_wav("One two three. Four five six seven.", name="v.wav"), dtype="float32")
    sig = np.concatenate([np.zeros(sr, np.float32), x, np.zeros(sr, np.float32), x, np.zeros(sr, np.float32)])
    p = tmp_path / "two.wav"
    sf.write(p, sig, sr)
    ev = import_file(ctx, case.number, p).evidence
    first = seg_svc.run_vad(ctx, case.number, ev.id)
    assert len(first) >= 2
    assert all(g.source is SegmentSource.VAD and g.status is SegmentStatus.SUGGESTED for g in first)
    from s2f_desktop.inference.vad import VAD_MODEL_INFO
    assert first[0].params["model"]["sha256"] == VAD_MODEL_INFO["sha256"] and first[0].confidence > 0.5
    assert first[0].start_s == pytest.approx(1.0, abs=0.3)
    seg_svc.accept_suggestion(ctx, first[0].id)
    second = seg_svc.run_vad(ctx, case.number, ev.id, threshold=0.6)
    all_now = seg_svc.list_segments(ctx, ev.id)
    assert first[0].id in {g.id for g in all_now}
    assert not ({g.id for g in first[1:]} & {g.id for g in all_now})
    assert all(g.params["threshold"] == 0.6 for g in second)
    assert not any(abs(g.start_sample - first[0].start_sample) < sr // 10 for g in second)
    # Every suggestion is bound by its speech-detection event, every replaced one recorded as deleted.
    from s2f_desktop.services.evidence import verify_case

    checked = verify_case(ctx, case.number)
    assert checked.ok and checked.custody == ()
    report = audio_svc.segment_quality(ctx, [first[0].id, second[0].id])
    assert report.net_speech_s > 1.0 and report.verdict in ("ok", "warn", "insufficient")
    per = audio_svc.segment_qualities(ctx, [first[0].id])
    assert per[first[0].id].net_speech_s <= report.net_speech_s


def test_cli_segments_and_quality(ctx, case, tone_evidence, capsys, tmp_path):
    ctx.close()
    data = str(tmp_path / "data")
    rc = main(["--data-dir", data, "segments", "T-1", str(tone_evidence.id), "--add", "0.5", "0:03.5", "--label", "L"])
    assert rc == 0 and "added segment" in capsys.readouterr().out
    assert main(["--data-dir", data, "segments", "T-1", str(tone_evidence.id), "--add", "3", "9"]) == 2
    assert "past the end" in capsys.readouterr().err
    assert main(["--data-dir", data, "segments", "T-1", str(tone_evidence.id), "--add", "3", "1"]) == 2
    assert "segment end (1.000 s) must come after its start (3.000 s)" in capsys.readouterr().err
    assert main(["--data-dir", data, "quality", "T-1", str(tone_evidence.id)]) == 0
    out = capsys.readouterr().out
    assert "verdict" in out and "net speech" in out


def test_cli_accept_reject_delete_relabel(ctx, case, tone_evidence, capsys, tmp_path):
    """Suggestion decisions and edits are CLI actions too, addressed by id prefix or 'all'."""
    ev = tone_evidence
    sr = ev.media.sample_rate
    a = seg_svc.add_segment(ctx, "T-1", ev.id, 0, sr)
    # VAD-style suggestions written the way run_vad stores them (rows and their audit event).
    from helpers import add_suggestions

    s1, s2 = add_suggestions(ctx, ev, [(sr, 2 * sr, 0.9), (2 * sr, 3 * sr, 0.8)])
    ctx.close()
    data = str(tmp_path / "data")
    base = ["--data-dir", data, "segments", "T-1", str(ev.id)]
    assert main(base + ["--reject", s2.id[:8]]) == 0
    assert main(base + ["--accept", "all"]) == 0  # only s1 is still a suggestion
    assert main(base + ["--relabel", a.id[:6], "caller"]) == 0
    assert main(base + ["--delete", s2.id]) == 0
    capsys.readouterr()
    assert main(base + ["--accept", "abc"]) == 2  # too short a prefix
    assert "at least 6" in capsys.readouterr().err
    assert main(base + ["--delete", "all"]) == 2
    assert main(base + ["--json"]) == 0
    import json

    segs = {g["id"]: g for g in json.loads(capsys.readouterr().out)}
    assert set(segs) == {a.id, s1.id}
    assert segs[s1.id]["status"] == "accepted" and segs[a.id]["label"] == "caller"


def test_overlapping_segments_are_never_measured_twice(ctx, case, tone_evidence, capsys):
    """Two segments with the same bounds once doubled net speech and passed the 3 s minimum."""
    from s2f_desktop.services import analysis, comparison

    a = seg_svc.add_segment(ctx, case.number, tone_evidence.id, 8000, 44800)
    # A manual twin is refused at once; one can still arise otherwise (a label file giving the same range
    # another label), so the downstream refusals are tested with a twin written directly.
    with pytest.raises(InputError, match=r"already has the segment 0:00\.500-0:02\.800 \(accepted"):
        seg_svc.add_segment(ctx, case.number, tone_evidence.id, 8000, 44800)
    from s2f_desktop.core.models import SegmentSource, SegmentStatus
    from s2f_desktop.store import repositories as repo

    with ctx.store.write() as s:
        twin = repo.add_segment(s, tone_evidence.id, 8000, 44800, 16000, source=SegmentSource.MANUAL,
                                status=SegmentStatus.ACCEPTED, label="from a label file")
    later = seg_svc.add_segment(ctx, case.number, tone_evidence.id, 40000, 60000)  # overlaps a by 0.3 s
    apart = seg_svc.add_segment(ctx, case.number, tone_evidence.id, 44800, 60000)  # touches a, no overlap
    with pytest.raises(InputError, match=r"overlapping segments of .*0:00\.50-0:02\.80 and 0:00\.50-0:02\.80"):
        audio_svc.segment_quality(ctx, [a.id, twin.id])
    with pytest.raises(InputError, match="overlapping"):
        analysis.analyze_selection(ctx, case.number, [a.id, later.id], device="cpu")
    with pytest.raises(InputError, match="the comparison holds overlapping segments"):
        comparison.compare_segments(ctx, case.number, [a.id], [later.id], device="cpu")
    assert audio_svc.segment_quality(ctx, [a.id, apart.id]).net_speech_s <= 52000 / 16000
    from s2f_desktop.services import archive

    with pytest.raises(InputError, match="the query holds overlapping segments"):
        archive.query_from_segments(ctx, case.number, [a.id, twin.id], device="cpu")
    # Speaker grouping embeds each segment on its own: overlaps (a manual segment inside a detected one) are
    # allowed there, and these tones hold no speech to judge.
    groups, not_judged = analysis.speaker_groups(ctx, tone_evidence.id, [a.id, twin.id, later.id], device="cpu")
    assert groups == [] and sorted(not_judged) == sorted([a.id, twin.id, later.id])
    rc = main(["--data-dir", str(ctx.data_dir), "analyze", case.number, "--segments", f"{a.id},{twin.id}"])
    err = capsys.readouterr().err
    assert rc == 2 and "counted twice" in err and err.count("\n") == 1


def test_quality_finds_speech_as_the_analysis_does(ctx, case, speech_wav, capsys):
    """`s2f quality` once used an energy detector by default and could disagree with the gate the
    analysis applies (silero VAD); its default now measures what the analysis measures."""
    from s2f_desktop.services import analysis

    wav = speech_wav("The quick brown fox jumps over the lazy dog, and then it runs into the forest "
                     "to find its friends before the evening comes.", name="q.wav")
    ev = import_file(ctx, case.number, wav).evidence
    seg = seg_svc.add_segment(ctx, case.number, ev.id, 0, ev.media.frames)
    q = audio_svc.segment_quality(ctx, [seg.id])
    run = analysis.analyze_selection(ctx, case.number, [seg.id], device="cpu")
    pooled = run.results.pooled
    assert abs(q.net_speech_s - pooled.speech_s) < 0.05 and q.verdict == pooled.quality.verdict.value
    assert main(["--data-dir", str(ctx.data_dir), "quality", case.number, str(ev.id), "--segment", seg.id]) == 0
    assert "silero VAD" in capsys.readouterr().out
    assert main(["--data-dir", str(ctx.data_dir), "quality", case.number, str(ev.id), "--segment", seg.id,
                 "--energy"]) == 0
    assert "energy detector (the analysis uses silero VAD)" in capsys.readouterr().out
