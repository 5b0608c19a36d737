"""``HubConfig``: presets, validation messages, ``replace``, serialisation, derived values."""

from __future__ import annotations

import json
import math
import re

import numpy as np
import pytest

from modenhub_env import physics
from modenhub_env.circuits import Circuit, request_dag, save_dag
from modenhub_env.config import PRESETS, HubConfig, field_names


@pytest.mark.parametrize("name", ["paper", "contention", "decoherence", "hotspot"])
def test_preset__constructs(name):
    cfg = HubConfig.preset(name)
    assert isinstance(cfg, HubConfig)
    assert cfg == PRESETS[name]


def test_preset__paper_is_the_default():
    assert HubConfig.preset("paper") == HubConfig()


def test_preset__paper_matches_model_md():
    cfg = HubConfig()
    assert (cfg.p_bsm, cfg.eta_c, cfg.alpha_db_per_km, cfg.fibre_km, cfg.eta_d) == (0.5, 0.90, 0.2, 1.0, 0.95)
    assert (cfg.switch_loss_db, cfg.round_budget, cfg.cache_per_pair) == (0.34, 3, 1)
    assert cfg.max_attempts_per_round is None and math.isinf(cfg.t_coh)
    assert cfg.workload == "sequential" and cfg.episode_requests == 2500


def test_preset__overrides_apply():
    cfg = HubConfig.preset("contention", n_qpus=32)
    assert cfg.n_qpus == 32
    assert cfg.workload == "poisson" and cfg.max_attempts_per_round == 12
    assert cfg.spoke_km.shape == (32,)
    assert cfg.spoke_km[0] == pytest.approx(1.0) and cfg.spoke_km[-1] == pytest.approx(20.0)


def test_preset__unknown_name_raises_listing_names():
    with pytest.raises(ValueError, match="preset must be one of") as err:
        HubConfig.preset("nope")
    assert "contention" in str(err.value) and "'nope'" in str(err.value)


@pytest.mark.parametrize(
    ("overrides", "field", "allowed"),
    [
        ({"n_qpus": 0}, "n_qpus", "[1, 4096]"),
        ({"n_qpus": 5000}, "n_qpus", "[1, 4096]"),
        ({"p_bsm": 1.5}, "p_bsm", "(0.0, 1.0]"),
        ({"p_bsm": 0.0}, "p_bsm", "(0.0, 1.0]"),
        ({"eta_c": -0.1}, "eta_c", "(0.0, 1.0]"),
        ({"cache_capacity": -1}, "cache_capacity", "[0, 65536]"),
        ({"cache_per_pair": 0}, "cache_per_pair", "[1, 64]"),
        ({"round_budget": 0}, "round_budget", "[1, 10000]"),
        ({"k_max": 0}, "k_max", "[1, 1024]"),
        ({"max_attempts_per_round": 0}, "max_attempts_per_round", "[1, 1000000] or None"),
        ({"t_coh": 0.0}, "t_coh", "(0.0, inf]"),
        ({"t_coh": -3.0}, "t_coh", "(0.0, inf]"),
        ({"cutoff": 0}, "cutoff", "[1, 1000000000] or None"),
        ({"f0": 1.2}, "f0", "[0.25, 1.0]"),
        ({"f_min": 0.99}, "f_min", "[0.25, 0.97]"),
        ({"f_min": 0.1}, "f_min", "[0.25, 0.97]"),
        ({"arrival_rate": 0.0}, "arrival_rate", "(0.0, 64.0]"),
        ({"w_attempt": -1.0}, "w_attempt", "[0.0, 1000000.0]"),
        ({"n_qpus": True}, "n_qpus", "[1, 4096]"),
        ({"cache_capacity": False}, "cache_capacity", "[0, 65536]"),
        ({"n_qpus": 4.0}, "n_qpus", "[1, 4096]"),
        ({"p_bsm": True}, "p_bsm", "(0.0, 1.0]"),
        ({"p_bsm": math.nan}, "p_bsm", "(0.0, 1.0]"),
        ({"w_fail": math.nan}, "w_fail", "[0.0, 1000000.0]"),
        ({"eta_d": math.inf}, "eta_d", "(0.0, 1.0]"),
        ({"p_bsm": "0.5"}, "p_bsm", "(0.0, 1.0]"),
    ],
)
def test_config__invalid_value_names_field_and_range(overrides, field, allowed):
    with pytest.raises(ValueError) as err:
        HubConfig(**overrides)
    message = str(err.value)
    assert message.startswith(field), message
    assert allowed in message, message
    assert repr(next(iter(overrides.values()))) in message


