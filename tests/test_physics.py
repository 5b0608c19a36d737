"""``modenhub_env.physics`` against the formulas of docs/model.md (#hardware, #closed-forms, #paper-preset)."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from modenhub_env import physics
from modenhub_env.config import HubConfig

PAPER_NS = (1, 2, 4, 8, 16, 32, 64, 128)


# ---------------------------------------------------------------- switch and k(N)


@pytest.mark.parametrize(
    ("n_qpus", "stages"),
    [(1, 0), (2, 1), (3, 2), (4, 2), (5, 3), (8, 3), (9, 4), (16, 4), (100, 7), (128, 7), (129, 8), (1024, 10)],
)
def test_switch_stages__is_ceil_log2_n(n_qpus, stages):
    assert physics.switch_stages(n_qpus) == stages


@pytest.mark.parametrize("n_qpus", [1, 2, 3, 7, 8, 33, 128, 1000, 4096])
def test_parallel_attempts__is_max_one_ceil_log2_n(n_qpus):
    expected = max(1, math.ceil(math.log2(n_qpus)))
    assert physics.parallel_attempts(n_qpus) == expected
    assert physics.parallel_attempts(n_qpus) >= 1


def test_parallel_attempts__one_qpu_gives_one_attempt():
    assert physics.parallel_attempts(1) == 1


# ---------------------------------------------------------------- transmission


@pytest.mark.parametrize("n_qpus", [1, 2, 16, 128])
def test_transmission__matches_closed_form(n_qpus):
    fibre = np.array([0.0, 1.0, 7.5, 20.0])
    eta_c, alpha, eta_d, s = 0.8, 0.25, 0.9, 0.5
    m = math.ceil(math.log2(n_qpus)) if n_qpus > 1 else 0
    expected = eta_c * 10 ** (-alpha * fibre / 10) * eta_d * 10 ** (-s * m / 10)
    got = physics.transmission(fibre, n_qpus, eta_c, alpha, eta_d, s)
    np.testing.assert_allclose(got, expected, rtol=1e-12)
    assert got.shape == fibre.shape


def test_transmission__lossless_is_one():
    got = physics.transmission(np.array([0.0, 3.0]), 64, 1.0, 0.0, 1.0, 0.0)
    np.testing.assert_array_equal(got, [1.0, 1.0])


def test_transmission__ten_db_divides_by_ten():
    # 50 km at 0.2 dB/km is 10 dB of fibre loss.
    got = physics.transmission(np.array([0.0, 50.0]), 1, 1.0, 0.2, 1.0, 0.0)
    np.testing.assert_allclose(got[1] / got[0], 0.1, rtol=1e-12)


# ---------------------------------------------------------------- pair probability


def test_pair_success_prob__is_product():
    eta_a = np.array([0.9, 0.5, 1.0])
    eta_b = np.array([0.8, 0.5, 0.25])
    np.testing.assert_allclose(physics.pair_success_prob(0.5, eta_a, eta_b), 0.5 * eta_a * eta_b, rtol=1e-15)


def test_pair_success_prob__symmetric_in_the_two_qpus():
    assert physics.pair_success_prob(0.7, 0.3, 0.9) == pytest.approx(physics.pair_success_prob(0.7, 0.9, 0.3))


@pytest.mark.parametrize(("n_qpus", "expected"), [(1, 0.333), (128, 0.111)])
def test_p_pair__paper_preset_values(n_qpus, expected):
    cfg = HubConfig(n_qpus=n_qpus)
    p = float(cfg.p_pair(0, 0) if n_qpus == 1 else cfg.p_pair(0, 1))
    assert round(p, 3) == expected


def test_p_pair__paper_preset_one_qpu_uses_eta_squared():
    cfg = HubConfig(n_qpus=1)
    eta0 = 0.90 * 10 ** (-0.2 * 1.0 / 10) * 0.95
    assert float(cfg.p_pair(0, 0)) == pytest.approx(0.5 * eta0**2, rel=1e-12)


@pytest.mark.parametrize(("n_qpus", "expected"), [(8, 0.208), (32, 0.152)])
def test_p_pair__paper_table_values(n_qpus, expected):
    assert round(float(HubConfig(n_qpus=n_qpus).p_pair(0, 1)), 3) == expected


def test_p_pair__decreases_with_network_size():
    ps = [float(HubConfig(n_qpus=n).p_pair(0, 0 if n == 1 else 1)) for n in PAPER_NS]
    assert all(later < earlier for earlier, later in itertools.pairwise(ps))


# ---------------------------------------------------------------- Werner decay


def test_werner_fidelity__matches_closed_form():
    age = np.arange(0, 50)
    got = physics.werner_fidelity(age, 0.95, 7.0)
    np.testing.assert_allclose(got, 0.25 + (0.95 - 0.25) * np.exp(-age / 7.0), rtol=1e-13)


def test_werner_fidelity__age_zero_is_f0():
    assert float(physics.werner_fidelity(0, 0.93, 3.0)) == pytest.approx(0.93, abs=1e-15)


def test_werner_fidelity__decays_to_quarter():
    assert float(physics.werner_fidelity(10_000, 0.99, 5.0)) == pytest.approx(0.25, abs=1e-12)


def test_werner_fidelity__decreases_monotonically():
    f = physics.werner_fidelity(np.arange(100), 0.97, 4.0)
    assert np.all(np.diff(f) < 0)
    assert np.all(f > 0.25)


def test_werner_fidelity__infinite_coherence_keeps_f0():
    age = np.array([0, 1, 10, 10**6])
    got = physics.werner_fidelity(age, 0.97, math.inf)
    np.testing.assert_array_equal(got, np.full(4, 0.97))
    assert got.shape == age.shape
    assert got.dtype == np.float64


def test_werner_fidelity__infinite_coherence_keeps_integer_shape_as_float():
    got = physics.werner_fidelity(np.arange(3, dtype=np.int64), 0.9, math.inf)
    np.testing.assert_array_equal(got, [0.9, 0.9, 0.9])


# ---------------------------------------------------------------- teleportation


def test_teleport_gate_fidelity__is_two_f_plus_one_over_three():
    f = np.linspace(0.25, 1.0, 13)
    np.testing.assert_allclose(physics.teleport_gate_fidelity(f), (2 * f + 1) / 3, rtol=1e-15)


def test_teleport_gate_fidelity__endpoints():
    assert float(physics.teleport_gate_fidelity(1.0)) == pytest.approx(1.0)
    assert float(physics.teleport_gate_fidelity(0.25)) == pytest.approx(0.5)


# ---------------------------------------------------------------- storage limit


def _usable(age: int, f0: float, t_coh: float, f_min: float, cutoff: int | None) -> bool:
    """docs/model.md#storage-limit: discarded at age ``cutoff`` or once ``F < F_min``."""
    fidelity = float(physics.werner_fidelity(age, f0, t_coh))
    return fidelity >= f_min and (cutoff is None or age < cutoff)


