"""Praat-style inspection of a recording: tracks for the view, measures of a selection.

Nothing here is stored: these are views of the evidence for the analyst, computed by
the same code as the stored acoustic measures (:mod:`s2f_desktop.voice`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from s2f_desktop.core.errors import InputError
from s2f_desktop.core.models import Evidence
from s2f_desktop.services.audio import read_evidence
from s2f_desktop.services.context import AppContext
from s2f_desktop.voice.tracks import MAX_TRACK_S, Tracks, compute_tracks

#: Below this bandwidth a recording is treated as telephone band (F3/F4 unreliable).
TELEPHONE_RATE = 8000


def evidence_tracks(ctx: AppContext, evidence: Evidence, start_sample: int, end_sample: int) -> Tracks:
    """F0 and formant tracks of ``[start, end)``; times are seconds from ``start_sample``."""
    sr = evidence.media.sample_rate
    if (end_sample - start_sample) / sr > MAX_TRACK_S:
        raise InputError(f"tracks are computed for at most {MAX_TRACK_S:.0f} s at a time; zoom in")
    x = read_evidence(ctx, evidence, max(0, start_sample), min(evidence.media.frames, end_sample))
    return compute_tracks(np.asarray(x, dtype=np.float32), sr)


@dataclass(frozen=True)
class SelectionMeasures:
    """Measures of one selected range, ready to show (values may be None)."""

    start_s: float
    end_s: float
    rms_dbfs: float | None
    peak_dbfs: float | None
    values: dict[str, float | None]
    notes: tuple[str, ...]
    #: Seconds measured (the selected segments only, joined) and how many segments; None: one range.
    measured_s: float | None = None
    n_parts: int = 1

    def text(self) -> str:
        """One line in words and units."""
        from s2f_desktop.voice.acoustics import UNITS

        def v(name: str, fmt: str = "{:.0f}") -> str:
            x = self.values.get(name)
            return "–" if x is None else fmt.format(x)

        seconds = self.end_s - self.start_s if self.measured_s is None else self.measured_s
        parts = [f"{seconds:.3f} s" + (f" of {self.n_parts} segments joined" if self.n_parts > 1 else "")]
        if self.rms_dbfs is not None:
            parts.append(f"RMS {self.rms_dbfs:.1f} dBFS, peak {self.peak_dbfs:.1f} dBFS")
        parts.append(f"F0 median {v('f0_median')} Hz (5–95 %: {v('f0_p5')}–{v('f0_p95')})")
        parts.append(f"F1 {v('f1')} · F2 {v('f2')} · F3 {v('f3')} · F4 {v('f4')} {UNITS['f1']}")
        parts.append(f"HNR {v('hnr', '{:.1f}')} dB · jitter {v('jitter_local', '{:.2f}')} % · "
                     f"shimmer {v('shimmer_local', '{:.2f}')} %")
        out = " | ".join(parts)
        if self.notes:
            out += " (" + "; ".join(self.notes) + ")"
        return out


def selection_measures(ctx: AppContext, evidence: Evidence, start_sample: int, end_sample: int,
                       ranges: Sequence[tuple[int, int]] | None = None) -> SelectionMeasures:
    """Level, F0, formants, HNR, jitter and shimmer of ``[start, end)`` (Praat methods); refused, like every
    measurement, when the vault copy no longer matches its imported sha256.

    ``ranges`` (the selected segments, in samples): only they are measured, joined (overlaps merged);
    the audio between them, perhaps another speaker's, is not (``start``/``end`` are then their span).
    """
    from s2f_desktop.services.evidence import require_intact
    from s2f_desktop.voice.acoustics import measure

    sr = evidence.media.sample_rate
    spans: list[list[int]] = []
    for a, b in sorted(ranges) if ranges else [(start_sample, end_sample)]:
        if b <= a:
            raise InputError("select a range to measure")
        if spans and a <= spans[-1][1]:
            spans[-1][1] = max(spans[-1][1], b)
        else:
            spans.append([a, b])
    total = sum(b - a for a, b in spans)
    if total / sr > MAX_TRACK_S:
        raise InputError(f"measure at most {MAX_TRACK_S:.0f} s at a time")
    require_intact(ctx, [evidence])
    x = np.concatenate([np.asarray(read_evidence(ctx, evidence, a, b), dtype=np.float64) for a, b in spans])
    rms = float(np.sqrt(np.mean(x * x))) if len(x) else 0.0
    peak = float(np.max(np.abs(x))) if len(x) else 0.0
    m = measure(x, sr, band_limited=sr <= TELEPHONE_RATE)
    return SelectionMeasures(spans[0][0] / sr, spans[-1][1] / sr,
                             20 * np.log10(rms) if rms > 0 else None, 20 * np.log10(peak) if peak > 0 else None,
                             dict(m.values), tuple(m.notes), total / sr if ranges else None, len(spans))
