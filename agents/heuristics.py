"""Handcrafted schedulers: the paper's two heuristics (``docs/model.md#heuristics``), a
slack-aware baseline for contention and critical-path-first for circuits.

Each decides from the observation alone and keeps the total of a round within the hub
capacity ``S`` itself, so the env clips none of its attempts unless per-QPU limits
``c_i`` bind (the observation describes requests, not QPUs, so a policy cannot see two
slots sharing a QPU).
"""

from __future__ import annotations

import math

import numpy as np

from agents.base import KernelPolicy
from modenhub_env import kernels
from modenhub_env.config import HubConfig


class SequentialPolicy(KernelPolicy):
    """The paper's sequential baseline: each round one attempt for the oldest pending
    request that may launch one (the first present slot with a non-zero limit; slots hold
    the ``K`` oldest requests in order), nothing for any other slot, no prefetch.

    One attempt serves at most its own request, so this policy never fills the cache.

    :param config: the scenario.
    """

    kernel = kernels.SEQUENTIAL


class LogParallelPolicy(KernelPolicy):
    """The paper's log-parallel orchestrator: cache first (a request served from the cache
    this round gets 0), otherwise ``k(N) = max(1, ceil(log2 N))`` attempts for each pending
    request, oldest first, within the hub capacity ``S`` (the last request served may get
    what is left) and each slot's attempt limit. No prefetch; surplus successes go into the
    cache on their own ("opportunistic caching").

    :param config: the scenario; ``k(N)`` is ``config.k_parallel``.
    """

    kernel = kernels.LOG_PARALLEL


class DeadlinePolicy(KernelPolicy):
    """Least slack first, just enough attempts, idle capacity to prefetch.

    Requests are served in order of least slack; among equal slack, the likeliest to
    succeed (highest ``p_ab``) first, since under contention a cheap success is worth as
    much as a dear one. Each gets the smallest ``n`` for which ``n`` attempts a round over
    its remaining rounds reach the ``target`` chance of success,
    ``1 - (1 - p)**(n * slack) >= target``, capped by its attempt limit, by ``max_share`` of
    the hub capacity ``S`` (so that one poor spoke cannot take the whole hub) and by the
    capacity left. Capacity still idle goes to the prefetch candidates, most recently
    requested first, ``prefetch_attempts`` each: only those whose limit is non-zero (the
    pair has room in the cache) and which hold no cached ebit yet.

    :param config: the scenario.
    :param target: chance of success within the slack each request is given, in (0, 1].
    :param max_share: largest share of ``S`` one request may take in a round, in (0, 1]
        (at least one attempt); unused when ``S`` is unlimited.
    :param prefetch: spend idle capacity on the prefetch candidates.
    :param prefetch_attempts: attempts per prefetch candidate a round, 1 to ``k_max``.
    :param give_up_below: skip a request whose best chance, its limit every remaining
        round, is below this; 0 never skips.
    """

    kernel = kernels.DEADLINE

    def __init__(
        self,
        config: HubConfig,
        target: float = 0.9,
        max_share: float = 0.5,
        prefetch: bool = True,
        prefetch_attempts: int = 1,
        give_up_below: float = 0.0,
    ) -> None:
        super().__init__(config)
        if not 0.0 < target <= 1.0:
            raise ValueError(f"target must be in (0, 1], got {target!r}")
        if not 0.0 < max_share <= 1.0:
            raise ValueError(f"max_share must be in (0, 1], got {max_share!r}")
        if not 1 <= prefetch_attempts <= config.k_max:
            raise ValueError(f"prefetch_attempts must be in [1, k_max={config.k_max}], got {prefetch_attempts!r}")
        if not 0.0 <= give_up_below <= 1.0:
            raise ValueError(f"give_up_below must be in [0, 1], got {give_up_below!r}")
        self.target = target
        self.prefetch = prefetch
        self.prefetch_attempts = prefetch_attempts
        self.give_up_below = give_up_below
        capacity = config.max_attempts_per_round
        self.per_request_cap = config.k_max if capacity is None else max(1, math.floor(max_share * capacity))
        self.params[kernels.P_TARGET], self.params[kernels.P_REQUEST_CAP] = target, self.per_request_cap
        self.params[kernels.P_PREFETCH], self.params[kernels.P_PREFETCH_ATTEMPTS] = prefetch, prefetch_attempts
        self.params[kernels.P_GIVE_UP] = give_up_below


