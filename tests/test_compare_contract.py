"""The ``s2f compare --json`` contract, byte for byte: file pairs, ``--pairs`` batches and the system's verdict.

The project owner re-runs held-out sets through ``s2f compare --pairs FILE --json``, so these
tests pin the exact bytes, not only the keys. The expected texts were printed by the untyped
writer (main at ee20752, where ``Comparator.verdict_from`` returned a dict) on the same inputs:

* the CLI tests replace the comparison system by a stub that answers verdicts the real system
  stored (``STORED_LR``/``STORED_ABSTAIN`` of tests/test_comparison_results.py, plus one derived
  from them), so they pin what the service and the CLI make of a verdict;
* the verdict test runs the real ``models/comparison-v1`` on fixed window embeddings (cohort
  rows) and fixed, unrounded quality reports, so it pins the reported precision of every number.
"""

from __future__ import annotations

import json
import types
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import soundfile as sf

from s2f_desktop import __version__
from s2f_desktop.cli.main import main as cli_main
from s2f_desktop.services import comparison as svc
from s2f_desktop.store import codec

from test_comparison_results import STORED_ABSTAIN, STORED_LR  # isort: skip

MODELS = [{"id": "resemblyzer-ge2e-0.1.4", "file": "pretrained.pt", "sha256": "1" * 64},
          {"id": "comparison-v1", "file": "calibration.json", "sha256": "2" * 64}]


def stored_verdicts() -> dict[str, dict[str, Any]]:
    """Verdicts as the comparison system reports them, by questioned file name."""
    def verdict(text: str) -> dict[str, Any]:
        return {k: v for k, v in json.loads(text).items() if k not in ("segments", "evidence", "model")}

    lr, ab = verdict(STORED_LR), verdict(STORED_ABSTAIN)
    # A telephone-band comparison below the bound with Hd support (values of the system's precision).
    tel = {**lr, "score": 0.6123, "snorm": -1.0456, "log10_lr": -1.2345, "lr": 0.05826,
           "verbal": "moderate support for Hd (different speakers)", "label": "different", "at_bound": False,
           "channel": "telephone band (both sides)",
           "validation_position": {"share_same_speaker_trials_at_or_below": 0.0012,
                                   "share_different_speaker_trials_at_or_above": 0.3407}}
    return {"Zeugé 1.wav": lr, "short.wav": ab, "tel.wav": tel}


class StubComparator:
    """The comparison system's interface, answering a fixed verdict per questioned file name."""

    device = "cpu (stub)"

    def __init__(self, verdicts: dict[str, Any]) -> None:
        self.verdicts = verdicts

    def compare(self, q: Any, k: Any, task: Any) -> Any:
        return self.verdicts[q[0].id]

    def prepare(self, parts: Any) -> Any:
        return types.SimpleNamespace(id=parts[0].id, telephone=False)

    def embed(self, prep: Any, telephone: bool) -> dict[str, Any]:
        return {}

    def verdict_from(self, qs: Any, ks: Any, qe: Any, ke: Any, telephone: bool) -> Any:
        return self.verdicts[qs.id]

    def model_record(self) -> dict[str, str]:
        return {"id": "comparison-v1", "sha256": "2" * 64}

    def models(self) -> list[dict[str, str]]:
        return [dict(m) for m in MODELS]


def write_inputs(folder: Path) -> Path:
    """Fixed WAV files (16-bit PCM tones: the same bytes everywhere) and a pairs file naming them."""
    t = np.arange(16000 * 3) / 16000
    for i, name in enumerate(["Zeugé 1.wav", "short.wav", "tel.wav", "known.wav"]):
        sf.write(str(folder / name), 0.3 * np.sin(2 * np.pi * (220 + 55 * i) * t), 16000, subtype="PCM_16")
    pairs = folder / "pairs.tsv"
    pairs.write_text("# questioned\tknown\nZeugé 1.wav\tknown.wav\nmissing.wav\tknown.wav\nshort.wav\tknown.wav\n"
                     "tel.wav\tknown.wav\nknown.wav\n", encoding="utf-8")
    return pairs


@pytest.fixture
def stub_system(monkeypatch: pytest.MonkeyPatch) -> None:
    from s2f_desktop.core.comparison_results import ComparisonVerdict

    typed: dict[str, ComparisonVerdict] = {k: codec.decode_comparison_verdict(v) for k, v in stored_verdicts().items()}
    mod = types.SimpleNamespace(SidePart=lambda name, x, sr: types.SimpleNamespace(id=name, x=x, sr=sr))
    monkeypatch.setattr(svc, "_mod", lambda: mod)
    monkeypatch.setattr(svc, "comparator", lambda device="auto": StubComparator(typed))


def _normalised(out: str, folder: Path) -> str:
    return out.replace(str(folder), "DIR").replace(f'"app_version": "{__version__}"', '"app_version": "VERSION"')


