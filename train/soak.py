"""Soak and fuzz harness: many steps under random and heuristic actions with the model's
invariants checked every round, and random configs and trace files that must give a
working env or a one-line ``ValueError``.

``python -m train.soak --help``. Part 1 (``--steps``, default 10**7 env-steps) runs every
preset and a random trace scenario on the native vector env
(``modenhub_env.vector_env.ModEnHubVectorEnv``, ``--batch`` envs) and on the SB3 adapter
(``modenhub_env.sb3.ModEnHubVecEnv``), alternating random attempts (anything in
``[0, k_max]``, so that clipping is exercised) and the ``log-parallel`` and ``deadline``
heuristics, and after every step checks (:func:`check_invariants`):

* observations finite and in ``[0, 1]``, rewards finite;
* the cache within ``cache_capacity`` and ``cache_per_pair``; every cached ebit's fidelity,
  and every served request's, in ``[0.25, 1]``;
* every request ends exactly once: ``arrived = served + failed + rejected + pending`` for
  every env at every step, and the latency histogram counts exactly the served requests;
* per-round counters non-negative, cache hits at most the served requests, launched
  attempts within the hub capacity ``S``.

Part 2 (``--configs``, default 10**4) builds envs from random configs (fields in, at and
far beyond their ranges, of wrong types) and random trace files (valid, malformed,
huge numbers and fields, non-UTF-8 bytes): each must give either an env that then runs a
few checked rounds, or a ``ValueError`` of one line; anything else (another exception, a
case slower than ``--case-timeout``, the process above ``--max-rss-mb``) is a failure.

Exit code 0 when nothing failed, 1 otherwise; the counts are printed (and with
``--json``, written).
"""

from __future__ import annotations

import argparse
import json
import math
import resource
import signal
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from modenhub_env import physics
from modenhub_env.config import PRESETS, WORKLOADS, HubConfig, field_names
from modenhub_env.sb3 import ModEnHubVecEnv
from modenhub_env.state import COUNTERS
from modenhub_env.vector_env import ModEnHubVectorEnv

POLICIES = ("random", "log-parallel", "deadline")
FACES = ("vector", "sb3")
FIDELITY_FLOOR = physics.WERNER_FLOOR  # 0.25
TOLERANCE = 1e-9


@dataclass
class Report:
    """What the soak saw: step and case counts, and every failure by kind (with examples)."""

    steps: int = 0
    episodes: int = 0
    steps_by_scenario: Counter = field(default_factory=Counter)
    cases: int = 0
    working: int = 0
    rejected: int = 0
    failures: Counter = field(default_factory=Counter)
    examples: dict[str, str] = field(default_factory=dict)
    peak_rss_mb: float = 0.0

    def fail(self, kind: str, detail: str) -> None:
        self.failures[kind] += 1
        self.examples.setdefault(kind, detail[:500])

    def as_dict(self) -> dict[str, Any]:
        return {"steps": self.steps, "episodes": self.episodes, "steps_by_scenario": dict(self.steps_by_scenario),
                "cases": self.cases, "working": self.working, "rejected_with_value_error": self.rejected,
                "failures": dict(self.failures), "examples": self.examples, "peak_rss_mb": self.peak_rss_mb}


# Invariants.


def check_invariants(core: Any, obs: np.ndarray, reward: np.ndarray, info: dict[str, Any]) -> list[str]:
    """The invariants one step must keep (module docstring); the broken ones, named."""
    cfg, state, broken = core.config, core.snapshot(), []
    if not np.all(np.isfinite(obs)) or obs.min() < 0.0 or obs.max() > 1.0:
        broken.append("observation not finite or outside [0, 1]")
    if not np.all(np.isfinite(reward)):
        broken.append("reward not finite")
    cached = state.c_pair >= 0
    if np.any(cached.sum(axis=1) > cfg.cache_capacity):
        broken.append("cache holds more than cache_capacity")
    cap = cfg.cache_per_pair
    if state.c_pair.shape[1] > cap:
        ordered = np.sort(state.c_pair, axis=1)
        if np.any((ordered[:, cap:] == ordered[:, :-cap]) & (ordered[:, cap:] >= 0)):
            broken.append("cache holds more than cache_per_pair of one pair")
    if cached.any():
        age = (state.round[:, None] - state.c_birth)[cached]
        fidelity = physics.werner_fidelity(age, cfg.f0, cfg.t_coh)
        if np.any(fidelity < FIDELITY_FLOOR - TOLERANCE) or np.any(fidelity > 1.0 + TOLERANCE):
            broken.append("cached ebit fidelity outside [0.25, 1]")
    totals = state.totals
    pending = state.q_valid.sum(axis=1)
    if np.any(totals["arrived"] != totals["served"] + totals["failed"] + totals["rejected"] + pending):
        broken.append("arrived != served + failed + rejected + pending")
    if np.any(state.latency_hist.sum(axis=1) != totals["served"]):
        broken.append("latency histogram does not count the served requests")
    if any(np.any(np.asarray(info[name]) < 0) for name in COUNTERS if name in info):
        broken.append("a counter is negative")
    served = np.asarray(info["served"])
    if np.any(np.asarray(info["cache_hits"]) > served):
        broken.append("more cache hits than served requests")
    ebit = np.asarray(info["ebit_fidelity"])[served > 0]
    if np.any(ebit < FIDELITY_FLOOR - TOLERANCE) or np.any(ebit > 1.0 + TOLERANCE):
        broken.append("delivered fidelity outside [0.25, 1]")
    if cfg.max_attempts_per_round is not None:
        launched = np.asarray(info["attempts"]) + np.asarray(info["prefetch_attempts"])
        if np.any(launched > cfg.max_attempts_per_round):
            broken.append("more attempts launched than the hub capacity S")
    return broken


