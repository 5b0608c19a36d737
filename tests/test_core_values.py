"""The core's rules against numbers worked out by hand (arithmetic in the comments): the
fidelity of served ebits, the prefetch candidates made by real arrivals, the per-pair
cache cap, ``k(N)`` and ``p_ab`` per slot on heterogeneous spokes at N not a power of two,
and the check that names the first action out of range.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from modenhub_env import kernels, physics
from modenhub_env.config import HubConfig
from modenhub_env.core import ActionRangeError, HubCore
from modenhub_env.env import ModEnHubEnv

LOSSLESS = {"p_bsm": 1.0, "eta_c": 1.0, "eta_d": 1.0, "alpha_db_per_km": 0.0, "switch_loss_db": 0.0}
NEVER = {"p_bsm": 1e-12}  # an attempt practically never heralds
HALF_DB = 10.0 * math.log10(2.0)  # [dB] a loss that halves the transmission


def make_core(cfg: HubConfig, batch: int = 1) -> HubCore:
    core = HubCore(cfg, batch)
    core.reset(np.ones(batch, dtype=bool), np.arange(7, 7 + batch, dtype=np.uint64))
    return core


def attempts(core: HubCore, *per_slot: int) -> np.ndarray:
    out = np.zeros((core.batch, core.n_slots), dtype=np.int64)
    out[:, : len(per_slot)] = per_slot
    return out


def set_queue(core: HubCore, pairs: list[tuple[int, int]], deadline: int) -> None:
    """Env 0's queue: requests for ``pairs``, arrived this round, nothing reserved."""
    s = core.state
    s.q_valid[0] = False
    s.q_reserved[0] = -1
    for i, (a, b) in enumerate(pairs):
        s.q_valid[0, i] = True
        s.q_a[0, i], s.q_b[0, i] = a, b
        s.q_arrival[0, i], s.q_deadline[0, i], s.q_attempts[0, i] = s.round[0], deadline, 0


def write_trace(path, rows: list[tuple[int, int, int, int]]) -> str:
    path.write_text("round,a,b,budget\n" + "".join(f"{r},{a},{b},{t}\n" for r, a, b, t in rows))
    return str(path)


# ---------------------------------------------------------------- fidelity of served ebits


def test_serve_fresh__records_f0_in_fidelity_sum_and_info():
    # t_coh is finite, but a fresh ebit has not aged: it serves at f0 = 0.93
    cfg = HubConfig(n_qpus=5, f0=0.93, t_coh=4.0, f_min=0.5, cache_capacity=0, **LOSSLESS)
    env = ModEnHubEnv(cfg)
    env.reset(seed=3)
    action = np.zeros(cfg.request_slots, dtype=np.int64)
    action[0] = 2  # both herald: one serves, one is wasted
    _, _, _, _, info = env.step(action)
    assert info["served"] == 1
    assert info["fidelity_sum"] == 0.93
    assert info["ebit_fidelity"] == 0.93
    assert info["gate_fidelity"] == pytest.approx(0.9533333333333333)  # (2 * 0.93 + 1) / 3


def test_serve_fresh__fidelity_sum_adds_f0_per_served_request():
    cfg = HubConfig(n_qpus=6, f0=0.9, f_min=0.6, workload="poisson", arrival_rate=0.01, episode_rounds=9,
                    queue_capacity=4, cache_capacity=0, **LOSSLESS)
    core = make_core(cfg)
    set_queue(core, [(0, 1), (2, 5), (3, 4)], deadline=3)
    counts = core.step(attempts(core, 1, 1, 0)).counts
    assert counts["served"][0] == 2
    assert counts["fidelity_sum"][0] == pytest.approx(1.8)  # 2 * 0.9


