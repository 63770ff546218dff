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


#: Units Dask accepts for a worker's memory limit (``dask.utils.parse_bytes``), as written on the command line.
_MEMORY_UNITS = {"": 1, "b": 1, "kb": 10**3, "mb": 10**6, "gb": 10**9, "tb": 10**12,
                 "kib": 2**10, "mib": 2**20, "gib": 2**30, "tib": 2**40}


def memory_size(text: str) -> str:
    """A memory size such as ``3GiB`` or ``500MB``, at least 256 MiB (a worker loads the speaker models), kept
    as written for Dask; checked here so a typo is one line, not a cluster that fails to start."""
    import re

    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([A-Za-z]*)\s*", text) if text.isascii() else None
    unit = m.group(2).lower() if m else ""
    if m is None or unit not in _MEMORY_UNITS:
        raise argparse.ArgumentTypeError(f"{text!r} is not a memory size (e.g. 3GiB, 1500MB)")
    if float(m.group(1)) * _MEMORY_UNITS[unit] < 256 * 2**20:
        raise argparse.ArgumentTypeError(f"{text!r} is too little memory for a worker (at least 256MiB)")
    return text.strip()


def worker_count(text: str) -> int:
    """A number of local worker processes: 1 up to four per CPU core (each holds the models in memory)."""
    import os

    limit = 4 * (os.cpu_count() or 1)
    try:
        n = int(text) if text.isascii() else 0
    except ValueError:
        n = 0
    if not 1 <= n <= limit:
        raise argparse.ArgumentTypeError(f"{text!r} is not a worker count from 1 to {limit} (four per CPU core)")
    return n
