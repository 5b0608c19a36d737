"""Handcrafted schedulers: the paper's two heuristics (``docs/model.md#heuristics``), a
slack-aware baseline for contention, a prefetch-aware one for the cache and critical-path-first
for circuits.

Each decides from the observation alone and keeps the total of a round within the hub
capacity ``S`` itself, so the env clips none of its attempts unless per-QPU limits
``c_i`` bind (the observation describes requests, not QPUs, so a policy cannot see two
slots sharing a QPU).
"""

from __future__ import annotations

import math

import numpy as np

from agents.base import KernelPolicy
from modenhub_env import kernels, physics
from modenhub_env.config import HubConfig
from modenhub_env.workload import Popularity, all_pairs


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
        _set_targets(self, config, target, max_share, prefetch, prefetch_attempts)
        if not 0.0 <= give_up_below <= 1.0:
            raise ValueError(f"give_up_below must be in [0, 1], got {give_up_below!r}")
        self.target = target
        self.prefetch = prefetch
        self.prefetch_attempts = prefetch_attempts
        self.give_up_below = give_up_below
        self.params[kernels.P_GIVE_UP] = give_up_below


def _set_targets(
    policy: KernelPolicy, config: HubConfig, target: float, max_share: float, prefetch: bool, prefetch_attempts: int
) -> None:
    """The arguments the deadline and critical-path schedulers share, checked, into
    ``policy.params`` (and ``policy.per_request_cap``: ``k_max``, or ``max_share`` of ``S``)."""
    if not 0.0 < target <= 1.0:
        raise ValueError(f"target must be in (0, 1], got {target!r}")
    if not 0.0 < max_share <= 1.0:
        raise ValueError(f"max_share must be in (0, 1], got {max_share!r}")
    if not 1 <= prefetch_attempts <= config.k_max:
        raise ValueError(f"prefetch_attempts must be in [1, k_max={config.k_max}], got {prefetch_attempts!r}")
    capacity = config.max_attempts_per_round
    policy.per_request_cap = config.k_max if capacity is None else max(1, math.floor(max_share * capacity))
    policy.params[kernels.P_TARGET], policy.params[kernels.P_REQUEST_CAP] = target, policy.per_request_cap
    policy.params[kernels.P_PREFETCH], policy.params[kernels.P_PREFETCH_ATTEMPTS] = prefetch, prefetch_attempts


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
        _set_targets(self, config, target, max_share, prefetch, prefetch_attempts)
        if isinstance(lookahead, bool) or not isinstance(lookahead, int) or not 0 <= lookahead <= 1000:
            raise ValueError(f"lookahead must be an integer in [0, 1000], got {lookahead!r}")
        self.params[kernels.P_LOOKAHEAD] = lookahead


class PrefetchValuePolicy(KernelPolicy):
    """The single-request DP for the requests, and prefetch where its expected value is
    positive (``docs/model.md#prefetch-value``).

    A prefetch candidate's future requests are inferred from what its slot shows, its
    recency and its ``p_ab``, and from the scenario's workload, which the policy knows as
    it knows ``w_attempt``: the pair of popularity rank ``r`` is asked for ``lambda_r``
    times a round on average, and the ranking of pairs is the config's. The candidate was
    last asked for ``s`` rounds ago, so it is the pair of rank ``r`` with probability
    ``pi_r`` proportional to ``lambda_r exp(-lambda_r s)`` over the pairs whose ``p_ab`` is
    the one shown (over every pair when more than ``MAX_CLASSES`` values of ``p_ab``
    occur, or none matches), and its requests from now on are a Poisson process of rate
    ``lambda_r``. One more stored ebit, beside the ``c`` the pair holds, serves the
    ``(c + 1)``-th of them if it comes within the ebit's useful life ``H`` (the storage
    limit, at most ``horizon``), ``t`` rounds from now, worth ``1 - w_fidelity (F0 - F(t))``
    against ``V``, the single-request DP's value of serving that request fresh:

    ``W = sum_r pi_r sum_{t <= H} P_r(the (c + 1)-th comes in round t) (1 - w_fidelity (F0 - F(t)) - V)``.

    The candidate gets the attempts ``n`` (within its limit) that maximise
    ``(1 - (1 - p)**n) W - w_attempt n``; none unless that is positive. Requests go first
    within ``S`` (the slots' order), prefetch after. The sums over ranks and rounds do not
    depend on ``V``, so they are tabulated here by ``s``, ``p_ab`` and ``c`` (``A``, the
    expected worth of a use, and ``B``, the chance of one: ``W = A - V B``), and the
    kernel reads the table.

    :param config: the scenario (``w_attempt``, ``w_fail``, ``w_fidelity``, ``F0``,
        ``T_coh``, the storage limit, ``cache_per_pair``, and the workload's popularity:
        ``arrival_rate``, ``zipf_exponent`` and ``popularity_seed`` of a Poisson workload;
        for the sequential and trace workloads, uniform pairs at one request a round).
    :param horizon: most rounds ahead a stored ebit is counted on [rounds], 1 to 4,096;
        it binds when the storage limit is longer. The default, 8, had the best summed
        lead over the single-request DP on the decoherence and hotspot presets among 2, 4,
        8, 16 and 32, on seeds (30,000+) that no evaluation uses.
    """

    kernel = kernels.PREFETCH_VALUE
    SINCE_ROWS = 128  # rounds since last requested that the table tells apart
    MAX_CLASSES = 64  # values of p_ab told apart; beyond, p_ab tells nothing of the pair

    def __init__(self, config: HubConfig, horizon: int = 8) -> None:
        super().__init__(config)
        if isinstance(horizon, bool) or not isinstance(horizon, (int, np.integer)) or not 1 <= horizon <= 4096:
            raise ValueError(f"horizon must be an integer in [1, 4096] rounds, got {horizon!r}")
        self.horizon = int(min(horizon, config.storage_limit))
        classes, table = worth_table(config, self.horizon, self.SINCE_ROWS, self.MAX_CLASSES)
        self.params[kernels.P_PER_PAIR], self.params[kernels.P_WORTH_ROWS] = config.cache_per_pair, self.SINCE_ROWS
        self.params[kernels.P_WORTH_CLASSES] = classes.size
        self.params = np.concatenate([self.params, classes, table.ravel()])