def test_serve_from_cache__fidelity_after_three_rounds_is_the_werner_value():
    # f0 = 0.9, T_coh = 6: F(3) = 1/4 + 0.65 exp(-1/2) = 0.25 + 0.65 * 0.6065307 = 0.6442449
    # (storage limit floor(6 ln(0.65 / 0.25)) = floor(5.73) = 5, so age 3 is usable)
    cfg = HubConfig(n_qpus=5, f0=0.9, t_coh=6.0, f_min=0.5, round_budget=6, **NEVER)
    core = make_core(cfg)
    s = core.state
    a, b = int(s.q_a[0, 0]), int(s.q_b[0, 0])
    s.c_pair[0, 0], s.c_birth[0, 0] = a * 5 + b, -2  # heralded 2 rounds before round 0
    first = core.step(attempts(core)).counts  # round 0: the reservation is made at its end
    assert first["cache_hits"][0] == 0 and s.q_reserved[0, 0] == 0
    second = core.step(attempts(core)).counts  # round 1: served at age 1 - (-2) = 3
    assert (second["cache_hits"][0], second["served"][0]) == (1, 1)
    assert second["fidelity_sum"][0] == pytest.approx(0.6442449288132117, rel=1e-12)
    assert second["latency_sum"][0] == 1


def test_serve_from_cache__fidelity_of_an_ebit_cached_by_a_surplus():
    # f0 = 0.97, T_coh = 10, served one round after it was heralded:
    # F(1) = 0.25 + 0.72 exp(-0.1) = 0.25 + 0.72 * 0.9048374 = 0.9014829
    cfg = HubConfig(n_qpus=2, cache_capacity=4, cache_per_pair=1, t_coh=10.0, f_min=0.5, **LOSSLESS)
    core = make_core(cfg)
    core.step(attempts(core, 2))  # round 0: one serves, one is cached; request 2 arrives
    counts = core.step(attempts(core)).counts
    assert counts["cache_hits"][0] == 1
    assert counts["fidelity_sum"][0] == pytest.approx(0.9014829409858909, rel=1e-12)


def test_reward_fidelity__weighs_the_fidelity_a_cached_ebit_lost_and_nothing_for_a_fresh_one():
    # f0 = 0.9, T_coh = 6, served from the cache at age 3: F0 - F = 0.9 - 0.6442449 = 0.2557551;
    # with w_fidelity = 2 the component is -0.5115102 and the reward 1 - 0.5115102
    cfg = HubConfig(n_qpus=5, f0=0.9, t_coh=6.0, f_min=0.5, round_budget=6, w_fidelity=2.0, **NEVER)
    core = make_core(cfg)
    s = core.state
    a, b = int(s.q_a[0, 0]), int(s.q_b[0, 0])
    s.c_pair[0, 0], s.c_birth[0, 0] = a * 5 + b, -2
    assert core.step(attempts(core)).counts["reward_fidelity"][0] == 0.0  # nothing served
    result = core.step(attempts(core))
    assert result.counts["reward_fidelity"][0] == pytest.approx(-0.5115101423735766, rel=1e-12)
    assert result.reward[0] == pytest.approx(1.0 - 0.5115101423735766, rel=1e-12)
    # a fresh ebit (f0 = 0.93, decaying memory) loses nothing: the component is exactly 0
    fresh = HubConfig(n_qpus=5, f0=0.93, t_coh=4.0, f_min=0.5, cache_capacity=0, w_fidelity=3.0, **LOSSLESS)
    env = ModEnHubEnv(fresh)
    env.reset(seed=3)
    action = np.zeros(fresh.request_slots, dtype=np.int64)
    action[0] = 1
    _, reward, _, _, info = env.step(action)
    assert (info["served"], info["reward_fidelity"], reward) == (1, 0.0, 1.0)


# ---------------------------------------------------------------- prefetch candidates