class CriticalPathPolicy(KernelPolicy):
    """Critical-path-first, for circuits (``docs/model.md#circuit-baselines``): the ready
    gates with the longest remaining path first, each with enough attempts to be served
    this round, and prefetching for the gates about to become ready.

    On the circuit workload a request's slack is the rounds its gate may wait before it
    delays the circuit's earliest possible end, so least slack first is longest remaining
    path first (the likeliest to succeed first among equal slack). Each pending request
    not served from the cache wants the smallest ``n`` with ``1 - (1 - p)**n >= target``
    (one round's chance), capped by its attempt limit and by ``max_share`` of the hub
    capacity ``S``. The capacity is dealt one attempt at a time, round after round over
    the requests in that order, each up to what it wants: when ``S`` binds it is spread
    evenly (a first attempt on a gate is worth more than a second on another), the
    longest paths getting the extras, or the only ones when there are fewer attempts than
    gates; when it does not, every gate gets its ``target`` chance this round. Prefetch
    slots hold the upcoming gates' pairs, longest path first; those pending within
    ``lookahead`` rounds whose pair has no cached ebit get ``prefetch_attempts`` each
    from the capacity left. On other workloads the slack is the request's deadline, so
    the most urgent request goes first.

    :param config: the scenario.
    :param target: chance that a request is served this round, in (0, 1].
    :param max_share: largest share of ``S`` one request may take in a round, in (0, 1]
        (at least one attempt); unused when ``S`` is unlimited.
    :param prefetch: spend capacity left on imminent upcoming gates.
    :param prefetch_attempts: attempts per prefetch candidate a round, 1 to ``k_max``.
    :param lookahead: prefetch for gates that may be pending within this many rounds,
        0 to 1000 (0: ready now, waiting for room in the queue).
    """

    kernel = kernels.CRITICAL_PATH

    def __init__(self, config: HubConfig, target: float = 0.9, max_share: float = 0.5, prefetch: bool = True,
                 prefetch_attempts: int = 1, lookahead: int = 1) -> None:
        super().__init__(config)
        if not 0.0 < target <= 1.0:
            raise ValueError(f"target must be in (0, 1], got {target!r}")
        if not 0.0 < max_share <= 1.0:
            raise ValueError(f"max_share must be in (0, 1], got {max_share!r}")
        if not 1 <= prefetch_attempts <= config.k_max:
            raise ValueError(f"prefetch_attempts must be in [1, k_max={config.k_max}], got {prefetch_attempts!r}")
        if isinstance(lookahead, bool) or not isinstance(lookahead, int) or not 0 <= lookahead <= 1000:
            raise ValueError(f"lookahead must be an integer in [0, 1000], got {lookahead!r}")
        capacity = config.max_attempts_per_round
        self.per_request_cap = config.k_max if capacity is None else max(1, math.floor(max_share * capacity))
        self.params[kernels.P_TARGET], self.params[kernels.P_REQUEST_CAP] = target, self.per_request_cap
        self.params[kernels.P_PREFETCH], self.params[kernels.P_PREFETCH_ATTEMPTS] = prefetch, prefetch_attempts
        self.params[kernels.P_LOOKAHEAD] = lookahead


def attempts_for_target(p: np.ndarray, slack: np.ndarray, target: float) -> np.ndarray:
    """Smallest ``n >= 1`` with ``1 - (1 - p)**(n * slack) >= target``, elementwise (int64;
    a large number if no ``n`` reaches it, e.g. ``p = 0``; 0 where ``slack`` is 0): the
    deadline scheduler's rule, ``kernels.attempts_for_target``, over arrays.

    :param p: success probability of one attempt.
    :param slack: rounds left [rounds], this one included.
    :param target: the chance to reach, in (0, 1].
    """
    p, slack = np.broadcast_arrays(np.asarray(p, dtype=np.float64), np.asarray(slack, dtype=np.int64))
    flat = [kernels.attempts_for_target(float(x), int(s), float(target)) for x, s in zip(p.ravel(), slack.ravel(), strict=True)]
    return np.asarray(flat, dtype=np.int64).reshape(p.shape)
