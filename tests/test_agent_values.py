"""Edges of the policies, the DP and the shared ``predict`` that the behaviour tests of
``test_agents.py`` and ``test_dp.py`` leave open (found by mutation testing), each with
its expected value worked out by hand."""

from __future__ import annotations

import re

import numpy as np
import pytest

import agents.dp
from agents import (
    DeadlinePolicy,
    LogParallelPolicy,
    SequentialPolicy,
    SingleRequestDPPolicy,
    attempts_for_target,
    dp_value_table,
)
from agents.base import Policy, grant_in_order, slot_order
from modenhub_env import HubConfig, kernels
from modenhub_env.observation import feature_names
from tests.test_agents import crafted

UNREACHABLE = np.iinfo(np.int32).max


def masks_for(config: HubConfig, limits: list[int]) -> np.ndarray:
    """Masks allowing ``0..limit`` per slot (a limit of -1 allows nothing)."""
    return (np.arange(config.k_max + 1)[None, :] <= np.asarray(limits)[:, None]).reshape(-1)


def kernel_act(policy, obs: np.ndarray, limits: list) -> list:
    """The compiled scheduler of ``policy`` on observation rows ``obs`` with the slots'
    ``limits`` given by hand (as ``predict`` derives them from masks); the actions and the
    scratch start as garbage (7 and 77), so a slot the kernel forgets to set shows."""
    obs = np.atleast_2d(np.asarray(obs, dtype=np.float32))
    limits = np.atleast_2d(np.asarray(limits, dtype=np.int64))
    actions = np.full_like(limits, 7)
    scratch = np.full((limits.shape[0], 3 * limits.shape[1]), 77, dtype=np.int64)
    kernels.act_envs(policy.params, obs, limits, actions, scratch)
    return actions.tolist()


# ------------------------------------------------------------------ attempts_for_target


def test_attempts_for_target__exact_integer_ratio_is_not_rounded_up():
    # (1/2)**n <= 1 - 0.75 at n = 2 exactly: ln 0.25 / ln 0.5 = 2
    assert attempts_for_target(np.array([0.5]), np.array([1]), 0.75).tolist() == [2]
    # (1/2)**(2n) <= 1 - 0.9375 = 1/16 at n = 2 exactly
    assert attempts_for_target(np.array([0.5]), np.array([2]), 0.9375).tolist() == [2]


def test_attempts_for_target__zero_p_is_unreachable_and_result_is_int64():
    n = attempts_for_target(np.array([0.0, 0.0, 1.0, 0.2]), np.array([2, 0, 3, 3]), 0.9)
    # p = 0 never succeeds; slack 0 needs nothing; p = 1 needs one; 1 - 0.8**(3n) >= 0.9 at n = 4
    assert n.tolist() == [UNREACHABLE, 0, 1, 4]
    assert n.dtype == np.int64


def test_attempts_for_target__target_one_is_reached_only_by_certain_success():
    n = attempts_for_target(np.array([0.3, 1.0, 0.99]), np.array([2, 2, 5]), 1.0)
    assert n.tolist() == [UNREACHABLE, 1, UNREACHABLE]


def test_attempts_for_target__empty_input_gives_an_empty_int64_array_of_its_shape():
    n = attempts_for_target(np.zeros((2, 0)), np.zeros((2, 0), dtype=np.int64), 0.9)
    assert n.shape == (2, 0) and n.dtype == np.int64


def test_attempts_for_target__keeps_the_broadcast_shape():
    # p = 0.5 over slack 1 and 2 rounds at target 0.75: (1/2)**n <= 1/4 at n = 2; (1/2)**(2n) <= 1/4 at n = 1
    n = attempts_for_target(np.array([[0.5], [1.0]]), np.array([1, 2]), 0.75)
    assert n.tolist() == [[2, 1], [1, 1]] and n.dtype == np.int64


# ------------------------------------------------------------------ DeadlinePolicy


