"""The batched state of the simulation: plain numpy arrays with a leading batch axis ``B``.

``Q`` is the queue size, ``C`` the cache size and ``M`` the prefetch slots (see
``HubConfig.queue_size``, ``cache_size`` and ``prefetch_slots``). Pair codes are
``a * N + b`` with ``a < b``; -1 marks an empty entry.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np

#: Per-env counters of one round (and summed over an episode), in ``info``.
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


@dataclass
class HubState:
    """Every array has the batch axis first; shapes and units in the comments."""

    round: np.ndarray  # (B,) int64 [rounds] since the episode began
    key: np.ndarray  # (B,) uint64 random key of the episode
    issued: np.ndarray  # (B,) int64 requests issued (sequential) or trace rows read
    q_valid: np.ndarray  # (B, Q) bool pending request in the slot; packed, oldest first
    q_a: np.ndarray  # (B, Q) int64 QPU a of the request
    q_b: np.ndarray  # (B, Q) int64 QPU b of the request
    q_arrival: np.ndarray  # (B, Q) int64 [rounds] arrival round
    q_deadline: np.ndarray  # (B, Q) int64 [rounds] first round the request has failed by
    q_attempts: np.ndarray  # (B, Q) int64 [attempts] spent on the request so far
    q_reserved: np.ndarray  # (B, Q) int64 cache entry that serves it next round, or -1
    c_pair: np.ndarray  # (B, C) int64 pair code of the cached ebit, or -1
    c_birth: np.ndarray  # (B, C) int64 [rounds] round the ebit was heralded
    r_pair: np.ndarray  # (B, M) int64 recently requested pairs, newest first, or -1
    r_round: np.ndarray  # (B, M) int64 [rounds] round each was last requested
    totals: dict[str, np.ndarray]  # COUNTERS -> (B,) float64 sums over the episode
    latency_hist: np.ndarray  # (B, L) int64 served requests by latency [rounds], L = max budget

    @staticmethod
    def empty(batch: int, queue: int, cache: int, prefetch: int, max_budget: int) -> HubState:
        def full(shape, value, dtype=np.int64):
            return np.full(shape, value, dtype=dtype)

        return HubState(
            round=full(batch, 0),
            key=full(batch, 0, np.uint64),
            issued=full(batch, 0),
            q_valid=full((batch, queue), False, bool),
            q_a=full((batch, queue), 0),
            q_b=full((batch, queue), 0),
            q_arrival=full((batch, queue), 0),
            q_deadline=full((batch, queue), 0),
            q_attempts=full((batch, queue), 0),
            q_reserved=full((batch, queue), -1),
            c_pair=full((batch, cache), -1),
            c_birth=full((batch, cache), 0),
            r_pair=full((batch, prefetch), -1),
            r_round=full((batch, prefetch), 0),
            totals={name: np.zeros(batch) for name in COUNTERS},
            latency_hist=full((batch, max_budget), 0),
        )

    def clear(self, rows: np.ndarray, template: HubState) -> None:
        """Reset the rows selected by the boolean ``rows`` to ``template``'s first row."""
        for f in fields(self):
            mine, theirs = getattr(self, f.name), getattr(template, f.name)
            if isinstance(mine, dict):
                for name in mine:
                    mine[name][rows] = theirs[name][0]
            else:
                mine[rows] = theirs[0]