def test_config__fibre_tuple_of_wrong_length_names_field():
    with pytest.raises(ValueError, match=r"fibre_km must hold one length per QPU \(4\), got 3"):
        HubConfig(n_qpus=4, fibre_km=(1.0, 2.0, 3.0))


def test_config__fibre_tuple_with_fibre_km_max_raises():
    with pytest.raises(ValueError, match="fibre_km_max"):
        HubConfig(n_qpus=2, fibre_km=(1.0, 2.0), fibre_km_max=5.0)


@pytest.mark.parametrize(
    "overrides", [{"fibre_km": -1.0}, {"fibre_km": math.nan}, {"fibre_km_max": 2000.0}, {"fibre_km": True}]
)
def test_config__bad_fibre_length_raises_with_range(overrides):
    with pytest.raises(ValueError, match=r"\[0, 1000\] km"):
        HubConfig(**overrides)


@pytest.mark.parametrize(
    ("overrides", "field"), [({"fibre_km": -1.0}, "fibre_km"), ({"fibre_km_max": 2000.0}, "fibre_km_max")]
)
def test_config__bad_fibre_length_names_field(overrides, field):
    with pytest.raises(ValueError, match=field):
        HubConfig(**overrides)


def test_config__unknown_workload_lists_allowed():
    with pytest.raises(ValueError, match="workload must be one of") as err:
        HubConfig(workload="foo")
    assert "'foo'" in str(err.value)
    for name in ("sequential", "poisson", "trace"):
        assert name in str(err.value)


def test_config__poisson_without_episode_rounds_raises():
    with pytest.raises(ValueError, match="episode_rounds must be set"):
        HubConfig(workload="poisson")


def test_config__trace_without_path_raises():
    with pytest.raises(ValueError, match="trace_path"):
        HubConfig(workload="trace")


def test_config__trace_with_missing_file_raises(tmp_path):
    missing = tmp_path / "none.csv"
    with pytest.raises(ValueError, match="trace_path: no such file"):
        HubConfig(workload="trace", trace_path=str(missing))


def test_config__f_min_equal_f0_is_allowed():
    assert HubConfig(f0=0.9, f_min=0.9).f_min == 0.9


def test_config__is_frozen():
    cfg = HubConfig()
    with pytest.raises(AttributeError):
        cfg.n_qpus = 3  # type: ignore[misc]


def test_replace__unknown_field_is_a_type_error_with_nearest_match():
    with pytest.raises(TypeError, match=r"unexpected keyword argument 'n_qubits' \(did you mean 'n_qpus'\?\)") as err:
        HubConfig().replace(n_qubits=3)
    assert "allowed: n_qpus, p_bsm," in str(err.value)  # every allowed name is listed


def test_replace__several_unknown_fields_are_all_named():
    with pytest.raises(TypeError, match=r"an unexpected keyword argument 'frameskip' and an unexpected keyword "
                       r"argument 't_cho' \(did you mean 't_coh'\?\)"):
        HubConfig().replace(t_cho=1.0, frameskip=4, n_qpus=4)


