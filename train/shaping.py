"""Potential-based reward shaping for training, with the single-request DP as the potential.

PPO learns the attempts of a request from returns that also carry every later request's
luck, so the small difference between, say, 4 and 5 attempts drowns in noise (the critic's
explained variance stays near 0). Shaping (Ng, Harada and Russell, 1999) adds

    F(s, s') = gamma * Phi(s') - Phi(s)

to every round's reward, where ``Phi(s)`` sums, over the request slots of the observation,
the expected reward of each request under the single-request DP's attempts from now on
(:func:`agents.dp.dp_value_table` for its ``p_ab``, slack and attempt limit; 1 for a request
the cache serves this round). A request's reward then arrives as soon as its prospects
change, not at its deadline, and acting as the DP does scores about 0 a round (plus the
value of the requests that arrive).

In a ``sequential`` workload (with no ``episode_rounds``) the episode is a number of
requests, not of rounds, and the next request arrives as soon as the last is resolved.
There ``Phi`` also counts each request not issued yet at the DP value of a fresh one,
averaged over the pairs as the workload draws them. Without that term, the critic would
have to learn the value of the requests to come from the episode's progress, accurate to
a fraction of one request's worth in 2,500, or the advantage favours resolving requests
quickly (more attempts) over resolving them well. Train such a workload with
``gamma = 1``: time costs nothing there, and a discount makes it cost.

Any potential leaves the optimal policy of the discounted problem unchanged, so this
changes what the agent learns from, not what it is asked to learn: evaluation and the
logged episode returns (``info["episode"]["r"]``) use the env's own reward.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from stable_baselines3.common.vec_env import VecEnv, VecEnvWrapper

from agents.dp import dp_value_table
from agents.view import parse_observation
from modenhub_env.config import HubConfig
from modenhub_env.observation import GLOBAL_FEATURES
from modenhub_env.workload import Popularity, all_pairs, max_budget


def dp_potential(
    observation: np.ndarray, config: HubConfig, budget: int, fresh_value: float | None = None
) -> np.ndarray:
    """``Phi`` of a batch ``(B, obs_dim)`` of observations, ``(B,)``: the DP value of every
    visible pending request, summed, plus in a sequential workload that of the requests
    still to be issued (see the module docstring).

    :param observation: observations of ``config``'s env.
    :param config: the scenario (``w_attempt``, ``w_fail``, ``k_max``, slots, workload).
    :param budget: the slack's scale [rounds], from :func:`max_budget`.
    :param fresh_value: :func:`fresh_request_value` of ``config``, if known (it is the same
        every round); computed when needed otherwise.
    """
    view = parse_observation(observation, config, budget)
    values, _ = dp_value_table(view.request_p, budget, view.request_limit, config.w_attempt, config.w_fail)
    value = np.take_along_axis(values, view.request_slack[..., None], axis=-1)[..., 0]
    value = np.where(view.request_from_cache, 1.0, value)
    pending = np.where(view.request_present, value, 0.0).sum(axis=1)
    if config.workload != "sequential" or config.episode_rounds is not None:
        return pending
    progress = np.asarray(observation, dtype=np.float64)[:, GLOBAL_FEATURES.index("progress")]
    unissued = config.episode_requests - np.rint(progress * config.episode_requests)
    if fresh_value is None:
        fresh_value = fresh_request_value(config, budget)
    return pending + unissued * fresh_value


def fresh_request_value(config: HubConfig, budget: int) -> float:
    """Expected DP value of a request just issued, over the pairs as the workload draws them."""
    a, b = all_pairs(config.n_qpus)
    weights = np.ones(a.size)
    if config.zipf_exponent > 0:
        popularity = Popularity.build(config)
        a, b, weights = popularity.a, popularity.b, np.diff(popularity.cdf, prepend=0.0)
    cap = min(x for x in (config.k_max, config.max_attempts_per_round, config.comm_qubits_per_qpu) if x is not None)
    values, _ = dp_value_table(config.p_bsm * config.eta[a] * config.eta[b], budget, cap, config.w_attempt, config.w_fail)
    return float(np.average(values[:, config.round_budget], weights=weights))


class DPShapingVecEnv(VecEnvWrapper):
    """Adds ``gamma * Phi(s') - Phi(s)`` to the reward of a :class:`ModEnHubVecEnv` (or a
    wrapper of one); ``Phi`` is :func:`dp_potential`. At the end of an episode ``s'`` is
    its last state (``terminal_observation``), whose value SB3 bootstraps on truncation.

    :param venv: the env to shape.
    :param config: its scenario.
    :param gamma: the learner's discount factor.
    """

    def __init__(self, venv: VecEnv, config: HubConfig, gamma: float) -> None:
        super().__init__(venv)
        self.config, self.gamma, self.budget = config, gamma, max_budget(config)
        # The DP over every pair, once, rather than every round (sequential workloads only).
        self.fresh_value = fresh_request_value(config, self.budget) if config.workload == "sequential" else None
        self._potential = np.zeros(self.num_envs)

    def potential(self, observation: np.ndarray) -> np.ndarray:
        return dp_potential(observation, self.config, self.budget, self.fresh_value)

    def reset(self) -> np.ndarray:
        obs = self.venv.reset()
        self._potential = self.potential(obs)
        return obs

    def step_wait(self) -> Any:
        obs, reward, done, infos = self.venv.step_wait()
        following = self.potential(obs)
        after = following.copy()
        ended = np.flatnonzero(done)
        if ended.size:
            last = np.stack([infos[i]["terminal_observation"] for i in ended])
            after[ended] = self.potential(last)
        shaped = reward + self.gamma * after - self._potential
        self._potential = following
        return obs, shaped.astype(np.float32), done, infos
