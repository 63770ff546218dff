"""Error hierarchy.

Every error an analyst can cause or fix derives from :class:`S2FError` and carries a
one-line, human-readable message: the CLI prints it to stderr and the GUI shows it in
a dialog. Anything else reaching the top level is a bug and is logged with a traceback.
"""

from __future__ import annotations


class S2FError(Exception):
    """Base class for expected, user-facing errors (one-line message)."""

    exit_code: int = 1

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:  # pragma: no cover - trivial
        return self.message


class InputError(S2FError):
    """Bad user input: unknown case, malformed time range, bad option value."""

    exit_code = 2


class NotFoundError(InputError):
    """A referenced object (case, evidence, segment, run) does not exist."""


class MediaError(S2FError):
    """A file is missing, empty, truncated, not audio, or in an unsupported format."""

    exit_code = 3


class IntegrityError(S2FError):
    """Stored evidence, audit chain or model weights fail verification."""

    exit_code = 4


class ModelIntegrityError(IntegrityError):
    """A declared model file is missing or its sha256 differs from the declaration."""


class DeviceError(S2FError):
    """An audio or compute device is missing or failed."""

    exit_code = 5


class CancelledError(S2FError):
    """Long-running work was cancelled by the user or superseded by a newer request."""

    exit_code = 130

    def __init__(self, message: str = "cancelled") -> None:
        super().__init__(message)
