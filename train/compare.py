"""``modenhub compare``: the committed learned schedulers against the handcrafted ones.

For every ``MODELS/<name>/`` holding a ``model.safetensors`` (``agents.learned``'s model
file; with ``--trust-pickle``, an SB3 ``model.zip`` instead) and the ``config.json`` of its
training run, the model and the heuristics play the same held-out episodes of the run's
scenario (seeds that neither trained nor selected the model: ``train.seeds``, checked
before any run). Writes ``OUT/learned_vs_handcrafted.{csv,md,png}``: each policy's metrics
with 95% CIs and, per scenario, its episode reward minus the best heuristic's on the same
episodes, with a 95% t-interval and a verdict (``train.evaluate.add_paired``).

With ``--over-n``, the same model and heuristics also play the scenario with only the
number of QPUs ``N`` changed (one policy for any N), on the same seeds, and
``OUT/learned_over_n.{csv,md,png}`` report the same paired comparison at each N.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path
from typing import Any

import numpy as np

from modenhub_env.config import HubConfig
from train.evaluate import PAIRED_NOTE, add_paired, columns, load_policy, signed_interval, summarise
from train.files import save_figure, write_atomic, write_csv
from train.options import add_out_option, add_trust_pickle_option, at_each_n, n_values, positive_int
from train.progress import progress_bar
from train.rollout import run_episodes
from train.seeds import check_held_out, run_options

HEURISTICS = ("sequential", "log-parallel", "deadline", "single-request-dp", "prefetch-value", "critical-path")


MODEL_FILE, PICKLED_MODEL_FILE = "model.safetensors", "model.zip"


def scenarios(models: Path, trust_pickle: bool = False) -> list[tuple[str, HubConfig, Path]]:
    """``(name, config, model path)`` of every model folder under ``models``, by name.

    :param trust_pickle: use a folder's SB3 ``model.zip`` when it has no
        ``model.safetensors`` (otherwise such a folder is an error naming the flag).
    """
    if not models.is_dir():
        raise FileNotFoundError(f"--models {models}: no such folder")
    found = []
    for folder in sorted(p for p in models.iterdir() if p.is_dir()):
        model = folder / MODEL_FILE
        if not model.is_file():
            if not (folder / PICKLED_MODEL_FILE).is_file():
                continue
            if not trust_pickle:
                raise ValueError(
                    f"{folder}: holds only an SB3 {PICKLED_MODEL_FILE}, which runs any code it holds when loaded; "
                    f"pass --trust-pickle if you trust it, or convert it with `modenhub convert "
                    f"{folder / PICKLED_MODEL_FILE} --trust-pickle`"
                )
            model = folder / PICKLED_MODEL_FILE
        config_path = folder / "config.json"
        if not config_path.is_file():
            raise ValueError(f"{folder}: {model.name} without the config.json of its training run")
        try:
            config = HubConfig.from_dict(json.loads(config_path.read_text())["config"])
        except (json.JSONDecodeError, UnicodeDecodeError, KeyError, TypeError) as err:
            raise ValueError(f"{config_path}: not a training run's config.json ({err})") from None
        if config.workload == "circuit":  # its measure is the makespan, over circuits and N
            print(f"note: {folder.name}/ holds a circuit scheduler; `modenhub circuits --model "
                  f"{model}` compares it, compare leaves it out", file=sys.stderr)
            continue
        found.append((folder.name, config, model))
    if not found:
        raise ValueError(f"no <name>/{MODEL_FILE} under {models}")
    return found


def training_options(model: Path) -> dict[str, Any]:
    """The options of the run that trained ``model`` (its folder's ``config.json``).

    :raises ValueError: a ``config.json`` without them: the held-out seeds cannot be checked.
    """
    run = run_options(model)
    if run is None:
        raise ValueError(f"{model.parent / 'config.json'}: no 'args' of the training run, so it cannot be checked "
                         "that the evaluation seeds are held out")
    return run


def at_other_n(
    found: list[tuple[str, HubConfig, Path]], over_n: tuple[int, ...]
) -> list[tuple[str, int, HubConfig, Path]]:
    """``(name, N, config, model path)`` of every scenario with ``n_qpus`` set to each of
    ``over_n``, the other fields as trained.

    :raises ValueError: a scenario that cannot have that N (e.g. one ``fibre_km`` per
        QPU), naming the scenario and N.
    """
    resized = []
    for name, config, model in found:
        scenario = f"--over-n: scenario {name!r} (trained at N={config.n_qpus})"
        configs = at_each_n(config, over_n, scenario)
        resized += [(name, n, other, model) for n, other in zip(over_n, configs, strict=True)]
    return resized


def compare(
    models: Path,
    episodes: int,
    seed: int,
    out: Path,
    show_progress: bool = True,
    over_n: tuple[int, ...] = (),
    trust_pickle: bool = False,
) -> list[dict[str, Any]]:
    """Evaluate every model and the heuristics; write the CSV, Markdown and plot.

    :param over_n: numbers of QPUs to also evaluate every scenario at; when not empty,
        ``learned_over_n.{csv,md,png}`` are written too.
    :param trust_pickle: accept SB3 ``model.zip`` files (see :func:`scenarios`).
    :returns: the rows of ``learned_vs_handcrafted.csv`` (each scenario at its own N).
    """
    from train.runs import check_writable

    found = scenarios(models, trust_pickle)
    resized = at_other_n(found, over_n)  # a scenario that cannot change N fails before any run
    for _, config, model in found:  # as does a model that cannot be read, or seeds it has seen
        load_policy(str(model), config, seed, trust_pickle)
        check_held_out(seed, episodes, training_options(model), model)
    check_writable(out)
    runs = (len(found) + len(resized)) * (len(HEURISTICS) + 1)
    with progress_bar(total=runs * episodes, desc="episodes", enabled=show_progress) as bar:
        rows = [row for name, config, model in found
                for row in evaluate_scenario(name, config, model, episodes, seed, bar, trust_pickle=trust_pickle)]
        write_csv(out / "learned_vs_handcrafted.csv", rows, ["scenario", *columns()])
        write_atomic(out / "learned_vs_handcrafted.md", format_table(rows, episodes) + "\n")
        plot(rows, out / "learned_vs_handcrafted.png")
        if resized:
            write_over_n(evaluate_over_n(resized, episodes, seed, bar, trust_pickle), found, episodes, seed, out)
    return rows


def evaluate_over_n(
    resized: list[tuple[str, int, HubConfig, Path]], episodes: int, seed: int, bar: Any, trust_pickle: bool = False
) -> list[dict[str, Any]]:
    """:func:`evaluate_scenario`'s rows, with their ``n_qpus``, for every scenario and N
    of :func:`at_other_n`."""
    return [{**row, "n_qpus": n} for name, n, config, model in resized
            for row in evaluate_scenario(name, config, model, episodes, seed, bar, f"{name} N={n}", trust_pickle)]


def evaluate_scenario(
    name: str, config: HubConfig, model: Path, episodes: int, seed: int, bar: Any, label: str | None = None,
    trust_pickle: bool = False,
) -> list[dict[str, Any]]:
    """One row per heuristic and the model (policy ``learned``), each on the same
    ``episodes`` held-out episodes of ``config`` from ``seed``.

    :param bar: progress bar advanced by one per finished episode.
    :param label: the scenario as shown on the bar (default ``name``).
    """
    rows, returns = [], []
    for policy_name in (*HEURISTICS, str(model)):
        policy = load_policy(policy_name, config, seed, trust_pickle)
        bar.set_postfix_str(f"{label or name}: {Path(policy_name).parent.name or policy_name}")
        totals = run_episodes(config, policy, episodes, seed, progress=bar.update)
        row = summarise(policy_name, totals, seed)
        row["policy"] = "learned" if policy_name == str(model) else policy_name
        rows.append({"scenario": name, **row})
        returns.append(totals.returns)
    add_paired(rows, returns, [True] * len(HEURISTICS) + [False])
    return rows


def verdict(rows: list[dict[str, Any]]) -> tuple[str, float, float, float, float, str]:
    """From one scenario's rows (at one N): the best heuristic, the learned reward's mean
    paired difference to it with its 95% interval, that difference as a share of the best
    heuristic's mean reward, and the verdict (``better``, ``worse``, ``tie``)."""
    learned = next(r for r in rows if r["policy"] == "learned")
    best = next(r for r in rows if r["policy"] == learned["best_heuristic"])
    diff = learned["diff_vs_best_heuristic"]
    share = diff / abs(best["reward"]) if best["reward"] else math.nan
    return best["policy"], diff, learned["diff_ci_low"], learned["diff_ci_high"], share, learned["verdict"]


def _paired_cell(rows: list[dict[str, Any]]) -> str:
    """``best | +7.53 [+6.41, +8.65] (+4.5%) | better`` for one scenario's rows."""
    best, diff, low, high, share, call = verdict(rows)
    return f"{best} | {signed_interval(diff, low, high)} ({share:+.1%}) | {call}"


#: The paired columns of the Markdown tables.
PAIRED_HEAD = "best heuristic | learned - best heuristic, paired (95% CI) | verdict"


def format_table(rows: list[dict[str, Any]], episodes: int) -> str:
    names = list(dict.fromkeys(r["scenario"] for r in rows))
    head = "| scenario | " + " | ".join((*HEURISTICS, "learned")) + f" | {PAIRED_HEAD} |"
    lines = [f"Mean episode reward, {episodes} held-out episodes per policy (the same seeds for all), 95% CIs. "
             + PAIRED_NOTE, "", head, "|---" * (len(HEURISTICS) + 5) + "|"]
    for name in names:
        sel = [r for r in rows if r["scenario"] == name]
        cells = [_reward_cell(r) for r in sel]
        lines.append(f"| {name} | " + " | ".join(cells) + f" | {_paired_cell(sel)} |")
    return "\n".join(lines)


def _reward_cell(row: dict[str, Any]) -> str:
    """Mean episode reward with its 95% CI."""
    return f"{row['reward']:.4g} [{row['reward_lo']:.4g}, {row['reward_hi']:.4g}]"


def plot(rows: list[dict[str, Any]], path: Path) -> None:
    """Per scenario, each policy's episode reward minus the best heuristic's, paired over
    the same episodes, with its 95% interval. The sequential baseline, far below the
    others everywhere, is left out."""
    plt = _pyplot()
    names = list(dict.fromkeys(r["scenario"] for r in rows))
    shown = (*HEURISTICS[1:], "learned")
    fig, axes = plt.subplots(1, len(names), figsize=(3.4 * len(names), 3.8), squeeze=False)
    colours = plt.cm.tab10(np.arange(1, len(shown) + 1))
    for ax, name in zip(axes[0], names, strict=True):
        sel = {r["policy"]: r for r in rows if r["scenario"] == name}
        values, err = _paired_bars([sel[p] for p in shown])
        ax.bar(range(len(shown)), values, yerr=err, capsize=3, color=colours)
        ax.axhline(0.0, color="black", linewidth=0.8)
        ax.set_xticks(range(len(shown)), shown, rotation=45, ha="right", fontsize=8)
        best = sel["learned"]["best_heuristic"]
        ax.set_title(f"{name}\nbest heuristic: {best} ({sel[best]['reward']:.4g})", fontsize=9)
        ax.grid(axis="y", alpha=0.3)
    axes[0][0].set_ylabel("episode reward - best heuristic's")
    fig.suptitle("Learned (MaskablePPO, per-slot policy) vs handcrafted schedulers, paired 95% CIs")
    fig.tight_layout()
    save_figure(fig, path)
    plt.close(fig)


def _paired_bars(rows: list[dict[str, Any]]) -> tuple[np.ndarray, np.ndarray]:
    """The rows' paired differences and their error bars, ``(2, len(rows))`` (0 without an interval)."""
    values = np.array([r["diff_vs_best_heuristic"] for r in rows], dtype=float)
    err = np.array([[r["diff_vs_best_heuristic"] - r["diff_ci_low"], r["diff_ci_high"] - r["diff_vs_best_heuristic"]]
                    for r in rows], dtype=float).T
    return values, np.nan_to_num(err)


def _pyplot() -> Any:
    """``matplotlib.pyplot`` on the file-only Agg backend."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def write_over_n(
    rows: list[dict[str, Any]], found: list[tuple[str, HubConfig, Path]], episodes: int, seed: int, out: Path
) -> None:
    """``OUT/learned_over_n.{csv,md,png}`` from the rows of every scenario at every N."""
    trained = {name: (config.n_qpus, model) for name, config, model in found}
    write_csv(out / "learned_over_n.csv", rows, ["scenario", "n_qpus", *columns()])
    write_atomic(out / "learned_over_n.md", format_over_n(rows, trained, episodes, seed) + "\n")
    plot_over_n(rows, {name: n for name, (n, _) in trained.items()}, out / "learned_over_n.png")


def by_scenario_and_n(rows: list[dict[str, Any]]) -> dict[str, dict[int, list[dict[str, Any]]]]:
    """Rows grouped by scenario, then by ``n_qpus``, both in order of appearance."""
    groups: dict[str, dict[int, list[dict[str, Any]]]] = {}
    for row in rows:
        groups.setdefault(row["scenario"], {}).setdefault(row["n_qpus"], []).append(row)
    return groups


def format_over_n(
    rows: list[dict[str, Any]], trained: dict[str, tuple[int, Path]], episodes: int, seed: int
) -> str:
    """Per scenario, a table of N against each policy's reward and the learned reward's
    paired difference to the best heuristic at that N; ``trained`` maps a scenario to its
    training N and model path."""
    head = "| N | " + " | ".join((*HEURISTICS, "learned")) + f" | {PAIRED_HEAD} |"
    sections = []
    for name, per_n in by_scenario_and_n(rows).items():
        n_trained, model = trained[name]
        lines = [f"## {name}", "",
                 f"Model `{model}` (trained at N={n_trained}) on its scenario at other N; "
                 f"{episodes} episodes, seeds {seed}+ (the same for all), episode reward with 95% CIs. "
                 + PAIRED_NOTE, "", head, "|---" * (len(HEURISTICS) + 5) + "|"]
        for n, sel in per_n.items():
            cells = " | ".join(_reward_cell(r) for r in sel)
            shown_n = f"{n} (trained)" if n == n_trained else str(n)
            lines.append(f"| {shown_n} | {cells} | {_paired_cell(sel)} |")
        sections.append("\n".join(lines))
    return "\n\n".join(sections)


def plot_over_n(rows: list[dict[str, Any]], trained_n: dict[str, int], path: Path) -> None:
    """Per scenario, the learned reward minus the best heuristic's against N (log2 axis),
    paired over the same episodes, with its 95% interval; the dotted line marks the
    training N."""
    plt = _pyplot()
    groups = by_scenario_and_n(rows)
    fig, axes = plt.subplots(1, len(groups), figsize=(3.4 * len(groups), 3.4), squeeze=False)
    for ax, (name, per_n) in zip(axes[0], groups.items(), strict=True):
        ns = sorted(per_n)
        leads, err = _paired_bars([next(r for r in per_n[n] if r["policy"] == "learned") for n in ns])
        ax.errorbar(ns, leads, yerr=err, marker="o", capsize=3)
        ax.axhline(0.0, color="black", linewidth=0.8)
        ax.axvline(trained_n[name], color="grey", linestyle=":", label=f"trained at N={trained_n[name]}")
        ax.set_xscale("log", base=2)
        ax.set_xticks(ns, [str(n) for n in ns])
        ax.set_xlabel("N (QPUs)")
        ax.set_title(name, fontsize=9)
        ax.legend(fontsize=7)
        ax.grid(alpha=0.3)
    axes[0][0].set_ylabel("learned reward - best heuristic's")
    fig.suptitle("One learned policy across N vs the best heuristic at each N, paired 95% CIs")
    fig.tight_layout()
    save_figure(fig, path)
    plt.close(fig)


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register ``compare`` on the ``modenhub`` subcommands."""
    parser = subparsers.add_parser(
        "compare",
        help="committed learned models against the heuristics (learned_vs_handcrafted.*, learned_over_n.*)",
        description="Evaluate every MODELS/<name>/model.safetensors on its training run's scenario beside the "
        "heuristics, on the same held-out seeds, and write OUT/learned_vs_handcrafted.csv, .md and .png: "
        "each policy's metrics with 95% CIs and its episode reward minus the best heuristic's, paired over "
        "the same episodes, with a 95% t-interval and a verdict (better, worse, or tie when the interval "
        "contains 0). With --over-n, also evaluate every model and heuristic on its scenario with only the "
        "number of QPUs N changed, and write OUT/learned_over_n.csv, .md and .png (the same comparison at "
        "each N).",
    )
    parser.add_argument("--models", type=Path, default=Path("results/models"),
                        help="folder of <name>/model.safetensors + config.json (default results/models)")
    parser.add_argument("--episodes", type=positive_int, default=200,
                        help="held-out episodes per policy and scenario (and N, with --over-n; default 200)")
    parser.add_argument("--seed", type=int, default=10_000,
                        help="base seed of the held-out episodes (default 10000): episode e is seeded by a hash of "
                        "(seed, e), the same for every policy; it is an error if one of them trained or selected a "
                        "model (the seeds of its run's config.json)")
    parser.add_argument("--over-n", type=n_values, default=(), metavar="N1,N2,...",
                        help="also run each model and heuristic at these numbers of QPUs, positive integers, "
                        "comma separated (e.g. 8,16,32,64,128); writes OUT/learned_over_n.*. A scenario "
                        "with one fibre_km per QPU cannot change N and is an error")
    add_out_option(parser, "compare")
    add_trust_pickle_option(parser, "a folder's SB3 model.zip (when it has no model.safetensors)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.set_defaults(func=_run)
    return parser


def _run(args: argparse.Namespace) -> None:
    from train.runs import default_out

    out = default_out("compare") if args.out is None else args.out  # checked by compare() before any run
    rows = compare(args.models, args.episodes, args.seed, out, not args.quiet, args.over_n, args.trust_pickle)
    print(format_table(rows, args.episodes))
    print(f"\nwrote {out}/learned_vs_handcrafted.csv, .md and .png")
    if args.over_n:
        print("\n" + (out / "learned_over_n.md").read_text(), end="")
        print(f"\nwrote {out}/learned_over_n.csv, .md and .png")
