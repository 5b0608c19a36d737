"""Benchmarks: how fast the ModEn-Hub env, its vector faces, the Monte Carlo and PPO run.

``python -m train.bench`` (``--help`` for the options) measures everything in one run on
one machine and writes ``OUT/benchmarks.csv`` (one row per measurement) and
``OUT/benchmarks.md`` (the tables, the issue's target ratios with PASS/FAIL, the machine
and, with the ``profile`` section, the hotspots of the core), both atomically.

Method, in short (the report repeats it):

* a *speed* is env-steps per second: ``step()`` calls times the envs each call advances,
  over the wall time (``time.perf_counter``) of the timed calls only. Each measurement
  splits its ``--seconds`` budget over ``--repeats`` timed runs (a run also stops after
  ``--max-calls`` calls) and reports their median. Episode resets that happen inside the
  timed calls are timed, as in training.
* actions are *random valid actions* drawn outside the timed calls: every
  ``REFRESH_EVERY`` calls the current action masks are read and ``POOL`` action batches
  are sampled, each slot uniform over the values its mask allows; the timed calls cycle
  through the pool. Masks drift while the pool is used, so some attempts may be clipped by
  the env (``clipped_attempts``): every action is in the action space and was valid a few
  rounds before.
* *peak memory* is ``tracemalloc``'s peak (Python objects and numpy buffers, which numpy
  reports to tracemalloc; not torch) during construction, ``reset`` and ``MEMORY_STEPS``
  steps, in an untimed pass before the timed runs. A config whose estimate (a probe at
  ``PROBE_BATCH`` envs, scaled linearly) exceeds ``--max-mem-gib`` is skipped with a note.

The machine may be shared and noisy: compare the speeds within one report (the ratios),
not across runs.
"""

from __future__ import annotations

import argparse
import cProfile
import datetime
import functools
import importlib.metadata
import math
import os
import platform
import pstats
import shlex
import statistics
import subprocess
import sys
import time
import tracemalloc
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np

import modenhub_env  # noqa: F401  (registers ModEnHub-v0)
from modenhub_env.config import HubConfig
from train.files import write_atomic, write_csv
from train.options import int_list, positive_float, positive_int
from train.progress import progress_bar

ENV_ID = "modenhub_env:ModEnHub-v0"
CARTPOLE_ID = "CartPole-v1"
SECTIONS = ("single", "vector", "sb3", "montecarlo", "ppo", "scaling", "profile")
COLUMNS = [
    "section", "env", "preset", "n_qpus", "batch", "request_slots",
    "steps_per_s", "ns_per_step", "peak_mem_mib", "note",
]
PRESETS = ("paper", "contention")
MIB, GIB = 2**20, 2**30
POOL = 8  # action batches sampled per refresh of the masks
REFRESH_EVERY = 32  # timed step() calls between two samplings of the action pool
MEMORY_STEPS = 8  # steps run under tracemalloc after construction and reset
PROBE_BATCH = 64  # [envs] batch of the probe that estimates a big config's memory
GROWTH_TOLERANCE = 1.25  # noise allowance of the "at most linear" check
TARGET_QPUS, TARGET_BATCH = 16, 1024  # the reference configuration


# ---------------------------------------------------------------------- plan


@dataclass(frozen=True)
class Plan:
    """What one run measures, resolved from the command line (``--quick`` or full)."""

    sections: tuple[str, ...]
    qpus: tuple[int, ...]  # N of the single and vector env grids
    batches: tuple[int, ...]  # B of the vector env grid
    scaling_qpus: tuple[int, ...]  # N of the cost-vs-N sweep
    slots: tuple[int, ...]  # request slots K of the cost-vs-K sweep
    dummy_batch: int  # envs of the SB3 DummyVecEnv comparison
    mc_qpus: tuple[int, ...]  # N of the Monte Carlo cost per attempt
    trials: int  # requests of one Monte Carlo point
    ppo_envs: int
    ppo_n_steps: int  # rollout length per env of PPO
    ppo_steps: int  # env-steps of one PPO learn() call
    seconds: float  # budget of one measurement, split over the repeats
    repeats: int
    max_calls: int  # step() calls of one timed run at most
    max_mem: float  # [bytes] skip configs estimated above this
    seed: int

    @property
    def run_seconds(self) -> float:
        return self.seconds / self.repeats

    @property
    def scaling_batch(self) -> int:
        """The batch of the scaling sweeps: the largest of ``batches`` up to 1024."""
        return max((b for b in self.batches if b <= TARGET_BATCH), default=min(self.batches))


def make_plan(args: argparse.Namespace) -> Plan:
    quick = args.quick
    return Plan(
        sections=args.only or SECTIONS,
        qpus=args.qpus or ((TARGET_QPUS,) if quick else (8, TARGET_QPUS, 128, 1024)),
        batches=args.batches or ((1, TARGET_BATCH) if quick else (1, 64, TARGET_BATCH, 4096)),
        scaling_qpus=args.qpus or ((8, 128) if quick else (8, 32, 128, 512, 1024)),
        slots=args.slots or ((4, 16) if quick else (4, 16, 64)),
        dummy_batch=16 if quick else 64,
        mc_qpus=(128,) if quick else (128, 1024),
        trials=args.trials or (500 if quick else 2500),
        ppo_envs=8 if quick else 16,
        ppo_n_steps=64 if quick else 256,
        ppo_steps=args.ppo_steps or (512 if quick else 8192),
        seconds=args.seconds if args.seconds is not None else (0.5 if quick else 8.0),
        repeats=args.repeats or (1 if quick else 3),
        max_calls=args.max_calls,
        max_mem=args.max_mem_gib * GIB,
        seed=args.seed,
    )


