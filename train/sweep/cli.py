"""The ``sweep`` subcommand: its options, merged over the sweep file's keys, and the run
(or ``--dry-run`` listing) they describe."""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path
from typing import Any

from train.sweep.report import format_summary
from train.sweep.runner import SweepOutcome, finished_points, require_ray, run_sweep
from train.sweep.spec import (
    CONFIG_PREFIX,
    SweepError,
    SweepSpec,
    grid_points,
    group_label,
    load_sweep_file,
    validate_spec,
)

DESCRIPTION = """\
Run every grid point (seeds x presets x algorithms x hyperparameters) as one
`modenhub train` run in a Ray Tune trial, on this machine or on a Ray cluster
(--address), and compare the learned policies with the heuristics over seeds.
Flags override the sweep file's keys."""
EPILOG = """\
sweep file (YAML), every key optional:
  name: my-sweep                 # folder OUT/NAME (default: the file name)
  out: results/sweeps            # parent folder
  presets: [contention, hotspot] # scenarios
  algos: [maskable-ppo, ppo]     # ppo, maskable-ppo, a2c
  seeds: [0, 1, 2]               # training seeds
  timesteps: 200000              # env steps per run
  set: {w_attempt: 0.02}         # HubConfig fields for every run
  train: {n_envs: 16}            # modenhub train options for every run
  grid:                          # swept (cartesian product)
    learning_rate: [3.0e-4, 1.0e-3]
    set.t_coh: [8.0, .inf]
  cpus_per_trial: 1
  max_concurrent: null
  retries: 1

Run it again to resume: finished points are skipped, interrupted ones continue from
their last checkpoint. Results: OUT/NAME/{trials.csv,summary.csv,summary.md,summary.png}.
Needs Ray: pip install 'modenhub[ray]'. On a cluster: `ray start --head` on one node,
`ray start --address=HEAD:6379` on the others, then `modenhub sweep FILE --address auto`
(OUT on a folder every node sees, e.g. NFS).
"""


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register ``sweep`` on the ``modenhub`` subcommands."""
    parser = subparsers.add_parser(
        "sweep", help="a grid of training runs on Ray Tune (local or cluster, resumable)", description=DESCRIPTION,
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _add_arguments(parser)
    parser.set_defaults(func=run_from_namespace)
    return parser


def _add_arguments(parser: argparse.ArgumentParser) -> None:
    from modenhub_env.config import PRESETS, field_names
    from train import training
    from train.options import int_list, parse_override, positive_int

    parser.add_argument("sweep_file", nargs="?", type=Path, default=None, metavar="SWEEP_FILE",
                        help="YAML sweep file (schema below); optional when the flags say it all")
    parser.add_argument("--name", default=None, help="sweep folder name (default: the file name)")
    parser.add_argument("--out", default=None, help="parent of the sweep folder (default results/sweeps)")
    parser.add_argument("--presets", type=_word_list, default=None,
                        help=f"comma-separated presets, of {', '.join(sorted(PRESETS))} (default contention)")
    parser.add_argument("--algos", type=_word_list, default=None,
                        help=f"comma-separated algorithms, of {', '.join(training.ALGOS)} (default maskable-ppo)")
    parser.add_argument("--seeds", type=int_list, default=None, help="comma-separated training seeds")
    parser.add_argument("--timesteps", type=positive_int, default=None, help="env steps per run")
    parser.add_argument("--set", dest="overrides", metavar="FIELD=VALUE", action="append", type=parse_override,
                        default=[], help="HubConfig field for every run, repeatable; fields: " + ", ".join(field_names()))
    parser.add_argument("--train", dest="train_options", metavar="OPTION=VALUE", action="append",
                        type=_option_value, default=[], help="training option for every run, repeatable "
                        "(e.g. --train n_envs=8)")
    parser.add_argument("--grid", metavar="KEY=V1,V2", action="append", type=_grid_values, default=[],
                        help="swept values, repeatable: a training option (--grid learning_rate=3e-4,1e-3) or "
                        "set.FIELD (--grid set.t_coh=8,inf)")
    parser.add_argument("--cpus-per-trial", type=float, default=None, help="Ray CPUs per trial (default 1)")
    parser.add_argument("--max-concurrent", type=positive_int, default=None, help="most trials at once")
    parser.add_argument("--retries", type=int, default=None, help="retries of a failed trial (default 1)")
    parser.add_argument("--address", default=None,
                        help="Ray cluster to join (auto, or HEAD_IP:6379); default: start Ray on this machine")
    parser.add_argument("--num-cpus", type=positive_int, default=None,
                        help="CPUs of the local Ray instance (default: all cores)")
    parser.add_argument("--dry-run", action="store_true", help="validate and list the grid points; run nothing")
    parser.add_argument("--quiet", action="store_true", help="no Tune status output")


def _word_list(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


def _value(text: str) -> Any:
    """A command-line value: JSON (numbers, true/false, lists), ``inf``, ``none``, or a string."""
    lowered = text.strip().lower()
    if lowered in ("inf", "infinity"):
        return math.inf
    if lowered in ("none", "null"):
        return None
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text.strip()


def _option_value(text: str) -> tuple[str, Any]:
    if "=" not in text:
        raise argparse.ArgumentTypeError(f"expected OPTION=VALUE, got {text!r}")
    key, raw = text.split("=", 1)
    return key.strip().replace("-", "_"), _value(raw)


def _grid_values(text: str) -> tuple[str, list[Any]]:
    if "=" not in text:
        raise argparse.ArgumentTypeError(f"expected KEY=V1,V2,..., got {text!r}")
    key, raw = text.split("=", 1)
    key = key.strip()
    if not key.startswith(CONFIG_PREFIX):
        key = key.replace("-", "_")
    return key, [_value(part) for part in raw.split(",") if part.strip()]


def spec_from_namespace(ns: argparse.Namespace) -> SweepSpec:
    """The sweep file's keys with the flags' values on top, validated."""
    raw: dict[str, Any] = {}
    source, default_name = "command line", None
    if ns.sweep_file is not None:
        raw = load_sweep_file(ns.sweep_file)
        source, default_name = str(ns.sweep_file), ns.sweep_file.stem
    for key, value in (("name", ns.name), ("out", ns.out), ("presets", ns.presets), ("algos", ns.algos),
                       ("seeds", None if ns.seeds is None else list(ns.seeds)), ("timesteps", ns.timesteps),
                       ("cpus_per_trial", ns.cpus_per_trial), ("max_concurrent", ns.max_concurrent),
                       ("retries", ns.retries)):
        if value is not None:
            raw[key] = value
    for section, pairs in (("set", ns.overrides), ("train", ns.train_options), ("grid", ns.grid)):
        if pairs:
            base = raw.get(section, {})
            raw[section] = {**(base if isinstance(base, dict) else {}), **dict(pairs)}
    if default_name is None:
        presets, algos = raw.get("presets", ["contention"]), raw.get("algos", ["maskable-ppo"])
        default_name = "__".join(["-".join(map(str, presets)), "-".join(map(str, algos))]) if isinstance(
            presets, list) and isinstance(algos, list) else "sweep"
    return validate_spec(raw, source, default_name)


def run_from_namespace(ns: argparse.Namespace) -> SweepOutcome | None:
    """Validate, then run (or with ``--dry-run`` list) the sweep the options describe."""
    try:
        spec = spec_from_namespace(ns)
    except SweepError as err:
        raise SystemExit(f"error: {err}") from None
    points = grid_points(spec)
    if ns.dry_run:
        done = finished_points(spec.folder.resolve(), points)
        print(f"sweep {spec.name}: {len(points)} runs in {spec.folder} ({len(done)} finished)")
        for point in points:
            print(f"  {'done' if point['run'] in done else 'todo'}  {point['run']}  {group_label(point)}")
        return None
    require_ray()
    if ns.address is not None and ns.num_cpus is not None:
        raise SystemExit("error: --num-cpus applies to a local Ray instance; a cluster's CPUs are set by `ray start`")
    try:
        outcome = run_sweep(spec, address=ns.address, num_cpus=ns.num_cpus, verbose=0 if ns.quiet else 1)
    except ConnectionError as err:
        raise SystemExit(f"error: cannot reach the Ray cluster at {ns.address}: {err}\nStart one with "
                         "`ray start --head` (and `ray start --address=HEAD_IP:6379` on the other nodes), "
                         "or leave out --address to run on this machine.") from None
    print(format_summary(spec, outcome.rows, len(points), len(outcome.ran) + len(outcome.skipped)))
    print(f"\nran {len(outcome.ran)}, skipped {len(outcome.skipped)} finished before; wrote "
          f"{outcome.folder}/trials.csv, summary.csv, summary.md" + (", summary.png" if outcome.rows else ""))
    for run, error in outcome.failed.items():
        print(f"failed: {run}: {error.strip().splitlines()[-1] if error.strip() else error}", file=sys.stderr)
    if outcome.failed or outcome.interrupted:
        raise SystemExit(f"error: {len(outcome.failed)} runs failed and {len(outcome.interrupted)} were interrupted; "
                         "run the same command again to finish them (finished runs are kept, unfinished ones "
                         "continue from their last checkpoint)")
    return outcome


def main(argv: list[str] | None = None) -> SweepOutcome | None:
    """``python -m train.sweep ...``: the ``sweep`` subcommand on its own."""
    parser = argparse.ArgumentParser(
        prog="modenhub sweep", description=DESCRIPTION, epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _add_arguments(parser)
    return run_from_namespace(parser.parse_args(argv))
