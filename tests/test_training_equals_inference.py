"""Issue 13: the trainer's features of a clip are exactly what ``s2f analyze`` computes for it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest


@pytest.mark.needs_data
def test_trainer_and_analyze_compute_identical_features(shared_data: Path) -> None:
    from s2f_desktop.audio.decode import open_audio
    from s2f_desktop.inference.analyzer import Part, _acoustics, get_analyzer
    from s2f_desktop.inference.embedding import get_encoder
    from s2f_desktop.training.features import clip_features

    path = shared_data / "librispeech-test-other-10x10" / "367" / "367-130732-0002.flac"
    trainer = clip_features(path, "clean", get_encoder("cpu"))
    assert trainer.features is not None

    # What `s2f analyze FILE` does (services.analysis.analyze_file): decode the whole file, one part.
    with open_audio(path) as src:
        x, sr = src.read(0, src.frames, channel="mix"), src.sample_rate
    an = get_analyzer("cpu")
    analysis, embeddings = an.analyze([Part(path.name, x, sr)])
    assert np.array_equal(embeddings[path.name], trainer.features.embedding)
    # Compared in the typed form the run stores (the analyzer's own converters, same rounding).
    assert analysis.pooled.acoustics == _acoustics(trainer.features.acoustics)
    assert analysis.pooled.quality == trainer.quality.to_result()
    assert analysis.parts[0].speech_regions == tuple((round(a, 3), round(b, 3)) for a, b in trainer.regions)
    # The head inputs are the same vector, so the estimate is the same number.
    est = an.heads.estimate(trainer.features, quality_verdict=trainer.quality.verdict,
                            net_speech_s=trainer.quality.net_speech_s, device=an.device)
    assert analysis.pooled.traits.sex.p_male == est.sex.p_male
    assert analysis.pooled.traits.age.median_years == est.age.median_years


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
