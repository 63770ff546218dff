"""Content-addressed, read-only evidence vault.

A vault file lives at ``vault/<sha[:2]>/<sha><ext>``: the name *is* the content hash,
so two imports of the same bytes share one file and a changed byte is detectable by
re-hashing. The original's extension is kept because some decoders use it as a hint.
Files are made read-only after the copy; the original is only ever opened for reading.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import stat
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from s2f_desktop.core.errors import IntegrityError, MediaError
from s2f_desktop.system.faults import fault_point

CHUNK = 1 << 20


def sha256_file(path: Path, on_bytes: Callable[[int], None] | None = None) -> tuple[str, int]:
    """Stream-hash a file; returns ``(hexdigest, size)``."""
    h = hashlib.sha256()
    size = 0
    with open(path, "rb") as fh:
        while chunk := fh.read(CHUNK):
            h.update(chunk)
            size += len(chunk)
            if on_bytes is not None:
                on_bytes(size)
    return h.hexdigest(), size


def vault_relpath(sha256: str, suffix: str) -> str:
    """Relative vault path for content with this hash."""
    suffix = suffix.lower() if suffix and len(suffix) <= 8 else ""
    return f"{sha256[:2]}/{sha256}{suffix}"


@dataclass
class StagedCopy:
    """A copy made in the vault but not yet committed (see :func:`stage_copy`)."""

    final_path: Path
    temp_path: Path | None
    relpath: str
    existed: bool

    def commit(self) -> None:
        """Move the staged file into place and make it read-only.

        Call it inside the database transaction that records the evidence, as its last
        step, so a failed insert never leaves a file and a failed move never leaves a row.
        """
        if self.temp_path is None:
            if not self.final_path.exists():
                # The shared copy was removed after staging (a concurrent import rolled
                # back): refuse rather than record a row that names no file.
                raise IntegrityError(f"vault file {self.final_path.name} disappeared during the import; import again")
            return
        self.final_path.parent.mkdir(parents=True, exist_ok=True)
        if self.final_path.exists():
            # Another import of the same bytes (another case, another thread) placed the
            # file after we staged ours. Keep theirs, which other rows already name, so a
            # later rollback of *this* import can never delete a file still in use.
            actual, _ = sha256_file(self.final_path)
            if actual != self.final_path.name[:64]:
                raise IntegrityError(f"vault file {self.final_path} exists but is ALTERED; run verify")
            self.temp_path.unlink()
            self.temp_path = None
            self.existed = True
            return
        try:
            os.replace(self.temp_path, self.final_path)
            os.chmod(self.final_path, stat.S_IRUSR | stat.S_IRGRP | stat.S_IROTH)
        except OSError as exc:
            raise MediaError(f"could not place {self.final_path.name} in the vault: {exc.strerror or exc}") from exc
        self.temp_path = None

    def discard(self) -> None:
        """Remove the staged or newly placed file (nothing is left behind)."""
        if self.temp_path is not None and self.temp_path.exists():
            self.temp_path.unlink()
        elif not self.existed and self.final_path.exists():
            os.chmod(self.final_path, stat.S_IRUSR | stat.S_IWUSR)
            self.final_path.unlink()
        self.temp_path = None


def stage_copy(vault_root: Path, source: Path, expected_sha256: str) -> StagedCopy:
    """Copy ``source`` into a temporary vault file and check its hash.

    Raises :class:`IntegrityError` if the copy's hash differs from ``expected_sha256``
    (the source changed while being imported, or the disk corrupted the copy).
    """
    rel = vault_relpath(expected_sha256, source.suffix)
    final = vault_root / rel
    # One file per content: the same bytes imported under another extension reuse it.
    if not final.exists() and final.parent.is_dir():
        for other in sorted(final.parent.glob(f"{expected_sha256}*")):
            if other.is_file() and not other.name.startswith("."):
                final, rel = other, f"{expected_sha256[:2]}/{other.name}"
                break
    if final.exists():
        actual, _ = sha256_file(final)
        if actual == expected_sha256:
            return StagedCopy(final, None, rel, existed=True)
        raise IntegrityError(f"vault file {final} exists but is ALTERED; run verify before importing more evidence")
    final.parent.mkdir(parents=True, exist_ok=True)
    # The pid in the name lets the next start tell a dead import's leftover from a running one.
    fd, tmp_name = tempfile.mkstemp(prefix=f".import-{os.getpid()}-", dir=final.parent)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as out, open(source, "rb") as src:
            shutil.copyfileobj(src, out, CHUNK)
            out.flush()
            os.fsync(out.fileno())
        fault_point("import.copying")
        copied, _ = sha256_file(tmp)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise MediaError(f"could not copy {source.name} into the vault: {exc.strerror or exc}") from exc
    except BaseException:
        # Ctrl-C, SIGTERM/SIGHUP (raised as KeyboardInterrupt by the CLI), cancellation.
        tmp.unlink(missing_ok=True)
        raise
    if copied != expected_sha256:
        tmp.unlink(missing_ok=True)
        raise IntegrityError(
            f"{source.name} changed while it was being imported (hash before and after the copy differ)")
    return StagedCopy(final, tmp, rel, existed=False)