def test_preset__unknown_field_is_a_type_error_and_bad_value_a_value_error():
    with pytest.raises(TypeError, match="unexpected keyword argument 'arival_rate' \\(did you mean 'arrival_rate'"):
        HubConfig.preset("hotspot", arival_rate=1.0)
    with pytest.raises(ValueError, match="arrival_rate"):
        HubConfig.preset("hotspot", arrival_rate=-1.0)
    with pytest.raises(ValueError, match="preset must be one of"):
        HubConfig.preset("hotspots")


def test_replace__validates_new_values():
    with pytest.raises(ValueError, match="n_qpus"):
        HubConfig().replace(n_qpus=-2)


def test_replace__returns_changed_copy():
    base = HubConfig()
    new = base.replace(n_qpus=8, w_fail=2.0)
    assert (new.n_qpus, new.w_fail) == (8, 2.0)
    assert base.n_qpus == 16


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_to_dict__round_trips_every_preset(name):
    cfg = PRESETS[name]
    data = cfg.to_dict()
    assert set(data) == set(field_names())
    assert HubConfig.from_dict(json.loads(json.dumps(data))) == cfg


def test_to_dict__infinite_coherence_round_trips_through_json():
    cfg = HubConfig(t_coh=math.inf)
    data = cfg.to_dict()
    assert data["t_coh"] == "inf"
    text = json.dumps(data, allow_nan=False)  # strict JSON: no bare Infinity
    back = HubConfig.from_dict(json.loads(text))
    assert math.isinf(back.t_coh) and back == cfg


def test_to_dict__finite_values_and_tuples_round_trip():
    cfg = HubConfig(n_qpus=3, fibre_km=(1.0, 2.5, 4.0), t_coh=12.5, cutoff=4, f_min=0.6)
    data = json.loads(json.dumps(cfg.to_dict()))
    assert data["fibre_km"] == [1.0, 2.5, 4.0]
    back = HubConfig.from_dict(data)
    assert back == cfg and back.fibre_km == (1.0, 2.5, 4.0)


@pytest.mark.parametrize(
    "overrides", [{"n_qpus": np.int64(8)}, {"p_bsm": np.float32(0.5)}, {"t_coh": np.float32("inf")}],
    ids=["int64", "float32", "float32-inf"],
)
def test_to_dict__numpy_scalar_fields_are_json_ready(overrides):
    cfg = HubConfig(**overrides)
    back = HubConfig.from_dict(json.loads(json.dumps(cfg.to_dict(), allow_nan=False)))
    assert back == cfg


def test_from_dict__unknown_field_raises():
    with pytest.raises(TypeError, match="unexpected keyword argument 'bogus'"):
        HubConfig.from_dict({"bogus": 1})


# ---------------------------------------------------------------- derived quantities


def test_spoke_km__uniform_by_default():
    np.testing.assert_array_equal(HubConfig(n_qpus=5, fibre_km=2.0).spoke_km, np.full(5, 2.0))


def test_spoke_km__fibre_km_max_spreads_linearly():
    km = HubConfig(n_qpus=5, fibre_km=1.0, fibre_km_max=21.0).spoke_km
    np.testing.assert_allclose(km, [1.0, 6.0, 11.0, 16.0, 21.0])
    np.testing.assert_allclose(np.diff(km), 5.0)


def test_spoke_km__tuple_is_taken_as_given():
    np.testing.assert_array_equal(HubConfig(n_qpus=3, fibre_km=(3.0, 1.0, 2.0)).spoke_km, [3.0, 1.0, 2.0])


@pytest.mark.parametrize(("n_qpus", "stages"), [(1, 0), (2, 1), (17, 5), (128, 7)])
def test_eta__has_one_entry_per_qpu_and_matches_the_closed_form(n_qpus, stages):
    # spoke i is i km long; each km (alpha = 10 log10 2 dB/km) and each of the ceil(log2 N)
    # switch stages halves the transmission: eta_i = 0.8 * 2**-(i + stages)
    half = 10.0 * math.log10(2.0)
    cfg = HubConfig(n_qpus=n_qpus, fibre_km=0.0, fibre_km_max=n_qpus - 1.0, eta_c=0.8, eta_d=1.0,
                    alpha_db_per_km=half, switch_loss_db=half)
    assert cfg.eta.shape == (n_qpus,)
    np.testing.assert_allclose(cfg.eta, 0.8 * 2.0 ** -(np.arange(n_qpus) + stages), rtol=1e-9)


