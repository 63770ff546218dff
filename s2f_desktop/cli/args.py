"""Argument types shared by the commands: each refuses a bad value with one line and exit status 2."""

from __future__ import annotations

import argparse
import math

from s2f_desktop.core.errors import InputError


def seconds(text: str) -> float:
    """A finite, ASCII time value (``float`` would take nan, inf and Arabic-Indic digits)."""
    from s2f_desktop.services.segments import parse_time

    try:
        return parse_time(text)
    except InputError as exc:
        raise argparse.ArgumentTypeError(exc.message) from exc


def probability(text: str) -> float:
    """A number strictly between 0 and 1 (a detector threshold)."""
    try:
        value = float(text) if text.isascii() else math.nan
    except ValueError:
        value = math.nan
    if not 0.0 < value < 1.0:
        raise argparse.ArgumentTypeError(f"{text!r} is not a probability between 0 and 1")
    return value