# ---------------------------------------------------------------------- timing


@dataclass
class Stepper:
    """An env ready to be timed: ``step(i)`` makes call ``i`` with the action pool's entry
    ``i % POOL``; ``refresh()`` re-samples the pool (untimed)."""

    step: Callable[[int], Any]
    refresh: Callable[[], None]
    envs_per_call: int
    close: Callable[[], None]


def sample_within(masks: np.ndarray, slots: int, choices: int, rng: np.random.Generator) -> np.ndarray:
    """``POOL`` action batches ``(POOL, B, slots)``, each slot uniform over the values its
    flattened mask ``(B, slots * choices)`` allows (the largest of uniform keys)."""
    allowed = np.asarray(masks, dtype=bool).reshape(-1, slots, choices)
    keys = np.where(allowed, rng.random((POOL,) + allowed.shape), -1.0)
    return keys.argmax(axis=-1)


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
        rates = timed_rates(stepper, plan, plan.repeats)
    finally:
        stepper.close()
    return [speed_row(spec.row, rates, peak)]


def measure_pair(plan: Plan, yardstick: Spec, ours: Spec) -> list[dict]:
    """Both envs measured in alternation (yardstick, ours, yardstick, ...), so that the
    machine's drifting load hits both alike; ``ours`` gets the median of the per-run
    speed ratios as ``_ratio`` (used by the targets)."""
    skip = too_big(plan, ours)
    if skip:
        return measure_env(plan, yardstick) + [{**ours.row, "note": skip}]
    envs = [memory_pass(spec.make, spec.batch) for spec in (yardstick, ours)]
    rates: list[list[float]] = [[], []]
    try:
        for _ in range(plan.repeats):
            for i, (stepper, _) in enumerate(envs):
                rates[i] += timed_rates(stepper, plan, 1)
    finally:
        for stepper, _ in envs:
            stepper.close()
    ratios = [b / a for a, b in zip(rates[0], rates[1], strict=True)]
    per_run = ", ".join(f"{r:.3g}" for r in ratios)
    yard_row = speed_row(yardstick.row, rates[0], envs[0][1], f"interleaved with {ours.row['env']} (target pair)")
    our_row = speed_row(ours.row, rates[1], envs[1][1],
                        f"interleaved with {yardstick.row['env']}; speed ratio per run {per_run}")
    our_row["_ratio"] = statistics.median(ratios)
    return [yard_row, our_row]


# ---------------------------------------------------------------------- envs


def _slots_and_choices(config: HubConfig) -> tuple[int, int]:
    return config.request_slots + config.prefetch_slots, config.k_max + 1


def modenhub_single(config: HubConfig, seed: int) -> Stepper:
    """``gymnasium.make`` with the default wrappers; resets inside the timed calls."""
    env = gym.make(ENV_ID, config=config)
    env.reset(seed=seed)
    rng = np.random.default_rng(seed)
    slots, choices = _slots_and_choices(config)
    pool = np.zeros((POOL, slots), dtype=np.int64)

    def refresh() -> None:
        nonlocal pool
        pool = sample_within(env.unwrapped.action_masks()[None], slots, choices, rng)[:, 0]

    def step(i: int) -> None:
        _, _, terminated, truncated, _ = env.step(pool[i % POOL])
        if terminated or truncated:
            env.reset()

    return Stepper(step, refresh, 1, env.close)


def modenhub_vector(config: HubConfig, batch: int, seed: int) -> Stepper:
    """``gymnasium.make_vec`` -> the native ``ModEnHubVectorEnv`` (same-step autoreset)."""
    env = gym.make_vec(ENV_ID, num_envs=batch, vectorization_mode="vector_entry_point", config=config)
    env.reset(seed=seed)
    return _masked_batch_stepper(env.step, env.unwrapped.action_masks, config, batch, seed, env.close)


def _masked_batch_stepper(step_fn, masks_fn, config: HubConfig, batch: int, seed: int, close) -> Stepper:
    rng = np.random.default_rng(seed)
    slots, choices = _slots_and_choices(config)
    pool = np.zeros((POOL, 1, slots), dtype=np.int64)

    def refresh() -> None:
        nonlocal pool
        pool = sample_within(masks_fn(), slots, choices, rng)

    return Stepper(lambda i: step_fn(pool[i % POOL]), refresh, batch, close)


def cartpole_single(seed: int) -> Stepper:
    env = gym.make(CARTPOLE_ID)
    env.reset(seed=seed)
    pool = np.random.default_rng(seed).integers(0, 2, size=1024).tolist()

    def step(i: int) -> None:
        _, _, terminated, truncated, _ = env.step(pool[i % 1024])
        if terminated or truncated:
            env.reset()

    return Stepper(step, lambda: None, 1, env.close)


def cartpole_vector(batch: int, seed: int) -> Stepper:
    env = gym.make_vec(CARTPOLE_ID, num_envs=batch, vectorization_mode="vector_entry_point")
    env.reset(seed=seed)
    pool = np.random.default_rng(seed).integers(0, 2, size=(POOL, batch))
    return Stepper(lambda i: env.step(pool[i % POOL]), lambda: None, batch, env.close)


