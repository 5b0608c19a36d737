"""The single-request optimum: the DP against brute force, closed forms and the env."""

from __future__ import annotations

import itertools

import gymnasium as gym
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import modenhub_env  # noqa: F401  (registers ModEnHub-v0)
from agents import SingleRequestDPPolicy, dp_value_table, make_policy
from modenhub_env import HubConfig, kernels, physics
from modenhub_env.observation import feature_names


def plan_value(p: float, plan: tuple[int, ...], w_attempt: float, w_fail: float) -> float:
    """Expected reward of launching ``plan[t]`` attempts in round ``t`` until a success."""
    value, unserved = 0.0, 1.0
    for n in plan:
        success = 1.0 - (1.0 - p) ** n
        value += unserved * (success - w_attempt * n)
        unserved *= 1.0 - success
    return value - unserved * w_fail


def brute_force(p: float, rounds: int, k_max: int, w_attempt: float, w_fail: float) -> float:
    """Best expected reward over every sequence of attempts: with "served or not" the
    only state, the best open-loop plan is the optimum."""
    plans = itertools.product(range(k_max + 1), repeat=rounds)
    return max(plan_value(p, plan, w_attempt, w_fail) for plan in plans)


@pytest.mark.parametrize("rounds", [1, 2, 3])
@pytest.mark.parametrize("k_max", [1, 2, 3])
@pytest.mark.parametrize("p", [0.05, 0.35, 0.8])
@pytest.mark.parametrize("w_attempt,w_fail", [(0.0, 0.0), (0.04, 0.0), (0.1, 1.0), (0.3, 0.5)])
def test_dp_value_table__matches_brute_force_over_all_plans(p, rounds, k_max, w_attempt, w_fail):
    values, best_n = dp_value_table(p, rounds, k_max, w_attempt, w_fail)
    assert values.shape == best_n.shape == (rounds + 1,)
    for r in range(rounds + 1):
        assert values[r] == pytest.approx(brute_force(p, r, k_max, w_attempt, w_fail), abs=1e-12)
    # The DP's own choices achieve its value.
    greedy_plan = tuple(best_n[r] for r in range(rounds, 0, -1))
    assert plan_value(p, greedy_plan, w_attempt, w_fail) == pytest.approx(values[rounds], abs=1e-12)


def test_dp_value_table__free_attempts_use_k_max_every_round():
    p, rounds, k_max = 0.2, 4, 5
    values, best_n = dp_value_table(p, rounds, k_max, w_attempt=0.0)
    np.testing.assert_array_equal(best_n, [0] + [k_max] * rounds)
    expected = [physics.parallel_success(p, r, k_max) for r in range(rounds + 1)]
    np.testing.assert_allclose(values, expected, atol=1e-12)


def test_dp_value_table__no_rounds_left_is_the_fail_penalty():
    values, best_n = dp_value_table(0.3, 0, 4, w_attempt=0.1, w_fail=2.0)
    np.testing.assert_array_equal(values, [-2.0])
    np.testing.assert_array_equal(best_n, [0])


def test_single_request_dp__kernel_writes_every_entry_of_its_outputs():
    """The kernel fills the arrays it is given (here garbage): ``best[0] = 0``, ``V(0) = -w_fail``,
    and with p = 1, k_max = 2, w_attempt = 0.1, w_fail = 2: V(1) = 1 - 0.1 = 0.9 at one attempt,
    V(2) = 0.9 too, by waiting (0 attempts, the fewest among equals)."""
    values, best = np.full(3, 5.0), np.full(3, 9, dtype=np.int64)
    kernels.single_request_dp(1.0, 2, 2, 0.1, 2.0, values, best)
    np.testing.assert_allclose(values, [-2.0, 0.9, 0.9])
    np.testing.assert_array_equal(best, [0, 1, 0])


def test_dp_value_table__attempts_dearer_than_any_gain_are_never_launched():
    values, best_n = dp_value_table(0.9, 3, 4, w_attempt=1.5, w_fail=0.4)
    np.testing.assert_array_equal(best_n, 0)
    np.testing.assert_allclose(values, -0.4)


@settings(max_examples=60, deadline=None)
@given(
    p=st.floats(0.01, 0.99),
    k_max=st.integers(1, 12),
    w_attempt=st.floats(0.0, 0.3),
    w_fail=st.floats(0.0, 2.0),
)
def test_dp_value_table__beats_every_constant_policy_and_spends_less_with_more_rounds(p, k_max, w_attempt, w_fail):
    rounds = 5
    values, best_n = dp_value_table(p, rounds, k_max, w_attempt, w_fail)
    for k in range(1, k_max + 1):
        success = physics.parallel_success(p, rounds, k)
        constant = success - w_attempt * physics.parallel_mean_attempts(p, rounds, k) - w_fail * (1 - success)
        assert values[rounds] >= constant - 1e-9
    # More rounds left, more to lose by failing now is worth less: attempts never rise.
    assert (np.diff(best_n[1:]) <= 0).all()
    assert (np.diff(values) >= -1e-12).all()


