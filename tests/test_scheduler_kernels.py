"""The compiled schedulers' kernels of ``modenhub_env.kernels`` called directly, on
policy params and observation rows built by hand: the prefetch-value scheduler's table
look-up and choice (``docs/model.md#prefetch-value``), the single-request optimum's value,
the grant in order and the least-slack-first sort, each against numbers worked out by hand."""

from __future__ import annotations

import numpy as np
import pytest

from modenhub_env import kernels

# Observation version 0: 6 global features, 9 per request slot, 6 per prefetch slot.
N_GLOBAL, N_REQUEST, N_PREFETCH = 6, 9, 6
# p = 1/2, 1/4 and w_attempt = 1/8 keep every gain below exact in binary.
W_ATTEMPT, W_FAIL = 0.125, 1.0
# The prefetch-value table: p_ab classes 1/4 and 1/2 (columns 0, 1; column 2 for any pair),
# 2 rows of rounds since the last request, 2 ebits held per pair; a cell is (A, B).
CLASSES, ROWS, PER_PAIR = (0.25, 0.5), 2, 2
CELLS = ROWS * (len(CLASSES) + 1) * PER_PAIR


def params(code: int, k: int = 1, m: int = 1, scale: int = 1, capacity: int = -1,
           worth: dict[int, tuple[float, float]] | None = None) -> np.ndarray:
    """Scheduler params for ``code``; with ``worth`` (cell -> (A, B)) the prefetch-value
    table above, every other cell (0.3, 0)."""
    policy = np.zeros(kernels.P_SIZE)
    policy[kernels.P_CODE], policy[kernels.P_K], policy[kernels.P_M] = code, k, m
    policy[kernels.P_KMAX], policy[kernels.P_CAPACITY], policy[kernels.P_SLACK_SCALE] = 3, capacity, scale
    policy[kernels.P_W_ATTEMPT], policy[kernels.P_W_FAIL] = W_ATTEMPT, W_FAIL
    if worth is None:
        return policy
    policy[kernels.P_PER_PAIR], policy[kernels.P_WORTH_ROWS] = PER_PAIR, ROWS
    policy[kernels.P_WORTH_CLASSES] = len(CLASSES)
    table = np.tile([0.3, 0.0], CELLS)
    for cell, (a, b) in worth.items():
        table[2 * cell : 2 * cell + 2] = a, b
    return np.concatenate([policy, CLASSES, table])


def cell(since: int, column: int, held: int) -> int:
    return (since * (len(CLASSES) + 1) + column) * PER_PAIR + held


def act(policy: np.ndarray, obs: np.ndarray, limits: list[int]) -> list[int]:
    """The kernel's attempts for one row; actions and scratch start as garbage (7, 77)."""
    limits = np.asarray([limits], dtype=np.int64)
    actions = np.full_like(limits, 7)
    scratch = np.full((1, 3 * limits.shape[1]), 77, dtype=np.int64)
    kernels.act_envs(policy, np.asarray([obs], dtype=np.float32), limits, actions, scratch)
    return actions[0].tolist()


def row(k: int, requests=(), prefetch=()) -> np.ndarray:
    """An observation row: ``requests`` as (p, slack share), ``prefetch`` as (p, cached
    share, recency) per slot from the first; the other slots empty."""
    obs = np.zeros(N_GLOBAL + N_REQUEST * k + N_PREFETCH * max(len(prefetch), 2), dtype=np.float32)
    for j, (p, slack) in enumerate(requests):
        at = N_GLOBAL + N_REQUEST * j
        obs[at : at + 3] = 1.0, p, slack
    for j, (p, cached, recency) in enumerate(prefetch):
        at = N_GLOBAL + N_REQUEST * k + N_PREFETCH * j
        obs[at], obs[at + 1], obs[at + 2], obs[at + 4] = 1.0, p, cached, recency
    return obs


# ------------------------------------------------------------------ _prefetch_choice