def modenhub_dummy(config: HubConfig, batch: int, seed: int) -> Stepper:
    """SB3's ``DummyVecEnv`` of ``batch`` single envs (a Python loop over envs)."""
    from stable_baselines3.common.vec_env import DummyVecEnv

    venv = DummyVecEnv([lambda: gym.make(ENV_ID, config=config)] * batch)
    venv.seed(seed)
    venv.reset()

    def masks() -> np.ndarray:
        return np.stack([env.unwrapped.action_masks() for env in venv.envs])

    return _masked_batch_stepper(venv.step, masks, config, batch, seed, venv.close)


def modenhub_sb3(config: HubConfig, batch: int, seed: int) -> Stepper:
    """The project's SB3 adapter ``ModEnHubVecEnv`` (one batched core call per step)."""
    from modenhub_env.sb3 import ModEnHubVecEnv

    venv = ModEnHubVecEnv(batch, config=config)
    venv.seed(seed)
    venv.reset()
    return _masked_batch_stepper(venv.step, venv.action_masks, config, batch, seed, venv.close)


def cartpole_dummy(batch: int, seed: int) -> Stepper:
    from stable_baselines3.common.vec_env import DummyVecEnv

    venv = DummyVecEnv([lambda: gym.make(CARTPOLE_ID)] * batch)
    venv.seed(seed)
    venv.reset()
    pool = np.random.default_rng(seed).integers(0, 2, size=(POOL, batch))
    return Stepper(lambda i: venv.step(pool[i % POOL]), lambda: None, batch, venv.close)


def _row(section: str, env: str, config: HubConfig | None, preset: str, batch: int) -> dict:
    return {
        "section": section, "env": env, "preset": preset if config else "",
        "n_qpus": config.n_qpus if config else "", "batch": batch,
        "request_slots": config.request_slots if config else "",
    }


# ---------------------------------------------------------------------- sections

Task = tuple[str, Callable[[], list[dict]]]  # (label for the progress bar, work)


def env_specs(plan: Plan) -> list[Spec]:
    """The env-speed measurements of the sections ``single``, ``vector`` and ``sb3``."""
    seed, specs = plan.seed, []

    def add(label: str, section: str, env: str, make, batch: int, config: HubConfig | None, preset=""):
        specs.append(Spec(label, make, batch, _row(section, env, config, preset, batch)))

    if "single" in plan.sections:
        add("single CartPole", "single", "cartpole_single", lambda _b: cartpole_single(seed), 1, None)
        for preset in PRESETS:
            for n in plan.qpus:
                config = HubConfig.preset(preset, n_qpus=n)
                add(f"single {preset} N={n}", "single", "modenhub_single",
                    lambda _b, c=config: modenhub_single(c, seed), 1, config, preset)
    if "vector" in plan.sections:
        for b in plan.batches:
            add(f"vector CartPole B={b}", "vector", "cartpole_vector", lambda bb: cartpole_vector(bb, seed), b, None)
        for preset in PRESETS:
            for n in plan.qpus:
                config = HubConfig.preset(preset, n_qpus=n)
                for b in plan.batches:
                    add(f"vector {preset} N={n} B={b}", "vector", "modenhub_vector",
                        lambda bb, c=config: modenhub_vector(c, bb, seed), b, config, preset)
    if "sb3" in plan.sections:
        b = plan.dummy_batch
        add(f"sb3 CartPole DummyVecEnv B={b}", "sb3", "cartpole_dummyvecenv",
            lambda bb: cartpole_dummy(bb, seed), b, None)
        for preset in PRESETS:
            config = HubConfig.preset(preset, n_qpus=TARGET_QPUS)
            add(f"sb3 {preset} DummyVecEnv B={b}", "sb3", "modenhub_dummyvecenv",
                lambda bb, c=config: modenhub_dummy(c, bb, seed), b, config, preset)
            add(f"sb3 {preset} ModEnHubVecEnv B={b}", "sb3", "modenhub_sb3vecenv",
                lambda bb, c=config: modenhub_sb3(c, bb, seed), b, config, preset)
    return specs


#: The speed targets' configurations, measured interleaved with their yardstick:
#: (row fields of ours, row fields of the yardstick).
TARGET_PAIRS = (
    ({"section": "single", "env": "modenhub_single", "preset": "paper", "n_qpus": TARGET_QPUS},
     {"section": "single", "env": "cartpole_single"}),
    ({"section": "vector", "env": "modenhub_vector", "preset": "paper", "n_qpus": TARGET_QPUS, "batch": TARGET_BATCH},
     {"section": "vector", "env": "cartpole_vector", "batch": TARGET_BATCH}),
)


def env_tasks(plan: Plan) -> list[Task]:
    """One task per spec, except that each target config and its yardstick make one
    interleaved task, in the yardstick's place."""
    specs = env_specs(plan)

    def first(fields: dict) -> Spec | None:
        return next((s for s in specs if all(s.row.get(k) == v for k, v in fields.items())), None)

    pairs = {}
    for ours_fields, yard_fields in TARGET_PAIRS:
        ours, yard = first(ours_fields), first(yard_fields)
        if ours and yard:
            pairs[id(yard)] = ours
    paired = {id(ours) for ours in pairs.values()}
    tasks: list[Task] = []
    for spec in specs:
        if id(spec) in pairs:
            ours = pairs[id(spec)]
            tasks.append((f"{ours.label} + {spec.label}", lambda y=spec, o=ours: measure_pair(plan, y, o)))
        elif id(spec) not in paired:
            tasks.append((spec.label, lambda s=spec: measure_env(plan, s)))
    return tasks


