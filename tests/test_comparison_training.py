"""The comparison trainer's across-sources runs and EER on synthetic embeddings (no data, no torch)."""

from __future__ import annotations

import numpy as np

from s2f_desktop.training import comparison_train as ct


def _synthetic(lib_noise: float, seed: int = 3) -> tuple[ct.Sides, np.ndarray, dict[str, int], dict[str, str],
                                                          np.ndarray, np.ndarray, int]:
    """Two sources of 30 speakers each (4 sides per speaker), targets within a speaker, same-source non-targets
    within a fold, and some non-targets between the sources; LibriSpeech's sides are ``lib_noise`` noisy."""
    rng = np.random.default_rng(seed)
    dim = 16
    sides = ct.Sides({}, [])
    groups = [f"a{i}" for i in range(30)] + [f"l{i}" for i in range(30)]
    src_of = {g: "avspeech" if g[0] == "a" else "librispeech" for g in groups}
    fold = {g: i % ct.N_FOLDS for i, g in enumerate(groups)}
    centre = {g: ct.lrm.unit(rng.standard_normal(dim)) for g in groups}
    by_group: dict[str, list[int]] = {}
    for g in groups:
        noise = 0.35 if src_of[g] == "avspeech" else lib_noise
        for j in range(4):
            sides.emb.append(ct.lrm.unit(centre[g] + noise * rng.standard_normal(dim) / np.sqrt(dim)))
            sides.speech.append(float(rng.choice([3.0, 8.0, 20.0])))
            sides.group.append(g)
            sides.chan.append("clean" if j % 2 == 0 else "telephone")
            by_group.setdefault(g, []).append(len(sides.emb) - 1)
    trials = []
    for g, idx in by_group.items():
        trials += [(idx[a], idx[b], 1, 1) for a in range(4) for b in range(a + 1, 4)]
    between = 0
    for a in groups:
        for b in groups:
            if a < b and fold[a] == fold[b]:
                trials += [(by_group[a][k], by_group[b][3 - k], 0, 3) for k in range(4)]
                between += 4 * (src_of[a] != src_of[b])
    cohort = np.stack([ct.lrm.unit(centre[g] + 0.35 * rng.standard_normal(dim) / np.sqrt(dim)) for g in groups])
    return sides, np.array(trials, np.int64), fold, src_of, cohort.astype(np.float32), np.array(groups), between


def _run(lib_noise: float) -> tuple[dict, np.ndarray, np.ndarray, dict[str, str], np.ndarray, int]:
    sides, trials, fold, src_of, cohort, cgroup, between = _synthetic(lib_noise)
    cv_b = np.sum(np.stack(sides.emb)[trials[:, 0]] * np.stack(sides.emb)[trials[:, 1]], axis=1)
    before = (trials.copy(), cohort.copy(), cv_b.copy())
    out = ct.cross_source(sides, trials, fold, src_of, cohort, cgroup, cv_b, 20, log=lambda m: None)
    # The inputs (the shipped model's trials, cohort and cross-validated LRs) are left as they were.
    assert np.array_equal(before[0], trials) and np.array_equal(before[1], cohort) and np.array_equal(before[2], cv_b)
    g = np.array(sides.group)
    src = np.array([[src_of[x] for x in g[trials[:, c]]] for c in (0, 1)])
    return out, trials, src, src_of, cgroup, between


def test_cross_source_fits_on_one_source_and_tests_on_the_other() -> None:
    out, trials, src, src_of, cgroup, between = _run(0.35)
    assert out["left_out_non_targets_between_sources"] == between > 0
    y = trials[:, 2]
    for train, test in (("avspeech", "librispeech"), ("librispeech", "avspeech")):
        run = out[f"{train}_to_{test}"]
        on_test = (src[0] == test) & (src[1] == test)
        on_train = (src[0] == train) & (src[1] == train)
        # Tested on every trial with both sides from the other source, and on nothing else.
        assert run["metrics"]["all"]["n_target"] == int((y[on_test] == 1).sum())
        assert run["metrics"]["all"]["n_non_target"] == int((y[on_test] == 0).sum())
        assert run["calibration_trials"] == {"target": int((y[on_train] == 1).sum()),
                                             "non_target": int((y[on_train] == 0).sum())}
        # The cohort is the training source's entries only.
        assert run["cohort_size"] == sum(src_of[x] == train for x in cgroup)
        # The in-source figures are of the same trials.
        assert {k: (v["n_target"], v["n_non_target"]) for k, v in run["in_source_cv"].items()} == \
            {k: (v["n_target"], v["n_non_target"]) for k, v in run["metrics"].items()}
        assert run["calibration"]["lower"] < 0 < run["calibration"]["upper"]
        for m in run["metrics"].values():
            assert m["cllr"]["ci95"][0] <= m["cllr"]["ci95"][1]


def test_a_source_shift_shows_as_lost_calibration() -> None:
    """When one source's same-speaker scores are lower (noisier sides), a calibration fitted on the clean source
    overstates the evidence on it: the across-sources Cllr - Cllr_min grows; alike sources lose little."""
    alike, *_ = _run(0.35)
    shifted, *_ = _run(0.9)
    a = alike["avspeech_to_librispeech"]["metrics"]["all"]
    s = shifted["avspeech_to_librispeech"]["metrics"]["all"]
    assert s["cllr_cal"]["value"] > 2 * a["cllr_cal"]["value"] + 0.05
    assert a["cllr_cal"]["value"] < 0.15


def test_eer_does_not_split_tied_scores() -> None:
    """Tied LRs (an ELUB bound) cannot be separated by a threshold, whatever their order in the list."""
    y = np.array([1, 1, 0, 0])
    assert ct._weighted_eer(np.array([2.0, 2.0, 2.0, 2.0]), y, np.ones(4)) == 0.5
    assert ct._weighted_eer(np.array([3.0, 2.0, 1.0, 0.0]), y, np.ones(4)) == 0.0
    # Two of three targets and one of three non-targets at the upper bound: no threshold gives an EER of 0.
    s = np.array([3.67, 3.67, 1.0, 3.67, -1.0, -2.0])
    assert ct._weighted_eer(s, np.array([1, 1, 1, 0, 0, 0]), np.ones(6)) > 0.1
