"""Every observation feature and the action masks, on hand-built states, against numbers
worked out by hand from the formulas (the arithmetic is in the comments).

The spokes are heterogeneous and N is not a power of two. With ``p_bsm = eta_c = eta_d =
1``, no switch loss and ``alpha = 10 log10(2)`` dB/km, a photon loses half its chance per
km, so with spokes of ``0, 1, 2, ...`` km, ``eta_i = 2**-i`` and ``p_ab = 2**-(a + b)``.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from modenhub_env import kernels
from modenhub_env.config import HubConfig
from modenhub_env.core import HubCore
from modenhub_env.observation import action_masks, feature_names, observe

HALF_PER_KM = 10.0 * math.log10(2.0)  # [dB/km] a photon's transmission halves per km
HALVING = {"p_bsm": 1.0, "eta_c": 1.0, "eta_d": 1.0, "alpha_db_per_km": HALF_PER_KM, "switch_loss_db": 0.0}

# Six QPUs on spokes of 0..5 km (eta = 1, 1/2, ..., 1/32), 3 request and 3 prefetch slots.
SIX = HubConfig(
    n_qpus=6, fibre_km=0.0, fibre_km_max=5.0, workload="poisson", arrival_rate=0.01,
    episode_rounds=40, queue_capacity=5, request_slots=3, prefetch_slots=3, k_max=6,
    round_budget=4, cache_capacity=7, cache_per_pair=2, t_coh=8.0, f0=0.97, f_min=0.5,
    max_attempts_per_round=12, comm_qubits_per_qpu=4, **HALVING,
)


def code(a: int, b: int, n: int) -> int:
    return min(a, b) * n + max(a, b)


def blank_core(cfg: HubConfig, batch: int = 1) -> HubCore:
    """A reset core whose env 0 has an empty queue, cache and candidate list."""
    core = HubCore(cfg, batch)
    core.reset(np.ones(batch, dtype=bool), np.arange(1, batch + 1, dtype=np.uint64))
    s = core.state
    s.q_valid[0] = False
    s.q_reserved[0] = -1
    s.q_attempts[0] = 0
    s.c_pair[0] = -1
    s.r_pair[0] = -1
    s.r_round[0] = 0
    return core


def put_request(core: HubCore, slot: int, a: int, b: int, arrival: int, deadline: int,
                attempts: int = 0, reserved: int = -1) -> None:
    s = core.state
    s.q_valid[0, slot] = True
    s.q_a[0, slot], s.q_b[0, slot] = a, b
    s.q_arrival[0, slot], s.q_deadline[0, slot] = arrival, deadline
    s.q_attempts[0, slot], s.q_reserved[0, slot] = attempts, reserved


def named(core: HubCore, row: int = 0) -> dict[str, float]:
    cfg = core.config
    names = feature_names(cfg.request_slots, cfg.prefetch_slots, cfg.observation_version)
    return dict(zip(names, observe(core)[row].tolist(), strict=True))


def assert_features(got: dict[str, float], expected: dict[str, float]) -> None:
    for name, value in expected.items():
        assert got[name] == pytest.approx(value, rel=1e-6, abs=1e-7), name


def six_state() -> HubCore:
    """Round 7 of ``SIX``: four pending requests (three visible), four cached ebits, two
    prefetch candidates and one empty candidate slot."""
    core = blank_core(SIX)
    s = core.state
    s.round[0] = 7
    put_request(core, 0, 1, 3, arrival=5, deadline=9, attempts=5)
    put_request(core, 1, 0, 2, arrival=6, deadline=8, attempts=2, reserved=1)  # served from entry 1
    put_request(core, 2, 2, 5, arrival=7, deadline=11)
    put_request(core, 3, 0, 1, arrival=7, deadline=11)  # pending, but beyond the K = 3 slots
    s.c_pair[0, :5] = [code(0, 2, 6), code(0, 2, 6), code(1, 4, 6), -1, code(1, 5, 6)]
    s.c_birth[0, :5] = [6, 3, 5, 0, 7]
    s.r_pair[0] = [code(2, 5, 6), code(1, 4, 6), -1]
    s.r_round[0] = [7, 4, 0]
    return core


def test_observe__global_features_on_a_hand_built_state():
    got = named(six_state())
    assert_features(got, {
        "global.progress": 0.175,  # round 7 / episode_rounds 40
        "global.queue_load": 0.8,  # 4 pending / queue 5
        "global.hub_capacity": 2.0 / 3.0,  # S / (K k_max) = 12 / (3 * 6)
        "global.cache_fill": 4.0 / 7.0,  # 4 ebits / cache size min(7, 15 pairs * 2)
        "global.log2_qpus": 0.215413541726763,  # log2(6) / 12 = 2.5849625 / 12
        "global.k_parallel": 0.5,  # k(6) = ceil(log2 6) = 3, / k_max 6
    })


def test_observe__request_slot_features_on_heterogeneous_spokes():
    got = named(six_state())
    assert_features(got, {
        # slot 0: pair (1, 3), deadline 9 at round 7, 5 attempts spent, nothing cached
        "request[0].present": 1.0,
        "request[0].p_pair": 0.0625,  # eta_1 eta_3 = 2**-1 * 2**-3 = 1/16
        "request[0].slack": 0.5,  # (9 - 7) / max budget 4
        "request[0].attempts_spent": 5.0 / 24.0,  # 5 / (k_max 6 * budget 4)
        "request[0].cached": 0.0,
        "request[0].cached_fidelity": 0.0,
        "request[0].from_cache": 0.0,
        "request[0].chance_one_per_round": 0.12109375,  # 1 - (15/16)**2 = 31/256
        "request[0].attempt_limit": 4.0 / 6.0,  # min(k_max 6, S 12, c_i 4) / k_max
        # slot 1: pair (0, 2), deadline 8, 2 attempts, two ebits (born 6 and 3), one reserved
        "request[1].present": 1.0,
        "request[1].p_pair": 0.25,  # 2**0 * 2**-2
        "request[1].slack": 0.25,  # (8 - 7) / 4
        "request[1].attempts_spent": 2.0 / 24.0,
        "request[1].cached": 1.0,  # 2 ebits / cap 2
        # youngest born 6, age 1: 1/4 + (0.97 - 1/4) exp(-1/8) = 0.25 + 0.72 * 0.8824969
        "request[1].cached_fidelity": 0.8853977698609087,
        "request[1].from_cache": 1.0,
        "request[1].chance_one_per_round": 0.25,  # 1 - (3/4)**1
        "request[1].attempt_limit": 0.0,  # served from the cache: 0 attempts only
        # slot 2: pair (2, 5), arrived this round, deadline 11
        "request[2].present": 1.0,
        "request[2].p_pair": 0.0078125,  # 2**-2 * 2**-5 = 1/128
        "request[2].slack": 1.0,  # (11 - 7) / 4
        "request[2].attempts_spent": 0.0,
        "request[2].cached": 0.0,
        "request[2].cached_fidelity": 0.0,
        "request[2].from_cache": 0.0,
        "request[2].chance_one_per_round": 0.030885692685842514,  # 1 - (127/128)**4 = 8290815/268435456
        "request[2].attempt_limit": 4.0 / 6.0,
    })


def test_observe__prefetch_slot_features_on_heterogeneous_spokes():
    got = named(six_state())
    assert_features(got, {
        # candidate 0: (2, 5), requested this round, nothing cached
        "prefetch[0].present": 1.0,
        "prefetch[0].p_pair": 0.0078125,  # 2**-7
        "prefetch[0].cached": 0.0,
        "prefetch[0].cached_fidelity": 0.0,
        "prefetch[0].recency": 1.0,  # 1 / (1 + 7 - 7)
        "prefetch[0].attempt_limit": 4.0 / 6.0,  # room: 0 < cap 2 and entry 3 free
        # candidate 1: (1, 4), last requested in round 4, one ebit born 5 (age 2)
        "prefetch[1].present": 1.0,
        "prefetch[1].p_pair": 0.03125,  # 2**-1 * 2**-4
        "prefetch[1].cached": 0.5,  # 1 / cap 2
        "prefetch[1].cached_fidelity": 0.8107365638114115,  # 0.25 + 0.72 exp(-2/8) = 0.25 + 0.72 * 0.7788008
        "prefetch[1].recency": 0.25,  # 1 / (1 + 7 - 4)
        "prefetch[1].attempt_limit": 4.0 / 6.0,
    })
    for name in ("present", "p_pair", "cached", "cached_fidelity", "recency", "attempt_limit"):
        assert got[f"prefetch[2].{name}"] == 0.0, name  # an empty candidate slot is all zeros


def test_action_masks__allow_zero_to_each_slots_limit():
    core = six_state()
    masks = action_masks(core)[0].reshape(6, 7)  # K + M = 6 slots, k_max + 1 = 7 choices
    upto_4 = [True] * 5 + [False] * 2
    only_0 = [True] + [False] * 6
    expected = [upto_4, only_0, upto_4, upto_4, upto_4, only_0]  # requests 0-2, candidates 0-2
    np.testing.assert_array_equal(masks, expected)


def test_action_masks__prefetch_pair_at_its_per_pair_cap_or_full_cache_allows_zero():
    core = six_state()
    s = core.state
    s.c_pair[0, 3] = code(1, 4, 6)  # (1, 4) now holds 2 = cache_per_pair
    masks = action_masks(core)[0].reshape(6, 7)
    np.testing.assert_array_equal(masks[3], [True] * 5 + [False] * 2)  # (2, 5) still has room
    np.testing.assert_array_equal(masks[4], [True] + [False] * 6)
    s.c_pair[0, 5:] = code(0, 1, 6)  # the last free entries taken: the cache is full
    s.c_pair[0, 3] = code(3, 4, 6)
    assert (s.c_pair[0] >= 0).all()
    masks = action_masks(core)[0].reshape(6, 7)
    np.testing.assert_array_equal(masks[3:], [[True] + [False] * 6] * 3)
    np.testing.assert_array_equal(masks[0], [True] * 5 + [False] * 2)  # requests are not affected


def test_action_masks__limit_is_the_smallest_of_k_max_s_and_c_i():
    for overrides, limit in (
        ({}, 4),  # min(6, 12, 4)
        ({"comm_qubits_per_qpu": None}, 6),  # min(6, 12)
        ({"comm_qubits_per_qpu": None, "max_attempts_per_round": 5}, 5),  # min(6, 5)
        ({"comm_qubits_per_qpu": 2, "max_attempts_per_round": 3}, 2),  # min(6, 3, 2)
    ):
        core = blank_core(SIX.replace(**overrides))
        core.state.round[0] = 7
        put_request(core, 0, 1, 3, arrival=7, deadline=11)
        masks = action_masks(core)[0].reshape(6, 7)
        np.testing.assert_array_equal(masks[0], np.arange(7) <= limit, err_msg=str(overrides))
        np.testing.assert_array_equal(masks[1], np.arange(7) == 0, err_msg=str(overrides))


def test_observe__attempts_spent_is_capped_at_one_and_fidelity_without_decay_is_f0():
    core = six_state()
    s = core.state
    s.q_attempts[0, 0] = 30  # 30 / 24 > 1
    got = named(core)
    assert got["request[0].attempts_spent"] == 1.0
    core = blank_core(SIX.replace(t_coh=math.inf))
    core.state.round[0] = 9
    put_request(core, 0, 0, 4, arrival=9, deadline=12)
    core.state.c_pair[0, 0], core.state.c_birth[0, 0] = code(0, 4, 6), 1  # age 8, no decay
    got = named(core)
    assert got["request[0].cached_fidelity"] == pytest.approx(0.97)
    assert got["request[0].cached"] == 0.5  # 1 / 2
    assert got["request[0].p_pair"] == 0.0625  # 2**0 * 2**-4
    assert got["request[0].slack"] == 0.75  # (12 - 9) / 4


def test_observe__cached_fidelity_is_that_of_the_youngest_ebit():
    core = blank_core(SIX)
    core.state.round[0] = 10
    put_request(core, 0, 3, 4, arrival=10, deadline=12)
    core.state.c_pair[0, :3] = code(3, 4, 6)
    core.state.c_birth[0, :3] = [7, 9, 8]  # youngest born 9, age 1
    got = named(core)
    assert got["request[0].cached_fidelity"] == pytest.approx(0.8853977698609087, rel=1e-6)
    assert got["request[0].cached"] == 1.0  # min(3 / 2, 1)


@pytest.mark.parametrize(
    ("n_qpus", "k_max", "log2_share", "k_share"),
    [
        (5, 12, 0.1934940079072802, 0.25),  # log2(5) / 12 = 2.3219281 / 12; k(5) = 3, 3 / 12
        (12, 3, 0.29874687506009634, 1.0),  # log2(12) / 12 = 3.5849625 / 12; k(12) = 4 > k_max 3
        (9, 8, 0.26416041678685936, 0.5),  # log2(9) / 12 = 3.1699250 / 12; k(9) = 4, 4 / 8
        (1, 6, 0.0, 1.0 / 6.0),  # log2(1) = 0; k(1) = max(1, 0) = 1
    ],
)
def test_observe__network_size_features_at_n_not_a_power_of_two(n_qpus, k_max, log2_share, k_share):
    cfg = HubConfig(n_qpus=n_qpus, k_max=k_max, request_slots=2)
    core = blank_core(cfg)
    got = named(core)
    assert_features(got, {"global.log2_qpus": log2_share, "global.k_parallel": k_share})
    assert got["global.hub_capacity"] == pytest.approx(1.0, rel=1e-6)  # S unlimited
    assert got["global.cache_fill"] == pytest.approx(0.0, rel=1e-6)


@pytest.mark.parametrize(("capacity", "share"), [(5, 5.0 / 16.0), (16, 1.0), (40, 1.0)])
def test_observe__hub_capacity_is_s_over_k_k_max_capped_at_one(capacity, share):
    cfg = HubConfig(n_qpus=5, k_max=4, request_slots=4, max_attempts_per_round=capacity)
    assert named(blank_core(cfg))["global.hub_capacity"] == share  # S / (4 * 4)


def test_observe__progress_of_each_workload(tmp_path):
    # sequential: requests issued / T, or round / episode_rounds if larger
    core = blank_core(HubConfig(n_qpus=5, episode_requests=8))
    core.state.issued[0] = 3
    assert named(core)["global.progress"] == pytest.approx(0.375, rel=1e-6)  # 3 / 8
    core = blank_core(HubConfig(n_qpus=5, episode_requests=8, episode_rounds=10))
    core.state.issued[0], core.state.round[0] = 3, 6
    assert named(core)["global.progress"] == pytest.approx(0.6, rel=1e-6)  # max(3 / 8, 6 / 10)
    core.state.issued[0] = 7
    assert named(core)["global.progress"] == pytest.approx(0.875, rel=1e-6)  # max(7 / 8, 6 / 10)
    # trace: rows read / rows in the file
    trace = tmp_path / "trace.csv"
    trace.write_text("round,a,b,budget\n0,0,1,2\n0,2,4,3\n1,1,3,2\n4,0,4,5\n5,2,3,2\n")
    core = blank_core(HubConfig(n_qpus=5, workload="trace", trace_path=str(trace)))
    core.state.issued[0] = 2
    assert named(core)["global.progress"] == pytest.approx(0.4, rel=1e-6)  # 2 / 5 rows


def test_observe__trace_slack_is_scaled_by_the_largest_budget_of_the_file(tmp_path):
    trace = tmp_path / "trace.csv"
    trace.write_text("round,a,b,budget\n0,0,1,2\n0,2,4,3\n1,1,3,2\n4,0,4,5\n")
    cfg = HubConfig(n_qpus=5, workload="trace", trace_path=str(trace), queue_capacity=4, k_max=4)
    core = blank_core(cfg)
    core.state.round[0] = 2
    put_request(core, 0, 1, 3, arrival=1, deadline=3, attempts=3)
    got = named(core)
    assert got["request[0].slack"] == pytest.approx(0.2, rel=1e-6)  # (3 - 2) / largest budget 5
    assert got["request[0].attempts_spent"] == pytest.approx(0.15, rel=1e-6)  # 3 / (k_max 4 * 5)


def test_observe__request_slots_beyond_the_sequential_queue_are_zeros():
    cfg = HubConfig(n_qpus=6, request_slots=3, fibre_km=(0.0, 1.0, 2.0, 3.0, 4.0, 5.0), **HALVING)
    core = blank_core(cfg)
    put_request(core, 0, 2, 3, arrival=0, deadline=3)
    obs = observe(core)[0]
    names = feature_names(3, 0)
    got = dict(zip(names, obs.tolist(), strict=True))
    assert got["request[0].p_pair"] == 0.03125  # 2**-2 * 2**-3
    assert got["global.queue_load"] == pytest.approx(1.0, rel=1e-6)  # 1 pending / queue size 1
    assert not obs[6 + 9 :].any()  # slots 1 and 2 cannot hold a request


def test_observe__rows_of_a_batch_are_observed_separately():
    core = blank_core(SIX, batch=2)
    s = core.state
    s.q_valid[1] = False
    s.c_pair[1] = -1
    s.r_pair[1] = -1
    s.round[:] = [3, 5]
    put_request(core, 0, 0, 5, arrival=3, deadline=6)
    s.q_valid[1, 0], s.q_a[1, 0], s.q_b[1, 0], s.q_deadline[1, 0] = True, 3, 4, 6
    s.q_reserved[1] = -1
    s.q_attempts[1] = 0
    obs = observe(core)
    names = feature_names(SIX.request_slots, SIX.prefetch_slots)
    row0, row1 = dict(zip(names, obs[0].tolist(), strict=True)), dict(zip(names, obs[1].tolist(), strict=True))
    assert row0["request[0].p_pair"] == 0.03125  # 2**0 * 2**-5
    assert row1["request[0].p_pair"] == 0.0078125  # 2**-3 * 2**-4
    assert row0["request[0].slack"] == 0.75  # (6 - 3) / 4
    assert row1["request[0].slack"] == 0.25  # (6 - 5) / 4
    assert row0["global.progress"] == pytest.approx(0.075, rel=1e-6)  # 3 / 40
    assert row1["global.progress"] == pytest.approx(0.125, rel=1e-6)  # 5 / 40


def test_observe__cache_fill_counts_against_the_cache_size_not_the_capacity():
    cfg = HubConfig(n_qpus=3, cache_capacity=10, cache_per_pair=2)
    assert cfg.cache_size == 6  # min(10, 3 pairs * 2)
    core = blank_core(cfg)
    core.state.c_pair[0, :3] = [code(0, 1, 3), code(0, 1, 3), code(1, 2, 3)]
    assert named(core)["global.cache_fill"] == pytest.approx(0.5, rel=1e-6)  # 3 / 6


# ---------------------------------------------------------------- observation version 1

# SIX with version 1's features, c_i = 9 above k_max = 6 (every limit is 6) and S = 30.
SIX_V1 = SIX.replace(observation_version=1, max_attempts_per_round=30, comm_qubits_per_qpu=9)


def six_state_v1(**overrides) -> HubCore:
    """``six_state`` in ``SIX_V1`` (with ``overrides``): the slots in order hold (1, 3)
    with limit 6, (0, 2) served from the cache (limit 0), (2, 5) limit 6, then the
    candidates (2, 5) and (1, 4), limit 6 each, and an empty candidate slot."""
    old = six_state()
    core = blank_core(SIX_V1.replace(**overrides))
    for name in ("round", "q_valid", "q_a", "q_b", "q_arrival", "q_deadline", "q_attempts", "q_reserved",
                 "c_pair", "c_birth", "r_pair", "r_round"):
        getattr(core.state, name)[0] = getattr(old.snapshot(), name)[0]
    return core


def test_observe_v1__keeps_every_version_0_feature_and_adds_its_own():
    v0, v1 = named(six_state()), named(six_state_v1(max_attempts_per_round=12, comm_qubits_per_qpu=4))
    assert set(v1) - set(v0) == {"global.capacity_left", "global.qpu_capacity"} | {
        f"{kind}[{j}].{name}" for kind in ("request", "prefetch") for j in range(3)
        for name in ("older_qpu_claim", "younger_qpu_claim", "sure_attempts")}
    assert {name: v1[name] for name in v0} == v0  # the same state: the same values
    names = feature_names(3, 3, 1)
    assert names.index("request[0].present") == 8  # 6 + 2 global features
    assert names.index("request[1].present") == 8 + 12  # 9 + 3 features a request slot
    assert names.index("prefetch[0].present") == 8 + 3 * 12
    assert names.index("prefetch[1].present") == 8 + 3 * 12 + 9  # 6 + 3 features a prefetch slot
    assert len(observe(six_state_v1())[0]) == 8 + 3 * 12 + 3 * 9


def test_observe_v1__global_capacity_features():
    got = named(six_state_v1())
    assert_features(got, {
        "global.capacity_left": 0.2,  # (S 30 - limits 6 + 0 + 6 + 6 + 6 + 0) / 30 = 6 / 30
        "global.qpu_capacity": 1.0,  # min(c_i 9 / k_max 6, 1)
    })
    got = named(six_state_v1(max_attempts_per_round=16, comm_qubits_per_qpu=4))  # limits 4 each
    assert_features(got, {
        "global.capacity_left": 0.0,  # max(16 - 4 * 4, 0) / 16
        "global.qpu_capacity": 4.0 / 6.0,  # c_i 4 / k_max 6
    })
    got = named(six_state_v1(max_attempts_per_round=None, comm_qubits_per_qpu=None))
    assert_features(got, {"global.capacity_left": 1.0, "global.qpu_capacity": 1.0})  # both unlimited


def test_observe_v1__qpu_claims_of_older_and_younger_slots_and_sure_attempts():
    got = named(six_state_v1())
    assert_features(got, {
        # request 0, (1, 3): nothing older; younger, candidate (1, 4) on QPU 1: 6 / c_i 9
        "request[0].older_qpu_claim": 0.0,
        "request[0].younger_qpu_claim": 6.0 / 9.0,
        "request[0].sure_attempts": 1.0,  # min(limit 6, S 30 - 0, c_i 9 - 0) / k_max 6
        # request 1, (0, 2), served from the cache: younger (2, 5) twice on QPU 2: 12 / 9, capped
        "request[1].older_qpu_claim": 0.0,
        "request[1].younger_qpu_claim": 1.0,
        "request[1].sure_attempts": 0.0,  # its limit is 0
        # request 2, (2, 5): request 1 launches nothing; candidate (2, 5) on both QPUs: 6 / 9
        "request[2].older_qpu_claim": 0.0,
        "request[2].younger_qpu_claim": 6.0 / 9.0,
        "request[2].sure_attempts": 1.0,  # min(6, 30 - 6, 9 - 0) / 6
        # candidate 0, (2, 5): request 2 on both QPUs: 6 / 9; nothing younger on 2 or 5
        "prefetch[0].older_qpu_claim": 6.0 / 9.0,
        "prefetch[0].younger_qpu_claim": 0.0,
        "prefetch[0].sure_attempts": 0.5,  # min(6, 30 - 12, 9 - 6 = 3) / 6
        # candidate 1, (1, 4): request 0 on QPU 1: 6 / 9
        "prefetch[1].older_qpu_claim": 6.0 / 9.0,
        "prefetch[1].younger_qpu_claim": 0.0,
        "prefetch[1].sure_attempts": 0.5,  # min(6, 30 - 18, 9 - 6 = 3) / 6
    })
    for name in ("older_qpu_claim", "younger_qpu_claim", "sure_attempts"):
        assert got[f"prefetch[2].{name}"] == 0.0, name  # an empty slot is all zeros


def test_observe_v1__sure_attempts_under_a_binding_hub_capacity():
    got = named(six_state_v1(max_attempts_per_round=16))  # limits stay min(6, 16, 9) = 6
    assert_features(got, {
        "request[0].sure_attempts": 1.0,  # min(6, 16, 9) / 6
        "request[2].sure_attempts": 1.0,  # min(6, 16 - 6, 9) / 6
        "prefetch[0].sure_attempts": 0.5,  # min(6, 16 - 12 = 4, 9 - 6 = 3) / 6
        "prefetch[1].sure_attempts": 0.0,  # max(min(6, 16 - 18, 3), 0) / 6
        "prefetch[1].older_qpu_claim": 6.0 / 9.0,  # the claims do not depend on S
    })


def test_observe_v1__unlimited_capacities_claim_nothing_and_every_limit_is_sure():
    got = named(six_state_v1(max_attempts_per_round=None, comm_qubits_per_qpu=None))
    for kind, j in (("request", 0), ("request", 2), ("prefetch", 0), ("prefetch", 1)):
        assert_features(got, {
            f"{kind}[{j}].older_qpu_claim": 0.0,
            f"{kind}[{j}].younger_qpu_claim": 0.0,
            f"{kind}[{j}].sure_attempts": 1.0,  # limit k_max 6 / 6
        })


def test_observe_v1__one_qpu_counts_each_older_slot_once():
    """N = 1: every request is the pair (0, 0) of the QPU with the hub's memory."""
    cfg = HubConfig(n_qpus=1, workload="poisson", arrival_rate=0.01, episode_rounds=9, request_slots=3,
                    k_max=4, comm_qubits_per_qpu=5, observation_version=1)
    core = blank_core(cfg)
    for slot in range(3):
        put_request(core, slot, 0, 0, arrival=0, deadline=3)
    got = named(core)
    assert_features(got, {
        "request[0].older_qpu_claim": 0.0,
        "request[0].younger_qpu_claim": 1.0,  # limits 4 + 4 on QPU 0 = 8 / c_i 5, capped
        "request[0].sure_attempts": 1.0,  # min(4, 5 - 0) / k_max 4
        "request[1].older_qpu_claim": 0.8,  # 4 / 5
        "request[1].younger_qpu_claim": 0.8,
        "request[1].sure_attempts": 0.25,  # min(4, 5 - 4) / 4
        "request[2].older_qpu_claim": 1.0,  # 8 / 5, capped
        "request[2].younger_qpu_claim": 0.0,
        "request[2].sure_attempts": 0.0,  # max(5 - 8, 0) / 4
        "global.capacity_left": 1.0,  # S unlimited
        "global.qpu_capacity": 1.0,  # min(5 / 4, 1)
    })


