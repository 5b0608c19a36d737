"""``modenhub convert``: a trusted Stable-Baselines3 ``.zip`` model to the code-free model
file (``agents.learned``: safetensors weights and a JSON header)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

PICKLE_WARNING = "an SB3 .zip model is a pickle, and loading it runs whatever code its author put in it"


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register ``convert`` on the ``modenhub`` subcommands."""
    parser = subparsers.add_parser(
        "convert", help="convert a trusted SB3 .zip model to the safe model.safetensors format",
        description=f"Read an SB3 .zip model (PPO, A2C, MaskablePPO, with its modenhub.json or the config.json "
        f"of its run folder) and write the same policy as a model file that holds no code: safetensors "
        f"weights and a JSON header. Warning: {PICKLE_WARNING}; convert only files you trust, and say so "
        "with --trust-pickle.",
    )
    parser.add_argument("model", type=Path, help="the .zip model")
    parser.add_argument("--out", type=Path, default=None,
                        help="the model file to write (default: MODEL with the suffix .safetensors)")
    parser.add_argument("--trust-pickle", action="store_true",
                        help="required: confirm that you trust MODEL, whose loading can run any code")
    parser.set_defaults(func=_run)
    return parser


def _run(args: argparse.Namespace) -> None:
    if not args.trust_pickle:
        raise SystemExit(f"error: {args.model}: {PICKLE_WARNING}; pass --trust-pickle if you trust its source")
    from agents.learned import convert_zip

    target = args.out or args.model.with_suffix(".safetensors")
    if target.resolve() == args.model.resolve():
        raise SystemExit(f"error: --out {target} is the model itself; name another file")
    policy = convert_zip(args.model, target)
    print(f"wrote {target} ({policy.algo}, trained {policy.num_timesteps} steps on K={policy.config.request_slots}, "
          f"M={policy.config.prefetch_slots})")
