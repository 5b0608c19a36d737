"""Measuring a :class:`~train.bench.steppers.Stepper` or a fixed piece of work: timed runs,
interleaved pairs, tracemalloc peaks and the memory probe that skips configs too big."""

from __future__ import annotations

import contextlib
import statistics
import time
import tracemalloc
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from train.bench.plan import GIB, MIB, Plan
from train.bench.steppers import Stepper

REFRESH_EVERY = 32  # timed step() calls between two samplings of the action pool
MEMORY_STEPS = 8  # steps run under tracemalloc after construction and reset
PROBE_BATCH = 64  # [envs] batch of the probe that estimates a big config's memory
INTERLEAVE = 3  # an interleaved measurement makes this many shorter runs per repeat


@contextlib.contextmanager
def numba_threads(threads: int | None) -> Iterator[int]:
    """Run the block with the core on ``threads`` threads (``modenhub_env.core.set_threads``;
    ``None``: as they are); yields the count in use. The core splits a large batch over
    its threads at each call, so this applies at once."""
    from modenhub_env import core

    before = core.get_threads()
    if threads is not None:
        core.set_threads(threads)
    try:
        yield core.get_threads()
    finally:
        core.set_threads(before)


def warm_up() -> None:
    """Compile (or load from numba's cache) every kernel the measurements call: reset, the
    step on one thread and on several, the observation and the fused Monte Carlo, so that
    no measurement, nor its memory pass, pays for it."""
    import numpy as np

    from agents import make_policy
    from modenhub_env.config import HubConfig
    from modenhub_env.core import PARALLEL_MIN_BATCH, HubCore

    config = HubConfig.preset("paper", n_qpus=8)
    core = HubCore(config, PARALLEL_MIN_BATCH)
    core.reset(np.ones(core.batch, dtype=bool), np.arange(1, core.batch + 1, dtype=np.uint64))
    actions = np.zeros((core.batch, core.n_slots), dtype=np.int64)
    for threads in (1, 2):
        with numba_threads(threads):
            core.advance(actions, autoreset=True)
            core.refresh()
            core.play(make_policy("log-parallel", config).params, np.arange(1, core.batch + 1, dtype=np.uint64))


def traced(build: Callable[[], Any]) -> tuple[Any, float, float]:
    """``build()``, and tracemalloc's current and peak memory [bytes] at its end."""
    tracemalloc.start()
    try:
        result = build()
        current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return result, float(current), float(peak)


def memory_pass(make: Callable[[int], Stepper], batch: int) -> tuple[Stepper, float]:
    """Build (and reset) ``batch`` envs, then run ``MEMORY_STEPS`` steps; peak memory
    [bytes] = the larger of the construction's peak and (what the env holds after
    construction + the peak of the steps). Sampling the action pool is not counted."""
    stepper, held, build_peak = traced(lambda: make(batch))
    stepper.refresh()

    def steps() -> None:
        for i in range(MEMORY_STEPS):
            stepper.step(i)

    _, _, step_peak = traced(steps)
    return stepper, max(build_peak, held + step_peak)


def timed_rates(stepper: Stepper, plan: Plan, runs: int) -> list[float]:
    """Env-steps per second of each of ``runs`` timed runs of ``plan.run_seconds``."""
    rates = []
    for _ in range(runs):
        calls, elapsed = 0, 0.0
        while elapsed < plan.run_seconds and calls < plan.max_calls:
            stepper.refresh()
            chunk = min(REFRESH_EVERY, plan.max_calls - calls)
            start = time.perf_counter()
            deadline = start + plan.run_seconds - elapsed
            done = 0
            while done < chunk:
                stepper.step(done)
                done += 1
                if time.perf_counter() >= deadline:
                    break
            elapsed += time.perf_counter() - start
            calls += done
        rates.append(calls * stepper.envs_per_call / elapsed)
    return rates


def speed_row(row: dict, rates: list[float], peak: float, note: str = "") -> dict:
    """``row`` with the median speed of ``rates`` and the peak memory filled in."""
    median = statistics.median(rates)
    spread = f"median of {len(rates)} runs ({min(rates):,.0f}-{max(rates):,.0f}/s)"
    return {
        **row,
        "steps_per_s": median,
        "ns_per_step": 1e9 / median,
        "peak_mem_mib": peak / MIB,
        "note": "; ".join(part for part in (note, spread) if part),
    }


