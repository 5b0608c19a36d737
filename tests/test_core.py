"""``HubCore`` driven directly: Monte Carlo against the closed forms, and the cache,
capacity, decoherence, deadline and workload rules on hand-built states."""

from __future__ import annotations

import math

import numpy as np
import pytest

from modenhub_env import physics
from modenhub_env.config import HubConfig
from modenhub_env.core import HubCore
from modenhub_env.observation import REQUEST_FEATURES, action_masks, observe

LOSSLESS = {"p_bsm": 1.0, "eta_c": 1.0, "eta_d": 1.0, "alpha_db_per_km": 0.0, "switch_loss_db": 0.0}
NEVER = {"p_bsm": 1e-12}  # an attempt practically never heralds


def make_core(cfg: HubConfig, batch: int = 1, seed: int = 0) -> HubCore:
    core = HubCore(cfg, batch)
    keys = np.random.default_rng(seed).integers(1, 2**63, size=batch).astype(np.uint64)
    core.reset(np.ones(batch, dtype=bool), keys)
    return core


def actions(core: HubCore, *per_slot: int) -> np.ndarray:
    """The same attempts per slot for every env of the batch (missing slots get 0)."""
    out = np.zeros((core.batch, core.n_slots), dtype=np.int64)
    out[:, : len(per_slot)] = per_slot
    return out


def code(a: int, b: int, n: int) -> int:
    return min(a, b) * n + max(a, b)


def fill_queue(core: HubCore, pairs: list[tuple[int, int]], deadline: int) -> None:
    """Replace env 0's queue by requests for ``pairs`` arrived this round."""
    s = core.state
    s.q_valid[0] = False
    s.q_reserved[0] = -1
    for i, (a, b) in enumerate(pairs):
        s.q_valid[0, i] = True
        s.q_a[0, i], s.q_b[0, i] = min(a, b), max(a, b)
        s.q_arrival[0, i] = s.round[0]
        s.q_deadline[0, i] = deadline
        s.q_attempts[0, i] = 0


def run_to_end(core: HubCore, per_round: int, max_steps: int = 10_000) -> None:
    done = np.zeros(core.batch, dtype=bool)
    act = actions(core, per_round)
    for _ in range(max_steps):
        done |= core.step(act).terminated
        if done.all():
            return
    raise AssertionError("episodes did not terminate")


# ---------------------------------------------------------------- construction


@pytest.mark.parametrize("batch", [0, -1, True, 2.0])
def test_hub_core__rejects_bad_batch(batch):
    with pytest.raises(ValueError, match="batch must be a positive integer"):
        HubCore(HubConfig(), batch)


def test_reset__starts_at_round_zero_with_one_sequential_request():
    core = make_core(HubConfig(n_qpus=8), batch=3)
    s = core.state
    np.testing.assert_array_equal(s.round, 0)
    np.testing.assert_array_equal(s.q_valid[:, 0], True)
    np.testing.assert_array_equal(s.issued, 1)
    assert np.all(s.q_a[:, 0] < s.q_b[:, 0])
    np.testing.assert_array_equal(s.q_deadline[:, 0], 3)
    np.testing.assert_array_equal(s.c_pair, -1)


# ---------------------------------------------------------------- Monte Carlo vs closed forms

MC_BATCH, MC_REQUESTS = 300, 10  # 3,000 requests per point


def _monte_carlo(n_qpus: int, per_round: int, seed: int):
    cfg = HubConfig(n_qpus=n_qpus, cache_capacity=0, episode_requests=MC_REQUESTS)
    core = make_core(cfg, MC_BATCH, seed)
    run_to_end(core, per_round)
    totals = core.state.totals
    p = float(cfg.p_pair(0, 0) if n_qpus == 1 else cfg.p_pair(0, 1))
    return cfg, totals, p


