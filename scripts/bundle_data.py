"""What of the repository goes into the PyInstaller bundle (used by installer.spec, tested).

``models/`` and ``resources/`` are collected file by file so that training-only files stay
out: the same rule as ``[tool.setuptools.exclude-package-data]`` in pyproject.toml for the
wheel. The licence documents go to the top of the bundle folder, where a recipient looks
for them, and into ``_internal/`` where the application finds them.
"""

from __future__ import annotations

from pathlib import Path

#: Files that name real people's videos with traits inferred from faces, or a person's
#: review of face frames: needed to re-train, never shipped.
TRAINING_ONLY = frozenset({
    "models/traits-v1/teacher_labels.json",
    "s2f_desktop/training/face_review.json",
})
#: Names of training-only files in any model folder (future trait models write the same file).
TRAINING_ONLY_NAMES = frozenset({"teacher_labels.json", "face_review.json"})
#: Generated outside the bundle's needs (completion scripts are installed by `make completion`).
NOT_BUNDLED_DIRS = frozenset({"resources/completion"})


def bundle_datas(root: Path) -> list[tuple[str, str]]:
    """(source file, destination folder inside the bundle) for models/, resources/ and the licences."""
    out: list[tuple[str, str]] = []
    for top in ("models", "resources"):
        for path in sorted((root / top).rglob("*")):
            rel = path.relative_to(root).as_posix()
            if not path.is_file() or "__pycache__" in rel:
                continue
            if rel in TRAINING_ONLY or path.name in TRAINING_ONLY_NAMES:
                continue
            if any(rel.startswith(d + "/") for d in NOT_BUNDLED_DIRS):
                continue
            out.append((str(path), str(Path(rel).parent.as_posix())))
    for name in ("LICENSE", "LICENSING.md"):
        out.append((str(root / name), "."))
    return out


def missing_notices(root: Path) -> bool:
    """True when resources/licenses/THIRD_PARTY_NOTICES.txt has not been generated."""
    return not (root / "resources" / "licenses" / "THIRD_PARTY_NOTICES.txt").is_file()