def test_remember__candidates_follow_real_arrivals_newest_first(tmp_path):
    rows = [
        (0, 0, 1, 6), (0, 2, 3, 6),  # round 0
        (1, 4, 5, 6),  # round 1
        (2, 1, 0, 6), (2, 1, 2, 6),  # round 2: (0, 1) again (written b, a)
        (3, 3, 5, 6), (3, 0, 4, 6),  # round 3
        (4, 1, 2, 6), (4, 2, 1, 6),  # round 4: one pair twice in a round
    ]
    cfg = HubConfig(n_qpus=6, workload="trace", trace_path=write_trace(tmp_path / "t.csv", rows),
                    queue_capacity=16, prefetch_slots=3, cache_capacity=0, **NEVER)
    core = make_core(cfg)
    s = core.state
    # codes a * 6 + b: (0,1) 1, (2,3) 15, (4,5) 29, (1,2) 8, (3,5) 23, (0,4) 4
    expected = [
        ([15, 1, -1], [0, 0, 0]),  # the later row of a round comes first
        ([29, 15, 1], [1, 0, 0]),
        ([8, 1, 29], [2, 2, 1]),  # (0, 1) moves to the front, (2, 3) drops out (M = 3)
        ([4, 23, 8], [3, 3, 2]),  # (0, 1) and (4, 5) drop out
        ([8, 4, 23], [4, 3, 3]),  # (1, 2) twice is one candidate
    ]
    for round_, (pairs, rounds) in enumerate(expected):
        assert s.round[0] == round_
        np.testing.assert_array_equal(s.r_pair[0], pairs, err_msg=f"round {round_}")
        np.testing.assert_array_equal(s.r_round[0], rounds, err_msg=f"round {round_}")
        core.step(attempts(core))
    a, b, present = core.slot_pairs()
    k = cfg.request_slots
    np.testing.assert_array_equal(a[0, k:], [1, 0, 3])  # (1, 2), (0, 4), (3, 5)
    np.testing.assert_array_equal(b[0, k:], [2, 4, 5])
    np.testing.assert_array_equal(present[0, k:], True)


def test_remember__an_idle_round_keeps_the_candidates_and_their_rounds(tmp_path):
    rows = [(0, 1, 4, 9), (3, 2, 3, 9)]
    cfg = HubConfig(n_qpus=5, workload="trace", trace_path=write_trace(tmp_path / "t.csv", rows),
                    prefetch_slots=2, cache_capacity=0, **NEVER)
    core = make_core(cfg)
    for round_ in range(3):  # rounds 1 and 2 bring nothing new
        assert core.state.round[0] == round_
        np.testing.assert_array_equal(core.state.r_pair[0], [9, -1])  # (1, 4): 1 * 5 + 4
        np.testing.assert_array_equal(core.state.r_round[0], [0, 0])
        core.step(attempts(core))
    np.testing.assert_array_equal(core.state.r_pair[0], [13, 9])  # (2, 3): 2 * 5 + 3
    np.testing.assert_array_equal(core.state.r_round[0], [3, 0])


def test_remember__the_one_pair_of_a_single_qpu_is_a_candidate():
    # N = 1: the one pair is (0, 0), code 0 * 1 + 0 = 0, a pair like any other
    core = make_core(HubConfig(n_qpus=1, prefetch_slots=2, **NEVER))
    np.testing.assert_array_equal(core.state.r_pair[0], [0, -1])
    np.testing.assert_array_equal(core.state.r_round[0], [0, 0])


def test_remember__clearing_the_unused_candidates_leaves_the_cache_alone(tmp_path):
    # M = 2 and one pair, (1, 4) = 9, requested in rounds 0 and 1: candidate 1 is cleared, and
    # the ebit in the cache's last entry, of the pair (0, 2) = 2, keeps its pair and birth
    rows = [(0, 1, 4, 9), (1, 1, 4, 9)]
    cfg = HubConfig(n_qpus=5, workload="trace", trace_path=write_trace(tmp_path / "t.csv", rows),
                    prefetch_slots=2, cache_capacity=2, **NEVER)
    core = make_core(cfg)
    s = core.state
    s.c_pair[0, 1], s.c_birth[0, 1] = 2, 0
    core.step(attempts(core))
    assert (s.c_pair[0, 1], s.c_birth[0, 1]) == (2, 0)
    np.testing.assert_array_equal(s.r_pair[0], [9, -1])
    np.testing.assert_array_equal(s.r_round[0], [1, 0])


def test_remember__an_empty_candidate_left_by_a_hand_edit_hides_none_after_it(tmp_path):
    rows = [(0, 1, 4, 9), (1, 2, 3, 9)]
    cfg = HubConfig(n_qpus=5, workload="trace", trace_path=write_trace(tmp_path / "t.csv", rows),
                    prefetch_slots=3, cache_capacity=0, **NEVER)
    core = make_core(cfg)
    s = core.state
    s.r_pair[0], s.r_round[0] = [-1, 9, 14], [0, 0, 0]  # (1, 4) and (2, 4) behind an empty slot
    core.step(attempts(core))  # round 1 brings (2, 3), code 13
    np.testing.assert_array_equal(s.r_pair[0], [13, 9, 14])
    np.testing.assert_array_equal(s.r_round[0], [1, 0, 0])