def test_storage_limit__infinite_without_decay_or_cutoff():
    assert math.isinf(physics.storage_limit(0.97, math.inf, 0.5, None))


def test_storage_limit__cutoff_alone():
    # Discarded at age cutoff: the last usable age is cutoff - 1.
    assert physics.storage_limit(0.97, math.inf, 0.5, 6) == 5
    assert physics.storage_limit(0.97, math.inf, 0.5, 1) == 0


def test_storage_limit__f_min_at_floor_never_expires_by_fidelity():
    assert math.isinf(physics.storage_limit(0.97, 3.0, 0.25, None))


@pytest.mark.parametrize(
    ("f0", "t_coh", "f_min"),
    [(0.97, 8.0, 0.8), (0.97, 1.0, 0.5), (0.9, 30.0, 0.6), (0.99, 2.5, 0.9), (0.97, 100.0, 0.96), (0.8, 0.7, 0.3)],
)
def test_storage_limit__fidelity_threshold_boundary_is_exact(f0, t_coh, f_min):
    limit = physics.storage_limit(f0, t_coh, f_min, None)
    assert limit == int(limit) and limit >= 0
    limit = int(limit)
    assert physics.werner_fidelity(limit, f0, t_coh) >= f_min
    assert physics.werner_fidelity(limit + 1, f0, t_coh) < f_min


def test_storage_limit__f_min_equal_f0_allows_age_zero_only():
    assert physics.storage_limit(0.9, 5.0, 0.9, None) == 0


