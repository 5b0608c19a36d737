"""``modenhub train``: PPO, MaskablePPO or A2C on the native batched env, resumable.

A run lives in ``runs/<preset>__<algo>__<seed>__<time>-<suffix>/`` (``--out``,
``--run-name``):

* ``config.json``: the scenario (``HubConfig.to_dict``) and the run's :class:`Args`;
* ``metrics.csv``: one row per policy per completed evaluation (the model and the
  heuristics on the same held-out seeds, reward/success/attempts with 95% CIs);
* ``checkpoints/step_<N>.safetensors`` (weights, optimizer state, step count, RNG states,
  VecNormalize statistics; no pickle, ``train.checkpoints``), named by
  ``checkpoints/latest.json``;
* ``tb/``: TensorBoard logs; ``model.safetensors``: the final policy
  (``agents.learned``'s model file, which holds no code).

A new run claims its folder atomically and every process that writes a run holds its
lock (``train.runs.RunLock``), so a second writer, or a ``--resume`` of a run a live
process holds, is refused. Every file is written atomically (``train.files``), and
``latest.json`` only after the checkpoint it names, so a run killed at any moment
(SIGKILL included) resumes with ``--resume RUN_DIR`` from its last checkpoint; a damaged
checkpoint is skipped, with a warning, for the newest intact one. Metrics rows past that
checkpoint's step are dropped. A resumed run restarts its envs' episodes (seeded from
the seed and the step), so it is not bit-identical to an uninterrupted one.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import secrets
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from train import checkpoints
from train.files import read_csv, write_atomic, write_csv, write_json
from train.options import add_config_options, at_each_n, config_from, n_values, positive_int

ALGOS = ("ppo", "maskable-ppo", "a2c")
POLICY_KINDS = ("slots", "pooled", "mlp")
SHAPINGS = ("none", "dp")
HEURISTICS = ("sequential", "log-parallel", "deadline", "single-request-dp", "prefetch-value", "critical-path")
PRIORS = ("none", *HEURISTICS)
METRIC_COLUMNS = [
    "step", "wall_seconds", "policy", "episodes",
    "reward", "reward_lo", "reward_hi", "success", "success_lo", "success_hi", "attempts", "attempts_lo", "attempts_hi",
]
KEEP_CHECKPOINTS = 2


@dataclass
class Args:
    """One training run (``modenhub train --help`` explains each)."""

    preset: str = "contention"
    overrides: dict[str, Any] = field(default_factory=dict)
    algo: str = "maskable-ppo"
    policy: str = "slots"
    timesteps: int = 200_000
    seed: int = 0
    n_envs: int = 16
    mix_n: list[int] | None = None  # numbers of QPUs to train on; None: the config's alone
    mix_circuits: list[str] | None = None  # circuit specs to train on (workload circuit); None: the config's alone
    learning_rate: float = 3e-4
    n_steps: int = 64  # [rounds per env per rollout]
    batch_size: int = 512
    n_epochs: int = 10
    gamma: float = 0.99
    gae_lambda: float = 0.95
    ent_coef: float = 0.0
    clip_range: float = 0.2
    net_size: int = 64
    attempt_prior: float = 0.0
    shaping: str = "none"
    prior: str = "none"
    prior_strength: float = 2.0  # [logits]
    share_extractor: bool = True
    norm_reward: bool = False
    eval_every: int = 25_000  # [timesteps]
    eval_episodes: int = 20
    eval_seed: int = 1_000_000
    checkpoint_every: int | None = None  # [timesteps]; default: eval_every
    out: str = "runs"
    tensorboard: bool = True
    progress: bool = True
    run_name: str | None = None

    def __post_init__(self) -> None:
        # A run saved before the rename names its prior by the former name.
        self.prior = _canonical_prior(self.prior)

    @property
    def checkpoint_interval(self) -> int:
        return self.checkpoint_every or self.eval_every


def _canonical_prior(name: str) -> str:
    """``--prior``'s name, a former policy name (``dp-optimal``) mapped to its name now."""
    from agents.registry import canonical_name

    return canonical_name(name)


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register ``train`` on the ``modenhub`` subcommands."""
    parser = subparsers.add_parser(
        "train", help="train PPO / MaskablePPO / A2C on a scenario (resumable)",
        description="Train a learned scheduler on the native batched env. Writes a run folder "
        "OUT/<preset>__<algo>__<seed>__<time>-<suffix>/ with config.json, metrics.csv (periodic evaluation "
        "against the heuristics), checkpoints/, tb/ and model.safetensors (the policy; a model file that holds "
        "no code). --resume RUN_DIR continues a killed run. A folder another process is writing is refused.",
    )
    _add_arguments(parser)
    parser.set_defaults(func=_run_and_summarise)
    return parser


def _run_and_summarise(ns: argparse.Namespace) -> Path:
    from train.summaries import training_summary

    run_dir = run_from_namespace(ns)
    print(training_summary(run_dir))
    return run_dir


def _add_arguments(parser: argparse.ArgumentParser) -> None:
    d = Args()
    add_config_options(parser, d.preset)
    parser.add_argument("--algo", choices=ALGOS, default=d.algo, help=f"algorithm (default {d.algo})")
    parser.add_argument("--policy", choices=POLICY_KINDS, default=d.policy,
                        help="slots: shared per-slot encoders and per-slot action heads (any N, any slot order); "
                        "pooled: the slot encoder with SB3's flat heads; mlp: SB3's MlpPolicy (default slots)")
    parser.add_argument("--timesteps", type=positive_int, default=None,
                        help=f"total env steps, rounds x envs (default {d.timesteps}; with --resume: the run's own)")
    parser.add_argument("--seed", type=int, default=d.seed, help=f"seed of the envs, the network and SB3 (default {d.seed})")
    parser.add_argument("--n-envs", type=positive_int, default=d.n_envs, help="hubs stepped together")
    parser.add_argument("--mix-n", type=n_values, default=None, metavar="N1,N2,...",
                        help="train on a mix of N: the --n-envs hubs split evenly over these numbers of QPUs "
                        "(--n-envs a multiple of their count), the scenario's other fields unchanged; the "
                        "model's config keeps --preset's N for evaluation (default: the scenario's N alone)")
    parser.add_argument("--mix-circuits", nargs="+", default=None, metavar="SPEC",
                        help="train on a mix of circuits (workload circuit): the --n-envs hubs split evenly over "
                        "these circuit specs (the circuit field's format, e.g. qft:32 ghz:32 cuccaro:32, or "
                        "QASM/DAG files), and with --mix-n over each spec at each N; the model's config keeps "
                        "--set circuit=..., or the first spec, for evaluation (default: the scenario's circuit alone)")
    parser.add_argument("--learning-rate", type=float, default=d.learning_rate, help=f"optimizer step size (default {d.learning_rate})")
    parser.add_argument("--n-steps", type=positive_int, default=d.n_steps, help="rounds per env per rollout")
    parser.add_argument("--batch-size", type=positive_int, default=d.batch_size, help="minibatch (PPO)")
    parser.add_argument("--n-epochs", type=positive_int, default=d.n_epochs, help="epochs per rollout (PPO)")
    parser.add_argument("--gamma", type=float, default=d.gamma, help=f"discount factor per round (default {d.gamma})")
    parser.add_argument("--gae-lambda", type=float, default=d.gae_lambda, help=f"GAE bias-variance trade-off (default {d.gae_lambda})")
    parser.add_argument("--ent-coef", type=float, default=d.ent_coef, help=f"entropy bonus weight (default {d.ent_coef})")
    parser.add_argument("--clip-range", type=float, default=d.clip_range, help="PPO clip range")
    parser.add_argument("--net-size", type=positive_int, default=d.net_size, help="hidden width of every layer")
    parser.add_argument("--attempt-prior", type=float, default=d.attempt_prior,
                        help="slots policy: initial logits -PRIOR * attempts, so that training starts from "
                        "launching few attempts (default 0: uniform)")
    parser.add_argument("--shaping", choices=SHAPINGS, default=d.shaping,
                        help="dp: add gamma*Phi(s') - Phi(s) to the training reward, Phi the single-request DP "
                        "value of the pending requests (train/shaping.py; evaluation keeps the env's reward); "
                        f"none: the env's reward (default {d.shaping})")
    parser.add_argument("--prior", choices=PRIORS, default=d.prior, type=_canonical_prior,
                        help="slots policy: start from a handcrafted policy, adding --prior-strength to the logit "
                        "of the attempts it picks in every slot; the network learns where to leave it "
                        f"(agents/networks.py; default {d.prior}: no prior)")
    parser.add_argument("--prior-strength", type=float, default=d.prior_strength,
                        help=f"logit offset of the prior's choice (default {d.prior_strength})")
    parser.add_argument("--separate-extractors", dest="share_extractor", action="store_false",
                        help="give the actor and the critic a features extractor each, so that the value loss "
                        "does not shape the actor's slot encodings (default: one shared)")
    parser.add_argument("--norm-reward", action="store_true", help="VecNormalize the reward (not the observation)")
    parser.add_argument("--eval-every", type=positive_int, default=d.eval_every, help="timesteps between evaluations")
    parser.add_argument("--eval-episodes", type=positive_int, default=d.eval_episodes, help=f"episodes per policy per evaluation (default {d.eval_episodes})")
    parser.add_argument("--eval-seed", type=int, default=d.eval_seed, help="first seed of the evaluation episodes")
    parser.add_argument("--checkpoint-every", type=positive_int, default=None,
                        help="timesteps between checkpoints (default: --eval-every)")
    parser.add_argument("--out", default=d.out, help=f"folder of the run folders (default {d.out}/)")
    parser.add_argument("--run-name", default=None,
                        help="run folder name, which must not exist or be empty (default "
                        "preset__algo__seed__time-suffix, the suffix random)")
    parser.add_argument("--no-tensorboard", dest="tensorboard", action="store_false", help="write no TensorBoard logs")
    parser.add_argument("--quiet", dest="progress", action="store_false", help="no progress bar")
    parser.add_argument("--resume", type=Path, default=None, metavar="RUN_DIR",
                        help="continue RUN_DIR from its last checkpoint, with its settings; --timesteps sets the "
                        "new total")


def run_from_namespace(ns: argparse.Namespace) -> Path:
    """Start (or with ``--resume``, continue) the run the parsed options describe."""
    if ns.resume is not None:
        run_dir = resume(ns.resume, timesteps=ns.timesteps, progress=ns.progress)
    else:
        overrides = dict(ns.overrides)
        if ns.mix_circuits and overrides.get("workload") == "circuit" and "circuit" not in overrides:
            ns.overrides = [*ns.overrides, ("circuit", ns.mix_circuits[0])]  # the circuit evaluations run
        config_from(ns)  # a bad --set exits here with the config's message
        names = {f.name for f in dataclasses.fields(Args)}
        values = {k: v for k, v in vars(ns).items() if k in names and v is not None}
        values["overrides"] = dict(ns.overrides)
        if ns.mix_n is not None:
            values["mix_n"] = list(ns.mix_n)  # as config.json holds it
        if ns.mix_circuits is not None:
            values["mix_circuits"] = list(ns.mix_circuits)
        run_dir = train(Args(**values))
    print(f"wrote {run_dir}/ (model.safetensors, metrics.csv, learning_curve.png, checkpoints/)")
    return run_dir


def main(argv: list[str] | None = None) -> Path:
    """``python -m train.training ...``: the ``train`` subcommand on its own."""
    parser = argparse.ArgumentParser(prog="modenhub train", description="Train a learned scheduler.")
    _add_arguments(parser)
    return run_from_namespace(parser.parse_args(argv))


# Runs.


def default_run_name(args: Args) -> str:
    """``preset__algo__seed__time-suffix``: the time to the second and 6 random hex
    digits, so that runs started in the same second get folders of their own."""
    return f"{args.preset}__{args.algo}__{args.seed}__{time.strftime('%Y%m%d-%H%M%S')}-{secrets.token_hex(3)}"


def train(args: Args) -> Path:
    """Start a new run in a folder it claims (:func:`train.runs.claim_new_run`); returns
    the folder.

    :raises ValueError: a bad setting, or a run folder that exists with a run or files in
        it, or that another process holds.
    """
    from train.runs import claim_new_run

    config = _config(args)
    _check_choices(args)
    if args.run_name is None:
        args.run_name = default_run_name(args)
    run_dir = Path(args.out) / args.run_name
    _seed_everything(args.seed)
    env = _make_env(config, args, env_seed=args.seed)  # before the folder: a bad --mix-n leaves no run
    with claim_new_run(run_dir):
        write_json(run_dir / "config.json", {"config": config.to_dict(), "args": dataclasses.asdict(args)})
        print(f"run folder {run_dir}", file=sys.stderr)
        model = _make_model(args, env, run_dir)
        return _learn(model, env, config, args, run_dir, rows=[])


def _check_choices(args: Args) -> None:
    for name, allowed in (("algo", ALGOS), ("policy", POLICY_KINDS), ("shaping", SHAPINGS), ("prior", PRIORS)):
        if getattr(args, name) not in allowed:
            raise ValueError(f"{name} must be one of {allowed}, got {getattr(args, name)!r}")
    if args.prior != "none" and args.policy != "slots":
        raise ValueError(f"prior {args.prior!r} needs policy 'slots', got {args.policy!r}")


def resume(run_dir: str | Path, timesteps: int | None = None, progress: bool = True) -> Path:
    """Continue ``run_dir`` from its newest intact checkpoint (``timesteps``: a new total).

    A damaged newer checkpoint is skipped with a warning on stderr.

    :raises FileNotFoundError: ``run_dir`` is not a training run folder.
    :raises ValueError: its config is damaged, another process holds it, or it has
        checkpoint files of which none is intact (each named with its problem).
    """
    from train.runs import RunLock

    run_dir = Path(run_dir)
    config_file = run_dir / "config.json"
    if not run_dir.is_dir():
        raise FileNotFoundError(f"--resume {run_dir}: no such folder")
    if not config_file.is_file():
        raise FileNotFoundError(f"--resume {run_dir}: no config.json; not a training run folder")
    with RunLock(run_dir):
        args, saved_config = _saved_args(config_file)
        args.progress = progress
        if timesteps is not None and timesteps != args.timesteps:
            args.timesteps = timesteps
            write_json(config_file, {"config": saved_config, "args": dataclasses.asdict(args)})
        config = _config(args)
        _remove_temp_files(run_dir)
        candidates = checkpoint_candidates(run_dir)
        if not candidates:
            _old_checkpoints_are_an_error(run_dir)
            _seed_everything(args.seed)
            env = _make_env(config, args, env_seed=args.seed)
            model = _make_model(args, env, run_dir)
            return _learn(model, env, config, args, run_dir, rows=[])
        model, env, header = _restore_newest(run_dir, candidates, config, args)
        step = int(header["step"])
        rows = [r for r in read_metrics(run_dir / "metrics.csv") if int(r["step"]) <= step]
        print(f"resuming {run_dir} from step {step}", file=sys.stderr)
        return _learn(model, env, config, args, run_dir, rows=rows, wall_offset=header.get("wall_seconds", 0.0))


def _saved_args(config_file: Path) -> tuple[Args, dict[str, Any]]:
    """The run's :class:`Args` and scenario from its ``config.json``."""
    try:
        saved = json.loads(config_file.read_text())
        return Args(**saved["args"]), saved["config"]
    except (json.JSONDecodeError, UnicodeDecodeError, KeyError, TypeError) as err:
        raise ValueError(f"{config_file}: damaged run config ({type(err).__name__}: {err})") from None


