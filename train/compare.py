"""``modenhub compare``: the committed learned schedulers against the handcrafted ones.

For every ``MODELS/<name>/`` holding a ``model.zip`` and the ``config.json`` of its
training run, the model and the heuristics play the same held-out episodes of the run's
scenario. Writes ``OUT/learned_vs_handcrafted.{csv,md,png}``: each policy's metrics with
95% CIs, and per scenario whether the model's reward interval lies wholly above the best
heuristic's.
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path
from typing import Any

import numpy as np

from modenhub_env.config import HubConfig
from train.evaluate import columns, load_policy, summarise
from train.files import save_figure, write_atomic, write_csv
from train.options import positive_int
from train.progress import progress_bar
from train.rollout import run_episodes

HEURISTICS = ("sequential", "log-parallel", "deadline", "dp-optimal")


def scenarios(models: Path) -> list[tuple[str, HubConfig, Path]]:
    """``(name, config, model path)`` of every model folder under ``models``, by name."""
    found = []
    for folder in sorted(p for p in models.iterdir() if (p / "model.zip").is_file()):
        config_path = folder / "config.json"
        if not config_path.is_file():
            raise ValueError(f"{folder}: model.zip without the config.json of its training run")
        try:
            config = HubConfig.from_dict(json.loads(config_path.read_text())["config"])
        except (json.JSONDecodeError, KeyError, TypeError) as err:
            raise ValueError(f"{config_path}: not a training run's config.json ({err})") from None
        found.append((folder.name, config, folder / "model.zip"))
    if not found:
        raise ValueError(f"no <name>/model.zip under {models}")
    return found


def compare(models: Path, episodes: int, seed: int, out: Path, show_progress: bool = True) -> list[dict[str, Any]]:
    """Evaluate every model and the heuristics; write the CSV, Markdown and plot."""
    found = scenarios(models)
    rows = []
    with progress_bar(total=len(found) * (len(HEURISTICS) + 1) * episodes, desc="episodes",
                      enabled=show_progress) as bar:
        for name, config, model in found:
            for policy_name in (*HEURISTICS, str(model)):
                policy = load_policy(policy_name, config, seed)
                bar.set_postfix_str(f"{name}: {Path(policy_name).parent.name or policy_name}")
                totals = run_episodes(config, policy, episodes, seed, progress=bar.update)
                row = summarise(policy_name, totals, seed)
                row["policy"] = "learned" if policy_name == str(model) else policy_name
                rows.append({"scenario": name, **row})
    write_csv(out / "learned_vs_handcrafted.csv", rows, ["scenario", *columns()])
    write_atomic(out / "learned_vs_handcrafted.md", format_table(rows, episodes) + "\n")
    plot(rows, out / "learned_vs_handcrafted.png")
    return rows


def verdict(rows: list[dict[str, Any]]) -> tuple[str, float, float, str]:
    """Best heuristic of one scenario's rows, the learned reward's lead over it, and
    whether their 95% intervals are apart."""
    learned = next(r for r in rows if r["policy"] == "learned")
    best = max((r for r in rows if r["policy"] != "learned"), key=lambda r: r["reward"])
    lead = learned["reward"] - best["reward"]
    if learned["reward_lo"] > best["reward_hi"]:
        call = "learned better (CIs apart)"
    elif learned["reward_hi"] < best["reward_lo"]:
        call = "heuristic better (CIs apart)"
    else:
        call = "CIs overlap"
    return best["policy"], lead, lead / abs(best["reward"]) if best["reward"] else math.nan, call


def format_table(rows: list[dict[str, Any]], episodes: int) -> str:
    names = list(dict.fromkeys(r["scenario"] for r in rows))
    head = "| scenario | " + " | ".join((*HEURISTICS, "learned")) + " | best heuristic | lead | verdict |"
    lines = [f"Mean episode reward, {episodes} held-out episodes per policy, 95% CIs.", "", head,
             "|---" * (len(HEURISTICS) + 5) + "|"]
    for name in names:
        sel = [r for r in rows if r["scenario"] == name]
        cells = [f"{r['reward']:.4g} [{r['reward_lo']:.4g}, {r['reward_hi']:.4g}]" for r in sel]
        best, lead, share, call = verdict(sel)
        lines.append(f"| {name} | " + " | ".join(cells) + f" | {best} | {lead:+.3g} ({share:+.1%}) | {call} |")
    return "\n".join(lines)


def plot(rows: list[dict[str, Any]], path: Path) -> None:
    """Per scenario, each policy's reward minus the best heuristic's, with the policy's
    95% CI. The sequential baseline, far below the others everywhere, is left out."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(dict.fromkeys(r["scenario"] for r in rows))
    shown = (*HEURISTICS[1:], "learned")
    fig, axes = plt.subplots(1, len(names), figsize=(3.0 * len(names), 3.6), squeeze=False)
    colours = plt.cm.tab10(np.arange(1, len(shown) + 1))
    for ax, name in zip(axes[0], names, strict=True):
        sel = {r["policy"]: r for r in rows if r["scenario"] == name}
        best = max(sel[p]["reward"] for p in HEURISTICS)
        values = np.array([sel[p]["reward"] - best for p in shown])
        err = np.array([[sel[p]["reward"] - sel[p]["reward_lo"], sel[p]["reward_hi"] - sel[p]["reward"]]
                        for p in shown]).T
        ax.bar(range(len(shown)), values, yerr=np.nan_to_num(err), capsize=3, color=colours)
        ax.axhline(0.0, color="black", linewidth=0.8)
        ax.set_xticks(range(len(shown)), shown, rotation=45, ha="right", fontsize=8)
        ax.set_title(f"{name} (best heuristic {best:.4g})", fontsize=9)
        ax.grid(axis="y", alpha=0.3)
    axes[0][0].set_ylabel("episode reward - best heuristic's")
    fig.suptitle("Learned (MaskablePPO, per-slot policy) vs handcrafted schedulers, 95% CIs")
    fig.tight_layout()
    save_figure(fig, path)
    plt.close(fig)


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register ``compare`` on the ``modenhub`` subcommands."""
    parser = subparsers.add_parser(
        "compare", help="committed learned models against the heuristics (learned_vs_handcrafted.*)",
        description="Evaluate every MODELS/<name>/model.zip on its training run's scenario beside the "
        "heuristics, on the same held-out seeds, and write OUT/learned_vs_handcrafted.csv, .md and .png.",
    )
    parser.add_argument("--models", type=Path, default=Path("results/models"),
                        help="folder of <name>/model.zip + config.json (default results/models)")
    parser.add_argument("--episodes", type=positive_int, default=200,
                        help="held-out episodes per policy and scenario (default 200)")
    parser.add_argument("--seed", type=int, default=10_000,
                        help="base seed of the held-out episodes; training evaluated on other seeds (default 10000)")
    parser.add_argument("--out", type=Path, default=Path("results"), help="output folder (default results/)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.set_defaults(func=_run)
    return parser


def _run(args: argparse.Namespace) -> None:
    try:
        rows = compare(args.models, args.episodes, args.seed, args.out, not args.quiet)
    except (ValueError, FileNotFoundError) as err:
        raise SystemExit(f"error: {err}") from None
    print(format_table(rows, args.episodes))
    print(f"\nwrote {args.out}/learned_vs_handcrafted.csv, .md and .png")