def test_eta__longer_spokes_transmit_less():
    eta = HubConfig.preset("contention").eta
    assert np.all(np.diff(eta) < 0)


def test_p_pair__is_p_bsm_eta_a_eta_b():
    cfg = HubConfig.preset("contention")
    # L_i = 1 + 19 i / 15 km, eta_i = 0.9 * 0.95 * 10**(-0.02 L_i) * 10**(-0.34 * 4 / 10), p = 0.5 eta_a eta_b
    assert float(cfg.p_pair(2, 9)) == pytest.approx(0.09380706910228442, rel=1e-9)
    np.testing.assert_allclose(
        cfg.p_pair(np.array([0, 1]), np.array([3, 4])), [0.1495898868895656, 0.13311762699720517], rtol=1e-9
    )


@pytest.mark.parametrize(
    ("n_qpus", "capacity", "per_pair", "expected"),
    [(4, 1024, 1, 6), (4, 3, 2, 3), (4, 100, 2, 12), (1, 10, 3, 3), (16, 0, 1, 0), (32, 16, 2, 16)],
)
def test_cache_size__is_min_of_capacity_and_pairs_times_per_pair(n_qpus, capacity, per_pair, expected):
    cfg = HubConfig(n_qpus=n_qpus, cache_capacity=capacity, cache_per_pair=per_pair)
    assert cfg.cache_size == expected
    assert cfg.cache_size == min(capacity, cfg.n_pairs * per_pair)


@pytest.mark.parametrize(("n_qpus", "pairs"), [(1, 1), (2, 1), (3, 3), (16, 120)])
def test_n_pairs__counts_unordered_pairs(n_qpus, pairs):
    assert HubConfig(n_qpus=n_qpus).n_pairs == pairs


@pytest.mark.parametrize(("n_qpus", "k"), [(1, 1), (2, 1), (8, 3), (32, 5), (128, 7)])
def test_k_parallel__matches_model_table(n_qpus, k):
    assert HubConfig(n_qpus=n_qpus).k_parallel == k


def test_storage_limit__property_uses_physics():
    cfg = HubConfig(t_coh=8.0, f_min=0.8, cutoff=6)
    assert cfg.storage_limit == physics.storage_limit(0.97, 8.0, 0.8, 6) == 2
    assert math.isinf(HubConfig().storage_limit)


def test_queue_size__is_one_for_sequential():
    assert HubConfig(queue_capacity=9).queue_size == 1
    assert HubConfig.preset("contention", queue_capacity=9).queue_size == 9


# Every validated field at both ends of its range: the ends are accepted, one step beyond
# is rejected with the message naming the field and the exact range.
INT_RANGES = [
    ("n_qpus", 1, 4096, False), ("max_attempts_per_round", 1, 10**6, True),
    ("comm_qubits_per_qpu", 1, 10**6, True), ("cache_capacity", 0, 65536, False),
    ("cache_per_pair", 1, 64, False), ("cutoff", 1, 10**9, True), ("round_budget", 1, 10_000, False),
    ("episode_requests", 1, 10**9, False), ("popularity_seed", 0, 2**63 - 1, False),
    ("queue_capacity", 1, 4096, False), ("episode_rounds", 1, 10**9, True),
    ("request_slots", 1, 256, False), ("prefetch_slots", 0, 256, False), ("k_max", 1, 1024, False),
    ("observation_version", 0, 1, False), ("qpu_capacity", 1, 100_000, True),
    ("placement_seed", 0, 2**63 - 1, False), ("local_rounds", 0, 1000, True),
]
REAL_RANGES = [  # name, low, high, low end excluded
    ("p_bsm", 0.0, 1.0, True), ("eta_c", 0.0, 1.0, True), ("alpha_db_per_km", 0.0, 10.0, False),
    ("eta_d", 0.0, 1.0, True), ("switch_loss_db", 0.0, 10.0, False), ("f0", 0.25, 1.0, False),
    ("arrival_rate", 0.0, 64.0, True), ("zipf_exponent", 0.0, 10.0, False),
    ("w_fail", 0.0, 1e6, False), ("w_attempt", 0.0, 1e6, False), ("w_fidelity", 0.0, 1e6, False),
]