@pytest.mark.parametrize(
    ("f0", "t_coh", "f_min", "cutoff"),
    [(0.97, 8.0, 0.8, 6), (0.97, 8.0, 0.8, 2), (0.97, 8.0, 0.8, 3), (0.95, 50.0, 0.5, 4), (0.95, 2.0, 0.5, 40)],
)
def test_storage_limit__is_the_last_usable_age_with_both_rules(f0, t_coh, f_min, cutoff):
    limit = int(physics.storage_limit(f0, t_coh, f_min, cutoff))
    assert _usable(limit, f0, t_coh, f_min, cutoff)
    assert not _usable(limit + 1, f0, t_coh, f_min, cutoff)
    assert all(_usable(age, f0, t_coh, f_min, cutoff) for age in range(limit + 1))


def test_storage_limit__decoherence_preset_values():
    # 30 ln(0.72 / 0.55) = 8.08 rounds, no cutoff
    assert HubConfig.preset("decoherence").storage_limit == 8
    # the earlier preset: 8 ln(0.72 / 0.55) = 2.15 rounds, below the cutoff's 5
    assert HubConfig.preset("decoherence-short").storage_limit == 2


# ---------------------------------------------------------------- closed forms

P_GRID = np.array([0.01, 0.111, 0.2, 0.333, 0.5, 0.9, 1.0])


def _brute_force(p: float, budget: int, k: int) -> tuple[float, float]:
    """Success and mean attempts of k attempts a round for budget rounds, by summation."""
    q = 1.0 - p
    success, attempts = 0.0, 0.0
    for r in range(budget):
        alive = q ** (k * r)  # no success in the first r rounds
        attempts += alive * k
        success += alive * (1.0 - q**k)
    return success, attempts


@pytest.mark.parametrize("budget", [1, 3, 7])
def test_sequential_success__is_one_minus_q_to_the_r(budget):
    np.testing.assert_allclose(physics.sequential_success(P_GRID, budget), 1 - (1 - P_GRID) ** budget, rtol=1e-13)


@pytest.mark.parametrize("budget", [1, 3, 7])
def test_sequential_mean_attempts__matches_closed_form_and_summation(budget):
    got = physics.sequential_mean_attempts(P_GRID, budget)
    np.testing.assert_allclose(got, (1 - (1 - P_GRID) ** budget) / P_GRID, rtol=1e-13)
    brute = [_brute_force(float(p), budget, 1)[1] for p in P_GRID]
    np.testing.assert_allclose(got, brute, rtol=1e-12)


@pytest.mark.parametrize(("budget", "k"), [(1, 1), (3, 3), (3, 7), (5, 2)])
def test_parallel_success__is_one_minus_q_to_the_kr(budget, k):
    got = physics.parallel_success(P_GRID, budget, k)
    np.testing.assert_allclose(got, 1 - (1 - P_GRID) ** (k * budget), rtol=1e-13)
    brute = [_brute_force(float(p), budget, k)[0] for p in P_GRID]
    np.testing.assert_allclose(got, brute, rtol=1e-12)


@pytest.mark.parametrize(("budget", "k"), [(1, 1), (3, 3), (3, 7), (5, 2)])
def test_parallel_mean_attempts__matches_closed_form_and_summation(budget, k):
    got = physics.parallel_mean_attempts(P_GRID, budget, k)
    q = 1 - P_GRID
    np.testing.assert_allclose(got, k * (1 - q ** (k * budget)) / (1 - q**k), rtol=1e-13)
    brute = [_brute_force(float(p), budget, k)[1] for p in P_GRID]
    np.testing.assert_allclose(got, brute, rtol=1e-12)


def test_parallel_closed_forms__reduce_to_sequential_at_k_one():
    np.testing.assert_allclose(physics.parallel_success(P_GRID, 3, 1), physics.sequential_success(P_GRID, 3))
    np.testing.assert_allclose(
        physics.parallel_mean_attempts(P_GRID, 3, 1), physics.sequential_mean_attempts(P_GRID, 3)
    )


