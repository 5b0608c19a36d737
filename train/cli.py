"""The ``modenhub`` command: ``reproduce``, ``evaluate``, ``train``, ``compare``, ``sweep``, ``bench``,
``render`` (``modenhub CMD --help``)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from train.options import add_config_options, config_from, int_list, positive_int


def _reproduce(args: argparse.Namespace) -> None:
    from train.reproduce import format_table, reproduce

    base = config_from(args)
    if args.preset != "paper" or args.overrides:
        print(f"note: not the paper preset as published here ({args.preset}, {dict(args.overrides)})", file=sys.stderr)
    try:
        rows = reproduce(base, args.qpus, args.trials, args.seed, args.out, args.resume, not args.quiet)
    except ValueError as err:
        raise SystemExit(f"error: {err}") from None
    from train.summaries import reproduction_summary

    print(format_table(rows))
    print(f"\n{reproduction_summary(rows, args.preset == 'paper' and not args.overrides)}")
    print(f"wrote {args.out / 'paper_reproduction.csv'} and {args.out / 'paper_reproduction.png'}")


def _evaluate(args: argparse.Namespace) -> None:
    from train.evaluate import evaluate, format_table

    config = config_from(args)
    policies = [p.strip() for p in args.policies.split(",") if p.strip()]
    if not policies:
        raise SystemExit("error: --policies names no policy; give e.g. sequential,log-parallel,deadline")
    tag = args.tag or args.preset
    try:
        rows = evaluate(config, policies, args.episodes, args.seed, args.out, tag, not args.quiet)
    except ValueError as err:
        raise SystemExit(f"error: {err}") from None
    from train.summaries import evaluation_summary

    print(format_table(rows, tag))
    print(f"\n{evaluation_summary(rows)}")
    print(f"wrote {args.out}/evaluation_{tag}.csv, .md and .png")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="modenhub",
        description="ModEn-Hub: simulate an entanglement hub, reproduce the paper, evaluate schedulers.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    rep = sub.add_parser(
        "reproduce", help="the paper's Monte Carlo: both heuristics, with and without cache, over N",
        description="Reproduce the paper's comparison of the sequential baseline and the log-parallel "
        "orchestrator on the paper preset (a reconstruction calibrated to the paper's headline results). "
        "Writes OUT/paper_reproduction.csv and .png and prints the table.",
    )
    add_config_options(rep, "paper")
    rep.add_argument("--trials", type=positive_int, default=2500,
                     help="requests per point (default 2500, as the paper); episodes of the preset's "
                     "episode_requests run in parallel")
    rep.add_argument("--qpus", type=int_list, default=(1, 2, 4, 8, 16, 32, 64, 128),
                     help="comma-separated N values (default 1,2,4,...,128)")
    rep.add_argument("--seed", type=int, default=0, help="base seed; the same seed gives the same table")
    rep.add_argument("--out", type=Path, default=Path("results"), help="output folder (default results/)")
    rep.add_argument("--resume", action="store_true",
                     help="keep the rows of an interrupted run with the same settings and compute only the rest")
    rep.add_argument("--quiet", action="store_true", help="no progress bar")
    rep.set_defaults(func=_reproduce)

    ev = sub.add_parser(
        "evaluate", help="score policies on a scenario with 95%% CIs",
        description="Run each policy on the same seeds and report success rate, attempts per request, "
        "wasted ebits, delivered fidelity, latency p50/p95 and episode reward with 95% CIs. Writes "
        "OUT/evaluation_TAG.csv, .md and .png.",
    )
    add_config_options(ev, "contention")
    ev.add_argument("--policies", default="sequential,log-parallel,deadline",
                    help="comma-separated policy names (sequential, log-parallel, deadline, random, "
                    "dp-optimal) or paths to trained model .zip files")
    ev.add_argument("--episodes", type=positive_int, default=20, help="episodes per policy (default 20)")
    ev.add_argument("--seed", type=int, default=10_000, help="base seed; episode i is seeded by a hash of (seed, i)")
    ev.add_argument("--out", type=Path, default=Path("results"), help="output folder (default results/)")
    ev.add_argument("--tag", default=None, help="name of the output files (default: the preset)")
    ev.add_argument("--quiet", action="store_true", help="no progress bar")
    ev.set_defaults(func=_evaluate)

    from train import animate, bench, compare, sweep, training

    training.add_parser(sub)
    compare.add_parser(sub)
    sweep.add_parser(sub)
    bench.add_parser(sub)
    animate.add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    args.func(args)


if __name__ == "__main__":
    main()