def _assert_within_3_se(totals, success_closed: float, attempts_closed: float) -> None:
    requests = MC_BATCH * MC_REQUESTS
    assert np.all(totals["served"] + totals["failed"] == MC_REQUESTS)
    success = totals["served"].sum() / requests
    se_success = math.sqrt(success_closed * (1 - success_closed) / requests)
    assert abs(success - success_closed) < 3 * se_success, (success, success_closed, se_success)
    # Envs are independent: the SE of the mean attempts per request is the sample SE of
    # the per-env means.
    per_env = totals["attempts"] / MC_REQUESTS
    se_attempts = per_env.std(ddof=1) / math.sqrt(MC_BATCH)
    assert se_attempts > 0
    assert abs(per_env.mean() - attempts_closed) < 3 * se_attempts, (per_env.mean(), attempts_closed, se_attempts)


@pytest.mark.parametrize("n_qpus", [1, 8, 128])
def test_core_monte_carlo__sequential_policy_matches_closed_forms(n_qpus):
    cfg, totals, p = _monte_carlo(n_qpus, per_round=1, seed=100 + n_qpus)
    r = cfg.round_budget
    _assert_within_3_se(totals, float(physics.sequential_success(p, r)), float(physics.sequential_mean_attempts(p, r)))
    assert totals["cache_hits"].sum() == 0 and totals["cached"].sum() == 0


@pytest.mark.parametrize("n_qpus", [1, 8, 128])
def test_core_monte_carlo__parallel_policy_matches_closed_forms(n_qpus):
    k = physics.parallel_attempts(n_qpus)
    cfg, totals, p = _monte_carlo(n_qpus, per_round=k, seed=200 + n_qpus)
    r = cfg.round_budget
    _assert_within_3_se(
        totals, float(physics.parallel_success(p, r, k)), float(physics.parallel_mean_attempts(p, r, k))
    )
    # with no cache every success beyond the first of a round is wasted
    assert totals["cached"].sum() == 0
    if k > 1:
        assert totals["wasted"].sum() > 0


def test_core_monte_carlo__heterogeneous_pair_probability_per_slot():
    """One attempt a round for a single request of a long-spoke pair: success rate
    ``1-(1-p_ab)**R`` with that pair's own ``p_ab``."""
    cfg = HubConfig(n_qpus=2, fibre_km=(1.0, 25.0), cache_capacity=0, episode_requests=MC_REQUESTS)
    core = make_core(cfg, MC_BATCH, seed=5)
    run_to_end(core, 1)
    p = float(cfg.p_pair(0, 1))
    expected = float(physics.sequential_success(p, cfg.round_budget))
    rate = core.state.totals["served"].sum() / (MC_BATCH * MC_REQUESTS)
    assert abs(rate - expected) < 3 * math.sqrt(expected * (1 - expected) / (MC_BATCH * MC_REQUESTS))


# ---------------------------------------------------------------- batch independence


def test_core__env_rollout_does_not_depend_on_its_batch():
    cfg = HubConfig.preset("contention", episode_rounds=30)
    keys = np.array([11, 22, 33], dtype=np.uint64)
    many, one = HubCore(cfg, 3), HubCore(cfg, 1)
    many.reset(np.ones(3, dtype=bool), keys)
    one.reset(np.ones(1, dtype=bool), keys[1:2])
    gen = np.random.default_rng(0)
    for _ in range(30):
        act = gen.integers(0, cfg.k_max + 1, size=(3, many.n_slots))
        r_many, r_one = many.step(act), one.step(act[1:2])
        assert r_many.reward[1] == r_one.reward[0]
        np.testing.assert_array_equal(observe(many)[1], observe(one)[0])
        for name in r_one.counts:
            assert r_many.counts[name][1] == r_one.counts[name][0], name


# ---------------------------------------------------------------- cache


def test_store__surplus_goes_to_cache_within_per_pair_cap():
    cfg = HubConfig(n_qpus=2, cache_capacity=3, cache_per_pair=2, **LOSSLESS)
    core = make_core(cfg)
    counts = core.step(actions(core, 5)).counts
    assert (counts["served"][0], counts["attempts"][0]) == (1, 5)
    assert (counts["cached"][0], counts["wasted"][0]) == (2, 2)
    s = core.state
    assert (s.c_pair[0] == code(0, 1, 2)).sum() == 2
    np.testing.assert_array_equal(s.c_birth[0][s.c_pair[0] >= 0], 0)


