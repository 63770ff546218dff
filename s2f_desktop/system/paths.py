"""Safe output files: never overwrite what the user owns, never half-write, never leak temp files.

Every file the app writes outside its own store (a PDF report, a custody receipt, an
export) goes through :func:`check_output_path` and :class:`StagedOutput`:

* an existing file is refused unless the caller passes ``force``; a folder, a device, a
  FIFO or a socket is refused always;
* a path inside a protected folder (the data directory: database, vault, composites) or
  naming a protected file (an evidence original) is refused *even with force*, after
  resolving symbolic links and comparing inodes, so a link or a second hard link does
  not get around it;
* the bytes are written to a temporary file in the target folder and moved into place
  atomically (``os.link`` when not forcing, so a file that appears meanwhile is still
  not replaced; ``os.replace`` with force);
* every temporary file is entered in a small journal under the data directory
  (``.pending/<pid>-*.json``) before it is created and removed from it after. A process
  killed with ``kill -9`` or a power loss leaves its journal entry behind; the next start
  (:func:`sweep_leftovers`) removes the temporary files of processes no longer alive.

SIGTERM and SIGHUP are turned into :class:`Terminated` (a ``KeyboardInterrupt``) by
:func:`install_termination_handlers`, so the same ``finally`` blocks that clean up after
Ctrl-C run on those signals too.
"""

from __future__ import annotations

import json
import os
import signal
import stat
import tempfile
import time
from pathlib import Path
from types import FrameType
from typing import Iterable, Sequence

from s2f_desktop.core.errors import InputError, S2FError

#: The process's umask, read once at import (reading it means setting it, which is not safe while
#: other threads create files): written outputs get the permissions any new file of the user would.
_UMASK = os.umask(0o022)
os.umask(_UMASK)

JOURNAL_DIR = ".pending"
#: Leftover temp files without a journal entry (written by older versions) are removed when
#: older than this; younger ones may belong to a running import and are only reported.
STALE_AFTER_S = 6 * 3600


class OutputError(S2FError):
    """An output file could not be written (full disk, no permission, read-only folder): exit 4."""

    exit_code = 4


def write_failure(target: Path, exc: OSError) -> OutputError:
    """One plain line for a failed write, naming the real cause."""
    import errno

    if exc.errno == errno.ENOSPC:
        return OutputError(f"the disk holding {target.parent} is full; {target.name} was not written")
    if exc.errno == errno.EROFS:
        return OutputError(f"{target.parent} is on read-only media; {target.name} was not written")
    return OutputError(f"could not write {target}: {exc.strerror or exc}")


