"""Declared models: id, file, sha256 and model card; verified before every load.

Every model has a declaration in ``models/<id>/manifest.json`` and a ``MODEL_CARD.md``::

    {"id": "traits-v1", "files": {"heads.npz": "<sha256>", ...}, "card": "MODEL_CARD.md", ...}

Weights shipped inside a third-party wheel (resemblyzer's encoder, silero's VAD) are
listed under ``"location"`` in their manifest and their sha256 is also pinned in the
loading code; ``tests/test_model_declarations.py`` keeps the two identical. Loading code
calls :func:`verified_path` and gets a path only if the file's bytes match.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from s2f_desktop.core.errors import ModelIntegrityError
from s2f_desktop.core.hashing import file_sha256
from s2f_desktop.system.env import models_dir


@dataclass(frozen=True)
class ModelSpec:
    """One declared model artifact."""

    id: str
    path: Path
    sha256: str
    card: Path | None = None
    meta: dict[str, Any] | None = None

    def as_record(self) -> dict[str, str]:
        """What is stored with every result that used this model."""
        return {"id": self.id, "file": self.path.name, "sha256": self.sha256}


def sha256_of(path: Path) -> str:
    """Hex sha256 of a file (the one definition: :func:`s2f_desktop.core.hashing.file_sha256`)."""
    return file_sha256(path)


_verified: dict[tuple[str, float, int], str] = {}


def verified_path(spec: ModelSpec) -> Path:
    """Return ``spec.path`` after checking its sha256; raise ModelIntegrityError otherwise."""
    p = spec.path
    if not p.is_file():
        raise ModelIntegrityError(f"model {spec.id}: file {p} is missing; reinstall s2f-desktop")
    st = p.stat()
    key = (str(p), st.st_mtime, st.st_size)
    actual = _verified.get(key) or sha256_of(p)
    if actual != spec.sha256:
        raise ModelIntegrityError(
            f"model {spec.id}: {p.name} does not match its declared sha256 (tampered or corrupt); refusing to load"
        )
    _verified[key] = actual
    return p


def load_manifest(model_id: str, root: Path | None = None) -> dict[str, Any]:
    """Read ``models/<model_id>/manifest.json``."""
    path = (root or models_dir()) / model_id / "manifest.json"
    if not path.is_file():
        raise ModelIntegrityError(f"model {model_id}: manifest {path} is missing; reinstall s2f-desktop")
    manifest: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return manifest


def spec_from_manifest(model_id: str, filename: str, root: Path | None = None) -> ModelSpec:
    """The declaration of one file of a project model."""
    base = (root or models_dir()) / model_id
    manifest = load_manifest(model_id, root)
    try:
        sha = manifest["files"][filename]
    except KeyError as exc:
        raise ModelIntegrityError(f"model {model_id}: {filename} is not declared in its manifest") from exc
    card = base / manifest.get("card", "MODEL_CARD.md")
    return ModelSpec(model_id, base / filename, sha, card if card.exists() else None, manifest)