def test_store__surplus_beyond_total_capacity_is_wasted():
    cfg = HubConfig(n_qpus=4, workload="poisson", episode_rounds=50, queue_capacity=4, arrival_rate=0.01,
                    cache_capacity=3, cache_per_pair=2, round_budget=5, **LOSSLESS)
    core = make_core(cfg)
    fill_queue(core, [(0, 1), (2, 3)], deadline=5)
    counts = core.step(actions(core, 4, 4)).counts
    assert counts["served"][0] == 2
    assert (counts["cached"][0], counts["wasted"][0]) == (3, 3)
    pairs = core.state.c_pair[0]
    assert (pairs == code(0, 1, 4)).sum() == 2  # the older request's pair stores first
    assert (pairs == code(2, 3, 4)).sum() == 1
    assert (pairs >= 0).sum() == cfg.cache_size == 3


def test_store__no_cache_wastes_every_surplus():
    cfg = HubConfig(n_qpus=2, cache_capacity=0, **LOSSLESS)
    core = make_core(cfg)
    counts = core.step(actions(core, 7)).counts
    assert (counts["served"][0], counts["cached"][0], counts["wasted"][0]) == (1, 0, 6)


def test_cache__cached_pair_is_reserved_and_served_at_zero_attempts():
    cfg = HubConfig(n_qpus=2, cache_capacity=4, cache_per_pair=2, **LOSSLESS)
    core = make_core(cfg)
    core.step(actions(core, 3))  # serves request 1, caches 2 ebits of (0, 1)
    s = core.state
    # request 2 (the only pair of 2 QPUs) arrived and reserved the oldest ebit
    assert s.q_valid[0, 0] and s.q_reserved[0, 0] >= 0
    assert s.c_pair[0, s.q_reserved[0, 0]] == code(0, 1, 2)
    obs = observe(core)[0]
    assert obs[6 + REQUEST_FEATURES.index("from_cache")] == 1.0
    mask = action_masks(core)[0].reshape(core.n_slots, cfg.k_max + 1)
    np.testing.assert_array_equal(mask[0], np.arange(cfg.k_max + 1) == 0)  # only 0 attempts allowed

    counts = core.step(actions(core, 5)).counts
    assert (counts["served"][0], counts["cache_hits"][0], counts["attempts"][0]) == (1, 1, 0)
    assert counts["clipped_attempts"][0] == 5
    assert counts["latency_sum"][0] == 0
    assert counts["fidelity_sum"][0] == pytest.approx(cfg.f0)
    assert (s.c_pair[0] >= 0).sum() == 1  # one ebit used, one left


def test_cache__served_ebit_fidelity_has_decayed_with_its_age():
    cfg = HubConfig(n_qpus=2, cache_capacity=4, cache_per_pair=1, t_coh=10.0, f_min=0.5, **LOSSLESS)
    core = make_core(cfg)
    core.step(actions(core, 2))  # ebit heralded in round 0, request 2 arrives in round 1
    counts = core.step(actions(core)).counts
    assert counts["cache_hits"][0] == 1
    # F(1) = 1/4 + (0.97 - 1/4) exp(-1/10) = 0.25 + 0.72 * 0.9048374 = 0.9014829
    assert counts["fidelity_sum"][0] == pytest.approx(0.9014829409858909, rel=1e-12)


def test_cache__hand_placed_ebit_serves_request_the_round_after():
    cfg = HubConfig(n_qpus=5, round_budget=4, **NEVER)
    core = make_core(cfg)
    s = core.state
    a, b = int(s.q_a[0, 0]), int(s.q_b[0, 0])
    s.c_pair[0, 2], s.c_birth[0, 2] = code(a, b, 5), 0
    first = core.step(actions(core)).counts  # reservations are made at the end of a round
    assert first["cache_hits"][0] == 0 and s.q_reserved[0, 0] == 2
    second = core.step(actions(core)).counts
    assert (second["cache_hits"][0], second["served"][0], second["attempts"][0]) == (1, 1, 0)
    assert second["latency_sum"][0] == 1
    assert s.c_pair[0, 2] == -1