def _old_checkpoints_are_an_error(run_dir: Path) -> None:
    old = sorted((run_dir / "checkpoints").glob("step_*.zip")) + sorted((run_dir / "checkpoints").glob("*.pkl"))
    if old:
        raise ValueError(
            f"{run_dir}: its checkpoints ({old[0].name}, ...) are pickles of an earlier modenhub, which are not "
            "loaded (they could run code); start a new run"
        )


def _restore_newest(run_dir: Path, candidates: list[int], config, args: Args) -> tuple[Any, Any, dict[str, Any]]:
    """Model, env and checkpoint header of the newest checkpoint that reads and fits."""
    folder, problems = run_dir / "checkpoints", []
    for step in candidates:
        path = checkpoints.checkpoint_path(folder, step)
        try:
            header, tensors = checkpoints.read_checkpoint(path)
            if int(header.get("step", -1)) != step:
                raise ValueError(f"{path}: holds step {header.get('step')!r}, not {step}")
            env = _make_env(config, args, env_seed=args.seed + step)
            model = _make_model(args, env, run_dir)
            try:
                checkpoints.restore(model, header, tensors, env if args.norm_reward else None)
            except ValueError as err:
                raise ValueError(f"{path}: {err}") from None
        except (ValueError, OSError) as err:
            problems.append(str(err))
            print(f"warning: skipping checkpoint step {step}: {err}", file=sys.stderr)
            continue
        return model, env, header
    raise ValueError(f"{run_dir}: no intact checkpoint ({'; '.join(problems)})")


