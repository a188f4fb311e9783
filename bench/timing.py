"""Interleaved timing shared by the benchmarks: ours and the peer alternate (ABBA), so drift hits both alike."""

from __future__ import annotations

import gc
import os
import statistics
import time
from collections.abc import Callable


def time_once(fn: Callable[[], object]) -> float:
    gc.collect()  # neither side pays for the other's garbage
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def interleaved(a: Callable[[], object], b: Callable[[], object], repeats: int) -> tuple[float, float, float]:
    """Median seconds of ``a``, of ``b``, and the ratio of their minimums (the least noisy estimate of the work)."""
    a()
    b()  # warm-up
    ta, tb = [], []
    for i in range(repeats):  # ABBA order, so neither side always runs first
        if i % 2:
            tb.append(time_once(b))
            ta.append(time_once(a))
        else:
            ta.append(time_once(a))
            tb.append(time_once(b))
    return statistics.median(ta), statistics.median(tb), min(ta) / min(tb)


def cached_bytecode_env(cache: str) -> dict[str, str]:
    """The environment of a fresh process that finds byte-code cached, as an installed package has it: written
    into ``cache`` (``PYTHONPYCACHEPREFIX``; the first run writes it) even where this environment says not to
    (``PYTHONDONTWRITEBYTECODE`` dropped)."""
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTHONPYCACHEPREFIX"] = cache
    return env