def scaling_tasks(plan: Plan) -> list[Task]:
    """Cost per env-step of the native vector env against N and against request slots K
    (the queue is widened to at least K so that the slots can fill)."""
    tasks = []
    b = plan.scaling_batch
    for preset in PRESETS:
        sweeps = [("n_qpus", HubConfig.preset(preset, n_qpus=n)) for n in plan.scaling_qpus]
        for k in plan.slots:
            base = HubConfig.preset(preset, n_qpus=TARGET_QPUS)
            sweeps.append(("request_slots", base.replace(request_slots=k, queue_capacity=max(base.queue_capacity, k))))
        for sweep, config in sweeps:
            row = {**_row("scaling", "modenhub_vector", config, preset, b), "_sweep": sweep, "_cache": config.cache_size}
            label = f"scaling {preset} N={config.n_qpus} K={config.request_slots} B={b}"
            spec = Spec(label, lambda bb, c=config: modenhub_vector(c, bb, plan.seed), b, row)

            def work(spec=spec) -> list[dict]:
                out = measure_env(plan, spec)
                for r in out:
                    r["note"] = f"vs {spec.row['_sweep']}; cache entries C={spec.row['_cache']}; " + r["note"]
                return out

            tasks.append((label, work))
    return tasks


def montecarlo_tasks(plan: Plan) -> list[Task]:
    """Cost per link attempt of the paper's Monte Carlo: ``train.reproduce.measure`` on the
    batched core and the per-trial Python loop ``train.naive.naive_monte_carlo``, both for
    the log-parallel orchestrator with the cache on (the point with the most attempts)."""
    from train.naive import naive_monte_carlo
    from train.reproduce import Point, measure, point_config

    tasks = []
    for n in plan.mc_qpus:
        point = Point(n, "log-parallel", True)
        config = point_config(HubConfig.preset("paper"), point, plan.trials)
        episodes = math.ceil(plan.trials / config.episode_requests)

        def batched(config=config, point=point) -> float:
            row = measure(config, point, plan.trials, plan.seed)
            return round(row["attempts"] * row["trials"])

        def naive(config=config) -> float:
            rng = np.random.default_rng(plan.seed)
            return naive_monte_carlo(config, config.k_parallel, plan.trials, rng).attempts

        for env, work, batch in (("reproduce_measure", batched, episodes), ("naive_monte_carlo", naive, 1)):
            row = _row("montecarlo", env, config, "paper", batch)
            note = (
                f"log-parallel k={config.k_parallel}, cache on, {plan.trials} requests in {episodes} "
                f"episode(s) of {config.episode_requests}; a step is one link attempt"
            )
            tasks.append((f"montecarlo {env} N={n}", lambda w=work, r=row, t=note: [time_work(plan, w, r, t)]))
    return tasks


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


def ppo_tasks(plan: Plan) -> list[Task]:
    return [("ppo", lambda: ppo_rows(plan))]


def ppo_rows(plan: Plan) -> list[dict]:
    """PPO ``learn()`` fps on ``ModEnHubVecEnv`` (contention) against :class:`ZeroVecEnv`
    with the same spaces and envs; runs interleaved, median of ``repeats`` each."""
    import torch

    from modenhub_env.sb3 import ModEnHubVecEnv

    zero_vec_env, _ = sb3_helpers()
    config = HubConfig.preset("contention", n_qpus=TARGET_QPUS)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    results: dict[str, list[tuple[float, float]]] = {"ppo_zero": [], "ppo_modenhub": []}
    try:
        for _ in range(plan.repeats):
            ours = ModEnHubVecEnv(plan.ppo_envs, config=config)
            zero = zero_vec_env(plan.ppo_envs, ours.observation_space, ours.action_space, config.episode_rounds)
            results["ppo_zero"].append(ppo_fps(zero, plan))
            results["ppo_modenhub"].append(ppo_fps(ours, plan))
    finally:
        torch.set_num_threads(threads)
    ratios = [ours / zero for (zero, _), (ours, _) in zip(results["ppo_zero"], results["ppo_modenhub"], strict=True)]
    rows = []
    for env, runs in results.items():
        row = _row("ppo", env, config, "contention", plan.ppo_envs)
        share = statistics.median(s for _, s in runs)
        note = (
            f"PPO MlpPolicy, {plan.ppo_steps} env-steps per learn(), n_steps={plan.ppo_n_steps}, "
            f"batch_size=512, torch threads 1; env share of learn() time {share:.0%}; "
            "memory not measured (torch)"
        )
        if env == "ppo_modenhub":
            note += "; fps ratio per interleaved run " + ", ".join(f"{r:.3g}" for r in ratios)
        out = speed_row(row, [fps for fps, _ in runs], 0.0, note)
        out["peak_mem_mib"] = ""
        rows.append(out)
    rows[-1]["_ratio"] = statistics.median(ratios)
    return rows


def ppo_fps(venv, plan: Plan) -> tuple[float, float]:
    """Env-steps per second of one ``learn()`` and the share of it spent in the env."""
    from stable_baselines3 import PPO

    timed = sb3_helpers()[1](venv)
    model = PPO("MlpPolicy", timed, n_steps=plan.ppo_n_steps, batch_size=512, seed=plan.seed, device="cpu", verbose=0)
    timed.env_seconds = 0.0
    start = time.perf_counter()
    model.learn(total_timesteps=plan.ppo_steps)
    elapsed = time.perf_counter() - start
    timed.close()
    return model.num_timesteps / elapsed, timed.env_seconds / elapsed