def test_deadline__arguments_at_their_range_ends():
    cfg = HubConfig()
    assert DeadlinePolicy(cfg, target=1.0).target == 1.0
    assert DeadlinePolicy(cfg, give_up_below=1.0).give_up_below == 1.0
    assert DeadlinePolicy(cfg, max_share=1.0, prefetch_attempts=12).prefetch_attempts == 12
    assert DeadlinePolicy(cfg).prefetch is True and DeadlinePolicy(cfg, prefetch=False).prefetch is False
    for kwargs, message in (
        ({"max_share": 0.0}, "max_share must be in (0, 1], got 0.0"),
        ({"max_share": 1.5}, "max_share must be in (0, 1], got 1.5"),
        ({"prefetch_attempts": 0}, "prefetch_attempts must be in [1, k_max=12], got 0"),
        ({"prefetch_attempts": 13}, "prefetch_attempts must be in [1, k_max=12], got 13"),
        ({"give_up_below": 1.5}, "give_up_below must be in [0, 1], got 1.5"),
        ({"give_up_below": -0.5}, "give_up_below must be in [0, 1], got -0.5"),
    ):
        with pytest.raises(ValueError, match=re.escape(message)):
            DeadlinePolicy(cfg, **kwargs)


def test_deadline__prefetches_one_attempt_per_candidate_by_default():
    cfg = HubConfig(n_qpus=16, prefetch_slots=2)
    actions, _ = DeadlinePolicy(cfg).predict(crafted(cfg, [], [{"p": 0.2}, {"p": 0.3}]))
    np.testing.assert_array_equal(actions, [0, 0, 0, 0, 1, 1])


def test_deadline__per_request_cap_is_at_least_one_attempt():
    # S = 3, max_share 0.5: floor(1.5) = 1 attempt at most for one request
    cfg = HubConfig(n_qpus=16, max_attempts_per_round=3)
    policy = DeadlinePolicy(cfg, max_share=0.5)
    assert policy.per_request_cap == 1
    actions, _ = policy.predict(crafted(cfg, [{"p": 0.1, "slack": 1}, {"p": 0.1, "slack": 1}]))
    np.testing.assert_array_equal(actions, [1, 1, 0, 0])
    assert DeadlinePolicy(cfg, max_share=0.1).per_request_cap == 1  # floor(0.3) = 0, at least 1


def test_deadline__gives_up_on_the_best_chance_over_all_remaining_rounds():
    cfg = HubConfig(n_qpus=16, k_max=2)
    policy = DeadlinePolicy(cfg, give_up_below=0.5, prefetch=False)
    # p 0.2, 2 a round for 3 rounds: 1 - 0.8**6 = 0.738 >= 0.5, kept (needs ceil(ln .1 / (3 ln .8)) = 4, cut to 2)
    kept, _ = policy.predict(crafted(cfg, [{"p": 0.2, "slack": 3}]))
    assert kept[0] == 2
    # p 0.5, 1 a round for 1 round: exactly 0.5, not below the bar: kept
    edge, _ = DeadlinePolicy(cfg, give_up_below=0.5, prefetch=False).predict(
        crafted(cfg, [{"p": 0.5, "slack": 1, "limit": 1}])
    )
    assert edge[0] == 1
    # p 0.2, 2 a round for 1 round: 1 - 0.8**2 = 0.36 < 0.5: given up
    dropped, _ = policy.predict(crafted(cfg, [{"p": 0.2, "slack": 1}]))
    assert dropped[0] == 0


# ------------------------------------------------------------------ SequentialPolicy


def test_sequential__a_limit_of_one_still_gets_its_attempt():
    cfg = HubConfig(n_qpus=8)
    actions, _ = SequentialPolicy(cfg).predict(crafted(cfg, [{"p": 0.2, "limit": 1}, {"p": 0.3}]))
    np.testing.assert_array_equal(actions, [1, 0, 0, 0])


def test_sequential__one_attempt_for_the_first_slot_that_may_launch_and_none_for_prefetch():
    cfg = HubConfig(n_qpus=8, prefetch_slots=2)  # K = 4, M = 2
    # slot 0 is served from the cache (present, limit 0); slot 1 is the first that may launch;
    # the prefetch candidates may launch too, but the sequential scheduler never prefetches
    obs = crafted(cfg, [{"p": 0.2, "from_cache": True}, {"p": 0.3}], [{"p": 0.2}, {"p": 0.2}])
    assert kernel_act(SequentialPolicy(cfg), obs, [0, 12, 0, 0, 12, 12]) == [[0, 1, 0, 0, 0, 0]]


