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
        find_row(rows, section="vector", env="modenhub_vector", preset="paper", n_qpus=TARGET_QPUS, batch=TARGET_BATCH),
        find_row(rows, section="vector", env="cartpole_vector", batch=TARGET_BATCH), 1.0, "env-steps/s",
    )
    ratio_target(
        f"single env (paper, N={TARGET_QPUS}) vs CartPole single env",
        find_row(rows, section="single", env="modenhub_single", preset="paper", n_qpus=TARGET_QPUS),
        find_row(rows, section="single", env="cartpole_single"), 0.25, "env-steps/s",
    )
    mc = find_row(rows, section="montecarlo", env="reproduce_measure", n_qpus=128)
    naive = find_row(rows, section="montecarlo", env="naive_monte_carlo", n_qpus=128)
    if mc is None:
        out.append(Target("Monte Carlo (reproduce.measure), N=128", "not measured in this run",
                          math.nan, "<= 10 ns per link-attempt", None))
    else:
        extra = f" (naive loop: {naive['ns_per_step']:,.0f} ns)" if naive else ""
        out.append(Target("Monte Carlo (reproduce.measure), N=128", f"{mc['ns_per_step']:,.0f} ns per attempt{extra}",
                          mc["ns_per_step"], "<= 10 ns per link-attempt", mc["ns_per_step"] <= 10.0))
    ratio_target(
        "PPO fps, ModEnHubVecEnv (contention) vs zero-cost VecEnv",
        find_row(rows, section="ppo", env="ppo_modenhub"), find_row(rows, section="ppo", env="ppo_zero"), 0.9, "fps",
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
