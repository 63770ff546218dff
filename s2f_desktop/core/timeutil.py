"""Time: the one UTC clock and the one set of time formatters (CLI, GUI and report share them).

Stored times are naive UTC (SQLite keeps no zone); times on the signal axis are seconds.
"""

from __future__ import annotations

import math
from datetime import datetime, timezone


class SampleSpan:
    """Seconds of a range held in samples: ``start_sample``/``end_sample`` at ``sample_rate``.

    Mixed into the frozen dataclasses that carry those three fields (segments, analysed ranges),
    so every range converts samples to seconds the same way.
    """

    start_sample: int
    end_sample: int
    sample_rate: int

    @property
    def start_s(self) -> float:
        """Start in seconds."""
        return self.start_sample / self.sample_rate

    @property
    def end_s(self) -> float:
        """End in seconds."""
        return self.end_sample / self.sample_rate

    @property
    def duration_s(self) -> float:
        """Length in seconds."""
        return (self.end_sample - self.start_sample) / self.sample_rate


def utcnow() -> datetime:
    """Naive UTC timestamp (all stored times are UTC)."""
    return datetime.now(timezone.utc).replace(tzinfo=None)


def fmt_dt(dt: datetime | None) -> str:
    """A stored (naive UTC) time as text: ``YYYY-MM-DD HH:MM:SS UTC`` ("not available" for None)."""
    return "not available" if dt is None else dt.strftime("%Y-%m-%d %H:%M:%S UTC")


def format_time(seconds: float, step: float = 1.0) -> str:
    """``h:mm:ss`` / ``m:ss.mmm``, truncated to as many decimals as ``step`` needs.

    Truncation (not rounding) keeps 59.96 s from printing as ``0:60``.
    """
    decimals = 0 if step >= 1 else min(3, max(1, int(math.ceil(-math.log10(step) - 1e-9))))
    sign = "-" if seconds < 0 else ""
    scale = 10 ** decimals
    units = int(math.floor(abs(seconds) * scale + 1e-6))
    whole, frac = divmod(units, scale)
    h, rem = divmod(whole, 3600)
    m, s = divmod(rem, 60)
    sec = f"{s:02d}" + (f".{frac:0{decimals}d}" if decimals else "")
    return f"{sign}{h}:{m:02d}:{sec}" if h else f"{sign}{m}:{sec}"


def fmt_clock(seconds: float) -> str:
    """A position in a recording to the millisecond: ``m:ss.mmm`` (``h:mm:ss.mmm`` past an hour)."""
    return format_time(seconds, 0.001)


def fmt_duration(seconds: float) -> str:
    """A recording's length: seconds, with minutes past one minute."""
    if seconds < 60:
        return f"{seconds:.2f} s"
    return f"{fmt_clock(seconds)} ({seconds:.1f} s)"
