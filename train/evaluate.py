"""Score any set of policies on one scenario over fixed seeds (``modenhub evaluate``)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np

from agents import make_policy
from modenhub_env.config import HubConfig
from train import stats
from train.files import save_figure, write_atomic, write_csv
from train.progress import progress_bar
from train.rollout import EpisodeTotals, run_episodes

#: Metric name -> (label, higher is better).
METRICS = {
    "reward": ("episode reward", True),
    "success": ("success rate", True),
    "attempts": ("attempts per request", False),
    "wasted": ("wasted ebits per episode", False),
    "fidelity": ("delivered ebit fidelity", True),
    "latency_p50": ("latency p50 [rounds]", False),
    "latency_p95": ("latency p95 [rounds]", False),
}


MODEL_SUFFIXES = (".safetensors", ".zip")


def is_model_path(name: str) -> bool:
    """Whether a ``--policies`` entry names a model file rather than a heuristic."""
    return name.endswith(MODEL_SUFFIXES) or "/" in name or Path(name).exists()


def load_policy(name: str, config: HubConfig, seed: int, trust_pickle: bool = False) -> Any:
    """A heuristic by name (``random`` seeded with ``seed``), or a learned model from a
    model file path (``agents.learned``).

    :param trust_pickle: also accept an SB3 ``.zip``, which runs any code it holds when
        loaded (``--trust-pickle``).
    :raises FileNotFoundError: a model path that does not exist.
    :raises ValueError: an unknown name, or a model file that cannot be used.
    """
    if is_model_path(name):
        try:
            import torch as th

            from agents.learned import LearnedPolicy
        except ModuleNotFoundError as err:
            raise ModuleNotFoundError(f"a learned model needs the 'train' extra ({err})", name=err.name) from None
        # Our networks are small: on a shared machine, torch's extra threads only wait on
        # each other (2 episodes took 28 s with 2 threads and 0.5 s with 1, under load).
        th.set_num_threads(1)
        return LearnedPolicy.load(name, config=config, trust_pickle=trust_pickle)
    return make_policy(name, config, **({"seed": seed} if name == "random" else {}))


def summarise(name: str, totals: EpisodeTotals, seed: int) -> dict[str, Any]:
    """One row: each metric with its 95% CI over episodes (latency: bootstrap)."""
    resolved = totals["served"] + totals["failed"] + totals["rejected"]
    per_episode = {
        "reward": totals.returns,
        "success": _ratio(totals["served"], resolved),
        "attempts": _ratio(totals["attempts"] + totals["prefetch_attempts"], resolved),
        "wasted": totals["wasted"],
        "fidelity": _ratio(totals["fidelity_sum"], totals["served"]),
    }
    row: dict[str, Any] = {"policy": name, "episodes": totals.episodes, "requests": int(resolved.sum())}
    for key, values in per_episode.items():
        values = values[np.isfinite(values)]
        row[key], row[f"{key}_lo"], row[f"{key}_hi"] = stats.sample_interval(values)
    bootstrap = np.random.default_rng(seed)
    for q, key in ((0.5, "latency_p50"), (0.95, "latency_p95")):
        row[key], row[f"{key}_lo"], row[f"{key}_hi"] = stats.bootstrap_quantile(totals.latency_hist, q, bootstrap)
    return row


def _ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    return np.divide(num, den, out=np.full(num.shape, np.nan), where=den > 0)


def columns() -> list[str]:
    cols = ["policy", "episodes", "requests"]
    for key in METRICS:
        cols += [key, f"{key}_lo", f"{key}_hi"]
    return cols


def evaluate(
    config: HubConfig,
    policies: list[str],
    episodes: int,
    seed: int,
    out: Path,
    tag: str,
    show_progress: bool = True,
    trust_pickle: bool = False,
) -> list[dict[str, Any]]:
    """Run every policy on the same seeds; write ``evaluation_<tag>.{csv,md,png}`` to ``out``.

    :param trust_pickle: accept SB3 ``.zip`` models among ``policies`` (see :func:`load_policy`).
    """
    rows = []
    loaded = [load_policy(name, config, seed, trust_pickle) for name in policies]  # a bad name fails before any run
    with progress_bar(total=episodes * len(policies), desc="episodes", enabled=show_progress) as bar:
        for name, policy in zip(policies, loaded, strict=True):
            bar.set_postfix_str(name)
            totals = run_episodes(config, policy, episodes, seed, progress=bar.update)
            rows.append(summarise(name, totals, seed))
    write_csv(out / f"evaluation_{tag}.csv", rows, columns())
    write_atomic(out / f"evaluation_{tag}.md", format_table(rows, tag) + "\n")
    plot(rows, out / f"evaluation_{tag}.png", tag)
    return rows


def format_table(rows: list[dict[str, Any]], tag: str) -> str:
    head = "| policy | " + " | ".join(label for label, _ in METRICS.values()) + " |"
    lines = [f"Scenario `{tag}`, {rows[0]['episodes']} episodes per policy, 95% CIs.", "", head,
             "|---" * (len(METRICS) + 1) + "|"]
    for r in rows:
        cells = [_cell(r, key) for key in METRICS]
        lines.append(f"| {r['policy']} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _cell(row: dict[str, Any], key: str) -> str:
    value, lo, hi = row[key], row[f"{key}_lo"], row[f"{key}_hi"]
    if math.isnan(value):
        return "-"
    if math.isnan(lo):
        return f"{value:.3g}"
    return f"{value:.3g} [{lo:.3g}, {hi:.3g}]"


def plot(rows: list[dict[str, Any]], path: Path, tag: str) -> None:
    """One bar panel per metric, 95% CIs as error bars."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    keys = list(METRICS)
    fig, axes = plt.subplots(1, len(keys), figsize=(2.6 * len(keys), 3.6))
    names = [Path(r["policy"]).stem if is_model_path(r["policy"]) else r["policy"] for r in rows]
    for ax, key in zip(axes, keys, strict=True):
        values = np.array([r[key] for r in rows], dtype=float)
        lo = np.array([r[f"{key}_lo"] for r in rows], dtype=float)
        hi = np.array([r[f"{key}_hi"] for r in rows], dtype=float)
        err = np.nan_to_num(np.vstack([values - lo, hi - values]), nan=0.0)
        ax.bar(range(len(rows)), values, yerr=err, capsize=3, color=plt.cm.tab10(np.arange(len(rows))))
        ax.set_xticks(range(len(rows)), names, rotation=45, ha="right", fontsize=8)
        label, higher = METRICS[key]
        ax.set_title(f"{label}\n({'higher' if higher else 'lower'} is better)", fontsize=9)
        ax.grid(axis="y", alpha=0.3)
    fig.suptitle(f"Policies on scenario '{tag}'")
    fig.tight_layout()
    save_figure(fig, path)
    plt.close(fig)