def _config(args: Args):
    from modenhub_env.config import HubConfig

    return HubConfig.preset(args.preset, **args.overrides)


def _seed_everything(seed: int) -> None:
    import torch as th
    from stable_baselines3.common.utils import set_random_seed

    th.set_num_threads(1)
    set_random_seed(seed)


def _make_env(config, args: Args, env_seed: int):
    """The training env: ``args.n_envs`` hubs of ``config`` (or with ``--mix-n`` and
    ``--mix-circuits``, split over those N and circuits), each part reward-shaped with its
    own scenario if ``--shaping dp``, then VecNormalize'd if ``--norm-reward`` (its
    statistics restored from a checkpoint by :func:`train.checkpoints.restore`)."""
    from stable_baselines3.common.vec_env import VecNormalize

    from modenhub_env.sb3 import ModEnHubVecEnv
    from train.mixed import MixedVecEnv

    parts = _mixed_parts(config, args)
    if parts is not None:
        configs, labels, option = parts
        env = MixedVecEnv(configs, args.n_envs, lambda part, cfg: _shaped(part, cfg, args), labels, option)
    else:
        env = _shaped(ModEnHubVecEnv(args.n_envs, config=config), config, args)
    env.seed(env_seed)
    if not args.norm_reward:
        return env
    return VecNormalize(env, norm_obs=False, norm_reward=True, gamma=args.gamma)