@functools.cache
def sb3_helpers() -> tuple[type, type]:
    """``(ZeroVecEnv, TimedVecEnv)``, built on first use so that importing this module
    needs no Stable-Baselines3 (nor torch)."""
    from stable_baselines3.common.vec_env import VecEnv, VecEnvWrapper

    class ZeroVecEnv(VecEnv):
        """A zero-cost SB3 ``VecEnv``: all-zero observations and rewards, the spaces and
        ``num_envs`` given, every env truncated together every ``episode_length`` steps."""

        def __init__(self, num_envs: int, observation_space, action_space, episode_length: int | None) -> None:
            self.render_mode = None
            super().__init__(num_envs, observation_space, action_space)
            self.episode_length = episode_length or 256
            self._obs = np.zeros((num_envs,) + observation_space.shape, dtype=observation_space.dtype)
            self._rewards = np.zeros(num_envs, dtype=np.float32)
            self._t = 0

        def reset(self) -> np.ndarray:
            self._t = 0
            return self._obs.copy()

        def step_async(self, actions: np.ndarray) -> None:
            pass

        def step_wait(self):
            self._t += 1
            done = self._t >= self.episode_length
            infos: list[dict] = [{} for _ in range(self.num_envs)]
            if done:
                self._t = 0
                for info in infos:
                    info.update({"terminal_observation": self._obs[0].copy(), "TimeLimit.truncated": True})
            return self._obs.copy(), self._rewards.copy(), np.full(self.num_envs, done), infos

        def close(self) -> None:
            pass

        def get_attr(self, attr_name, indices=None):
            return [getattr(self, attr_name) for _ in self._get_indices(indices)]

        def set_attr(self, attr_name, value, indices=None) -> None:
            setattr(self, attr_name, value)

        def env_method(self, method_name, *method_args, indices=None, **method_kwargs):
            return [getattr(self, method_name)(*method_args, **method_kwargs) for _ in self._get_indices(indices)]

        def env_is_wrapped(self, wrapper_class, indices=None):
            return [False for _ in self._get_indices(indices)]

    class TimedVecEnv(VecEnvWrapper):
        """Adds the wall time spent in the wrapped env's ``reset`` and ``step`` to ``env_seconds``."""

        def __init__(self, venv) -> None:
            super().__init__(venv)
            self.env_seconds = 0.0

        def reset(self):
            start = time.perf_counter()
            obs = self.venv.reset()
            self.env_seconds += time.perf_counter() - start
            return obs

        def step_async(self, actions) -> None:
            start = time.perf_counter()
            self.venv.step_async(actions)
            self.env_seconds += time.perf_counter() - start

        def step_wait(self):
            start = time.perf_counter()
            out = self.venv.step_wait()
            self.env_seconds += time.perf_counter() - start
            return out

    return ZeroVecEnv, TimedVecEnv


# ---------------------------------------------------------------------- profile


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


def profile_tasks(plan: Plan, profiles: list[Profile]) -> list[Task]:
    seed = plan.seed
    cases = [
        (f"native vector env, paper, N={TARGET_QPUS}, B={TARGET_BATCH}",
         lambda: modenhub_vector(HubConfig.preset("paper", n_qpus=TARGET_QPUS), TARGET_BATCH, seed)),
        (f"native vector env, contention, N={TARGET_QPUS}, B={TARGET_BATCH}",
         lambda: modenhub_vector(HubConfig.preset("contention", n_qpus=TARGET_QPUS), TARGET_BATCH, seed)),
        (f"single env (gym.make), paper, N={TARGET_QPUS}",
         lambda: modenhub_single(HubConfig.preset("paper", n_qpus=TARGET_QPUS), seed)),
    ]

    def work(label: str, make) -> list[dict]:
        stepper = make()
        stepper.refresh()
        for i in range(MEMORY_STEPS):  # warm-up, not profiled
            stepper.step(i)
        profiles.append(profile_steps(label, stepper, plan.seconds))
        return []

    return [(f"profile {label}", lambda lb=label, mk=make: work(lb, mk)) for label, make in cases]


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


# ---------------------------------------------------------------------- targets


@dataclass
class Target:
    name: str
    measured: str
    value: float  # the ratio (or ns) compared with the threshold; nan if not measured
    threshold: str
    passed: bool | None  # None: not measured in this run

    @property
    def verdict(self) -> str:
        return "n/a" if self.passed is None else ("PASS" if self.passed else "FAIL")


def _find(rows: list[dict], **match: Any) -> dict | None:
    for row in rows:
        if all(row.get(k) == v for k, v in match.items()) and row.get("steps_per_s", "") != "":
            return row
    return None


