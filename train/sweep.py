"""``modenhub sweep``: a grid of ``modenhub train`` runs as Ray Tune trials, resumable.

Every grid point (seeds x presets x algorithms x hyperparameter values) is one training
run (:func:`train.training.train`), executed as one Ray Tune trial of a function
trainable. Ray runs on this machine by default (``ray.init()`` with its cores, or
``--num-cpus``) or on an existing cluster with ``--address`` (``auto``, or
``HEAD_IP:6379``). Ray is an optional extra: ``pip install 'modenhub[ray]'``.

The sweep file (YAML; every key is optional except that the grid must not be empty)::

    name: hotspot-lr          # sweep folder name (default: the file's name without .yaml)
    out: results/sweeps       # parent of the sweep folder, from the current folder (default)
    presets: [contention, hotspot]   # scenarios (default [contention]); see HubConfig presets
    algos: [maskable-ppo, ppo]       # ppo, maskable-ppo or a2c (default [maskable-ppo])
    seeds: [0, 1, 2]          # training seeds, distinct integers (default [0, 1, 2])
    timesteps: 200000         # env steps per run (default: modenhub train's, 200000)
    set:                      # HubConfig fields for every run (as modenhub train --set)
      w_attempt: 0.02
    train:                    # modenhub train options for every run (underscores, not dashes)
      n_envs: 16
      eval_every: 25000
    grid:                     # swept: the cartesian product of the lists
      learning_rate: [3.0e-4, 1.0e-3]   # any option allowed under train:
      set.t_coh: [8.0, .inf]            # or set.FIELD for a HubConfig field
    cpus_per_trial: 1         # Ray CPUs per trial, fractions allowed (default 1)
    max_concurrent: null      # most trials at once (default: as many as the CPUs allow)
    retries: 1                # times a failed trial is retried, resuming its run (default 1)

Options under ``train:`` and ``grid:`` are those of :class:`train.training.Args` except
the ones a sweep sets itself (preset, overrides, algo, seed, timesteps, out, run_name,
progress). A malformed file (unknown key, wrong type, empty list, unknown preset or
algorithm, bad config value) stops before anything runs, with an error naming the key and
what it allows. The command-line flags (``--presets``, ``--algos``, ``--seeds``,
``--timesteps``, ``--set``, ``--train``, ``--grid KEY=v1,v2``, ...) override the file's
keys, so a small sweep needs no file.

The sweep folder ``OUT/NAME/`` holds:

* ``sweep.json``: the validated sweep; ``runs/<preset>__<algo>__<seed>__<hash>/``: one
  ``modenhub train`` run folder per grid point (the hash is of the point's settings);
* ``ledger/<run>.json``: a finished point and its final metrics, written atomically by
  the driver when its trial completes;
* ``trials.csv``: one row per finished run (final evaluation of the learned policy and
  of the heuristics on the same seeds);
* ``summary.csv``, ``summary.md``, ``summary.png``: per grid point over seeds, the
  learned policy against the heuristics, 95% CIs over training seeds (Student t) for
  the learned policy and over evaluation episodes for the heuristics (which do not
  depend on the training seed);
* ``tune/``: Ray Tune's own experiment records.

Running the same command again resumes: points with a ledger entry are not rerun, and a
point whose run was interrupted continues from its last checkpoint (``modenhub train
--resume``). On a multi-node cluster, ``out`` must be a folder that every node sees at
the same path (for example NFS), since each trial writes its run folder where it runs.
"""

from __future__ import annotations

import argparse
import dataclasses
import difflib
import hashlib
import itertools
import json
import math
import sys
import time
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from train.files import save_figure, write_atomic, write_csv, write_json

INSTALL_HINT = "pip install 'modenhub[ray]'"
SPEC_KEYS = (
    "name", "out", "presets", "algos", "seeds", "timesteps", "set", "train", "grid",
    "cpus_per_trial", "max_concurrent", "retries",
)
#: Options of a training run that the sweep sets itself.
RESERVED_OPTIONS = ("preset", "overrides", "algo", "seed", "timesteps", "out", "run_name", "progress")
METRICS = ("reward", "success", "attempts")
CONFIG_PREFIX = "set."


class SweepError(ValueError):
    """A malformed sweep: the message names the key and what it allows."""


