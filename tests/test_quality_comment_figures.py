"""The measured figures that document the quality gate's thresholds (the ``#:`` comments above each
constant in ``audio/quality.py``) are the stored ones (models/traits-v1/metrics.json): a retrain that
moves a number fails here until the comment says the new one, so a threshold's stated source cannot
silently drift from the model it guards."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from s2f_desktop.audio import quality
from s2f_desktop.training.card import _ci

ROOT = Path(__file__).resolve().parents[1]


def _comment(name: str) -> str:
    """The ``#:`` block right above ``name = ...`` in quality.py, joined into one line ("" without one)."""
    lines = Path(quality.__file__).read_text(encoding="utf-8").splitlines()
    at = next(i for i, ln in enumerate(lines) if re.match(rf"{name}\s*=", ln))
    block: list[str] = []
    for ln in reversed(lines[:at]):
        if not ln.startswith("#:"):
            break
        block.insert(0, ln.removeprefix("#:").strip())
    return " ".join(block)


def _metrics() -> dict[str, Any]:
    m: dict[str, Any] = json.loads((ROOT / "models" / "traits-v1" / "metrics.json").read_text(encoding="utf-8"))
    return m["metrics"]


def _bins(study: str) -> dict[str, dict[str, Any]]:
    return {b["bin"]: b for b in _metrics()["degradation"][study]["bins"]}


def _pct(v: dict[str, Any] | float) -> float:
    return 100 * (v["value"] if isinstance(v, dict) else v)


def _pair(b: dict[str, Any], key: str, fmt: str = ".1f") -> str:
    """'women / men' of one bin, as the comments write it (percent unless ``fmt`` says otherwise)."""
    return " / ".join(format(_pct(b["sex"][s][key]), fmt) for s in ("female", "male"))


def _span(values: list[float], fmt: str = ".1f") -> str:
    lo, hi = format(min(values), fmt), format(max(values), fmt)
    return lo if lo == hi else f"{lo}-{hi}"


def _expected() -> dict[str, list[str]]:
    net, snr, clip = _bins("net_speech"), _bins("snr"), _bins("clipping")
    gate = _metrics()["quality_gate"]["corpora"]
    av, ls = gate["avspeech-968"], gate["librispeech-train-clean-251"]
    mid = ("3-3.5 s", "3.5-4.5 s", "4.5-6 s")
    female = {b: clip[b]["sex"]["female"] for b in ("0-0.1 %", "0.1-1 %", "1-3 %", "3-10 %")}
    male = [clip[b]["sex"]["male"] for b in ("0-0.1 %", "0.1-1 %", "1-3 %", "3-10 %")]
    return {
        "MIN_NET_SPEECH_S": [
            f"{_pair(net['1.5-2.5 s'], 'accuracy_decided')} % at 1.5-2.5 s",
            f"{_span([_pct(net[b]['sex']['female']['accuracy_decided']) for b in mid])} / "
            f"{_span([_pct(net[b]['sex']['male']['accuracy_decided']) for b in mid])} % at 3-6 s",
            f"2.5-3 s bin ({net['2.5-3 s']['sex']['female']['n']} / {net['2.5-3 s']['sex']['male']['n']} rows)",
        ],
        "MIN_SNR_DB": [
            f"{av['insufficient_checks']['snr']} of the {av['n']} avspeech clips fall below it",
            *(f"{_pair(snr[b], 'accuracy_decided')} % {'right at' if b == '15-20 dB' else 'at'} {b}"
              for b in ("15-20 dB", "10-15 dB", "5-10 dB", "0-5 dB")),
            f"men's rose from {_ci(snr['10-15 dB']['sex']['male']['abstention_rate'])} at 10-15 dB to "
            f"{_ci(snr['5-10 dB']['sex']['male']['abstention_rate'])} at 5-10 dB",
            f"(intervals apart; women {_pct(snr['10-15 dB']['sex']['female']['abstention_rate']):.1f} / "
            f"{_pct(snr['5-10 dB']['sex']['female']['abstention_rate']):.1f} %)",
            f"both sexes' to {_pair(snr['0-5 dB'], 'abstention_rate', '.0f')} % at 0-5 dB",
            "consistent with a 10 dB minimum for men and neither confirms nor moves it for women",
        ],
        "WARN_SNR_DB": [
            f"{_pair(snr['15-20 dB'], 'accuracy_decided')} % right at 15-20 dB",
            f"{_pair(snr['>= 20 dB'], 'accuracy_decided')} % at 20 dB and above",
            f"against {_pair(snr['10-15 dB'], 'accuracy_decided')} % at 10-15 dB",
            f"LibriSpeech train-clean median {ls['snr_db']['median']} dB (10th percentile {ls['snr_db']['p10']} dB)",
            f"avspeech median {av['snr_db']['median']} dB (10th percentile {av['snr_db']['p10']} dB)",
        ],
        "MAX_CLIPPING": [
            "(their mean stated P(male) " + ", ".join(
                f"{female[b]['mean_p_male']:.3f} " + ("clean" if b == "0-0.1 %" else f"at {b}")
                for b in female) + ")",
            f"women's abstention rose from {_pct(female['0-0.1 %']['abstention_rate']):.1f} % to "
            + " / ".join(f"{_pct(female[b]['abstention_rate']):.1f}" for b in ("0.1-1 %", "1-3 %", "3-10 %")) + " %",
            f"decided accuracy fell from {_pct(female['0-0.1 %']['accuracy_decided']):.1f} % to "
            + " / ".join(f"{_pct(female[b]['accuracy_decided']):.1f}" for b in ("0.1-1 %", "1-3 %", "3-10 %")) + " %",
            f"(men {_span([_pct(e['abstention_rate']) for e in male])} %, "
            f"{_span([_pct(e['accuracy_decided']) for e in male])} %)",
        ],
        "WARN_CLIPPING": [
            f"abstention {_ci(female['0.1-1 %']['abstention_rate'])} "
            f"against {_ci(female['0-0.1 %']['abstention_rate'])}",
        ],
    }