def targets(rows: list[dict]) -> list[Target]:
    """The issue's targets, computed from this run's rows (``n/a`` where not measured)."""
    out = []

    def ratio_target(name, ours, yardstick, threshold, what):
        if ours is None or yardstick is None:
            out.append(Target(name, "not measured in this run", math.nan, f">= {threshold:g}x", None))
            return
        ratio = ours.get("_ratio", ours["steps_per_s"] / yardstick["steps_per_s"])
        measured = f"{ours['steps_per_s']:,.0f} vs {yardstick['steps_per_s']:,.0f} {what}"
        if "_ratio" in ours:
            measured += " (medians; value: median ratio of interleaved runs)"
        out.append(Target(name, measured, ratio, f">= {threshold:g}x", ratio >= threshold))

    ratio_target(
        f"native vector env (paper, N={TARGET_QPUS}, B={TARGET_BATCH}) vs CartPole vector env (B={TARGET_BATCH})",
        _find(rows, section="vector", env="modenhub_vector", preset="paper", n_qpus=TARGET_QPUS, batch=TARGET_BATCH),
        _find(rows, section="vector", env="cartpole_vector", batch=TARGET_BATCH), 1.0, "env-steps/s",
    )
    ratio_target(
        f"single env (paper, N={TARGET_QPUS}) vs CartPole single env",
        _find(rows, section="single", env="modenhub_single", preset="paper", n_qpus=TARGET_QPUS),
        _find(rows, section="single", env="cartpole_single"), 0.25, "env-steps/s",
    )
    mc = _find(rows, section="montecarlo", env="reproduce_measure", n_qpus=128)
    naive = _find(rows, section="montecarlo", env="naive_monte_carlo", n_qpus=128)
    if mc is None:
        out.append(Target("Monte Carlo (reproduce.measure), N=128", "not measured in this run",
                          math.nan, "<= 10 ns per link-attempt", None))
    else:
        extra = f" (naive loop: {naive['ns_per_step']:,.0f} ns)" if naive else ""
        out.append(Target("Monte Carlo (reproduce.measure), N=128", f"{mc['ns_per_step']:,.0f} ns per attempt{extra}",
                          mc["ns_per_step"], "<= 10 ns per link-attempt", mc["ns_per_step"] <= 10.0))
    ratio_target(
        "PPO fps, ModEnHubVecEnv (contention) vs zero-cost VecEnv",
        _find(rows, section="ppo", env="ppo_modenhub"), _find(rows, section="ppo", env="ppo_zero"), 0.9, "fps",
    )
    for sweep, label in (("n_qpus", "N"), ("request_slots", "request slots K")):
        for preset in PRESETS:
            series = sorted(
                (r[sweep], r["ns_per_step"]) for r in rows
                if r.get("_sweep") == sweep and r["preset"] == preset and r.get("steps_per_s", "") != ""
            )
            name = f"cost per env-step at most linear in {label} ({preset})"
            threshold = f"each step up <= {GROWTH_TOLERANCE:g}x linear"
            if len(series) < 2:
                out.append(Target(name, "not measured in this run", math.nan, threshold, None))
                continue
            worst, text = growth(series)
            out.append(Target(name, text, worst, threshold, worst <= GROWTH_TOLERANCE))
    return out


def growth(series: list[tuple[int, float]]) -> tuple[float, str]:
    """Worst ratio of (cost growth) / (size growth) between consecutive points of
    ``(size, ns per env-step)``, and the series as text."""
    worst = max((c2 / c1) / (x2 / x1) for (x1, c1), (x2, c2) in zip(series, series[1:], strict=False))
    text = ", ".join(f"{x}: {c:,.0f} ns" for x, c in series)
    return worst, text


# ---------------------------------------------------------------------- report


def machine() -> dict[str, str]:
    """CPU, cores, memory, load and the versions that matter for speed."""
    cpu, mem = "unknown", "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                mem = f"{int(line.split()[1]) / 2**20:.1f} GiB"
                break
    except OSError:
        pass
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    info = {
        "CPU (/proc/cpuinfo)": cpu,
        "cores": f"{os.cpu_count()} logical, {usable} usable by this process",
        "memory": mem,
        "OS": platform.platform(),
        "Python": platform.python_version(),
    }
    for package in ("numpy", "gymnasium", "torch", "stable-baselines3"):
        try:
            info[package] = importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            info[package] = "not installed"
    return info


def git_state() -> str:
    """The commit measured, and the core's files that differ from it (if any)."""
    root = Path(__file__).resolve().parent.parent

    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, check=True).stdout.strip()

    try:
        head = git("rev-parse", "--short", "HEAD")
        core = git("log", "-1", "--format=%h", "--", "modenhub_env")
        changed = git("diff", "--name-only", "HEAD", "--", "modenhub_env").split()
    except (OSError, subprocess.CalledProcessError):
        return "unknown (no git)"
    state = f"{head} (modenhub_env/ last changed in {core}"
    if not changed:
        return state + ", no uncommitted changes)"
    return state + f"; uncommitted changes in {', '.join(changed)})"


def _num(value: Any, digits: int = 0) -> str:
    if value == "" or value is None:
        return "-"
    return f"{float(value):,.{digits}f}"


SECTION_TITLES = {
    "single": "Single env (`gymnasium.make`, default wrappers)",
    "vector": "Native vector env (`gymnasium.make_vec`, `vector_entry_point`)",
    "sb3": "Stable-Baselines3 vector envs",
    "montecarlo": "Monte Carlo cost per link attempt (a step is one attempt)",
    "ppo": "PPO training throughput (a step is one env-step of `learn()`)",
    "scaling": "Cost per env-step against N and request slots (native vector env)",
}
YARDSTICK = {"single": "cartpole_single", "vector": "cartpole_vector", "sb3": "cartpole_dummyvecenv"}