# Part 1: steps.


def scenarios(trace_dir: Path, seed: int) -> dict[str, HubConfig]:
    """Every preset, and a Poisson-like random trace on the contention hardware."""
    configs = {name: HubConfig.preset(name) for name in sorted(PRESETS)}
    gen = np.random.default_rng(seed)
    n, rows = 16, 4000
    rounds = np.sort(gen.integers(0, 2000, rows))
    a = gen.integers(0, n, rows)
    b = (a + gen.integers(1, n, rows)) % n
    budget = gen.integers(1, 8, rows)
    path = trace_dir / "soak_trace.csv"
    path.write_text("round,a,b,budget\n" + "".join(f"{r},{x},{y},{z}\n" for r, x, y, z in zip(rounds, a, b, budget, strict=True)))
    configs["trace"] = HubConfig.preset("contention", workload="trace", trace_path=str(path), episode_rounds=2500)
    return configs


def _actions(policy: Any, name: str, obs: np.ndarray, masks: np.ndarray, cfg: HubConfig, gen: np.random.Generator) -> np.ndarray:
    if name == "random":
        return gen.integers(0, cfg.k_max + 1, size=(obs.shape[0], cfg.request_slots + cfg.prefetch_slots))
    actions, _ = policy.predict(obs, action_masks=masks)
    return actions