def test_remember__an_idle_round_keeps_hand_edited_candidates_as_they_are(tmp_path):
    # no pair arrives in round 1, so nothing moves: the empty candidate stays in front of
    # (1, 4) = 9 and (2, 4) = 14, and a repeated pair stays repeated, with their rounds
    rows = [(0, 1, 4, 9), (3, 2, 3, 9)]
    cfg = HubConfig(n_qpus=5, workload="trace", trace_path=write_trace(tmp_path / "t.csv", rows),
                    prefetch_slots=4, cache_capacity=0, **NEVER)
    core = make_core(cfg)
    s = core.state
    s.r_pair[0], s.r_round[0] = [-1, 9, 14, 9], [5, 0, 0, 0]
    core.step(attempts(core))
    np.testing.assert_array_equal(s.r_pair[0], [-1, 9, 14, 9])
    np.testing.assert_array_equal(s.r_round[0], [5, 0, 0, 0])
    _, _, present = core.slot_pairs()
    np.testing.assert_array_equal(present[0, cfg.request_slots:], [False, True, True, True])


def test_remember__a_single_candidate_is_the_newest_pair(tmp_path):
    # M = 1: (1, 4) = 1 * 5 + 4 = 9 in round 0, then (2, 3) = 13 in round 1 replaces it
    rows = [(0, 1, 4, 9), (1, 2, 3, 9)]
    cfg = HubConfig(n_qpus=5, workload="trace", trace_path=write_trace(tmp_path / "t.csv", rows),
                    prefetch_slots=1, cache_capacity=0, **NEVER)
    core = make_core(cfg)
    s = core.state
    assert (s.r_pair[0, 0], s.r_round[0, 0]) == (9, 0)
    core.step(attempts(core))
    assert (s.r_pair[0, 0], s.r_round[0, 0]) == (13, 1)


# ---------------------------------------------------------------- cache caps


def test_store__per_pair_cap_binds_before_the_total_capacity():
    # cache of 10 entries, 2 per pair: 6 successes serve 1 and store 2; 3 are wasted
    cfg = HubConfig(n_qpus=6, workload="poisson", arrival_rate=0.01, episode_rounds=9, queue_capacity=4,
                    cache_capacity=10, cache_per_pair=2, round_budget=4, **LOSSLESS)
    assert cfg.cache_size == 10
    core = make_core(cfg)
    s = core.state
    s.c_pair[0] = -1
    set_queue(core, [(1, 4), (0, 5)], deadline=4)
    counts = core.step(attempts(core, 6, 3)).counts
    assert counts["served"][0] == 2
    assert counts["cached"][0] == 4  # 2 of (1, 4) and 2 of (0, 5)
    assert counts["wasted"][0] == 3 + 0  # (1, 4): 5 surplus - 2; (0, 5): 2 surplus - 2
    assert (s.c_pair[0] == 10).sum() == 2  # (1, 4): 1 * 6 + 4
    assert (s.c_pair[0] == 5).sum() == 2  # (0, 5)
    assert (s.c_pair[0] < 0).sum() == 6  # room left that the cap kept free


def test_store__per_pair_cap_counts_ebits_already_cached():
    cfg = HubConfig(n_qpus=5, workload="poisson", arrival_rate=0.01, episode_rounds=9, queue_capacity=4,
                    cache_capacity=8, cache_per_pair=3, round_budget=4, **LOSSLESS)
    core = make_core(cfg)
    s = core.state
    s.c_pair[0] = -1
    s.c_pair[0, [2, 6]] = 2 * 5 + 3  # two of (2, 3) already held
    set_queue(core, [(2, 3)], deadline=4)
    counts = core.step(attempts(core, 4)).counts
    assert (counts["served"][0], counts["cached"][0], counts["wasted"][0]) == (1, 1, 2)  # room for 3 - 2
    assert (s.c_pair[0] == 13).sum() == 3


# ---------------------------------------------------------------- k(N) and p_ab