def test_reserve__two_requests_of_one_pair_take_distinct_ebits_oldest_first():
    cfg = HubConfig(n_qpus=4, workload="poisson", episode_rounds=50, queue_capacity=4, arrival_rate=0.01,
                    cache_capacity=6, cache_per_pair=3, round_budget=5, **NEVER)
    core = make_core(cfg)
    fill_queue(core, [(1, 2), (1, 2), (1, 2)], deadline=5)
    s = core.state
    s.c_pair[0, :] = -1
    s.c_pair[0, [1, 4]] = code(1, 2, 4)
    s.c_birth[0, 1], s.c_birth[0, 4] = 0, 0
    s.c_birth[0, 4] = -1  # entry 4 is older
    counts = core.step(actions(core)).counts  # no reservations yet (made at round end)
    assert counts["cache_hits"][0] == 0
    np.testing.assert_array_equal(s.q_reserved[0, :3], [4, 1, -1])
    counts = core.step(actions(core)).counts
    assert counts["cache_hits"][0] == 2


def test_prefetch__attempts_for_recent_pair_fill_the_cache():
    cfg = HubConfig(n_qpus=4, workload="poisson", episode_rounds=50, arrival_rate=0.01, queue_capacity=4,
                    prefetch_slots=2, cache_capacity=4, cache_per_pair=1, **LOSSLESS)
    core = make_core(cfg, seed=3)
    s = core.state
    fill_queue(core, [(0, 3)], deadline=3)
    s.r_pair[0] = [code(1, 2, 4), -1]
    s.r_round[0] = [0, 0]
    k = cfg.request_slots
    act = actions(core, 0)
    act[0, k] = 3
    act[0, k + 1] = 2  # empty prefetch slot: clipped
    counts = core.step(act).counts
    assert (counts["prefetch_attempts"][0], counts["attempts"][0]) == (3, 0)
    assert (counts["cached"][0], counts["wasted"][0]) == (1, 2)
    assert counts["clipped_attempts"][0] == 2
    assert (s.c_pair[0] == code(1, 2, 4)).sum() == 1
    assert counts["reward_attempts"][0] == 0.0  # w_attempt = 0 in this config


def test_prefetch__pair_at_its_cache_cap_is_masked():
    cfg = HubConfig(n_qpus=4, workload="poisson", episode_rounds=50, arrival_rate=0.01, queue_capacity=4,
                    prefetch_slots=1, cache_capacity=4, cache_per_pair=1, **NEVER)
    core = make_core(cfg)
    s = core.state
    s.r_pair[0] = [code(1, 2, 4)]
    s.c_pair[0, 0] = code(1, 2, 4)
    assert core.slot_limits()[0, cfg.request_slots] == 0
    s.c_pair[0, 0] = -1
    assert core.slot_limits()[0, cfg.request_slots] == cfg.k_max


# ---------------------------------------------------------------- capacity


def test_fit_capacity__hub_and_per_qpu_limits_are_never_exceeded():
    cfg = HubConfig(n_qpus=4, workload="poisson", episode_rounds=50, queue_capacity=4, arrival_rate=0.01,
                    max_attempts_per_round=5, comm_qubits_per_qpu=3, k_max=4, round_budget=5, **NEVER)
    core = make_core(cfg)
    fill_queue(core, [(0, 1), (0, 2), (1, 2), (2, 3)], deadline=5)
    counts = core.step(actions(core, 4, 4, 4, 4)).counts
    s = core.state
    # oldest first: (0,1) gets c_i = 3; (0,2) and (1,2) find QPU 0 or 1 at its limit;
    # (2,3) gets the 2 attempts left of S = 5.
    np.testing.assert_array_equal(s.q_attempts[0, :4], [3, 0, 0, 2])
    assert counts["attempts"][0] == 5
    assert counts["clipped_attempts"][0] == 16 - 5
    per_qpu = np.zeros(4, dtype=int)
    np.add.at(per_qpu, s.q_a[0, :4], s.q_attempts[0, :4])
    np.add.at(per_qpu, s.q_b[0, :4], s.q_attempts[0, :4])
    assert per_qpu.max() <= 3


