"""Resampling to the analysis rate (16 kHz) with torchaudio's band-limited sinc kernel.

Two entry points with identical numerics:

* :func:`resample` for an in-memory array (one segment).
* :func:`resample_blocks` for a stream of blocks (a whole recording), so a 3-hour file
  never needs to be in memory. Blocks are cut at multiples of the reduced input period
  (``sr_in / gcd``) and given enough left/right context that every output sample sees
  exactly the input it would see in a one-shot call: the streamed result equals
  :func:`resample` on the concatenated input (to float rounding).

The kernel is torchaudio's default (``sinc_interp_hann``, 6 zero crossings, roll-off
0.99); ``torchaudio.transforms.Resample`` precomputes it once per rate pair, which
matters for pairs like 44100->16000 whose kernel has 160 phases.
"""

from __future__ import annotations

import functools
import math
from typing import Iterable, Iterator

import numpy as np
import torch
import torchaudio

from s2f_desktop.core.errors import InputError

#: Rate every analysis model expects.
ANALYSIS_RATE = 16000
#: Input frames resampled per step when streaming (rounded up to a whole input period).
STREAM_STEP_FRAMES = 1 << 17


@functools.lru_cache(maxsize=16)
def _resampler(sr_in: int, sr_out: int) -> torchaudio.transforms.Resample:
    return torchaudio.transforms.Resample(orig_freq=sr_in, new_freq=sr_out, dtype=torch.float32)


def _check_rates(sr_in: int, sr_out: int) -> None:
    if int(sr_in) != sr_in or int(sr_out) != sr_out or sr_in <= 0 or sr_out <= 0:
        raise InputError(f"sample rates must be positive integers (got {sr_in} -> {sr_out})")


def resample(x: np.ndarray, sr_in: int, sr_out: int = ANALYSIS_RATE) -> np.ndarray:
    """Resample a 1-D (or ``[channels, n]``) float signal; float32 out; identity when rates match."""
    _check_rates(sr_in, sr_out)
    x = np.asarray(x, dtype=np.float32)
    if sr_in == sr_out:
        return x
    if x.shape[-1] == 0:
        return np.zeros(x.shape[:-1] + (0,), dtype=np.float32)
    with torch.no_grad():
        y = _resampler(int(sr_in), int(sr_out))(torch.from_numpy(np.ascontiguousarray(x)))
    out: np.ndarray = y.numpy().astype(np.float32, copy=False)
    return out


def resample_blocks(blocks: Iterable[np.ndarray], sr_in: int, sr_out: int = ANALYSIS_RATE) -> Iterator[np.ndarray]:
    """Resample a stream of 1-D blocks; the concatenated output equals :func:`resample` of the whole."""
    _check_rates(sr_in, sr_out)
    if sr_in == sr_out:
        for b in blocks:
            yield np.asarray(b, dtype=np.float32)
        return
    g = math.gcd(int(sr_in), int(sr_out))
    p_in, p_out = sr_in // g, sr_out // g
    rs = _resampler(int(sr_in), int(sr_out))
    # Context covering the kernel's reach on either side, in whole input periods.
    ctx = p_in * (math.ceil((rs.width + p_in) / p_in) + 1)
    step = p_in * max(1, math.ceil(STREAM_STEP_FRAMES / p_in))
    buf = np.zeros(ctx, dtype=np.float32)  # left context before the signal = zeros, as in one-shot
    buf_start = -ctx  # absolute input index of buf[0]
    nxt = 0  # absolute input index of the next unprocessed period
    total = 0

    def run(lo: int, hi: int, padded: np.ndarray) -> np.ndarray:
        # padded covers [lo - ctx, hi + ctx); return the outputs for inputs [lo, hi).
        with torch.no_grad():
            y = rs(torch.from_numpy(padded)).numpy()
        o0 = ctx * p_out // p_in
        out: np.ndarray = y[o0:o0 + (hi - lo) * p_out // p_in]
        return out

    for b in blocks:
        b = np.asarray(b, dtype=np.float32).reshape(-1)
        total += b.shape[0]
        buf = np.concatenate([buf, b]) if buf.shape[0] else b
        while buf_start + buf.shape[0] >= nxt + step + ctx:
            lo = nxt - buf_start
            seg = buf[lo - ctx:lo + step + ctx]
            yield np.array(run(nxt, nxt + step, seg), dtype=np.float32)
            nxt += step
            drop = nxt - ctx - buf_start
            buf = buf[drop:]
            buf_start += drop
    # Tail: remaining input, padded with zeros (as the one-shot call pads the end).
    n_left = total - nxt
    if n_left > 0:
        span = p_in * math.ceil(n_left / p_in)
        lo = nxt - buf_start
        seg = np.zeros(ctx + span + ctx, dtype=np.float32)
        avail = buf[lo - ctx:]
        seg[:avail.shape[0]] = avail
        out = run(nxt, nxt + span, seg)
        n_out_total = math.ceil(p_out * total / p_in)
        n_out_done = nxt * p_out // p_in
        yield np.array(out[:n_out_total - n_out_done], dtype=np.float32)