@pytest.mark.parametrize(("p", "since", "cached", "read", "chosen"), [
    # limit 3, W = A (B = 0): gain(n) = (1 - (1 - p)**n) A - n / 8. At p = 1/2, A = 0.9:
    # 0.325, 0.425, 0.4125 (2 attempts); A = 0.3: 0.025, -0.025 (1 attempt).
    (0.5, 0, 0, cell(0, 1, 0), 2),
    # p = 1/4, A = 0.9: 0.1, 0.14375, 0.1453 (3 attempts); A = 0.3: -0.05 (none)
    (0.25, 0, 1, cell(0, 0, 1), 3),
    (0.25, 1, 1, cell(1, 0, 1), 3),
    # a p_ab of no class reads the column of any pair; p = 0.3, A = 0.9: 0.145, 0.209, 0.2163 (3)
    (0.3, 1, 0, cell(1, 2, 0), 3),
    # rounds since beyond the last row read the last row, ebits held beyond the last the last
    (0.3, 7, 0, cell(1, 2, 0), 3),
    (0.5, 5, 3, cell(1, 1, 1), 2),
    # a class matches within 1e-6 p: 1e-7 off reads the class, 1e-6 off (> 5e-7) any pair
    (0.5000001, 0, 0, cell(0, 1, 0), 2),
    (0.500001, 0, 0, cell(0, 2, 0), 2),
])
def test_prefetch_choice__reads_the_cell_of_its_class_rounds_since_and_ebits_held(
        p, since, cached, read, chosen):
    policy = params(kernels.PREFETCH_VALUE, worth={read: (0.9, 0.0)})
    assert kernels._prefetch_choice(p, cached, since, 3, policy) == chosen
    # the same question with that cell as dull as the rest: A = 0.3 gives 1 attempt at p = 1/2, none below
    dull = params(kernels.PREFETCH_VALUE, worth={})
    assert kernels._prefetch_choice(p, cached, since, 3, dull) == (1 if p >= 0.5 else 0)


def test_prefetch_choice__the_fewest_attempts_among_equal_gains_and_none_for_no_gain():
    # p = 1/2, W = 1: gains 0.375, 0.5, 0.5 at 1, 2, 3 attempts: 2, the fewer of the two best
    policy = params(kernels.PREFETCH_VALUE, worth={cell(0, 1, 0): (1.0, 0.0)})
    assert kernels._prefetch_choice(0.5, 0, 0, 3, policy) == 2
    # W = 1/4: one attempt gains 0.125 - 0.125 = 0, no better than none
    policy = params(kernels.PREFETCH_VALUE, worth={cell(0, 1, 0): (0.25, 0.0)})
    assert kernels._prefetch_choice(0.5, 0, 0, 3, policy) == 0


def test_prefetch_choice__worth_is_a_minus_the_fresh_serves_value_times_b():
    # V(1) at p = 1/2 over 0..2 attempts, w_fail 1: max(-1, 0.5 - 0.5 - 0.125, 0.75 - 0.25 - 0.25) = 0.25;
    # A = 0.85, B = 2: W = 0.35, gains 0.05 and 0.0125 at 1 and 2 attempts
    policy = params(kernels.PREFETCH_VALUE, scale=1, worth={cell(0, 1, 0): (0.85, 2.0)})
    assert kernels._prefetch_choice(0.5, 0, 0, 2, policy) == 1
    # over 2 rounds V(2) = max(0.25, 0.5 + 0.5 V(1) - 0.125, 0.75 + 0.25 V(1) - 0.25) = 0.5625: W < 0
    policy = params(kernels.PREFETCH_VALUE, scale=2, worth={cell(0, 1, 0): (0.85, 2.0)})
    assert kernels._prefetch_choice(0.5, 0, 0, 2, policy) == 0


def test_prefetch_choice__nothing_without_attempts_or_chance_and_at_most_the_limit():
    policy = params(kernels.PREFETCH_VALUE, worth={cell(0, 1, 0): (0.9, 0.0)})
    assert kernels._prefetch_choice(0.5, 0, 0, 0, policy) == 0
    assert kernels._prefetch_choice(0.0, 0, 0, 3, policy) == 0
    assert kernels._prefetch_choice(0.5, 0, 0, 1, policy) == 1  # 2 would gain more