def test_fit_capacity__hub_limit_alone_serves_oldest_first():
    cfg = HubConfig(n_qpus=8, workload="poisson", episode_rounds=50, queue_capacity=4, arrival_rate=0.01,
                    max_attempts_per_round=7, k_max=6, round_budget=5, **NEVER)
    core = make_core(cfg)
    fill_queue(core, [(0, 1), (2, 3), (4, 5)], deadline=5)
    counts = core.step(actions(core, 3, 6, 6)).counts
    np.testing.assert_array_equal(core.state.q_attempts[0, :3], [3, 4, 0])
    assert (counts["attempts"][0], counts["clipped_attempts"][0]) == (7, 8)


def test_slot_limits__cap_each_slot_at_k_max_s_and_c_i():
    cfg = HubConfig(n_qpus=8, workload="poisson", episode_rounds=50, queue_capacity=4, arrival_rate=0.01,
                    max_attempts_per_round=9, comm_qubits_per_qpu=5, k_max=7, **NEVER)
    core = make_core(cfg)
    fill_queue(core, [(0, 1), (2, 3)], deadline=3)
    np.testing.assert_array_equal(core.slot_limits()[0], [5, 5, 0, 0])


def test_step__masked_attempts_on_empty_slots_are_clipped_not_launched():
    cfg = HubConfig(n_qpus=4, **NEVER)
    core = make_core(cfg)
    counts = core.step(actions(core, 2, 3, 4, 5)).counts
    assert (counts["attempts"][0], counts["clipped_attempts"][0]) == (2, 12)


# ---------------------------------------------------------------- decoherence


@pytest.mark.parametrize(
    "memory",
    [
        {"t_coh": 8.0, "f_min": 0.8, "cutoff": 6},  # fidelity floor binds: limit 2
        {"t_coh": math.inf, "cutoff": 3},  # cutoff binds: limit 2
        {"t_coh": 8.0, "f_min": 0.8},  # fidelity floor alone: limit 2
    ],
)
def test_expire__ebit_older_than_storage_limit_is_discarded(memory):
    cfg = HubConfig(n_qpus=3, round_budget=50, **NEVER, **memory)
    assert cfg.storage_limit == 2
    core = make_core(cfg)
    s = core.state
    other = next(c for c in (code(0, 1, 3), code(0, 2, 3), code(1, 2, 3)) if c != code(s.q_a[0, 0], s.q_b[0, 0], 3))
    s.c_pair[0, 0], s.c_birth[0, 0] = other, 0
    expired = [core.step(actions(core)).counts["expired"][0] for _ in range(5)]
    # usable at ages 0..2, discarded when the round reaches age 3
    assert expired == [0, 0, 1, 0, 0]
    assert s.c_pair[0, 0] == -1
    assert s.totals["expired"][0] == 1


def test_expire__infinite_coherence_keeps_ebits():
    cfg = HubConfig(n_qpus=3, round_budget=500, **NEVER)
    core = make_core(cfg)
    s = core.state
    s.c_pair[0, 0], s.c_birth[0, 0] = code(0, 1, 3) if s.q_a[0, 0] != 0 or s.q_b[0, 0] != 1 else code(1, 2, 3), 0
    for _ in range(100):
        assert core.step(actions(core)).counts["expired"][0] == 0
    assert s.c_pair[0, 0] >= 0


def test_reserve__does_not_take_an_expired_ebit():
    cfg = HubConfig(n_qpus=2, t_coh=math.inf, cutoff=2, round_budget=10, **NEVER)
    core = make_core(cfg)
    s = core.state
    s.c_pair[0, 0], s.c_birth[0, 0] = code(0, 1, 2), -5  # too old already
    counts = core.step(actions(core)).counts
    assert counts["expired"][0] == 1
    assert s.q_reserved[0, 0] == -1