@pytest.mark.parametrize(("name", "low", "high", "optional"), INT_RANGES)
def test_config__integer_field_accepts_its_range_ends_and_rejects_beyond(name, low, high, optional):
    base = HubConfig(f_min=0.25) if name != "cutoff" else HubConfig()
    assert getattr(base.replace(**{name: low}), name) == low
    assert getattr(base.replace(**{name: high}), name) == high
    allowed = f"[{low}, {high}]" + (" or None" if optional else "")
    for bad in (low - 1, high + 1):
        with pytest.raises(ValueError, match=re.escape(f"{name} must be in {allowed}, got {bad}")):
            base.replace(**{name: bad})
    with pytest.raises(ValueError, match=re.escape(f"{name} must be an integer in {allowed}, got 2.0")):
        base.replace(**{name: 2.0})
    if not optional:
        with pytest.raises(ValueError, match=re.escape(f"{name} must be an integer in {allowed}, got None")):
            base.replace(**{name: None})


@pytest.mark.parametrize(("name", "low", "high", "low_open"), REAL_RANGES)
def test_config__real_field_accepts_its_range_ends_and_rejects_beyond(name, low, high, low_open):
    base = HubConfig(f_min=0.25)
    bracket = "(" if low_open else "["
    allowed = f"{bracket}{low}, {high}]"
    assert getattr(base.replace(**{name: high}), name) == high
    if low_open:
        with pytest.raises(ValueError, match=re.escape(f"{name} must be in {allowed}, got {low}")):
            base.replace(**{name: low})
    else:
        assert getattr(base.replace(**{name: low}), name) == low
    for bad in (low - 0.5, high + 0.5):
        with pytest.raises(ValueError, match=re.escape(f"{name} must be in {allowed}, got {bad}")):
            base.replace(**{name: bad})
    with pytest.raises(ValueError, match=re.escape(f"{name} must be a finite number in {allowed}, got inf")):
        base.replace(**{name: math.inf})


def test_config__fibre_list_or_array_becomes_a_tuple_of_floats():
    for given in ([1, 2, 3], np.array([1.0, 2.0, 3.0])):
        cfg = HubConfig(n_qpus=3, fibre_km=given)
        assert cfg.fibre_km == (1.0, 2.0, 3.0)
        assert type(cfg.fibre_km) is tuple and all(type(x) is float for x in cfg.fibre_km)


def test_config__fibre_lengths_accept_1000_km_and_name_the_field_beyond():
    assert HubConfig(fibre_km=1000.0).fibre_km == 1000.0
    assert HubConfig(fibre_km=0.0, fibre_km_max=1000.0).spoke_km[-1] == 1000.0
    message = "{} must be a length in [0, 1000] km (or one per QPU), got {}"
    with pytest.raises(ValueError, match=re.escape(message.format("fibre_km", 1000.5))):
        HubConfig(fibre_km=1000.5)
    with pytest.raises(ValueError, match=re.escape(message.format("fibre_km_max", 1000.5))):
        HubConfig(fibre_km_max=1000.5)
    with pytest.raises(ValueError, match=re.escape(message.format("fibre_km", -1.0))):
        HubConfig(n_qpus=2, fibre_km=(1.0, -1.0))
    with pytest.raises(ValueError, match=re.escape("fibre_km_max must be None when fibre_km lists every spoke")):
        HubConfig(n_qpus=2, fibre_km=(1.0, 2.0), fibre_km_max=3.0)