def ranked_pairs(config: HubConfig) -> tuple[np.ndarray, np.ndarray]:
    """The pairs by popularity rank, their ``p_ab`` as the observation shows it (float32)
    and their mean requests a round [requests/round]: the Poisson workload's
    ``arrival_rate`` split by its Zipf weights (or evenly); for the other workloads, one
    request a round split evenly."""
    a, b = all_pairs(config.n_qpus)
    if config.workload == "poisson" and config.zipf_exponent > 0:
        popularity = Popularity.build(config)
        a, b, weights = popularity.a, popularity.b, np.diff(popularity.cdf, prepend=0.0)
    else:
        weights = np.full(a.size, 1.0 / a.size)
    total = config.arrival_rate if config.workload == "poisson" else 1.0
    p_shown = np.asarray(config.p_pair(a, b), dtype=np.float32).astype(np.float64)
    return p_shown, total * weights


def worth_table(config: HubConfig, horizon: int, rows: int, max_classes: int) -> tuple[np.ndarray, np.ndarray]:
    """The values of ``p_ab`` told apart (sorted; none if more than ``max_classes``), and
    ``(rows, classes + 1, cache_per_pair, 2)``: for a candidate last requested ``s`` rounds
    ago (row) with that ``p_ab`` (the last class: any) holding ``c`` stored ebits, ``A``,
    the expected worth of the use of one more stored ebit within ``horizon`` rounds,
    ``sum_r pi_r P_r(use in round t) (1 - w_fidelity (F0 - F(t)))``, and ``B``, the
    chance of that use (see :class:`PrefetchValuePolicy`)."""
    p_shown, rates = ranked_pairs(config)
    classes, class_of = np.unique(p_shown, return_inverse=True)
    if classes.size > max_classes:
        classes, class_of = classes[:0], np.zeros(p_shown.size, dtype=np.int64)
    since = np.arange(rows, dtype=np.float64)
    likelihood = rates[None, :] * np.exp(-since[:, None] * rates[None, :])  # (rows, ranks)
    rounds = np.arange(horizon + 1, dtype=np.float64)
    lost = np.asarray(config.f0 - physics.werner_fidelity(rounds[1:], config.f0, config.t_coh), dtype=np.float64)
    worth = 1.0 - config.w_fidelity * lost  # (horizon,) of a use in each round
    mean = rates[:, None] * rounds[None, :]  # (ranks, horizon + 1) requests expected by then
    term = np.exp(-mean)
    below = term.copy()  # P(at most c requests by then)
    uses = np.zeros((rates.size, config.cache_per_pair, 2))  # per rank: worth and chance of a use
    for held in range(config.cache_per_pair):
        if held > 0:
            term = term * mean / held
            below = below + term
        reached = 1.0 - below  # P(the (held + 1)-th request has come by then)
        uses[:, held, 0] = np.diff(reached, axis=1) @ worth
        uses[:, held, 1] = reached[:, -1]
    table = np.zeros((rows, classes.size + 1, config.cache_per_pair, 2))
    members = [class_of == c for c in range(classes.size)] + [np.ones(rates.size, dtype=bool)]
    for column, member in enumerate(members):
        weight = likelihood[:, member]
        posterior = weight / np.maximum(weight.sum(axis=1, keepdims=True), np.finfo(float).tiny)
        table[:, column] = np.einsum("sr,rch->sch", posterior, uses[member])
    return classes, table


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