def _mixed_parts(config, args: Args) -> tuple[list, list[str], str] | None:
    """The scenarios of ``--mix-n`` and ``--mix-circuits`` (each circuit at each N), how
    errors name them and the options that chose them; ``None`` without either."""
    from train.mixed import envs_per_part

    if args.mix_n is None and args.mix_circuits is None:
        return None
    option = " and ".join(name for name, value in (("--mix-n", args.mix_n), ("--mix-circuits", args.mix_circuits))
                          if value is not None)
    at_n = [config] if args.mix_n is None else at_each_n(config, args.mix_n, f"--mix-n: the scenario (N={config.n_qpus})")
    if args.mix_circuits is None:
        return at_n, [f"N={c.n_qpus}" for c in at_n], option
    if config.workload != "circuit":
        raise ValueError(f"--mix-circuits needs workload 'circuit' (--set workload=circuit), got {config.workload!r}")
    labels = [f"{spec} at N={c.n_qpus}" for spec in args.mix_circuits for c in at_n]
    envs_per_part(args.n_envs, labels, option)  # before any circuit is built
    configs = []
    for spec in args.mix_circuits:
        try:
            configs += [c.replace(circuit=spec) for c in at_n]
        except ValueError as err:
            raise ValueError(f"--mix-circuits {spec!r}: {err}") from None
    return configs, labels, option


