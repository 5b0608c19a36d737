"""Score any set of policies on one scenario over fixed seeds (``modenhub evaluate``).

Every policy plays the same episodes, so besides each policy's own intervals the rows
carry the paired comparison with the best heuristic (:func:`add_paired`): the policy's
episode reward minus the best heuristic's, episode by episode, with a 95% t-interval and
a verdict. The episodes' common luck cancels in each difference, which makes this
interval several times narrower than the two policies' intervals side by side; the
verdict rests on it.
"""

from __future__ import annotations

import math
import sys
from pathlib import Path
from typing import Any

import numpy as np

from agents import make_policy
from agents.registry import canonical_name
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

#: Columns of the paired comparison with the best heuristic (:func:`add_paired`).
PAIRED_COLUMNS = ["best_heuristic", "diff_vs_best_heuristic", "diff_ci_low", "diff_ci_high", "verdict"]


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
    """The CSV columns of :func:`evaluate`: each metric with its interval, then :data:`PAIRED_COLUMNS`."""
    cols = ["policy", "episodes", "requests"]
    for key in METRICS:
        cols += [key, f"{key}_lo", f"{key}_hi"]
    return cols + PAIRED_COLUMNS


def add_paired(rows: list[dict[str, Any]], returns: list[np.ndarray], handcrafted: list[bool]) -> None:
    """Add :data:`PAIRED_COLUMNS` to every row, in place: the best heuristic (of the rows
    with ``handcrafted`` set, the highest mean episode reward; the first among equals), and
    the mean of the row's episode rewards minus the best heuristic's on the same episodes,
    with its 95% t-interval (``train.stats.paired_difference``) and ``verdict``: ``better``
    or ``worse`` when the interval lies above or below 0, ``tie`` when it contains 0 (the
    best heuristic's own row, whose differences are all 0, included), ``n/a`` for a single
    episode. Without a handcrafted row, the columns are empty.

    Choosing the best heuristic on the very episodes it is compared on favours it a little
    (the largest of several means is biased upwards), so a ``better`` is conservative.

    :param rows: one per policy, with ``policy``.
    :param returns: each row's episode rewards, ``(E,)``, over the same episodes.
    :param handcrafted: whether each row is a heuristic (a candidate for the best).
    """
    candidates = [i for i, flag in enumerate(handcrafted) if flag]
    if not candidates:
        for row in rows:
            row.update(best_heuristic="", diff_vs_best_heuristic=math.nan, diff_ci_low=math.nan,
                       diff_ci_high=math.nan, verdict="n/a")
        return
    best = max(candidates, key=lambda i: float(np.mean(returns[i])))
    for row, samples in zip(rows, returns, strict=True):
        mean, low, high = stats.paired_difference(samples, returns[best])
        row.update(best_heuristic=rows[best]["policy"], diff_vs_best_heuristic=mean, diff_ci_low=low,
                   diff_ci_high=high, verdict=stats.verdict(low, high))


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

    Heuristics are named as :func:`agents.make_policy` takes them (a former name is written
    under its name now); every other entry is a model file, whose seeds are checked to be
    held out (:func:`check_model_held_out`).

    :param trust_pickle: accept SB3 ``.zip`` models among ``policies`` (see :func:`load_policy`).
    """
    policies = [name if is_model_path(name) else canonical_name(name) for name in policies]
    loaded = [load_policy(name, config, seed, trust_pickle) for name in policies]  # a bad name fails before any run
    for name in filter(is_model_path, policies):
        check_model_held_out(name, seed, episodes)
    rows, returns = [], []
    with progress_bar(total=episodes * len(policies), desc="episodes", enabled=show_progress) as bar:
        for name, policy in zip(policies, loaded, strict=True):
            bar.set_postfix_str(name)
            totals = run_episodes(config, policy, episodes, seed, progress=bar.update)
            rows.append(summarise(name, totals, seed))
            returns.append(totals.returns)
    add_paired(rows, returns, [not is_model_path(name) for name in policies])
    write_csv(out / f"evaluation_{tag}.csv", rows, columns())
    write_atomic(out / f"evaluation_{tag}.md", format_table(rows, tag) + "\n")
    plot(rows, out / f"evaluation_{tag}.png", tag)
    return rows


def check_model_held_out(model: str, seed: int, episodes: int) -> None:
    """A ``ValueError`` if the evaluation's episodes trained or selected ``model``
    (``train.seeds``); a note on stderr when its folder holds no ``config.json`` of its
    training run to check against."""
    from train.seeds import check_held_out, run_options

    run = run_options(Path(model))
    if run is None:
        print(f"note: {model}: no config.json of its training run beside it; cannot check that the evaluation "
              "seeds are held out", file=sys.stderr)
        return
    check_held_out(seed, episodes, run, model)


def format_table(rows: list[dict[str, Any]], tag: str) -> str:
    """Each metric with its 95% CI, then each policy's reward against the best heuristic's,
    paired over the same episodes."""
    head = "| policy | " + " | ".join(label for label, _ in METRICS.values()) + " | " + " | ".join(PAIRED_HEAD) + " |"
    lines = [f"Scenario `{tag}`, {rows[0]['episodes']} episodes per policy (the same seeds for all), 95% CIs. "
             + PAIRED_NOTE, "", head, "|---" * (len(METRICS) + len(PAIRED_HEAD) + 1) + "|"]
    for r in rows:
        cells = [_cell(r, key) for key in METRICS] + paired_cells(r)
        lines.append(f"| {r['policy']} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


#: Headers of :func:`paired_cells`, and the sentence that explains them under a table.
PAIRED_HEAD = ("reward - best heuristic's, paired", "verdict")
PAIRED_NOTE = ("Paired: a policy's episode reward minus the best heuristic's on the same episode, mean and 95% "
               "t-interval over episodes; verdict better or worse when the interval excludes 0, tie when it "
               "contains 0.")


def paired_cells(row: dict[str, Any]) -> list[str]:
    """The cells of :data:`PAIRED_HEAD` for one row of :func:`add_paired`: ``+7.53 [+6.41,
    +8.65]`` and its verdict; the best heuristic's own row says so."""
    if not row["best_heuristic"]:
        return ["-", "-"]
    if row["policy"] == row["best_heuristic"]:
        return ["(best heuristic)", "-"]
    return [signed_interval(row["diff_vs_best_heuristic"], row["diff_ci_low"], row["diff_ci_high"]), row["verdict"]]


def _cell(row: dict[str, Any], key: str) -> str:
    value, lo, hi = row[key], row[f"{key}_lo"], row[f"{key}_hi"]
    if math.isnan(value):
        return "-"
    if math.isnan(lo):
        return f"{value:.3g}"
    return f"{value:.3g} [{lo:.3g}, {hi:.3g}]"


def signed_interval(value: float, low: float, high: float) -> str:
    """``+7.53 [+6.41, +8.65]``; without an interval, the value alone."""
    if math.isnan(low) or math.isnan(high):
        return f"{value:+.3g}"
    return f"{value:+.3g} [{low:+.3g}, {high:+.3g}]"


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
