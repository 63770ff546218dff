"""Trait heads: integrity checks, abstention rules and the shipped model's declarations."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from s2f_desktop.core.errors import ModelIntegrityError
from s2f_desktop.inference import traits as traits_mod  # noqa: E402
from s2f_desktop.inference.traits import TraitHeads, VoiceFeatures  # noqa: E402
from s2f_desktop.system.env import models_dir
from s2f_desktop.voice.acoustics import AcousticMeasures  # noqa: E402


@pytest.fixture
def models_copy(tmp_path: Path) -> Path:
    """A private copy of the shipped models folder."""
    dst = tmp_path / "models"
    shutil.copytree(models_dir(), dst)
    traits_mod.clear_cache()
    yield dst
    traits_mod.clear_cache()


def _features(f0: float | None = 120.0, voiced: float = 5.0) -> VoiceFeatures:
    e = np.ones(256, np.float32) / 16.0
    vals = {"f0_median": f0, "f0_p5": f0, "f0_p95": f0, "f1": 500.0, "f2": 1500.0, "f3": 2500.0, "hnr": 15.0,
            "jitter_local": 1.0, "shimmer_local": 5.0, "voiced_duration": voiced}
    return VoiceFeatures(e, AcousticMeasures(vals))


def test_manifest_declares_every_file_with_its_sha256() -> None:
    from s2f_desktop.inference.registry import load_manifest, sha256_of

    for model_id in ("traits-v1", "speaker-consistency-v1"):
        man = load_manifest(model_id)
        assert man["id"] == model_id
        for name, sha in man["files"].items():
            assert sha256_of(models_dir() / model_id / name) == sha
        card = (models_dir() / model_id / man["card"]).read_text()
        assert "EER" in card or "ethnicity" in card
    card = (models_dir() / "traits-v1" / "MODEL_CARD.md").read_text()
    assert "No ancestry or ethnicity" in card and "48 %" in card
    size = sum(p.stat().st_size for p in (models_dir() / "traits-v1").iterdir())
    assert size < 5 * 1024 * 1024


def test_weights_load_without_pickle() -> None:
    with np.load(models_dir() / "traits-v1" / "heads.npz", allow_pickle=False) as z:
        assert {"mean", "scale", "sex_w", "sex_b", "age_w", "age_b"} <= set(z.files)


def test_tampered_weights_are_refused(models_copy: Path) -> None:
    w = models_copy / "traits-v1" / "heads.npz"
    data = bytearray(w.read_bytes())
    data[-100] ^= 0xFF
    w.write_bytes(bytes(data))
    with pytest.raises(ModelIntegrityError, match="does not match its declared sha256"):
        TraitHeads("traits-v1", models_copy)


def test_tampered_calibration_and_missing_file_are_refused(models_copy: Path) -> None:
    c = models_copy / "traits-v1" / "calibration.json"
    cal = json.loads(c.read_text())
    cal["sex"]["uncertain_band"] = [0.0, 0.0]
    c.write_text(json.dumps(cal))
    with pytest.raises(ModelIntegrityError, match="calibration.json"):
        TraitHeads("traits-v1", models_copy)
    (models_copy / "traits-v1" / "heads.npz").unlink()
    with pytest.raises(ModelIntegrityError, match="missing"):
        TraitHeads("traits-v1", models_copy)


def test_tampered_speaker_encoder_is_refused(tmp_path: Path) -> None:
    from s2f_desktop.inference.device import resolve_device
    from s2f_desktop.inference.embedding import SpeakerEncoder, resemblyzer_spec
    from s2f_desktop.inference.registry import ModelSpec

    spec = resemblyzer_spec()
    bad = tmp_path / "pretrained.pt"
    data = bytearray(spec.path.read_bytes())
    data[5000] ^= 0x01
    bad.write_bytes(bytes(data))
    with pytest.raises(ModelIntegrityError, match="refusing to load"):
        SpeakerEncoder(resolve_device("cpu"), ModelSpec(spec.id, bad, spec.sha256))


def test_abstention_rules() -> None:
    heads = traits_mod.get_heads()
    ok = heads.estimate(_features(), quality_verdict="ok", net_speech_s=10.0)
    assert 0.0 <= ok.sex.p_male <= 1.0
    # The label follows from the probability and the calibrated uncertain band (no other reason to abstain here).
    band_lo, band_hi = heads.cal["sex"]["uncertain_band"]
    p = heads.p_male(_features().vector())
    expected = "inconclusive" if band_lo <= p <= band_hi else ("male" if p > 0.5 else "female")
    assert ok.sex.label == expected and ok.sex.p_male == round(p, 4)
    lo, hi = ok.age.interval_80
    assert lo <= ok.age.median_years <= hi
    assert sum(ok.age.bin_probabilities.values()) == pytest.approx(1.0, abs=1e-3)
    bad = heads.estimate(_features(), quality_verdict="insufficient", net_speech_s=10.0)
    assert bad.sex.label == bad.age.label == "inconclusive" and "quality" in bad.sex.reason
    short = heads.estimate(_features(), quality_verdict="ok", net_speech_s=0.5)
    assert short.sex.label == "inconclusive" and "0.5 s of speech" in short.sex.reason
    unvoiced = heads.estimate(_features(f0=None, voiced=0.0), quality_verdict="ok", net_speech_s=10.0)
    assert unvoiced.sex.label == "inconclusive"


def test_uncertain_band_abstains(monkeypatch: pytest.MonkeyPatch) -> None:
    heads = traits_mod.get_heads()
    band = heads.cal["sex"]["uncertain_band"]
    monkeypatch.setattr(heads, "p_male", lambda x: (band[0] + band[1]) / 2)
    est = heads.estimate(_features(), quality_verdict="ok", net_speech_s=10.0)
    assert est.sex.label == "inconclusive" and "uncertain band" in est.sex.reason
    # The band is printed as calibrated (e.g. 0.075-0.925, never rounded to 0.07-0.93).
    assert est.sex.reason.endswith(f"uncertain band {band[0]:g}-{band[1]:g}") and f"{band[0]:g}" in est.sex.reason
    monkeypatch.setattr(heads, "p_male", lambda x: min(1.0, band[1] + 0.05))
    assert heads.estimate(_features(), quality_verdict="ok", net_speech_s=10.0).sex.label == "male"
    monkeypatch.setattr(heads, "p_male", lambda x: max(0.0, band[0] - 0.05))
    assert heads.estimate(_features(), quality_verdict="ok", net_speech_s=10.0).sex.label == "female"


def test_age_answer_is_the_interval_with_p40_and_baseline(monkeypatch: pytest.MonkeyPatch) -> None:
    """Issue 13: no band label without cross-source validation; P(40+) and the median baseline ride along."""
    heads = traits_mod.get_heads()
    assert heads.cal["age"]["band_labels"] is False
    est = heads.estimate(_features(), quality_verdict="ok", net_speech_s=10.0)
    assert est.age.label == "inconclusive" and "could not be validated" in est.age.reason
    bins = est.age.bin_probabilities
    assert est.extra["age_p_40_plus"] == pytest.approx(bins["40-59"] + bins[">=60"], abs=1e-3)
    base = est.extra["age_baseline"]
    assert base["median_years"] == heads.cal["age"]["baseline"]["median_years"]
    lo, hi = base["interval_80_years"]
    assert lo < base["median_years"] < hi
    # With band labels switched on (a model whose bands were validated), the old rule applies.
    monkeypatch.setitem(heads.cal["age"], "band_labels", True)
    monkeypatch.setitem(heads.cal["age"], "min_bin_probability", 0.0)
    labelled = heads.estimate(_features(), quality_verdict="ok", net_speech_s=10.0)
    assert labelled.age.label == max(bins, key=lambda k: bins[k])


def test_age_head_uses_the_embedding_in_years() -> None:
    """The shipped age head: ridge on the GE2E embedding only (Praat measures carry zero weight)."""
    heads = traits_mod.get_heads()
    assert heads.cal["age"]["target"] == "years" and heads.cal["age"]["inputs"] == "embedding"
    assert np.all(heads.w["age_w"][256:] == 0.0) and np.any(heads.w["age_w"][:256] != 0.0)