# ------------------------------------------------------------------ LogParallelPolicy


def test_log_parallel__nothing_for_an_empty_or_cached_slot_whatever_its_limit():
    cfg = HubConfig(n_qpus=8)  # k(8) = ceil(log2 8) = 3
    # slot 0 served from the cache, slot 1 pending, slots 2 and 3 empty; all limits 12
    obs = crafted(cfg, [{"p": 0.2, "from_cache": True, "limit": 12}, {"p": 0.2}])
    assert kernel_act(LogParallelPolicy(cfg), obs, [12, 12, 12, 12]) == [[0, 3, 0, 0]]


# ------------------------------------------------------------------ DeadlinePolicy, compiled


def test_deadline__no_prefetch_when_off_or_for_an_empty_candidate_whatever_its_limit():
    cfg = HubConfig(n_qpus=8, prefetch_slots=2)
    obs = crafted(cfg, [], [{"p": 0.2}])  # candidate 0 present, candidate 1 empty
    limits = [0, 0, 0, 0, 12, 12]
    assert kernel_act(DeadlinePolicy(cfg, prefetch=False), obs, limits) == [[0, 0, 0, 0, 0, 0]]
    assert kernel_act(DeadlinePolicy(cfg), obs, limits) == [[0, 0, 0, 0, 1, 0]]


def test_deadline__least_slack_first_from_any_request_slot():
    # S = 4, one request may take all of it (max_share 1), none is given up. p = 0.1, target
    # 0.9: slack 1 needs ceil(ln 0.1 / ln 0.9) = ceil(21.85) = 22 attempts, slack 5 needs
    # ceil(21.85 / 5) = 5; both are cut to the limit of 4, so S goes to the least slack alone.
    cfg = HubConfig(n_qpus=16, max_attempts_per_round=4, prefetch_slots=2)
    policy = DeadlinePolicy(cfg, max_share=1.0, give_up_below=0.0, prefetch=False)
    late_second = crafted(cfg, [{"p": 0.1, "slack": 5}, {"p": 0.1, "slack": 1}])
    late_last = crafted(cfg, [{"p": 0.1, "slack": 5}] * 3 + [{"p": 0.1, "slack": 1}])
    limits = [[4, 4, 0, 0, 0, 0], [4, 4, 4, 4, 0, 0]]
    assert kernel_act(policy, np.stack([late_second, late_last]), limits) == [
        [0, 4, 0, 0, 0, 0],
        [0, 0, 0, 4, 0, 0],
    ]


# ------------------------------------------------------------------ SingleRequestDPPolicy and the DP


def test_dp_value_table__p_one_and_empty_inputs():
    values, best_n = dp_value_table(1.0, 2, 3, w_attempt=0.1)
    # one attempt always succeeds: V(1) = 1 - 0.1; with 2 rounds waiting a round is as good
    # (0 attempts, then V(1) = 0.9), and the fewest attempts among equals win
    np.testing.assert_allclose(values, [0.0, 0.9, 0.9])
    np.testing.assert_array_equal(best_n, [0, 1, 0])
    values, best_n = dp_value_table(np.zeros(0), 2, 3, w_attempt=0.0)
    assert values.shape == (0, 3) and best_n.shape == (0, 3)


def test_dp_value_table__rejects_bad_rounds_p_and_k_max_with_exact_messages():
    for rounds in (2.5, True, -1):
        with pytest.raises(ValueError, match=re.escape(f"rounds must be a non-negative integer, got {rounds!r}")):
            dp_value_table(0.5, rounds, 3, 0.0)
    for p in (1.5, -0.1):
        with pytest.raises(ValueError) as err:
            dp_value_table(p, 2, 3, 0.0)
        assert str(err.value) == "p must be in [0, 1]"
    with pytest.raises(ValueError) as err:
        dp_value_table(0.5, 2, -1, 0.0)
    assert str(err.value) == "k_max must be non-negative, got -1"


