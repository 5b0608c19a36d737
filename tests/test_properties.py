"""Invariants of the core over random valid configs and random actions (hypothesis)."""

from __future__ import annotations

import math

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from modenhub_env import physics
from modenhub_env.config import HubConfig
from modenhub_env.core import HubCore
from modenhub_env.interface import observation_space
from modenhub_env.observation import action_masks, observe
from modenhub_env.workload import pair_code

BATCH, STEPS = 3, 25
SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def configs(draw) -> HubConfig:
    workload = draw(st.sampled_from(["sequential", "poisson"]))
    f0 = draw(st.floats(0.5, 1.0))
    lossless = draw(st.booleans())
    fields = {
        "n_qpus": draw(st.integers(1, 64)),
        "workload": workload,
        "cache_capacity": draw(st.integers(0, 12)),
        "cache_per_pair": draw(st.integers(1, 3)),
        "max_attempts_per_round": draw(st.none() | st.integers(1, 20)),
        "comm_qubits_per_qpu": draw(st.none() | st.integers(1, 6)),
        "t_coh": draw(st.just(math.inf) | st.floats(0.5, 40.0)),
        "cutoff": draw(st.none() | st.integers(1, 8)),
        "f0": f0,
        "f_min": draw(st.floats(0.25, f0)),
        "round_budget": draw(st.integers(1, 5)),
        "episode_requests": draw(st.integers(1, 20)),
        "arrival_rate": draw(st.floats(0.1, 6.0)),
        "zipf_exponent": draw(st.sampled_from([0.0, 0.8, 1.5])),
        "queue_capacity": draw(st.integers(1, 8)),
        "episode_rounds": draw(st.integers(5, 40)) if workload == "poisson" else draw(st.none() | st.integers(5, 40)),
        "request_slots": draw(st.integers(1, 6)),
        "prefetch_slots": draw(st.integers(0, 3)),
        "k_max": draw(st.integers(1, 8)),
        "fibre_km_max": draw(st.none() | st.floats(1.0, 30.0)),
        "w_fail": draw(st.floats(0.0, 2.0)),
        "w_attempt": draw(st.floats(0.0, 0.5)),
    }
    if lossless:
        fields.update(p_bsm=1.0, eta_c=1.0, eta_d=1.0, alpha_db_per_km=0.0, switch_loss_db=0.0, fibre_km_max=None)
    else:
        fields["p_bsm"] = draw(st.floats(0.05, 1.0))
    return HubConfig(**fields)


def _actions(core: HubCore, gen: np.random.Generator, within_masks: bool) -> np.ndarray:
    k_max = core.config.k_max
    if not within_masks:
        return gen.integers(0, k_max + 1, size=(core.batch, core.n_slots))
    masks = action_masks(core).reshape(core.batch, core.n_slots, k_max + 1)
    limits = masks.sum(axis=2) - 1  # masks allow 0..limit
    assert np.all(masks[..., 0])
    return np.floor(gen.random(limits.shape) * (limits + 1)).astype(np.int64)


def _check_state(core: HubCore) -> None:
    cfg, s = core.config, core.state
    stored = s.c_pair >= 0
    assert stored.sum(axis=1).max(initial=0) <= cfg.cache_size <= cfg.cache_capacity
    for row in range(core.batch):
        _, per_pair = np.unique(s.c_pair[row][stored[row]], return_counts=True)
        assert per_pair.max(initial=0) <= cfg.cache_per_pair
    age = s.round[:, None] - s.c_birth
    fidelity = physics.werner_fidelity(age[stored], cfg.f0, cfg.t_coh)
    assert np.all((fidelity >= 0.25) & (fidelity <= 1.0))
    assert np.all(fidelity >= cfg.f_min - 1e-12)  # the cache discards ebits below F_min
    assert np.all(age[stored] >= 0) and np.all(age[stored] <= core.storage_limit)
    assert np.all(s.q_valid.sum(axis=1) <= cfg.queue_size)


