"""Command-line pieces shared by the ``modenhub`` subcommands."""

from __future__ import annotations

import argparse
import json
import math
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from modenhub_env.config import PRESETS, HubConfig, field_names, nearest_field


def parse_override(text: str) -> tuple[str, Any]:
    """``FIELD=VALUE`` with VALUE as JSON (numbers, lists, null), ``inf``/``none``, or a string."""
    if "=" not in text:
        raise argparse.ArgumentTypeError(f"expected FIELD=VALUE, got {text!r}")
    name, raw = (part.strip() for part in text.split("=", 1))
    if name not in field_names():
        close = nearest_field(name)
        hint = f" (did you mean {close!r}?)" if close else ""
        raise argparse.ArgumentTypeError(f"unknown config field {name!r}{hint}; allowed: {', '.join(field_names())}")
    lowered = raw.lower()
    if lowered in ("inf", "infinity"):
        return name, math.inf
    if lowered in ("none", "null"):
        return name, None
    try:
        value = json.loads(raw)
    except json.JSONDecodeError:
        return name, raw
    return name, tuple(value) if isinstance(value, list) else value


def add_config_options(parser: argparse.ArgumentParser, default_preset: str) -> None:
    parser.add_argument(
        "--preset", default=default_preset, choices=sorted(PRESETS),
        help=f"scenario to start from (default: {default_preset}); see the README's preset table",
    )
    parser.add_argument(
        "--set", dest="overrides", metavar="FIELD=VALUE", action="append", type=parse_override, default=[],
        help="override a HubConfig field, repeatable (e.g. --set cache_capacity=0 --set t_coh=inf); "
        f"fields: {', '.join(field_names())}",
    )


#: Config fields each workload never reads (``modenhub_env.core``): a ``--set`` of one of
#: them is a mistake. Presets may carry them; only the command line is checked.
CIRCUIT_FIELDS = ("circuit", "qpu_capacity", "placement", "placement_seed", "local_rounds")
IGNORED_BY_WORKLOAD: dict[str, tuple[str, ...]] = {
    "sequential": ("arrival_rate", "queue_capacity", "trace_path", *CIRCUIT_FIELDS),
    "poisson": ("episode_requests", "trace_path", *CIRCUIT_FIELDS),
    "trace": ("round_budget", "episode_requests", "arrival_rate", "zipf_exponent", "popularity_seed",
              *CIRCUIT_FIELDS),
    "circuit": ("round_budget", "episode_requests", "arrival_rate", "zipf_exponent", "popularity_seed",
                "trace_path", "w_fail"),
}


def check_overrides_apply(config: HubConfig, overrides: Iterable[str]) -> None:
    """A ``ValueError`` naming the first field of ``overrides`` that ``config``'s workload
    ignores, and the fields that workload does not read."""
    ignored = IGNORED_BY_WORKLOAD.get(config.workload, ())
    for name in overrides:
        if name in ignored:
            raise ValueError(
                f"--set {name}: workload {config.workload!r} ignores it (it ignores {', '.join(ignored)}); "
                "drop it, or also --set workload=... to one that reads it"
            )


def config_from(args: argparse.Namespace) -> HubConfig:
    """The preset with the ``--set`` overrides; a bad value (``ValueError``), an unknown
    field (``TypeError``) or a field the workload ignores exits with a one-line message."""
    try:
        config = HubConfig.preset(args.preset, **dict(args.overrides))
        check_overrides_apply(config, [name for name, _ in args.overrides])
    except (ValueError, TypeError) as err:
        raise SystemExit(f"error: {err}") from None
    return config


def int_list(text: str) -> tuple[int, ...]:
    """``1,2,4`` -> ``(1, 2, 4)``."""
    try:
        values = tuple(int(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, got {text!r}") from None
    if not values:
        raise argparse.ArgumentTypeError("expected at least one integer")
    return values


def n_values(text: str) -> tuple[int, ...]:
    """Numbers of QPUs (``--over-n``, ``--mix-n``), distinct and in increasing order:
    ``32,8,16`` -> ``(8, 16, 32)``."""
    values = int_list(text)
    bad = [n for n in values if n < 1]
    if bad:
        raise argparse.ArgumentTypeError(f"expected positive numbers of QPUs, got {bad} in {text!r}")
    return tuple(sorted(set(values)))


def at_each_n(config: HubConfig, ns: Iterable[int], scenario: str) -> list[HubConfig]:
    """``config`` with ``n_qpus`` set to each of ``ns`` (``--over-n``, ``--mix-n``).

    :param scenario: how an error names the scenario, e.g. ``"--mix-n: the scenario (N=16)"``.
    :raises ValueError: a scenario that cannot have one of ``ns`` (e.g. one ``fibre_km``
        per QPU), naming it and that N.
    """
    configs = []
    for n in ns:
        try:
            configs.append(config.replace(n_qpus=n))
        except ValueError as err:
            raise ValueError(f"{scenario} cannot run at N={n}: {err}") from None
    return configs


def positive_float(text: str) -> float:
    """A finite number above 0."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}") from None
    if not value > 0 or math.isinf(value):
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}")
    return value


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {value}")
    return value


def add_out_option(parser: argparse.ArgumentParser, command: str, regenerates: str = "the committed tables") -> None:
    """``--out``: by default a fresh ``runs/<command>-<time>-<suffix>/`` folder, never the
    committed results unless asked for.

    :param command: the command's name, in the default folder's name.
    :param regenerates: what ``--out results`` rewrites.
    """
    parser.add_argument("--out", type=Path, default=None,
                        help=f"output folder (default: a fresh runs/{command}-<time>-<suffix>/; --out results "
                        f"regenerates {regenerates})")


def add_trust_pickle_option(parser: argparse.ArgumentParser, what: str) -> None:
    """``--trust-pickle``: accept Stable-Baselines3 zips, whose loading can run any code.

    :param what: which files it lets in, e.g. "SB3 .zip models in --policies".
    """
    parser.add_argument("--trust-pickle", action="store_true",
                        help=f"accept {what}: loading one runs any code it holds, so only for files you trust "
                        "(or convert them once with modenhub convert)")