def section_table(rows: list[dict], section: str) -> list[str]:
    yard = YARDSTICK.get(section)
    head = "| env | preset | N | B | K | env-steps/s | ns/env-step |"
    head += " x CartPole (same B) |" if yard else ""
    head += " peak MiB | note |"
    lines = [head, "|" + "---|" * (head.count("|") - 1)]
    for r in (r for r in rows if r["section"] == section):
        cells = [r["env"], r["preset"] or "-", str(r["n_qpus"] or "-"), str(r["batch"]),
                 str(r["request_slots"] or "-"), _num(r.get("steps_per_s")), _num(r.get("ns_per_step"))]
        if yard:
            ref = _find(rows, section=section, env=yard, batch=r["batch"])
            ok = ref and r.get("steps_per_s", "") != ""
            cells.append(f"{r['steps_per_s'] / ref['steps_per_s']:.3f}" if ok else "-")
        cells += [_num(r.get("peak_mem_mib"), 2), r.get("note", "")]
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def profile_tables(profiles: list[Profile]) -> list[str]:
    lines = []
    for prof in profiles:
        lines += [
            f"### {prof.label}", "",
            f"{prof.steps} step() calls in {prof.seconds:.1f} s under cProfile (which slows Python calls, "
            f"so shares are indicative); {prof.calls_per_step:,.0f} function calls per step.", "",
            "| top functions by own time | calls | share of total |", "|---|---|---|",
        ]
        lines += [f"| `{name}` | {calls:,} | {share:.1%} |" for name, calls, share in prof.by_own]
        lines += ["", "| modenhub_env functions by cumulative time | calls | share of total |", "|---|---|---|"]
        lines += [f"| `{name}` | {calls:,} | {share:.1%} |" for name, calls, share in prof.by_cumulative]
        lines.append("")
    return lines


METHOD = f"""\
- **Speed**: env-steps per second = `step()` calls x envs advanced per call / wall time of the
  timed calls (`time.perf_counter`). A measurement splits `--seconds` over `--repeats` timed runs
  (each also capped at `--max-calls` calls) and reports the median (the range is in the note).
  Resets inside the timed calls (single env, DummyVecEnv) and autoresets are timed.
- **Actions**: random *valid* actions, drawn outside the timed calls. Every {REFRESH_EVERY} calls the
  env's current action masks are read and {POOL} action batches are sampled, each slot uniform over
  the values its mask allows; the timed calls cycle through them. Masks drift while a pool is used,
  so the env may clip some attempts (counted in `clipped_attempts`); every action is inside the
  action space. CartPole gets a fixed pool of random 0/1 actions.
- **Memory**: `tracemalloc` peak (Python objects and numpy buffers; not torch) during construction,
  `reset` and {MEMORY_STEPS} steps, in an untimed pass before the timed runs. For B > {PROBE_BATCH} a probe at
  B = {PROBE_BATCH} is scaled linearly first, and a config estimated above `--max-mem-gib` is skipped.
- **Monte Carlo**: the time of `train.reproduce.measure` for one point (log-parallel, cache on,
  built by `point_config` exactly as `modenhub reproduce` does), and of
  `train.naive.naive_monte_carlo` with the same config, divided by the attempts launched.
- **PPO**: SB3 `PPO("MlpPolicy")` with `batch_size=512`, `torch.set_num_threads(1)`, `device="cpu"`,
  the same number of env-steps per `learn()` on `ModEnHubVecEnv` (contention) and on a zero-cost
  `VecEnv` with the same spaces and `num_envs` (zeros, truncated every `episode_rounds` steps).
  Runs are interleaved; fps = env-steps / wall time of `learn()`. The env share is the time inside
  the env's `reset`/`step` over the time of `learn()`.
- **Scaling**: the native vector env at B = the largest batch up to {TARGET_BATCH}; against N with the
  preset's slots, and against request slots K at N = {TARGET_QPUS} (queue widened to at least K). The
  check passes when, between consecutive points, cost growth / size growth <= {GROWTH_TOLERANCE:g}
  (a noise allowance).
- **Noise**: the machine is shared; compare ratios within this report, not numbers across runs."""


def report(rows, profiles, info: dict, started: float, argv: list[str], load: tuple, commit: str) -> str:
    finished = time.perf_counter()
    command = " ".join(["python -m train.bench", shlex.join(argv)]).strip()
    lines = [
        "# ModEn-Hub benchmarks", "",
        f"`{command}`, started {datetime.datetime.now() - datetime.timedelta(seconds=finished - started):%Y-%m-%d %H:%M} "
        f"at commit {commit}; {(finished - started) / 60:.1f} min. The paper preset is a "
        "reconstruction calibrated to the paper's headline results (see MODEL.md).", "",
        "## Targets", "",
        "| target | measured | value | threshold | result |", "|---|---|---|---|---|",
    ]
    for t in targets(rows):
        value = "-" if math.isnan(t.value) else f"{t.value:,.3g}"
        lines.append(f"| {t.name} | {t.measured} | {value} | {t.threshold} | **{t.verdict}** |")
    lines += ["", "## Machine", "", "| | |", "|---|---|"]
    lines += [f"| {k} | {v} |" for k, v in info.items()]
    lines += [f"| load average (1 min) | {load[0]:.2f} at start, {os.getloadavg()[0]:.2f} at end |", ""]
    lines += ["## Method", "", METHOD, ""]
    for section in SECTIONS:
        if section == "profile":
            if profiles:
                lines += ["## Hotspots (cProfile)", ""] + profile_tables(profiles)
        elif any(r["section"] == section for r in rows):
            lines += [f"## {SECTION_TITLES[section]}", ""] + section_table(rows, section) + [""]
    return "\n".join(lines) + "\n"


def print_targets(rows: list[dict]) -> None:
    print("\nTargets:")
    for t in targets(rows):
        value = "-" if math.isnan(t.value) else f"{t.value:,.3g}"
        print(f"  [{t.verdict}] {t.name}: {value} ({t.threshold}); {t.measured}")


# ---------------------------------------------------------------------- command line


def _sections(text: str) -> tuple[str, ...]:
    chosen = tuple(part.strip() for part in text.split(",") if part.strip())
    unknown = [s for s in chosen if s not in SECTIONS]
    if unknown or not chosen:
        raise argparse.ArgumentTypeError(f"sections must be among {', '.join(SECTIONS)}; got {text!r}")
    return chosen


