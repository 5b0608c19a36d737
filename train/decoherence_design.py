"""Choose the ``decoherence`` preset by a rule fixed before any agent is trained on it
(``docs/model.md#decoherence-design``), and write its heuristic table and bounds.

**The memory.** A round is 20 us: the heralding round trip over the longest spoke, 2 km
of fibre at 5 us/km each way, so the hub's spokes run from 1 to 2 km. The hub stores
ebits in NV electron spins; with diamond's natural 1.1% of 13C their Hahn-echo coherence
time is T2 = 0.6 ms (Stanwix et al., Phys. Rev. B 82, 201201(R), 2010: T2 > 600 us), and
1.8 ms in isotopically purified diamond (Balasubramanian et al., Nature Materials 8, 383,
2009). Taking the Werner decay's ``T_coh`` as T2 gives 30 and 90 rounds; with ``F0 =
0.97`` and ``F_min = 0.8`` a stored ebit serves for ``floor(T_coh ln(0.72 / 0.55))`` = 8
and 24 rounds. Delivered fidelity counts: ``w_fidelity = (2/3)(1 + w_fail)``, the gate
error a stored ebit adds, ``(2/3)(F0 - F)``, priced as a request lost (its +1 and
``w_fail``).

**The candidates**, in the order of preference (closest to the earlier preset first):
``T_coh`` 30 then 90 rounds; round budget ``R`` 2 then 1; arrival rate 0.6 then 1.2 a
round; Zipf exponent 1.0 then 1.4. Everything else is the committed preset's.

**The rule.** A candidate qualifies when, over the same episodes (seeds ``--seed``+, never
used to train or select an agent):

1. *headroom*: the clairvoyant scheduler (``train.bounds``: the single-request DP, plus
   prefetch of the pairs it knows will be asked for while a stored ebit lasts, paying
   every attempt) beats the best heuristic (the registered handcrafted policy with the
   highest mean reward) by at least 10% of that heuristic's mean reward, at the lower end
   of the paired 95% CI of the per-episode difference;
2. *decoherence binds*: under the best heuristic and under the clairvoyant scheduler, at
   least 25% of the ebits stored in the cache expire before they serve a request.

The preset is the first qualifying candidate in the order above. Written to
``OUT/decoherence_design.{csv,md}``: every candidate's policies and bounds with 95% CIs
and paired differences to its best heuristic, whether it qualifies, and which is chosen.

Usage: ``python -m train.decoherence_design [--episodes 200] [--seed 20000] [--out DIR]``
(about 3 minutes on two cores); ``--out results`` regenerates the committed tables;
``--quick`` is a smoke run (2 candidates, 8 episodes of 32 rounds).
"""

from __future__ import annotations

import argparse
import itertools
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from agents import POLICIES, make_policy
from agents.dp import SingleRequestDPPolicy
from modenhub_env.config import HubConfig
from train.bounds import BOUNDS, play_bound
from train.files import write_atomic, write_csv
from train.progress import progress_bar
from train.rollout import run_episodes
from train.runs import output_folder
from train.stats import sample_interval

ROUND_US = 20.0  # [us] one round: 2 x 2 km x 5 us/km
T2_US = {"NV, natural 13C": 600.0, "NV, purified 12C": 1800.0}  # [us] Hahn-echo coherence time
GRID = {
    "t_coh": tuple(t2 / ROUND_US for t2 in T2_US.values()),  # [rounds] 30, 90
    "round_budget": (2, 1),  # [rounds]
    "arrival_rate": (0.6, 1.2),  # [requests/round]
    "zipf_exponent": (1.0, 1.4),
}
HEADROOM = 0.10  # the clairvoyant bound's least lead over the best heuristic, a share of its reward
EXPIRED_SHARE = 0.25  # the least share of stored ebits that expire unused
CAPACITY_RELAXATION = "single-request DP, S unlimited"
CHARGED_PREFETCH = "free-prefetch, charged"