def _shaped(env: Any, config, args: Args) -> Any:
    """``env`` (hubs of ``config``) with ``--shaping``'s reward."""
    if args.shaping != "dp":
        return env
    from train.shaping import DPShapingVecEnv

    return DPShapingVecEnv(env, config, args.gamma)


def _make_model(args: Args, env: Any, run_dir: Path):
    from agents.learned import algorithm_classes
    from agents.networks import MaskableSlotActorCriticPolicy, SlotActorCriticPolicy, SlotFeaturesExtractor

    config = _config(args)
    maskable = args.algo == "maskable-ppo"
    policy_kwargs: dict[str, Any] = {"share_features_extractor": args.share_extractor}
    if args.policy == "mlp":
        policy: Any = "MlpPolicy"
        policy_kwargs["net_arch"] = [args.net_size, args.net_size]
    else:
        policy_kwargs["features_extractor_class"] = SlotFeaturesExtractor
        policy_kwargs["features_extractor_kwargs"] = {
            "request_slots": config.request_slots, "prefetch_slots": config.prefetch_slots, "hidden": args.net_size,
        }
        if args.prior != "none":
            prior = (args.prior, args.prior_strength, config.to_dict())
            policy_kwargs["features_extractor_kwargs"]["prior"] = prior
        if args.policy == "pooled":
            policy = "MlpPolicy"
            policy_kwargs["net_arch"] = [args.net_size, args.net_size]
        else:
            policy = MaskableSlotActorCriticPolicy if maskable else SlotActorCriticPolicy
            policy_kwargs["slot_latent"] = args.net_size
            policy_kwargs["attempt_prior"] = args.attempt_prior
    common = dict(
        learning_rate=args.learning_rate, n_steps=args.n_steps, gamma=args.gamma, gae_lambda=args.gae_lambda,
        ent_coef=args.ent_coef, seed=args.seed, device="cpu", policy_kwargs=policy_kwargs, verbose=0,
        tensorboard_log=str(run_dir / "tb") if args.tensorboard else None,
    )
    if args.algo != "a2c":
        common.update(batch_size=args.batch_size, n_epochs=args.n_epochs, clip_range=args.clip_range)
    return algorithm_classes()[args.algo](policy, env, **common)