DESCRIPTION = (
    "Benchmark the ModEn-Hub env on this machine: single env, native vector env and SB3 "
    "VecEnvs against Gymnasium's CartPole-v1, the Monte Carlo's cost per link attempt, PPO training fps "
    "against a zero-cost env, peak memory and cost scaling in N and request slots. Writes "
    "OUT/benchmarks.csv and OUT/benchmarks.md (atomically) and prints the issue's target ratios with "
    "PASS/FAIL. The full run takes about 10-15 minutes; --quick under a minute."
)
EPILOG = (
    f"sections: {', '.join(SECTIONS)}. Speeds on a shared machine are noisy: compare ratios "
    "within one report."
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m train.bench", description=DESCRIPTION, epilog=EPILOG)
    _add_arguments(parser)
    return parser


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register ``bench`` on the ``modenhub`` subcommands."""
    parser = subparsers.add_parser(
        "bench", help="benchmark the env against CartPole, the Monte Carlo and PPO (writes results/benchmarks.*)",
        description=DESCRIPTION, epilog=EPILOG,
    )
    _add_arguments(parser)
    parser.set_defaults(func=lambda ns: run(ns, ["bench", *sys.argv[2:]]))
    return parser


def _add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--quick", action="store_true",
                        help="a small fast subset (N=16, B=1 and 1024, short budgets, 1 repeat) that finishes "
                        "in under a minute; explicit options below still override it")
    parser.add_argument("--out", type=Path, default=Path("results"), help="output folder (default results/)")
    parser.add_argument("--only", type=_sections, default=None, metavar="SECTIONS",
                        help="comma-separated sections to run (default all): single (gym.make env vs "
                        "CartPole), vector (native vector env over presets x N x B vs CartPole's), sb3 "
                        "(DummyVecEnv of single envs and ModEnHubVecEnv vs CartPole's DummyVecEnv), montecarlo "
                        "(ns per link attempt of reproduce.measure and of the naive loop), ppo (PPO fps vs a "
                        "zero-cost VecEnv), scaling (cost per env-step vs N and request slots), profile "
                        "(cProfile hotspots of the core, in the report)")
    parser.add_argument("--seconds", type=positive_float, default=None,
                        help="time budget of one measurement in seconds, split over the repeats "
                        "(default 8, quick 0.5); also the profile length per case")
    parser.add_argument("--repeats", type=positive_int, default=None,
                        help="timed runs per measurement, median reported (default 3, quick 1)")
    parser.add_argument("--max-calls", type=positive_int, default=100_000,
                        help="step() calls of one timed run at most, whichever of this and the time budget "
                        "comes first (default 100000)")
    parser.add_argument("--max-mem-gib", type=positive_float, default=4.0,
                        help="skip (with a note) a config whose estimated peak memory exceeds this (default 4)")
    parser.add_argument("--qpus", type=int_list, default=None,
                        help="comma-separated N of the single/vector env grids and the scaling sweep "
                        "(default 8,16,128,1024 and 8,32,128,512,1024; quick 16 and 8,128)")
    parser.add_argument("--batches", type=int_list, default=None,
                        help="comma-separated batch sizes B of the vector env grid (default 1,64,1024,4096; "
                        "quick 1,1024); the scaling sweep uses the largest up to 1024")
    parser.add_argument("--slots", type=int_list, default=None,
                        help="comma-separated request slots K of the scaling sweep (default 4,16,64; quick 4,16)")
    parser.add_argument("--trials", type=positive_int, default=None,
                        help="requests of one Monte Carlo point (default 2500 as the paper; quick 500)")
    parser.add_argument("--ppo-steps", type=positive_int, default=None,
                        help="env-steps of one PPO learn() call (default 8192 with 16 envs; quick 512 with 8); "
                        "rounded up to whole rollouts")
    parser.add_argument("--seed", type=int, default=0, help="seed of the envs and of the action pools (default 0)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    run(build_parser().parse_args(argv), argv)


def run(args: argparse.Namespace, argv: list[str]) -> None:
    """The benchmark the parsed options describe; ``argv`` is recorded in the report."""
    plan = make_plan(args)
    started, load = time.perf_counter(), os.getloadavg()
    if {"sb3", "ppo"} & set(plan.sections):
        import modenhub_env.sb3  # noqa: F401  (imports SB3 and torch outside the measurements)
    info, commit = machine(), git_state()
    profiles: list[Profile] = []
    tasks: list[Task] = env_tasks(plan)
    if "montecarlo" in plan.sections:
        tasks += montecarlo_tasks(plan)
    if "ppo" in plan.sections:
        tasks += ppo_tasks(plan)
    if "scaling" in plan.sections:
        tasks += scaling_tasks(plan)
    if "profile" in plan.sections:
        tasks += profile_tasks(plan, profiles)

    csv_path, md_path = args.out / "benchmarks.csv", args.out / "benchmarks.md"
    rows: list[dict] = []
    with progress_bar(total=len(tasks), desc="benchmarks", enabled=not args.quiet) as bar:
        for label, work in tasks:
            bar.set_postfix_str(label)
            rows += work()
            write_csv(csv_path, rows, COLUMNS)
            bar.update(1)
    write_csv(csv_path, rows, COLUMNS)
    write_atomic(md_path, report(rows, profiles, info, started, argv, load, commit))
    print_targets(rows)
    print(f"\nwrote {csv_path} and {md_path}")


if __name__ == "__main__":
    main()