def test_dp_value_table__p_zero_never_serves_and_best_n_is_int64():
    values, best_n = dp_value_table(0.0, 2, 3, w_attempt=0.1, w_fail=0.5)
    # no attempt can succeed: every round waits (n = 0) and the request fails, V(r) = -0.5
    np.testing.assert_array_equal(values, [-0.5, -0.5, -0.5])
    np.testing.assert_array_equal(best_n, [0, 0, 0])
    assert best_n.dtype == np.int64  # attempt counts, used as actions and indices


def test_dp_value_table__a_float32_p_is_solved_in_float64():
    values, best_n = dp_value_table(np.float32(0.3), 1, 2, w_attempt=0.0)
    # float32(0.3) = 0.30000001192092896; V(1) = 1 - (1 - p)**2 = 0.5100000166893004 in
    # float64 (float32 arithmetic would give 0.5100000202655792)
    np.testing.assert_allclose(values, [0.0, 0.5100000166893004], rtol=1e-14, atol=0.0)
    np.testing.assert_array_equal(best_n, [0, 2])


def test_dp_value_table__whole_float_k_max_acts_as_that_many_attempts():
    values, best_n = dp_value_table([0.5, 0.5], 1, np.array([1.0, 2.0]), w_attempt=0.0)
    # free attempts: all k_max are used, V(1) = 1 - 0.5**k_max = 0.5 and 0.75
    np.testing.assert_array_equal(values, [[0.0, 0.5], [0.0, 0.75]])
    np.testing.assert_array_equal(best_n, [[0, 1], [0, 2]])


def test_dp_module__a_former_name_warns_with_its_full_message_and_an_unknown_name_is_named():
    with pytest.warns(DeprecationWarning) as record:
        former = agents.dp.OptimalSingleRequestPolicy
    assert former is SingleRequestDPPolicy
    assert len(record) == 1
    assert str(record[0].message) == (
        "OptimalSingleRequestPolicy is deprecated; use SingleRequestDPPolicy "
        "(the single-request DP, the optimum only for one request at a time)"
    )
    # stacklevel=2 points at the caller, not at agents/dp.py (not `== __file__`: mutation
    # testing wraps each function in one more frame)
    assert record[0].filename != agents.dp.__file__
    with pytest.raises(AttributeError) as err:
        agents.dp.NoSuchPolicy  # noqa: B018
    assert str(err.value) == "module 'agents.dp' has no attribute 'NoSuchPolicy'"


def test_optimal_single_request__gives_zero_to_a_cached_request_and_shares_s_oldest_first():
    cfg = HubConfig(n_qpus=16, max_attempts_per_round=4, w_attempt=0.01, w_fail=1.0)
    policy = SingleRequestDPPolicy(cfg)
    # the flag alone, with a non-zero limit, must give 0
    cached, _ = policy.predict(crafted(cfg, [{"p": 0.2, "from_cache": True, "limit": 4}]))
    np.testing.assert_array_equal(cached, [0, 0, 0, 0])
    _, best_n = dp_value_table(0.2, 1, 4, 0.01, 1.0)
    assert best_n[1] == 4  # last round, p 0.2: each attempt gains 0.2 * 0.8**(n-1) * 2 > 0.01
    actions, _ = policy.predict(crafted(cfg, [{"p": 0.2, "slack": 1}, {"p": 0.2, "slack": 1}]))
    np.testing.assert_array_equal(actions, [4, 0, 0, 0])  # S = 4 goes to the oldest


# ------------------------------------------------------------------ Policy.predict and grant_in_order


def test_policy__rejects_a_config_that_is_not_a_hub_config():
    with pytest.raises(ValueError, match=re.escape("config must be a HubConfig, got dict")):
        LogParallelPolicy({"n_qpus": 8})


def test_policy__repr_names_the_class_and_scenario():
    assert repr(LogParallelPolicy(HubConfig(n_qpus=5))) == "LogParallelPolicy(n_qpus=5, workload='sequential')"


