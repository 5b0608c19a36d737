"""Relaxation bounds: schedulers that are allowed something no real scheduler has, to show
how much room a scenario leaves above the handcrafted policies (``docs/model.md#decoherence-design``).

* **Free prefetch**: the single-request DP for the requests, and every prefetch slot asks
  for its limit (granted after the requests within ``S``), with the prefetch attempts
  not charged. It bounds what ebits stocked in the cache could add if making them cost
  nothing; its reward at full cost is reported too.
* **Clairvoyant prefetch**: the single-request DP for the requests, and, knowing the
  arrivals of the coming rounds, prefetch for the pairs in the prefetch slots that will be
  asked for before a stored ebit would expire, paying every attempt. A request known
  ``d`` rounds ahead is a request with ``d + R`` rounds whose first ``d`` are prefetch
  rounds: :func:`clairvoyant_table` solves it.
* **Unlimited capacity**: the scenario with ``S`` lifted (a config, played by any policy).

The bounds see the core's state and the future; they are scripts' yardsticks, not
policies. Both play Poisson episodes on the native vector env, seeded as
:func:`train.rollout.run_episodes` seeds its episodes, so their per-episode results pair
with the heuristics' on the same seeds.
"""

from __future__ import annotations

import bisect
from typing import Any

import numpy as np

from agents.dp import SingleRequestDPPolicy
from modenhub_env import physics
from modenhub_env.config import HubConfig
from modenhub_env.core import HubCore
from modenhub_env.interface import keys_for_seeds
from modenhub_env.vector_env import ModEnHubVectorEnv
from train.rollout import episode_seed

#: Bounds by name, with what each relaxes.
BOUNDS = {
    "free-prefetch": "DP for requests, every prefetch slot at its limit, prefetch attempts free",
    "clairvoyant": "DP for requests, prefetch of the pairs known to arrive while an ebit lasts, at full cost",
}
#: Per-episode totals a bound records (``info`` keys).
RECORDED = ("served", "failed", "attempts", "prefetch_attempts", "cache_hits", "cached", "expired",
            "fidelity_sum", "clipped_attempts", "reward_fidelity")


def usable_age(config: HubConfig) -> int:
    """[rounds] The oldest age at which a cached ebit still serves, capped at the episode's length."""
    return int(min(config.storage_limit, config.episode_rounds))


def future_arrivals(config: HubConfig, seeds: list[int]) -> list[dict[int, list[int]]]:
    """Per episode, the rounds in which each pair (code ``a * N + b``) is asked for.

    A shadow core plays the same episodes with no attempts and a queue that never fills:
    arrivals are drawn from the episode's key and the round alone, so they are the real
    episode's (which may reject some when its queue is full)."""
    shadow = HubCore(config.replace(queue_capacity=4096), len(seeds))
    shadow.reset(np.ones(len(seeds), dtype=bool), keys_for_seeds(seeds, shadow.keys, fallback=None))
    n = config.n_qpus
    arrivals: list[dict[int, list[int]]] = [{} for _ in seeds]
    idle = np.zeros((len(seeds), shadow.n_slots), dtype=np.int64)
    for _ in range(config.episode_rounds):
        state = shadow.snapshot()
        new = state.q_valid & (state.q_arrival == state.round[:, None])
        for i, slot in zip(*np.nonzero(new), strict=True):
            code = int(state.q_a[i, slot]) * n + int(state.q_b[i, slot])
            arrivals[i].setdefault(code, []).append(int(state.round[i]))
        shadow.advance(idle)
    return arrivals


def clairvoyant_table(config: HubConfig, p: float) -> np.ndarray:
    """Best attempts this round for a request of a pair with per-attempt probability ``p``
    by rounds left ``r`` in ``0..A + R`` (``A`` = :func:`usable_age`, ``R`` the budget),
    where the rounds beyond ``R`` come before the request arrives:

    ``V(0) = -w_fail``,
    ``V(r) = max_n q(n) g(r) + (1 - q(n)) V(r - 1) - w_attempt n``, ``q(n) = 1 - (1 - p)**n``,

    with ``g(r) = 1`` for ``r <= R`` (a fresh ebit serves at once) and
    ``g(r) = 1 - w_fidelity (F0 - F(r - R))`` before the arrival (the ebit waits ``r - R``
    rounds in the cache). The single-request DP (``docs/model.md#dp-optimum``) is the case
    ``r <= R``. Surplus successes are ignored, as there."""
    budget, horizon = config.round_budget, usable_age(config)
    attempts = np.arange(config.k_max + 1)
    success = 1.0 - (1.0 - p) ** attempts
    value, best = -config.w_fail, np.zeros(budget + horizon + 1, dtype=np.int64)
    for r in range(1, budget + horizon + 1):
        gain = 1.0
        if r > budget:
            lost = config.f0 - physics.werner_fidelity(r - budget, config.f0, config.t_coh)
            gain -= config.w_fidelity * float(lost)
        outcome = success * gain + (1.0 - success) * value - config.w_attempt * attempts
        best[r] = int(np.argmax(outcome))  # the fewest attempts among equals
        value = float(outcome[best[r]])
    return best


