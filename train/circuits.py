"""Distributed circuits on the hub (``modenhub circuits``): each circuit family at several
sizes on several numbers of QPUs, every policy on the same seeds.

For each circuit (a family at ``n`` qubits, placed on ``N`` QPUs by the min-cut
partitioner) and policy: the makespan [rounds] and its ratio to the circuit's lower bound
(``RequestDag.lower_bound``: the makespan if every ebit arrived at once), ebits heralded
and attempts per non-local gate, and the circuit's fidelity, the product over its
non-local gates of the teleported gate's fidelity ``(2F + 1) / 3``, as ``log10`` (local
gates taken as perfect), with Student t 95% CIs over the episodes; and the rounds each
policy saves against log-parallel, paired over the same seeds, with its t interval and
verdict (``better``: the interval lies above 0). Beside the lower bound, the capacity bound
(:func:`capacity_bound`): where the hub's capacity binds, no schedule comes near the
lower bound. Writes ``OUT/circuits.{csv,md,png}``.

The scenario (:func:`study_config`) is the paper preset's hardware with a hub of ``2 N``
attempts a round, 16 request slots, 4 prefetch slots, a cache of 32 ebits (2 per pair)
that decoheres (``T_coh`` 100 rounds, ``F_min`` 0.8) and an attempt cost of 0.01; any
field can be changed with ``--set``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from agents import make_policy
from agents.base import KernelPolicy
from modenhub_env import physics
from modenhub_env.circuits import RequestDag
from modenhub_env.circuits.sources import FAMILIES as GENERATORS
from modenhub_env.config import HubConfig
from modenhub_env.core import HubCore
from modenhub_env.interface import keys_for_seeds
from modenhub_env.observation import action_masks
from modenhub_env.state import HubState
from train import stats
from train.files import read_csv, save_figure, write_atomic, write_csv
from train.options import add_out_option, check_overrides_apply, int_list, parse_override, positive_int
from train.progress import progress_bar
from train.rollout import Asker, episode_seed

FAMILIES = ("qft", "ghz", "qaoa", "cuccaro", "quantum_volume")
QUBITS = (64, 128, 256)
QPUS = (4, 8, 16, 32)
POLICIES = ("log-parallel", "critical-path", "deadline")
#: The paired comparison's reference by default (``--reference``).
REFERENCE = "log-parallel"
#: ``--quick``: every family, small, for tests and a first look.
QUICK = {"qubits": (16,), "qpus": (4,), "episodes": 3}
#: [rounds] Episodes are truncated (a failure) after this many rounds.
EPISODE_ROUNDS = 1_000_000
#: Metric -> label, for the table and the plot.
METRICS = {
    "makespan": "makespan [rounds]",
    "ratio": "makespan / lower bound",
    "rounds_saved": "rounds saved against the reference, same seeds",
    "ebits_per_gate": "ebits per non-local gate",
    "attempts_per_gate": "attempts per non-local gate",
    "log10_fidelity": "circuit fidelity (log10)",
}
COLUMNS = ["family", "qubits", "n_qpus", "policy", "circuit", "gates", "lower_bound", "capacity_bound", "episodes",
           "completed"]
COLUMNS += [f"{key}{end}" for key in METRICS for end in ("", "_lo", "_hi")] + ["reference", "verdict", "settings"]


@dataclass(frozen=True)
class Cell:
    """One circuit of the study: a family at ``qubits`` qubits on ``n_qpus`` QPUs."""

    family: str
    qubits: int
    n_qpus: int

    def spec(self, circuit_seed: int) -> str:
        """The generator spec, seeded where the family draws at random."""
        seeded = self.family in ("qaoa", "quantum_volume")
        return f"{self.family}:{self.qubits}" + (f",seed={circuit_seed}" if seeded else "")


def study_config(spec: str, n_qpus: int, local_rounds: int = 0, overrides: dict[str, Any] | None = None) -> HubConfig:
    """The scenario of the study for one circuit: the paper preset's hardware at ``n_qpus``
    QPUs, a hub capacity of ``2 N`` attempts a round, 16 request slots (and queue), 4
    prefetch slots, a decohering cache of 32 ebits (2 per pair, ``T_coh`` 100 rounds,
    ``F_min`` 0.8), an attempt cost of 0.01, then ``overrides``."""
    config = HubConfig.preset(
        "paper", n_qpus=n_qpus, workload="circuit", circuit=spec, local_rounds=local_rounds,
        episode_rounds=EPISODE_ROUNDS, max_attempts_per_round=2 * n_qpus, queue_capacity=16, request_slots=16,
        prefetch_slots=4, cache_capacity=32, cache_per_pair=2, t_coh=100.0, f_min=0.8, w_attempt=0.01,
    )
    return config.replace(**overrides) if overrides else config


def capacity_bound(config: HubConfig, dag: RequestDag) -> float:
    """[rounds] A lower bound on the expected makespan from the hub's capacity: every gate
    needs a success, an attempt succeeds with probability at most ``p_max`` (the best pair
    among the gates'), and at most ``S`` attempts launch a round, so (Wald) the expected
    makespan is at least ``G / (S p_max)``; ``nan`` when ``S`` is unlimited, 0 without gates."""
    if config.max_attempts_per_round is None:
        return math.nan
    if dag.n_gates == 0:
        return 0.0
    p_max = float(np.max(config.p_pair(dag.pair_a, dag.pair_b)))
    return dag.n_gates / (config.max_attempts_per_round * p_max)


def circuit_fidelity_log10(ages: np.ndarray, served: np.ndarray, config: HubConfig) -> np.ndarray:
    """``log10`` of the product over each episode's served gates of ``(2 F + 1) / 3``,
    with ``F`` the Werner fidelity of an ebit of that age [rounds]; ``ages`` and
    ``served`` (B, G), a gate not served counts as fidelity 0 (``-inf``)."""
    fidelity = physics.werner_fidelity(ages, config.f0, config.t_coh)
    gate = np.where(served >= 0, physics.teleport_gate_fidelity(fidelity), 0.0)
    with np.errstate(divide="ignore"):
        return np.log10(gate).sum(axis=1)


def play_episodes(config: HubConfig, policy: Any, seeds: list[int]) -> dict[str, np.ndarray]:
    """One episode per seed, each ``(E,)``: ``rounds`` (the makespan when ``completed``),
    ``completed``, ``attempts``, ``ebits`` (heralded: those that served a gate fresh, were
    cached or were wasted) and ``log10_fidelity``. A compiled scheduler plays in one kernel
    call (the fused Monte Carlo); any other policy with SB3's ``predict`` (a learned one)
    is asked round by round, every episode at once, and each episode's numbers are read
    the round it ends."""
    core = HubCore(config, len(seeds))
    keys = keys_for_seeds(seeds, core.keys, None)
    if isinstance(policy, KernelPolicy):
        core.play(policy.params, keys)
        return _episode_numbers(core.snapshot(), core.dag.n_gates, config)
    core.reset(np.ones(len(seeds), dtype=bool), keys)
    ask = Asker(policy, len(seeds))
    ended = np.zeros(len(seeds), dtype=bool)
    numbers: dict[str, np.ndarray] = {}
    while not ended.all():
        step = core.step(ask(core.obs.copy(), lambda: action_masks(core)))
        ask.ended(step.terminated | step.truncated)
        now = (step.terminated | step.truncated) & ~ended
        if now.any():  # later rounds would step the ended episodes on: read them now
            latest = _episode_numbers(core.snapshot(), core.dag.n_gates, config)
            for key, values in latest.items():
                numbers.setdefault(key, np.zeros_like(values))[now] = values[now]
            ended |= now
    return numbers


def _episode_numbers(state: HubState, gates: int, config: HubConfig) -> dict[str, np.ndarray]:
    """:func:`play_episodes`' numbers of the episodes in ``state``."""
    totals = state.totals
    return {
        "rounds": state.round.astype(np.float64),
        "completed": state.issued == gates,
        "attempts": totals["attempts"] + totals["prefetch_attempts"],
        "ebits": totals["served"] - totals["cache_hits"] + totals["cached"] + totals["wasted"],
        "log10_fidelity": circuit_fidelity_log10(state.g_age, state.g_served, config),
    }


def measure_cell(cell: Cell, policies: tuple[str, ...], episodes: int, seed: int, circuit_seed: int,
                 local_rounds: int, overrides: dict[str, Any], reference: str = REFERENCE,
                 models: tuple[str, ...] = ()) -> list[dict[str, Any]]:
    """Rows of one circuit: every policy, then every model file (named
    :func:`model_label`), on the same ``episodes`` seeds."""
    from train.evaluate import load_policy

    config = study_config(cell.spec(circuit_seed), cell.n_qpus, local_rounds, overrides)
    seeds = [episode_seed(seed, e) for e in range(episodes)]
    runs = {name: play_episodes(config, make_policy(name, config), seeds) for name in policies}
    for path in models:
        runs[model_label(path)] = play_episodes(config, load_policy(path, config, seed), seeds)
    dag = HubCore(config, 1).dag  # built once, cached
    gates, bound = dag.n_gates, dag.lower_bound
    reference_run = runs.get(reference)
    rows = []
    for name, run in runs.items():
        done = run["completed"]
        per_episode = {
            "makespan": run["rounds"],
            "ratio": run["rounds"] / bound if bound > 0 else np.full(episodes, math.nan),
            "ebits_per_gate": run["ebits"] / gates if gates else np.full(episodes, math.nan),
            "attempts_per_gate": run["attempts"] / gates if gates else np.full(episodes, math.nan),
            "log10_fidelity": run["log10_fidelity"],
        }
        row: dict[str, Any] = {"family": cell.family, "qubits": cell.qubits, "n_qpus": cell.n_qpus, "policy": name,
                               "circuit": dag.source, "gates": gates, "lower_bound": bound,
                               "capacity_bound": capacity_bound(config, dag), "episodes": episodes,
                               "completed": int(done.sum())}
        for key, values in per_episode.items():
            row[key], row[f"{key}_lo"], row[f"{key}_hi"] = stats.t_interval(values[done & np.isfinite(values)])
        # Paired over the same episodes, truncated ones included (at the truncation round).
        saved = (stats.paired_difference(reference_run["rounds"], run["rounds"]) if reference_run is not None
                 else (math.nan, math.nan, math.nan))
        row["rounds_saved"], row["rounds_saved_lo"], row["rounds_saved_hi"] = saved
        row["verdict"] = stats.verdict(saved[1], saved[2])
        row["reference"] = reference
        rows.append(row)
    return rows


def model_label(path: str) -> str:
    """How the table names a model file: ``learned:<file name without its suffix>``, or
    ``learned:<folder>`` for a ``model.safetensors`` (a run folder's, or ``results/models/``')."""
    file = Path(path)
    return f"learned:{file.parent.name if file.stem == 'model' and file.parent.name else file.stem}"


def settings_id(args: dict[str, Any]) -> str:
    """A short hash of everything a row depends on, so ``--resume`` reuses only rows of the same study."""
    blob = json.dumps(args, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:12]


def run_study(cells: list[Cell], policies: tuple[str, ...], episodes: int, seed: int, circuit_seed: int,
              local_rounds: int, overrides: dict[str, Any], out: Path, resume: bool = False,
              show_progress: bool = True, reference: str = REFERENCE,
              models: tuple[str, ...] = ()) -> list[dict[str, Any]]:
    """Every cell, writing ``circuits.csv`` after each (atomically) and the table and plot at the end."""
    csv_path = out / "circuits.csv"
    # A model counts by its bytes: a file trained anew under the same name is another policy.
    model_ids = {path: hashlib.sha256(Path(path).read_bytes()).hexdigest()[:12] for path in models}
    settings = settings_id({"policies": policies, "episodes": episodes, "seed": seed, "circuit_seed": circuit_seed,
                            "local_rounds": local_rounds, "overrides": overrides, "reference": reference,
                            "models": model_ids,
                            "scenario": study_config("ghz:4", 4, local_rounds, overrides).to_dict()})
    names = set(policies) | {model_label(path) for path in models}
    done = _finished_rows(csv_path, settings) if resume else {}
    rows: list[dict[str, Any]] = []
    with progress_bar(total=len(cells), desc="circuits", enabled=show_progress) as bar:
        for cell in cells:
            key = (cell.family, cell.qubits, cell.n_qpus)
            if key in done and {r["policy"] for r in done[key]} == names:
                rows += done[key]
            else:
                bar.set_postfix_str(f"{cell.spec(circuit_seed)} N={cell.n_qpus}")
                rows += [{**row, "settings": settings} for row in
                         measure_cell(cell, policies, episodes, seed, circuit_seed, local_rounds, overrides,
                                      reference, models)]
                write_csv(csv_path, rows, COLUMNS)
            bar.update(1)
    write_csv(csv_path, rows, COLUMNS)
    write_atomic(out / "circuits.md", format_table(rows) + "\n")
    plot(rows, out / "circuits.png")
    return rows


def _finished_rows(path: Path, settings: str) -> dict[tuple[str, int, int], list[dict[str, str]]]:
    if not path.exists():
        return {}
    try:
        rows = read_csv(path)
    except (OSError, ValueError):
        return {}
    done: dict[tuple[str, int, int], list[dict[str, str]]] = {}
    for row in rows:
        if row.get("settings") == settings:
            done.setdefault((row["family"], int(row["qubits"]), int(row["n_qpus"])), []).append(row)
    return done


def _cell(row: dict[str, Any], key: str, digits: int) -> str:
    value, lo, hi = (float(row[name]) for name in (key, f"{key}_lo", f"{key}_hi"))
    if math.isnan(value):
        return "-"
    if math.isnan(lo):
        return f"{value:.{digits}f}"
    return f"{value:.{digits}f} [{lo:.{digits}f}, {hi:.{digits}f}]"


def format_table(rows: list[dict[str, Any]]) -> str:
    """Markdown: the makespan's ratio to the lower bound per circuit and policy, then every
    metric per row."""
    policies = list(dict.fromkeys(r["policy"] for r in rows))
    episodes = max(int(r["episodes"]) for r in rows)
    lines = [f"Makespan / lower bound, mean [95% Student t CI] over {episodes} episodes (the same seeds for every "
             "policy); "
             "the capacity bound on the expected makespan, G / (S p), over the lower bound beside it.",
             "", "| circuit | N | non-local gates | lower bound [rounds] | capacity bound / lower bound | "
             + " | ".join(policies) + " |", "|---" * (5 + len(policies)) + "|"]
    by_cell: dict[tuple[str, int, int], dict[str, dict[str, Any]]] = {}
    for r in rows:
        by_cell.setdefault((r["family"], int(r["qubits"]), int(r["n_qpus"])), {})[r["policy"]] = r
    for (_, _, n), cell in by_cell.items():
        first = next(iter(cell.values()))
        ratios = [_cell(cell[p], "ratio", 2) if p in cell else "-" for p in policies]
        bound, capacity = int(first["lower_bound"]), float(first["capacity_bound"])
        shown = f"{capacity / bound:.2f}" if bound > 0 and math.isfinite(capacity) else "-"
        lines.append(f"| {first['circuit']} | {n} | {first['gates']} | {bound} | {shown} | " + " | ".join(ratios) + " |")
    reference = rows[0]["reference"]
    lines += ["", f"Every metric (the rounds saved against {reference} paired over the same seeds, with its "
              "verdict: better when the interval lies above 0; circuit fidelity as log10 of the product of the "
              "non-local gates' fidelities).", "",
              "| circuit | N | policy | completed | " + " | ".join(METRICS.values()) + " | verdict |",
              "|---" * (5 + len(METRICS)) + "|"]
    digits = {"makespan": 0, "ratio": 2, "rounds_saved": 1, "ebits_per_gate": 2, "attempts_per_gate": 2,
              "log10_fidelity": 2}
    for r in rows:
        cells = [_cell(r, key, digits[key]) for key in METRICS]
        lines.append(f"| {r['circuit']} | {r['n_qpus']} | {r['policy']} | {r['completed']}/{r['episodes']} | "
                     + " | ".join(cells) + f" | {r['verdict']} |")
    return "\n".join(lines)


def plot(rows: list[dict[str, Any]], path: Path) -> None:
    """Makespan / lower bound against N, one panel per family, a line per policy and size,
    and the capacity bound over the lower bound in gray."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    families = list(dict.fromkeys(r["family"] for r in rows))
    policies = list(dict.fromkeys(r["policy"] for r in rows))
    sizes = sorted({int(r["qubits"]) for r in rows})
    styles = ["-", "--", ":", "-."]
    fig, axes = plt.subplots(1, len(families), figsize=(3.4 * len(families), 3.6), squeeze=False)
    for ax, family in zip(axes[0], families, strict=True):
        for p_index, policy in enumerate(policies):
            for s_index, size in enumerate(sizes):
                sel = sorted((r for r in rows if r["family"] == family and r["policy"] == policy
                              and int(r["qubits"]) == size), key=lambda r: int(r["n_qpus"]))
                if not sel:
                    continue
                n = np.array([int(r["n_qpus"]) for r in sel])
                y, lo, hi = (np.array([float(r[k]) for r in sel]) for k in ("ratio", "ratio_lo", "ratio_hi"))
                colour = plt.cm.tab10(p_index)
                ax.plot(n, y, styles[s_index % len(styles)], marker="o", markersize=3, color=colour,
                        label=f"{policy}, {size} qubits")
                ax.fill_between(n, np.nan_to_num(lo, nan=y), np.nan_to_num(hi, nan=y), color=colour, alpha=0.12)
                if p_index == 0:
                    capacity = [float(r["capacity_bound"]) / max(int(r["lower_bound"]), 1) for r in sel]
                    ax.plot(n, capacity, styles[s_index % len(styles)], color="gray", linewidth=0.8,
                            label=f"capacity bound, {size} qubits")
        ax.set_xscale("log", base=2)
        ax.set_title(family, fontsize=10)
        ax.set_xlabel("QPUs N")
        ax.grid(alpha=0.3)
    axes[0][0].set_ylabel("makespan / lower bound")
    axes[0][-1].legend(fontsize=6, loc="upper left", bbox_to_anchor=(1.02, 1.0))
    fig.suptitle("Circuits on the hub: makespan over its lower bound (95% CI bands); gray: the capacity bound")
    fig.tight_layout()
    save_figure(fig, path)
    plt.close(fig)


def summary(rows: list[dict[str, Any]]) -> str:
    """One line per policy: the mean ratio to the bound over the circuits, and how often it
    is the best (lowest mean makespan)."""
    policies = list(dict.fromkeys(r["policy"] for r in rows))
    by_cell: dict[tuple[str, int, int], list[dict[str, Any]]] = {}
    for r in rows:
        by_cell.setdefault((r["family"], int(r["qubits"]), int(r["n_qpus"])), []).append(r)
    best = [min(cell, key=lambda r: float(r["makespan"]))["policy"] for cell in by_cell.values()]
    lines = []
    for policy in policies:
        ratios = [float(r["ratio"]) for r in rows if r["policy"] == policy and math.isfinite(float(r["ratio"]))]
        mean = sum(ratios) / len(ratios) if ratios else math.nan
        verdicts = [r["verdict"] for r in rows if r["policy"] == policy]
        reference = rows[0]["reference"]
        paired = (f"; against {reference}, paired: shorter in {verdicts.count('better')}, longer in "
                  f"{verdicts.count('worse')}" if policy != reference and reference in policies else "")
        lines.append(f"{policy}: mean makespan / lower bound {mean:.2f} over {len(ratios)} circuits; "
                     f"the shortest mean makespan in {best.count(policy)} of {len(by_cell)}{paired}")
    return "\n".join(lines)


# ---------------------------------------------------------------- command line


def _names(allowed: tuple[str, ...], what: str):
    def parse(text: str) -> tuple[str, ...]:
        names = tuple(dict.fromkeys(part.strip() for part in text.split(",") if part.strip()))
        bad = [name for name in names if name not in allowed]
        if not names or bad:
            raise argparse.ArgumentTypeError(f"expected {what} among {', '.join(allowed)}, got {text!r}")
        return names
    return parse


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register ``circuits`` on the ``modenhub`` subcommands."""
    from agents import POLICIES as REGISTERED

    kernels = tuple(name for name, cls in REGISTERED.items() if issubclass(cls, KernelPolicy))
    parser = subparsers.add_parser(
        "circuits", help="distributed circuits on the hub: makespan against the lower bound, per policy",
        description="Run each circuit family at each size on each number of QPUs (qubits placed by the min-cut "
        "partitioner), every policy on the same seeds, and report the makespan and its ratio to the circuit's "
        "lower bound, ebits and attempts per non-local gate and the circuit's fidelity, with 95% CIs. Writes "
        "OUT/circuits.csv, .md and .png. Needs the circuits extra (Qiskit, networkx) to build the circuits. "
        "The default run takes about 2 minutes on 2 cores (building the 60 circuits included; the first run of "
        "a machine also compiles the kernels, about 30 s); --quick a few seconds.",
    )
    parser.add_argument("--families", type=_names(GENERATORS, "circuit families"), default=FAMILIES,
                        help=f"comma-separated circuit families (default {','.join(FAMILIES)}; "
                        f"allowed: {', '.join(GENERATORS)})")
    parser.add_argument("--qubits", type=int_list, default=QUBITS,
                        help=f"comma-separated qubit counts (default {','.join(map(str, QUBITS))})")
    parser.add_argument("--qpus", type=int_list, default=QPUS,
                        help=f"comma-separated numbers of QPUs N (default {','.join(map(str, QPUS))})")
    parser.add_argument("--policies", type=_names(kernels, "compiled schedulers"), default=POLICIES,
                        help=f"comma-separated policies (default {','.join(POLICIES)}; allowed: {', '.join(kernels)}); "
                        "the makespan is also compared with --reference's on the same seeds")
    parser.add_argument("--model", dest="models", action="append", default=[], metavar="PATH",
                        help="a learned scheduler's model file (.safetensors, from modenhub train), run round by "
                        "round beside the policies and named learned:<file name> (learned:<folder> for a model.safetensors); repeatable. Its training run's "
                        "config.json, when beside it, must not share a seed with the episodes")
    parser.add_argument("--reference", default=REFERENCE, metavar="POLICY",
                        help=f"the policy (one of --policies, or learned:<file name> of a --model) that every other "
                        f"is compared with, paired over the same seeds (default {REFERENCE})")
    parser.add_argument("--episodes", type=positive_int, default=10,
                        help="episodes (seeds) per circuit and policy, the same seeds for every policy (default 10)")
    parser.add_argument("--seed", type=int, default=50_000,
                        help="base seed of the episodes; episode i is seeded by a hash of (seed, i) (default 50000; "
                        "critical-path-first was designed on runs seeded 30000)")
    parser.add_argument("--circuit-seed", type=int, default=1,
                        help="seed of the random circuits (qaoa's graph, quantum volume's gates; default 1)")
    parser.add_argument("--local-rounds", type=int, default=0,
                        help="rounds a local gate takes, 0 to 1000 (default 0: only ebits take time)")
    parser.add_argument("--set", dest="overrides", metavar="FIELD=VALUE", action="append", type=parse_override,
                        default=[], help="override a field of the study's scenario, repeatable (e.g. --set t_coh=inf "
                        "--set max_attempts_per_round=none); see train/circuits.py:study_config")
    parser.add_argument("--quick", action="store_true",
                        help=f"a small run for tests: {QUICK['qubits'][0]} qubits on {QUICK['qpus'][0]} QPUs, "
                        f"{QUICK['episodes']} episodes (overrides --qubits, --qpus and --episodes)")
    add_out_option(parser, "circuits", "results/circuits.{csv,md,png}")
    parser.add_argument("--resume", action="store_true",
                        help="keep the circuits an interrupted run with the same settings finished in --out and run "
                        "only the rest")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.set_defaults(func=_run)
    return parser


def _run(args: argparse.Namespace) -> None:
    from train.evaluate import check_model_held_out
    from train.runs import output_folder

    if args.resume and args.out is None:
        raise ValueError("--resume needs --out FOLDER, the folder of the interrupted run")
    if args.quick:
        args.qubits, args.qpus, args.episodes = QUICK["qubits"], QUICK["qpus"], QUICK["episodes"]
    overrides = dict(args.overrides)
    for name in ("n_qpus", "circuit", "workload", "local_rounds"):
        if name in overrides:
            raise ValueError(f"--set {name}: the study sets it (use --qpus, --families/--qubits or --local-rounds)")
    names = list(args.policies) + [model_label(path) for path in args.models]
    if args.reference not in names:
        raise ValueError(f"--reference must be one of the policies run ({', '.join(names)}), got {args.reference!r}")
    for path in args.models:
        if not Path(path).is_file():
            raise FileNotFoundError(f"--model {path}: no such file")
        check_model_held_out(path, args.seed, args.episodes)
    cells = [Cell(family, qubits, n) for family in args.families for qubits in args.qubits for n in args.qpus]
    for cell in cells:  # a bad size, N or field fails before any run
        config = study_config(cell.spec(args.circuit_seed), cell.n_qpus, args.local_rounds, overrides)
    check_overrides_apply(config, overrides)
    out = output_folder(args.out, "circuits")
    start = time.monotonic()
    rows = run_study(cells, args.policies, args.episodes, args.seed, args.circuit_seed, args.local_rounds,
                     overrides, out, args.resume, not args.quiet, args.reference, tuple(args.models))
    print(format_table(rows).split("\n\nEvery metric")[0])
    print(f"\n{summary(rows)}")
    print(f"wrote {out}/circuits.csv, .md and .png ({time.monotonic() - start:.0f} s)", file=sys.stdout)
