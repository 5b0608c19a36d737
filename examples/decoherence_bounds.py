"""How much could any scheduler add to the single-request DP on the earlier decoherence
preset (``decoherence-short``, whose stored ebits serve for 2 rounds)? The preset that
replaced it was chosen by ``python -m train.decoherence_design``, with the bounds of
``train.bounds``.

Two relaxations of the DP policy (``single-request-dp``), on the same held-out episodes:

* the hub's capacity ``S`` lifted, so no request ever loses attempts to another: the
  most that a better split of ``S`` could add;
* every attempt the DP leaves idle spent prefetching the recently requested pairs, with
  the reward counted both with the prefetch attempts free (the most that cached ebits
  could add) and at their real cost.

Usage: ``python examples/decoherence_bounds.py [--episodes 200] [--seed 10000]``;
``--quick`` is the smoke run of CI (4 episodes of 32 rounds).
"""

from __future__ import annotations

import argparse

import numpy as np

from agents import make_policy
from agents.base import grant_in_order, slot_order
from modenhub_env.config import HubConfig
from modenhub_env.vector_env import ModEnHubVectorEnv
from train.stats import mean_interval


def prefetch_idle(actions: np.ndarray, limits: np.ndarray, config: HubConfig) -> np.ndarray:
    """``actions`` with each prefetch slot asking its limit, granted in slot order within
    the capacity ``S`` (the requests, first in that order, keep theirs)."""
    wanted = actions.copy()
    wanted[:, config.request_slots :] = limits[:, config.request_slots :]
    order = slot_order(*wanted.shape)
    return grant_in_order(wanted, order, config.max_attempts_per_round)


def play(config: HubConfig, prefetch: bool, episodes: int, seed: int) -> dict[str, np.ndarray]:
    """Episode totals of the DP policy (plus idle prefetching) over ``episodes`` hubs."""
    env = ModEnHubVectorEnv(episodes, config=config)
    obs, _ = env.reset(seed=seed)
    policy = make_policy("single-request-dp", config)
    names = ("served", "failed", "attempts", "prefetch_attempts", "cache_hits")
    totals = {name: np.zeros(episodes) for name in names}
    for _ in range(config.episode_rounds):
        actions, _ = policy.predict(obs)
        if prefetch:
            actions = prefetch_idle(actions, env.core.slot_limits(), config)
        obs, _, _, _, info = env.step(actions)
        for name in names:
            totals[name] += info[name]
    return totals


def report(label: str, totals: dict[str, np.ndarray], config: HubConfig, prefetch_cost: bool) -> None:
    attempts = totals["attempts"] + (totals["prefetch_attempts"] if prefetch_cost else 0.0)
    reward = totals["served"] - config.w_fail * totals["failed"] - config.w_attempt * attempts
    mean, lo, hi = mean_interval(reward.sum(), (reward**2).sum(), reward.size)
    print(f"{label:<48} reward {mean:7.2f} [{lo:.2f}, {hi:.2f}]  cache hits {totals['cache_hits'].mean():5.1f}  "
          f"prefetch attempts {totals['prefetch_attempts'].mean():6.1f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--episodes", type=int, default=200, help="episodes per policy (default 200)")
    parser.add_argument("--seed", type=int, default=10_000, help="seed of the first episode (default 10000)")
    parser.add_argument("--quick", action="store_true", help="a smoke run: 4 episodes of 32 rounds")
    args = parser.parse_args()
    config = HubConfig.preset("decoherence-short")
    if args.quick:
        args.episodes, config = 4, config.replace(episode_rounds=32)
    report("single-request-dp", play(config, False, args.episodes, args.seed), config, True)
    unlimited = config.replace(max_attempts_per_round=None)
    report("single-request-dp, unlimited S", play(unlimited, False, args.episodes, args.seed), unlimited, True)
    prefetching = play(config, True, args.episodes, args.seed)
    report("single-request-dp + idle prefetch, prefetch free", prefetching, config, False)
    report("single-request-dp + idle prefetch, at its cost", prefetching, config, True)


if __name__ == "__main__":
    main()
