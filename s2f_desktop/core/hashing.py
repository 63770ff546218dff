"""File hashing: one definition (``hashlib.file_digest``) for evidence, models, images and reports."""

from __future__ import annotations

import hashlib
from pathlib import Path


def file_sha256(path: Path | str) -> str:
    """SHA-256 (hex) of a file's bytes, streamed."""
    with open(path, "rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()
