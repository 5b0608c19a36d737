"""The aggregate of a sweep's finished runs: ``trials.csv``, and per grid point over seeds
``summary.csv``, ``summary.md`` and ``summary.png`` (95% Student t intervals over seeds)."""

from __future__ import annotations

import itertools
import json
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from train import stats
from train.files import save_figure, write_atomic, write_csv
from train.sweep.spec import METRICS, SweepSpec, group_label


def t_quantile_975(df: int) -> float:
    """The 97.5% quantile of Student's t with ``df`` degrees of freedom (``nan`` below 1)."""
    return stats.t_quantile(0.975, df) if df >= 1 else math.nan


def seed_interval(values: list[float]) -> tuple[float, float, float]:
    """Mean over seeds with its 95% Student t interval (``nan`` bounds for one seed)."""
    return stats.t_interval(values)


def trial_columns(spec: SweepSpec, heuristics: list[str]) -> list[str]:
    cols = ["run", "preset", "algo", "seed", *spec.grid, "step", "wall_seconds"]
    for policy in ["learned", *heuristics]:
        cols += [f"{policy}_{m}{s}" for m in METRICS for s in ("", "_lo", "_hi")]
    return cols


def summary_columns(spec: SweepSpec, heuristics: list[str]) -> list[str]:
    cols = ["preset", "algo", *spec.grid, "seeds", "seeds_planned"]
    cols += [f"learned_{m}{s}" for m in METRICS for s in ("", "_lo", "_hi")]
    for policy in heuristics:
        cols += [f"{policy}_{m}{s}" for m in METRICS for s in ("", "_lo", "_hi")]
    return cols + ["best_heuristic", "learned_minus_best_reward"]


def aggregate(spec: SweepSpec, points: list[dict[str, Any]], finished: Mapping[str, Mapping[str, float]],
              sweep_dir: Path) -> list[dict[str, Any]]:
    """Write ``trials.csv``, ``summary.csv``, ``summary.md`` and ``summary.png``; return the
    summary rows (one per grid point over seeds, for the finished points)."""
    heuristics = _heuristics(finished)
    trials = [{"run": p["run"], "preset": p["preset"], "algo": p["algo"], "seed": p["seed"], **p["grid"],
               **finished[p["run"]]} for p in points if p["run"] in finished]
    write_csv(sweep_dir / "trials.csv", trials, trial_columns(spec, heuristics))
    groups: dict[tuple, list[dict[str, Any]]] = {}
    for point in points:
        key = (point["preset"], point["algo"], json.dumps(point["grid"], sort_keys=True))
        groups.setdefault(key, []).append(point)
    rows = []
    for group in groups.values():
        done = [finished[p["run"]] for p in group if p["run"] in finished]
        if not done:
            continue
        first = group[0]
        row: dict[str, Any] = {"preset": first["preset"], "algo": first["algo"], **first["grid"],
                               "seeds": len(done), "seeds_planned": len(group), "label": group_label(first)}
        for m in METRICS:
            per_seed = [d[f"learned_{m}"] for d in done]
            mean, lo, hi = seed_interval(per_seed)
            if m == "success":  # a rate: the t interval may not leave [0, 1]
                lo, hi = max(lo, 0.0), min(hi, 1.0)
            row[f"learned_{m}"], row[f"learned_{m}_lo"], row[f"learned_{m}_hi"] = mean, lo, hi
            row[f"learned_{m}_per_seed"] = per_seed
            for policy in heuristics:
                for s in ("", "_lo", "_hi"):
                    row[f"{policy}_{m}{s}"] = _mean([d.get(f"{policy}_{m}{s}", math.nan) for d in done])
        best = max(heuristics, key=lambda h: row[f"{h}_reward"], default=None)
        row["best_heuristic"] = best or ""
        row["learned_minus_best_reward"] = row["learned_reward"] - row[f"{best}_reward"] if best else math.nan
        rows.append(row)
    write_csv(sweep_dir / "summary.csv", rows, summary_columns(spec, heuristics))
    write_atomic(sweep_dir / "summary.md", format_summary(spec, rows, len(points), len(trials)) + "\n")
    if rows:
        plot_summary(spec, rows, heuristics, sweep_dir / "summary.png")
    return rows


def _heuristics(finished: Mapping[str, Mapping[str, float]]) -> list[str]:
    names: list[str] = []
    for metrics in finished.values():
        for key in metrics:
            policy = key[: -len("_reward")] if key.endswith("_reward") else None
            if policy and policy != "learned" and policy not in names:
                names.append(policy)
    return names