@dataclass(frozen=True)
class SweepSpec:
    """A validated sweep (see the module docstring for each key)."""

    name: str
    out: Path
    presets: tuple[str, ...] = ("contention",)
    algos: tuple[str, ...] = ("maskable-ppo",)
    seeds: tuple[int, ...] = (0, 1, 2)
    timesteps: int = 200_000  # [env steps per run]
    overrides: dict[str, Any] = field(default_factory=dict)
    train: dict[str, Any] = field(default_factory=dict)
    grid: dict[str, tuple[Any, ...]] = field(default_factory=dict)
    cpus_per_trial: float = 1.0
    max_concurrent: int | None = None
    retries: int = 1

    @property
    def folder(self) -> Path:
        return self.out / self.name

    def to_dict(self) -> dict[str, Any]:
        """The sweep as its YAML keys (JSON-ready)."""
        return {
            "name": self.name, "out": str(self.out), "presets": list(self.presets), "algos": list(self.algos),
            "seeds": list(self.seeds), "timesteps": self.timesteps, "set": dict(self.overrides),
            "train": dict(self.train), "grid": {k: list(v) for k, v in self.grid.items()},
            "cpus_per_trial": self.cpus_per_trial, "max_concurrent": self.max_concurrent, "retries": self.retries,
        }


# The sweep file.


