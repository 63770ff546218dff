"""Torch-free parts of the speaker comparison: verbal scale, calibration, bounds, abstention, speaker split."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from s2f_desktop.inference.registry import sha256_of
from s2f_desktop.system.env import models_dir
from s2f_desktop.voice import lr as lrm
from s2f_desktop.voice.consistency import SPLIT_LOG10_LR, calibrated_consistency, split_speakers

MODEL = models_dir() / "comparison-v1"


def _model() -> tuple[lrm.Calibration, np.ndarray]:
    return lrm.Calibration.load(MODEL / "calibration.json"), np.load(MODEL / "cohort.npy").astype(np.float32)


@pytest.mark.parametrize("llr, words", [
    (4.5, "very strong support for Hp"), (3.2, "strong support for Hp"), (2.0, "moderately strong support for Hp"),
    (1.5, "moderate support for Hp"), (0.5, "weak support for Hp"), (0.2, "no support for either"),
    (-0.2, "no support for either"), (-0.5, "weak support for Hd"), (-1.0, "moderate support for Hd"),
    (-2.5, "moderately strong support for Hd"), (-6.5, "extremely strong support for Hd"),
])
def test_enfsi_scale(llr: float, words: str) -> None:
    assert lrm.verbal(llr).startswith(words)


def test_labels_and_abstention_words() -> None:
    assert lrm.label(None) == "abstain" and "abstained" in lrm.verbal(None)
    assert lrm.label(0.1) == "inconclusive" and lrm.label(0.5) == "same" and lrm.label(-0.5) == "different"


def test_manifest_declares_every_file_with_its_sha256() -> None:
    man = json.loads((MODEL / "manifest.json").read_text(encoding="utf-8"))
    assert man["id"] == "comparison-v1" and man["card"] == "MODEL_CARD.md"
    for name, sha in man["files"].items():
        assert sha256_of(MODEL / name) == sha, name
    card = (MODEL / "MODEL_CARD.md").read_text(encoding="utf-8")
    metrics = json.loads((MODEL / "metrics.json").read_text(encoding="utf-8"))
    # The card prints the stored numbers (traceable), with their intervals.
    a = metrics["metrics"]["all"]
    assert f"Cllr {a['cllr']['value']:.3f} ({a['cllr']['ci95'][0]:.3f}–{a['cllr']['ci95'][1]:.3f})" in card
    for cond in ("clean/clean", "clean/telephone", "short/long"):
        assert any(k.startswith(cond) for k in metrics["metrics"]), cond
        assert cond in card


def test_card_is_the_generators_text_of_the_stored_metrics() -> None:
    """MODEL_CARD.md is exactly what ``s2f-train comparison`` writes from its stored metrics.json, so a card edit
    goes through the generator, and the card calls the LR cross-validated on its training sources, not validated."""
    from s2f_desktop.training.comparison_card import card_markdown

    card = (MODEL / "MODEL_CARD.md").read_text(encoding="utf-8")
    assert card == card_markdown(json.loads((MODEL / "metrics.json").read_text(encoding="utf-8")))
    assert "validated automatic system" not in card
    assert "cross-validated on held-out speakers of its training sources" in card
    assert "VoxCeleb" in card.split("## Limits", 1)[1]


def test_card_states_the_across_sources_runs_with_their_stored_figures() -> None:
    """Calibrated on one source, tested on the other (R4): both directions, their stored figures beside the
    shipped cross-validation's of the same trials, the reading and the encoder's training data as a limit."""
    card = (MODEL / "MODEL_CARD.md").read_text(encoding="utf-8")
    cs = json.loads((MODEL / "metrics.json").read_text(encoding="utf-8"))["cross_source"]
    section = card.split("## Across sources", 1)[1].split("\n## ", 1)[0]
    for key, fit, test in (("avspeech_to_librispeech", "avspeech-968", "LibriSpeech"),
                           ("librispeech_to_avspeech", "LibriSpeech", "avspeech-968")):
        run = cs[key]
        for name in ("all", "clean/clean", "clean/telephone", "telephone/telephone"):
            for v in (run["metrics"][name], run["in_source_cv"][name]):
                c = v["cllr"]
                assert f"| {fit} → {test} | {name} | {v['n_target']} / {v['n_non_target']} |" in section
                assert f"{c['value']:.3f} ({c['ci95'][0]:.3f}–{c['ci95'][1]:.3f})" in section
        # Nothing was tested on its own calibration source.
        assert not set(run["calibrated_on"]) & set(run["tested_on"])
    assert "LibriSpeech and VoxCeleb" in section and "not of the encoder" in section
    # The card's verdict follows the stored figures (R4: say plainly when it does not transfer).
    from s2f_desktop.training.comparison_card import calibration_transfers

    if calibration_transfers(cs):
        assert "does not transfer" not in section and "held within the intervals" in card
    else:
        assert "does not transfer to the other" in section and "markedly worse" in card


def test_calibration_is_monotone_bounded_and_duration_aware() -> None:
    cal, _ = _model()
    s = np.linspace(-5, 30, 200)
    for d in (2.0, 5.0, 30.0):
        llr = cal.log10_lr(s, np.full_like(s, d), np.full_like(s, d))
        assert np.all(np.diff(llr) >= -1e-12)
        assert llr.min() >= cal.lower and llr.max() <= cal.upper
    # The score is weighed more from longer speech: the slope of the LR in the score grows with duration.
    def slope(d: float) -> float:
        v = cal.log10_lr(np.array([2.0, 6.0]), np.array([d, d]), np.array([d, d]), bounded=False)
        return float(v[1] - v[0])

    assert slope(20.0) > slope(5.0) > slope(2.0) > 0
    unb = cal.log10_lr(np.array([100.0]), np.array([30.0]), np.array([30.0]), bounded=False)[0]
    assert unb > cal.upper  # the bound really bites


def _speaker(rng: np.random.Generator, n: int, centre: np.ndarray, spread: float = 0.25) -> np.ndarray:
    w = centre[None, :] + spread * rng.standard_normal((n, centre.size)) / np.sqrt(centre.size)
    return lrm.unit(w).astype(np.float32)


def test_abstains_below_the_validated_net_speech() -> None:
    cal, cohort = _model()
    v = lrm.compare_embeddings(cal, cohort, cohort[0], cohort[0], cal.min_speech_s - 0.1, 10.0)
    assert v.log10_lr is None and v.label == "abstain" and "questioned" in (v.abstain_reason or "")
    assert v.snorm is None and v.score is not None and not v.bounded
    # The reported verdict still states the propositions: see tests/test_compare_contract.py ("short").


def test_split_keeps_one_voice_together_and_short_segments_unassessed() -> None:
    cal, cohort = _model()
    rng = np.random.default_rng(1)
    a = cohort[3].astype(np.float64)
    ids = ["a1", "a2", "a3", "tiny1", "tiny2"]
    wins = [_speaker(rng, 8, a), _speaker(rng, 10, a), _speaker(rng, 6, a), _speaker(rng, 1, a), _speaker(rng, 1, a)]
    speech = [7.0, 8.5, 5.5, 0.8, 0.9]
    sp = split_speakers(ids, wins, speech, cal, cohort)
    assert not sp.split and sp.groups == (("a1", "a2", "a3"),) and sp.unassessed == ("tiny1", "tiny2")
    cc = calibrated_consistency(ids, wins, speech, cal, cohort)
    assert cc.flagged == () and set(cc.not_judged) == {"tiny1", "tiny2"}


def test_split_separates_two_voices() -> None:
    cal, cohort = _model()
    rng = np.random.default_rng(2)
    # Two cohort voices that the system itself scores as clearly different.
    a, b = cohort[10].astype(np.float64), cohort[700].astype(np.float64)
    ids = ["m1", "f1", "m2", "f2"]
    wins = [_speaker(rng, 8, a), _speaker(rng, 8, b), _speaker(rng, 9, a), _speaker(rng, 6, b)]
    sp = split_speakers(ids, wins, [7.0, 7.0, 8.0, 5.0], cal, cohort)
    assert sp.split
    assert sorted(map(sorted, sp.groups)) == [["f1", "f2"], ["m1", "m2"]]
    assert all(v <= SPLIT_LOG10_LR for _, _, v in sp.between)
    d = sp.to_dict()
    assert d["split"] and d["groups"] and "moderate support" in d["rule"]
    cc = calibrated_consistency(ids, wins, [7.0, 7.0, 8.0, 5.0], cal, cohort)
    assert set(cc.flagged) == set(sp.groups[1])


def test_require_single_speaker_refuses_a_split_result() -> None:
    from s2f_desktop.core.results import Consistency
    from s2f_desktop.services.comparison import MultipleSpeakersError, require_single_speaker

    def check(split: bool, groups: tuple[tuple[str, ...], ...]) -> Consistency:
        return Consistency(("a", "b", "c"), (), {}, groups[1] if split else (), -1.0, "comparison-v1", "",
                           method="calibrated", groups=groups, split=split,
                           between=((0, 1, -2.1),) if split else ())

    require_single_speaker(None)
    require_single_speaker(check(False, (("a", "b", "c"),)))
    with pytest.raises(MultipleSpeakersError) as e:
        require_single_speaker(check(True, (("a", "c"), ("b",))), "C-1")
    assert e.value.groups == [["a", "c"], ["b"]]
    assert "--segments a,c" in e.value.message and "--segments b" in e.value.message


def test_read_pairs_keeps_bad_lines_in_order(tmp_path: Path) -> None:
    from s2f_desktop.services.comparison import read_pairs

    p = tmp_path / "p.tsv"
    p.write_text("# comment\na.wav\tb.wav\n\nonly-one-field\nc.wav\td.wav\n", encoding="utf-8")
    assert read_pairs(p) == [("a.wav", "b.wav"), ("only-one-field", ""), ("c.wav", "d.wav")]


def _plain_split(ids, windows, speech_s, cal, cohort, thr=SPLIT_LOG10_LR):  # type: ignore[no-untyped-def]
    """The greedy split recomputing every pair at every step (the definition split_speakers memoises)."""
    ok = [i for i in range(len(ids)) if speech_s[i] >= cal.min_speech_s and len(windows[i])]
    groups = [[i] for i in ok]

    def llr(a, b):  # type: ignore[no-untyped-def]
        v = lrm.compare_embeddings(cal, cohort, np.concatenate([windows[i] for i in a]).mean(axis=0),
                                   np.concatenate([windows[i] for i in b]).mean(axis=0),
                                   float(sum(speech_s[i] for i in a)), float(sum(speech_s[i] for i in b)))
        return float(v.log10_lr) if v.log10_lr is not None else 0.0

    while len(groups) > 1:
        best, pair = -np.inf, (0, 1)
        for a in range(len(groups)):
            for b in range(a + 1, len(groups)):
                v = llr(groups[a], groups[b])
                if v > best:
                    best, pair = v, (a, b)
        if best <= thr:
            break
        a, b = pair
        groups[a] = sorted(groups[a] + groups[b])
        del groups[b]
    groups.sort(key=lambda g: (-sum(speech_s[i] for i in g), g[0]))
    between = [(a, b, llr(groups[a], groups[b])) for a in range(len(groups)) for b in range(a + 1, len(groups))]
    return [tuple(ids[i] for i in g) for g in groups], between


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_memoised_split_equals_the_plain_greedy_loop(seed: int) -> None:
    cal, cohort = _model()
    rng = np.random.default_rng(seed)
    voices = [cohort[j].astype(np.float64) for j in rng.choice(len(cohort), 3, replace=False)]
    n = 18
    ids = [f"t{i}" for i in range(n)]
    wins = [_speaker(rng, int(rng.integers(1, 9)), voices[i % 3]) for i in range(n)]
    speech = [float(rng.uniform(0.8, 8.0)) for _ in range(n)]
    groups, between = _plain_split(ids, wins, speech, cal, cohort)
    sp = split_speakers(ids, wins, speech, cal, cohort)
    assert list(sp.groups) == groups
    assert list(sp.between) == between  # the same floats, not approximately
