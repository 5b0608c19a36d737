"""The paper's Monte Carlo study: both heuristics, with and without the ebit cache, over N.

``modenhub reproduce`` (see ``--help``) writes ``results/paper_reproduction.csv`` and
``.png`` and prints the table. Results use the *paper preset*, a reconstruction calibrated
to the paper's headline numbers: its own parameter values are not public.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from agents import make_policy
from modenhub_env import physics
from modenhub_env.config import HubConfig
from modenhub_env.workload import all_pairs
from train import stats
from train.files import new_figure, read_csv, save_figure, write_csv
from train.progress import progress_bar
from train.rollout import run_episodes

PAPER_QPUS = (1, 2, 4, 8, 16, 32, 64, 128)
BATCH = 1024  # [envs] most episodes run side by side (run_episodes' default max_batch)
POLICIES = ("sequential", "log-parallel")
COLUMNS = [
    "n_qpus", "policy", "cache", "trials", "p_pair", "k",
    "success", "success_lo", "success_hi",
    "attempts", "attempts_lo", "attempts_hi",
    "cache_hit_rate", "analytic_success", "analytic_attempts", "settings",
]


@dataclass(frozen=True)
class Point:
    """One row of the study."""

    n_qpus: int
    policy: str
    cache: bool


def points(qpus: tuple[int, ...]) -> list[Point]:
    return [Point(n, policy, cache) for n in qpus for policy in POLICIES for cache in (False, True)]


def point_config(base: HubConfig, point: Point, trials: int) -> HubConfig:
    """The config of one point: ``base`` at ``N``, the cache on or off, episodes no longer
    than the trials asked for.

    With the cache on, an episode keeps ``base.episode_requests`` requests (2,500 in the
    paper preset), since the cache carries over from request to request within it. With
    the cache off nothing does, so the requests are independent and the trials are split
    into up to ``BATCH`` short episodes that run side by side."""
    episode = min(base.episode_requests, trials)
    if not point.cache:
        episode = min(episode, math.ceil(trials / BATCH))
    return base.replace(
        n_qpus=point.n_qpus,
        cache_capacity=base.cache_capacity if point.cache else 0,
        episode_requests=episode,
    )


def analytic(config: HubConfig, policy: str) -> tuple[float, float]:
    """Closed-form success rate and mean attempts per request, averaged over uniformly
    requested pairs; ``nan`` where no closed form holds (log-parallel with a cache)."""
    if policy == "log-parallel" and config.cache_size > 0 and config.k_parallel > 1:
        return math.nan, math.nan
    p = config.p_pair(*all_pairs(config.n_qpus))
    budget = config.round_budget
    if policy == "sequential":
        return float(physics.sequential_success(p, budget).mean()), float(physics.sequential_mean_attempts(p, budget).mean())
    k = config.k_parallel
    return float(physics.parallel_success(p, budget, k).mean()), float(physics.parallel_mean_attempts(p, budget, k).mean())


def measure(config: HubConfig, point: Point, trials: int, seed: int, progress=None) -> dict:
    """Run one point and summarise it as a CSV row."""
    episodes = math.ceil(trials / config.episode_requests)
    totals = run_episodes(config, make_policy(point.policy, config), episodes, seed, progress=progress)
    resolved = totals.total("served") + totals.total("failed")
    low, high = stats.wilson_interval(totals.total("served"), resolved)
    attempts, att_lo, att_hi = stats.mean_interval(totals.total("attempts"), totals.total("attempts_sq_sum"), resolved)
    exact_success, exact_attempts = analytic(config, point.policy)
    return {
        "n_qpus": point.n_qpus, "policy": point.policy, "cache": int(point.cache),
        "trials": int(resolved), "p_pair": float(config.p_pair(0, min(1, config.n_qpus - 1))),
        "k": config.k_parallel if point.policy == "log-parallel" else 1,
        "success": totals.total("served") / resolved, "success_lo": low, "success_hi": high,
        "attempts": attempts, "attempts_lo": att_lo, "attempts_hi": att_hi,
        "cache_hit_rate": totals.total("cache_hits") / resolved,
        "analytic_success": exact_success, "analytic_attempts": exact_attempts,
    }


def settings_id(base: HubConfig, trials: int, seed: int) -> str:
    """A short hash of everything a row depends on, so ``--resume`` reuses only rows of
    the same study."""
    blob = json.dumps({"config": base.to_dict(), "trials": trials, "seed": seed}, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:12]


def reproduce(
    base: HubConfig,
    qpus: tuple[int, ...] = PAPER_QPUS,
    trials: int = 2500,
    seed: int = 0,
    out: Path = Path("results"),
    resume: bool = False,
    show_progress: bool = True,
) -> list[dict]:
    """Run the study, writing the CSV after every point (atomically) and the plot at the end."""
    csv_path = out / "paper_reproduction.csv"
    settings = settings_id(base, trials, seed)
    done = _finished_rows(csv_path, settings) if resume else {}
    rows = []
    todo = points(qpus)
    configs = [point_config(base, point, trials) for point in todo]  # bad values fail before any run
    with progress_bar(total=len(todo), desc="points", enabled=show_progress) as bar:
        for point, config in zip(todo, configs, strict=True):
            key = (point.n_qpus, point.policy, int(point.cache))
            if key in done:
                rows.append(done[key])
            else:
                bar.set_postfix_str(f"N={point.n_qpus} {point.policy} cache={int(point.cache)}")
                row = measure(config, point, trials, seed)
                rows.append({**row, "settings": settings})
                write_csv(csv_path, rows, COLUMNS)
            bar.update(1)
    write_csv(csv_path, rows, COLUMNS)
    plot(rows, out / "paper_reproduction.png")
    return rows


def _finished_rows(path: Path, settings: str) -> dict:
    if not path.exists():
        return {}
    try:
        rows = read_csv(path)
    except (OSError, ValueError):
        return {}
    return {
        (int(r["n_qpus"]), r["policy"], int(r["cache"])): r
        for r in rows
        if r.get("settings") == settings
    }


def format_table(rows: list[dict]) -> str:
    """A Markdown table of the study."""
    head = "| N | p | policy | cache | success [95% CI] | attempts [95% CI] | cache hits | analytic success | analytic attempts |"
    lines = [head, "|" + "---|" * 9]
    for r in rows:
        def f(key: str, digits: int, row: dict = r) -> str:
            value = float(row[key])
            return "-" if math.isnan(value) else f"{value:.{digits}f}"

        lines.append(
            f"| {r['n_qpus']} | {f('p_pair', 3)} | {r['policy']} | {'on' if int(r['cache']) else 'off'} "
            f"| {f('success', 3)} [{f('success_lo', 3)}, {f('success_hi', 3)}] "
            f"| {f('attempts', 2)} [{f('attempts_lo', 2)}, {f('attempts_hi', 2)}] "
            f"| {f('cache_hit_rate', 3)} | {f('analytic_success', 3)} | {f('analytic_attempts', 2)} |"
        )
    return "\n".join(lines)


def plot(rows: list[dict], path: Path) -> None:
    """Success and attempts against N (log2 axis), 95% CI bands, closed forms dashed."""
    fig, axes = new_figure(1, 2, figsize=(11, 4.2))
    panels = (("success", "success rate"), ("attempts", "mean attempts per request"))
    colours = {"sequential": "tab:blue", "log-parallel": "tab:orange"}
    for ax, (key, label) in zip(axes, panels, strict=True):
        for policy in POLICIES:
            for cache, style in ((False, ":"), (True, "-")):
                sel = [r for r in rows if r["policy"] == policy and int(r["cache"]) == int(cache)]
                if not sel:
                    continue
                n = np.array([int(r["n_qpus"]) for r in sel])
                y = np.array([float(r[key]) for r in sel])
                lo = np.array([float(r[f"{key}_lo"]) for r in sel])
                hi = np.array([float(r[f"{key}_hi"]) for r in sel])
                name = f"{policy}, cache {'on' if cache else 'off'}"
                ax.plot(n, y, style, marker="o", color=colours[policy], label=name)
                ax.fill_between(n, lo, hi, color=colours[policy], alpha=0.15)
                exact = np.array([float(r[f"analytic_{key}"]) for r in sel])
                if not cache and np.isfinite(exact).any():
                    ax.plot(n, exact, "--", color="gray", linewidth=1)
        ax.set_xscale("log", base=2)
        ax.set_xlabel("QPUs N")
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
    axes[0].plot([], [], "--", color="gray", label="closed form (no cache)")
    axes[0].legend(fontsize=8)
    trials = max(int(r["trials"]) for r in rows)
    fig.suptitle(f"ModEn-Hub paper preset (reconstruction), up to {trials} requests per point")
    save_figure(fig, path)
