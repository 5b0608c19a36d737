"""A straightforward per-trial Python loop of the paper's Monte Carlo, as a yardstick.

The same model as the batched core for the ``sequential`` workload (one request at a
time, uniform pairs, budget ``R``, ``k`` attempts a round, surplus ebits cached up to
``cache_per_pair`` per pair and ``cache_capacity`` in all, emptied every
``episode_requests`` requests, no decoherence), written the
way one would write it first: one request, one round, one attempt at a time. Used to
measure what the batched core buys and, in the tests, as an independent check of it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from modenhub_env.config import HubConfig


@dataclass
class NaiveTotals:
    requests: int
    served: int
    attempts: int
    cache_hits: int


def naive_monte_carlo(config: HubConfig, k: int, trials: int, rng: np.random.Generator) -> NaiveTotals:
    """``trials`` requests of the paper's Monte Carlo with ``k`` attempts a round."""
    if config.workload != "sequential" or config.t_coh != float("inf") or config.cutoff is not None:
        raise ValueError("naive_monte_carlo models the sequential workload without decoherence only")
    n = config.n_qpus
    eta = config.eta
    cache: dict[tuple[int, int], int] = {}
    stored = 0
    totals = NaiveTotals(0, 0, 0, 0)
    for trial in range(trials):
        if trial % config.episode_requests == 0:  # a new episode starts with an empty cache
            cache.clear()
            stored = 0
        if n == 1:
            a = b = 0
        else:
            a, b = sorted(int(x) for x in rng.choice(n, size=2, replace=False))
        p = config.p_bsm * eta[a] * eta[b]
        totals.requests += 1
        if cache.get((a, b), 0) > 0:
            cache[(a, b)] -= 1
            stored -= 1
            totals.served += 1
            totals.cache_hits += 1
            continue
        for _round in range(config.round_budget):
            successes = 0
            for _attempt in range(k):
                totals.attempts += 1
                if rng.random() < p:
                    successes += 1
            if successes:
                totals.served += 1
                for _ in range(successes - 1):
                    if cache.get((a, b), 0) < config.cache_per_pair and stored < config.cache_capacity:
                        cache[(a, b)] = cache.get((a, b), 0) + 1
                        stored += 1
                break
    return totals
