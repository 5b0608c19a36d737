"""The issue's targets, checked against a run's rows: speed ratios, the Monte Carlo's
ns per attempt and the at-most-linear growth of the cost per env-step."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from train.bench.plan import PRESETS, TARGET_BATCH, TARGET_QPUS

GROWTH_TOLERANCE = 1.25  # noise allowance of the "at most linear" check


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


def find_row(rows: list[dict], **match: Any) -> dict | None:
    for row in rows:
        if all(row.get(k) == v for k, v in match.items()) and row.get("steps_per_s", "") != "":
            return row
    return None


def _measured(rows: list[dict], **match: Any) -> list[dict]:
    return [r for r in rows if all(r.get(k) == v for k, v in match.items()) and r.get("steps_per_s", "") != ""]


def targets(rows: list[dict]) -> list[Target]:
    """The issue's targets, computed from this run's rows (``n/a`` where not measured)."""
    out = []

    def missing(name: str, threshold: str) -> None:
        out.append(Target(name, "not measured in this run", math.nan, threshold, None))

    def ratio_target(name, ours, yardstick, threshold, what, moonshot=None, extra=""):
        text = f">= {threshold:g}x" + (f" (moonshot {moonshot:g}x)" if moonshot else "")
        if ours is None or yardstick is None:
            return missing(name, text)
        ratio = ours.get("_ratio", ours["steps_per_s"] / yardstick["steps_per_s"])
        measured = f"{ours['steps_per_s']:,.0f} vs {yardstick['steps_per_s']:,.0f} {what}"
        if "_ratio_range" in ours:
            low, high = ours["_ratio_range"]
            measured += f" (medians); value: median ratio of interleaved runs, {low:.3g}..{high:.3g}"
        elif "_ratio" in ours:
            measured += " (medians); value: median ratio of interleaved runs"
        out.append(Target(name, measured + extra, ratio, text, ratio >= threshold))

    single = f"single env (gym.make, paper, N={TARGET_QPUS}) vs CartPole-v1 (gym.make)"
    ratio_target(single, find_row(rows, section="single", env="modenhub_single", preset="paper", n_qpus=TARGET_QPUS),
                 find_row(rows, section="single", env="cartpole_single"), 1.0, "env-steps/s", moonshot=1.5)
    yard = find_row(rows, section="vector", env="cartpole_vector", batch=TARGET_BATCH)
    for preset, threshold, moonshot in (("paper", 0.6, 1.0), ("contention", 0.2, None)):
        fields = {"section": "vector", "env": "modenhub_vector", "preset": preset, "n_qpus": TARGET_QPUS,
                  "batch": TARGET_BATCH}
        one = find_row(rows, **fields, threads=1)
        extra = f"; on 1 thread {one['_ratio']:.3g}x" if one and "_ratio" in one else ""
        ratio_target(
            f"native vector env ({preset}, N={TARGET_QPUS}, B={TARGET_BATCH}, 2 threads) vs CartPoleVectorEnv "
            f"(B={TARGET_BATCH})", find_row(rows, **fields, threads=2), yard, threshold, "env-steps/s", moonshot, extra,
        )
    runs = _measured(rows, section="montecarlo", env="reproduce_measure", n_qpus=128)
    naive = find_row(rows, section="montecarlo", env="naive_monte_carlo", n_qpus=128)
    for threads, limit, pick in ((1, 25.0, min), (2, 12.0, max)):
        name = f"Monte Carlo (reproduce.measure, paper, N=128, cache on), {threads} thread(s)"
        threshold = f"<= {limit:g} ns per link attempt"
        mine = [r for r in runs if r.get("threads") == threads]
        if not mine:
            missing(name, threshold)
            continue
        row = pick(mine, key=lambda r: r["batch"])  # 1 thread: the paper's point; 2: the most episodes
        extra = f"; the naive loop: {naive['ns_per_step']:,.0f} ns" if naive else ""
        measured = f"{row['ns_per_step']:,.0f} ns per attempt, {row['batch']} episode(s){extra}"
        out.append(Target(name, measured, row["ns_per_step"], threshold, row["ns_per_step"] <= limit))
    ratio_target(
        "PPO fps, ModEnHubVecEnv (contention) vs zero-cost VecEnv",
        find_row(rows, section="ppo", env="ppo_modenhub"), find_row(rows, section="ppo", env="ppo_zero"), 0.9, "fps",
    )
    for cache, limit in (("cold", 15.0), ("warm", 3.0)):
        name = f"main job (modenhub reproduce), {cache} numba cache"
        threshold = f"<= {limit:g} s"
        job = next((r for r in rows if r["section"] == "mainjob" and r.get("numba_cache") == cache), None)
        if job is None:
            missing(name, threshold)
            continue
        measured = f"{job['seconds']:.1f} s ({job['note'].split('; ')[-1]})"
        out.append(Target(name, measured, job["seconds"], threshold, job["seconds"] <= limit))
    for sweep, label in (("n_qpus", "N"), ("request_slots", "request slots K")):
        for preset in PRESETS:
            series = sorted(
                (r[sweep], r["ns_per_step"]) for r in rows
                if r.get("_sweep") == sweep and r["preset"] == preset and r.get("steps_per_s", "") != ""
            )
            name = f"cost per env-step at most linear in {label} ({preset})"
            threshold = f"each step up <= {GROWTH_TOLERANCE:g}x linear"
            if len(series) < 2:
                missing(name, threshold)
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
