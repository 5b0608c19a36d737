"""The batched state of the simulation: named views, with a leading batch axis ``B``, of
the few packed arrays that the compiled kernels (:mod:`modenhub_env.kernels`) step.

``Q`` is the queue size, ``C`` the cache size, ``M`` the prefetch slots and ``L`` the
longest round budget (see ``HubConfig.queue_size``, ``cache_size`` and
``prefetch_slots``); for the circuit workload ``G`` is the number of non-local gates and
``P`` the size of the pool of released gates (0 for other workloads). Pair codes are ``a * N + b`` with ``a < b``; -1 marks an empty entry.
The views may be changed in place (tests build states by hand that way), never rebound;
``HubCore`` rebuilds the cache's index before its next step once its ``state`` was handed out.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import accumulate

import numpy as np

from modenhub_env import kernels

#: Per-env counters of one round (and summed over an episode), in ``info``; the order is
#: that of the kernels' ``out`` columns from ``kernels.O_COUNTERS`` on.
COUNTERS = (
    "arrived",  # [requests] joined the queue or were rejected
    "served",  # [requests] served by a fresh or a cached ebit
    "failed",  # [requests] reached their deadline unserved
    "rejected",  # [requests] found the queue full
    "attempts",  # [attempts] launched for requests
    "prefetch_attempts",  # [attempts] launched for prefetch candidates
    "clipped_attempts",  # [attempts] asked for but not launched (masked or over capacity)
    "cache_hits",  # [requests] served from the cache at zero attempts
    "cached",  # [ebits] stored in the cache
    "wasted",  # [ebits] heralded but neither consumed nor stored
    "expired",  # [ebits] discarded by the cutoff or the fidelity floor
    "fidelity_sum",  # sum of the fidelities of the ebits that served requests
    "latency_sum",  # [rounds] sum over served requests of (round served - arrival)
    "attempts_sq_sum",  # [attempts^2] sum over served and failed requests of their attempts squared
)


@dataclass(frozen=True)
class Layout:
    """Where each per-env array lies in a row of the packed ``ints`` array."""

    queue: int  # Q
    cache: int  # C
    prefetch: int  # M
    max_budget: int  # L [rounds]
    hash_slots: int  # H, slots of the cache index's hash table (0 without a cache)
    gates: int = 0  # G, non-local gates of a circuit
    pool: int = 0  # P, released gates of a circuit that may wait outside the queue at once

    def sizes(self) -> dict[str, int]:
        """Entries of each per-env array, in the order they are packed after the header
        (``kernels.S_*``); the last two are the cache's index, which ``HubState`` does not
        show. ``circuit_end`` and ``g_pooled`` are one entry each, shown as ``(B,)``."""
        q, c, m, g = self.queue, self.cache, self.prefetch, self.gates
        return {
            "q_a": q, "q_b": q, "q_arrival": q, "q_deadline": q, "q_attempts": q, "q_reserved": q,
            "c_pair": c, "c_birth": c, "r_pair": m, "r_round": m, "latency_hist": self.max_budget,
            "q_gate": q, "g_waiting": g, "g_ready": g, "g_served": g, "g_age": g, "g_pool": self.pool,
            "circuit_end": 1, "g_pooled": 1,
            "c_next": c, "c_hash": 2 * self.hash_slots,
        }

    def offsets(self) -> dict[str, int]:
        """Column of the first entry of each array."""
        sizes = self.sizes()
        return dict(zip(sizes, accumulate(sizes.values(), initial=kernels.S_HEAD), strict=False))

    @property
    def width(self) -> int:
        """Columns of a row of ``ints``."""
        return kernels.S_HEAD + sum(self.sizes().values())


@dataclass
class HubState:
    """Every array has the batch axis first; shapes and units in the comments."""

    round: np.ndarray  # (B,) int64 [rounds] since the episode began
    key: np.ndarray  # (B,) uint64 random key of the episode
    issued: np.ndarray  # (B,) int64 requests issued (sequential), trace rows read or gates done (circuit)
    q_valid: np.ndarray  # (B, Q) bool pending request in the slot; packed, oldest first (the q_* fields
    # of a slot that is not pending are left over from earlier requests and mean nothing, but q_gate: -1)
    q_a: np.ndarray  # (B, Q) int64 QPU a of the request
    q_b: np.ndarray  # (B, Q) int64 QPU b of the request
    q_arrival: np.ndarray  # (B, Q) int64 [rounds] arrival round
    q_deadline: np.ndarray  # (B, Q) int64 [rounds] first round the request has failed by
    q_attempts: np.ndarray  # (B, Q) int64 [attempts] spent on the request so far
    q_reserved: np.ndarray  # (B, Q) int64 cache entry that serves it next round, or -1
    c_pair: np.ndarray  # (B, C) int64 pair code of the cached ebit, or -1
    c_birth: np.ndarray  # (B, C) int64 [rounds] round the ebit was heralded
    r_pair: np.ndarray  # (B, M) int64 recently requested pairs, newest first, or -1; circuit: upcoming gates' pairs
    r_round: np.ndarray  # (B, M) int64 [rounds] round each was last requested; circuit: may be pending by
    totals: dict[str, np.ndarray]  # COUNTERS -> (B,) float64 sums over the episode
    latency_hist: np.ndarray  # (B, L) int64 served requests by latency [rounds], L = max budget (last bin: or more)
    # The circuit workload (``docs/model.md#circuit-workload``); empty (G = P = 0) for the others.
    q_gate: np.ndarray  # (B, Q) int64 gate of the request in the slot, -1 if none
    g_waiting: np.ndarray  # (B, G) int64 predecessors of each gate not done yet
    g_ready: np.ndarray  # (B, G) int64 [rounds] earliest round each gate may be pending, given those done
    g_served: np.ndarray  # (B, G) int64 [rounds] round each gate's request was served, -1 if not yet
    g_age: np.ndarray  # (B, G) int64 [rounds] age of the ebit that served each gate (0: fresh)
    g_pool: np.ndarray  # (B, P) int64 released gates not in the queue yet (the first g_pooled)
    circuit_end: np.ndarray  # (B,) int64 [rounds] the round the circuit can end by, given the gates done
    g_pooled: np.ndarray  # (B,) int64 gates in g_pool

    @staticmethod
    def over(ints: np.ndarray, valid: np.ndarray, keys: np.ndarray, totals: np.ndarray, layout: Layout) -> HubState:
        """Named views of the packed arrays: ``ints`` (B, W) int64, ``valid`` (B, Q) bool,
        ``keys`` (B,) uint64 and ``totals`` (B, len(COUNTERS)) float64."""
        at = layout.offsets()
        shown = {name: size for name, size in layout.sizes().items() if name not in ("c_next", "c_hash")}
        blocks = {name: ints[:, at[name] : at[name] + size] for name, size in shown.items()}
        for name in ("circuit_end", "g_pooled"):
            blocks[name] = blocks[name][:, 0]
        return HubState(
            round=ints[:, kernels.S_ROUND],
            key=keys,
            issued=ints[:, kernels.S_ISSUED],
            q_valid=valid,
            totals={name: totals[:, col] for col, name in enumerate(COUNTERS)},
            **blocks,
        )