def test_observe_v1__asking_at_most_the_sure_attempts_is_never_clipped():
    """What ``sure_attempts`` promises, over random rounds of the contention preset."""
    cfg = HubConfig.preset("contention", observation_version=1, arrival_rate=2.0)
    core = HubCore(cfg, 8)
    core.reset(np.ones(8, dtype=bool), np.arange(1, 9, dtype=np.uint64))
    names = feature_names(cfg.request_slots, cfg.prefetch_slots, 1)
    sure_at = [names.index(f"request[{j}].sure_attempts") for j in range(cfg.request_slots)]
    sure_at += [names.index(f"prefetch[{j}].sure_attempts") for j in range(cfg.prefetch_slots)]
    gen = np.random.default_rng(3)
    checked = 0
    for _ in range(40):
        sure = np.rint(core.obs[:, sure_at] * cfg.k_max).astype(np.int64)
        asked = gen.integers(0, cfg.k_max + 1, size=sure.shape)
        core.advance(asked)
        within = asked <= sure
        np.testing.assert_array_equal(core.launched[within], asked[within])
        checked += int((within & (asked > 0)).sum())
    assert checked > 100  # the promise was put to the test (208 times)


def test_observe_v1__sure_attempts_after_older_limits_without_a_qpu_limit():
    # c_i unlimited: every limit is min(k_max 6, S 22) = 6 but request 1's (served from the cache).
    got = named(six_state_v1(max_attempts_per_round=22, comm_qubits_per_qpu=None))
    assert_features(got, {
        "request[2].sure_attempts": 1.0,  # min(6, 22 - 6 - 0) / 6
        "prefetch[0].sure_attempts": 1.0,  # min(6, 22 - 12) / 6
        "prefetch[1].sure_attempts": 4.0 / 6.0,  # min(6, 22 - 18) / 6
        "prefetch[1].older_qpu_claim": 0.0,  # c_i unlimited: no claims
        "global.capacity_left": 0.0,  # max(22 - 24, 0) / 22
    })