def soak_steps(total: int, batch: int, seed: int, report: Report, bar: Any, trace_dir: Path, chunk: int = 64) -> None:
    """About ``total`` env-steps over every scenario, face and policy, ``chunk`` rounds at a
    time each, round-robin; every step checked."""
    from agents import make_policy

    configs = scenarios(trace_dir, seed)
    plans = [(name, face, policy) for name in configs for face in FACES for policy in POLICIES]
    gen = np.random.default_rng(seed)
    envs: dict[tuple[str, str], Any] = {}
    while report.steps < total:
        for name, face, policy_name in plans:
            if report.steps >= total:
                return
            cfg = configs[name]
            face_batch = batch if face == "vector" else max(1, batch // 8)
            key = (name, face)
            if key not in envs:
                envs[key] = _make_face(face, cfg, face_batch, seed + len(envs))
            env, obs = envs[key]
            policy = make_policy(policy_name, cfg) if policy_name != "random" else None
            for _ in range(chunk):
                core = env.core if face == "vector" else env.venv.core
                masks = env.action_masks()
                actions = _actions(policy, policy_name, obs, masks, cfg, gen)
                if face == "vector":
                    obs, reward, terminated, truncated, info = env.step(actions)
                    report.episodes += int(np.sum(terminated | truncated))
                else:
                    obs, reward, dones, infos = env.step(actions)
                    report.episodes += int(np.sum(dones))
                    info = {key: np.array([row[key] for row in infos]) for key in (*COUNTERS, "ebit_fidelity")}
                for problem in check_invariants(core, obs, reward, info):
                    report.fail(f"step: {problem}", f"{name}/{face}/{policy_name} round {int(core.snapshot().round.max())}")
                report.steps += face_batch
                report.steps_by_scenario[name] += face_batch
                bar.update(face_batch)
            envs[key] = (env, obs)


def _make_face(face: str, cfg: HubConfig, batch: int, seed: int) -> tuple[Any, np.ndarray]:
    if face == "vector":
        env = ModEnHubVectorEnv(batch, config=cfg)
        obs, _ = env.reset(seed=seed)
        return env, obs
    env = ModEnHubVecEnv(batch, config=cfg)
    env.seed(seed)
    return env, env.reset()


# Part 2: random configs and trace files.


def random_value(name: str, default: Any, gen: np.random.Generator, trace_dir: Path, case: int) -> Any:
    """A value for config field ``name``: often valid, sometimes at or past a bound, of a
    wrong type, or absurd."""
    if name == "workload":
        return str(gen.choice([*WORKLOADS, "trace", "trace", "bogus"]))
    if name == "trace_path":
        return str(random_trace(trace_dir / f"case{case}", gen)) if gen.random() < 0.9 else str(trace_dir / "missing.csv")
    if name == "fibre_km" and gen.random() < 0.2:
        return tuple(float(x) for x in gen.uniform(-1, 30, int(gen.integers(1, 20))))
    odd = [None, "x", -1, 0, 10**12, 2**63, -(2**63), math.nan, math.inf, -math.inf, True, 1e300, [1, 2]]
    if gen.random() < 0.25:
        return odd[int(gen.integers(len(odd)))]
    if isinstance(default, bool):
        return bool(gen.integers(2))
    if isinstance(default, int) or name in ("max_attempts_per_round", "comm_qubits_per_qpu", "cutoff", "episode_rounds"):
        scale = [4, 16, 64, 256, 4096][int(gen.integers(5))]
        return int(gen.integers(0, scale + 1))
    return float(gen.choice([gen.uniform(0, 1), gen.uniform(0, 20), 0.0, 1.0, gen.uniform(-1, 2)]))


def random_trace(path: Path, gen: np.random.Generator) -> Path:
    """A CSV or JSON-lines trace, often valid, sometimes with bad rows, huge numbers,
    long fields, non-UTF-8 bytes or missing columns."""
    n = int(gen.integers(1, 20))
    rows = []
    for _ in range(int(gen.integers(0, 40))):
        row = [int(gen.integers(0, 100)), int(gen.integers(0, n)), int(gen.integers(0, n)), int(gen.integers(1, 10))]
        if gen.random() < 0.05:
            row[int(gen.integers(4))] = [10**12, -5, 10**7 + 1, 10**4 + 1, "1.5", "x" * int(gen.integers(1, 6000)),
                                         "9" * int(gen.integers(1, 5000)), ""][int(gen.integers(8))]
        rows.append(row)
    if gen.random() < 0.5:
        header = "round,a,b,budget" if gen.random() < 0.95 else "round,a,budget"
        text = header + "\n" + "".join(",".join(str(v) for v in row) + "\n" for row in rows)
        path = path.with_suffix(".csv")
    else:
        text = "".join(json.dumps(dict(zip(("round", "a", "b", "budget"), row, strict=True))) + "\n" for row in rows)
        path = path.with_suffix(".jsonl")
    data = text.encode()
    if gen.random() < 0.05 and data:
        cut = int(gen.integers(len(data)))
        data = data[:cut] + bytes([0xFF, 0xFE]) + data[cut:]
    path.write_bytes(data)
    return path


class _CaseTimeout(Exception):
    pass


def _alarm(signum: int, frame: Any) -> None:
    raise _CaseTimeout


def fuzz_case(gen: np.random.Generator, trace_dir: Path, case: int, report: Report, rounds: int = 8) -> None:
    """One random config: a working env that keeps the invariants for ``rounds``, or a
    one-line ``ValueError``; anything else is recorded as a failure."""
    base = str(gen.choice(sorted(PRESETS)))
    names = [name for name in field_names() if name not in ("request_slots", "prefetch_slots")] + [
        "request_slots", "prefetch_slots"]
    chosen = gen.choice(names, size=int(gen.integers(1, 6)), replace=False)
    defaults = HubConfig().__dict__
    overrides = {str(name): random_value(str(name), defaults[str(name)], gen, trace_dir, case) for name in chosen}
    if gen.random() < 0.3:  # a trace scenario on purpose
        overrides.update(workload="trace", trace_path=str(random_trace(trace_dir / f"trace{case}", gen)),
                         episode_rounds=int(gen.integers(1, 200)))
    label = f"preset {base} with {overrides!r}"
    report.cases += 1
    try:
        config = HubConfig.preset(base, **overrides)
        env = ModEnHubVectorEnv(2, config=config)
        obs, _ = env.reset(seed=case)
        for _ in range(rounds):
            actions = gen.integers(0, config.k_max + 1, size=(2, config.request_slots + config.prefetch_slots))
            obs, reward, _, _, info = env.step(actions)
            for problem in check_invariants(env.core, obs, reward, info):
                report.fail(f"fuzz: {problem}", label)
    except ValueError as err:
        if "\n" in str(err).strip() or not str(err).strip():
            report.fail("fuzz: ValueError not of one line", f"{label}: {err!r}")
        else:
            report.rejected += 1
        return
    except _CaseTimeout:
        raise
    except Exception as err:  # the harness's purpose: any other exception is a finding
        report.fail(f"fuzz: {type(err).__name__}", f"{label}: {err}")
        return
    report.working += 1


def fuzz(n_cases: int, seed: int, report: Report, bar: Any, trace_dir: Path, case_timeout: float,
         max_rss_mb: float) -> None:
    """``n_cases`` random configs and traces (:func:`fuzz_case`), each within
    ``case_timeout`` seconds and the process within ``max_rss_mb``."""
    gen = np.random.default_rng(seed + 1)
    use_alarm = hasattr(signal, "SIGALRM")
    previous = signal.signal(signal.SIGALRM, _alarm) if use_alarm else None
    try:
        for case in range(n_cases):
            if use_alarm:
                signal.setitimer(signal.ITIMER_REAL, case_timeout)
            try:
                fuzz_case(gen, trace_dir, case, report)
            except _CaseTimeout:
                report.fail("fuzz: slower than --case-timeout", f"case {case}")
            finally:
                if use_alarm:
                    signal.setitimer(signal.ITIMER_REAL, 0)
            rss = peak_rss_mb()
            if rss > max_rss_mb:
                report.fail("fuzz: memory above --max-rss-mb", f"case {case}: peak {rss:.0f} MB")
            for path in trace_dir.glob(f"*{case}.*"):
                path.unlink()
            bar.update(1)
    finally:
        if use_alarm:
            signal.signal(signal.SIGALRM, previous)


def peak_rss_mb() -> float:
    """Peak resident memory of this process [MB] (Linux reports KiB, macOS bytes)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (2**20 if sys.platform == "darwin" else 2**10)


def run(steps: int, configs: int, batch: int, seed: int, progress: bool = True, case_timeout: float = 20.0,
        max_rss_mb: float = 4096.0, chunk: int = 64) -> Report:
    """Both parts; returns the :class:`Report`.

    :param steps: env-steps of part 1, about (whole chunks).
    :param configs: random configs of part 2.
    :param batch: envs of the native vector env (the SB3 adapter gets ``batch // 8``).
    :param seed: seed of the scenarios, actions and random configs.
    :param progress: show progress bars.
    :param case_timeout: seconds a fuzz case may take [s].
    :param max_rss_mb: peak memory the process may reach [MB].
    :param chunk: rounds each scenario, face and policy runs before the next takes over.
    """
    from train.progress import progress_bar

    report = Report()
    with tempfile.TemporaryDirectory(prefix="modenhub-soak-") as tmp:
        trace_dir = Path(tmp)
        if steps > 0:
            with progress_bar(total=steps, desc="soak env-steps", enabled=progress) as bar:
                soak_steps(steps, batch, seed, report, bar, trace_dir, chunk)
        if configs > 0:
            with progress_bar(total=configs, desc="fuzz configs", enabled=progress) as bar:
                fuzz(configs, seed, report, bar, trace_dir, case_timeout, max_rss_mb)
    report.peak_rss_mb = peak_rss_mb()
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m train.soak", description=__doc__.split("\n\n")[0] + " See the module docstring for the list.",
    )
    parser.add_argument("--steps", type=int, default=10**7, help="env-steps of part 1 (default 10**7; 0 skips it)")
    parser.add_argument("--configs", type=int, default=10**4,
                        help="random configs and trace files of part 2 (default 10**4; 0 skips it)")
    parser.add_argument("--batch", type=int, default=4096, help="envs of the native vector env (the SB3 face: 1/8)")
    parser.add_argument("--seed", type=int, default=0, help="seed of everything random here (default 0)")
    parser.add_argument("--case-timeout", type=float, default=20.0, help="seconds one fuzz case may take (default 20)")
    parser.add_argument("--max-rss-mb", type=float, default=4096.0, help="peak memory allowed [MB] (default 4096)")
    parser.add_argument("--json", type=Path, default=None, help="also write the report to this JSON file")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    args = parser.parse_args(argv)
    started = time.monotonic()
    report = run(args.steps, args.configs, args.batch, args.seed, not args.quiet, args.case_timeout, args.max_rss_mb)
    result = {**report.as_dict(), "wall_seconds": round(time.monotonic() - started, 1)}
    print(json.dumps(result, indent=2))
    if args.json is not None:
        args.json.write_text(json.dumps(result, indent=2) + "\n")
    return 1 if report.failures else 0


if __name__ == "__main__":
    sys.exit(main())