class Terminated(KeyboardInterrupt):
    """SIGTERM/SIGHUP received: unwinds like Ctrl-C so cleanup code runs."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


def _raise_terminated(signum: int, _frame: FrameType | None) -> None:
    raise Terminated(signum)


def install_termination_handlers() -> None:
    """Make SIGTERM and SIGHUP raise :class:`Terminated` in the main thread (CLI entry point)."""
    for name in ("SIGTERM", "SIGHUP"):
        sig = getattr(signal, name, None)
        if sig is not None:
            try:
                signal.signal(sig, _raise_terminated)
            except (ValueError, OSError):  # not the main thread, or not supported here
                pass


# ------------------------------------------------------------------ output checks
def _inside(path: Path, folder: Path) -> bool:
    try:
        folder = folder.resolve()
    except OSError:
        return False
    return path == folder or folder in path.parents


def check_output_path(out: Path, *, force: bool = False, protected_dirs: Sequence[Path] = (),
                      protected_files: Iterable[Path] = (), allowed_dirs: Sequence[Path] = ()) -> Path:
    """Validate a user-chosen output path; returns it (absolute, links resolved) or raises InputError.

    ``allowed_dirs`` are exceptions inside ``protected_dirs`` (the data directory's own
    ``reports`` folder); the no-overwrite rule still applies there.
    """
    out = Path(out).expanduser()
    try:
        target = out.resolve()
    except (OSError, RuntimeError) as exc:
        raise InputError(f"cannot use {out} as an output file ({exc})") from exc
    if target.exists() or out.is_symlink():
        try:
            st = os.stat(target)
        except OSError as exc:
            raise InputError(f"cannot use {out} as an output file ({exc.strerror or exc})") from exc
        if stat.S_ISDIR(st.st_mode):
            raise InputError(f"{out} is a folder; give a file name")
        if not stat.S_ISREG(st.st_mode):
            raise InputError(f"{out} is not a regular file (a device, pipe or socket); refusing to write to it")
    for folder in protected_dirs:
        if _inside(target, folder) and not any(_inside(target, a) for a in allowed_dirs):
            raise InputError(f"refusing to write {out}: it is inside {folder} (case data is never overwritten, "
                             "not even with --force); choose a folder outside it")
    exists = target.exists()
    for pf in protected_files:
        pf = Path(pf)
        try:
            same = pf.resolve() == target or (exists and pf.exists() and os.path.samefile(pf, target))
        except OSError:
            same = False
        if same:
            raise InputError(f"refusing to write {out}: it is an evidence original ({pf.name}); originals are never "
                             "overwritten, not even with --force")
    if exists and not force:
        raise InputError(f"{out} already exists; choose another name or pass --force to replace it")
    return target


# ------------------------------------------------------------------------ journal
class TempJournal:
    """Journal of temporary files in progress (one small JSON file per temp file)."""

    def __init__(self, data_root: Path) -> None:
        self.folder = Path(data_root) / JOURNAL_DIR

    def register(self, temp_path: Path) -> Path | None:
        """Record ``temp_path`` as being written by this process; returns the entry (None if not writable)."""
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            fd, name = tempfile.mkstemp(prefix=f"{os.getpid()}-", suffix=".json", dir=self.folder)
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump({"pid": os.getpid(), "path": str(temp_path), "created": time.time()}, fh)
                fh.flush()
                os.fsync(fh.fileno())
            return Path(name)
        except OSError:
            return None

    @staticmethod
    def release(entry: Path | None) -> None:
        """Forget an entry (its temp file is gone or was renamed into place)."""
        if entry is not None:
            try:
                entry.unlink()
            except OSError:
                pass


def pid_alive(pid: int) -> bool:
    """Whether a process with this id exists (PermissionError means it does, under another user)."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    except OSError:
        return False
    return True


def temp_name_pid(name: str) -> int | None:
    """The pid embedded in a temp file name (``.import-<pid>-xxxx``), or None for older names."""
    parts = name.split("-")
    if len(parts) >= 3 and parts[1].isdigit():
        return int(parts[1])
    return None


def sweep_leftovers(data_root: Path, vault: Path, reports: Path) -> list[str]:
    """Remove temporary files left by processes that died (kill -9, power loss); returns what was done.

    Journal entries of dead processes: their temp file is removed, then the entry.
    Vault ``.import-*`` and report ``.report-*`` files not in any journal: removed when the
    pid in their name is dead, or (older names without a pid) when older than
    :data:`STALE_AFTER_S`; otherwise reported only.
    """
    done: list[str] = []
    journal = Path(data_root) / JOURNAL_DIR
    if journal.is_dir():
        for entry in sorted(journal.glob("*.json")):
            try:
                info = json.loads(entry.read_text(encoding="utf-8"))
                pid, path = int(info["pid"]), Path(info["path"])
            except (OSError, ValueError, KeyError, TypeError):
                if pid_alive(temp_name_pid("x-" + entry.name) or 0):
                    continue
                entry.unlink(missing_ok=True)
                continue
            if pid_alive(pid):  # still running (this process included): its file is in use
                continue
            if path is not None and path.exists():
                try:
                    _unlink_any(path)
                    done.append(f"removed {path} (left by process {pid}, which ended without cleaning up)")
                except OSError as exc:
                    done.append(f"could not remove {path} ({exc.strerror or exc})")
                    continue
            entry.unlink(missing_ok=True)
    now = time.time()
    candidates = list(Path(vault).glob("*/.import-*")) if Path(vault).is_dir() else []
    if Path(reports).is_dir():
        candidates += list(Path(reports).glob(".report-*"))
    for p in candidates:
        owner = temp_name_pid(p.name)
        try:
            age = now - p.stat().st_mtime
        except OSError:
            continue
        dead = (owner is not None and not pid_alive(owner)) or (owner is None and age > STALE_AFTER_S)
        if dead:
            try:
                _unlink_any(p)
                done.append(f"removed {p} (an interrupted {'import' if '.import-' in p.name else 'report'})")
            except OSError as exc:
                done.append(f"could not remove {p} ({exc.strerror or exc})")
        elif owner is None:
            done.append(f"found {p}: an unfinished temporary file (removed at a later start if still there)")
    return done


