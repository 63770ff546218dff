"""Business rules live in the services (one place for CLI and GUI): closed cases, run ownership, selections."""

from __future__ import annotations

from pathlib import Path

import pytest

from s2f_desktop.core.errors import InputError, NotFoundError
from s2f_desktop.core.models import SegmentSource, SegmentStatus
from s2f_desktop.services import analysis, segments
from s2f_desktop.services.cases import close_case, create_case
from s2f_desktop.services.evidence import audit_trail, import_file
from s2f_desktop.store import repositories as repo


def test_all_accepted_segments_is_a_service_selection(ctx, case, tone_wav) -> None:
    ev = import_file(ctx, "T-1", tone_wav(seconds=4.0)).evidence
    assert ev is not None
    late = segments.add_segment(ctx, "T-1", ev.id, 32000, 48000)
    early = segments.add_segment(ctx, "T-1", ev.id, 0, 16000)
    with ctx.store.write() as s:
        repo.add_segment(s, ev.id, 16000, 24000, 16000, source=SegmentSource.VAD)  # a suggestion: not selected
    rejected = segments.add_segment(ctx, "T-1", ev.id, 50000, 60000)
    segments.update_segment(ctx, rejected.id, status=SegmentStatus.REJECTED)
    assert analysis.accepted_segment_ids(ctx, "T-1") == [early.id, late.id]


def test_closed_case_refuses_analysis_before_loading_models(ctx, case, tone_wav, capsys,
                                                            monkeypatch) -> None:
    from s2f_desktop.cli.main import main

    ev = import_file(ctx, "T-1", tone_wav(seconds=2.0)).evidence
    assert ev is not None
    seg = segments.add_segment(ctx, "T-1", ev.id, 0, 16000)
    close_case(ctx, "T-1")
    monkeypatch.setattr(analysis, "_analyzer", lambda device: pytest.fail("models loaded for a closed case"))
    events_before = len(audit_trail(ctx, "T-1")[0])
    with pytest.raises(InputError, match="closed"):
        analysis.analyze_selection(ctx, "T-1", [seg.id])
    capsys.readouterr()
    assert main(["--data-dir", str(ctx.data_dir), "analyze", "T-1", "--segments", "accepted"]) != 0
    err = capsys.readouterr().err.strip()
    assert "closed" in err and "\n" not in err
    with ctx.store.read() as s:
        assert repo.list_runs(s, repo.get_case(s, "T-1").id) == []
    assert len(audit_trail(ctx, "T-1")[0]) == events_before
    with pytest.raises(InputError, match="closed"):
        segments.add_segment(ctx, "T-1", ev.id, 0, 8000)
    with pytest.raises(InputError, match="closed"):
        import_file(ctx, "T-1", tone_wav(seconds=1.0, name="other.wav"))


def test_a_segment_of_another_case_is_refused(ctx, case, tone_wav, monkeypatch) -> None:
    create_case(ctx, "T-2", "Other case")
    ev = import_file(ctx, "T-2", tone_wav(seconds=2.0, name="b.wav")).evidence
    assert ev is not None
    seg = segments.add_segment(ctx, "T-2", ev.id, 0, 16000)
    monkeypatch.setattr(analysis, "_analyzer", lambda device: pytest.fail("models loaded for a foreign segment"))
    with pytest.raises(InputError, match="does not belong to case T-1"):
        analysis.analyze_selection(ctx, "T-1", [seg.id])


def test_a_run_must_belong_to_the_case_named(ctx, case, tmp_path: Path) -> None:
    with pytest.raises(NotFoundError):
        analysis.get_run(ctx, "T-1", 1)