@pytest.mark.parametrize(
    ("n_qpus", "stages", "k"),
    [(1, 0, 1), (2, 1, 1), (3, 2, 2), (5, 3, 3), (6, 3, 3), (7, 3, 3), (9, 4, 4), (12, 4, 4), (17, 5, 5)],
)
def test_k_parallel__is_ceil_log2_n_where_floor_and_ceil_differ(n_qpus, stages, k):
    # log2 3 = 1.58, 5 = 2.32, 6 = 2.58, 7 = 2.81, 9 = 3.17, 12 = 3.58, 17 = 4.09: ceil, not floor
    assert physics.switch_stages(n_qpus) == stages
    assert physics.parallel_attempts(n_qpus) == k
    assert HubConfig(n_qpus=n_qpus).k_parallel == k


@pytest.mark.parametrize(
    ("n_qpus", "a", "b", "p"),
    [
        (5, 1, 4, 0.000244140625),  # m = 3: 0.5 * 2**-(1+3) * 2**-(4+3) = 2**-12
        (6, 2, 5, 6.103515625e-05),  # m = 3: 0.5 * 2**-5 * 2**-8 = 2**-14
        (9, 0, 8, 7.62939453125e-06),  # m = 4: 0.5 * 2**-4 * 2**-12 = 2**-17
        (12, 3, 11, 1.1920928955078125e-07),  # m = 4: 0.5 * 2**-7 * 2**-15 = 2**-23
    ],
)
def test_p_pair__switch_stages_and_spokes_at_n_not_a_power_of_two(n_qpus, a, b, p):
    # spoke i is i km long; each km and each switch stage halve a photon's transmission
    cfg = HubConfig(n_qpus=n_qpus, p_bsm=0.5, eta_c=1.0, eta_d=1.0, fibre_km=0.0, fibre_km_max=n_qpus - 1.0,
                    alpha_db_per_km=HALF_DB, switch_loss_db=HALF_DB)
    assert float(cfg.p_pair(a, b)) == pytest.approx(p, rel=1e-9)
    assert float(cfg.p_pair(b, a)) == pytest.approx(p, rel=1e-9)


def test_p_pair__contention_preset_values():
    # spokes 1 to 20 km over 16 QPUs: L_i = 1 + 19 i / 15; m(16) = 4;
    # eta_i = 0.9 * 0.95 * 10**(-0.02 L_i) * 10**(-0.136); p = 0.5 eta_a eta_b
    cfg = HubConfig.preset("contention")
    assert float(cfg.p_pair(2, 9)) == pytest.approx(0.09380706910228442, rel=1e-9)  # L = 3.533, 12.4
    assert float(cfg.p_pair(0, 3)) == pytest.approx(0.1495898868895656, rel=1e-9)  # L = 1, 4.8
    np.testing.assert_allclose(cfg.p_pair(np.array([1, 0]), np.array([4, 3])),
                               [0.13311762699720517, 0.1495898868895656], rtol=1e-9)


def test_successes__each_slot_uses_its_own_pairs_p():
    # QPUs 0 and 4 sit behind 1000 km of 10 dB/km fibre (eta = 10**-1000 = 0.0); the others
    # transmit perfectly. (0, 2) and (2, 4) have p = 0 exactly, (1, 3) p = 1, so no draw
    # can hide a p computed from the wrong QPU or the wrong slot.
    cfg = HubConfig(n_qpus=5, fibre_km=(1000.0, 0.0, 0.0, 0.0, 1000.0), workload="poisson", arrival_rate=0.01,
                    episode_rounds=9, queue_capacity=4, cache_capacity=0, round_budget=4,
                    p_bsm=1.0, eta_c=1.0, eta_d=1.0, alpha_db_per_km=10.0, switch_loss_db=0.0)
    np.testing.assert_array_equal(cfg.eta, [0.0, 1.0, 1.0, 1.0, 0.0])
    core = make_core(cfg)
    for pairs in ([(0, 2), (2, 4), (1, 3)], [(1, 3), (0, 2), (2, 4)], [(2, 4), (1, 3), (0, 2)]):
        set_queue(core, pairs, deadline=int(core.state.round[0]) + 4)
        counts = core.step(attempts(core, 5, 5, 5)).counts
        assert counts["served"][0] == 1, pairs
        assert counts["wasted"][0] == 4, pairs  # the p = 1 slot's other 4 successes
        left = {(int(a), int(b)) for a, b, v in zip(core.state.q_a[0], core.state.q_b[0], core.state.q_valid[0],
                                                     strict=True) if v}
        assert (1, 3) not in left and {(0, 2), (2, 4)} <= left, pairs