def test_config__workload_and_fibre_messages_are_exact():
    for overrides, message in (
        ({"workload": "poisson"}, "episode_rounds must be set (1 to 10**9) for workload 'poisson'"),
        ({"workload": "trace"}, "trace_path must name a CSV or JSON-lines file for workload 'trace'"),
        ({"n_qpus": 2, "fibre_km": (1.0, 2.0), "fibre_km_max": 3.0},
         "fibre_km_max must be None when fibre_km lists every spoke"),
    ):
        with pytest.raises(ValueError) as err:
            HubConfig(**overrides)
        assert str(err.value) == message


def test_config__t_coh_accepts_infinity_and_rejects_zero():
    assert math.isinf(HubConfig(t_coh=math.inf).t_coh)
    with pytest.raises(ValueError, match=re.escape("t_coh must be in (0.0, inf], got 0.0")):
        HubConfig(t_coh=0.0)


# ---------------------------------------------------------------- circuit fields

#: A valid circuit workload: GHZ on 4 qubits over 4 QPUs.
GHZ4 = {"n_qpus": 4, "workload": "circuit", "circuit": "ghz:4", "episode_rounds": 100}
FAMILIES = "['qft', 'ghz', 'qaoa', 'draper', 'cuccaro', 'quantum_volume']"


def test_config__placement_accepts_qpus_0_to_n_minus_1_as_python_ints():
    given = (np.int64(3), 0, np.int32(1), 3)
    cfg = HubConfig(**GHZ4, placement=given)
    assert cfg.placement == (3, 0, 1, 3) and all(type(q) is int for q in cfg.placement)
    assert HubConfig(placement=(0, 15)).placement == (0, 15)  # checked whatever the workload


def test_config__placement_list_or_array_becomes_a_tuple_and_keeps_a_bool_to_refuse():
    assert HubConfig(**GHZ4, placement=[0, 1, 1, 0]).placement == (0, 1, 1, 0)
    assert HubConfig(**GHZ4, placement=np.array([[3, 2], [1, 0]])).placement == (3, 2, 1, 0)
    # a list is not cast to one dtype first, which would turn True into 1
    with pytest.raises(ValueError) as err:
        HubConfig(**GHZ4, placement=[0, True, 1, 0])
    assert str(err.value) == "placement must list one QPU in [0, 3] per qubit, got True at index 1"


@pytest.mark.parametrize(("placement", "message"), [
    ((0, 1, 4, 0), "placement must list one QPU in [0, 3] per qubit, got 4 at index 2"),
    ((0, -1, 1, 0), "placement must list one QPU in [0, 3] per qubit, got -1 at index 1"),
    ((True, 1, 2, 3), "placement must list one QPU in [0, 3] per qubit, got True at index 0"),
    ((0, 1, 2, 1.0), "placement must list one QPU in [0, 3] per qubit, got 1.0 at index 3"),
    ((), "placement must list one QPU in [0, 3] per qubit, or be None, got ()"),
    (5, "placement must list one QPU in [0, 3] per qubit, or be None, got 5"),
    ((0, 1, 2), "placement must list one QPU per qubit of 'ghz:4' (4), got 3"),
])
def test_config__bad_placement_message_is_exact(placement, message):
    with pytest.raises(ValueError) as err:
        HubConfig(**GHZ4, placement=placement)
    assert str(err.value) == message


