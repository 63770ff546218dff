"""The README's trait-model figures are the stored ones (models/traits-v1/metrics.json), as the card
renders them: a retrained model whose numbers move fails here until the README says the new ones."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from s2f_desktop.training.card import _ci

ROOT = Path(__file__).resolve().parents[1]


def _metrics() -> dict[str, Any]:
    m: dict[str, Any] = json.loads((ROOT / "models" / "traits-v1" / "metrics.json").read_text(encoding="utf-8"))
    return m


def _row(label: str) -> str:
    rows = [ln for ln in (ROOT / "README.md").read_text(encoding="utf-8").splitlines() if ln.startswith(f"| {label}")]
    assert len(rows) == 1, f"one README table row starting with {label!r}"
    return rows[0]


def _codec(m: dict[str, Any], variant: str, sex: str) -> dict[str, Any]:
    e: dict[str, Any] = m[f"sex_{variant}"]["per_sex"][sex]
    return e


def _expected() -> dict[str, list[str]]:
    m = _metrics()["metrics"]
    sc, st = m["sex_clean"], m["sex_telephone"]
    whole = sc["per_sex_with_gate"]
    f, ml = sc["per_sex"]["female"], sc["per_sex"]["male"]
    q = _metrics()["metrics"]["quality_gate"]["corpora"]["avspeech-968"]["verdicts"]
    snr = {b["bin"]: b["sex"] for b in m["degradation"]["snr"]["bins"]}
    net = {b["bin"]: b["sex"] for b in m["degradation"]["net_speech"]["bins"]}
    clip = {b["bin"]: b["sex"] for b in m["degradation"]["clipping"]["bins"]}
    xs = m["sex_cross_source"]
    return dict([
        ("sex accuracy, agreed labels, decided cases", [_ci(sc["abstention_rate"]), _ci(sc["accuracy_decided"])]),
        ("women: band abstention", [f"{_ci(f['abstention_rate'])} / {_ci(f['accuracy_decided'])}; "
                                    f"{_ci(whole['female']['abstention_rate'])}"]),
        ("men: band abstention", [f"{_ci(ml['abstention_rate'])} / {_ci(ml['accuracy_decided'])}; "
                                  f"{_ci(whole['male']['abstention_rate'])}"]),
        ("telephone band: women / men band abstention",
         [f"{_ci(st['per_sex']['female']['abstention_rate'])} / {_ci(st['per_sex']['male']['abstention_rate'])}"]),
        ("sex expected calibration error", [_ci(sc["ece"], False, 3)]),
        ("age, band of the median projected onto the external set",
         [f"{_ci(m['age_clean']['bin_accuracy_external_mix'])} / "
          f"{_ci(m['age_ge2e_ridge_probe_clean']['bin_accuracy_external_mix'])}"]),
        ("age, 40+ AUC: head / probe", [f"{_ci(m['age_clean']['p40_auc'], False, 3)} / "
                                        f"{_ci(m['age_ge2e_ridge_probe_clean']['p40_auc'], False, 3)}"]),
        ("quality verdict on the 968", [f"{q.get('ok', 0)} ok, {q.get('warn', 0)} warn, "
                                        f"{q.get('insufficient', 0)} insufficient"]),
        ("age, balanced band accuracy", [f"{_ci(m['age_clean']['balanced_bin_accuracy'])} / "
                                         f"{_ci(m['age_ge2e_ridge_probe_clean']['balanced_bin_accuracy'])}"]),
        ("sex below the gate's SNR minimum",
         [f"{_ci(snr['5-10 dB']['female']['accuracy_decided'])} / {_ci(snr['5-10 dB']['male']['accuracy_decided'])}",
          f"{100 * snr['0-5 dB']['female']['abstention_rate']['value']:.1f} % / "
          f"{100 * snr['0-5 dB']['male']['abstention_rate']['value']:.1f} %",
          *(f"{100 * snr[b]['female']['accuracy_decided']['value']:.1f} / "
            f"{100 * snr[b]['male']['accuracy_decided']['value']:.1f} %" for b in ("10-15 dB", "15-20 dB")),
          f"men's abstention rises from {_ci(snr['10-15 dB']['male']['abstention_rate'])} at 10–15 dB to "
          f"{_ci(snr['5-10 dB']['male']['abstention_rate'])} at 5–10 dB"]),
        ("age, recall of the median's band",
         [" / ".join(f"{100 * m['age_clean'][f'recall_{b}']['value']:.1f} %" for b in ("20-39", "40-59"))
          + f" / {_ci(m['age_clean']['recall_>=60'])}"]),
        ("80 % interval coverage of face-derived ages per band",
         [" / ".join(f"{100 * m['age_clean']['coverage_80_by_bin'][b]['value']:.0f} %" for b in ("<20", "20-39",
                                                                                                  "40-59"))
          + f" / {_ci(m['age_clean']['coverage_80_by_bin']['>=60'], digits=0)}"]),
        ("AMR-NB coded calls", [" / ".join(f"{_codec(m, v, sx)['abstention_rate']['value'] * 100:.1f}"
                                            for sx in ("female", "male")) + " %" for v in ("amr-nb-12200",
                                                                                           "amr-nb-4750")]),
        ("fixed-network and transcoded calls", [
            f"{_codec(m, 'g711-64000', 'female')['abstention_rate']['value'] * 100:.1f} / "
            f"{_codec(m, 'g711-64000', 'male')['abstention_rate']['value'] * 100:.1f} %, "
            f"{_codec(m, 'tandem-amr-nb-12200-g711', 'female')['abstention_rate']['value'] * 100:.1f} / "
            f"{_codec(m, 'tandem-amr-nb-12200-g711', 'male')['abstention_rate']['value'] * 100:.1f} %, "
            f"{_codec(m, 'g723.1-6300', 'female')['abstention_rate']['value'] * 100:.1f} / "
            f"{_codec(m, 'g723.1-6300', 'male')['abstention_rate']['value'] * 100:.1f} %",
            "{:.1f}–{:.1f} %".format(*(f(100 * _codec(m, v, sx)['accuracy_decided']['value']
                                         for v in ("g711-64000", "tandem-amr-nb-12200-g711", "g723.1-6300")
                                         for sx in ("female", "male")) for f in (min, max))),
            f"(as on AMR-NB alone, {_codec(m, 'amr-nb-12200', 'male')['abstention_rate']['value'] * 100:.1f} %)"]),
        ("wideband call over a poor network", [
            f"{_ci(_codec(m, 'opus-16000-burst10', 'female')['abstention_rate'])} / "
            f"{_ci(_codec(m, 'opus-16000-burst10', 'male')['abstention_rate'])}; "
            + " / ".join(f"{_codec(m, 'opus-16000-burst10', sx)['accuracy_decided']['value'] * 100:.1f}"
                         for sx in ("female", "male")) + " %",
            f"({_codec(m, 'opus-16000', 'female')['abstention_rate']['value'] * 100:.1f} % without losses"]),
        ("Opus voice message", [", ".join(" / ".join(f"{_codec(m, v, sx)['abstention_rate']['value'] * 100:.1f}"
                                                     for sx in ("female", "male")) + " %"
                                          for v in ("opus-16000", "mp3-24000")),
                                ", ".join(" / ".join(f"{_codec(m, v, sx)['accuracy_decided']['value'] * 100:.1f}"
                                                     for sx in ("female", "male")) + " %"
                                          for v in ("opus-16000", "mp3-24000"))]),
        ("low-rate VoIP call", [", ".join(f"{_ci(_codec(m, v, 'female')['abstention_rate'])} / "
                                          f"{_ci(_codec(m, v, 'male')['abstention_rate'])}"
                                          for v in ("opus-8000", "opus-8000-loss10"))
                                + "; " + " / ".join(f"{_codec(m, v, 'female')['mean_p_male']:.3f}"
                                                    for v in ("opus-8000", "opus-8000-loss10"))
                                + f" (clean {f['mean_p_male']:.3f})"]),
        ("sex on clipped copies", [", ".join(
            f"{100 * clip[b]['female']['abstention_rate']['value']:.1f} % / "
            f"{100 * clip[b]['female']['accuracy_decided']['value']:.1f} %" for b in ("0.1-1 %", "1-3 %", "3-10 %")),
            f"(clean {100 * clip['0-0.1 %']['female']['abstention_rate']['value']:.1f} % / "
            f"{100 * clip['0-0.1 %']['female']['accuracy_decided']['value']:.1f} %)",
            "men {:.1f}–{:.1f} %".format(*(f(round(100 * clip[b]["male"]["abstention_rate"]["value"], 1)
                                                for b in ("0.1-1 %", "1-3 %", "3-10 %")) for f in (min, max)))]),
        ("sex below the gate's net-speech minimum",
         [f"{_ci(net['1.5-2.5 s']['female']['accuracy_decided'])} / "
          f"{_ci(net['1.5-2.5 s']['male']['accuracy_decided'])}"]),
        # Both directions across sources, the unfavourable one too.
        *((f"sex, trained on {src} only", [f"{_ci(xs[run]['clean']['female']['accuracy'])} / "
                                           f"{_ci(xs[run]['clean']['male']['accuracy'])}"])
          for src, run in (("avspeech", "avspeech_to_librispeech"), ("LibriSpeech", "librispeech_to_avspeech"))),
    ])


LABELS = ("sex accuracy, agreed labels, decided cases", "women: band abstention", "men: band abstention",
          "telephone band: women / men band abstention", "sex expected calibration error",
          "age, band of the median projected onto the external set", "age, 40+ AUC: head / probe",
          "quality verdict on the 968", "age, balanced band accuracy", "sex below the gate's SNR minimum",
          "sex below the gate's net-speech minimum", "age, recall of the median's band",
          "80 % interval coverage of face-derived ages per band", "AMR-NB coded calls",
          "fixed-network and transcoded calls", "wideband call over a poor network", "Opus voice message",
          "low-rate VoIP call", "sex on clipped copies", "sex, trained on avspeech only",
          "sex, trained on LibriSpeech only")


def test_every_checked_row_has_its_figures() -> None:
    assert set(_expected()) == set(LABELS)


@pytest.mark.parametrize("label", LABELS)
def test_readme_trait_figures_are_the_stored_ones(label: str) -> None:
    cells = _expected()[label]
    row = _row(label)
    for cell in cells:
        assert cell in row, f"README row {label!r} should show {cell!r} (metrics.json)"


def test_readme_prose_quotes_the_low_rate_call_abstention() -> None:
    m = _metrics()["metrics"]
    lo, hi = sorted(round(100 * _codec(m, v, "female")["abstention_rate"]["value"])
                    for v in ("opus-8000", "opus-8000-loss10"))
    share = f"{lo} %" if lo == hi else f"{lo}–{hi} %"
    text = " ".join((ROOT / "README.md").read_text(encoding="utf-8").split())
    assert f"the model abstains on {share} of women there" in text


def test_readme_states_the_shipped_age_head() -> None:
    age = json.loads((ROOT / "models" / "traits-v1" / "calibration.json").read_text(encoding="utf-8"))["age"]
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    lo, hi = age["interval_percentiles"]
    assert f"({age['stretch']:g} for the shipped fit)" in text
    assert f"percentile pair ({lo}th-{hi}th)" in text