def test_new_pair__zipf_popularity_over_the_one_pair_of_two_qpus():
    core = HubCore(HubConfig(n_qpus=2, zipf_exponent=1.0, arrival_rate=3.0, queue_capacity=8), 1)
    core.reset(np.ones(1, dtype=bool), np.array([3], dtype=np.uint64))
    state = core.snapshot()
    pending = state.q_valid[0]
    assert pending.sum() > 0
    assert state.q_a[0][pending].tolist() == [0] * int(pending.sum())
    assert state.q_b[0][pending].tolist() == [1] * int(pending.sum())


# ---------------------------------------------------------------- action checks


def test_first_bad_action__flat_index_of_the_first_action_outside_0_to_k_max_in_the_rows():
    # k_max = 3 and 4 slots a row: entry (i, j) has the flat index 4 i + j
    core = make_core(HubConfig(n_qpus=5, k_max=3, request_slots=4))
    assert core.n_slots == 4
    actions = np.array([[0, 3, 3, 0], [1, 2, 3, 0], [0, 0, 0, 0]], dtype=np.int64)
    assert kernels.first_bad_action(actions, core._iconsts, 0, 3) == -1  # 0 and k_max are allowed
    actions[1, 2], actions[2, 1] = -1, 4
    assert kernels.first_bad_action(actions, core._iconsts, 0, 3) == 6  # (1, 2): 4 * 1 + 2
    assert kernels.first_bad_action(actions, core._iconsts, 2, 3) == 9  # (2, 1): 4 * 2 + 1
    assert kernels.first_bad_action(actions, core._iconsts, 0, 1) == -1  # row 0 only
    actions[1, 2] = 0
    actions[0, 3] = 4
    assert kernels.first_bad_action(actions, core._iconsts, 1, 2) == -1  # row 1 only: (0, 3) is before it
    assert kernels.first_bad_action(actions, core._iconsts, 0, 3) == 3  # (0, 3): 4 * 0 + 3


def test_advance__names_the_row_and_slot_of_a_negative_action_and_moves_nothing():
    core = make_core(HubConfig(n_qpus=5, k_max=3, request_slots=4), batch=2)
    before = core._ints.copy()
    actions = attempts(core)
    actions[1, 2] = -2
    with pytest.raises(ActionRangeError) as caught:
        core.advance(actions)
    assert (caught.value.row, caught.value.slot, caught.value.value) == (1, 2, -2)
    np.testing.assert_array_equal(core._ints, before)


# ---------------------------------------------------------------- attempts, reservations, serving


def reserve_now(core: HubCore) -> np.ndarray:
    """The reservations of env 0's queue and cache as they are (hand-edited): a reset of no
    env rebuilds the cache's index and has every other env reserve anew."""
    core.reset(np.zeros(core.batch, dtype=bool), core.keys)
    return core.snapshot().q_reserved[0]


def test_attempt__heralds_when_the_draw_is_below_p_and_not_when_it_equals_p():
    # Key 7, round 0, attempt stream 1, draw 0 (slot 0, attempt 0): the SplitMix64 uniform
    # 0.7197623824108977. Lossless spokes make p_ab = p_bsm exactly: an attempt heralds iff
    # u < p, so p = u fails and the next double above u succeeds.
    draw = 0.7197623824108977
    for p_bsm, served in ((draw, 0), (0.7197623824108978, 1)):
        core = make_core(HubConfig(n_qpus=5, cache_capacity=0, **{**LOSSLESS, "p_bsm": p_bsm}))
        counts = core.step(attempts(core, 1)).counts
        assert (counts["attempts"][0], counts["served"][0]) == (1, served), p_bsm


RESERVE_CFG = {"n_qpus": 5, "workload": "poisson", "arrival_rate": 0.01, "episode_rounds": 9, "queue_capacity": 4,
               "cache_capacity": 4, "round_budget": 6}


