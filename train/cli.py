"""The ``modenhub`` command: ``reproduce``, ``evaluate``, ``train``, ``compare``, ``convert``, ``sweep``,
``bench``, ``circuits``, ``render`` (``modenhub CMD --help``).

An ordinary mistake (a bad path or value, an existing run folder, a missing extra) ends
the command with one line ``error: ...`` on stderr and exit code 1; ``--debug`` shows
the traceback instead.
"""

from __future__ import annotations

import argparse
import sys
import warnings

from train.options import (
    add_config_options,
    add_out_option,
    add_trust_pickle_option,
    config_from,
    int_list,
    positive_int,
)
from train.summaries import evaluation_summary, reproduction_summary

#: Module that may be missing -> the extra that installs it.
EXTRAS = {
    "torch": "train", "stable_baselines3": "train", "sb3_contrib": "train", "safetensors": "train",
    "tensorboard": "train", "tqdm": "plots", "matplotlib": "plots", "ray": "ray", "yaml": "ray",
    "qiskit": "circuits", "qiskit_qasm3_import": "circuits", "networkx": "circuits",
}
EXIT_ERROR, EXIT_INTERRUPTED = 1, 130


def _reproduce(args: argparse.Namespace) -> None:
    from train.reproduce import format_table, reproduce
    from train.runs import output_folder

    if args.resume and args.out is None:
        raise ValueError("--resume needs --out FOLDER, the folder of the interrupted run")
    if "n_qpus" in dict(args.overrides):
        raise ValueError("--set n_qpus: reproduce runs every N of --qpus; give the numbers of QPUs with --qpus")
    base = config_from(args)
    if args.preset != "paper" or args.overrides:
        print(f"note: not the paper preset as published here ({args.preset}, {dict(args.overrides)})", file=sys.stderr)
    out = output_folder(args.out, "reproduce")
    rows = reproduce(base, args.qpus, args.trials, args.seed, out, args.resume, not args.quiet)
    print(format_table(rows))
    print(f"\n{reproduction_summary(rows, args.preset == 'paper' and not args.overrides)}")
    print(f"wrote {out / 'paper_reproduction.csv'} and {out / 'paper_reproduction.png'}")


def _evaluate(args: argparse.Namespace) -> None:
    from train.evaluate import evaluate, format_table
    from train.runs import output_folder

    config = config_from(args)
    policies = [p.strip() for p in args.policies.split(",") if p.strip()]
    if not policies:
        raise ValueError("--policies names no policy; give e.g. sequential,log-parallel,deadline")
    tag = args.tag or args.preset
    out = output_folder(args.out, "evaluate")
    rows = evaluate(config, policies, args.episodes, args.seed, out, tag, not args.quiet, args.trust_pickle)
    print(format_table(rows, tag))
    print(f"\n{evaluation_summary(rows)}")
    print(f"wrote {out}/evaluation_{tag}.csv, .md and .png")


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
    add_out_option(rep, "reproduce", "the committed table")
    rep.add_argument("--resume", action="store_true",
                     help="keep the rows of an interrupted run with the same settings in --out and compute only "
                     "the rest")
    rep.add_argument("--quiet", action="store_true", help="no progress bar")
    rep.set_defaults(func=_reproduce)

    ev = sub.add_parser(
        "evaluate", help="score policies on a scenario with 95%% CIs",
        description="Run each policy on the same seeds and report success rate, attempts per request, "
        "wasted ebits, delivered fidelity, latency p50/p95 and episode reward with 95% CIs, and each policy's "
        "episode reward minus the best heuristic's, paired over the same episodes, with a 95% t-interval and "
        "a verdict (better, worse, or tie when the interval contains 0). Writes OUT/evaluation_TAG.csv, .md "
        "and .png.",
    )
    add_config_options(ev, "contention")
    ev.add_argument("--policies", default="sequential,log-parallel,deadline",
                    help="comma-separated policy names (sequential, log-parallel, deadline, random, "
                    "single-request-dp; dp-optimal is its former name) or paths to trained model files "
                    "(model.safetensors); every policy plays the same episodes, and each is compared, paired "
                    "episode by episode, with the best heuristic among them")
    ev.add_argument("--episodes", type=positive_int, default=20, help="episodes per policy (default 20)")
    ev.add_argument("--seed", type=int, default=10_000,
                    help="base seed (default 10000); episode i is seeded by a hash of (seed, i), the same for every "
                    "policy; it is an error if one of them trained or selected a model of --policies (the seeds "
                    "of the config.json beside it)")
    add_out_option(ev, "evaluate")
    add_trust_pickle_option(ev, "SB3 .zip models in --policies")
    ev.add_argument("--tag", default=None, help="name of the output files (default: the preset)")
    ev.add_argument("--quiet", action="store_true", help="no progress bar")
    ev.set_defaults(func=_evaluate)

    from train import animate, bench, circuits, compare, convert, sweep, training

    training.add_parser(sub)
    compare.add_parser(sub)
    convert.add_parser(sub)
    sweep.add_parser(sub)
    bench.add_parser(sub)
    circuits.add_parser(sub)
    debug_help = "show the full traceback of an error (default: one line)"
    parser.add_argument("--debug", action="store_true", help=debug_help)
    for subparser in sub.choices.values():  # also accepted after the subcommand
        subparser.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help=debug_help)
    animate.add_parser(sub)
    return parser


def describe(err: BaseException, command: str) -> str:
    """One line for an error of ``modenhub COMMAND``: the missing extra with its install
    line, or the error's own message."""
    if isinstance(err, ModuleNotFoundError) and (err.name or "").split(".")[0] in EXTRAS:
        extra = EXTRAS[(err.name or "").split(".")[0]]
        return (f"`modenhub {command}` needs the '{extra}' extra ({err.name} is not installed): "
                f"pip install -c constraints/cpu.txt -e '.[{extra}]'")
    text = " ".join(str(err).split()) or type(err).__name__
    if isinstance(err, (ValueError, OSError, ImportError)):
        return text
    return f"{type(err).__name__}: {text} (unexpected; rerun with --debug for the traceback)"


def main(argv: list[str] | None = None) -> None:
    """Run ``modenhub``; errors end it with one line on stderr and exit code 1. A former
    policy name (``agents.registry.DEPRECATED_NAMES``) still works, with a warning on stderr."""
    # Python hides DeprecationWarnings outside __main__; a command's user should see this one.
    warnings.filterwarnings("default", message=r"policy name '.*' is deprecated", category=DeprecationWarning)
    args = build_parser().parse_args(argv)
    try:
        args.func(args)
    except KeyboardInterrupt:
        if args.debug:
            raise
        print("interrupted", file=sys.stderr)
        raise SystemExit(EXIT_INTERRUPTED) from None
    except Exception as err:
        if args.debug:
            raise
        print(f"error: {describe(err, args.command)}", file=sys.stderr)
        raise SystemExit(EXIT_ERROR) from None


if __name__ == "__main__":
    main()
