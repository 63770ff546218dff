"""The degradation study of the trait heads (issue 13): the noisy and shortened copies it scores,
the gate's named checks it lifts one at a time, and its binning."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from s2f_desktop.audio.quality import assess, failed_checks

SR = 16000


def _bursts(snr_db: float, bursts: int = 4, clip: bool = False) -> tuple[np.ndarray, list[tuple[float, float]]]:
    """6 s of 1 s tone bursts every 1.5 s (``bursts`` of them) in white noise at ``snr_db``."""
    t = np.arange(int(SR * 6.0)) / SR
    on = ((t % 1.5) < 1.0) & (t < 1.5 * bursts)
    x = np.sqrt(2) * 0.1 * np.sin(2 * np.pi * 440 * t) * on
    x = x + np.sqrt(0.01 / 10 ** (snr_db / 10)) * np.random.default_rng(1).standard_normal(t.size)
    if clip:
        x = np.clip(10.0 * x, -1.0, 1.0)
    regions = [(k * 1.5, k * 1.5 + 1.0) for k in range(bursts)]
    return x.astype(np.float32), regions


@pytest.mark.parametrize(("snr", "bursts", "clip", "expect"), [
    (30.0, 4, False, ()), (5.0, 4, False, ("snr",)), (30.0, 2, False, ("net_speech",)),
    (5.0, 2, False, ("net_speech", "snr")), (30.0, 4, True, ("clipping",))])
def test_failed_checks_name_exactly_the_reasons_of_insufficient(snr: float, bursts: int, clip: bool,
                                                                 expect: tuple[str, ...]) -> None:
    x, regions = _bursts(snr, bursts, clip)
    q = assess(x, SR, regions)
    assert failed_checks(q) == expect
    assert (q.verdict == "insufficient") == bool(expect)
    assert sum("minimum" in r or "maximum" in r for r in q.reasons) == len(expect)


@pytest.mark.needs_data
@pytest.mark.parametrize("kind", ["pink", "speech-shaped"])
def test_noise_is_added_at_the_level_the_gate_then_measures(shared_data: Path, kind: str) -> None:
    from s2f_desktop.inference.features import decode_mono, speech_regions
    from s2f_desktop.training.degrade import add_noise

    x, sr = decode_mono(sorted((shared_data / "librispeech-train-clean-251").glob("*.flac"))[7])
    assert assess(x, sr, speech_regions(x, sr)).snr_db > 30.0  # clean enough that its own noise does not count
    for target in (10.0, 0.0):
        y = add_noise(x, sr, kind, target, seed=5)
        assert np.array_equal(y, add_noise(x, sr, kind, target, seed=5))  # seeded: a rerun mixes the same
        assert np.max(np.abs(y)) <= 0.99  # levelled, never clipped by the mixing
        est = assess(y, sr, speech_regions(y, sr)).snr_db
        assert est == pytest.approx(target, abs=2.5)


@pytest.mark.needs_data
def test_a_cut_keeps_the_asked_net_speech(shared_data: Path) -> None:
    from s2f_desktop.inference.features import decode_mono, speech_regions
    from s2f_desktop.training.degrade import cut_to_speech, degrade

    x, sr = decode_mono(sorted((shared_data / "librispeech-train-clean-251").glob("*.flac"))[3])
    for n in (2.0, 3.0):
        y = degrade(x, sr, f"speech-{n:g}s", "clip")
        assert len(y) < len(x)
        assert assess(y, sr, speech_regions(y, sr)).net_speech_s == pytest.approx(n, abs=0.35)
    assert len(cut_to_speech(x, sr, 1000.0)) == len(x)  # less speech than asked: the clip as it is
    with pytest.raises(ValueError):
        degrade(x, sr, "reverb-1s", "clip")


def _feats(n: int, values: list[float], key: str, failed: list[list[str]], ok: np.ndarray) -> dict[str, Any]:
    return {"ok": ok, "x": np.zeros((n, 2)),
            "gate_inputs": [(2.0, 150.0, "ok", 5.0)] * n,
            "quality": [{key: v, "net_speech_s": 5.0, "snr_db": 30.0, "failed": f, **{key: v}}
                        for v, f in zip(values, failed)]}


def test_degradation_bins_score_what_the_gate_measures_with_only_one_check_lifted() -> None:
    from s2f_desktop.training.traits_train import FOLDS, degradation_metrics

    n = 200
    rng = np.random.default_rng(0)
    sex = np.tile([0.0, 1.0], n // 2)
    folds = np.arange(n) % FOLDS
    groups = np.array([f"yt:{i}" for i in range(n)])
    ok = np.ones(n, bool)
    logit = np.where(sex == 1, 2.0, -2.0) + rng.normal(0, 1.0, n)  # some errors: a band wider than nothing
    age = np.full(n, 30.0)
    oof_sex = {"clean": logit, "telephone": logit, "noise-pink-5db": logit * 0.2}
    oof_age = {v: np.full(n, 30.0) + rng.normal(0, 3, n) for v in oof_sex}
    clean = _feats(n, [30.0] * n, "snr_db", [[]] * n, ok)
    # Noisy copies measure 7 dB (failing only the SNR check), except the last ten, which also fail net speech.
    noisy = _feats(n, [7.0] * n, "snr_db", [["snr"]] * (n - 10) + [["snr", "net_speech"]] * 10, ok)
    out = degradation_metrics({"noise-pink-5db": noisy}, {"clean": clean, "telephone": clean}, oof_sex, oof_age,
                              ("clean", "telephone"), sex, age, groups, folds, ok, np.ones(n, bool),
                              np.ones(n, bool), n_boot=20)
    assert set(out) == {"snr"}  # no cut variants given: no net-speech study
    bins = {b["bin"]: b for b in out["snr"]["bins"]}
    assert bins["5-10 dB"]["conditions"] == {"noise-pink-5db": n - 10}
    assert bins[">= 20 dB"]["conditions"] == {"clean": n}
    s = bins["5-10 dB"]["sex"]
    assert s["female"]["n"] + s["male"]["n"] == n - 10
    # Weaker logits abstain more often than the clean ones.
    clean_abst = bins[">= 20 dB"]["sex"]["female"]["abstention_rate"]["value"]
    assert s["female"]["abstention_rate"]["value"] > clean_abst
    assert bins["5-10 dB"]["age"]["n"] == n - 10 and 0.0 <= bins["5-10 dB"]["age"]["coverage_80"]["value"] <= 1.0
    assert bins["0-5 dB"]["sex"] == {} and "age" not in bins["0-5 dB"]


def _study_inputs(seed: int, n: int = 200) -> tuple[int, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """n clips, women and men alternating, spread over the folds, all with features, and sex logits with
    some errors (so the band is wider than nothing)."""
    from s2f_desktop.training.traits_train import FOLDS

    sex = np.tile([0.0, 1.0], n // 2)
    logit = np.where(sex == 1, 2.0, -2.0) + np.random.default_rng(seed).normal(0, 1.0, n)
    return n, sex, np.arange(n) % FOLDS, np.ones(n, bool), logit


def test_a_cut_is_scored_only_when_it_shortened_a_clip_that_passes_the_gate() -> None:
    from s2f_desktop.training.traits_train import degradation_metrics

    n, sex, folds, ok, logit = _study_inputs(1)
    oof_sex = {"clean": logit, "telephone": logit, "speech-3s": logit}
    oof_age = {v: np.full(n, 30.0) for v in oof_sex}
    # The last 20 clips hold 3.02 s of speech: a 3 s cut leaves them as they are (the clean row again).
    clean_net = [5.0] * (n - 20) + [3.02] * 20
    clean = _feats(n, clean_net, "net_speech_s", [[]] * n, ok)
    cut = _feats(n, [2.9] * n, "net_speech_s", [["net_speech"]] * n, ok)
    out = degradation_metrics({"speech-3s": cut}, {"clean": clean, "telephone": clean}, oof_sex, oof_age,
                              ("clean", "telephone"), sex, np.full(n, 30.0), np.array([f"yt:{i}" for i in range(n)]),
                              folds, ok, np.ones(n, bool), np.ones(n, bool), n_boot=20)
    bins = {b["bin"]: b for b in out["net_speech"]["bins"]}
    assert bins["2.5-3 s"]["conditions"] == {"speech-3s": n - 20}
    assert bins["2.5-3 s"]["clips"] == {"female": (n - 20) // 2, "male": (n - 20) // 2}
    assert bins["4.5-6 s"]["conditions"] == {"clean": n - 20} and bins["3-3.5 s"]["conditions"] == {"clean": 20}


@pytest.mark.parametrize("percent", [0.5, 2.0, 5.0])
def test_hard_clipping_clips_the_asked_share_as_the_gate_counts_it(percent: float) -> None:
    from s2f_desktop.training.degrade import degrade, hard_clip

    x, regions = _bursts(30.0)
    y = degrade(x, SR, f"clip-{percent:g}pct", "clip")
    assert np.array_equal(y, hard_clip(x, percent)) and np.max(np.abs(y)) <= 1.0
    q = assess(y, SR, regions)
    assert q.clipping_fraction * 100 == pytest.approx(percent, rel=0.15)  # plus samples within 0.1 % of full scale
    assert ("clipping" in failed_checks(q)) == (percent > 1.0)
    assert np.array_equal(hard_clip(np.zeros(100, np.float32), 2.0), np.zeros(100, np.float32))  # silence stays


def test_the_clipping_study_bins_by_the_measured_share_in_percent() -> None:
    from s2f_desktop.training.traits_train import degradation_metrics

    n, sex, folds, ok, logit = _study_inputs(2)
    oof_sex = {"clean": logit, "telephone": logit, "clip-2pct": logit, "clip-0.5pct": logit}
    oof_age = {v: np.full(n, 30.0) for v in oof_sex}
    clean = _feats(n, [0.0] * n, "clipping_fraction", [[]] * n, ok)
    # Half the clean records predate the clipping field: they are left out of the study, not binned as 0 %.
    for q in clean["quality"][: n // 2]:
        del q["clipping_fraction"]
    half = _feats(n, [0.005] * n, "clipping_fraction", [[]] * n, ok)
    two = _feats(n, [0.02] * n, "clipping_fraction", [["clipping"]] * (n - 10) + [["clipping", "snr"]] * 10, ok)
    out = degradation_metrics({"clip-0.5pct": half, "clip-2pct": two}, {"clean": clean, "telephone": clean},
                              oof_sex, oof_age, ("clean", "telephone"), sex, np.full(n, 30.0),
                              np.array([f"yt:{i}" for i in range(n)]), folds, ok, np.ones(n, bool),
                              np.ones(n, bool), n_boot=20)
    bins = {b["bin"]: b for b in out["clipping"]["bins"]}
    assert out["clipping"]["lifted_check"] == "clipping"
    assert bins["0-0.1 %"]["conditions"] == {"clean": n // 2}
    assert bins["0.1-1 %"]["conditions"] == {"clip-0.5pct": n}
    assert bins["1-3 %"]["conditions"] == {"clip-2pct": n - 10}  # a second failed check keeps the gate shut
    assert bins["3-10 %"]["sex"] == {}


def test_clips_are_counted_by_the_gate_s_clipping_thresholds() -> None:
    from s2f_desktop.audio.quality import MAX_CLIPPING, WARN_CLIPPING
    from s2f_desktop.training.traits_train import _clipping_bin

    assert _clipping_bin(0.0) == _clipping_bin(WARN_CLIPPING) == "< 0.1 %"
    assert _clipping_bin(WARN_CLIPPING * 1.01) == _clipping_bin(MAX_CLIPPING) == "0.1-1 %"
    assert _clipping_bin(MAX_CLIPPING * 1.01) == "> 1 %" and _clipping_bin(None) == "not recorded"


def test_the_card_s_low_rate_call_sentence_is_read_from_the_metrics() -> None:
    from s2f_desktop.training.card import _lossy_call_note

    def entry(abst: float, p: float) -> dict[str, Any]:
        return {"abstention_rate": {"value": abst}, "mean_p_male": p}

    m = {f"sex_{v}": {"per_sex": {"female": entry(fa, fp), "male": entry(ma, 0.97)}}
         for v, fa, fp, ma in (("clean", 0.086, 0.055, 0.058), ("opus-8000", 0.179, 0.087, 0.046),
                               ("opus-8000-loss10", 0.167, 0.08, 0.056))}
    note = _lossy_call_note(m)
    assert "0.087 / 0.080 / 0.055" in note and "17.9 % / 16.7 % / 8.6 % of women" in note
    assert "4.6 % / 5.6 % / 5.8 % of men" in note
    del m["sex_opus-8000"]
    assert _lossy_call_note(m) == ""


def test_the_card_s_transcoded_call_sentence_follows_the_stored_intervals() -> None:
    from s2f_desktop.training.card import _tandem_call_note

    def entry(abst: float, lo: float, hi: float) -> dict[str, Any]:
        return {"abstention_rate": {"value": abst, "ci95": [lo, hi]},
                "accuracy_decided": {"value": 0.99, "ci95": [0.98, 1.0]}}

    m = {"sex_amr-nb-12200": {"per_sex": {"female": entry(0.076, 0.05, 0.10), "male": entry(0.100, 0.08, 0.13)}},
         "sex_tandem-amr-nb-12200-g711": {"per_sex": {"female": entry(0.076, 0.05, 0.10),
                                                     "male": entry(0.102, 0.08, 0.13)}}}
    note = _tandem_call_note(m)
    assert "decided as the mobile call itself, intervals overlapping" in note
    assert "7.6 % of women and 10.2 % of men (7.6 % and 10.0 % without the transcoding)" in note
    m["sex_tandem-amr-nb-12200-g711"]["per_sex"]["male"] = entry(0.152, 0.14, 0.18)  # apart from 0.08-0.13
    assert "decided differently from the mobile call itself, intervals apart" in _tandem_call_note(m)
    del m["sex_amr-nb-12200"]
    assert _tandem_call_note(m) == ""