def test_observe_v1__qpu_claims_sum_the_limits_of_one_attempt_on_the_busier_qpu():
    """k_max = 1: every limit is 1; requests (0, 1), (0, 2), (0, 3) share QPU 0."""
    cfg = HubConfig(n_qpus=6, workload="poisson", arrival_rate=0.01, episode_rounds=9, request_slots=3,
                    k_max=1, comm_qubits_per_qpu=3, observation_version=1)
    core = blank_core(cfg)
    for slot in range(3):
        put_request(core, slot, 0, slot + 1, arrival=0, deadline=3)
    got = named(core)
    assert_features(got, {
        "request[0].older_qpu_claim": 0.0,
        "request[0].younger_qpu_claim": 2.0 / 3.0,  # limits 1 + 1 on QPU 0 / c_i 3
        "request[0].sure_attempts": 1.0,  # min(1, 3 - 0) / k_max 1
        "request[1].older_qpu_claim": 1.0 / 3.0,  # request 0 on QPU 0
        "request[1].younger_qpu_claim": 1.0 / 3.0,  # request 2 on QPU 0
        "request[1].sure_attempts": 1.0,  # min(1, 3 - 1) / 1
        "request[2].older_qpu_claim": 2.0 / 3.0,  # requests 0 and 1 on QPU 0, none on QPU 3
        "request[2].younger_qpu_claim": 0.0,
        "request[2].sure_attempts": 1.0,  # min(1, 3 - 2) / 1
        "global.qpu_capacity": 1.0,  # min(3 / 1, 1)
    })


