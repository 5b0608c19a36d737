"""The tasks of each section (env speeds, Monte Carlo, PPO, scaling, profile): what to
measure, as ``(label, work)`` pairs that return CSV rows."""

from __future__ import annotations

import math
import statistics
import time
from collections.abc import Callable

import numpy as np

from modenhub_env.config import HubConfig
from train.bench.hotspots import Profile, profile_steps
from train.bench.measure import (
    MEMORY_STEPS,
    Spec,
    measure_env,
    measure_group,
    numba_threads,
    speed_row,
    time_work,
)
from train.bench.plan import MC_MANY, MEMORY_QPUS, PRESETS, TARGET_BATCH, TARGET_QPUS, THREADS, Plan
from train.bench.steppers import (
    cartpole_dummy,
    cartpole_single,
    cartpole_vector,
    modenhub_dummy,
    modenhub_sb3,
    modenhub_single,
    modenhub_vector,
)
from train.bench.vec_envs import sb3_helpers

Task = tuple[str, Callable[[], list[dict]]]  # (label for the progress bar, work)


def _row(section: str, env: str, config: HubConfig | None, preset: str, batch: int) -> dict:
    return {
        "section": section, "env": env, "preset": preset if config else "",
        "n_qpus": config.n_qpus if config else "", "batch": batch,
        "request_slots": config.request_slots if config else "", "threads": "",
    }


def env_specs(plan: Plan) -> list[Spec]:
    """The env-speed measurements of the sections ``single``, ``vector`` and ``sb3``."""
    seed, specs = plan.seed, []

    def add(label: str, section: str, env: str, make, batch: int, config: HubConfig | None, preset="", threads=None):
        specs.append(Spec(label, make, batch, _row(section, env, config, preset, batch), threads))

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
                    # The targets' configuration on 1 and 2 threads, the rest on numba's default.
                    for threads in THREADS if (n, b) == (TARGET_QPUS, TARGET_BATCH) else (None,):
                        label = f"vector {preset} N={n} B={b}" + (f" {threads} thread(s)" if threads else "")
                        add(label, "vector", "modenhub_vector",
                            lambda bb, c=config: modenhub_vector(c, bb, seed), b, config, preset, threads)
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


#: The speed targets' configurations, each group measured interleaved with its yardstick:
#: (row fields of the yardstick, row fields of ours: every spec that matches).
TARGET_GROUPS = (
    ({"section": "single", "env": "cartpole_single"},
     {"section": "single", "env": "modenhub_single", "preset": "paper", "n_qpus": TARGET_QPUS}),
    ({"section": "vector", "env": "cartpole_vector", "batch": TARGET_BATCH},
     {"section": "vector", "env": "modenhub_vector", "n_qpus": TARGET_QPUS, "batch": TARGET_BATCH}),
)


def env_tasks(plan: Plan) -> list[Task]:
    """One task per spec, except that each target group (a yardstick and the configs
    compared with it) makes one interleaved task, in the yardstick's place."""
    specs = env_specs(plan)

    def matching(fields: dict) -> list[Spec]:
        return [s for s in specs if all(s.row.get(k) == v for k, v in fields.items())]

    groups: dict[int, list[Spec]] = {}
    for yard_fields, ours_fields in TARGET_GROUPS:
        yards, ours = matching(yard_fields), matching(ours_fields)
        if yards and ours:
            groups[id(yards[0])] = ours
    grouped = {id(spec) for ours in groups.values() for spec in ours}
    tasks: list[Task] = []
    for spec in specs:
        if id(spec) in groups:
            ours = groups[id(spec)]
            label = f"{spec.label} + {len(ours)} interleaved"
            tasks.append((label, lambda y=spec, o=ours: measure_group(plan, y, o)))
        elif id(spec) not in grouped:
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
    """Cost per link attempt of the paper's Monte Carlo: ``train.reproduce.measure`` (the
    fused Monte Carlo, ``HubCore.play``) on 1 and 2 core threads, for ``plan.trials``
    requests and for ``MC_MANY`` times as many episodes of the same length (which threads can
    share), and the
    per-trial Python loop ``train.naive.naive_monte_carlo``; all for the log-parallel
    orchestrator with the cache on (the point with the most attempts)."""
    from train.naive import naive_monte_carlo

    tasks = []
    for n in plan.mc_qpus:
        for trials in (plan.trials, MC_MANY * plan.trials):
            for threads in THREADS:
                tasks.append(_fused_task(plan, n, trials, threads))
        config = _mc_config(n, plan.trials, plan.trials)

        def naive(config=config) -> float:
            rng = np.random.default_rng(plan.seed)
            return naive_monte_carlo(config, config.k_parallel, plan.trials, rng).attempts

        row = _row("montecarlo", "naive_monte_carlo", config, "paper", 1)
        note = _mc_note(config, plan.trials)
        tasks.append((f"montecarlo naive N={n}", lambda w=naive, r=row, t=note: [time_work(plan, w, r, t)]))
    return tasks


def _mc_config(n: int, trials: int, episode: int) -> HubConfig:
    """The paper's point at ``N = n`` as ``modenhub reproduce`` builds it, with episodes of at
    most ``episode`` requests."""
    from train.reproduce import Point, point_config

    base = HubConfig.preset("paper")
    base = base.replace(episode_requests=min(base.episode_requests, episode))
    return point_config(base, Point(n, "log-parallel", True), trials)


def _mc_note(config: HubConfig, trials: int) -> str:
    episodes = math.ceil(trials / config.episode_requests)
    return (
        f"log-parallel k={config.k_parallel}, cache on, {trials} requests in {episodes} "
        f"episode(s) of {config.episode_requests}; a step is one link attempt"
    )


def _fused_task(plan: Plan, n: int, trials: int, threads: int) -> Task:
    from train.reproduce import Point, measure

    config = _mc_config(n, trials, plan.trials)
    episodes = math.ceil(trials / config.episode_requests)

    def work() -> float:
        row = measure(config, Point(n, "log-parallel", True), trials, plan.seed)
        return round(row["attempts"] * row["trials"])

    def run() -> list[dict]:
        with numba_threads(threads) as used:
            row = time_work(plan, work, _row("montecarlo", "reproduce_measure", config, "paper", episodes),
                            _mc_note(config, trials))
        return [{**row, "threads": used}]

    return (f"montecarlo fused N={n} {trials} requests {threads} thread(s)", run)


def mainjob_tasks(plan: Plan) -> list[Task]:
    from train.bench.startup import main_job_rows

    return [("main job (modenhub reproduce) cold + warm", lambda: main_job_rows(plan))]


def compile_tasks(plan: Plan) -> list[Task]:
    from train.bench.startup import compile_rows

    return [("compile time cold + warm", lambda: compile_rows())]


def memory_tasks(plan: Plan) -> list[Task]:
    from train.bench.memory import memory_rows

    return [("memory per env", lambda: memory_rows(plan, MEMORY_QPUS))]


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
