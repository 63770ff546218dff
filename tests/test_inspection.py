"""The waveform's "Measure selection": Praat measures of exactly the selected segments."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import soundfile as sf

from s2f_desktop.services import evidence, inspection


def test_measure_selection_reads_only_the_selected_segments(ctx, case, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """A red-team pass selected two segments with another speaker's between them: the measure ran from the first
    start to the last end and took in the other voice (F0 median 87 Hz where the selected voice was higher)."""
    sr = 16000
    t = np.arange(sr) / sr
    high, low = 0.3 * np.sin(2 * np.pi * 220 * t), 0.3 * np.sin(2 * np.pi * 100 * t)
    wav = tmp_path / "two-voices.wav"
    sf.write(str(wav), np.concatenate([high, low, low, high]).astype(np.float32), sr, subtype="PCM_16")
    ev = evidence.import_file(ctx, case.number, wav).evidence
    assert ev is not None
    m = inspection.selection_measures(ctx, ev, 0, 4 * sr, ranges=[(3 * sr, 4 * sr), (0, sr)])
    assert m.n_parts == 2 and m.measured_s == 2.0 and (m.start_s, m.end_s) == (0.0, 4.0)
    assert m.values["f0_median"] is not None and abs(m.values["f0_median"] - 220) < 5
    assert m.text().startswith("2.000 s of 2 segments joined")
    whole = inspection.selection_measures(ctx, ev, 0, 4 * sr)  # the span itself, as the old measure read it
    assert whole.values["f0_median"] is not None and whole.values["f0_median"] < 200