@pytest.mark.parametrize(
    ("pairs", "births", "entry"),
    [
        # (1, 3) is code 8, (0, 2) code 2. The chain of (1, 3) lists entries 2, 1, 0: the oldest,
        # born in round -3, is entry 1, behind a younger entry 2 and before a younger entry 0.
        ([8, 8, 8, 2], [-1, -3, -2, -1], 1),
        # Entries 1 and 2 were both heralded in round -2: the lower entry, 1.
        ([2, 8, 8, -1], [-1, -2, -2, 0], 1),
    ],
    ids=["oldest", "lowest-among-equals"],
)
def test_reserve__the_oldest_cached_ebit_of_the_pair_lowest_entry_among_equals(pairs, births, entry):
    core = make_core(HubConfig(**RESERVE_CFG, **NEVER))
    s = core.state
    set_queue(core, [(1, 3)], deadline=6)
    s.c_pair[0], s.c_birth[0] = pairs, births
    np.testing.assert_array_equal(reserve_now(core), [entry, -1, -1, -1])


def test_reserve__requests_without_an_ebit_show_minus_one_and_do_not_stop_later_ones():
    # Queue: (0, 4), which has no ebit nor a place in the cache's index, then (1, 3) twice;
    # the one ebit of (1, 3) (code 8) sits in entry 1: the first (1, 3) reserves it, the
    # second finds it taken; slot 3 is empty.
    core = make_core(HubConfig(**RESERVE_CFG, **NEVER))
    s = core.state
    set_queue(core, [(0, 4), (1, 3), (1, 3)], deadline=6)
    s.c_pair[0], s.c_birth[0] = [-1, 8, -1, -1], [0, -1, 0, 0]
    np.testing.assert_array_equal(reserve_now(core), [-1, 1, -1, -1])
    s.c_pair[0] = -1  # an empty cache: nothing to reserve at all
    np.testing.assert_array_equal(reserve_now(core), [-1, -1, -1, -1])


def test_serve_from_cache__two_hits_in_one_round_add_up_their_fidelity_and_its_loss():
    # f0 = 0.9, T_coh = 6 (storage limit 5): (1, 3) served at age 3, (0, 2) at age 2 in round 0.
    # F(3) = 0.25 + 0.65 exp(-1/2) = 0.6442449, F(2) = 0.25 + 0.65 exp(-1/3) = 0.7157454;
    # lost 0.2557551 + 0.1842546 = 0.4400097, weighed by w_fidelity = 1.
    cfg = HubConfig(**RESERVE_CFG, f0=0.9, t_coh=6.0, f_min=0.5, w_fidelity=1.0, **NEVER)
    core = make_core(cfg)
    s = core.state
    set_queue(core, [(1, 3), (0, 2)], deadline=6)
    s.c_pair[0], s.c_birth[0] = [8, 2, -1, -1], [-3, -2, 0, 0]
    np.testing.assert_array_equal(reserve_now(core), [0, 1, -1, -1])
    counts = core.step(attempts(core)).counts
    assert (counts["cache_hits"][0], counts["served"][0]) == (2, 2)
    assert counts["fidelity_sum"][0] == pytest.approx(0.6442449288132117 + 0.7157453518729631, rel=1e-12)
    assert counts["reward_fidelity"][0] == pytest.approx(-(0.2557550711867883 + 0.18425464812703699), rel=1e-12)


def test_record_served__a_request_served_in_its_last_round_lands_in_the_last_latency_bin():
    # Budget 3: the histogram's bins are latencies 0, 1, 2; served in round 2, after two idle rounds.
    core = make_core(HubConfig(n_qpus=5, round_budget=3, cache_capacity=0, **LOSSLESS))
    core.step(attempts(core))
    core.step(attempts(core))
    result = core.step(attempts(core, 1))
    assert (result.counts["served"][0], result.counts["failed"][0], result.counts["latency_sum"][0]) == (1, 0, 2)
    np.testing.assert_array_equal(result.latency_hist[0], [0, 0, 1])


def test_offered__a_sequential_episode_issues_exactly_its_requests():
    # T = 2, one attempt each, p = 1: request 1 served in round 0, request 2 arrives and is
    # served in round 1, when the episode ends with nothing new offered.
    core = make_core(HubConfig(n_qpus=5, episode_requests=2, cache_capacity=0, **LOSSLESS))
    first = core.step(attempts(core, 1))
    assert (first.counts["served"][0], first.counts["arrived"][0], first.terminated[0]) == (1, 1, False)
    second = core.step(attempts(core, 1))
    assert (second.counts["served"][0], second.counts["arrived"][0], second.terminated[0]) == (1, 0, True)
    assert core.snapshot().issued[0] == 2