def test_slot_pairs__an_empty_prefetch_slot_shows_pair_0_0_and_n_1s_pair_is_present():
    core = blank_core(SIX)  # no candidates: every prefetch slot empty
    core.refresh()
    a, b, present = core.slot_pairs()
    assert a[0, 3:].tolist() == [0, 0, 0] and b[0, 3:].tolist() == [0, 0, 0]
    assert not present[0, 3:].any()
    # N = 1: the candidate (0, 0) has code 0 and is a pair like any other
    cfg = HubConfig(n_qpus=1, workload="poisson", arrival_rate=0.01, episode_rounds=9, request_slots=2,
                    prefetch_slots=2, cache_capacity=2, cache_per_pair=2)
    core = blank_core(cfg)
    core.state.r_pair[0] = [0, -1]
    core.state.r_round[0] = [0, 0]
    got = named(core)
    assert got["prefetch[0].present"] == 1.0
    assert got["prefetch[0].attempt_limit"] == 1.0  # min(k_max, ...) / k_max: room in the cache
    assert got["prefetch[1].present"] == 0.0


def test_observe__cache_fill_of_a_one_entry_cache():
    core = blank_core(SIX.replace(cache_capacity=1, cache_per_pair=1))
    core.state.c_pair[0, 0], core.state.c_birth[0, 0] = code(0, 1, 6), 0
    assert named(core)["global.cache_fill"] == 1.0  # 1 ebit / cache size 1


def test_observe__state_summary_of_a_hand_built_state():
    core = six_state()
    core.refresh()
    assert core.out[0, kernels.O_ROUND] == 7.0
    assert core.out[0, kernels.O_PENDING] == 4.0  # four valid queue slots, one beyond K
    assert core.out[0, kernels.O_CACHE_FILL] == 4.0  # entries 0, 1, 2 and 4