# ------------------------------------------------------------------ _dp_value


def test_dp_value__is_the_single_request_optimum_by_rounds_left():
    policy = params(kernels.SINGLE_REQUEST_DP)
    # V(0) = -w_fail; p = 1/2 over 0..2 attempts: V(1) = 0.25, V(2) = 0.75 + 0.25 * 0.25 - 0.25 = 0.5625
    assert [kernels._dp_value(0.5, r, 2, policy) for r in range(3)] == [-1.0, 0.25, 0.5625]


# ------------------------------------------------------------------ _act, prefetch value


def test_act__prefetch_value_reads_each_candidates_p_ebits_held_and_rounds_since():
    # candidate 0: p = 1/2, 1 of 2 ebits held, recency 1/2 (1 round since): cell (1, 1, 1), A = 0.9 -> 2;
    # candidate 1: p = 1/4, none held, recency 1 (this round): cell (0, 0, 0), A = 0.9 -> 3
    worth = {cell(1, 1, 1): (0.9, 0.0), cell(0, 0, 0): (0.9, 0.0)}
    policy = params(kernels.PREFETCH_VALUE, k=1, m=2, worth=worth)
    obs = row(1, prefetch=[(0.5, 0.5, 0.5), (0.25, 0.0, 1.0)])
    assert act(policy, obs, [0, 3, 3]) == [0, 2, 3]
    # each candidate within its own limit
    assert act(policy, obs, [0, 1, 2]) == [0, 1, 2]
    # recency 1/3 (2 rounds since) reads the last row too; recency 1/2 of the p = 1/4 pair:
    # cell (1, 0, 0), A = 0.3
    obs = row(1, prefetch=[(0.5, 0.5, np.float32(1 / 3)), (0.25, 0.0, 0.5)])
    assert act(policy, obs, [0, 3, 3]) == [0, 2, 0]


# ------------------------------------------------------------------ _grant_in_order


def test_grant_in_order__a_capacity_of_zero_grants_nothing_and_minus_one_everything():
    wanted, order = np.array([2, 3, 1], dtype=np.int64), np.array([1, 0, 2], dtype=np.int64)
    actions = np.full((1, 3), 7, dtype=np.int64)
    kernels._grant_in_order(0, wanted, order, 0, actions)
    assert actions.tolist() == [[0, 0, 0]]
    kernels._grant_in_order(0, wanted, order, -1, actions)
    assert actions.tolist() == [[2, 3, 1]]
    kernels._grant_in_order(0, wanted, order, 4, actions)  # slot 1 takes 3, slot 0 the 1 left
    assert actions.tolist() == [[1, 3, 0]]


# ------------------------------------------------------------------ _least_slack_first


def test_least_slack_first__a_slot_moves_one_place_and_every_slot_keeps_its_attempts():
    # deadline, target 0.9, S = 6: slacks 1, 2, 5, 3 rounds of a scale of 5 at p = 1/2; the attempts
    # reaching the target: 0.5**n <= 0.1 -> 4, 0.5**(2n) -> 2, 0.5**(5n) -> 1, 0.5**(3n) -> 2.
    # Served in order 0, 1, 3, 2: 4, 2, then nothing is left for slots 3 and 2.
    policy = params(kernels.DEADLINE, k=4, m=0, scale=5, capacity=6)
    policy[kernels.P_TARGET], policy[kernels.P_REQUEST_CAP] = 0.9, 4
    obs = row(4, requests=[(0.5, 0.2), (0.5, 0.4), (0.5, 1.0), (0.5, 0.6)])
    assert act(policy, obs, [4, 4, 4, 4]) == [4, 2, 0, 0]
    # S = 7: slot 3 (slack 3) comes before slot 2 (slack 5) and gets the 1 left
    policy[kernels.P_CAPACITY] = 7
    assert act(policy, obs, [4, 4, 4, 4]) == [4, 2, 0, 1]