def _mean(values: list[float]) -> float:
    return sum(values) / len(values) if values else math.nan


def _cell(row: Mapping[str, Any], key: str) -> str:
    value, lo, hi = row[key], row.get(f"{key}_lo", math.nan), row.get(f"{key}_hi", math.nan)
    if math.isnan(value):
        return "-"
    if math.isnan(lo):
        return f"{value:.3g}"
    return f"{value:.3g} [{lo:.3g}, {hi:.3g}]"


def format_summary(spec: SweepSpec, rows: list[dict[str, Any]], planned: int, finished: int) -> str:
    """The Markdown summary: learned policy against the best heuristic per grid point."""
    lines = [
        f"Sweep `{spec.name}`: {finished} of {planned} runs finished, {spec.timesteps} timesteps each. "
        "Final evaluation; learned: mean over training seeds with a 95% Student t interval; "
        "heuristics: 95% interval over evaluation episodes (they do not depend on the training seed).",
    ]
    if "paper" in spec.presets:
        lines.append("The paper preset is a reconstruction calibrated to the paper's headline results.")
    lines += ["", "| preset | grid point | seeds | learned reward | learned success | best heuristic | "
              "its reward | learned - best |", "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        best = r["best_heuristic"]
        lines.append(
            f"| {r['preset']} | {r['label']} | {r['seeds']}/{r['seeds_planned']} | {_cell(r, 'learned_reward')} | "
            f"{_cell(r, 'learned_success')} | {best or '-'} | {_cell(r, f'{best}_reward') if best else '-'} | "
            f"{r['learned_minus_best_reward']:.3g} |"
        )
    return "\n".join(lines)


def plot_summary(spec: SweepSpec, rows: list[dict[str, Any]], heuristics: list[str], path: Path) -> None:
    """Per preset (columns), reward and success rate (rows) of the learned policy and each
    heuristic at every grid point, with the 95% intervals as error bars."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    presets = [p for p in spec.presets if any(r["preset"] == p for r in rows)]
    policies = ["learned", *heuristics]
    colours = dict(zip(heuristics, itertools.cycle(_HEURISTIC_COLOURS)), learned="tab:red")
    fig, axes = plt.subplots(2, len(presets), figsize=(max(5.0, 1.4 * _widest(rows, presets)) * len(presets), 7),
                             squeeze=False)
    width = 0.8 / len(policies)
    for col, preset in enumerate(presets):
        mine = [r for r in rows if r["preset"] == preset]
        for row_index, metric in enumerate(("reward", "success")):
            ax = axes[row_index][col]
            for i, policy in enumerate(policies):
                xs = [j + (i - (len(policies) - 1) / 2) * width for j in range(len(mine))]
                values = [r[f"{policy}_{metric}"] for r in mine]
                errors = [[_gap(r, policy, metric, "lo") for r in mine], [_gap(r, policy, metric, "hi") for r in mine]]
                ax.bar(xs, values, width, yerr=errors, capsize=3, label=policy, color=colours[policy],
                       alpha=1.0 if policy == "learned" else 0.75)
                if policy == "learned":  # each seed's final value
                    for x, r in zip(xs, mine, strict=True):
                        seeds = r[f"learned_{metric}_per_seed"]
                        ax.plot([x] * len(seeds), seeds, "k.", markersize=4, label="_seeds")
            ax.set_xticks(range(len(mine)))
            ax.set_xticklabels([r["label"] for r in mine], rotation=30, ha="right", fontsize=8)
            ax.set_ylabel("episode reward" if metric == "reward" else "success rate")
            if row_index == 0:
                ax.set_title(preset)
            ax.grid(axis="y", alpha=0.3)
    axes[0][0].legend(fontsize=8)
    fig.suptitle(f"sweep {spec.name}: learned (dots: seeds; 95% CI over seeds) vs handcrafted "
                 "(95% CI over evaluation episodes)", fontsize=10)
    fig.tight_layout()
    save_figure(fig, path)
    plt.close(fig)


_HEURISTIC_COLOURS = ("tab:blue", "tab:orange", "tab:green", "tab:purple", "tab:brown", "tab:gray", "tab:olive")


def _widest(rows: list[dict[str, Any]], presets: list[str]) -> int:
    return max(sum(r["preset"] == p for r in rows) for p in presets)


def _gap(row: Mapping[str, Any], policy: str, metric: str, side: str) -> float:
    bound = row[f"{policy}_{metric}_{side}"]
    if math.isnan(bound):
        return 0.0
    return max(0.0, row[f"{policy}_{metric}"] - bound if side == "lo" else bound - row[f"{policy}_{metric}"])