def test_dp_value_table__solves_many_requests_at_once():
    p = np.array([[0.1, 0.4], [0.7, 0.25]])
    k_max = np.array([[3, 1], [2, 0]])
    values, best_n = dp_value_table(p, 3, k_max, 0.05, 0.5)
    assert values.shape == best_n.shape == (2, 2, 4)
    for idx in np.ndindex(p.shape):
        one_values, one_best = dp_value_table(float(p[idx]), 3, int(k_max[idx]), 0.05, 0.5)
        np.testing.assert_allclose(values[idx], one_values)
        np.testing.assert_array_equal(best_n[idx], one_best)


def test_dp_value_table__rejects_probabilities_outside_the_unit_interval():
    with pytest.raises(ValueError, match="p must be in"):
        dp_value_table(1.2, 3, 2, 0.1)
    with pytest.raises(ValueError, match="rounds"):
        dp_value_table(0.2, -1, 2, 0.1)


def test_optimal_single_request__picks_the_dp_attempts_for_each_slot():
    cfg = HubConfig(n_qpus=8, w_attempt=0.05, w_fail=0.5, max_attempts_per_round=None)
    names = feature_names(cfg.request_slots, cfg.prefetch_slots)
    obs = np.zeros(len(names), dtype=np.float32)
    slots = [(0.2, 1, 12), (0.2, 3, 12), (0.4, 2, 3)]  # p, slack [rounds], limit [attempts]
    for i, (p, slack, limit) in enumerate(slots):
        obs[names.index(f"request[{i}].present")] = 1.0
        obs[names.index(f"request[{i}].p_pair")] = p
        obs[names.index(f"request[{i}].slack")] = slack / cfg.round_budget
        obs[names.index(f"request[{i}].attempt_limit")] = limit / cfg.k_max
    actions, _ = SingleRequestDPPolicy(cfg).predict(obs)
    expected = [
        dp_value_table(np.float32(p), cfg.round_budget, limit, cfg.w_attempt, cfg.w_fail)[1][slack]
        for p, slack, limit in slots
    ]
    np.testing.assert_array_equal(actions, expected + [0])
    assert expected[0] > expected[1] > 0  # the last round is worth the most attempts


#: The DP's exact setting: sequential workload, no cache; attempts cost, failures hurt.
EXACT = HubConfig(n_qpus=8, episode_requests=60, cache_capacity=0, w_attempt=0.05, w_fail=0.5)


def reward_per_request(cfg: HubConfig, policy, num_envs: int = 64, seed: int = 2024) -> np.ndarray:
    """Each env's first-episode return divided by its requests, ``(num_envs,)``."""
    env = gym.make_vec("modenhub_env:ModEnHub-v0", num_envs=num_envs, config=cfg)
    obs, _ = env.reset(seed=seed)
    returns = np.zeros(num_envs)
    finished = np.zeros(num_envs, dtype=bool)
    for _ in range(cfg.episode_requests * cfg.round_budget + 1):
        obs, reward, terminated, truncated, _ = env.step(policy.predict(obs)[0])
        returns += np.where(finished, 0.0, reward)
        finished |= terminated | truncated
        if finished.all():
            break
    assert finished.all()
    return returns / cfg.episode_requests


def test_optimal_single_request__expected_reward_matches_the_env_monte_carlo():
    """Every request is the DP's problem, so the mean reward per request must match
    ``V(R)`` within 3 standard errors."""
    p = float(EXACT.p_pair(0, 1))  # every spoke is alike in the paper preset
    values, best_n = dp_value_table(p, EXACT.round_budget, EXACT.k_max, EXACT.w_attempt, EXACT.w_fail)
    assert len(set(best_n[1:])) > 1  # a policy that changes with the rounds left
    per_request = reward_per_request(EXACT, SingleRequestDPPolicy(EXACT))
    standard_error = per_request.std(ddof=1) / np.sqrt(per_request.size)
    assert abs(per_request.mean() - values[EXACT.round_budget]) < 3 * standard_error


@pytest.mark.parametrize("name", ["sequential", "log-parallel", "deadline"])
def test_optimal_single_request__earns_at_least_the_heuristics_where_it_is_exact(name):
    optimal = reward_per_request(EXACT, SingleRequestDPPolicy(EXACT))
    other = reward_per_request(EXACT, make_policy(name, EXACT))
    # Same seeds, paired episodes: the difference's standard error.
    gap = optimal - other
    assert gap.mean() > -3 * gap.std(ddof=1) / np.sqrt(gap.size)
