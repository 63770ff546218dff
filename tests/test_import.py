"""Evidence import: transactional, hash-recognised, never touching the original."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from s2f_desktop.core.errors import CancelledError, InputError, IntegrityError, MediaError, NotFoundError
from s2f_desktop.core.models import VerifyStatus
from s2f_desktop.core.progress import CancelToken, ProgressUpdate, Task
from s2f_desktop.services import cases, evidence
from s2f_desktop.store import repositories as repo
from s2f_desktop.store import vault as vault_mod
from s2f_desktop.store.audit import list_events


def _vault_files(ctx) -> list[Path]:  # type: ignore[no-untyped-def]
    return sorted(p for p in ctx.store.layout.vault.rglob("*") if p.is_file())


def _events(ctx, case) -> list[str]:  # type: ignore[no-untyped-def]
    with ctx.store.read() as s:
        return [e.action for e in list_events(s, case.id)]


def _snapshot(p: Path) -> tuple[bytes, int, int]:
    st = p.stat()
    return p.read_bytes(), st.st_mtime_ns, stat.S_IMODE(st.st_mode)


def test_import_copies_into_read_only_vault_and_audits(ctx, case, tone_wav) -> None:  # type: ignore[no-untyped-def]
    src = tone_wav(seconds=1.0)
    before = _snapshot(src)
    updates: list[ProgressUpdate] = []
    res = evidence.import_file(ctx, case.number, src, Task(updates.append))
    assert res.ok and not res.already_present and res.error == ""
    ev = res.evidence
    assert ev.original_name == src.name and ev.original_path == str(src.resolve())
    assert ev.size_bytes == src.stat().st_size and ev.media.sample_rate == 16000 and ev.media.frames == 16000
    vp = evidence.vault_path(ctx, ev)
    assert vp == ctx.store.layout.vault / ev.sha256[:2] / f"{ev.sha256}.wav"
    assert vp.read_bytes() == src.read_bytes()
    assert stat.S_IMODE(vp.stat().st_mode) & 0o222 == 0, "vault files are read-only"
    assert _snapshot(src) == before, "the original is never modified"
    assert _events(ctx, case) == ["case.create", "evidence.import"]
    assert updates[-1].fraction == 1.0 and all(0.0 <= u.fraction <= 1.0 for u in updates if u.fraction is not None)
    with ctx.store.read() as s:
        ev_event = list_events(s, case.id)[-1]
    assert ev_event.object_ids == (str(ev.id),) and ev_event.details["sha256"] == ev.sha256


def test_reimport_is_recognised_by_hash(ctx, case, tone_wav, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    src = tone_wav(seconds=1.0)
    first = evidence.import_file(ctx, case.number, src).evidence
    renamed = tmp_path / "renamed copy.wav"
    renamed.write_bytes(src.read_bytes())
    again = evidence.import_file(ctx, case.number, renamed)
    assert again.already_present and again.evidence == first
    assert len(evidence.list_evidence(ctx, case.number)) == 1
    assert len(_vault_files(ctx)) == 1
    assert _events(ctx, case).count("evidence.import") == 1
    # ...but the attempt itself is audited, naming the file offered and the item it matched.
    with ctx.store.read() as s:
        last = list_events(s, case.id)[-1]
    assert last.action == "evidence.reimport" and last.object_ids == (str(first.id),)
    assert last.details["original_name"] == "renamed copy.wav" and last.details["sha256"] == first.sha256


def test_same_content_in_two_cases_shares_one_vault_file(ctx, case, tone_wav) -> None:  # type: ignore[no-untyped-def]
    src = tone_wav(seconds=1.0)
    other = cases.create_case(ctx, "T-2", "Second case")
    a = evidence.import_file(ctx, case.number, src).evidence
    b = evidence.import_file(ctx, other.number, src).evidence
    assert a.id != b.id and a.case_id != b.case_id
    assert a.vault_relpath == b.vault_relpath
    assert len(_vault_files(ctx)) == 1


def test_failure_during_db_insert_leaves_nothing(ctx, case, tone_wav, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    src = tone_wav(seconds=1.0)
    before = _snapshot(src)

    def broken(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise RuntimeError("disk full while inserting")

    monkeypatch.setattr(repo, "add_evidence", broken)
    with pytest.raises(RuntimeError, match="disk full"):
        evidence.import_file(ctx, case.number, src)
    assert evidence.list_evidence(ctx, case.number) == []
    assert _vault_files(ctx) == []
    assert _events(ctx, case) == ["case.create"]
    assert _snapshot(src) == before


def test_failure_during_audit_append_leaves_nothing(ctx, case, tone_wav, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    src = tone_wav(seconds=1.0)

    def broken(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise RuntimeError("audit append failed")

    monkeypatch.setattr(evidence, "append_event", broken)
    with pytest.raises(RuntimeError):
        evidence.import_file(ctx, case.number, src)
    assert evidence.list_evidence(ctx, case.number) == []
    assert _vault_files(ctx) == []


def test_failure_while_moving_into_place_leaves_nothing(ctx, case, tone_wav, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    src = tone_wav(seconds=1.0)
    real_replace = os.replace

    def failing_replace(a, b):  # type: ignore[no-untyped-def]
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(vault_mod.os, "replace", failing_replace)
    with pytest.raises(MediaError, match="could not place .* in the vault: No space left"):
        evidence.import_file(ctx, case.number, src)
    monkeypatch.setattr(vault_mod.os, "replace", real_replace)
    assert evidence.list_evidence(ctx, case.number) == []
    assert _vault_files(ctx) == []
    assert _events(ctx, case) == ["case.create"]


def test_failure_during_copy_leaves_nothing(ctx, case, tone_wav, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    src = tone_wav(seconds=1.0)

    def failing_copy(src_fh, dst_fh, length=0):  # type: ignore[no-untyped-def]
        dst_fh.write(src_fh.read(100))  # a partial copy is on disk when the error strikes
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(vault_mod.shutil, "copyfileobj", failing_copy)
    with pytest.raises(MediaError, match="could not copy .* into the vault"):
        evidence.import_file(ctx, case.number, src)
    assert _vault_files(ctx) == []
    assert evidence.list_evidence(ctx, case.number) == []


def test_source_changing_during_copy_is_detected(ctx, case, tone_wav, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    src = tone_wav(seconds=1.0)
    real_copy = vault_mod.shutil.copyfileobj

    def corrupting_copy(src_fh, dst_fh, length=0):  # type: ignore[no-untyped-def]
        real_copy(src_fh, dst_fh, length)
        dst_fh.write(b"\x00")  # the copy no longer hashes like the original did

    monkeypatch.setattr(vault_mod.shutil, "copyfileobj", corrupting_copy)
    with pytest.raises(IntegrityError, match="hash before and after the copy differ"):
        evidence.import_file(ctx, case.number, src)
    assert _vault_files(ctx) == [] and evidence.list_evidence(ctx, case.number) == []


def test_cancelled_import_leaves_nothing(ctx, case, tone_wav) -> None:  # type: ignore[no-untyped-def]
    src = tone_wav(seconds=1.0)
    token = CancelToken()

    def sink(u: ProgressUpdate) -> None:
        if u.message.startswith("copying"):
            token.cancel()  # cancel once the copy starts; the next check point must abort

    with pytest.raises(CancelledError):
        evidence.import_file(ctx, case.number, src, Task(sink, token))
    assert _vault_files(ctx) == [] and evidence.list_evidence(ctx, case.number) == []


def test_import_files_keeps_going_after_a_bad_file(ctx, case, tone_wav, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    good = tone_wav(seconds=1.0)
    bad = tmp_path / "notes.wav"
    bad.write_text("not audio at all\n" * 50)
    results = evidence.import_files(ctx, case.number, [bad, good, tmp_path / "missing.wav"])
    assert [r.ok for r in results] == [False, True, False]
    assert "notes.wav" in results[0].error and "no such file" in results[2].error
    assert len(evidence.list_evidence(ctx, case.number)) == 1
    assert len(_vault_files(ctx)) == 1


def test_closed_or_unknown_case_refuses_import(ctx, case, tone_wav) -> None:  # type: ignore[no-untyped-def]
    src = tone_wav(seconds=1.0)
    cases.close_case(ctx, case.number)
    with pytest.raises(InputError, match="closed"):
        evidence.import_file(ctx, case.number, src)
    with pytest.raises(NotFoundError):
        evidence.import_file(ctx, "NOPE-1", src)
    assert _vault_files(ctx) == []


def test_bad_files_store_nothing(ctx, case, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    empty = tmp_path / "empty.wav"
    empty.touch()
    odd = tmp_path / "data.xyz"
    odd.write_text("x")
    for p in (empty, odd, tmp_path / "missing.wav", tmp_path):
        with pytest.raises(MediaError) as info:
            evidence.import_file(ctx, case.number, p)
        assert "\n" not in str(info.value)
    assert _vault_files(ctx) == [] and evidence.list_evidence(ctx, case.number) == []
    assert _events(ctx, case) == ["case.create"]


def test_resolve_evidence_by_id_hash_prefix_and_name(ctx, case, tone_wav) -> None:  # type: ignore[no-untyped-def]
    a = evidence.import_file(ctx, case.number, tone_wav(freq=300, seconds=1.0, name="a.wav")).evidence
    b = evidence.import_file(ctx, case.number, tone_wav(freq=500, seconds=1.0, name="b.wav")).evidence
    assert evidence.resolve_evidence(ctx, case.number, str(b.id)) == b
    assert evidence.resolve_evidence(ctx, case.number, a.sha256[:10]) == a
    assert evidence.resolve_evidence(ctx, case.number, "b.wav") == b
    with pytest.raises(NotFoundError):
        evidence.resolve_evidence(ctx, case.number, "c.wav")


def test_verify_ok_altered_missing(ctx, case, tone_wav) -> None:  # type: ignore[no-untyped-def]
    a = evidence.import_file(ctx, case.number, tone_wav(freq=300, seconds=1.0, name="a.wav")).evidence
    b = evidence.import_file(ctx, case.number, tone_wav(freq=500, seconds=1.0, name="b.wav")).evidence
    report = evidence.verify_case(ctx, case.number)
    assert report.ok and [c.status for c in report.evidence] == [VerifyStatus.OK, VerifyStatus.OK]

    pa = evidence.vault_path(ctx, a)
    os.chmod(pa, 0o644)
    data = bytearray(pa.read_bytes())
    data[len(data) // 2] ^= 0x01  # flip one bit of one byte
    pa.write_bytes(bytes(data))
    pb = evidence.vault_path(ctx, b)
    os.chmod(pb, 0o644)
    pb.unlink()

    report = evidence.verify_case(ctx, case.number)
    assert not report.ok and report.chain.ok
    by_id = {c.evidence_id: c for c in report.evidence}
    assert by_id[a.id].status is VerifyStatus.ALTERED and by_id[a.id].actual_sha256 not in (None, a.sha256)
    assert by_id[b.id].status is VerifyStatus.MISSING and by_id[b.id].actual_sha256 is None
    # Verification is itself recorded, with what it found.
    with ctx.store.read() as s:
        last = list_events(s, case.id)[-1]
    assert last.action == "case.verify"
    assert last.details["evidence"] == {str(a.id): "ALTERED", str(b.id): "MISSING"}


def test_concurrent_duplicate_import_is_reported_as_already_present(ctx, case, tone_wav, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """Two imports of the same bytes race past the hash check; the UNIQUE constraint settles it."""
    src = tone_wav(seconds=1.0)
    first = evidence.import_file(ctx, case.number, src).evidence
    real_find = repo.find_evidence_by_hash
    calls = []

    def blind_first_time(s, case_id, sha):  # type: ignore[no-untyped-def]
        calls.append(sha)
        return None if len(calls) == 1 else real_find(s, case_id, sha)

    monkeypatch.setattr(repo, "find_evidence_by_hash", blind_first_time)
    res = evidence.import_file(ctx, case.number, src)
    assert len(calls) == 2, "the race path re-reads the winner's row"
    assert res.already_present and res.evidence == first
    assert len(_vault_files(ctx)) == 1 and evidence.vault_path(ctx, first).exists()
    assert _events(ctx, case).count("evidence.import") == 1