@dataclass(frozen=True)
class Spec:
    """One env-speed measurement to make: ``make(batch)`` builds the env, ``row`` names it."""

    label: str
    make: Callable[[int], Stepper]
    batch: int
    row: dict
    threads: int | None = None  # core threads of the timed runs (set_threads); None: as they are


def too_big(plan: Plan, spec: Spec) -> str | None:
    """A note if a probe at ``PROBE_BATCH`` envs, scaled linearly, exceeds ``plan.max_mem``."""
    if spec.batch <= PROBE_BATCH:
        return None
    probe, probe_peak = memory_pass(spec.make, PROBE_BATCH)
    probe.close()
    estimate = probe_peak * spec.batch / PROBE_BATCH
    if estimate <= plan.max_mem:
        return None
    return (
        f"skipped: needs ~{estimate / GIB:.1f} GiB > {plan.max_mem / GIB:g} GiB "
        f"(tracemalloc peak at B={PROBE_BATCH}, scaled linearly)"
    )


def measure_env(plan: Plan, spec: Spec) -> list[dict]:
    """Memory pass (after a probe for a big batch), then ``plan.repeats`` timed runs."""
    skip = too_big(plan, spec)
    if skip:
        return [{**spec.row, "note": skip}]
    stepper, peak = memory_pass(spec.make, spec.batch)
    try:
        with numba_threads(spec.threads) as threads:
            rates = timed_rates(stepper, plan, plan.repeats)
    finally:
        stepper.close()
    ours = spec.row["env"].startswith("modenhub")  # CartPole uses no core threads
    return [{**speed_row(spec.row, rates, peak), "threads": threads if ours else ""}]


def measure_group(plan: Plan, yardstick: Spec, ours: list[Spec]) -> list[dict]:
    """The yardstick and each of ``ours`` measured in alternation (yardstick, ours..., yardstick,
    ...) in ``INTERLEAVE`` times as many, shorter runs, so that the machine's drifting load
    hits all alike; each of ``ours`` gets the median of its per-run speed ratios to the
    yardstick as ``_ratio`` (used by the targets)."""
    fitting, skipped = [], []
    for spec in ours:
        skip = too_big(plan, spec)
        if skip:
            skipped.append({**spec.row, "note": skip})
        else:
            fitting.append(spec)
    specs = [yardstick, *fitting]
    envs = [memory_pass(spec.make, spec.batch) for spec in specs]
    short = Plan(**{**vars(plan), "seconds": plan.seconds / INTERLEAVE})
    rates: list[list[float]] = [[] for _ in specs]
    used: list[int] = [0] * len(specs)
    try:
        for _ in range(plan.repeats * INTERLEAVE):
            for i, ((stepper, _), spec) in enumerate(zip(envs, specs, strict=True)):
                with numba_threads(spec.threads) as used[i]:
                    rates[i] += timed_rates(stepper, short, 1)
    finally:
        for stepper, _ in envs:
            stepper.close()
    names = ", ".join(f"{s.row['env']} ({used[i]} thread(s))" for i, s in enumerate(fitting, 1))
    rows = [{**speed_row(yardstick.row, rates[0], envs[0][1], f"interleaved with {names}"), "threads": ""}]
    for i, spec in enumerate(fitting, 1):
        ratios = [b / a for a, b in zip(rates[0], rates[i], strict=True)]
        per_run = ", ".join(f"{r:.3g}" for r in ratios)
        note = f"interleaved with {yardstick.row['env']}; speed ratio per run {per_run}"
        row = {**speed_row(spec.row, rates[i], envs[i][1], note), "threads": used[i]}
        row["_ratio"] = statistics.median(ratios)
        row["_ratio_range"] = (min(ratios), max(ratios))
        rows.append(row)
    return rows + skipped


def time_work(plan: Plan, work: Callable[[], float], row: dict, note: str) -> dict:
    """A fixed piece of work returning its attempts: one traced run for memory, then timed
    runs (at least one, up to ``repeats`` within ``seconds``)."""
    attempts, _, peak = traced(work)
    rates, spent = [], 0.0
    while not rates or (len(rates) < plan.repeats and spent < plan.seconds):
        start = time.perf_counter()
        work()
        elapsed = time.perf_counter() - start
        spent += elapsed
        rates.append(attempts / elapsed)
    return speed_row(row, rates, peak, f"{note}; {attempts:,.0f} attempts")