def candidates() -> list[HubConfig]:
    """The grid, in the order of preference: the committed preset with ``GRID``'s fields set."""
    base = HubConfig.preset("decoherence")
    return [base.replace(**dict(zip(GRID, values, strict=True))) for values in itertools.product(*GRID.values())]


def heuristics() -> list[str]:
    """The registered handcrafted policies (every policy but ``random``)."""
    return [name for name in POLICIES if name != "random"]


def _row(name: str, kind: str, reward: np.ndarray, totals: dict[str, np.ndarray], f0: float) -> dict[str, Any]:
    """One policy's line: its mean reward with a CI, and its per-episode means."""
    mean, lo, hi = sample_interval(reward)
    cached, expired = float(totals["cached"].sum()), float(totals["expired"].sum())
    hits = float(totals["cache_hits"].sum())
    lost = float((f0 * totals["served"] - totals["fidelity_sum"]).sum())  # fresh ebits serve at F0
    return {
        "policy": name, "kind": kind, "reward": mean, "reward_lo": lo, "reward_hi": hi,
        "served": float(totals["served"].mean()), "failed": float(totals["failed"].mean()),
        "attempts": float(totals["attempts"].mean()), "prefetch_attempts": float(totals["prefetch_attempts"].mean()),
        "cache_hits": float(totals["cache_hits"].mean()), "cached": float(totals["cached"].mean()),
        "expired_share": expired / cached if cached else 0.0,
        "hit_fidelity_loss": lost / hits if hits else 0.0,
        "_reward": reward,
    }


def assess(config: HubConfig, episodes: int, seed: int, bar: Any) -> list[dict[str, Any]]:
    """Every heuristic, the capacity relaxation and both bounds on ``episodes`` episodes of
    ``config``, paired with the best heuristic; the rows of one candidate."""
    rows = []
    for name in heuristics():
        played = run_episodes(config, make_policy(name, config), episodes, seed)
        rows.append(_row(name, "heuristic", played.returns, played.counters, config.f0))
        bar.update(1)
    unlimited = config.replace(max_attempts_per_round=None)
    played = run_episodes(unlimited, SingleRequestDPPolicy(unlimited), episodes, seed)
    rows.append(_row(CAPACITY_RELAXATION, "relaxation", played.returns, played.counters, config.f0))
    bar.update(1)
    for name in BOUNDS:
        totals = play_bound(name, config, seed, episodes)
        rows.append(_row(name, "bound", totals["reward"], totals, config.f0))
        if name == "free-prefetch":  # the same play, every attempt charged: a real (greedy) policy
            rows.append(_row(CHARGED_PREFETCH, "policy", totals["reward_at_cost"], totals, config.f0))
        bar.update(1)
    best = max((row for row in rows if row["kind"] == "heuristic"), key=lambda row: row["reward"])
    for row in rows:
        mean, lo, hi = sample_interval(row["_reward"] - best["_reward"])
        scale = abs(best["reward"])
        row.update(best_heuristic=best["policy"], diff=mean, diff_lo=lo, diff_hi=hi,
                   diff_pct=100 * mean / scale, diff_pct_lo=100 * lo / scale, diff_pct_hi=100 * hi / scale)
    return rows


def verdict(rows: list[dict[str, Any]]) -> tuple[bool, str]:
    """Whether a candidate qualifies under the rule, and why (or why not)."""
    by_name = {row["policy"]: row for row in rows}
    best, bound = by_name[rows[0]["best_heuristic"]], by_name["clairvoyant"]
    reasons = []
    headroom = bound["diff_pct_lo"] >= 100 * HEADROOM
    reasons.append(f"clairvoyant {bound['diff_pct']:+.1f}% [{bound['diff_pct_lo']:+.1f}, {bound['diff_pct_hi']:+.1f}]"
                   f" {'>=' if headroom else '<'} {100 * HEADROOM:.0f}%")
    expired = min(best["expired_share"], bound["expired_share"])
    binding = expired >= EXPIRED_SHARE
    reasons.append(f"expired {best['expired_share']:.0%} (best), {bound['expired_share']:.0%} (clairvoyant) "
                   f"{'>=' if binding else '<'} {EXPIRED_SHARE:.0%}")
    return headroom and binding, "; ".join(reasons)


