"""The prefetch-value scheduler against the other handcrafted ones, paired over the same
episodes (``docs/model.md#prefetch-value``).

For each preset, every registered heuristic plays the same episodes (seeds ``--seed``+;
10,000+ by default, the held-out seeds of ``modenhub evaluate`` and ``compare``, which
the scheduler's one setting, its horizon, was not chosen on). Writes
``OUT/prefetch_value.{csv,md}``: each heuristic's mean episode reward with a 95% CI, and
the per-episode difference ``prefetch-value - heuristic`` with its 95% CI.

Usage: ``python -m train.prefetch_value [--presets hotspot,decoherence] [--episodes 200]
[--seed 10000] [--out DIR]`` (under a minute on two cores); ``--out results``
regenerates the committed tables.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

from agents import POLICIES, make_policy
from modenhub_env.config import PRESETS, HubConfig
from train.files import write_atomic, write_csv
from train.progress import progress_bar
from train.rollout import run_episodes
from train.runs import output_folder
from train.stats import sample_interval

POLICY = "prefetch-value"
COLUMNS = ["preset", "policy", "episodes", "reward", "reward_lo", "reward_hi", "lead", "lead_lo", "lead_hi",
           "failed", "attempts", "prefetch_attempts", "cache_hits"]


def compare(presets: list[str], episodes: int, seed: int, show_progress: bool = True) -> list[dict[str, Any]]:
    """Rows of every registered heuristic on every preset; ``lead`` is ``prefetch-value``
    minus the row's policy, paired per episode."""
    names = [name for name in POLICIES if name != "random"]
    rows = []
    with progress_bar(total=len(presets) * len(names), desc="policies", enabled=show_progress) as bar:
        for preset in presets:
            config = HubConfig.preset(preset)
            played = {}
            for name in names:
                played[name] = run_episodes(config, make_policy(name, config), episodes, seed)
                bar.update(1)
            ours = played[POLICY].returns
            for name, totals in played.items():
                reward, lo, hi = sample_interval(totals.returns)
                lead, lead_lo, lead_hi = sample_interval(ours - totals.returns)
                rows.append({
                    "preset": preset, "policy": name, "episodes": episodes, "reward": reward, "reward_lo": lo,
                    "reward_hi": hi, "lead": lead, "lead_lo": lead_lo, "lead_hi": lead_hi,
                    "failed": float(totals["failed"].mean()), "attempts": float(totals["attempts"].mean()),
                    "prefetch_attempts": float(totals["prefetch_attempts"].mean()),
                    "cache_hits": float(totals["cache_hits"].mean()),
                })
    return rows


def format_table(rows: list[dict[str, Any]], episodes: int, seed: int, seconds: float) -> str:
    lines = [
        "# The prefetch-value scheduler against the other heuristics", "",
        f"`python -m train.prefetch_value --episodes {episodes} --seed {seed}` ({seconds:.0f} s on two cores): "
        f"{episodes} episodes per policy and preset, the same seeds for all (seeds {seed}+). Mean episode "
        "reward with its 95% CI; `prefetch-value lead` is the per-episode difference prefetch-value minus the "
        "row's policy, with its 95% CI (paired).", "",
        "| preset | policy | reward | prefetch-value lead | failed | attempts | prefetch attempts | cache hits |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        lead = "" if row["policy"] == POLICY else f"{row['lead']:+.2f} [{row['lead_lo']:+.2f}, {row['lead_hi']:+.2f}]"
        lines.append(
            f"| {row['preset']} | {row['policy']} | {row['reward']:.1f} [{row['reward_lo']:.1f}, {row['reward_hi']:.1f}] | "
            f"{lead} | {row['failed']:.1f} | {row['attempts']:.0f} | {row['prefetch_attempts']:.0f} | "
            f"{row['cache_hits']:.1f} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m train.prefetch_value", description=__doc__.split("\n\n")[0])
    parser.add_argument("--presets", default="hotspot,decoherence",
                        help=f"comma-separated presets, of {', '.join(sorted(PRESETS))} (default hotspot,decoherence)")
    parser.add_argument("--episodes", type=int, default=200, help="episodes per policy and preset (default 200)")
    parser.add_argument("--seed", type=int, default=10_000, help="seed of the episodes (default 10000, held out)")
    parser.add_argument("--out", type=Path, default=None,
                        help="folder for prefetch_value.{csv,md} (default: a fresh runs/ folder; --out results "
                        "regenerates the committed ones)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    args = parser.parse_args(argv)
    presets = [name.strip() for name in args.presets.split(",") if name.strip()]
    unknown = [name for name in presets if name not in PRESETS]
    if unknown or not presets:
        parser.error(f"--presets must name presets of {', '.join(sorted(PRESETS))}, got {args.presets!r}")
    if args.episodes < 2:
        parser.error(f"--episodes must be at least 2 (for a CI), got {args.episodes}")
    out = output_folder(args.out, "prefetch-value")
    started = time.monotonic()
    rows = compare(presets, args.episodes, args.seed, not args.no_progress)
    table = format_table(rows, args.episodes, args.seed, time.monotonic() - started)
    write_csv(out / "prefetch_value.csv", rows, COLUMNS)
    write_atomic(out / "prefetch_value.md", table + "\n")
    print(table)
    print(f"\nwrote {out / 'prefetch_value.csv'} and {out / 'prefetch_value.md'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
