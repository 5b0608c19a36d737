"""cProfile of an env's steps: the hotspots shown by the ``profile`` section."""

from __future__ import annotations

import cProfile
import os
import pstats
import time
from dataclasses import dataclass
from pathlib import Path

from train.bench.steppers import Stepper


@dataclass
class Profile:
    """cProfile of one env's steps: the top functions by own time and the project's
    functions by cumulative time, as ``(function, calls, share of the total)``."""

    label: str
    steps: int
    seconds: float
    calls_per_step: float  # Python and C function calls cProfile saw per step
    by_own: list[tuple[str, int, float]]
    by_cumulative: list[tuple[str, int, float]]


def profile_steps(label: str, stepper: Stepper, seconds: float, top: int = 12) -> Profile:
    """Profile ``stepper``'s calls (same action pool throughout) for about ``seconds``."""
    profiler = cProfile.Profile()
    steps, start = 0, time.perf_counter()
    profiler.enable()
    while steps < 8 or (time.perf_counter() - start < seconds and steps < 100_000):
        stepper.step(steps)
        steps += 1
    profiler.disable()
    elapsed = time.perf_counter() - start
    stepper.close()
    stats = pstats.Stats(profiler)
    total = stats.total_tt or 1.0
    entries = [(func, nc, tt, ct) for func, (_cc, nc, tt, ct, _callers) in stats.stats.items()]
    by_own = sorted(entries, key=lambda e: -e[2])[:top]
    ours = [e for e in entries if f"{os.sep}modenhub_env{os.sep}" in e[0][0]]
    by_cumulative = sorted(ours, key=lambda e: -e[3])[:top]
    return Profile(
        label, steps, elapsed, stats.total_calls / steps,
        [(_function_name(f), nc, tt / total) for f, nc, tt, _ in by_own],
        [(_function_name(f), nc, ct / total) for f, nc, _, ct in by_cumulative],
    )


def _function_name(func: tuple[str, int, str]) -> str:
    path, line, name = func
    if path == "~":
        return name
    parts = Path(path).parts
    short = "/".join(parts[-2:]) if len(parts) >= 2 else path
    return f"{short}:{line}({name})"
