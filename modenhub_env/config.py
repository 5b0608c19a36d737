"""``HubConfig``: every parameter of the ModEn-Hub model, validated on construction.

The defaults are the *paper preset*, a reconstruction of the set-up of Chen et al.
(arXiv 2512.24902) calibrated so that its two heuristics reproduce the paper's headline
results (the paper's own parameter values are not public). Other presets are built from
it with ``dataclasses.replace``; see :meth:`HubConfig.preset` and the README's table.
"""

from __future__ import annotations

import dataclasses
import difflib
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np

from modenhub_env import physics
from modenhub_env.circuits.dag import MAX_LOCAL_ROUNDS, MAX_QUBITS
from modenhub_env.circuits.sources import CircuitSource

Workload = Literal["sequential", "poisson", "trace", "circuit"]
WORKLOADS: tuple[str, ...] = ("sequential", "poisson", "trace", "circuit")
#: Suffixes of a saved request DAG (``modenhub_env.circuits.dagfile``) and of an OpenQASM file.
DAG_SUFFIXES, QASM_SUFFIX = (".json", ".npz"), ".qasm"


@dataclass(frozen=True)
class HubConfig:
    """One ModEn-Hub scenario: hardware, memory, workload, agent interface and reward.

    :param n_qpus: number of QPUs (spokes) ``N``, 1 to 4096.
    :param p_bsm: success probability of the hub's Bell-state measurement.
    :param eta_c: coupling efficiency of a QPU's photon into the fibre.
    :param alpha_db_per_km: fibre attenuation [dB/km].
    :param fibre_km: fibre length of every spoke [km], or one length per QPU.
    :param fibre_km_max: if set, spoke lengths spread evenly from ``fibre_km`` (QPU 0) to
        this value (QPU N-1) [km]: heterogeneous spokes without listing N numbers.
    :param eta_d: detector efficiency at the hub.
    :param switch_loss_db: insertion loss of one optical-switch stage [dB].
    :param max_attempts_per_round: hub capacity ``S``, attempts per round in total; ``None``
        is unlimited.
    :param comm_qubits_per_qpu: ``c_i``, attempts per round touching one QPU; ``None`` is
        unlimited.
    :param cache_capacity: ebits the hub memory holds in total; 0 disables caching.
    :param cache_per_pair: ebits the cache holds per QPU pair.
    :param f0: fidelity of a fresh ebit.
    :param t_coh: coherence time of the memory [rounds]; ``inf`` disables decoherence.
    :param cutoff: age at which the cache discards an ebit [rounds]; ``None`` for none.
    :param f_min: fidelity an ebit needs to serve a request.
    :param workload: ``"sequential"`` (one request at a time, the paper's Monte Carlo),
        ``"poisson"`` (random arrivals), ``"trace"`` (requests read from ``trace_path``) or
        ``"circuit"`` (the non-local gates of ``circuit``, along its dependency graph).
    :param round_budget: rounds ``R`` a request may wait before it fails (sequential and
        poisson workloads; a trace gives each request its own).
    :param episode_requests: requests per episode of the sequential workload ``T``.
    :param arrival_rate: mean arrivals per round of the poisson workload ``lambda``.
    :param zipf_exponent: skew of pair popularity (poisson workload); 0 is uniform.
    :param popularity_seed: seed of the fixed ranking of pairs by popularity.
    :param queue_capacity: pending requests the hub holds; further arrivals are rejected.
    :param trace_path: CSV or JSON-lines file of ``round, a, b, budget`` rows.
    :param circuit: the circuit workload's circuit: a generator spec (``"qft:64"``,
        ``"qaoa:64,seed=1"``; ``modenhub_env.circuits.CircuitSource.parse``), an OpenQASM
        file (``.qasm``) or a saved request DAG (``.json`` or ``.npz``, which fixes the
        placement, the capacity, ``local_rounds`` and ``n_qpus``).
    :param qpu_capacity: qubits a QPU holds at most [qubits]; ``None`` for the fewest that
        fit, ``ceil(n_qubits / N)``.
    :param placement: the QPU of each qubit; ``None`` to place them by a balanced min-cut
        partition of the circuit's interaction graph.
    :param placement_seed: seed of the partitioner's random starts.
    :param local_rounds: rounds one local gate takes [rounds], 0 to 1000; ``None`` for 0
        (or, for a DAG file, the file's).
    :param episode_rounds: rounds after which an episode is truncated; ``None`` for no
        limit (required for the poisson workload).
    :param request_slots: ``K``, pending requests shown to the agent (oldest first).
    :param prefetch_slots: ``M``, candidate pairs the agent may prefetch; 0 disables.
    :param k_max: most attempts the agent may launch for one slot in one round.
    :param observation_version: the layout of the agent's observation: 0 (``ModEnHub-v0``)
        or 1 (``ModEnHub-v1``, which adds what the capacities ``S`` and ``c_i`` leave each
        slot); ``gymnasium.make("ModEnHub-v1")`` sets 1.
    :param w_fail: reward weight (penalty) of a request that reaches its deadline unserved.
    :param w_attempt: reward weight (cost) of one entanglement attempt.
    :param w_fidelity: reward weight (cost) of the fidelity a served request's ebit lost in
        the cache, ``F0 - F`` per request (0 for a fresh ebit); 0 leaves fidelity out.
    """

    n_qpus: int = 16
    p_bsm: float = 0.5
    eta_c: float = 0.90
    alpha_db_per_km: float = 0.2  # [dB/km]
    fibre_km: float | tuple[float, ...] = 1.0  # [km]
    fibre_km_max: float | None = None  # [km]
    eta_d: float = 0.95
    switch_loss_db: float = 0.34  # [dB per stage]
    max_attempts_per_round: int | None = None  # [attempts/round]
    comm_qubits_per_qpu: int | None = None  # [attempts/round]
    cache_capacity: int = 1024  # [ebits]
    cache_per_pair: int = 1  # [ebits]
    f0: float = 0.97
    t_coh: float = math.inf  # [rounds]
    cutoff: int | None = None  # [rounds]
    f_min: float = 0.5
    workload: Workload = "sequential"
    round_budget: int = 3  # [rounds]
    episode_requests: int = 2500
    arrival_rate: float = 1.0  # [requests/round]
    zipf_exponent: float = 0.0
    popularity_seed: int = 0
    queue_capacity: int = 16
    trace_path: str | None = None
    circuit: str | None = None
    qpu_capacity: int | None = None  # [qubits]
    placement: tuple[int, ...] | None = None  # (n_qubits,) QPU of each qubit
    placement_seed: int = 0
    local_rounds: int | None = None  # [rounds]
    episode_rounds: int | None = None  # [rounds]
    request_slots: int = 4
    prefetch_slots: int = 0
    k_max: int = 12
    observation_version: int = 0
    w_fail: float = 0.0
    w_attempt: float = 0.0
    w_fidelity: float = 0.0

    def __post_init__(self) -> None:
        if isinstance(self.fibre_km, (list, np.ndarray)):
            object.__setattr__(self, "fibre_km", tuple(float(x) for x in np.ravel(self.fibre_km)))
        if isinstance(self.placement, (list, np.ndarray)):
            object.__setattr__(self, "placement", tuple(np.ravel(np.asarray(self.placement, dtype=object)).tolist()))
        _check_int(self, "n_qpus", 1, 4096)
        _check_real(self, "p_bsm", 0.0, 1.0, low_open=True)
        _check_real(self, "eta_c", 0.0, 1.0, low_open=True)
        _check_real(self, "alpha_db_per_km", 0.0, 10.0)
        _check_fibre(self)
        _check_real(self, "eta_d", 0.0, 1.0, low_open=True)
        _check_real(self, "switch_loss_db", 0.0, 10.0)
        _check_int(self, "max_attempts_per_round", 1, 10**6, optional=True)
        _check_int(self, "comm_qubits_per_qpu", 1, 10**6, optional=True)
        _check_int(self, "cache_capacity", 0, 65536)
        _check_int(self, "cache_per_pair", 1, 64)
        _check_real(self, "f0", physics.WERNER_FLOOR, 1.0)
        _check_real(self, "t_coh", 0.0, math.inf, low_open=True, allow_inf=True)
        _check_int(self, "cutoff", 1, 10**9, optional=True)
        _check_real(self, "f_min", physics.WERNER_FLOOR, self.f0)
        if self.workload not in WORKLOADS:
            raise ValueError(f"workload must be one of {WORKLOADS}, got {self.workload!r}")
        _check_int(self, "round_budget", 1, 10_000)
        _check_int(self, "episode_requests", 1, 10**9)
        _check_real(self, "arrival_rate", 0.0, 64.0, low_open=True)
        _check_real(self, "zipf_exponent", 0.0, 10.0)
        _check_int(self, "popularity_seed", 0, 2**63 - 1)
        _check_int(self, "queue_capacity", 1, 4096)
        _check_int(self, "episode_rounds", 1, 10**9, optional=True)
        _check_int(self, "request_slots", 1, 256)
        _check_int(self, "prefetch_slots", 0, 256)
        _check_int(self, "k_max", 1, 1024)
        _check_int(self, "observation_version", 0, 1)
        _check_real(self, "w_fail", 0.0, 1e6)
        _check_real(self, "w_attempt", 0.0, 1e6)
        _check_real(self, "w_fidelity", 0.0, 1e6)
        if self.workload == "poisson" and self.episode_rounds is None:
            raise ValueError("episode_rounds must be set (1 to 10**9) for workload 'poisson'")
        if self.workload == "trace":
            if self.trace_path is None:
                raise ValueError("trace_path must name a CSV or JSON-lines file for workload 'trace'")
            if not Path(self.trace_path).is_file():
                raise ValueError(f"trace_path: no such file {self.trace_path!r}")
        _check_circuit(self)

    # Derived quantities: computed, never stored.

    @property
    def n_pairs(self) -> int:
        """Distinct QPU pairs; for ``N = 1`` the one pair of the QPU with the hub memory."""
        return max(1, self.n_qpus * (self.n_qpus - 1) // 2)

    @property
    def spoke_km(self) -> np.ndarray:
        """Fibre length of each spoke [km], shape ``(N,)``."""
        if isinstance(self.fibre_km, tuple):
            return np.asarray(self.fibre_km, dtype=np.float64)
        if self.fibre_km_max is None:
            return np.full(self.n_qpus, float(self.fibre_km))
        return np.linspace(float(self.fibre_km), self.fibre_km_max, self.n_qpus)

    @property
    def eta(self) -> np.ndarray:
        """Per-photon transmission of each spoke, shape ``(N,)``."""
        return physics.transmission(
            self.spoke_km, self.n_qpus, self.eta_c, self.alpha_db_per_km,
            self.eta_d, self.switch_loss_db,
        )

    def p_pair(self, a: np.ndarray | int, b: np.ndarray | int) -> np.ndarray:
        """Per-attempt heralding probability ``p_ab`` of the pair ``(a, b)``."""
        eta = self.eta
        return physics.pair_success_prob(self.p_bsm, eta[a], eta[b])

    @property
    def k_parallel(self) -> int:
        """``k(N)``, the log-parallel orchestrator's attempts per round."""
        return physics.parallel_attempts(self.n_qpus)

    @property
    def cache_size(self) -> int:
        """Cache entries the hub can hold: the total capacity, or all pairs at their cap."""
        return min(self.cache_capacity, self.n_pairs * self.cache_per_pair)

    @property
    def storage_limit(self) -> float:
        """Oldest usable age of a cached ebit [rounds]; ``inf`` if ebits never expire."""
        return physics.storage_limit(self.f0, self.t_coh, self.f_min, self.cutoff)

    @property
    def queue_size(self) -> int:
        """Queue slots the core allocates: one for the sequential workload."""
        return 1 if self.workload == "sequential" else self.queue_capacity

    def replace(self, **overrides: Any) -> HubConfig:
        """A copy with some fields changed.

        :raises TypeError: an unknown field name, as Python does for an unexpected keyword
            argument (so wrappers that probe optional keywords, e.g. TorchRL's ``frameskip``,
            recognise it), naming the nearest field and listing the allowed ones.
        :raises ValueError: a bad value, naming the field and its allowed range.
        """
        unknown = sorted(set(overrides) - set(field_names()))
        if unknown:
            raise TypeError(unknown_fields_message(unknown))
        return dataclasses.replace(self, **overrides)

    @staticmethod
    def preset(name: str, **overrides: Any) -> HubConfig:
        """A named scenario (``paper``, ``contention``, ``decoherence``, ``hotspot``, and
        ``decoherence-short``, the earlier decoherence preset), with any field overridden by
        keyword."""
        if name not in PRESETS:
            raise ValueError(f"preset must be one of {sorted(PRESETS)}, got {name!r}")
        return PRESETS[name].replace(**overrides)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready fields (``inf`` as the string ``"inf"``)."""
        out = dataclasses.asdict(self)
        for key, value in out.items():
            if isinstance(value, tuple):
                out[key] = [_plain(x) for x in value]
            else:
                out[key] = _plain(value)
        return out

    @staticmethod
    def from_dict(data: dict[str, Any]) -> HubConfig:
        """Inverse of :meth:`to_dict`."""
        data = dict(data)
        for key, value in data.items():
            if value == "inf":
                data[key] = math.inf
            elif isinstance(value, list):
                data[key] = tuple(value)
        return HubConfig().replace(**data)


def _plain(value: Any) -> Any:
    """A JSON-ready scalar: numpy scalars as Python ones, infinity as ``"inf"``."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and math.isinf(value):
        return "inf"
    return value


def field_names() -> list[str]:
    """Names of every ``HubConfig`` field."""
    return [f.name for f in dataclasses.fields(HubConfig)]


def nearest_field(name: str) -> str | None:
    """The ``HubConfig`` field whose name is closest to ``name`` (difflib), if any is close."""
    close = difflib.get_close_matches(str(name), field_names(), n=1)
    return close[0] if close else None


def unknown_fields_message(names: list[str]) -> str:
    """The error for keyword names that are not ``HubConfig`` fields, worded as Python's own
    ``unexpected keyword argument`` for each name (so a wrapper that probes an optional
    keyword finds its name in that phrase whatever else is wrong), with the nearest field
    of each and every allowed one.

    :param names: the unknown names, in the order to report them.
    """
    named = []
    for name in names:
        close = nearest_field(name)
        named.append(f"an unexpected keyword argument {name!r}" + (f" (did you mean {close!r}?)" if close else ""))
    return f"HubConfig got {' and '.join(named)}: not a HubConfig field; allowed: {', '.join(field_names())}"


def _check_int(
    cfg: HubConfig, name: str, low: int, high: int, optional: bool = False
) -> None:
    value = getattr(cfg, name)
    if value is None and optional:
        return
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        allowed = f"an integer in [{low}, {high}]" + (" or None" if optional else "")
        raise ValueError(f"{name} must be {allowed}, got {value!r}")
    if not low <= value <= high:
        allowed = f"[{low}, {high}]" + (" or None" if optional else "")
        raise ValueError(f"{name} must be in {allowed}, got {value!r}")


def _check_real(
    cfg: HubConfig,
    name: str,
    low: float,
    high: float,
    low_open: bool = False,
    allow_inf: bool = False,
) -> None:
    value = getattr(cfg, name)
    bracket = "(" if low_open else "["
    allowed = f"{bracket}{low}, {high}]"
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise ValueError(f"{name} must be a number in {allowed}, got {value!r}")
    value = float(value)
    if math.isnan(value) or (math.isinf(value) and not allow_inf):
        raise ValueError(f"{name} must be a finite number in {allowed}, got {value!r}")
    if value < low or value > high or (low_open and value == low):
        raise ValueError(f"{name} must be in {allowed}, got {value!r}")


def _check_circuit(cfg: HubConfig) -> None:
    """The circuit fields: their types and ranges always, and for the circuit workload a
    circuit that can be found and fields that agree with it (what needs the circuit built,
    such as a placement's length for a QASM file, is checked when the core builds it)."""
    _check_int(cfg, "qpu_capacity", 1, MAX_QUBITS, optional=True)
    _check_int(cfg, "placement_seed", 0, 2**63 - 1)
    _check_int(cfg, "local_rounds", 0, MAX_LOCAL_ROUNDS, optional=True)
    if cfg.circuit is not None and (not isinstance(cfg.circuit, str) or not cfg.circuit.strip()):
        raise ValueError(f"circuit must be a generator spec such as 'qft:64', a .qasm file or a DAG file "
                         f"(.json, .npz), got {cfg.circuit!r}")
    if cfg.placement is not None:
        if not isinstance(cfg.placement, tuple) or not cfg.placement:
            raise ValueError(f"placement must list one QPU in [0, {cfg.n_qpus - 1}] per qubit, or be None, "
                             f"got {cfg.placement!r}")
        for index, qpu in enumerate(cfg.placement):
            if isinstance(qpu, (bool, np.bool_)) or not isinstance(qpu, (int, np.integer)) or not 0 <= qpu < cfg.n_qpus:
                raise ValueError(f"placement must list one QPU in [0, {cfg.n_qpus - 1}] per qubit, "
                                 f"got {qpu!r} at index {index}")
        object.__setattr__(cfg, "placement", tuple(int(qpu) for qpu in cfg.placement))
    if cfg.workload != "circuit":
        return
    if cfg.episode_rounds is None:
        raise ValueError("episode_rounds must be set (1 to 10**9) for workload 'circuit': a circuit not done by "
                         "then is truncated (a failure)")
    if cfg.circuit is None:
        raise ValueError("circuit must name the circuit for workload 'circuit': a generator spec such as "
                         "'qft:64', a .qasm file or a DAG file (.json, .npz)")
    spec = cfg.circuit.strip()
    if spec.endswith(DAG_SUFFIXES):
        for name in ("qpu_capacity", "placement", "local_rounds"):
            if getattr(cfg, name) is not None:
                raise ValueError(f"{name} must be None with a DAG file (circuit={spec!r}): the file fixes it")
    if spec.endswith((*DAG_SUFFIXES, QASM_SUFFIX)):
        if not Path(spec).is_file():
            raise ValueError(f"circuit: no such file {spec!r}")
        return
    try:
        source = CircuitSource.parse(spec)
    except ValueError as err:
        message = str(err)
        raise ValueError(message if message.startswith("circuit") else f"circuit: {message}") from None
    if cfg.placement is not None and len(cfg.placement) != source.n_qubits:
        raise ValueError(f"placement must list one QPU per qubit of {spec!r} ({source.n_qubits}), "
                         f"got {len(cfg.placement)}")


def _check_fibre(cfg: HubConfig) -> None:
    if isinstance(cfg.fibre_km, tuple):
        if len(cfg.fibre_km) != cfg.n_qpus:
            raise ValueError(
                f"fibre_km must hold one length per QPU ({cfg.n_qpus}), got {len(cfg.fibre_km)}"
            )
        if cfg.fibre_km_max is not None:
            raise ValueError("fibre_km_max must be None when fibre_km lists every spoke")
        lengths = [("fibre_km", length) for length in cfg.fibre_km]
    else:
        lengths = [("fibre_km", cfg.fibre_km)]
        if cfg.fibre_km_max is not None:
            lengths.append(("fibre_km_max", cfg.fibre_km_max))
    for name, length in lengths:
        bad_type = isinstance(length, bool) or not isinstance(length, (int, float, np.number))
        if bad_type or not 0.0 <= float(length) <= 1000.0:
            raise ValueError(f"{name} must be a length in [0, 1000] km (or one per QPU), got {length!r}")


PAPER = HubConfig()

PRESETS: dict[str, HubConfig] = {
    "paper": PAPER,
    # Several requests compete each round for a hub that cannot serve them all, over
    # spokes of 1 to 20 km: which request gets how many attempts now matters.
    "contention": PAPER.replace(
        n_qpus=16, workload="poisson", arrival_rate=1.2, episode_rounds=256,
        fibre_km=1.0, fibre_km_max=20.0, max_attempts_per_round=12,
        comm_qubits_per_qpu=4, queue_capacity=16, request_slots=8, prefetch_slots=2,
        cache_capacity=16, w_fail=1.0, w_attempt=0.02,
    ),
    # A memory of NV electron spins (Hahn-echo T2 = 0.6 ms with diamond's natural 13C) in
    # rounds of 20 us (the heralding round trip over a 2 km spoke): T_coh = 30 rounds, so
    # a stored ebit serves for 8 rounds; a request must be served in its arrival round.
    # Stocking the cache with the pairs about to be asked for pays, and only in time
    # (docs/model.md#decoherence-preset; chosen by train/decoherence_design.py).
    "decoherence": PAPER.replace(
        n_qpus=16, fibre_km=1.0, fibre_km_max=2.0, workload="poisson", arrival_rate=0.6,
        episode_rounds=256, round_budget=1, t_coh=30.0, f0=0.97, f_min=0.8, cache_capacity=8,
        cache_per_pair=2, zipf_exponent=1.0, max_attempts_per_round=16, request_slots=6,
        prefetch_slots=4, w_fail=1.0, w_attempt=0.03, w_fidelity=4.0 / 3.0,
    ),
    # The earlier decoherence preset (stored ebits serve for 2 rounds), kept for the models
    # and results computed on it.
    "decoherence-short": PAPER.replace(
        n_qpus=16, workload="poisson", arrival_rate=0.6, episode_rounds=256,
        t_coh=8.0, f0=0.97, f_min=0.8, cutoff=6, cache_capacity=8, cache_per_pair=2,
        zipf_exponent=1.0, max_attempts_per_round=16, request_slots=6, prefetch_slots=4,
        w_fail=1.0, w_attempt=0.03,
    ),
    # A few pairs carry most of the traffic: prefetching the hot pairs during idle
    # capacity cuts latency and failures.
    "hotspot": PAPER.replace(
        n_qpus=32, workload="poisson", arrival_rate=1.0, episode_rounds=256,
        zipf_exponent=1.4, max_attempts_per_round=16, round_budget=2,
        cache_capacity=16, cache_per_pair=2, request_slots=6, prefetch_slots=4,
        w_fail=1.0, w_attempt=0.02,
    ),
}