def _learn(model: Any, env: Any, config, args: Args, run_dir: Path, rows: list[dict], wall_offset: float = 0.0) -> Path:
    remaining = args.timesteps - model.num_timesteps
    print(f"training {max(remaining, 0)} steps of {args.timesteps} into {run_dir}", file=sys.stderr)
    callback = _run_callback(config, args, run_dir, rows, wall_offset)
    if remaining > 0:
        model.learn(
            total_timesteps=remaining, callback=callback, reset_num_timesteps=False,
            tb_log_name="run", progress_bar=args.progress,
        )
    callback.evaluate_and_checkpoint(model)
    write_atomic(run_dir / "model.safetensors", _model_bytes(model, args, config))
    plot_learning_curve(read_metrics(run_dir / "metrics.csv"), run_dir / "learning_curve.png", run_dir.name)
    env.close()
    return run_dir


# Evaluation, metrics and checkpoints.


def _model_bytes(model: Any, args: Args, config) -> bytes:
    """The model file (``agents.learned``) of ``model``'s policy."""
    from agents.learned import policy_file_bytes

    return policy_file_bytes(model.policy, config, args.algo, int(model.num_timesteps), args.run_name)


def read_metrics(path: Path) -> list[dict[str, str]]:
    """The rows of ``metrics.csv`` that are whole (a damaged row is dropped); ``[]`` if none."""
    if not path.is_file():
        return []
    rows = []
    for row in read_csv(path):
        try:
            int(row["step"])
            float(row["reward"])
        except (KeyError, TypeError, ValueError):
            continue
        if all(row.get(column) is not None for column in METRIC_COLUMNS):
            rows.append(row)
    return rows


