"""``train.shaping``: the DP potential and the shaped reward it gives."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("stable_baselines3")

from agents import make_policy  # noqa: E402
from agents.dp import dp_value_table  # noqa: E402
from modenhub_env.config import HubConfig  # noqa: E402
from modenhub_env.sb3 import ModEnHubVecEnv  # noqa: E402
from modenhub_env.workload import max_budget  # noqa: E402
from train.shaping import DPShapingVecEnv, dp_potential, fresh_request_value  # noqa: E402

CONFIG = HubConfig.preset("decoherence-short", episode_rounds=24)  # homogeneous spokes: one p_ab


def test_dp_potential__sums_the_dp_value_of_the_visible_requests_read_from_the_core():
    env = ModEnHubVecEnv(8, config=CONFIG)
    env.seed(3)
    obs = env.reset()
    policy = make_policy("log-parallel", CONFIG)
    for _ in range(6):  # a few rounds: a queue, a cache, reservations
        obs, *_ = env.step(policy.predict(obs)[0])
    core, cfg = env.venv.core, CONFIG
    values, _ = dp_value_table(cfg.p_bsm * core.eta[0] * core.eta[1], max_budget(cfg), cfg.k_max, cfg.w_attempt, cfg.w_fail)
    state = core.state
    expected = np.zeros(env.num_envs)
    for i in range(env.num_envs):
        for j in np.flatnonzero(state.q_valid[i])[: cfg.request_slots]:
            reserved = state.q_reserved[i, j] >= 0
            expected[i] += 1.0 if reserved else values[state.q_deadline[i, j] - state.round[i]]
    assert (state.q_reserved[:, : cfg.request_slots] >= 0).any()  # the cache case is exercised
    np.testing.assert_allclose(dp_potential(obs, cfg, max_budget(cfg)), expected, rtol=1e-5)


def test_shaping__an_undiscounted_episode_telescopes_to_its_return_plus_the_potential_change():
    env = DPShapingVecEnv(ModEnHubVecEnv(1, config=CONFIG), CONFIG, gamma=1.0)
    env.seed(2)
    obs = env.reset()
    first = env.potential(obs)[0]
    policy = make_policy("random", CONFIG, seed=0)
    shaped = 0.0
    for _ in range(CONFIG.episode_rounds):
        obs, reward, done, infos = env.step(policy.predict(obs, action_masks=env.venv.action_masks())[0])
        shaped += float(reward[0])
    assert done[0]
    last = env.potential(infos[0]["terminal_observation"][None])[0]
    assert last != 0.0 and first != 0.0
    assert shaped == pytest.approx(infos[0]["episode"]["r"] + last - first, abs=1e-3)


def test_shaping__leaves_the_logged_episode_return_unshaped():
    plain, shaped = (ModEnHubVecEnv(2, config=CONFIG) for _ in range(2))
    wrapped = DPShapingVecEnv(shaped, CONFIG, gamma=0.99)
    for env in (plain, wrapped):
        env.seed(7)
        env.reset()
    actions = np.ones((2, CONFIG.request_slots + CONFIG.prefetch_slots), dtype=np.int64)
    for _ in range(CONFIG.episode_rounds):
        *_, plain_infos = plain.step(actions)
        *_, shaped_infos = wrapped.step(actions)
    assert [i["episode"]["r"] for i in shaped_infos] == [i["episode"]["r"] for i in plain_infos]


PAPER_COST = HubConfig.preset("paper", w_attempt=0.05, w_fail=0.5, cache_capacity=0)


def test_fresh_request_value__is_the_dp_value_of_a_whole_budget_when_every_pair_is_alike():
    cfg = PAPER_COST
    values, _ = dp_value_table(cfg.p_bsm * cfg.eta[0] * cfg.eta[1], cfg.round_budget, cfg.k_max, cfg.w_attempt, cfg.w_fail)
    assert fresh_request_value(cfg, cfg.round_budget) == pytest.approx(values[cfg.round_budget])


def test_dp_potential__a_sequential_episode_starts_at_the_dp_value_of_all_its_requests():
    env = ModEnHubVecEnv(3, config=PAPER_COST)
    env.seed(0)
    phi = dp_potential(env.reset(), PAPER_COST, PAPER_COST.round_budget)
    expected = PAPER_COST.episode_requests * fresh_request_value(PAPER_COST, PAPER_COST.round_budget)
    np.testing.assert_allclose(phi, expected)


def test_shaping__the_dp_policy_scores_zero_a_round_in_expectation():
    # Phi is the DP's value function, so E[r + Phi(s') - Phi(s)] = 0 under the DP's own
    # actions (its Bellman equation); shaped rewards are martingale differences, so their
    # standard error is the plain one.
    env = DPShapingVecEnv(ModEnHubVecEnv(64, config=PAPER_COST), PAPER_COST, gamma=1.0)
    env.seed(11)
    obs = env.reset()
    policy, rewards = make_policy("single-request-dp", PAPER_COST), []
    for _ in range(300):
        obs, reward, _, _ = env.step(policy.predict(obs)[0])
        rewards.append(reward)
    rewards = np.concatenate(rewards)
    assert abs(rewards.mean()) < 3 * rewards.std(ddof=1) / np.sqrt(rewards.size)