#: ``s2f compare "DIR/Zeugé 1.wav" DIR/known.wav --q-start 0.25 --q-end 2.5 --json``, as the untyped writer printed it.
FILE_JSON = (
    '{"questioned": {"path": "DIR/Zeugé 1.wav", "sha256": "7b0cbf35adedff8e463e3d9d4907767a3612dd5ad5b503'
    'c77a021352cfb90891", "range_s": [0.25, 2.5], "speech_s": 9.42}, "known": {"path": "DIR/known.wav", "'
    'sha256": "f204a23bcff9bffcce64be5022507e126772f97d79921a0538f6d9ff5dd9a9ef", "range_s": [0.0, 3.0], '
    '"speech_s": 9.42}, "score": 1.0, "snorm": 14.1875, "log10_lr": 3.67, "lr": 4677.0, "verbal": "strong'
    ' support for Hp (same speaker)", "label": "same", "abstain_reason": null, "at_bound": true, "hp": "t'
    'he questioned and the known speech were spoken by the same speaker", "hd": "the questioned and the k'
    'nown speech were spoken by different speakers of the relevant population (adult speakers of the same'
    ' sex as the known speaker; mostly English speech)", "scale": "ENFSI Guideline for Evaluative Reporti'
    'ng in Forensic Science (2015)", "channel": "wideband", "validation_position": {"share_same_speaker_t'
    'rials_at_or_below": 0.5254, "share_different_speaker_trials_at_or_above": 0.0001}, "quality": {"ques'
    'tioned": "ok", "known": "ok"}, "model": {"id": "comparison-v1", "sha256": "2222222222222222222222222'
    '222222222222222222222222222222222222222"}, "models": [{"id": "resemblyzer-ge2e-0.1.4", "file": "pret'
    'rained.pt", "sha256": "1111111111111111111111111111111111111111111111111111111111111111"}, {"id": "c'
    'omparison-v1", "file": "calibration.json", "sha256": "2222222222222222222222222222222222222222222222'
    '222222222222222222"}], "device": "cpu (stub)", "app_version": "VERSION"}\n')

#: ``s2f compare --pairs DIR/pairs.tsv --json``, as the untyped writer printed it (one line per pair).
PAIRS_JSON = (
    '{"questioned": {"path": "DIR/Zeugé 1.wav", "sha256": "7b0cbf35adedff8e463e3d9d4907767a3612dd5ad5b503'
    'c77a021352cfb90891", "range_s": [], "speech_s": 9.42}, "known": {"path": "DIR/known.wav", "sha256": '
    '"f204a23bcff9bffcce64be5022507e126772f97d79921a0538f6d9ff5dd9a9ef", "range_s": [], "speech_s": 9.42}'
    ', "score": 1.0, "snorm": 14.1875, "log10_lr": 3.67, "lr": 4677.0, "verbal": "strong support for Hp ('
    'same speaker)", "label": "same", "abstain_reason": null, "at_bound": true, "hp": "the questioned and'
    ' the known speech were spoken by the same speaker", "hd": "the questioned and the known speech were '
    'spoken by different speakers of the relevant population (adult speakers of the same sex as the known'
    ' speaker; mostly English speech)", "scale": "ENFSI Guideline for Evaluative Reporting in Forensic Sc'
    'ience (2015)", "channel": "wideband", "validation_position": {"share_same_speaker_trials_at_or_below'
    '": 0.5254, "share_different_speaker_trials_at_or_above": 0.0001}, "quality": {"questioned": "ok", "k'
    'nown": "ok"}, "model": {"id": "comparison-v1", "sha256": "222222222222222222222222222222222222222222'
    '2222222222222222222222"}, "models": [{"id": "resemblyzer-ge2e-0.1.4", "file": "pretrained.pt", "sha2'
    '56": "1111111111111111111111111111111111111111111111111111111111111111"}, {"id": "comparison-v1", "f'
    'ile": "calibration.json", "sha256": "222222222222222222222222222222222222222222222222222222222222222'
    '2"}], "device": "cpu (stub)", "app_version": "VERSION"}\n{"questioned": {"path": "DIR/missing.wav"}, '
    '"known": {"path": "DIR/known.wav"}, "error": "DIR/missing.wav: no such file", "log10_lr": null, "lab'
    'el": "error", "model": {"id": "comparison-v1", "sha256": "222222222222222222222222222222222222222222'
    '2222222222222222222222"}}\n{"questioned": {"path": "DIR/short.wav", "sha256": "35d231f4813f1c58ed6c45'
    'f969cf935ffa7a192535534f385ba080320c8611ec", "range_s": [], "speech_s": 1.2}, "known": {"path": "DIR'
    '/known.wav", "sha256": "f204a23bcff9bffcce64be5022507e126772f97d79921a0538f6d9ff5dd9a9ef", "range_s"'
    ': [], "speech_s": 9.42}, "score": 0.8866, "snorm": null, "log10_lr": null, "lr": null, "verbal": "no'
    ' opinion (the system abstained)", "label": "abstain", "abstain_reason": "too little net speech on th'
    'e questioned side (1.2 s / 9.4 s; the validation covers 2 s or more)", "at_bound": false, "hp": "the'
    ' questioned and the known speech were spoken by the same speaker", "hd": "the questioned and the kno'
    'wn speech were spoken by different speakers of the relevant population (adult speakers of the same s'
    'ex as the known speaker; mostly English speech)", "scale": "ENFSI Guideline for Evaluative Reporting'
    ' in Forensic Science (2015)", "channel": "wideband", "validation_position": null, "quality": {"quest'
    'ioned": "insufficient", "known": "ok"}, "model": {"id": "comparison-v1", "sha256": "2222222222222222'
    '222222222222222222222222222222222222222222222222"}, "models": [{"id": "resemblyzer-ge2e-0.1.4", "fil'
    'e": "pretrained.pt", "sha256": "1111111111111111111111111111111111111111111111111111111111111111"}, '
    '{"id": "comparison-v1", "file": "calibration.json", "sha256": "2222222222222222222222222222222222222'
    '222222222222222222222222222"}], "device": "cpu (stub)", "app_version": "VERSION"}\n{"questioned": {"p'
    'ath": "DIR/tel.wav", "sha256": "926ca6dbeeaf9ff1bb5e5203e66592cb308d730de7a9c519a2ca36fe8c19aa44", "'
    'range_s": [], "speech_s": 9.42}, "known": {"path": "DIR/known.wav", "sha256": "f204a23bcff9bffcce64b'
    'e5022507e126772f97d79921a0538f6d9ff5dd9a9ef", "range_s": [], "speech_s": 9.42}, "score": 0.6123, "sn'
    'orm": -1.0456, "log10_lr": -1.2345, "lr": 0.05826, "verbal": "moderate support for Hd (different spe'
    'akers)", "label": "different", "abstain_reason": null, "at_bound": false, "hp": "the questioned and '
    'the known speech were spoken by the same speaker", "hd": "the questioned and the known speech were s'
    'poken by different speakers of the relevant population (adult speakers of the same sex as the known '
    'speaker; mostly English speech)", "scale": "ENFSI Guideline for Evaluative Reporting in Forensic Sci'
    'ence (2015)", "channel": "telephone band (both sides)", "validation_position": {"share_same_speaker_'
    'trials_at_or_below": 0.0012, "share_different_speaker_trials_at_or_above": 0.3407}, "quality": {"que'
    'stioned": "ok", "known": "ok"}, "model": {"id": "comparison-v1", "sha256": "222222222222222222222222'
    '2222222222222222222222222222222222222222"}, "models": [{"id": "resemblyzer-ge2e-0.1.4", "file": "pre'
    'trained.pt", "sha256": "1111111111111111111111111111111111111111111111111111111111111111"}, {"id": "'
    'comparison-v1", "file": "calibration.json", "sha256": "222222222222222222222222222222222222222222222'
    '2222222222222222222"}], "device": "cpu (stub)", "app_version": "VERSION"}\n{"questioned": {"path": "D'
    'IR/known.wav"}, "known": {"path": ""}, "error": "a pairs line needs exactly two tab-separated pat'
    'hs", "log10_lr": null, "label": "error", "model": {"id": "comparison-v1", "sha256": "222222222222222'
    '2222222222222222222222222222222222222222222222222"}}\n')