@pytest.mark.parametrize(("circuit", "message"), [
    ("", "circuit must be a generator spec such as 'qft:64', a .qasm file or a DAG file (.json, .npz), got ''"),
    ("  ", "circuit must be a generator spec such as 'qft:64', a .qasm file or a DAG file (.json, .npz), got '  '"),
    (3, "circuit must be a generator spec such as 'qft:64', a .qasm file or a DAG file (.json, .npz), got 3"),
])
def test_config__circuit_that_is_not_a_nonblank_string_is_refused_whatever_the_workload(circuit, message):
    for workload in ({}, {"workload": "circuit", "episode_rounds": 100}):
        with pytest.raises(ValueError) as err:
            HubConfig(circuit=circuit, **workload)
        assert str(err.value) == message


@pytest.mark.parametrize(("fields", "message"), [
    ({"episode_rounds": None}, "episode_rounds must be set (1 to 10**9) for workload 'circuit': a circuit not "
     "done by then is truncated (a failure)"),
    ({"circuit": None}, "circuit must name the circuit for workload 'circuit': a generator spec such as "
     "'qft:64', a .qasm file or a DAG file (.json, .npz)"),
    ({"circuit": "missing.qasm"}, "circuit: no such file 'missing.qasm'"),
    ({"circuit": " missing.npz "}, "circuit: no such file 'missing.npz'"),
    ({"circuit": "qft"}, f"circuit must be a .qasm file or family:n_qubits with family one of {FAMILIES}, got 'qft'"),
    ({"circuit": "foo:8"}, f"circuit: family must be one of {FAMILIES[:-1]}, 'qasm'], got 'foo'"),
    ({"circuit": "qft:x"}, "circuit: n_qubits must be a non-negative integer, got 'x' in 'qft:x'"),
])
def test_config__circuit_workload_message_is_exact(fields, message):
    with pytest.raises(ValueError) as err:
        HubConfig(**{**GHZ4, **fields})
    assert str(err.value) == message


def test_config__circuit_workload_accepts_a_spec_with_spaces_and_other_workloads_ignore_it():
    assert HubConfig(**{**GHZ4, "circuit": " qaoa:4,seed=2 "}).circuit == " qaoa:4,seed=2 "
    # only the circuit workload needs episode_rounds and a circuit that parses
    assert HubConfig(circuit="foo:8").circuit == "foo:8"
    assert HubConfig(workload="poisson", episode_rounds=5, circuit="missing.qasm").episode_rounds == 5


@pytest.fixture
def dag_path(tmp_path):
    """A saved request DAG: one gate between qubit 0 on QPU 0 and qubit 1 on QPU 1."""
    dag = request_dag(Circuit(2, np.array([0]), np.array([1]), source="test"), [0, 1], 2)
    return str(save_dag(dag, tmp_path / "dag.json"))


def test_config__a_dag_or_qasm_file_that_exists_is_accepted_as_given(dag_path, tmp_path):
    cfg = HubConfig(n_qpus=2, workload="circuit", circuit=dag_path, episode_rounds=10, placement_seed=7)
    assert (cfg.circuit, cfg.qpu_capacity, cfg.placement, cfg.local_rounds) == (dag_path, None, None, None)
    qasm = tmp_path / "bell.qasm"
    qasm.write_text("OPENQASM 2.0;\n")  # read when the core builds the circuit, not here
    cfg = HubConfig(n_qpus=2, workload="circuit", circuit=str(qasm), episode_rounds=10, placement=(0, 1, 1),
                    qpu_capacity=2, local_rounds=3)
    assert (cfg.placement, cfg.qpu_capacity, cfg.local_rounds) == ((0, 1, 1), 2, 3)


@pytest.mark.parametrize(("name", "value"), [("qpu_capacity", 2), ("placement", (0, 1)), ("local_rounds", 0)])
def test_config__a_dag_file_refuses_the_fields_it_fixes(dag_path, name, value):
    with pytest.raises(ValueError) as err:
        HubConfig(n_qpus=2, workload="circuit", circuit=f" {dag_path}", episode_rounds=10, **{name: value})
    assert str(err.value) == f"{name} must be None with a DAG file (circuit={dag_path!r}): the file fixes it"