def design(configs: list[HubConfig], episodes: int, seed: int, show_progress: bool) -> list[dict[str, Any]]:
    """Assess every candidate; rows with the candidate's fields, verdict and the choice."""
    preset = HubConfig.preset("decoherence")
    units = len(heuristics()) + 1 + len(BOUNDS)
    rows, chosen = [], None
    with progress_bar(total=len(configs) * units, desc="policies", enabled=show_progress) as bar:
        for index, config in enumerate(configs):
            assessed = assess(config, episodes, seed, bar)
            qualifies, why = verdict(assessed)
            if qualifies and chosen is None:
                chosen = index
            fields = {name: getattr(config, name) for name in GRID}
            for row in assessed:
                row.update(candidate=index, storage_limit=config.storage_limit, qualifies=qualifies, why=why,
                           is_preset=config == preset, **fields)
            rows += assessed
    for row in rows:
        row["chosen"] = row["candidate"] == chosen
    return rows


COLUMNS = ["candidate", *GRID, "storage_limit", "policy", "kind", "reward", "reward_lo", "reward_hi",
           "best_heuristic", "diff", "diff_lo", "diff_hi", "diff_pct", "diff_pct_lo", "diff_pct_hi", "served",
           "failed", "attempts", "prefetch_attempts", "cache_hits", "cached", "expired_share",
           "hit_fidelity_loss", "qualifies", "chosen", "is_preset", "why"]


