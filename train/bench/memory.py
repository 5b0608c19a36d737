"""Memory per env of the native vector env: the core's packed buffers and tracemalloc's peak."""

from __future__ import annotations

import numpy as np

from modenhub_env.config import HubConfig
from modenhub_env.core import HubCore
from train.bench.measure import memory_pass
from train.bench.plan import MIB, TARGET_BATCH, Plan
from train.bench.steppers import modenhub_vector


def buffer_bytes(core: HubCore) -> tuple[int, int]:
    """Bytes of the arrays ``core`` owns (views not counted twice): those with a row per
    env, and those shared by the batch (the scenario's constants)."""
    per_env = shared = 0
    for value in vars(core).values():
        if isinstance(value, np.ndarray) and value.base is None:
            if value.ndim >= 1 and value.shape[0] == core.batch and core.batch > 1:
                per_env += value.nbytes
            else:
                shared += value.nbytes
    return per_env, shared


def memory_rows(plan: Plan, qpus: tuple[int, ...], batch: int = TARGET_BATCH) -> list[dict]:
    """One row per N: the paper preset's native vector env of ``batch`` envs, built, reset
    and stepped under tracemalloc; ``bytes_per_env`` is the core's per-env buffers."""
    rows = []
    for n in qpus:
        config = HubConfig.preset("paper", n_qpus=n)
        stepper, peak = memory_pass(lambda b, c=config: modenhub_vector(c, b, plan.seed), batch)
        core = stepper.core
        per_env, shared = buffer_bytes(core)
        stepper.close()
        rows.append({
            "section": "memory", "env": "modenhub_vector", "preset": "paper", "n_qpus": n, "batch": batch,
            "request_slots": config.request_slots, "bytes_per_env": per_env / batch, "peak_mem_mib": peak / MIB,
            "note": (
                f"core buffers {per_env / MIB:.1f} MiB for {batch} envs + {shared:,} B shared; "
                f"tracemalloc peak {peak / batch / 1024:.1f} KiB per env (queue {config.queue_size}, "
                f"cache entries {config.cache_size})"
            ),
        })
    return rows