# ---------------------------------------------------------------- deadlines


@pytest.mark.parametrize("budget", [1, 3, 5])
def test_deadline__request_fails_exactly_after_budget_rounds(budget):
    cfg = HubConfig(n_qpus=4, round_budget=budget, episode_requests=3, **NEVER)
    core = make_core(cfg)
    failed = [core.step(actions(core)).counts["failed"][0] for _ in range(2 * budget)]
    assert failed == ([0] * (budget - 1) + [1]) * 2
    # the next request arrived in the round after the failure
    assert core.state.q_arrival[0, 0] == 2 * budget
    assert core.state.q_deadline[0, 0] == 3 * budget


@pytest.mark.parametrize("budget", [1, 3])
def test_deadline__success_in_last_round_is_served_not_failed(budget):
    cfg = HubConfig(n_qpus=4, round_budget=budget, cache_capacity=0, **LOSSLESS)
    core = make_core(cfg)
    for _ in range(budget - 1):
        assert core.step(actions(core)).counts["failed"][0] == 0
    result = core.step(actions(core, 1))
    assert (result.counts["served"][0], result.counts["failed"][0]) == (1, 0)
    assert result.counts["latency_sum"][0] == budget - 1
    assert result.latency_hist[0, budget - 1] == 1


def test_sequential__episode_terminates_after_t_requests():
    cfg = HubConfig(n_qpus=4, episode_requests=4, round_budget=2, **NEVER)
    core = make_core(cfg)
    terminated = [bool(core.step(actions(core)).terminated[0]) for _ in range(8)]
    assert terminated == [False] * 7 + [True]
    assert core.state.totals["failed"][0] == 4
    assert core.state.issued[0] == 4


# ---------------------------------------------------------------- poisson and trace workloads


def test_poisson__queue_overflow_is_counted_as_rejected():
    cfg = HubConfig(n_qpus=8, workload="poisson", arrival_rate=20.0, queue_capacity=2, episode_rounds=12,
                    round_budget=4, **NEVER)
    core = make_core(cfg, batch=4, seed=9)
    s = core.state
    for _ in range(12):
        pending = s.q_valid.sum(axis=1)
        result = core.step(actions(core))
        c = result.counts
        joined = c["arrived"] - c["rejected"]
        np.testing.assert_array_equal(s.q_valid.sum(axis=1), pending - c["served"] - c["failed"] + joined)
        assert np.all(s.q_valid.sum(axis=1) <= 2)
        assert np.all(c["rejected"] >= 0) and np.all(c["rejected"] <= c["arrived"])
    assert s.totals["rejected"].sum() > 0
    assert np.all(result.truncated) and not np.any(result.terminated)


def test_poisson__arrivals_have_the_poisson_mean():
    rate, batch, rounds = 1.5, 200, 20
    cfg = HubConfig(n_qpus=8, workload="poisson", arrival_rate=rate, queue_capacity=64, episode_rounds=rounds,
                    round_budget=1, **NEVER)
    core = make_core(cfg, batch=batch, seed=4)
    arrived = np.array([core.step(actions(core)).counts["arrived"] for _ in range(rounds)])
    n = arrived.size
    assert abs(arrived.mean() - rate) < 3 * math.sqrt(rate / n)


