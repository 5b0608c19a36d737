"""Pictures of one hub of a batch: ``ansi`` text and an ``rgb_array`` image."""

from __future__ import annotations

from typing import Any

import numpy as np

from modenhub_env.core import HubCore


def render_ansi(core: HubCore, row: int, info: dict[str, Any]) -> str:
    """A text summary of env ``row``'s round."""
    state = core.state
    cfg = core.config
    pending = int(state.q_valid[row].sum())
    lines = [
        f"round {int(state.round[row])}  N={cfg.n_qpus}  pending {pending}  "
        f"cache {int((state.c_pair[row] >= 0).sum())}/{cfg.cache_size}",
    ]
    for key in ("served", "failed", "attempts", "cache_hits", "wasted"):
        if key in info:
            lines[0] += f"  {key} {info[key]:g}"
    return "\n".join(lines) + "\n"


def render_rgb(core: HubCore, row: int) -> np.ndarray:
    """An image of env ``row``: placeholder until the full viewer lands."""
    return np.zeros((64, 64, 3), dtype=np.uint8)