@pytest.mark.parametrize(
    ("n_qpus", "seq_success", "seq_attempts", "par_success"),
    [(1, 0.704, 2.111, 0.704), (8, 0.504, 2.418, 0.878), (32, 0.391, 2.566, 0.916), (128, 0.298, 2.678, 0.916)],
)
def test_closed_forms__paper_preset_analytic_values(n_qpus, seq_success, seq_attempts, par_success):
    """docs/model.md#paper-preset, the closed forms evaluated by hand to 3 decimals."""
    cfg = HubConfig(n_qpus=n_qpus)
    p = float(cfg.p_pair(0, 0) if n_qpus == 1 else cfg.p_pair(0, 1))
    r, k = cfg.round_budget, cfg.k_parallel
    assert float(physics.sequential_success(p, r)) == pytest.approx(seq_success, abs=5e-4)
    assert float(physics.sequential_mean_attempts(p, r)) == pytest.approx(seq_attempts, abs=5e-4)
    assert float(physics.parallel_success(p, r, k)) == pytest.approx(par_success, abs=5e-4)


@pytest.mark.parametrize(
    ("n_qpus", "seq_success", "seq_attempts"),
    [(1, 0.71, 2.11), (8, 0.50, 2.42), (32, 0.40, 2.56), (128, 0.30, 2.69)],
)
def test_closed_forms__agree_with_paper_table_monte_carlo(n_qpus, seq_success, seq_attempts):
    """The table's sequential columns are a 2,500-trial Monte Carlo: the closed forms agree
    within its sampling error (SE of the success rate ~0.01, of the attempts ~0.02)."""
    cfg = HubConfig(n_qpus=n_qpus)
    p = float(cfg.p_pair(0, 0) if n_qpus == 1 else cfg.p_pair(0, 1))
    assert float(physics.sequential_success(p, cfg.round_budget)) == pytest.approx(seq_success, abs=0.011)
    assert float(physics.sequential_mean_attempts(p, cfg.round_budget)) == pytest.approx(seq_attempts, abs=0.015)


def test_closed_forms__sequential_degrades_with_network_size():
    success = []
    for n in PAPER_NS:
        cfg = HubConfig(n_qpus=n)
        success.append(float(physics.sequential_success(cfg.p_pair(0, 0 if n == 1 else 1), 3)))
    assert all(later < earlier for earlier, later in itertools.pairwise(success))
    assert success[-1] == pytest.approx(0.30, abs=0.01)


def test_closed_forms__compute_in_float64_from_float32_inputs():
    # float32 in, float64 out: the formulas must not lose precision to their inputs' dtype
    p = np.array([0.1, 0.2], dtype=np.float32)
    outputs = {
        "transmission": physics.transmission(np.array([1.0, 2.0], dtype=np.float32), 4, 0.9, 0.2, 0.95, 0.34),
        "pair_success_prob": physics.pair_success_prob(0.5, p, np.array([0.3, 0.4], dtype=np.float32)),
        "pair_success_prob_b": physics.pair_success_prob(0.5, np.array([0.3, 0.4]), p),
        "teleport_gate_fidelity": physics.teleport_gate_fidelity(np.array([0.9], dtype=np.float32)),
        "sequential_success": physics.sequential_success(p, 3),
        "sequential_mean_attempts": physics.sequential_mean_attempts(p, 3),
        "parallel_success": physics.parallel_success(p, 3, 2),
        "parallel_mean_attempts": physics.parallel_mean_attempts(p, 3, 2),
    }
    for name, value in outputs.items():
        assert value.dtype == np.float64, name
    # 1 - (1 - p)**3 at p = 0.1 exactly in double precision: 1 - 0.729 = 0.271
    assert physics.sequential_success(np.array([0.1], dtype=np.float64), 3)[0] == pytest.approx(0.271, rel=1e-15)


def test_closed_forms__float32_inputs_give_the_float64_values():
    # the same numbers as float64 inputs, to the last bit: nothing is rounded to float32
    p32 = np.array([0.1, 0.3], dtype=np.float32)
    p64 = p32.astype(np.float64)
    np.testing.assert_array_equal(physics.pair_success_prob(0.3, p32, p64), 0.3 * p64 * p64)
    np.testing.assert_array_equal(physics.parallel_mean_attempts(p32, 3, 2), physics.parallel_mean_attempts(p64, 3, 2))