class Clairvoyant:
    """The clairvoyant prefetch scheduler over a vector env's core (see the module docstring).

    :param config: the scenario (a Poisson workload).
    :param arrivals: :func:`future_arrivals` of the episodes, in the env's row order.
    """

    def __init__(self, config: HubConfig, arrivals: list[dict[int, list[int]]]) -> None:
        self.config, self.arrivals = config, arrivals
        self.requests = SingleRequestDPPolicy(config)
        eta, n = config.eta, config.n_qpus
        p = config.p_bsm * eta[:, None] * eta[None, :]
        self.tables = {(a, b): clairvoyant_table(config, float(p[a, b])) for a in range(n) for b in range(a, n)}

    def act(self, obs: np.ndarray, core: HubCore) -> np.ndarray:
        """Attempts per slot of every env this round."""
        cfg = self.config
        k, n, horizon = cfg.request_slots, cfg.n_qpus, usable_age(cfg)
        actions, _ = self.requests.predict(obs)
        limits = core.slot_limits()
        qa, qb, present = core.slot_pairs()
        state = core.snapshot()
        pending_codes = np.where(state.q_valid, state.q_a * n + state.q_b, -1)
        for i in range(core.batch):
            now = int(state.round[i])
            for j in range(k, k + cfg.prefetch_slots):
                if not present[i, j] or limits[i, j] == 0:
                    continue
                a, b = int(qa[i, j]), int(qb[i, j])
                rounds = self.arrivals[i].get(a * n + b, [])
                first, last = bisect.bisect_right(rounds, now), bisect.bisect_right(rounds, now + horizon)
                # Stored ebits of the pair not yet promised to a pending request serve the
                # first arrivals; prefetch for the first one they do not cover.
                stock = int((state.c_pair[i] == a * n + b).sum() - (pending_codes[i] == a * n + b).sum())
                uncovered = first + max(stock, 0)
                if uncovered >= last:
                    continue
                ahead = rounds[uncovered] - now
                actions[i, j] = min(int(self.tables[(a, b)][ahead + cfg.round_budget]), int(limits[i, j]))
        return actions


def play_bound(name: str, config: HubConfig, seed: int, episodes: int, progress: Any = None) -> dict[str, np.ndarray]:
    """Per-episode totals (:data:`RECORDED`) and ``reward`` of the bound ``name`` over
    ``episodes`` episodes seeded as :func:`train.rollout.run_episodes` seeds them;
    ``reward`` is the env's, except that free prefetch does not charge its prefetch
    attempts (``reward_at_cost`` is the env's for both)."""
    if name not in BOUNDS:
        raise ValueError(f"unknown bound {name!r}; allowed: {', '.join(BOUNDS)}")
    if config.workload != "poisson":
        raise ValueError(f"the bounds play Poisson episodes, got workload {config.workload!r}")
    seeds = [episode_seed(seed, e) for e in range(episodes)]
    env = ModEnHubVectorEnv(episodes, config=config)
    obs, _ = env.reset(seed=seeds)
    k = config.request_slots
    requests = SingleRequestDPPolicy(config)
    clairvoyant = Clairvoyant(config, future_arrivals(config, seeds)) if name == "clairvoyant" else None
    totals = {key: np.zeros(episodes) for key in (*RECORDED, "reward_at_cost")}
    for _ in range(config.episode_rounds):
        if clairvoyant is not None:
            actions = clairvoyant.act(obs, env.core)
        else:
            actions, _ = requests.predict(obs)
            actions[:, k:] = env.core.slot_limits()[:, k:]
        obs, reward, _, _, info = env.step(actions)
        totals["reward_at_cost"] += reward
        for key in RECORDED:
            totals[key] += info[key]
        if progress is not None:
            progress(1)
    free = config.w_attempt * totals["prefetch_attempts"] if name == "free-prefetch" else 0.0
    totals["reward"] = totals["reward_at_cost"] + free
    return totals