def test_trace__replays_rows_at_their_rounds(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("round,a,b,budget\n2,3,1,2\n0,0,1,4\n2,0,2,1\n5,2,3,3\n")
    cfg = HubConfig(n_qpus=4, workload="trace", trace_path=str(path), queue_capacity=4, **NEVER)
    core = make_core(cfg)
    s = core.state
    assert s.q_valid[0].sum() == 1 and (s.q_a[0, 0], s.q_b[0, 0], s.q_deadline[0, 0]) == (0, 1, 4)
    arrived, failed = [], []
    for _ in range(8):
        result = core.step(actions(core))
        arrived.append(result.counts["arrived"][0])
        failed.append(result.counts["failed"][0])
        if s.round[0] == 2:
            rows = s.q_valid[0]
            got = sorted(zip(s.q_a[0][rows], s.q_b[0][rows], s.q_arrival[0][rows], s.q_deadline[0][rows], strict=True))
            assert got == [(0, 1, 0, 4), (0, 2, 2, 3), (1, 3, 2, 4)]
        if result.terminated[0]:
            break
    # arrivals of rounds 2 and 5 land at the end of steps 2 and 5
    assert arrived == [0, 2, 0, 0, 1, 0, 0, 0]
    # deadlines: (0,2) at 3, (0,1) and (1,3) at 4, (2,3) at 8
    assert failed == [0, 0, 1, 2, 0, 0, 0, 1]
    assert result.terminated[0]
    assert s.totals["failed"][0] == 4


def test_trace__queue_overflow_is_rejected(tmp_path):
    path = tmp_path / "t.jsonl"
    rows = [f'{{"round": 1, "a": 0, "b": {b}, "budget": 2}}' for b in (1, 2, 3)]
    path.write_text("\n".join(rows))
    cfg = HubConfig(n_qpus=4, workload="trace", trace_path=str(path), queue_capacity=2, **NEVER)
    core = make_core(cfg)
    counts = core.step(actions(core)).counts
    assert (counts["arrived"][0], counts["rejected"][0]) == (3, 1)
    np.testing.assert_array_equal(core.state.q_b[0, :2], [1, 2])  # the later row is rejected


# ---------------------------------------------------------------- reward and accounting


def test_reward__is_served_minus_weighted_failures_and_attempts():
    cfg = HubConfig.preset("contention", w_fail=1.5, w_attempt=0.25, episode_rounds=40)
    core = make_core(cfg, batch=8, seed=1)
    gen = np.random.default_rng(3)
    for _ in range(40):
        result = core.step(gen.integers(0, 4, size=(8, core.n_slots)))
        c = result.counts
        expected = c["served"] - 1.5 * c["failed"] - 0.25 * (c["attempts"] + c["prefetch_attempts"])
        np.testing.assert_allclose(result.reward, expected)
        np.testing.assert_allclose(result.reward, c["reward_served"] + c["reward_failed"] + c["reward_attempts"] + c["reward_fidelity"])


def test_totals__sum_the_round_counts():
    cfg = HubConfig.preset("hotspot", episode_rounds=30)
    core = make_core(cfg, batch=4, seed=2)
    summed = {name: total.copy() for name, total in core.state.totals.items()}  # round 0 arrivals
    for _ in range(30):
        c = core.step(np.full((4, core.n_slots), 2)).counts
        for name in core.state.totals:
            summed[name] += c[name]
    for name, total in core.state.totals.items():
        np.testing.assert_allclose(total, summed[name], err_msg=name)


def test_step__round_conserves_requests():
    """Per round: pending before + joined = served + failed + pending after."""
    cfg = HubConfig.preset("decoherence", episode_rounds=60, arrival_rate=3.0, queue_capacity=6)
    core = make_core(cfg, batch=6, seed=8)
    gen = np.random.default_rng(8)
    for _ in range(60):
        before = core.state.q_valid.sum(axis=1)
        c = core.step(gen.integers(0, cfg.k_max + 1, size=(6, core.n_slots))).counts
        after = core.state.q_valid.sum(axis=1)
        np.testing.assert_array_equal(before + c["arrived"] - c["rejected"], c["served"] + c["failed"] + after)


@pytest.mark.parametrize(
    "cfg",
    [HubConfig(n_qpus=4), HubConfig.preset("contention", arrival_rate=30.0, queue_capacity=4)],
    ids=["sequential", "poisson"],
)
def test_reset__round_zero_arrivals_are_counted_in_totals(cfg):
    core = make_core(cfg, batch=2, seed=1)
    t = core.state.totals
    pending = core.state.q_valid.sum(axis=1)
    assert np.all(pending > 0)
    np.testing.assert_array_equal(t["arrived"], t["served"] + t["failed"] + t["rejected"] + pending)