def test_file_comparison_json_is_byte_identical(stub_system: None, tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    write_inputs(tmp_path)
    assert cli_main(["compare", str(tmp_path / "Zeugé 1.wav"), str(tmp_path / "known.wav"), "--q-start", "0.25",
                     "--q-end", "2.5", "--device", "cpu", "--json"]) == 0
    assert _normalised(capsys.readouterr().out, tmp_path) == FILE_JSON


def test_pairs_json_is_byte_identical(stub_system: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pairs = write_inputs(tmp_path)
    assert cli_main(["compare", "--pairs", str(pairs), "--device", "cpu", "--json"]) == 3
    out = _normalised(capsys.readouterr().out, tmp_path)
    assert out.splitlines() == PAIRS_JSON.splitlines()
    assert out == PAIRS_JSON


def test_pairs_file_edges_and_a_recording_compared_with_itself(stub_system: None, tmp_path: Path,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    """Red-team findings: a BOM broke the first path, a header line became a pair, an empty file printed
    nothing with status 0, ranges were silently ignored with --pairs, and a file compared with its own copy got
    "strong support for Hp" at the bound."""
    write_inputs(tmp_path)
    (tmp_path / "copy.wav").write_bytes((tmp_path / "known.wav").read_bytes())
    pairs = tmp_path / "bom.tsv"
    pairs.write_text("\ufeffquestioned\tknown\nZeugé 1.wav\tknown.wav\ncopy.wav\tknown.wav\n", encoding="utf-8")
    assert cli_main(["compare", "--pairs", str(pairs), "--device", "cpu", "--json"]) == 3
    first, second = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert "error" not in first and first["questioned"]["path"].endswith("Zeugé 1.wav")
    assert second["label"] == "error" and "the same recording" in second["error"]
    empty = tmp_path / "empty.tsv"
    empty.write_text("# nothing yet\n", encoding="utf-8")
    assert cli_main(["compare", "--pairs", str(empty), "--json"]) == 2
    assert "holds no pairs" in capsys.readouterr().err
    assert cli_main(["compare", "--pairs", str(pairs), "--q-start", "1"]) == 2
    assert "compared whole" in capsys.readouterr().err
    assert cli_main(["compare", str(tmp_path / "copy.wav"), str(tmp_path / "known.wav"), "--device", "cpu"]) == 2
    assert "comparing a recording with itself" in capsys.readouterr().err
    # A whole long file is refused before it is decoded, as analysis refuses it (a 1-hour file took 3.8 GB).
    long = tmp_path / "long.wav"
    sf.write(str(long), np.zeros(8000 * 60 * 11, np.int16), 8000, subtype="PCM_16")
    assert cli_main(["compare", str(long), str(tmp_path / "known.wav"), "--device", "cpu"]) == 2
    assert "11.0 min long" in capsys.readouterr().err
    # Two parts of one recording that do not overlap are a legitimate comparison.
    assert cli_main(["compare", str(tmp_path / "Zeugé 1.wav"), str(tmp_path / "Zeugé 1.wav"), "--q-end", "1.5",
                     "--k-start", "1.5", "--device", "cpu", "--json"]) == 0
    assert "log10_lr" in json.loads(capsys.readouterr().out)


def test_a_truncated_wav_is_compared_as_far_as_it_goes_with_a_note(stub_system: None, tmp_path: Path,
                                                                    capsys: pytest.CaptureFixture[str]) -> None:
    """A red-team pass compared a half-copied WAV (its header promising more): the LR came with no word that the
    recording was incomplete."""
    write_inputs(tmp_path)
    q = tmp_path / "Zeugé 1.wav"
    data = q.read_bytes()
    q.write_bytes(data[: len(data) // 2])
    assert cli_main(["compare", str(q), str(tmp_path / "known.wav"), "--device", "cpu", "--json"]) == 0
    captured = capsys.readouterr()
    assert "log10_lr" in json.loads(captured.out)
    assert "Zeugé 1.wav: the file is truncated (the data chunk declares" in captured.err
    assert "known.wav" not in captured.err


# ------------------------------------------------------------------------ the system's verdict
def verdict_inputs(cohort: np.ndarray) -> dict[str, tuple[Any, ...]]:
    """Fixed sides for ``Comparator.verdict_from``: (q quality, k quality, q windows, k windows, telephone)."""
    from s2f_desktop.audio.quality import QualityReport

    def quality(verdict: str = "ok", clip: float = 0.000123456, bw: float = 11025.04321,
                tel: bool = False) -> QualityReport:
        return QualityReport(verdict, ("a reason",) if verdict != "ok" else (), 7.123456, 23.456789, clip, bw, tel,
                             -21.23456, 9.876543, "pauses")

    def side(rows: list[int], speech: list[float], prefix: str, mix: float = 1.0,
             other: int = 600) -> dict[str, tuple[np.ndarray, float]]:
        # Each part: three windows around ``mix`` of a cohort voice and ``1 - mix`` of another (no random numbers).
        out = {}
        for j, (r, s) in enumerate(zip(rows, speech)):
            c = mix * cohort[r] + (1 - mix) * cohort[other]
            w = np.stack([c, 0.8 * c + 0.2 * cohort[r + 1], 0.9 * c + 0.1 * cohort[r + 7]])
            out[f"{prefix}{j}"] = ((w / np.linalg.norm(w, axis=1, keepdims=True)).astype(np.float32), s)
        return out

    return {
        "support Hp": (quality(), quality("warn"), side([3, 3], [4.321, 3.217], "q"),
                       side([3], [8.7654], "k", mix=0.35), False),
        "support Hd": (quality(), quality(), side([3], [6.0], "q"), side([3], [7.0], "k", mix=0.2), False),
        "upper bound": (quality(), quality(), side([11], [12.345], "q"), side([11], [11.111], "k"), False),
        "lower bound": (quality(), quality(), side([20], [9.87], "q"), side([600], [10.05], "k"), False),
        "telephone": (quality(bw=3312.5, tel=True), quality(), side([40], [6.543], "q"),
                      side([40, 41], [3.3, 2.2], "k", mix=0.45), True),
        "short": (quality("insufficient"), quality(), side([3], [1.234], "q"), side([3], [9.0], "k"), False),
        "clipped": (quality("insufficient", clip=0.0234567), quality(), side([5], [8.0], "q"), side([5], [8.5], "k"),
                    False),
        "narrow": (quality(), quality("insufficient", bw=2100.4), side([7], [8.0], "q"), side([7], [8.5], "k"), False),
        "no speech": (quality("insufficient"), quality(), {}, side([3], [9.0], "k"), False),
    }


#: ``json.dumps`` of what the untyped ``Comparator.verdict_from`` returned for each of :func:`verdict_inputs`.
VERDICTS_JSON: dict[str, str] = {
    'support Hp': (
        '{"score": 0.8363, "snorm": 4.0153, "log10_lr": 1.7315, "lr": 53.89, "verbal": "moderate support '
        'for Hp (same speaker)", "label": "same", "abstain_reason": null, "speech_s": {"questioned": 7.54'
        ', "known": 8.77}, "at_bound": false, "hp": "the questioned and the known speech were spoken by t'
        'he same speaker", "hd": "the questioned and the known speech were spoken by different speakers o'
        'f the relevant population (adult speakers of the same sex as the known speaker; mostly English s'
        'peech)", "scale": "ENFSI Guideline for Evaluative Reporting in Forensic Science (2015)", "channe'
        'l": "wideband", "quality": {"questioned": {"verdict": "ok", "reasons": [], "net_speech_s": 7.123'
        ', "snr_db": 23.46, "clipping_fraction": 0.000123456, "bandwidth_hz": 11025.0, "telephone_band": '
        'false, "level_dbfs": -21.23, "duration_s": 9.877, "snr_method": "pauses", "thresholds": {"min_ne'
        't_speech_s": 3.0, "warn_net_speech_s": 6.0, "min_snr_db": 10.0, "warn_snr_db": 20.0, "max_clippi'
        'ng": 0.01, "warn_clipping": 0.001, "telephone_band_hz": 5000.0, "min_bandwidth_hz": 2500.0, "min'
        '_level_dbfs": -45.0}}, "known": {"verdict": "warn", "reasons": ["a reason"], "net_speech_s": 7.1'
        '23, "snr_db": 23.46, "clipping_fraction": 0.000123456, "bandwidth_hz": 11025.0, "telephone_band"'
        ': false, "level_dbfs": -21.23, "duration_s": 9.877, "snr_method": "pauses", "thresholds": {"min_'
        'net_speech_s": 3.0, "warn_net_speech_s": 6.0, "min_snr_db": 10.0, "warn_snr_db": 20.0, "max_clip'
        'ping": 0.01, "warn_clipping": 0.001, "telephone_band_hz": 5000.0, "min_bandwidth_hz": 2500.0, "m'
        'in_level_dbfs": -45.0}}}, "segments_used": {"questioned": ["q0", "q1"], "known": ["k0"]}, "valid'
        'ation_position": {"share_same_speaker_trials_at_or_below": 0.1937, "share_different_speaker_tria'
        'ls_at_or_above": 0.0009}}'
    ),
    'support Hd': (
        '{"score": 0.7552, "snorm": 1.6849, "log10_lr": -0.5432, "lr": 0.2863, "verbal": "weak support fo'
        'r Hd (different speakers)", "label": "different", "abstain_reason": null, "speech_s": {"question'
        'ed": 6.0, "known": 7.0}, "at_bound": false, "hp": "the questioned and the known speech were spok'
        'en by the same speaker", "hd": "the questioned and the known speech were spoken by different spe'
        'akers of the relevant population (adult speakers of the same sex as the known speaker; mostly En'
        'glish speech)", "scale": "ENFSI Guideline for Evaluative Reporting in Forensic Science (2015)", '
        '"channel": "wideband", "quality": {"questioned": {"verdict": "ok", "reasons": [], "net_speech_s"'
        ': 7.123, "snr_db": 23.46, "clipping_fraction": 0.000123456, "bandwidth_hz": 11025.0, "telephone_'
        'band": false, "level_dbfs": -21.23, "duration_s": 9.877, "snr_method": "pauses", "thresholds": {'
        '"min_net_speech_s": 3.0, "warn_net_speech_s": 6.0, "min_snr_db": 10.0, "warn_snr_db": 20.0, "max'
        '_clipping": 0.01, "warn_clipping": 0.001, "telephone_band_hz": 5000.0, "min_bandwidth_hz": 2500.'
        '0, "min_level_dbfs": -45.0}}, "known": {"verdict": "ok", "reasons": [], "net_speech_s": 7.123, "'
        'snr_db": 23.46, "clipping_fraction": 0.000123456, "bandwidth_hz": 11025.0, "telephone_band": fal'
        'se, "level_dbfs": -21.23, "duration_s": 9.877, "snr_method": "pauses", "thresholds": {"min_net_s'
        'peech_s": 3.0, "warn_net_speech_s": 6.0, "min_snr_db": 10.0, "warn_snr_db": 20.0, "max_clipping"'
        ': 0.01, "warn_clipping": 0.001, "telephone_band_hz": 5000.0, "min_bandwidth_hz": 2500.0, "min_le'
        'vel_dbfs": -45.0}}}, "segments_used": {"questioned": ["q0"], "known": ["k0"]}, "validation_posit'
        'ion": {"share_same_speaker_trials_at_or_below": 0.0084, "share_different_speaker_trials_at_or_ab'
        'ove": 0.0411}}'
    ),
    'upper bound': (
        '{"score": 1.0, "snorm": 6.4496, "log10_lr": 3.67, "lr": 4677.0, "verbal": "strong support for Hp'
        ' (same speaker)", "label": "same", "abstain_reason": null, "speech_s": {"questioned": 12.35, "kn'
        'own": 11.11}, "at_bound": true, "hp": "the questioned and the known speech were spoken by the sa'
        'me speaker", "hd": "the questioned and the known speech were spoken by different speakers of the'
        ' relevant population (adult speakers of the same sex as the known speaker; mostly English speech'
        ')", "scale": "ENFSI Guideline for Evaluative Reporting in Forensic Science (2015)", "channel": "'
        'wideband", "quality": {"questioned": {"verdict": "ok", "reasons": [], "net_speech_s": 7.123, "sn'
        'r_db": 23.46, "clipping_fraction": 0.000123456, "bandwidth_hz": 11025.0, "telephone_band": false'
        ', "level_dbfs": -21.23, "duration_s": 9.877, "snr_method": "pauses", "thresholds": {"min_net_spe'
        'ech_s": 3.0, "warn_net_speech_s": 6.0, "min_snr_db": 10.0, "warn_snr_db": 20.0, "max_clipping": '
        '0.01, "warn_clipping": 0.001, "telephone_band_hz": 5000.0, "min_bandwidth_hz": 2500.0, "min_leve'
        'l_dbfs": -45.0}}, "known": {"verdict": "ok", "reasons": [], "net_speech_s": 7.123, "snr_db": 23.'
        '46, "clipping_fraction": 0.000123456, "bandwidth_hz": 11025.0, "telephone_band": false, "level_d'
        'bfs": -21.23, "duration_s": 9.877, "snr_method": "pauses", "thresholds": {"min_net_speech_s": 3.'
        '0, "warn_net_speech_s": 6.0, "min_snr_db": 10.0, "warn_snr_db": 20.0, "max_clipping": 0.01, "war'
        'n_clipping": 0.001, "telephone_band_hz": 5000.0, "min_bandwidth_hz": 2500.0, "min_level_dbfs": -'
        '45.0}}}, "segments_used": {"questioned": ["q0"], "known": ["k0"]}, "validation_position": {"shar'
        'e_same_speaker_trials_at_or_below": 0.5254, "share_different_speaker_trials_at_or_above": 0.0001'
        '}}'
    ),
    'lower bound': (
        '{"score": 0.5209, "snorm": -4.0235, "log10_lr": -2.28, "lr": 0.005248, "verbal": "moderately str'
        'ong support for Hd (different speakers)", "label": "different", "abstain_reason": null, "speech_'
        's": {"questioned": 9.87, "known": 10.05}, "at_bound": true, "hp": "the questioned and the known '
        'speech were spoken by the same speaker", "hd": "the questioned and the known speech were spoken '
        'by different speakers of the relevant population (adult speakers of the same sex as the known sp'
        'eaker; mostly English speech)", "scale": "ENFSI Guideline for Evaluative Reporting in Forensic S'
        'cience (2015)", "channel": "wideband", "quality": {"questioned": {"verdict": "ok", "reasons": []'
        ', "net_speech_s": 7.123, "snr_db": 23.46, "clipping_fraction": 0.000123456, "bandwidth_hz": 1102'
        '5.0, "telephone_band": false, "level_dbfs": -21.23, "duration_s": 9.877, "snr_method": "pauses",'
        ' "thresholds": {"min_net_speech_s": 3.0, "warn_net_speech_s": 6.0, "min_snr_db": 10.0, "warn_snr'
        '_db": 20.0, "max_clipping": 0.01, "warn_clipping": 0.001, "telephone_band_hz": 5000.0, "min_band'
        'width_hz": 2500.0, "min_level_dbfs": -45.0}}, "known": {"verdict": "ok", "reasons": [], "net_spe'
        'ech_s": 7.123, "snr_db": 23.46, "clipping_fraction": 0.000123456, "bandwidth_hz": 11025.0, "tele'
        'phone_band": false, "level_dbfs": -21.23, "duration_s": 9.877, "snr_method": "pauses", "threshol'
        'ds": {"min_net_speech_s": 3.0, "warn_net_speech_s": 6.0, "min_snr_db": 10.0, "warn_snr_db": 20.0'
        ', "max_clipping": 0.01, "warn_clipping": 0.001, "telephone_band_hz": 5000.0, "min_bandwidth_hz":'
        ' 2500.0, "min_level_dbfs": -45.0}}}, "segments_used": {"questioned": ["q0"], "known": ["k0"]}, "'
        'validation_position": {"share_same_speaker_trials_at_or_below": 0.0, "share_different_speaker_tr'
        'ials_at_or_above": 1.0}}'
    ),
    'telephone': (
        '{"score": 0.8086, "snorm": 3.5956, "log10_lr": 1.5028, "lr": 31.83, "verbal": "moderate support '
        'for Hp (same speaker)", "label": "same", "abstain_reason": null, "speech_s": {"questioned": 6.54'
        ', "known": 5.5}, "at_bound": false, "hp": "the questioned and the known speech were spoken by th'
        'e same speaker", "hd": "the questioned and the known speech were spoken by different speakers of'
        ' the relevant population (adult speakers of the same sex as the known speaker; mostly English sp'
        'eech)", "scale": "ENFSI Guideline for Evaluative Reporting in Forensic Science (2015)", "channel'
        '": "telephone band (both sides)", "quality": {"questioned": {"verdict": "ok", "reasons": [], "ne'
        't_speech_s": 7.123, "snr_db": 23.46, "clipping_fraction": 0.000123456, "bandwidth_hz": 3312.5, "'
        'telephone_band": true, "level_dbfs": -21.23, "duration_s": 9.877, "snr_method": "pauses", "thres'
        'holds": {"min_net_speech_s": 3.0, "warn_net_speech_s": 6.0, "min_snr_db": 10.0, "warn_snr_db": 2'
        '0.0, "max_clipping": 0.01, "warn_clipping": 0.001, "telephone_band_hz": 5000.0, "min_bandwidth_h'
        'z": 2500.0, "min_level_dbfs": -45.0}}, "known": {"verdict": "ok", "reasons": [], "net_speech_s":'
        ' 7.123, "snr_db": 23.46, "clipping_fraction": 0.000123456, "bandwidth_hz": 11025.0, "telephone_b'
        'and": false, "level_dbfs": -21.23, "duration_s": 9.877, "snr_method": "pauses", "thresholds": {"'
        'min_net_speech_s": 3.0, "warn_net_speech_s": 6.0, "min_snr_db": 10.0, "warn_snr_db": 20.0, "max_'
        'clipping": 0.01, "warn_clipping": 0.001, "telephone_band_hz": 5000.0, "min_bandwidth_hz": 2500.0'
        ', "min_level_dbfs": -45.0}}}, "segments_used": {"questioned": ["q0"], "known": ["k0", "k1"]}, "v'
        'alidation_position": {"share_same_speaker_trials_at_or_below": 0.147, "share_different_speaker_t'
        'rials_at_or_above": 0.0012}}'
    ),
    'short': (
        '{"score": 1.0, "snorm": null, "log10_lr": null, "lr": null, "verbal": "no opinion (the system ab'
        'stained)", "label": "abstain", "abstain_reason": "too little net speech on the questioned side ('
        '1.2 s / 9.0 s; the validation covers 2 s or more)", "speech_s": {"questioned": 1.23, "known": 9.'
        '0}, "at_bound": false, "hp": "the questioned and the known speech were spoken by the same speake'
        'r", "hd": "the questioned and the known speech were spoken by different speakers of the relevant'
        ' population (adult speakers of the same sex as the known speaker; mostly English speech)", "scal'
        'e": "ENFSI Guideline for Evaluative Reporting in Forensic Science (2015)", "channel": "wideband"'
        ', "quality": {"questioned": {"verdict": "insufficient", "reasons": ["a reason"], "net_speech_s":'
        ' 7.123, "snr_db": 23.46, "clipping_fraction": 0.000123456, "bandwidth_hz": 11025.0, "telephone_b'
        'and": false, "level_dbfs": -21.23, "duration_s": 9.877, "snr_method": "pauses", "thresholds": {"'
        'min_net_speech_s": 3.0, "warn_net_speech_s": 6.0, "min_snr_db": 10.0, "warn_snr_db": 20.0, "max_'
        'clipping": 0.01, "warn_clipping": 0.001, "telephone_band_hz": 5000.0, "min_bandwidth_hz": 2500.0'
        ', "min_level_dbfs": -45.0}}, "known": {"verdict": "ok", "reasons": [], "net_speech_s": 7.123, "s'
        'nr_db": 23.46, "clipping_fraction": 0.000123456, "bandwidth_hz": 11025.0, "telephone_band": fals'
        'e, "level_dbfs": -21.23, "duration_s": 9.877, "snr_method": "pauses", "thresholds": {"min_net_sp'
        'eech_s": 3.0, "warn_net_speech_s": 6.0, "min_snr_db": 10.0, "warn_snr_db": 20.0, "max_clipping":'
        ' 0.01, "warn_clipping": 0.001, "telephone_band_hz": 5000.0, "min_bandwidth_hz": 2500.0, "min_lev'
        'el_dbfs": -45.0}}}, "segments_used": {"questioned": ["q0"], "known": ["k0"]}}'
    ),
    'clipped': (
        '{"score": 1.0, "snorm": null, "log10_lr": null, "lr": null, "verbal": "no opinion (the system ab'
        'stained)", "label": "abstain", "abstain_reason": "the questioned side is clipped (2.35 % of samp'
        'les; not validated above 1 %)", "speech_s": {"questioned": 8.0, "known": 8.5}, "at_bound": false'
        ', "hp": "the questioned and the known speech were spoken by the same speaker", "hd": "the questi'
        'oned and the known speech were spoken by different speakers of the relevant population (adult sp'
        'eakers of the same sex as the known speaker; mostly English speech)", "scale": "ENFSI Guideline '
        'for Evaluative Reporting in Forensic Science (2015)", "channel": "wideband", "quality": {"questi'
        'oned": {"verdict": "insufficient", "reasons": ["a reason"], "net_speech_s": 7.123, "snr_db": 23.'
        '46, "clipping_fraction": 0.0234567, "bandwidth_hz": 11025.0, "telephone_band": false, "level_dbf'
        's": -21.23, "duration_s": 9.877, "snr_method": "pauses", "thresholds": {"min_net_speech_s": 3.0,'
        ' "warn_net_speech_s": 6.0, "min_snr_db": 10.0, "warn_snr_db": 20.0, "max_clipping": 0.01, "warn_'
        'clipping": 0.001, "telephone_band_hz": 5000.0, "min_bandwidth_hz": 2500.0, "min_level_dbfs": -45'
        '.0}}, "known": {"verdict": "ok", "reasons": [], "net_speech_s": 7.123, "snr_db": 23.46, "clippin'
        'g_fraction": 0.000123456, "bandwidth_hz": 11025.0, "telephone_band": false, "level_dbfs": -21.23'
        ', "duration_s": 9.877, "snr_method": "pauses", "thresholds": {"min_net_speech_s": 3.0, "warn_net'
        '_speech_s": 6.0, "min_snr_db": 10.0, "warn_snr_db": 20.0, "max_clipping": 0.01, "warn_clipping":'
        ' 0.001, "telephone_band_hz": 5000.0, "min_bandwidth_hz": 2500.0, "min_level_dbfs": -45.0}}}, "se'
        'gments_used": {"questioned": ["q0"], "known": ["k0"]}}'
    ),
    'narrow': (
        '{"score": 1.0, "snorm": null, "log10_lr": null, "lr": null, "verbal": "no opinion (the system ab'
        'stained)", "label": "abstain", "abstain_reason": "the known side\'s bandwidth is 2100 Hz (not val'
        'idated below 2500 Hz)", "speech_s": {"questioned": 8.0, "known": 8.5}, "at_bound": false, "hp": '
        '"the questioned and the known speech were spoken by the same speaker", "hd": "the questioned and'
        ' the known speech were spoken by different speakers of the relevant population (adult speakers o'
        'f the same sex as the known speaker; mostly English speech)", "scale": "ENFSI Guideline for Eval'
        'uative Reporting in Forensic Science (2015)", "channel": "wideband", "quality": {"questioned": {'
        '"verdict": "ok", "reasons": [], "net_speech_s": 7.123, "snr_db": 23.46, "clipping_fraction": 0.0'
        '00123456, "bandwidth_hz": 11025.0, "telephone_band": false, "level_dbfs": -21.23, "duration_s": '
        '9.877, "snr_method": "pauses", "thresholds": {"min_net_speech_s": 3.0, "warn_net_speech_s": 6.0,'
        ' "min_snr_db": 10.0, "warn_snr_db": 20.0, "max_clipping": 0.01, "warn_clipping": 0.001, "telepho'
        'ne_band_hz": 5000.0, "min_bandwidth_hz": 2500.0, "min_level_dbfs": -45.0}}, "known": {"verdict":'
        ' "insufficient", "reasons": ["a reason"], "net_speech_s": 7.123, "snr_db": 23.46, "clipping_frac'
        'tion": 0.000123456, "bandwidth_hz": 2100.4, "telephone_band": false, "level_dbfs": -21.23, "dura'
        'tion_s": 9.877, "snr_method": "pauses", "thresholds": {"min_net_speech_s": 3.0, "warn_net_speech'
        '_s": 6.0, "min_snr_db": 10.0, "warn_snr_db": 20.0, "max_clipping": 0.01, "warn_clipping": 0.001,'
        ' "telephone_band_hz": 5000.0, "min_bandwidth_hz": 2500.0, "min_level_dbfs": -45.0}}}, "segments_'
        'used": {"questioned": ["q0"], "known": ["k0"]}}'
    ),
    'no speech': (
        '{"score": null, "snorm": null, "log10_lr": null, "lr": null, "verbal": "no opinion (the system a'
        'bstained)", "label": "abstain", "abstain_reason": "no speech long enough for a speaker embedding'
        ' on the questioned side", "speech_s": {"questioned": 0.0, "known": 9.0}, "at_bound": false, "hp"'
        ': "the questioned and the known speech were spoken by the same speaker", "hd": "the questioned a'
        'nd the known speech were spoken by different speakers of the relevant population (adult speakers'
        ' of the same sex as the known speaker; mostly English speech)", "scale": "ENFSI Guideline for Ev'
        'aluative Reporting in Forensic Science (2015)", "channel": "wideband", "quality": {"questioned":'
        ' {"verdict": "insufficient", "reasons": ["a reason"], "net_speech_s": 7.123, "snr_db": 23.46, "c'
        'lipping_fraction": 0.000123456, "bandwidth_hz": 11025.0, "telephone_band": false, "level_dbfs": '
        '-21.23, "duration_s": 9.877, "snr_method": "pauses", "thresholds": {"min_net_speech_s": 3.0, "wa'
        'rn_net_speech_s": 6.0, "min_snr_db": 10.0, "warn_snr_db": 20.0, "max_clipping": 0.01, "warn_clip'
        'ping": 0.001, "telephone_band_hz": 5000.0, "min_bandwidth_hz": 2500.0, "min_level_dbfs": -45.0}}'
        ', "known": {"verdict": "ok", "reasons": [], "net_speech_s": 7.123, "snr_db": 23.46, "clipping_fr'
        'action": 0.000123456, "bandwidth_hz": 11025.0, "telephone_band": false, "level_dbfs": -21.23, "d'
        'uration_s": 9.877, "snr_method": "pauses", "thresholds": {"min_net_speech_s": 3.0, "warn_net_spe'
        'ech_s": 6.0, "min_snr_db": 10.0, "warn_snr_db": 20.0, "max_clipping": 0.01, "warn_clipping": 0.0'
        '01, "telephone_band_hz": 5000.0, "min_bandwidth_hz": 2500.0, "min_level_dbfs": -45.0}}}, "segmen'
        'ts_used": {"questioned": [], "known": ["k0"]}}'
    ),
}


@pytest.mark.slow
def test_reported_verdict_is_byte_identical() -> None:
    from s2f_desktop.inference.comparison import PreparedSide, get_comparator

    cmp = get_comparator("cpu")
    for name, (qq, kq, qe, ke, tel) in verdict_inputs(cmp.cohort).items():
        v = cmp.verdict_from(PreparedSide([], qq, tel), PreparedSide([], kq, False), qe, ke, tel)
        assert json.dumps(codec.encode_comparison_verdict(v)) == VERDICTS_JSON[name], name


@pytest.mark.slow
def test_a_side_below_the_gate_s_snr_minimum_abstains() -> None:
    """Noise is not validated (comparison card): a side under 10 dB SNR gets no LR, whatever its score."""
    import dataclasses

    from s2f_desktop.inference.comparison import PreparedSide, get_comparator

    cmp = get_comparator("cpu")
    qq, kq, qe, ke, tel = verdict_inputs(cmp.cohort)["support Hp"]
    decided = cmp.verdict_from(PreparedSide([], qq, tel), PreparedSide([], kq, False), qe, ke, tel)
    assert decided.log10_lr is not None
    noisy = dataclasses.replace(kq, snr_db=9.996)
    v = cmp.verdict_from(PreparedSide([], qq, tel), PreparedSide([], noisy, False), qe, ke, tel)
    assert v.log10_lr is None and v.label == "abstain"
    assert v.abstain_reason == "the known side's estimated SNR is 9.99 dB (not validated below 10 dB)"
    assert cmp.parameters()["abstain_snr_db"] == 10.0
