"""Issue 13: the trainer's features of a clip are exactly what ``s2f analyze`` computes for it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest


@pytest.mark.needs_data
def test_trainer_and_analyze_compute_identical_features(shared_data: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Through `s2f analyze FILE`'s own service (decoding, channel mixing, the analyzer), the heads receive the
    very vector the trainer computed for the clip, bit for bit, before any rounding."""
    from s2f_desktop.inference.analyzer import _acoustics, get_analyzer
    from s2f_desktop.inference.embedding import get_encoder
    from s2f_desktop.services.analysis import analyze_file
    from s2f_desktop.training.features import clip_features

    path = shared_data / "librispeech-test-other-10x10" / "367" / "367-130732-0002.flac"
    trainer = clip_features(path, "clean", get_encoder("cpu"))
    assert trainer.features is not None

    an = get_analyzer("cpu")  # the instance analyze_file uses (cached per device)
    seen: list = []
    estimate = an.heads.estimate
    monkeypatch.setattr(an.heads, "estimate", lambda feats, **kw: seen.append(feats) or estimate(feats, **kw))
    fa = analyze_file(path, device="cpu")
    (feats,) = seen  # one file, one part: the pooled features are the part's
    assert np.array_equal(feats.embedding, trainer.features.embedding)
    assert np.array_equal(feats.vector(), trainer.features.vector())  # the heads' whole input, unrounded
    # And what is stored and printed, in the typed form a run keeps (the analyzer's own converters).
    analysis = fa.analysis
    assert analysis.pooled.acoustics == _acoustics(trainer.features.acoustics)
    assert analysis.pooled.quality == trainer.quality.to_result()
    assert analysis.parts[0].speech_regions == tuple((round(a, 3), round(b, 3)) for a, b in trainer.regions)
    est = estimate(trainer.features, quality_verdict=trainer.quality.verdict,
                   net_speech_s=trainer.quality.net_speech_s, device=an.device)
    assert analysis.pooled.traits == est


@pytest.mark.needs_data
def test_telephone_variant_goes_through_the_same_path(shared_data: Path) -> None:
    from s2f_desktop.inference.embedding import get_encoder
    from s2f_desktop.inference.features import decode_mono, part_features
    from s2f_desktop.training.features import clip_features
    from s2f_desktop.voice.channel import telephone_band

    path = shared_data / "librispeech-test-other-10x10" / "367" / "367-130732-0002.flac"
    enc = get_encoder("cpu")
    t = clip_features(path, "telephone", enc)
    x, sr = decode_mono(path)
    direct = part_features(telephone_band(x, sr), sr, enc)
    assert np.array_equal(t.features.embedding, direct.features.embedding)
    assert t.quality.telephone_band  # the gate sees the simulated channel and marks F3/F4 unreliable
    assert t.features.acoustics.band_limited