def test_every_documented_threshold_is_checked() -> None:
    # The thresholds whose comments quote traits-v1's measurements; a new measured comment belongs here.
    source = Path(quality.__file__).read_text(encoding="utf-8")
    constants = re.findall(r"^([A-Z][A-Z0-9_]*)\s*=", source, flags=re.MULTILINE)
    measured = {name for name in constants if "traits-v1" in _comment(name)}
    assert measured == set(_expected())


@pytest.mark.parametrize("name", sorted(_expected()))
def test_threshold_comment_quotes_the_stored_figures(name: str) -> None:
    text = _comment(name)
    assert text, f"quality.{name} has no #: comment"
    missing = [f for f in _expected()[name] if f not in text]
    assert not missing, f"quality.{name}'s comment does not say {missing}; it says: {text}"


def test_the_figures_still_bear_out_the_comments_conclusions() -> None:
    # The comments draw conclusions, not only numbers: these fail when a retrain would make them wrong.
    net, snr, clip = _bins("net_speech"), _bins("snr"), _bins("clipping")
    women = [clip[b]["sex"]["female"] for b in ("0-0.1 %", "0.1-1 %", "1-3 %", "3-10 %")]
    # "clipping moves women's voices toward male ... the effect grows steadily"
    assert [w["mean_p_male"] for w in women] == sorted(w["mean_p_male"] for w in women)
    # "above it women abstain about twice as often as on clean speech (intervals apart)"
    assert women[2]["abstention_rate"]["ci95"][0] > women[0]["abstention_rate"]["ci95"][1]
    # "Decided accuracy is one plateau from 5 to 15 dB": its intervals at 5-10 and 10-15 dB overlap, both sexes
    def overlap(key: str, s: str) -> bool:
        a, b = (snr[k]["sex"][s][key]["ci95"] for k in ("5-10 dB", "10-15 dB"))
        return bool(a[0] <= b[1] and b[0] <= a[1])

    assert overlap("accuracy_decided", "female") and overlap("accuracy_decided", "male")
    # "but abstention is not: men's rose ... (intervals apart)": supported for men, not shown for women
    assert not overlap("abstention_rate", "male") and overlap("abstention_rate", "female")
    assert snr["5-10 dB"]["sex"]["male"]["abstention_rate"]["value"] > snr["10-15 dB"]["sex"]["male"][
        "abstention_rate"]["value"]
    # "2 s ... decided about as well as 3-6 s": 1.5-2.5 s lies inside the 3-6 s bins' intervals
    for s in ("female", "male"):
        v = net["1.5-2.5 s"]["sex"][s]["accuracy_decided"]["value"]
        assert any(lo <= v <= hi for lo, hi in (net[b]["sex"][s]["accuracy_decided"]["ci95"]
                                                  for b in ("3-3.5 s", "3.5-4.5 s", "4.5-6 s")))
    # WARN_CLIPPING: "the 0.1-1 % bin (nearly all of it the 0.5 % copies)"
    cond = clip["0.1-1 %"]["conditions"]
    assert cond.get("clip-0.5pct", 0) >= 0.95 * sum(cond.values())


def test_the_telephone_warning_states_what_the_codec_study_measured() -> None:
    # quality.assess's telephone-band warning: "on low-rate Opus they abstained on women about twice as often
    # as on clean speech"; and the codecs it names are the ones evaluated.
    import inspect

    from s2f_desktop.training.features import EVAL_VARIANTS

    source = " ".join(inspect.getsource(quality._report).split())
    assert ("real call codecs (AMR-NB, G.711, G.723.1, Opus); on low-rate Opus they abstained on women about "
            "twice as often as on clean speech (model card)") in source.replace('" "', "")
    assert {v.split("-")[0] for v in EVAL_VARIANTS} >= {"amr", "g711", "g723.1", "opus"}
    m = _metrics()
    clean = m["sex_clean"]["per_sex"]["female"]["abstention_rate"]["value"]
    for v in ("opus-8000", "opus-8000-loss10"):
        assert 1.7 <= m[f"sex_{v}"]["per_sex"]["female"]["abstention_rate"]["value"] / clean <= 2.3
