"""Closed-form physics of the ModEn-Hub (``docs/model.md#hardware`` and ``#closed-forms``).

Small pure functions, each checked against its formula in ``tests/test_physics.py``.
They accept numpy arrays or scalars, so the batched core uses them unchanged.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]

#: Fidelity of a fully depolarised two-qubit state (the Werner limit).
WERNER_FLOOR = 0.25


def switch_stages(n_qpus: int) -> int:
    """Optical switch stages ``m(N) = ceil(log2 N)`` for ``N > 1``, else 0."""
    return math.ceil(math.log2(n_qpus)) if n_qpus > 1 else 0


def parallel_attempts(n_qpus: int) -> int:
    """The log-parallel orchestrator's attempts per round, ``k(N) = max(1, ceil(log2 N))``."""
    return max(1, switch_stages(n_qpus))


def transmission(
    fibre_km: npt.ArrayLike,  # [km]
    n_qpus: int,
    eta_c: float,
    alpha_db_per_km: float,  # [dB/km]
    eta_d: float,
    switch_loss_db: float,  # [dB per stage]
) -> FloatArray:
    """Per-photon transmission of each spoke,
    ``eta_i = eta_c * 10**(-alpha L_i / 10) * eta_d * 10**(-s m(N) / 10)``."""
    fibre = np.asarray(fibre_km, dtype=np.float64)
    fibre_loss = 10.0 ** (-alpha_db_per_km * fibre / 10.0)
    switch_loss = 10.0 ** (-switch_loss_db * switch_stages(n_qpus) / 10.0)
    return eta_c * fibre_loss * eta_d * switch_loss


def pair_success_prob(p_bsm: float, eta_a: npt.ArrayLike, eta_b: npt.ArrayLike) -> FloatArray:
    """Heralding probability of one attempt for the pair ``(a, b)``, ``P_bsm * eta_a * eta_b``."""
    return p_bsm * np.asarray(eta_a, dtype=np.float64) * np.asarray(eta_b, dtype=np.float64)


def werner_fidelity(age: npt.ArrayLike, f0: float, t_coh: float) -> FloatArray:
    """Fidelity of a stored ebit after ``age`` rounds,
    ``F(t) = 1/4 + (F0 - 1/4) exp(-t / T_coh)``; ``T_coh = inf`` keeps ``F0``."""
    age = np.asarray(age, dtype=np.float64)
    if math.isinf(t_coh):
        return np.full_like(age, f0)
    return WERNER_FLOOR + (f0 - WERNER_FLOOR) * np.exp(-age / t_coh)


def teleport_gate_fidelity(ebit_fidelity: npt.ArrayLike) -> FloatArray:
    """Average gate fidelity of teleporting one qubit with an ebit of fidelity ``F``, ``(2F+1)/3``."""
    return (2.0 * np.asarray(ebit_fidelity, dtype=np.float64) + 1.0) / 3.0


def storage_limit(f0: float, t_coh: float, f_min: float, cutoff: int | None) -> float:
    """Largest age [rounds] at which a stored ebit is still usable, or ``inf``.

    The cache discards an ebit at age ``cutoff`` or once ``F(age) < F_min``. ``F`` falls
    monotonically with age, so both rules reduce to one threshold on the integer age.
    """
    limit = math.inf if cutoff is None else float(cutoff - 1)
    if not math.isinf(t_coh) and f_min > WERNER_FLOOR:
        # F(t) >= F_min  <=>  t <= T_coh * ln((F0 - 1/4) / (F_min - 1/4))
        decay_limit = t_coh * math.log((f0 - WERNER_FLOOR) / (f_min - WERNER_FLOOR))
        limit = min(limit, math.floor(decay_limit + 1e-12))
    return limit


def sequential_success(p: npt.ArrayLike, budget: int) -> FloatArray:
    """Success probability of one attempt a round for ``budget`` rounds, ``1-(1-p)**R``."""
    return 1.0 - (1.0 - np.asarray(p, dtype=np.float64)) ** budget


def sequential_mean_attempts(p: npt.ArrayLike, budget: int) -> FloatArray:
    """Mean attempts of one attempt a round, stopping at the first success, ``(1-(1-p)**R)/p``."""
    p = np.asarray(p, dtype=np.float64)
    return sequential_success(p, budget) / p


def parallel_success(p: npt.ArrayLike, budget: int, k: int) -> FloatArray:
    """Success probability of ``k`` attempts a round for ``budget`` rounds, ``1-(1-p)**(kR)``."""
    return 1.0 - (1.0 - np.asarray(p, dtype=np.float64)) ** (k * budget)


def parallel_mean_attempts(p: npt.ArrayLike, budget: int, k: int) -> FloatArray:
    """Mean attempts of ``k`` a round until the first round with a success,
    ``k (1-(1-p)**(kR)) / (1-(1-p)**k)``."""
    p = np.asarray(p, dtype=np.float64)
    return k * parallel_success(p, budget, k) / (1.0 - (1.0 - p) ** k)
