"""The command line of the benchmarks: ``python -m train.bench`` and ``modenhub bench``."""

from __future__ import annotations

import argparse
import os
import sys
import time
from typing import Any

from train.bench.hotspots import Profile
from train.bench.measure import warm_up
from train.bench.plan import COLUMNS, SECTIONS, make_plan
from train.bench.report import git_state, machine, print_targets, report
from train.bench.sections import (
    Task,
    compile_tasks,
    env_tasks,
    mainjob_tasks,
    memory_tasks,
    montecarlo_tasks,
    ppo_tasks,
    profile_tasks,
    scaling_tasks,
)
from train.files import write_atomic, write_csv
from train.options import add_out_option, int_list, positive_float, positive_int
from train.progress import progress_bar


def _sections(text: str) -> tuple[str, ...]:
    chosen = tuple(part.strip() for part in text.split(",") if part.strip())
    unknown = [s for s in chosen if s not in SECTIONS]
    if unknown or not chosen:
        raise argparse.ArgumentTypeError(f"sections must be among {', '.join(SECTIONS)}; got {text!r}")
    return chosen


DESCRIPTION = (
    "Benchmark the ModEn-Hub env on this machine: single env, native vector env (on 1 and 2 core "
    "threads) and SB3 VecEnvs against Gymnasium's CartPole-v1, the fused Monte Carlo's cost per link "
    "attempt, PPO training fps against a zero-cost env, the main job (modenhub reproduce) and the first "
    "step of each face cold (empty numba cache) and warm, memory per env, and cost scaling in N and "
    "request slots. Writes OUT/benchmarks.csv and OUT/benchmarks.md (atomically) and prints the issue's "
    "targets with PASS/FAIL. The full run takes about 15 minutes; --quick about 5 (the cold runs "
    "compile every kernel)."
)
EPILOG = (
    f"sections: {', '.join(SECTIONS)}. Speeds on a shared machine are noisy: compare ratios "
    "within one report."
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m train.bench", description=DESCRIPTION, epilog=EPILOG)
    _add_arguments(parser)
    return parser


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register ``bench`` on the ``modenhub`` subcommands."""
    parser = subparsers.add_parser(
        "bench", help="benchmark the env against CartPole, the Monte Carlo and PPO (writes results/benchmarks.*)",
        description=DESCRIPTION, epilog=EPILOG,
    )
    _add_arguments(parser)
    parser.set_defaults(func=lambda ns: run(ns, ["bench", *sys.argv[2:]]))
    return parser


def _add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--quick", action="store_true",
                        help="a small fast subset (N=16, B=1 and 1024, short budgets, 1 repeat, a main job of "
                        "--qpus 1,128 --trials 500) that finishes in about 5 minutes, most of it the cold "
                        "compiles; explicit options below still override it")
    add_out_option(parser, "bench")
    parser.add_argument("--only", type=_sections, default=None, metavar="SECTIONS",
                        help="comma-separated sections to run (default all): single (gym.make env vs "
                        "CartPole's, interleaved), vector (native vector env over presets x N x B vs CartPole's; "
                        "the targets' N=16, B=1024 on 1 and 2 threads, interleaved), sb3 (DummyVecEnv of single "
                        "envs and ModEnHubVecEnv vs CartPole's DummyVecEnv), montecarlo (ns per link attempt of "
                        "reproduce.measure on 1 and 2 threads and of the naive loop), ppo (PPO fps vs a "
                        "zero-cost VecEnv), mainjob (modenhub reproduce in a subprocess, cold and warm numba "
                        "cache), compile (import and first step of each face, cold and warm), memory (bytes "
                        "per env at N=16,128,1024, B=1024), scaling (cost per env-step vs N and request slots), "
                        "profile (cProfile hotspots of the Python around the kernels, in the report)")
    parser.add_argument("--seconds", type=positive_float, default=None,
                        help="time budget of one measurement in seconds, split over the repeats "
                        "(default 8, quick 0.5); also the profile length per case")
    parser.add_argument("--repeats", type=positive_int, default=None,
                        help="timed runs per measurement, median reported (default 3, quick 1)")
    parser.add_argument("--max-calls", type=positive_int, default=100_000,
                        help="step() calls of one timed run at most, whichever of this and the time budget "
                        "comes first (default 100000)")
    parser.add_argument("--max-mem-gib", type=positive_float, default=4.0,
                        help="skip (with a note) a config whose estimated peak memory exceeds this (default 4)")
    parser.add_argument("--qpus", type=int_list, default=None,
                        help="comma-separated N of the single/vector env grids and the scaling sweep "
                        "(default 8,16,128,1024 and 8,32,128,512,1024; quick 16 and 8,128)")
    parser.add_argument("--batches", type=int_list, default=None,
                        help="comma-separated batch sizes B of the vector env grid (default 1,64,1024,4096; "
                        "quick 1,1024); the scaling sweep uses the largest up to 1024")
    parser.add_argument("--slots", type=int_list, default=None,
                        help="comma-separated request slots K of the scaling sweep (default 4,16,64; quick 4,16)")
    parser.add_argument("--trials", type=positive_int, default=None,
                        help="requests of the first Monte Carlo point (default 2500 as the paper; quick 500); "
                        "the second point has 16 times as many")
    parser.add_argument("--ppo-steps", type=positive_int, default=None,
                        help="env-steps of one PPO learn() call (default 8192 with 16 envs; quick 512 with 8); "
                        "rounded up to whole rollouts")
    parser.add_argument("--seed", type=int, default=0, help="seed of the envs and of the action pools (default 0)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    run(build_parser().parse_args(argv), argv)


def run(args: argparse.Namespace, argv: list[str]) -> None:
    """The benchmark the parsed options describe; ``argv`` is recorded in the report."""
    from train.runs import output_folder

    plan = make_plan(args)
    args.out = output_folder(args.out, "bench")  # checked writable before any work
    started, load = time.perf_counter(), os.getloadavg()
    if {"sb3", "ppo"} & set(plan.sections):
        import modenhub_env.sb3  # noqa: F401  (imports SB3 and torch outside the measurements)
    warm_up()
    info, commit = machine(), git_state()
    profiles: list[Profile] = []
    tasks: list[Task] = env_tasks(plan)
    more = {"montecarlo": montecarlo_tasks, "ppo": ppo_tasks, "mainjob": mainjob_tasks, "compile": compile_tasks,
            "memory": memory_tasks, "scaling": scaling_tasks}
    for section in SECTIONS:
        if section in more and section in plan.sections:
            tasks += more[section](plan)
    if "profile" in plan.sections:
        tasks += profile_tasks(plan, profiles)

    csv_path, md_path = args.out / "benchmarks.csv", args.out / "benchmarks.md"
    rows: list[dict] = []
    with progress_bar(total=len(tasks), desc="benchmarks", enabled=not args.quiet) as bar:
        for label, work in tasks:
            bar.set_postfix_str(label)
            rows += work()
            write_csv(csv_path, rows, COLUMNS)
            bar.update(1)
    write_csv(csv_path, rows, COLUMNS)
    write_atomic(md_path, report(rows, profiles, info, started, argv, load, commit))
    print_targets(rows)
    print(f"\nwrote {csv_path} and {md_path}")
