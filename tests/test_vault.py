"""Content-addressed vault: staging, commit, discard, read-only files, shared content."""

from __future__ import annotations

import hashlib
import os
import stat
from pathlib import Path

import pytest

from s2f_desktop.core.errors import IntegrityError
from s2f_desktop.store.vault import sha256_file, stage_copy, vault_relpath


def _src(tmp_path: Path, name: str = "rec.WAV", data: bytes = b"RIFF-ish bytes " * 1000) -> tuple[Path, str]:
    p = tmp_path / name
    p.write_bytes(data)
    return p, hashlib.sha256(data).hexdigest()


def _is_read_only(p: Path) -> bool:
    return stat.S_IMODE(p.stat().st_mode) & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH) == 0


def test_sha256_file_matches_hashlib_and_reports_bytes(tmp_path: Path) -> None:
    data = os.urandom(3 * (1 << 20) + 17)  # crosses the 1 MiB chunk boundary
    p = tmp_path / "big.bin"
    p.write_bytes(data)
    seen: list[int] = []
    digest, size = sha256_file(p, on_bytes=seen.append)
    assert digest == hashlib.sha256(data).hexdigest() and size == len(data)
    assert seen[-1] == len(data) and seen == sorted(seen)


def test_relpath_is_hash_with_lowercase_short_suffix() -> None:
    sha = "ab" + "0" * 62
    assert vault_relpath(sha, ".WAV") == f"ab/{sha}.wav"
    assert vault_relpath(sha, "") == f"ab/{sha}"
    assert vault_relpath(sha, ".averyverylongsuffix") == f"ab/{sha}"


def test_stage_commit_places_read_only_copy(tmp_path: Path) -> None:
    src, sha = _src(tmp_path)
    vault = tmp_path / "vault"
    staged = stage_copy(vault, src, sha)
    assert not staged.existed and staged.temp_path is not None and staged.temp_path.exists()
    assert not staged.final_path.exists(), "nothing is in place before commit"
    staged.commit()
    final = vault / f"{sha[:2]}/{sha}.wav"
    assert staged.final_path == final and final.read_bytes() == src.read_bytes()
    assert _is_read_only(final)
    assert [p.name for p in final.parent.iterdir()] == [final.name], "no temporary file left"


def test_discard_before_and_after_commit_leaves_nothing(tmp_path: Path) -> None:
    src, sha = _src(tmp_path)
    vault = tmp_path / "vault"
    staged = stage_copy(vault, src, sha)
    staged.discard()
    assert list((vault / sha[:2]).iterdir()) == []
    staged = stage_copy(vault, src, sha)
    staged.commit()
    staged.discard()  # e.g. the database commit failed after the move
    assert list((vault / sha[:2]).iterdir()) == []


def test_existing_copy_is_shared_and_never_discarded(tmp_path: Path) -> None:
    src, sha = _src(tmp_path)
    vault = tmp_path / "vault"
    stage_copy(vault, src, sha).commit()
    again = stage_copy(vault, src, sha)
    assert again.existed and again.temp_path is None
    again.commit()
    again.discard()
    assert (vault / again.relpath).exists()


def test_same_bytes_under_another_extension_reuse_the_file(tmp_path: Path) -> None:
    src, sha = _src(tmp_path, "first.wav")
    other = tmp_path / "second.wave"
    other.write_bytes(src.read_bytes())
    vault = tmp_path / "vault"
    first = stage_copy(vault, src, sha)
    first.commit()
    second = stage_copy(vault, other, sha)
    assert second.existed and second.relpath == first.relpath
    assert len(list((vault / sha[:2]).iterdir())) == 1


def test_wrong_expected_hash_is_refused_and_cleaned(tmp_path: Path) -> None:
    src, _ = _src(tmp_path)
    vault = tmp_path / "vault"
    with pytest.raises(IntegrityError, match="changed while it was being imported"):
        stage_copy(vault, src, "f" * 64)
    assert list((vault / "ff").iterdir()) == []


def test_altered_vault_file_blocks_reuse(tmp_path: Path) -> None:
    src, sha = _src(tmp_path)
    vault = tmp_path / "vault"
    staged = stage_copy(vault, src, sha)
    staged.commit()
    os.chmod(staged.final_path, 0o644)
    staged.final_path.write_bytes(b"tampered")
    with pytest.raises(IntegrityError, match="ALTERED"):
        stage_copy(vault, src, sha)


def test_commit_when_another_import_placed_the_file_first(tmp_path: Path) -> None:
    """Two imports of the same bytes staged concurrently: the second keeps the first's file."""
    src, sha = _src(tmp_path)
    vault = tmp_path / "vault"
    a = stage_copy(vault, src, sha)
    b = stage_copy(vault, src, sha)
    a.commit()
    b.commit()
    assert b.existed and b.temp_path is None
    b.discard()  # b's transaction failed: a's file must survive
    assert a.final_path.exists()
    assert sorted(p.name for p in (vault / sha[:2]).iterdir()) == [a.final_path.name]


def test_commit_refuses_when_shared_file_vanished(tmp_path: Path) -> None:
    src, sha = _src(tmp_path)
    vault = tmp_path / "vault"
    stage_copy(vault, src, sha).commit()
    shared = stage_copy(vault, src, sha)
    os.chmod(shared.final_path, 0o644)
    shared.final_path.unlink()
    with pytest.raises(IntegrityError, match="disappeared"):
        shared.commit()