def format_report(rows: list[dict[str, Any]], episodes: int, seed: int, seconds: float) -> str:
    """The Markdown report: the rule, every candidate's verdict, the chosen one's table."""
    preset = HubConfig.preset("decoherence")
    lines = [
        "# Choosing the decoherence preset", "",
        f"`python -m train.decoherence_design --episodes {episodes} --seed {seed}` ({seconds / 60:.1f} min on "
        f"two cores). "
        f"{episodes} episodes per policy, the same seeds for all (seeds {seed}+); CIs are 95%, differences "
        "paired per episode against the candidate's best heuristic.", "",
        "**Rule** (fixed before any agent was trained on the preset; `docs/model.md#decoherence-design`): a "
        f"candidate qualifies when the clairvoyant bound leads the best heuristic by at least {HEADROOM:.0%} "
        f"(lower end of the paired CI) and at least {EXPIRED_SHARE:.0%} of the ebits stored under the best "
        "heuristic and under the clairvoyant bound expire unused; the preset is the first qualifying "
        "candidate in the order below.", "",
        f"**Memory**: rounds of {ROUND_US:g} us (the heralding round trip over a 2 km spoke); Hahn-echo "
        + ", ".join(f"T2 = {t2:g} us ({name})" for name, t2 in T2_US.items())
        + ", so `T_coh` = " + " and ".join(f"{t2 / ROUND_US:g}" for t2 in T2_US.values())
        + f" rounds; with `F0 = {preset.f0:g}`, `F_min = {preset.f_min:g}` an ebit serves for "
        f"`floor(T_coh ln((F0 - 1/4) / (F_min - 1/4)))` rounds (`storage`).", "",
        "| # | T_coh | R | rate | Zipf | storage [rounds] | best heuristic | reward | clairvoyant | free prefetch "
        "| expired (best, clairvoyant) | qualifies |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    by_candidate: dict[int, dict[str, dict[str, Any]]] = {}
    for row in rows:
        by_candidate.setdefault(row["candidate"], {})[row["policy"]] = row
    for index, named in by_candidate.items():
        any_row = next(iter(named.values()))
        best = named[any_row["best_heuristic"]]
        clair, free = named["clairvoyant"], named["free-prefetch"]
        mark = " **chosen**" if any_row["chosen"] else ""
        lines.append(
            f"| {index} | {any_row['t_coh']:g} | {any_row['round_budget']} | {any_row['arrival_rate']:g} | "
            f"{any_row['zipf_exponent']:g} | {any_row['storage_limit']:g} | {best['policy']} | {best['reward']:.1f} | "
            f"{clair['diff_pct']:+.1f}% [{clair['diff_pct_lo']:+.1f}, {clair['diff_pct_hi']:+.1f}] | "
            f"{free['diff_pct']:+.1f}% | {best['expired_share']:.0%}, {clair['expired_share']:.0%} | "
            f"{'yes' if any_row['qualifies'] else 'no'}{mark} |"
        )
    chosen = [named for named in by_candidate.values() if next(iter(named.values()))["chosen"]]
    lines.append("")
    if not chosen:
        lines.append("**No candidate qualifies.**")
        return "\n".join(lines)
    named = chosen[0]
    first = next(iter(named.values()))
    same = "it is" if first["is_preset"] else "it is NOT (update `modenhub_env/config.py`)"
    lines += [
        f"## The chosen candidate ({first['candidate']}), the committed `decoherence` preset: {same}", "",
        "Mean episode reward; `lead` is the paired per-episode difference to the best heuristic "
        f"({first['best_heuristic']}). Free prefetch's reward leaves its prefetch attempts uncharged.", "",
        "| policy | kind | reward | lead | lead [%] | failed | attempts | prefetch attempts | cache hits "
        "| stored ebits expired | fidelity lost per hit |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for row in named.values():
        lines.append(
            f"| {row['policy']} | {row['kind']} | {row['reward']:.1f} [{row['reward_lo']:.1f}, {row['reward_hi']:.1f}] | "
            f"{row['diff']:+.1f} [{row['diff_lo']:+.1f}, {row['diff_hi']:+.1f}] | {row['diff_pct']:+.1f} | "
            f"{row['failed']:.1f} | {row['attempts']:.0f} | {row['prefetch_attempts']:.0f} | {row['cache_hits']:.1f} | "
            f"{row['expired_share']:.0%} | {row['hit_fidelity_loss']:.3f} |"
        )
    lines += ["", f"Why: {first['why']}."]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m train.decoherence_design", description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="The rule and the candidates are in the module docstring and docs/model.md#decoherence-design.",
    )
    parser.add_argument("--episodes", type=int, default=200, help="episodes per policy and candidate (default 200)")
    parser.add_argument("--seed", type=int, default=20_000,
                        help="seed of the episodes (default 20000: never used to train or select an agent)")
    parser.add_argument("--out", type=Path, default=None,
                        help="folder for decoherence_design.{csv,md} (default: a fresh runs/ folder; "
                        "--out results regenerates the committed ones)")
    parser.add_argument("--quick", action="store_true", help="a smoke run: 2 candidates, 8 episodes of 32 rounds")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    args = parser.parse_args(argv)
    if args.episodes < 2:
        parser.error(f"--episodes must be at least 2 (for a CI), got {args.episodes}")
    out = output_folder(args.out, "decoherence-design")
    configs = candidates()
    if args.quick:
        args.episodes, configs = 8, [config.replace(episode_rounds=32) for config in configs[:2]]
    started = time.monotonic()
    rows = design(configs, args.episodes, args.seed, not args.no_progress)
    seconds = time.monotonic() - started
    write_csv(out / "decoherence_design.csv", rows, COLUMNS)
    report = format_report(rows, args.episodes, args.seed, seconds)
    write_atomic(out / "decoherence_design.md", report + "\n")
    print(report)
    print(f"\nwrote {out / 'decoherence_design.csv'} and {out / 'decoherence_design.md'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