def plot_learning_curve(rows: list[dict[str, Any]], path: Path, title: str) -> None:
    """Evaluation reward of the model by step, with 95% CIs, and the heuristics as bands
    (skipped without matplotlib)."""
    try:
        import matplotlib
    except ImportError:
        return
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from train.files import save_figure

    fig, ax = plt.subplots(figsize=(6.4, 4.0))
    for name in dict.fromkeys(r["policy"] for r in rows):
        mine = [r for r in rows if r["policy"] == name]
        steps = np.array([int(r["step"]) for r in mine])
        mean, lo, hi = (np.array([float(r[k]) for r in mine]) for k in ("reward", "reward_lo", "reward_hi"))
        style = {"lw": 2.0, "color": "black"} if name == "learned" else {"lw": 1.0, "ls": "--"}
        (line,) = ax.plot(steps, mean, label=name, **style)
        ax.fill_between(steps, lo, hi, alpha=0.12, color=line.get_color())
    ax.set_xlabel("training steps [rounds x envs]")
    ax.set_ylabel("evaluation episode reward")
    ax.set_title(title, fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    save_figure(fig, path)
    plt.close(fig)


def checkpoint_candidates(run_dir: Path) -> list[int]:
    """Steps of the checkpoints to try, best first: the one ``latest.json`` names, then
    every checkpoint file, newest first."""
    folder = run_dir / "checkpoints"
    pointer = folder / "latest.json"
    candidates = []
    if pointer.is_file():
        try:
            step = int(json.loads(pointer.read_text())["step"])
            if checkpoints.checkpoint_path(folder, step).is_file():
                candidates.append(step)
        except (ValueError, KeyError, TypeError, UnicodeDecodeError):
            pass
    return list(dict.fromkeys(candidates + checkpoints.checkpoint_steps(folder)))


def latest_checkpoint(run_dir: Path) -> int | None:
    """The step of the newest checkpoint file (intact or not), or ``None``."""
    candidates = checkpoint_candidates(run_dir)
    return candidates[0] if candidates else None


def _remove_temp_files(run_dir: Path) -> None:
    """Temporary files of writes a kill interrupted (``train.files.write_atomic``)."""
    for tmp in list(run_dir.glob(".*.tmp")) + list((run_dir / "checkpoints").glob(".*.tmp")):
        tmp.unlink(missing_ok=True)


def _run_callback(config, args: Args, run_dir: Path, rows: list[dict], wall_offset: float) -> Any:
    """A :class:`RunCallback` (built on first use, so that importing this module, as the
    ``modenhub`` command does, needs no Stable-Baselines3)."""
    global RunCallback
    if RunCallback is None:
        from stable_baselines3.common.callbacks import BaseCallback

        RunCallback = type("RunCallback", (_RunCallbackMixin, BaseCallback), {"__doc__": _RunCallbackMixin.__doc__})
    return RunCallback(config, args, run_dir, rows, wall_offset)


RunCallback: type | None = None


class _RunCallbackMixin:
    """Evaluates and checkpoints at the start of a rollout (after the last update, so the
    saved step count is exactly what the weights have been trained on)."""

    def __init__(self, config, args: Args, run_dir: Path, rows: list[dict], wall_offset: float) -> None:
        super().__init__()
        self.hub_config, self.args, self.run_dir, self.rows = config, args, run_dir, rows
        self.started = time.monotonic() - wall_offset
        self.done_step = 0

    def _init_callback(self) -> None:
        # A resumed run starts at its checkpoint's step, which is saved already.
        self.done_step = int(self.model.num_timesteps)
        self._baseline_rows: list[dict[str, Any]] | None = None

    def _on_step(self) -> bool:
        return True

    def _on_rollout_start(self) -> None:
        step = self.model.num_timesteps
        if step <= self.done_step:
            return
        if self._crossed(step, self.args.eval_every):
            self.evaluate(self.model)
        if self._crossed(step, self.args.checkpoint_interval):
            self.checkpoint(self.model)

    def _crossed(self, step: int, every: int) -> bool:
        """True once per interval: the first rollout start at or past each multiple."""
        per_rollout = self.args.n_steps * self.args.n_envs
        return step // every > (step - per_rollout) // every

    def evaluate_and_checkpoint(self, model: Any) -> None:
        """At the end of training: evaluate and save the last step, unless done already."""
        step = model.num_timesteps
        if not self.rows or int(self.rows[-1]["step"]) < step:
            self.evaluate(model)
        saved = latest_checkpoint(self.run_dir)
        if saved is None or saved < step:
            self.checkpoint(model)

    def evaluate(self, model: Any) -> None:
        from agents.learned import LearnedPolicy
        from train.evaluate import summarise
        from train.rollout import run_episodes

        step, args = int(model.num_timesteps), self.args
        learned = LearnedPolicy.from_model(model, self.hub_config, args.algo)
        totals = run_episodes(self.hub_config, learned, args.eval_episodes, args.eval_seed)
        wall = time.monotonic() - self.started
        new_rows = [summarise("learned", totals, args.eval_seed)] + self._baselines()
        for row in new_rows:
            self.rows.append({**{k: row[k] for k in METRIC_COLUMNS if k in row}, "step": step, "wall_seconds": wall})
        write_csv(self.run_dir / "metrics.csv", self.rows, METRIC_COLUMNS)
        learned_row = new_rows[0]
        if self.logger is not None:
            for key in ("reward", "success", "attempts"):
                self.logger.record(f"eval/{key}", learned_row[key])
            best = max(self._baselines(), key=lambda r: r["reward"])
            self.logger.record("eval/best_heuristic_reward", best["reward"])
            self.logger.dump(step)

    def _baselines(self) -> list[dict[str, Any]]:
        """The heuristics on the evaluation seeds, computed once (they do not learn)."""
        if self._baseline_rows is None:
            from agents import make_policy
            from train.evaluate import summarise
            from train.rollout import run_episodes

            args = self.args
            self._baseline_rows = [
                summarise(name, run_episodes(self.hub_config, make_policy(name, self.hub_config),
                                             args.eval_episodes, args.eval_seed), args.eval_seed)
                for name in HEURISTICS
            ]
        return self._baseline_rows

    def checkpoint(self, model: Any) -> None:
        """The checkpoint file (``train.checkpoints``), then the pointer to it; old ones pruned."""
        from stable_baselines3.common.vec_env import VecNormalize

        step, folder = int(model.num_timesteps), self.run_dir / "checkpoints"
        env = model.get_env()
        data = checkpoints.checkpoint_bytes(model, step, time.monotonic() - self.started,
                                            env if isinstance(env, VecNormalize) else None)
        path = checkpoints.checkpoint_path(folder, step)
        write_atomic(path, data)
        write_json(folder / "latest.json", {"step": step, "checkpoint": path.name})
        for old in checkpoints.checkpoint_steps(folder)[KEEP_CHECKPOINTS:]:
            if old != step:
                checkpoints.checkpoint_path(folder, old).unlink(missing_ok=True)


if __name__ == "__main__":
    main()
