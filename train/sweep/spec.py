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
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

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
                HubConfig.preset(preset, **config_values(overrides))
            except (ValueError, TypeError) as err:
                where = [f"set.{k}={v!r}" for k, v in spec.overrides.items()]
                where += [f"grid {k}={v!r}" for k, v in zip(keys, values, strict=True)]
                raise SweepError(f"{source}: keys 'set'/'grid': preset {preset!r} with {', '.join(where)}: {err}") from None


def config_values(overrides: Mapping[str, Any]) -> dict[str, Any]:
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
