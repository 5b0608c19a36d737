"""Handcrafted schedulers: the paper's two heuristics (``docs/model.md#heuristics``) and a
slack-aware baseline for contention.

Each decides from the observation alone and keeps the total of a round within the hub
capacity ``S`` itself, so the env clips none of its attempts unless per-QPU limits
``c_i`` bind (the observation describes requests, not QPUs, so a policy cannot see two
slots sharing a QPU).
"""

from __future__ import annotations

import math

import numpy as np

from agents.base import Policy, grant_in_order, slot_order
from agents.view import ObservationView
from modenhub_env.config import HubConfig


class SequentialPolicy(Policy):
    """The paper's sequential baseline: each round one attempt for the oldest pending
    request that may launch one (the first present slot with a non-zero limit; slots hold
    the ``K`` oldest requests in order), nothing for any other slot, no prefetch.

    One attempt serves at most its own request, so this policy never fills the cache.

    :param config: the scenario.
    """

    def act(self, view: ObservationView, allowed: np.ndarray) -> np.ndarray:
        eligible = view.request_present & (view.request_limit > 0)
        oldest = eligible & (np.cumsum(eligible, axis=1) == 1)
        actions = np.zeros((view.batch, self.n_slots), dtype=np.int64)
        actions[:, : self.config.request_slots] = oldest
        return actions


class LogParallelPolicy(Policy):
    """The paper's log-parallel orchestrator: cache first (a request served from the cache
    this round gets 0), otherwise ``k(N) = max(1, ceil(log2 N))`` attempts for each pending
    request, oldest first, within the hub capacity ``S`` (the last request served may get
    what is left) and each slot's attempt limit. No prefetch; surplus successes go into the
    cache on their own ("opportunistic caching").

    :param config: the scenario; ``k(N)`` is ``config.k_parallel``.
    """

    def act(self, view: ObservationView, allowed: np.ndarray) -> np.ndarray:
        wanted = np.zeros((view.batch, self.n_slots), dtype=np.int64)
        per_request = np.minimum(self.config.k_parallel, view.request_limit)
        wanted[:, : self.config.request_slots] = np.where(view.request_from_cache, 0, per_request)
        order = slot_order(view.batch, self.n_slots)
        return grant_in_order(wanted, order, self.config.max_attempts_per_round)


class DeadlinePolicy(Policy):
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

    def act(self, view: ObservationView, allowed: np.ndarray) -> np.ndarray:
        k = self.config.request_slots
        limit = np.minimum(view.request_limit, self.per_request_cap)
        needed = attempts_for_target(view.request_p, view.request_slack, self.target)
        best_chance = 1.0 - (1.0 - view.request_p) ** (limit * view.request_slack)
        skip = view.request_from_cache | (best_chance < self.give_up_below)
        wanted = np.zeros((view.batch, self.n_slots), dtype=np.int64)
        wanted[:, :k] = np.where(skip, 0, np.minimum(needed, limit))
        if self.prefetch:
            empty = view.prefetch_cached <= 0.0
            wanted[:, k:] = np.where(empty, np.minimum(self.prefetch_attempts, view.prefetch_limit), 0)
        return grant_in_order(wanted, self._serving_order(view), self.config.max_attempts_per_round)

    def _serving_order(self, view: ObservationView) -> np.ndarray:
        """Requests by slack, then by ``p`` (highest first); empty request slots after them,
        and the prefetch slots last, in their own order. ``(B, K + M)``."""
        m = self.config.prefetch_slots
        after = self.slack_scale + 1
        slack = np.concatenate(
            [np.where(view.request_present, view.request_slack, after), np.full((view.batch, m), after + 1)],
            axis=1,
        )
        likelihood = np.concatenate([view.request_p, np.zeros((view.batch, m))], axis=1)
        # np.lexsort sorts by its last key first and is stable.
        return np.lexsort((-likelihood, slack), axis=1)


def attempts_for_target(p: np.ndarray, slack: np.ndarray, target: float) -> np.ndarray:
    """Smallest ``n >= 1`` with ``1 - (1 - p)**(n * slack) >= target``, elementwise (int64;
    a large number if no ``n`` reaches it, e.g. ``p = 0``; 0 where ``slack`` is 0).

    :param p: success probability of one attempt.
    :param slack: rounds left [rounds], this one included.
    :param target: the chance to reach, in (0, 1].
    """
    p = np.clip(np.asarray(p, dtype=np.float64), 0.0, 1.0)
    slack = np.asarray(slack, dtype=np.int64)
    unreachable = np.iinfo(np.int32).max
    usable = (p > 0.0) & (p < 1.0) & (slack > 0)
    # (1 - p)**(n s) <= 1 - target  <=>  n >= log(1 - target) / (s log(1 - p))
    log_miss = np.where(usable, slack, 1) * np.log1p(-np.where(usable, p, 0.5))  # < 0
    ratio = math.log1p(-target) / log_miss if target < 1.0 else np.full(p.shape, np.inf)
    # A tiny tolerance keeps an exact integer ratio from rounding up.
    needed = np.ceil(np.minimum(ratio, unreachable) - 1e-9)
    needed = np.where(usable, needed, np.where(p >= 1.0, 1, unreachable))
    return np.where(slack > 0, np.maximum(needed, 1), 0).astype(np.int64)