@SETTINGS
@given(cfg=configs(), seed=st.integers(0, 2**32 - 1), within_masks=st.booleans())
def test_core__invariants_hold_under_random_actions(cfg, seed, within_masks):
    gen = np.random.default_rng(seed)
    core = HubCore(cfg, BATCH)
    core.reset(np.ones(BATCH, dtype=bool), gen.integers(1, 2**63, size=BATCH).astype(np.uint64))
    box = observation_space(cfg)
    _check_state(core)
    for _ in range(STEPS):
        obs = observe(core)
        assert obs.dtype == np.float32 and obs.shape == (BATCH, box.shape[0])
        assert np.all(np.isfinite(obs))
        assert all(box.contains(row) for row in obs)
        a, b, _ = core.slot_pairs()
        pending = core.state.q_valid.sum(axis=1)
        act = _actions(core, gen, within_masks)
        result = core.step(act)
        c = result.counts
        assert np.all(np.isfinite(result.reward))
        for name, value in c.items():
            assert np.all(np.isfinite(value)), name
            if not name.startswith("reward_"):
                assert np.all(value >= 0), name
        np.testing.assert_allclose(result.reward, c["reward_served"] + c["reward_failed"] + c["reward_attempts"] + c["reward_fidelity"])
        launched = core.launched
        # attempts: within each slot's request, S per round and c_i per QPU
        assert np.all(launched >= 0) and np.all(launched <= act)
        np.testing.assert_array_equal(launched.sum(axis=1), c["attempts"] + c["prefetch_attempts"])
        np.testing.assert_array_equal(act.sum(axis=1) - launched.sum(axis=1), c["clipped_attempts"])
        if cfg.max_attempts_per_round is not None:
            assert np.all(launched.sum(axis=1) <= cfg.max_attempts_per_round)
        if cfg.comm_qubits_per_qpu is not None:
            for row in range(BATCH):
                per_qpu = np.zeros(cfg.n_qpus, dtype=np.int64)
                np.add.at(per_qpu, a[row], launched[row])
                # the QPU-with-hub pair of N = 1 touches one QPU once
                np.add.at(per_qpu, b[row], np.where(a[row] != b[row], launched[row], 0))
                assert per_qpu.max() <= cfg.comm_qubits_per_qpu
        if within_masks and cfg.max_attempts_per_round is None and cfg.comm_qubits_per_qpu is None:
            assert np.all(c["clipped_attempts"] == 0)
        # a round's requests: each pending one is served, fails or stays, once
        after = core.state.q_valid.sum(axis=1)
        np.testing.assert_array_equal(pending + c["arrived"] - c["rejected"], c["served"] + c["failed"] + after)
        assert np.all(c["served"] <= pending)  # arrivals of the next round are not served this round
        assert np.all(c["cache_hits"] <= c["served"])
        _check_state(core)
    obs = observe(core)
    assert np.all(np.isfinite(obs)) and all(box.contains(row) for row in obs)


@settings(max_examples=15, deadline=None)
@given(cfg=configs(), seed=st.integers(0, 2**32 - 1))
def test_core__cached_ebits_belong_to_real_pairs(cfg, seed):
    gen = np.random.default_rng(seed)
    core = HubCore(cfg, BATCH)
    core.reset(np.ones(BATCH, dtype=bool), gen.integers(1, 2**63, size=BATCH).astype(np.uint64))
    n = cfg.n_qpus
    if n == 1:
        valid_codes = {0}
    else:
        a, b = np.triu_indices(n, k=1)
        valid_codes = set(pair_code(a, b, n).tolist())
    for _ in range(STEPS):
        core.step(_actions(core, gen, within_masks=False))
        codes = core.state.c_pair[core.state.c_pair >= 0]
        assert set(codes.tolist()) <= valid_codes
        q = core.state
        assert np.all((q.q_a < q.q_b)[q.q_valid]) or n == 1


@SETTINGS
@given(cfg=configs(), seed=st.integers(0, 2**32 - 1))
def test_core__every_request_ends_exactly_once_in_totals(cfg, seed):
    """Totals: arrived == served + failed + rejected + pending, at every step."""
    gen = np.random.default_rng(seed)
    core = HubCore(cfg, BATCH)
    core.reset(np.ones(BATCH, dtype=bool), gen.integers(1, 2**63, size=BATCH).astype(np.uint64))
    t = core.state.totals
    for _ in range(STEPS):
        pending = core.state.q_valid.sum(axis=1)
        np.testing.assert_array_equal(t["arrived"], t["served"] + t["failed"] + t["rejected"] + pending)
        core.step(_actions(core, gen, within_masks=True))

