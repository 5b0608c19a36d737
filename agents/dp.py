"""The single-request DP (``docs/model.md#single-request-dp``): the best attempts for one
request on its own, by dynamic programming.

A request with per-attempt success probability ``p`` and ``r`` rounds left chooses ``n`` in
``0..k_max`` attempts this round. They all launch (and cost ``w_attempt`` each); at least
one succeeds with probability ``q(n) = 1 - (1 - p)**n``, which serves the request (reward
1). Otherwise it carries on with ``r - 1`` rounds; with none left it fails (``-w_fail``):

    V(0) = -w_fail
    V(r) = max_n  q(n) + (1 - q(n)) V(r - 1) - w_attempt n

The only state is "served or not", so this closed-loop optimum is also the best fixed
plan ``n_1, ..., n_R``, which is how the tests check it by brute force. It is the
optimum of a whole episode only where one request at a time is the whole problem (the
model page says where); elsewhere :class:`SingleRequestDPPolicy` is a heuristic.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import numpy.typing as npt

from agents.base import KernelPolicy
from modenhub_env import kernels


def dp_value_table(
    p: npt.ArrayLike,
    rounds: int,
    k_max: npt.ArrayLike,
    w_attempt: float,
    w_fail: float = 0.0,
) -> tuple[np.ndarray, np.ndarray]:
    """Optimal expected reward and attempts of one request by rounds left.

    :param p: success probability of one attempt; a scalar, or an array to solve many
        requests at once.
    :param rounds: rounds ``R`` the table covers [rounds].
    :param k_max: most attempts a round; a scalar or an array broadcasting with ``p``.
    :param w_attempt: cost of one attempt.
    :param w_fail: penalty of a request that runs out of rounds.
    :returns: ``values`` and ``best_n``, each of shape ``p.shape + (rounds + 1,)``:
        ``values[..., r]`` is the expected reward with ``r`` rounds left under the optimal
        policy and ``best_n[..., r]`` its attempts this round (the fewest among equals;
        ``best_n[..., 0]`` is 0).
    """
    if isinstance(rounds, bool) or not isinstance(rounds, (int, np.integer)) or rounds < 0:
        raise ValueError(f"rounds must be a non-negative integer, got {rounds!r}")
    p = np.asarray(p, dtype=np.float64)
    if np.any((p < 0.0) | (p > 1.0)):
        raise ValueError("p must be in [0, 1]")
    limit = np.broadcast_to(np.asarray(k_max, dtype=np.int64), p.shape)
    if np.any(limit < 0):
        raise ValueError(f"k_max must be non-negative, got {k_max!r}")
    # Fresh writable copies: a read-only view (a broadcast k_max) would compile the kernel
    # for a second signature.
    flat_p, flat_limit = np.array(p.ravel()), np.array(limit.ravel())
    values = np.empty((flat_p.size, rounds + 1))
    best_n = np.zeros((flat_p.size, rounds + 1), dtype=np.int64)
    kernels.single_request_dp_rows(flat_p, flat_limit, float(w_attempt), float(w_fail), values, best_n)
    return values.reshape(p.shape + (rounds + 1,)), best_n.reshape(p.shape + (rounds + 1,))


class SingleRequestDPPolicy(KernelPolicy):
    """Each request slot gets the single-request DP's attempts for its ``p_ab``, slack and
    attempt limit, under the config's ``w_attempt`` and ``w_fail``; prefetch slots get 0.
    Registered as ``single-request-dp`` (formerly ``dp-optimal``, still accepted with a
    ``DeprecationWarning``).

    **Exact** where the hub holds one request at a time and nothing carries over from one
    request to the next: the ``sequential`` workload with no cache (``cache_capacity=0``)
    and no ``episode_rounds`` cut, e.g. the paper preset with its cache off. There each
    request's reward is independent of every other, the DP above is the whole decision
    problem, and this policy is the optimum other agents are measured against.

    **A heuristic** elsewhere: several pending requests compete for the hub's capacity
    ``S`` and the QPUs' communication qubits ``c_i``, which this policy shares oldest first
    without optimising the split; with a cache, a surplus success or a prefetched ebit has
    value for later requests that the DP ignores (it never prefetches); with decoherence,
    a cached ebit's worth also depends on its age.

    :param config: the scenario (``k_max``, ``w_attempt``, ``w_fail``, ``S``).
    """

    kernel = kernels.SINGLE_REQUEST_DP


#: Former names of this module's classes -> their names now.
RENAMED = {"OptimalSingleRequestPolicy": "SingleRequestDPPolicy"}


def __getattr__(name: str, stacklevel: int = 2) -> Any:
    """A former name (:data:`RENAMED`) still imports, with a ``DeprecationWarning`` that
    points at the caller (``stacklevel`` frames up: 3 when ``agents`` passes it on)."""
    if name not in RENAMED:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    warnings.warn(f"{name} is deprecated; use {RENAMED[name]} (the single-request DP, the optimum only for "
                  "one request at a time)", DeprecationWarning, stacklevel=stacklevel)
    return globals()[RENAMED[name]]