def _unlink_any(p: Path) -> None:
    try:
        p.unlink()
    except PermissionError:
        os.chmod(p, stat.S_IRUSR | stat.S_IWUSR)
        p.unlink()


# --------------------------------------------------------------- staged output
class StagedOutput:
    """A temporary file beside ``target``; :meth:`place` moves it into place, :meth:`discard` removes it.

    Use as a context manager: leaving the block without :meth:`place` (an error, Ctrl-C,
    SIGTERM) removes the temporary file and its journal entry.
    """

    def __init__(self, target: Path, *, force: bool, journal: TempJournal | None, prefix: str = ".out-") -> None:
        self.target = Path(target)
        self.force = force
        self._journal = journal
        self._entry: Path | None = None
        try:
            self.target.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise write_failure(self.target, exc) from exc
        suffix = self.target.suffix
        try:
            fd, name = tempfile.mkstemp(prefix=f"{prefix}{os.getpid()}-", suffix=suffix, dir=self.target.parent)
        except OSError as exc:
            raise write_failure(self.target, exc) from exc
        os.close(fd)
        self.path = Path(name)
        try:  # mkstemp makes the file private (0600); the placed file gets the mode any new file would
            os.chmod(self.path, 0o666 & ~_UMASK)
        except OSError:
            pass
        # The pid in the name lets a later start tell a dead process's file from a live one's.
        self._entry = journal.register(self.path) if journal is not None else None

    def place(self) -> Path:
        """Move the finished temp file to the target (refusing, without force, a file that appeared meanwhile)."""
        try:
            with open(self.path, "rb") as fh:
                os.fsync(fh.fileno())
            if self.force:
                os.replace(self.path, self.target)
            else:
                try:
                    os.link(self.path, self.target)
                except FileExistsError as exc:
                    raise InputError(f"{self.target} appeared while it was being written; nothing was replaced") \
                        from exc
                except OSError:
                    # File systems without hard links (FAT, some network shares): check, then rename.
                    if self.target.exists():
                        raise InputError(f"{self.target} appeared while it was being written; nothing was replaced")
                    os.replace(self.path, self.target)
                else:
                    self.path.unlink()
        except OSError as exc:
            self.discard()
            raise write_failure(self.target, exc) from exc
        except BaseException:
            self.discard()
            raise
        TempJournal.release(self._entry)
        self._entry = None
        return self.target

    def discard(self) -> None:
        """Remove the temp file and its journal entry."""
        try:
            self.path.unlink(missing_ok=True)
        except OSError:
            pass
        TempJournal.release(self._entry)
        self._entry = None

    def __enter__(self) -> "StagedOutput":
        return self

    def __exit__(self, *exc: object) -> None:
        if self.path.exists():
            self.discard()
        else:
            TempJournal.release(self._entry)
            self._entry = None