def load_sweep_file(path: str | Path) -> dict[str, Any]:
    """The sweep file's mapping (YAML); a clear error if it cannot be read or is no mapping."""
    path = Path(path)
    try:
        import yaml
    except ImportError:
        raise SystemExit(f"error: reading a sweep file needs PyYAML; install it with {INSTALL_HINT}") from None
    try:
        text = path.read_text()
    except OSError as err:
        raise SweepError(f"{path}: cannot read the sweep file ({err.strerror})") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as err:
        raise SweepError(f"{path}: not valid YAML: {err}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise SweepError(f"{path}: a sweep file is a mapping of keys ({', '.join(SPEC_KEYS)}), got {type(data).__name__}")
    return data


def validate_spec(raw: Mapping[str, Any], source: str = "sweep", default_name: str = "sweep") -> SweepSpec:
    """Check every key of a sweep mapping and return the :class:`SweepSpec`.

    :param raw: the sweep file's mapping, with any command-line values merged in.
    :param source: where it came from, for the error messages (a file name).
    :param default_name: the sweep's name when ``raw`` has none.
    :raises SweepError: naming the key, the value and what is allowed.
    """
    from modenhub_env.config import PRESETS
    from train import training

    def fail(key: str, message: str) -> SweepError:
        return SweepError(f"{source}: key '{key}': {message}")

    for key in raw:
        if key not in SPEC_KEYS:
            raise SweepError(f"{source}: unknown key {key!r}{_did_you_mean(key, SPEC_KEYS)}; "
                             f"allowed keys: {', '.join(SPEC_KEYS)}")
    defaults = SweepSpec(name=default_name, out=Path("results/sweeps"), timesteps=training.Args().timesteps)
    name = _string(raw.get("name", defaults.name), "name", fail)
    if not name or "/" in name or name in (".", ".."):
        raise fail("name", f"expected a folder name (no '/'), got {name!r}")
    out = Path(_string(raw.get("out", str(defaults.out)), "out", fail))
    presets = _choices(raw.get("presets", list(defaults.presets)), "presets", sorted(PRESETS), fail)
    algos = _choices(raw.get("algos", list(defaults.algos)), "algos", list(training.ALGOS), fail)
    seeds = _distinct_list(raw.get("seeds", list(defaults.seeds)), "seeds", fail)
    for seed in seeds:
        if not _is_int(seed):
            raise fail("seeds", f"expected a list of integers, got {seed!r}")
    timesteps = raw.get("timesteps", defaults.timesteps)
    if not _is_int(timesteps) or timesteps < 1:
        raise fail("timesteps", f"expected a positive integer, got {timesteps!r}")
    options = training_options()
    overrides = _mapping(raw.get("set", {}), "set", fail)
    for key in overrides:
        _check_config_field(key, "set", fail)
    train = {key: _check_option(key, value, options, "train", fail)
             for key, value in _mapping(raw.get("train", {}), "train", fail).items()}
    grid: dict[str, tuple[Any, ...]] = {}
    for key, values in _mapping(raw.get("grid", {}), "grid", fail).items():
        values = _distinct_list(values, f"grid.{key}", fail)
        if key.startswith(CONFIG_PREFIX):
            _check_config_field(key[len(CONFIG_PREFIX):], "grid", fail)
            grid[key] = tuple(values)
        else:
            grid[key] = tuple(_check_option(key, v, options, "grid", fail) for v in values)
    cpus = raw.get("cpus_per_trial", defaults.cpus_per_trial)
    if isinstance(cpus, bool) or not isinstance(cpus, int | float) or not cpus > 0:
        raise fail("cpus_per_trial", f"expected a positive number of CPUs, got {cpus!r}")
    max_concurrent = raw.get("max_concurrent", defaults.max_concurrent)
    if max_concurrent is not None and (not _is_int(max_concurrent) or max_concurrent < 1):
        raise fail("max_concurrent", f"expected a positive integer or null, got {max_concurrent!r}")
    retries = raw.get("retries", defaults.retries)
    if not _is_int(retries) or retries < 0:
        raise fail("retries", f"expected a non-negative integer, got {retries!r}")
    spec = SweepSpec(name=name, out=out, presets=tuple(presets), algos=tuple(algos), seeds=tuple(seeds),
                     timesteps=timesteps, overrides=dict(overrides), train=train, grid=grid,
                     cpus_per_trial=float(cpus), max_concurrent=max_concurrent, retries=retries)
    _check_configs(spec, source)
    return spec


def _did_you_mean(word: str, allowed: typing.Iterable[str]) -> str:
    close = difflib.get_close_matches(str(word), list(allowed), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _string(value: Any, key: str, fail) -> str:
    if not isinstance(value, str):
        raise fail(key, f"expected a string, got {value!r}")
    return value


def _mapping(value: Any, key: str, fail) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise fail(key, f"expected a mapping of KEY: VALUE, got {value!r}")
    for name in value:
        if not isinstance(name, str):
            raise fail(key, f"expected string keys, got {name!r}")
    return dict(value)


def _distinct_list(value: Any, key: str, fail) -> list[Any]:
    if not isinstance(value, list):
        raise fail(key, f"expected a list such as [a, b], got {value!r}")
    if not value:
        raise fail(key, "is empty; give at least one value")
    for i, item in enumerate(value):
        if item in value[:i]:
            raise fail(key, f"repeats {item!r}")
    return value


def _choices(value: Any, key: str, allowed: list[str], fail) -> list[str]:
    values = _distinct_list(value, key, fail)
    for item in values:
        if item not in allowed:
            raise fail(key, f"unknown value {item!r}{_did_you_mean(item, allowed)}; allowed: {', '.join(allowed)}")
    return values


def _check_config_field(name: str, key: str, fail) -> None:
    from modenhub_env.config import field_names

    if name not in field_names():
        shown = f"{key}.{name}" if key == "set" else f"{key}.{CONFIG_PREFIX}{name}"
        raise fail(shown, f"unknown HubConfig field {name!r}{_did_you_mean(name, field_names())}; "
                   f"allowed: {', '.join(field_names())}")


@dataclass(frozen=True)
class _Option:
    """One ``modenhub train`` option a sweep may set: its type and the CLI's constraints."""

    kind: type  # int, float, bool or str
    optional: bool  # None allowed
    positive: bool  # the CLI requires >= 1
    choices: tuple[Any, ...] | None


def training_options() -> dict[str, _Option]:
    """The options allowed under ``train:`` and ``grid:``, read from ``train.training``:
    the fields of its ``Args`` (types) and its ``train`` parser (choices, positive ints)."""
    from train import training
    from train.options import positive_int

    hints = typing.get_type_hints(training.Args)
    subparsers = argparse.ArgumentParser().add_subparsers()
    actions = {action.dest: action for action in training.add_parser(subparsers)._actions}
    options = {}
    for f in dataclasses.fields(training.Args):
        if f.name in RESERVED_OPTIONS:
            continue
        kinds = [k for k in typing.get_args(hints[f.name]) or (hints[f.name],) if k is not type(None)]
        if len(kinds) != 1 or kinds[0] not in (int, float, bool, str):
            continue
        action = actions.get(f.name)
        options[f.name] = _Option(
            kind=kinds[0], optional=_allows_none(hints[f.name]),
            positive=action is not None and action.type is positive_int,
            choices=tuple(action.choices) if action is not None and action.choices else None,
        )
    return options


def _allows_none(hint: Any) -> bool:
    return isinstance(hint, types.UnionType) and type(None) in typing.get_args(hint)


def _check_option(key: str, value: Any, options: dict[str, _Option], section: str, fail) -> Any:
    """``value`` as the option's type (a YAML ``3e-4`` is a string: read as a float)."""
    if key not in options:
        if key in RESERVED_OPTIONS:
            raise fail(f"{section}.{key}", "set by the sweep itself (use the top-level keys presets, algos, seeds, "
                       "timesteps, set); allowed options: " + ", ".join(options))
        config_hint = f", or {CONFIG_PREFIX}FIELD for a HubConfig field" if section == "grid" else ""
        raise fail(f"{section}.{key}", f"unknown training option{_did_you_mean(key, options)}; allowed: "
                   f"{', '.join(options)}{config_hint}")
    option = options[key]
    if value is None and option.optional:
        return None
    if option.kind is float and isinstance(value, str):
        try:
            value = float(value)
        except ValueError:
            pass
    ok = {
        int: _is_int(value), bool: isinstance(value, bool), str: isinstance(value, str),
        float: isinstance(value, int | float) and not isinstance(value, bool),
    }[option.kind]
    if not ok:
        expected = {int: "an integer", float: "a number", bool: "true or false", str: "a string"}[option.kind]
        raise fail(f"{section}.{key}", f"expected {expected}{' or null' if option.optional else ''}, got {value!r}")
    if option.choices is not None and value not in option.choices:
        raise fail(f"{section}.{key}", f"unknown value {value!r}; allowed: {', '.join(map(str, option.choices))}")
    if option.positive and value < 1:
        raise fail(f"{section}.{key}", f"expected a positive integer, got {value!r}")
    return float(value) if option.kind is float else value


def _check_configs(spec: SweepSpec, source: str) -> None:
    """Build the HubConfig of every preset and config combination, so that a bad value
    stops the sweep before any trial starts."""
    from modenhub_env.config import HubConfig

    keys = [k for k in spec.grid if k.startswith(CONFIG_PREFIX)]
    for preset in spec.presets:
        for values in itertools.product(*(spec.grid[k] for k in keys)):
            overrides = {**spec.overrides, **{k[len(CONFIG_PREFIX):]: v for k, v in zip(keys, values, strict=True)}}
            try:
                HubConfig.preset(preset, **_config_values(overrides))
            except (ValueError, TypeError) as err:
                where = [f"set.{k}={v!r}" for k, v in spec.overrides.items()]
                where += [f"grid {k}={v!r}" for k, v in zip(keys, values, strict=True)]
                raise SweepError(f"{source}: keys 'set'/'grid': preset {preset!r} with {', '.join(where)}: {err}") from None


def _config_values(overrides: Mapping[str, Any]) -> dict[str, Any]:
    """YAML/JSON lists as the tuples HubConfig expects (per-QPU fibre lengths)."""
    return {k: tuple(v) if isinstance(v, list) else v for k, v in overrides.items()}


# Grid points.


def grid_points(spec: SweepSpec) -> list[dict[str, Any]]:
    """One JSON-ready point per run: ``run`` (its folder name), ``preset``, ``algo``,
    ``seed``, ``timesteps``, ``set`` and ``train`` (all settings), ``grid`` (the swept values)."""
    keys = list(spec.grid)
    points = []
    for preset, algo, values, seed in itertools.product(
        spec.presets, spec.algos, itertools.product(*(spec.grid[k] for k in keys)), spec.seeds
    ):
        swept = dict(zip(keys, values, strict=True))
        overrides = {**spec.overrides, **{k[len(CONFIG_PREFIX):]: v for k, v in swept.items() if k.startswith(CONFIG_PREFIX)}}
        options = {**spec.train, **{k: v for k, v in swept.items() if not k.startswith(CONFIG_PREFIX)}}
        settings = {"preset": preset, "algo": algo, "seed": seed, "timesteps": spec.timesteps,
                    "set": overrides, "train": options}
        digest = hashlib.sha1(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:8]
        points.append({"run": f"{preset}__{algo}__{seed}__{digest}", **settings, "grid": swept})
    return points


def group_label(point: Mapping[str, Any]) -> str:
    """The point without its seed: ``algo`` and the swept values."""
    swept = " ".join(f"{k}={_short(v)}" for k, v in point["grid"].items())
    return f"{point['algo']} {swept}".strip()


def _short(value: Any) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


# One trial.


def run_point(point: Mapping[str, Any], runs_dir: str | Path) -> dict[str, float]:
    """Train one grid point in ``runs_dir/<run>`` (the body of a trial; needs no Ray).

    A run folder left by an interrupted trial is continued from its last checkpoint
    (``train.training.resume``); a finished one (``model.zip`` present) is only read.
    Returns the final metrics (:func:`final_metrics`).
    """
    from train import training

    run_dir = Path(runs_dir) / point["run"]
    if (run_dir / "model.zip").is_file():
        return final_metrics(run_dir)
    if (run_dir / "config.json").is_file():
        training.resume(run_dir, timesteps=point["timesteps"], progress=False)
    else:
        args = training.Args(
            preset=point["preset"], overrides=_config_values(point["set"]), algo=point["algo"], seed=point["seed"],
            timesteps=point["timesteps"], out=str(run_dir.parent), run_name=point["run"], progress=False,
            **point["train"],
        )
        training.train(args)
    return final_metrics(run_dir)


def final_metrics(run_dir: Path) -> dict[str, float]:
    """The last evaluation of a run: ``step``, ``wall_seconds`` and ``<policy>_<metric>``,
    ``_lo``, ``_hi`` for the learned policy and each heuristic."""
    from train import training

    rows = training.read_metrics(run_dir / "metrics.csv")
    if not rows:
        raise RuntimeError(f"{run_dir}: the run finished without an evaluation in metrics.csv")
    step = max(int(r["step"]) for r in rows)
    metrics: dict[str, float] = {"step": float(step)}
    for row in rows:
        if int(row["step"]) != step:
            continue
        if row["policy"] == "learned":
            metrics["wall_seconds"] = float(row["wall_seconds"])
        for key in METRICS:
            for suffix in ("", "_lo", "_hi"):
                metrics[f"{row['policy']}_{key}{suffix}"] = float(row[f"{key}{suffix}"])
    return metrics


def _trainable(config: dict[str, Any]) -> None:
    """The Ray Tune function trainable: one point, one report at the end."""
    metrics = run_point(config["point"], config["runs_dir"])
    _ray_api()["report"]({"final": metrics, "done": True})


# The ledger of finished points.


def ledger_path(sweep_dir: Path, run: str) -> Path:
    return sweep_dir / "ledger" / f"{run}.json"


def record_finished(sweep_dir: Path, point: Mapping[str, Any], metrics: Mapping[str, float]) -> None:
    """Mark ``point`` finished, atomically, so that a resumed sweep skips it."""
    write_json(ledger_path(sweep_dir, point["run"]),
               {"point": dict(point), "metrics": dict(metrics), "finished": time.strftime("%Y-%m-%dT%H:%M:%S")})


def finished_points(sweep_dir: Path, points: list[dict[str, Any]]) -> dict[str, dict[str, float]]:
    """Run name -> final metrics of the ``points`` whose ledger entry is whole."""
    done = {}
    for point in points:
        path = ledger_path(sweep_dir, point["run"])
        try:
            entry = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        if entry.get("point") == point and isinstance(entry.get("metrics"), dict):
            done[point["run"]] = entry["metrics"]
    return done


# Ray.


def require_ray() -> None:
    """Exit with how to install Ray when it is missing."""
    try:
        import ray  # noqa: F401
        from ray import tune  # noqa: F401
    except ImportError as err:
        raise SystemExit(
            f"error: modenhub sweep runs its trials on Ray Tune, which is not installed ({err.msg}).\n"
            f"Install the optional extra: {INSTALL_HINT}"
        ) from None


def _ray_api() -> dict[str, Any]:
    """Tune's report, RunConfig and FailureConfig (in ray.tune since Ray 2.41, ray.train before)."""
    try:
        from ray.tune import FailureConfig, RunConfig, report
    except ImportError:
        from ray.train import FailureConfig, RunConfig, report
    return {"report": report, "RunConfig": RunConfig, "FailureConfig": FailureConfig}


def _trial_name(trial: Any) -> str:
    return trial.config["point"]["run"]


@dataclass
class SweepOutcome:
    """What one invocation did with the grid points."""

    folder: Path
    ran: list[str]  # finished in this invocation
    skipped: list[str]  # finished before, not rerun
    failed: dict[str, str]  # run -> error (after the retries)
    interrupted: list[str]  # stopped without an error (Ctrl-C): resumable
    rows: list[dict[str, Any]]  # summary rows


def run_sweep(spec: SweepSpec, address: str | None = None, num_cpus: int | None = None,
              verbose: int = 1) -> SweepOutcome:
    """Run the grid points without a ledger entry on Ray Tune, then aggregate.

    :param spec: the validated sweep.
    :param address: an existing Ray cluster (``auto`` or ``HOST:PORT``); ``None`` starts Ray
        on this machine. If Ray is initialised already (as in tests), that session is used.
    :param num_cpus: CPUs of the local Ray instance (``None``: all cores); not with ``address``.
    :param verbose: Tune's verbosity (0 silent, 1 status, 2 trial results).
    """
    if address is not None and num_cpus is not None:
        raise ValueError("num_cpus applies to a local Ray instance; a cluster's CPUs are set by `ray start`")
    sweep_dir = spec.folder.resolve()
    points = grid_points(spec)
    write_json(sweep_dir / "sweep.json", spec.to_dict())
    done = finished_points(sweep_dir, points)
    pending = [p for p in points if p["run"] not in done]
    failed: dict[str, str] = {}
    if pending:
        failed = _run_on_tune(pending, spec, sweep_dir, address, num_cpus, verbose)
    finished = finished_points(sweep_dir, points)
    rows = aggregate(spec, points, finished, sweep_dir)
    return SweepOutcome(
        folder=sweep_dir, ran=[p["run"] for p in pending if p["run"] in finished],
        skipped=[p["run"] for p in points if p["run"] in done], failed=failed,
        interrupted=[p["run"] for p in pending if p["run"] not in finished and p["run"] not in failed], rows=rows,
    )


def _run_on_tune(pending: list[dict[str, Any]], spec: SweepSpec, sweep_dir: Path, address: str | None,
                 num_cpus: int | None, verbose: int) -> dict[str, str]:
    """The pending points as one Tune experiment; returns run -> error of the failed ones
    (a trial stopped by Ctrl-C has no error and no result: it is interrupted, not failed)."""
    require_ray()
    import ray
    from ray import tune

    api = _ray_api()
    started_here = not ray.is_initialized()
    if started_here:
        ray.init(address=address or "local", num_cpus=num_cpus, include_dashboard=False,
                 log_to_driver=verbose > 0, logging_level="WARNING")

    class LedgerCallback(tune.Callback):
        """Writes a point's ledger entry on the driver as soon as its trial completes."""

        def on_trial_complete(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
            result = trial.last_result or {}
            if result.get("done") and isinstance(result.get("final"), dict):
                record_finished(sweep_dir, trial.config["point"], result["final"])

    try:
        tuner = tune.Tuner(
            tune.with_resources(_trainable, {"cpu": spec.cpus_per_trial}),
            param_space={"point": tune.grid_search(pending), "runs_dir": str(sweep_dir / "runs")},
            tune_config=tune.TuneConfig(max_concurrent_trials=spec.max_concurrent, trial_name_creator=_trial_name,
                                        trial_dirname_creator=_trial_name),
            run_config=api["RunConfig"](
                name=time.strftime("%Y%m%d-%H%M%S"), storage_path=str(sweep_dir / "tune"), verbose=verbose,
                callbacks=[LedgerCallback()], failure_config=api["FailureConfig"](max_failures=spec.retries),
            ),
        )
        results = tuner.fit()
        failed = {}
        for result in results:
            point = result.config["point"]
            final = (result.metrics or {}).get("final")
            if result.error is not None:
                failed[point["run"]] = str(result.error)
            elif isinstance(final, dict):
                record_finished(sweep_dir, point, final)  # in case the callback missed it
        return failed
    finally:
        if started_here:
            ray.shutdown()


# Aggregation.

# Student t quantiles t_{0.975, df} for df = 1..30; beyond, a Cornish-Fisher expansion.
_T975 = (12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160, 2.145,
         2.131, 2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048,
         2.045, 2.042)


def t_quantile_975(df: int) -> float:
    """The 97.5% quantile of Student's t with ``df`` degrees of freedom."""
    if df < 1:
        return math.nan
    if df <= len(_T975):
        return _T975[df - 1]
    z = 1.959963984540054
    return z + (z**3 + z) / (4 * df) + (5 * z**5 + 16 * z**3 + 3 * z) / (96 * df**2)


def seed_interval(values: list[float]) -> tuple[float, float, float]:
    """Mean over seeds with its 95% Student t interval (``nan`` bounds for one seed)."""
    n = len(values)
    if n == 0:
        return math.nan, math.nan, math.nan
    mean = sum(values) / n
    if n < 2:
        return mean, math.nan, math.nan
    sd = math.sqrt(sum((v - mean) ** 2 for v in values) / (n - 1))
    half = t_quantile_975(n - 1) * sd / math.sqrt(n)
    return mean, mean - half, mean + half


def trial_columns(spec: SweepSpec, heuristics: list[str]) -> list[str]:
    cols = ["run", "preset", "algo", "seed", *spec.grid, "step", "wall_seconds"]
    for policy in ["learned", *heuristics]:
        cols += [f"{policy}_{m}{s}" for m in METRICS for s in ("", "_lo", "_hi")]
    return cols


def summary_columns(spec: SweepSpec, heuristics: list[str]) -> list[str]:
    cols = ["preset", "algo", *spec.grid, "seeds", "seeds_planned"]
    cols += [f"learned_{m}{s}" for m in METRICS for s in ("", "_lo", "_hi")]
    for policy in heuristics:
        cols += [f"{policy}_{m}{s}" for m in METRICS for s in ("", "_lo", "_hi")]
    return cols + ["best_heuristic", "learned_minus_best_reward"]


def aggregate(spec: SweepSpec, points: list[dict[str, Any]], finished: Mapping[str, Mapping[str, float]],
              sweep_dir: Path) -> list[dict[str, Any]]:
    """Write ``trials.csv``, ``summary.csv``, ``summary.md`` and ``summary.png``; return the
    summary rows (one per grid point over seeds, for the finished points)."""
    heuristics = _heuristics(finished)
    trials = [{"run": p["run"], "preset": p["preset"], "algo": p["algo"], "seed": p["seed"], **p["grid"],
               **finished[p["run"]]} for p in points if p["run"] in finished]
    write_csv(sweep_dir / "trials.csv", trials, trial_columns(spec, heuristics))
    groups: dict[tuple, list[dict[str, Any]]] = {}
    for point in points:
        key = (point["preset"], point["algo"], json.dumps(point["grid"], sort_keys=True))
        groups.setdefault(key, []).append(point)
    rows = []
    for group in groups.values():
        done = [finished[p["run"]] for p in group if p["run"] in finished]
        if not done:
            continue
        first = group[0]
        row: dict[str, Any] = {"preset": first["preset"], "algo": first["algo"], **first["grid"],
                               "seeds": len(done), "seeds_planned": len(group), "label": group_label(first)}
        for m in METRICS:
            per_seed = [d[f"learned_{m}"] for d in done]
            mean, lo, hi = seed_interval(per_seed)
            if m == "success":  # a rate: the t interval may not leave [0, 1]
                lo, hi = max(lo, 0.0), min(hi, 1.0)
            row[f"learned_{m}"], row[f"learned_{m}_lo"], row[f"learned_{m}_hi"] = mean, lo, hi
            row[f"learned_{m}_per_seed"] = per_seed
            for policy in heuristics:
                for s in ("", "_lo", "_hi"):
                    row[f"{policy}_{m}{s}"] = _mean([d.get(f"{policy}_{m}{s}", math.nan) for d in done])
        best = max(heuristics, key=lambda h: row[f"{h}_reward"], default=None)
        row["best_heuristic"] = best or ""
        row["learned_minus_best_reward"] = row["learned_reward"] - row[f"{best}_reward"] if best else math.nan
        rows.append(row)
    write_csv(sweep_dir / "summary.csv", rows, summary_columns(spec, heuristics))
    write_atomic(sweep_dir / "summary.md", format_summary(spec, rows, len(points), len(trials)) + "\n")
    if rows:
        plot_summary(spec, rows, heuristics, sweep_dir / "summary.png")
    return rows


def _heuristics(finished: Mapping[str, Mapping[str, float]]) -> list[str]:
    names: list[str] = []
    for metrics in finished.values():
        for key in metrics:
            policy = key[: -len("_reward")] if key.endswith("_reward") else None
            if policy and policy != "learned" and policy not in names:
                names.append(policy)
    return names


def _mean(values: list[float]) -> float:
    return sum(values) / len(values) if values else math.nan


def _cell(row: Mapping[str, Any], key: str) -> str:
    value, lo, hi = row[key], row.get(f"{key}_lo", math.nan), row.get(f"{key}_hi", math.nan)
    if math.isnan(value):
        return "-"
    if math.isnan(lo):
        return f"{value:.3g}"
    return f"{value:.3g} [{lo:.3g}, {hi:.3g}]"


def format_summary(spec: SweepSpec, rows: list[dict[str, Any]], planned: int, finished: int) -> str:
    """The Markdown summary: learned policy against the best heuristic per grid point."""
    lines = [
        f"Sweep `{spec.name}`: {finished} of {planned} runs finished, {spec.timesteps} timesteps each. "
        "Final evaluation; learned: mean over training seeds with a 95% Student t interval; "
        "heuristics: 95% interval over evaluation episodes (they do not depend on the training seed).",
    ]
    if "paper" in spec.presets:
        lines.append("The paper preset is a reconstruction calibrated to the paper's headline results.")
    lines += ["", "| preset | grid point | seeds | learned reward | learned success | best heuristic | "
              "its reward | learned - best |", "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        best = r["best_heuristic"]
        lines.append(
            f"| {r['preset']} | {r['label']} | {r['seeds']}/{r['seeds_planned']} | {_cell(r, 'learned_reward')} | "
            f"{_cell(r, 'learned_success')} | {best or '-'} | {_cell(r, f'{best}_reward') if best else '-'} | "
            f"{r['learned_minus_best_reward']:.3g} |"
        )
    return "\n".join(lines)


def plot_summary(spec: SweepSpec, rows: list[dict[str, Any]], heuristics: list[str], path: Path) -> None:
    """Per preset (columns), reward and success rate (rows) of the learned policy and each
    heuristic at every grid point, with the 95% intervals as error bars."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    presets = [p for p in spec.presets if any(r["preset"] == p for r in rows)]
    policies = ["learned", *heuristics]
    colours = dict(zip(heuristics, itertools.cycle(_HEURISTIC_COLOURS)), learned="tab:red")
    fig, axes = plt.subplots(2, len(presets), figsize=(max(5.0, 1.4 * _widest(rows, presets)) * len(presets), 7),
                             squeeze=False)
    width = 0.8 / len(policies)
    for col, preset in enumerate(presets):
        mine = [r for r in rows if r["preset"] == preset]
        for row_index, metric in enumerate(("reward", "success")):
            ax = axes[row_index][col]
            for i, policy in enumerate(policies):
                xs = [j + (i - (len(policies) - 1) / 2) * width for j in range(len(mine))]
                values = [r[f"{policy}_{metric}"] for r in mine]
                errors = [[_gap(r, policy, metric, "lo") for r in mine], [_gap(r, policy, metric, "hi") for r in mine]]
                ax.bar(xs, values, width, yerr=errors, capsize=3, label=policy, color=colours[policy],
                       alpha=1.0 if policy == "learned" else 0.75)
                if policy == "learned":  # each seed's final value
                    for x, r in zip(xs, mine, strict=True):
                        seeds = r[f"learned_{metric}_per_seed"]
                        ax.plot([x] * len(seeds), seeds, "k.", markersize=4, label="_seeds")
            ax.set_xticks(range(len(mine)))
            ax.set_xticklabels([r["label"] for r in mine], rotation=30, ha="right", fontsize=8)
            ax.set_ylabel("episode reward" if metric == "reward" else "success rate")
            if row_index == 0:
                ax.set_title(preset)
            ax.grid(axis="y", alpha=0.3)
    axes[0][0].legend(fontsize=8)
    fig.suptitle(f"sweep {spec.name}: learned (dots: seeds; 95% CI over seeds) vs handcrafted "
                 "(95% CI over evaluation episodes)", fontsize=10)
    fig.tight_layout()
    save_figure(fig, path)
    plt.close(fig)


_HEURISTIC_COLOURS = ("tab:blue", "tab:orange", "tab:green", "tab:purple", "tab:brown", "tab:gray", "tab:olive")


def _widest(rows: list[dict[str, Any]], presets: list[str]) -> int:
    return max(sum(r["preset"] == p for r in rows) for p in presets)


def _gap(row: Mapping[str, Any], policy: str, metric: str, side: str) -> float:
    bound = row[f"{policy}_{metric}_{side}"]
    if math.isnan(bound):
        return 0.0
    return max(0.0, row[f"{policy}_{metric}"] - bound if side == "lo" else bound - row[f"{policy}_{metric}"])


# The command.

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


if __name__ == "__main__":
    main()