def test_predict__masks_override_the_observations_limits():
    cfg = HubConfig(n_qpus=8, prefetch_slots=1)  # k(8) = 3
    obs = crafted(cfg, [{"p": 0.2}, {"p": 0.2}, {"p": 0.2}], [{"p": 0.2}])
    # slot 0 may take 2, slot 1 nothing at all (an empty mask row), slot 2 up to 12
    masks = masks_for(cfg, [2, -1, 12, 0, 0])
    actions, _ = LogParallelPolicy(cfg).predict(obs, action_masks=masks)
    np.testing.assert_array_equal(actions, [2, 0, 3, 0, 0])
    # the prefetch slot's mask allows 0 only: no prefetch although the observation allows it
    actions, _ = DeadlinePolicy(cfg).predict(obs, action_masks=masks)
    assert actions[-1] == 0
    actions, _ = DeadlinePolicy(cfg).predict(obs, action_masks=masks_for(cfg, [2, -1, 12, 0, 1]))
    assert actions[-1] == 1


def test_predict__wrong_mask_size_has_an_exact_message():
    cfg = HubConfig(n_qpus=8)  # K + M = 4 slots, 13 choices each
    with pytest.raises(ValueError) as err:
        LogParallelPolicy(cfg).predict(crafted(cfg, [{"p": 0.2}]), action_masks=np.ones(3, dtype=bool))
    assert str(err.value) == (
        "action_masks must have 52 entries per observation ((K + M) * (k_max + 1)), got shape (3,)"
    )


class _Int32Ones(Policy):
    """A policy whose ``act`` gives one attempt per slot as int32."""

    def act(self, obs: np.ndarray, limits: np.ndarray, allowed: np.ndarray) -> np.ndarray:
        return np.ones(limits.shape, dtype=np.int32)


def test_predict__returns_int64_whatever_act_returns():
    cfg = HubConfig(n_qpus=8)  # K + M = 4 slots
    actions, _ = _Int32Ones(cfg).predict(crafted(cfg, [{"p": 0.2}], batch=2))
    assert actions.dtype == np.int64
    assert actions.tolist() == [[1, 1, 1, 1], [1, 1, 1, 1]]


def test_predict__any_nonzero_mask_entry_allows_its_value():
    cfg = HubConfig(n_qpus=8, prefetch_slots=1)  # k(8) = 3, K + M = 5 slots, 13 choices
    obs = crafted(cfg, [{"p": 0.2}])
    # integer masks, read as bool (as sb3-contrib does): every slot allows 0 (entry 2),
    # slot 0 also 1 (entry 1), so its largest allowed value is 1, not the 0 of the larger entry
    masks = np.zeros((5, 13), dtype=np.int64)
    masks[:, 0] = 2
    masks[0, 1] = 1
    actions, _ = LogParallelPolicy(cfg).predict(obs, action_masks=masks.reshape(-1))
    np.testing.assert_array_equal(actions, [1, 0, 0, 0, 0])


def test_kernel_policy__act_reads_float64_observations_as_the_envs_float32():
    cfg = HubConfig(n_qpus=8)  # K + M = 4 slots
    obs = crafted(cfg, [{"p": 0.2}], batch=1).astype(np.float64)
    limits = np.array([[2, 2, 2, 2]], dtype=np.int32)
    allowed = np.ones((1, 4, cfg.k_max + 1), dtype=bool)
    policy = SequentialPolicy(cfg)
    actions = policy.act(obs, limits, allowed)
    # int32 limits are taken as int64, so the actions are int64
    assert actions.dtype == np.int64 and actions.tolist() == [[1, 0, 0, 0]]
    # a present flag of 0.5 + 1e-12 is 0.5 in float32, which is not present (> 0.5)
    obs[0, feature_names(cfg.request_slots, cfg.prefetch_slots).index("request[0].present")] = 0.5 + 1e-12
    assert policy.act(obs, limits, allowed).tolist() == [[0, 0, 0, 0]]


def test_slot_order__every_row_is_the_slots_in_their_own_order():
    order = slot_order(2, 3)
    assert order.tolist() == [[0, 1, 2], [0, 1, 2]]


def test_grant_in_order__returns_int64_attempts():
    granted = grant_in_order([[1.0, 2.0, 3.0]], np.array([[2, 0, 1]]), 4)
    assert granted.dtype == np.int64 and granted.tolist() == [[1, 0, 3]]
    assert grant_in_order([[1.0, 2.0]], np.array([[0, 1]]), None).dtype == np.int64
