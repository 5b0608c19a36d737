"""Circuit workloads: the request DAG of small circuits checked by hand, its lower bound
and timing against a gate-by-gate simulation of random circuits, DAG files, QASM files,
generators and placement (``docs/model.md#circuits``).

Tests that build circuits with Qiskit or place them with networkx skip without the
``circuits`` extra (CI installs it through ``all``); the DAG itself needs neither.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from modenhub_env.circuits import (
    Circuit,
    CircuitSource,
    RequestDag,
    build_dag,
    load_dag,
    request_dag,
    save_dag,
)
from modenhub_env.circuits.dag import check_placement

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def qiskit():
    return pytest.importorskip("qiskit")


@pytest.fixture
def networkx():
    return pytest.importorskip("networkx")


def circuit(n_qubits: int, ops: list[tuple[int, ...]]) -> Circuit:
    """A circuit from ``(a,)`` one-qubit and ``(a, b)`` two-qubit operations."""
    return Circuit(n_qubits, [op[0] for op in ops], [op[1] if len(op) == 2 else -1 for op in ops], source="test")


def ghz(n_qubits: int) -> Circuit:
    return circuit(n_qubits, [(0,)] + [(q, q + 1) for q in range(n_qubits - 1)])


def edges(dag: RequestDag) -> list[tuple[int, int, int]]:
    """``(gate, successor, lag)`` of every edge."""
    owner = np.repeat(np.arange(dag.n_gates), np.diff(dag.succ_ptr))
    return list(zip(owner.tolist(), dag.succ.tolist(), dag.succ_lag.tolist(), strict=True))


# ---------------------------------------------------------------- hand-checked DAGs


def test_request_dag__ghz_chain_across_qpus_gives_one_request_per_cut_in_chain_order():
    # H(0), CX(0,1), ..., CX(4,5) with qubits 0-1 on QPU 0, 2-3 on QPU 1, 4-5 on QPU 2:
    # the CNOTs (1,2) and (3,4) cross QPUs, and the second waits for the first.
    dag = request_dag(ghz(6), [0, 0, 1, 1, 2, 2], n_qpus=3)
    assert (dag.qubit_a.tolist(), dag.qubit_b.tolist()) == ([1, 3], [2, 4])
    assert (dag.pair_a.tolist(), dag.pair_b.tolist()) == ([0, 1], [1, 2])
    assert edges(dag) == [(0, 1, 0)]
    assert dag.indegree.tolist() == [0, 1]
    assert dag.critical_path.tolist() == [2, 1]
    assert dag.lower_bound == 2
    assert (dag.local_gates, dag.local_two_qubit_gates, dag.two_qubit_gates) == (4, 3, 5)


def test_request_dag__pairs_are_unordered_with_the_lower_qpu_first():
    dag = request_dag(circuit(2, [(1, 0)]), [1, 0], n_qpus=2)
    assert (dag.qubit_a.tolist(), dag.qubit_b.tolist()) == ([1], [0])
    assert (dag.pair_a.tolist(), dag.pair_b.tolist()) == ([0], [1])


def test_request_dag__local_gates_set_the_lags():
    # H(0) | CX(0,1) non-local | CX(1,2) local | CX(2,3) non-local, two rounds a local
    # gate: H in rounds 0-1, gate 0 pending in round 2, CX(1,2) in rounds 3-4, gate 1
    # pending in round 5, done in round 5: the circuit ends after 6 rounds.
    dag = request_dag(circuit(4, [(0,), (0, 1), (1, 2), (2, 3)]), [0, 1, 1, 2], n_qpus=3, local_rounds=2)
    assert edges(dag) == [(0, 1, 2)]
    assert dag.start_lag.tolist() == [2, 2]  # CX(1,2) can start at once on qubit 2's side
    assert dag.end_lag.tolist() == [2, 0]  # CX(1,2) after gate 0 on qubit 1, up to the end
    assert dag.local_depth == 2  # CX(1,2) alone: qubit 2 is idle before it
    assert dag.critical_path.tolist() == [4, 1]
    assert dag.lower_bound == 6


def test_request_dag__local_tail_extends_the_bound():
    # CX(0,1) non-local, then three one-qubit gates on qubit 1: 1 + 3 rounds.
    dag = request_dag(circuit(2, [(0, 1), (1,), (1,), (1,)]), [0, 1], n_qpus=2, local_rounds=1)
    assert dag.end_lag.tolist() == [3]
    assert dag.lower_bound == 4


def test_request_dag__circuit_on_one_qpu_makes_no_request():
    ops = [(0,), (0, 1), (1, 2), (2,), (2, 3)]
    dag = request_dag(circuit(4, ops), [1, 1, 1, 1], n_qpus=2, qpu_capacity=4)
    assert dag.n_gates == dag.n_edges == 0
    assert dag.succ_ptr.tolist() == [0]
    assert dag.lower_bound == 0
    assert (dag.local_gates, dag.local_two_qubit_gates) == (5, 3)
    # With timed local gates the bound is the circuit's depth: all five gates are on one
    # path, (0,) (0,1) (1,2) (2,) (2,3).
    assert request_dag(circuit(4, ops), [0, 0, 0, 0], n_qpus=1, local_rounds=3).lower_bound == 15


def test_request_dag__empty_circuit_has_bound_zero():
    dag = request_dag(circuit(3, []), [0, 1, 2], n_qpus=3, local_rounds=5)
    assert (dag.n_gates, dag.lower_bound, dag.local_depth) == (0, 0, 0)


@pytest.mark.parametrize("length", [1, 2, 7, 30])
def test_request_dag__bound_of_a_chain_is_its_length(length):
    # A GHZ chain with every qubit on its own QPU: each CNOT is non-local and waits for
    # the one before it.
    dag = request_dag(ghz(length + 1), list(range(length + 1)), n_qpus=length + 1)
    assert dag.n_gates == length
    assert edges(dag) == [(g, g + 1, 0) for g in range(length - 1)]
    assert dag.critical_path.tolist() == list(range(length, 0, -1))
    assert dag.lower_bound == length


def test_request_dag__parallel_gates_share_a_round_in_the_bound():
    # Two CNOTs on disjoint qubits, then one joining them: depth 2, not 3.
    dag = request_dag(circuit(4, [(0, 1), (2, 3), (1, 2)]), [0, 1, 2, 3], n_qpus=4)
    assert edges(dag) == [(0, 2, 0), (1, 2, 0)]
    assert dag.indegree.tolist() == [0, 0, 2]
    assert dag.lower_bound == 2


def test_request_dag__capacity_defaults_to_the_tightest():
    dag = request_dag(ghz(5), [0, 0, 0, 1, 1], n_qpus=2)
    assert dag.qpu_capacity == 3


# ---------------------------------------------------------------- placement checks


@pytest.mark.parametrize(
    ("placement", "message"),
    [
        ([0, 1, 1], "placement must give one QPU for each of the 4 qubits, got 3"),
        ([0, 1, 2, 0], r"placement must lie in \[0, 1\], got 2 at index 2"),
        ([0, 1, -1, 0], r"placement must lie in \[0, 1\], got -1 at index 2"),
        ([0, 0, 0, 1], "placement puts 3 qubits on QPU 0, more than qpu_capacity = 2"),
        ([0.0, 1.0, 0.0, 1.0], "placement must hold integers, got float64 values"),
    ],
)
def test_check_placement__rejects_a_bad_assignment_naming_the_field(placement, message):
    with pytest.raises(ValueError, match=message):
        check_placement(placement, n_qubits=4, n_qpus=2, qpu_capacity=2)
    with pytest.raises(ValueError, match=message):
        request_dag(ghz(4), placement, n_qpus=2)


def test_request_dag__rejects_too_small_a_capacity():
    with pytest.raises(ValueError, match=r"qpu_capacity must be at least ceil\(n_qubits / n_qpus\) = 3, got 2"):
        request_dag(ghz(5), [0, 0, 1, 1, 0], n_qpus=2, qpu_capacity=2)


def test_circuit__rejects_an_operation_on_one_qubit_twice():
    with pytest.raises(ValueError, match="operation 1 acts twice on qubit 2"):
        circuit(3, [(0, 1), (2, 2)])


# ---------------------------------------------------------------- random circuits against a gate-level oracle


def _predecessor_ops(c: Circuit) -> list[list[int]]:
    """For each operation, the previous operation on each of its qubits (the circuit DAG)."""
    last: dict[int, int] = {}
    preds = []
    for op, (a, b) in enumerate(zip(c.qubit_a.tolist(), c.qubit_b.tolist(), strict=True)):
        qubits = [a] if b < 0 else [a, b]
        preds.append(sorted({last[q] for q in qubits if q in last}))
        for q in qubits:
            last[q] = op
    return preds


def _is_nonlocal(c: Circuit, placement: list[int]) -> list[bool]:
    return [b >= 0 and placement[a] != placement[b] for a, b in zip(c.qubit_a.tolist(), c.qubit_b.tolist(), strict=True)]


def oracle_longest_path(c: Circuit, placement: list[int], local_rounds: int) -> int:
    """The makespan of the circuit, gate by gate, if every ebit were there at once."""
    finish: list[int] = []
    for op, (preds, remote) in enumerate(zip(_predecessor_ops(c), _is_nonlocal(c, placement), strict=True)):
        assert op == len(finish)
        finish.append(max((finish[p] for p in preds), default=0) + (1 if remote else local_rounds))
    return max(finish, default=0)


def oracle_gate_makespan(c: Circuit, placement: list[int], local_rounds: int, per_round: int) -> int:
    """The circuit run gate by gate: local gates as soon as their qubits are free, and each
    round the ``per_round`` pending non-local gates that come first in the circuit served."""
    preds, remote = _predecessor_ops(c), _is_nonlocal(c, placement)
    finish: list[int | None] = [None] * c.n_ops
    round_ = 0
    while any(f is None for f in finish):
        ready = {}
        for op in range(c.n_ops):
            if finish[op] is not None or any(finish[p] is None for p in preds[op]):
                continue
            start = max((finish[p] for p in preds[op]), default=0)
            if remote[op]:
                ready[op] = start
            else:
                finish[op] = start + local_rounds
        for op in sorted(op for op, r in ready.items() if r <= round_)[:per_round]:
            finish[op] = round_ + 1
        round_ += 1
    return max(finish, default=0)


def dag_makespan(dag: RequestDag, per_round: int) -> int:
    """The DAG's timing (``docs/model.md#circuits``) with the ``per_round`` pending gates
    of lowest index served each round."""
    ready = dag.start_lag.tolist()
    waiting = dag.indegree.tolist()
    done: list[int | None] = [None] * dag.n_gates
    round_ = 0
    while any(d is None for d in done):
        pending = [g for g in range(dag.n_gates) if done[g] is None and waiting[g] == 0 and ready[g] <= round_]
        for gate in pending[:per_round]:
            done[gate] = round_
            for edge in range(dag.succ_ptr[gate], dag.succ_ptr[gate + 1]):
                nxt = int(dag.succ[edge])
                ready[nxt] = max(ready[nxt], round_ + 1 + int(dag.succ_lag[edge]))
                waiting[nxt] -= 1
        round_ += 1
    ends = [d + 1 + int(tail) for d, tail in zip(done, dag.end_lag.tolist(), strict=True)]
    return max([dag.local_depth, *ends])


def oracle_edges(c: Circuit, placement: list[int], local_rounds: int) -> list[tuple[int, int, int]]:
    """Every ``(g, h, lag)`` with a path from non-local gate ``g`` to ``h`` through local
    operations only, the lag of the longest, by a search from each gate."""
    preds, remote = _predecessor_ops(c), _is_nonlocal(c, placement)
    succs: list[list[int]] = [[] for _ in range(c.n_ops)]
    for op, ps in enumerate(preds):
        for p in ps:
            succs[p].append(op)
    gate_of = {op: i for i, op in enumerate(op for op in range(c.n_ops) if remote[op])}
    found = []
    for start, gate in gate_of.items():
        longest = {start: 0}  # local gates on the longest local-only path from start
        for op in range(start + 1, c.n_ops):
            counts = [longest[p] for p in preds[op] if p in longest]
            if not counts:
                continue
            if remote[op]:
                found.append((gate, gate_of[op], local_rounds * max(counts)))
            else:
                longest[op] = max(counts) + 1
    return sorted(found)


@st.composite
def placed_circuits(draw):
    n_qubits = draw(st.integers(1, 6))
    n_qpus = draw(st.integers(1, 4))
    qubit = st.integers(0, n_qubits - 1)
    ops = []
    for _ in range(draw(st.integers(0, 30))):
        a = draw(qubit)
        others = [q for q in range(n_qubits) if q != a]
        two = others and draw(st.booleans())
        ops.append((a, draw(st.sampled_from(others))) if two else (a,))
    placement = draw(st.lists(st.integers(0, n_qpus - 1), min_size=n_qubits, max_size=n_qubits))
    return circuit(n_qubits, ops), placement, n_qpus, draw(st.integers(0, 3))


@settings(max_examples=300, deadline=None)
@given(placed_circuits())
def test_request_dag__property_matches_the_circuit_gate_by_gate(case):
    c, placement, n_qpus, local_rounds = case
    dag = request_dag(c, placement, n_qpus, qpu_capacity=c.n_qubits, local_rounds=local_rounds)
    assert edges(dag) == oracle_edges(c, placement, local_rounds)
    assert dag.lower_bound == oracle_longest_path(c, placement, local_rounds)
    # Every ebit at once: the DAG's timing reaches the bound.
    assert dag_makespan(dag, per_round=c.n_ops + 1) == dag.lower_bound
    for per_round in (1, 2):
        # The same schedule on the DAG and gate by gate ends in the same round, no earlier
        # than the bound; one gate a round is a valid serial schedule.
        makespan = dag_makespan(dag, per_round)
        assert makespan == oracle_gate_makespan(c, placement, local_rounds, per_round)
        assert makespan >= dag.lower_bound


@settings(max_examples=100, deadline=None)
@given(case=placed_circuits())
def test_request_dag__property_round_trips_through_both_files(case, tmp_path_factory):
    c, placement, n_qpus, local_rounds = case
    dag = request_dag(c, placement, n_qpus, qpu_capacity=c.n_qubits, local_rounds=local_rounds)
    folder = tmp_path_factory.mktemp("dag")
    for name in ("dag.json", "dag.npz"):
        assert_same_dag(load_dag(save_dag(dag, folder / name)), dag)


# ---------------------------------------------------------------- DAG files


def assert_same_dag(got: RequestDag, want: RequestDag) -> None:
    for name in ("source", "n_qubits", "n_qpus", "qpu_capacity", "local_rounds", "local_depth", "local_gates",
                 "local_two_qubit_gates", "lower_bound"):
        assert getattr(got, name) == getattr(want, name), name
    for name in ("placement", "qubit_a", "qubit_b", "pair_a", "pair_b", "succ_ptr", "succ", "succ_lag",
                 "start_lag", "end_lag", "indegree", "critical_path"):
        assert getattr(got, name).dtype == np.int64, name
        np.testing.assert_array_equal(getattr(got, name), getattr(want, name), err_msg=name)


@pytest.fixture
def small_dag() -> RequestDag:
    c = circuit(4, [(0,), (0, 1), (1, 2), (2, 3), (0, 3), (3,)])
    return request_dag(c, [0, 1, 1, 2], n_qpus=3, local_rounds=1)


@pytest.mark.parametrize("name", ["dag.json", "dag.npz"])
def test_save_dag__round_trip_is_exact(small_dag, tmp_path, name):
    path = save_dag(small_dag, tmp_path / name)
    assert path == tmp_path / name
    back = load_dag(path)
    assert_same_dag(back, small_dag)
    # H | CX(0,1) | CX(1,2) local | CX(2,3) | CX(0,3) | U(3): one round each, on one path.
    assert back.n_gates == 3 and back.lower_bound == small_dag.lower_bound == 6


def test_save_dag__json_holds_one_field_a_line(small_dag, tmp_path):
    text = save_dag(small_dag, tmp_path / "dag.json").read_text()
    lines = text.splitlines()
    assert lines[1] == '  "format": "modenhub-request-dag",'
    assert '  "succ_ptr": [0, 2, 3, 3],' in lines
    assert json.loads(text)["version"] == 1


def test_load_dag__arrays_are_read_only(small_dag, tmp_path):
    dag = load_dag(save_dag(small_dag, tmp_path / "dag.npz"))
    with pytest.raises(ValueError, match="read-only"):
        dag.succ[0] = 5


def _json_fields(dag: RequestDag, tmp_path: Path) -> dict:
    return json.loads(save_dag(dag, tmp_path / "good.json").read_text())


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d.pop("succ"), "field succ is missing"),
        (lambda d: d.update(colour=1), "field colour is not a DAG field"),
        (lambda d: d.update(format="trace"), "field format must be 'modenhub-request-dag', got 'trace'"),
        (lambda d: d.update(version=2), "field version must be 1, got 2"),
        (lambda d: d.update(n_qpus=2.0), r"field n_qpus must be an integer in \[1, 4096\], got 2.0"),
        (lambda d: d.update(n_qpus=True), r"field n_qpus must be an integer in \[1, 4096\], got True"),
        (lambda d: d.update(succ="0 1"), "field succ must be a list of integers, got str"),
        (lambda d: d.update(succ=[1.5, 2]), "field succ must hold integers, got float64 values"),
        (lambda d: d.update(succ=[[1], [1, 2]]), "field succ must be a 1-dimensional array of integers"),
        (lambda d: d.update(succ=[1, 2, 0]), "field succ: gate 1 has successor 0; successors must come later"),
        (lambda d: d.update(succ=[1, 2, 9]), r"field succ must lie in \[0, 2\], got 9 at index 2"),
        (lambda d: d.update(succ_ptr=[0, 1, 2]), "field succ_ptr must have n_gates \\+ 1 = 4 entries, got 3"),
        (lambda d: d.update(succ_ptr=[0, 3, 2, 3]), "field succ_ptr must not decrease, got 2 after 3 at index 2"),
        (lambda d: d.update(succ_ptr=[0, 1, 2, 2]), "field succ_ptr must run from 0 to the number of edges 3"),
        (lambda d: d.update(succ_lag=[0, -1, 0]), r"field succ_lag must lie in \[0, 1000000000\], got -1"),
        (lambda d: d.update(start_lag=[0]), r"field start_lag must have one entry per gate \(3, as qubit_a\)"),
        (lambda d: d.update(qubit_a=[2, 2, 0]), "field qubit_a, qubit_b: gate 0 acts on qubits 2 and 1, both placed on QPU 1"),
        (lambda d: d.update(placement=[0, 1, 1, 3]), r"field placement must lie in \[0, 2\], got 3 at index 3"),
        (lambda d: d.update(source=3), "field source must be a string, got int"),
    ],
)
def test_load_dag__bad_field_is_named_with_the_file(small_dag, tmp_path, change, message):
    fields = _json_fields(small_dag, tmp_path)
    change(fields)
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(fields))
    with pytest.raises(ValueError, match=f"^{path}: {message}"):
        load_dag(path)


def test_load_dag__malformed_json_names_the_line(small_dag, tmp_path):
    lines = save_dag(small_dag, tmp_path / "dag.json").read_text().splitlines()
    line = next(i for i, text in enumerate(lines) if text.startswith('  "placement"'))
    lines[line] = lines[line].replace(",", "", 1)  # [0 1, 1, 2]
    path = tmp_path / "broken.json"
    path.write_text("\n".join(lines))
    with pytest.raises(ValueError, match=rf"^{path}:{line + 1}: not valid JSON \("):
        load_dag(path)


def test_load_dag__npz_needing_pickle_is_refused(small_dag, tmp_path):
    path = tmp_path / "object.npz"
    fields = {name: np.asarray(value) for name, value in _json_fields(small_dag, tmp_path).items()}
    fields["succ"] = np.asarray([1, None], dtype=object)
    np.savez(path, **fields)
    with pytest.raises(ValueError, match=rf"^{path}: not a plain npz archive"):
        load_dag(path)


def test_load_dag__npz_with_a_bad_field_names_it(small_dag, tmp_path):
    path = tmp_path / "bad.npz"
    fields = {name: np.asarray(value) for name, value in _json_fields(small_dag, tmp_path).items()}
    fields["n_qpus"] = np.asarray([3])
    np.savez(path, **fields)
    with pytest.raises(ValueError, match=rf"^{path}: field n_qpus must be an integer scalar"):
        load_dag(path)


@pytest.mark.parametrize(("name", "content", "message"), [
    ("dag.npz", b"not a zip", "not an npz archive"),
    ("dag.json", b"\xff\xfe", "not UTF-8 text"),
    ("dag.json", b"[1, 2]", "a DAG file must hold a JSON object, got list"),
    ("dag.txt", b"{}", r"a DAG file must end in one of \('.json', '.npz'\), got '.txt'"),
])
def test_load_dag__unreadable_file_is_named(tmp_path, name, content, message):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(ValueError, match=rf"^{path}: {message}"):
        load_dag(path)


def test_load_dag__missing_file_is_named(tmp_path):
    with pytest.raises(ValueError, match=rf"^{tmp_path / 'none.json'}: cannot read the DAG file"):
        load_dag(tmp_path / "none.json")


def test_load_dag__needs_neither_qiskit_nor_networkx(small_dag, tmp_path):
    path = save_dag(small_dag, tmp_path / "dag.npz")
    code = (
        "import sys\n"
        "sys.modules['qiskit'] = sys.modules['networkx'] = None  # an import of either fails\n"
        "from modenhub_env.circuits import build_dag, load_dag\n"
        f"dag = load_dag({str(path)!r})\n"
        "print(dag.n_gates, dag.lower_bound)\n"
        "try:\n"
        "    build_dag('ghz:4', 2)\n"
        "except ImportError as err:\n"
        "    print(err)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                            env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["3 6", "circuit sources need Qiskit: pip install 'modenhub[circuits]'"]


# ---------------------------------------------------------------- sources (Qiskit)


def test_load_circuit__ghz_is_a_hadamard_and_a_cnot_chain(qiskit):
    from modenhub_env.circuits.sources import load_circuit

    c = load_circuit(CircuitSource("ghz", 4))
    assert c.qubit_a.tolist() == [0, 0, 1, 2]
    assert c.qubit_b.tolist() == [-1, 1, 2, 3]
    assert c.source == "ghz:4"


def test_build_dag__qft3_on_three_qpus(qiskit):
    # Qiskit's QFT on 3 qubits: H(2), CP(1,2), CP(0,2), H(1), CP(0,1), H(0), SWAP(0,2);
    # in CNOTs each CP is CX(c,t) twice and the SWAP three CNOTs, all non-local here,
    # one chain through the two CPs of each qubit pair and the SWAP.
    dag = build_dag("qft:3", 3, placement=(0, 1, 2))
    assert dag.qubit_a.tolist() == [2, 2, 2, 2, 1, 1, 0, 2, 0]
    assert dag.qubit_b.tolist() == [1, 1, 0, 0, 0, 0, 2, 0, 2]
    assert dag.pair_a.tolist() == [1, 1, 0, 0, 0, 0, 0, 0, 0]
    assert dag.pair_b.tolist() == [2, 2, 2, 2, 1, 1, 2, 2, 2]
    # CX(2,1)b -> CX(1,0)a through qubit 1; CX(2,0)b -> SWAP through qubit 2.
    assert edges(dag) == [(0, 1, 0), (1, 2, 0), (1, 4, 0), (2, 3, 0), (3, 4, 0), (3, 6, 0), (4, 5, 0),
                          (5, 6, 0), (6, 7, 0), (7, 8, 0)]
    assert dag.indegree.tolist() == [0, 1, 1, 1, 2, 1, 2, 1, 1]
    assert dag.predecessors(4).tolist() == [1, 3]
    assert dag.lower_bound == 9
    assert (dag.local_gates, dag.local_two_qubit_gates) == (8, 0)  # the merged one-qubit runs


def test_build_dag__qft3_split_one_and_two(qiskit):
    # Qubit 0 alone, qubits 1 and 2 together: the CP(1,2) CNOTs are local; the
    # one-qubit gates between the non-local CNOTs on qubit 0 give lags of one round.
    dag = build_dag("qft:3", 2, placement=(0, 1, 1), local_rounds=1)
    assert dag.qubit_a.tolist() == [2, 2, 1, 1, 0, 2, 0]
    assert dag.qubit_b.tolist() == [0, 0, 0, 0, 2, 0, 2]
    assert (dag.pair_a.tolist(), dag.pair_b.tolist()) == ([0] * 7, [1] * 7)
    assert edges(dag) == [(0, 1, 1), (1, 2, 1), (1, 4, 0), (2, 3, 1), (3, 4, 1), (4, 5, 0), (5, 6, 0)]
    # Before gate 0: U(2), CX(2,1), U(1), CX(2,1), U(2): five local gates on one path.
    assert dag.start_lag.tolist() == [5, 0, 5, 0, 0, 0, 0]
    assert (dag.local_gates, dag.local_two_qubit_gates) == (10, 2)
    assert dag.critical_path.tolist() == [11, 9, 7, 5, 3, 2, 1]
    assert dag.lower_bound == 16
    assert build_dag("qft:3", 2, placement=(0, 1, 1)).lower_bound == 7


@pytest.mark.parametrize(("spec", "qubits"), [
    ("qft:8", 8), ("ghz:8", 8), ("qaoa:8,seed=1,layers=2,degree=3", 8), ("draper:8", 8), ("cuccaro:8", 8),
    ("cuccaro:9", 9), ("quantum_volume:8,seed=2", 8),
])
def test_build_dag__every_family_builds_and_cuts_gates(qiskit, networkx, spec, qubits):
    whole = build_dag(spec, 1)
    split = build_dag(spec, 2)
    assert whole.n_qubits == split.n_qubits == qubits
    assert whole.n_gates == 0 and whole.local_two_qubit_gates > 0
    assert 0 < split.n_gates < whole.local_two_qubit_gates
    assert split.two_qubit_gates == whole.local_two_qubit_gates
    assert split.source == CircuitSource.parse(spec).describe()


def test_build_dag__is_cached_per_arguments(qiskit, networkx):
    assert build_dag("ghz:12", 3) is build_dag(CircuitSource("ghz", 12), 3)
    assert build_dag("ghz:12", 3) is not build_dag("ghz:12", 4)
    assert build_dag("ghz:12", 3, local_rounds=1) is not build_dag("ghz:12", 3)


def test_build_dag__seeded_generators_are_deterministic(qiskit, networkx):
    from modenhub_env.circuits.sources import decompose, generate, to_circuit

    for family in ("qaoa", "quantum_volume"):
        a, b, c = (to_circuit(decompose(generate(CircuitSource(family, 10, seed=s))), family) for s in (4, 4, 5))
        assert np.array_equal(a.qubit_a, b.qubit_a) and np.array_equal(a.qubit_b, b.qubit_b), family
        assert not (np.array_equal(a.qubit_a, c.qubit_a) and np.array_equal(a.qubit_b, c.qubit_b)), family


def test_circuit_source__spec_round_trips():
    for spec in ("qft:64", "qaoa:64,seed=3,layers=2,degree=4", "quantum_volume:32,seed=7", "a/b.qasm"):
        assert CircuitSource.parse(spec).describe() == spec
    assert CircuitSource.parse("qaoa:64") == CircuitSource("qaoa", 64, seed=0, layers=1, degree=3)


@pytest.mark.parametrize(("make", "message"), [
    (lambda: CircuitSource("bell", 4), "family must be one of"),
    (lambda: CircuitSource("qft", 1), r"n_qubits must be in \[2, 4096\], got 1"),
    (lambda: CircuitSource("draper", 7), "n_qubits must be even for 'draper'"),
    (lambda: CircuitSource("qaoa", 5, degree=3), "degree must make n_qubits \\* degree even"),
    (lambda: CircuitSource("qaoa", 5, degree=5), r"degree must be in \[1, 4\], got 5"),
    (lambda: CircuitSource("qasm"), "path must name an OpenQASM file"),
    (lambda: CircuitSource.parse("qft"), "circuit must be a .qasm file or family:n_qubits"),
    (lambda: CircuitSource.parse("qft:8,colour=2"), "circuit option must be one of"),
    (lambda: CircuitSource.parse("qft:eight"), "n_qubits must be a non-negative integer, got 'eight'"),
])
def test_circuit_source__rejects_bad_arguments(make, message):
    with pytest.raises(ValueError, match=message):
        make()


# ---------------------------------------------------------------- QASM files (Qiskit)

QASM2_GHZ = """// GHZ on three qubits
OPENQASM 2.0;
include "qelib1.inc";
qreg q[3];
creg c[3];
h q[0];
cx q[0],q[1];
cx q[1],q[2];
barrier q;
measure q -> c;
"""

QASM3_GHZ = """OPENQASM 3.0;
include "stdgates.inc";
qubit[3] q;
bit[3] c;
h q[0];
cx q[0], q[1];
cx q[1], q[2];
c = measure q;
"""


@pytest.mark.parametrize("text", [QASM2_GHZ, QASM3_GHZ], ids=["qasm2", "qasm3"])
def test_build_dag__reads_qasm_files(qiskit, tmp_path, text):
    if "OPENQASM 3" in text:
        pytest.importorskip("qiskit_qasm3_import")
    path = tmp_path / "ghz.qasm"
    path.write_text(text)
    dag = build_dag(str(path), 3, placement=(0, 1, 2))
    assert (dag.qubit_a.tolist(), dag.qubit_b.tolist()) == ([0, 1], [1, 2])
    assert edges(dag) == [(0, 1, 0)]
    assert (dag.local_gates, dag.source) == (4, str(path))  # the H and three measurements


def test_build_dag__reads_a_changed_qasm_file_again(qiskit, tmp_path):
    path = tmp_path / "ghz.qasm"
    path.write_text(QASM2_GHZ)
    assert build_dag(str(path), 3, placement=(0, 1, 2)).n_gates == 2
    path.write_text(QASM2_GHZ.replace("cx q[1],q[2];", "cx q[1],q[2];\ncx q[0],q[2];"))
    os.utime(path, ns=(1, 1))  # another modification time, whatever the clock's resolution
    assert build_dag(str(path), 3, placement=(0, 1, 2)).n_gates == 3


@pytest.mark.parametrize(("text", "line", "message"), [
    ("OPENQASM 2.0;\ninclude \"qelib1.inc\";\nqreg q[2];\nh q[0];\ncx q[0],q[3];\n", 5,
     "index 3 is out-of-range for register 'q' of size 2"),
    ("OPENQASM 2.0;\nqreg q[2];\n\ncx q[0],q[1];\n", 4,
     "cannot use non-builtin custom instruction 'cx' before definition"),
    ("OPENQASM 3.0;\ninclude \"stdgates.inc\";\nqubit[2] q;\ncx q[0] q[1];\n", 4, "syntax error at 'q'"),
    ("OPENQASM 3.0;\ninclude \"stdgates.inc\";\nqubit[2] q;\n\nfoo q[0], q[1];\n", 5, "gate 'foo' is not defined"),
    ("OPENQASM 3.0;\ninclude \"stdgates.inc\";\nqubit[2] q;\nh q[0];\ncx q[0], q[4];\n", 5, "index out of range"),
])
def test_load_circuit__malformed_qasm_names_the_file_and_line(qiskit, tmp_path, text, line, message):
    from modenhub_env.circuits.sources import load_circuit

    if "OPENQASM 3" in text:
        pytest.importorskip("qiskit_qasm3_import")
    path = tmp_path / "bad.qasm"
    path.write_text(text)
    with pytest.raises(ValueError, match=rf"^{path}:{line}: {message}"):
        load_circuit(CircuitSource("qasm", path=str(path)))


@pytest.mark.parametrize(("text", "message"), [
    ("OPENQASM 4.0;\nqubit q;\n", "OpenQASM version must be 2 or 3, got 4"),
    ("OPENQASM 3;\ninclude \"stdgates.inc\";\nqubit[2] q;\nbit c;\nc = measure q[0];\nif (c) { x q[1]; }\n",
     r"control flow \(if_else\) is not supported"),
])
def test_load_circuit__unsupported_qasm_names_the_file(qiskit, tmp_path, text, message):
    from modenhub_env.circuits.sources import load_circuit

    pytest.importorskip("qiskit_qasm3_import")
    path = tmp_path / "unsupported.qasm"
    path.write_text(text)
    with pytest.raises(ValueError, match=rf"^{path}: {message}"):
        load_circuit(CircuitSource("qasm", path=str(path)))


def test_load_circuit__missing_qasm_file_is_named(tmp_path):
    from modenhub_env.circuits.sources import load_circuit

    with pytest.raises(ValueError, match=rf"^{tmp_path / 'none.qasm'}: cannot read the QASM file"):
        load_circuit(CircuitSource("qasm", path=str(tmp_path / "none.qasm")))


# ---------------------------------------------------------------- placement (networkx)


def test_partition__cuts_a_ghz_chain_between_neighbours(networkx):
    from modenhub_env.circuits.placement import partition

    placement = partition(ghz(16), n_qpus=4)
    assert placement.tolist() == [0] * 4 + [1] * 4 + [2] * 4 + [3] * 4
    assert request_dag(ghz(16), placement, 4).n_gates == 3


def test_partition__finds_the_two_cliques(networkx):
    from modenhub_env.circuits.placement import partition

    # Qubits {0, 2, 4} and {1, 3, 5} interact among themselves, once across (4, 5).
    ops = [(0, 2), (2, 4), (0, 4), (1, 3), (3, 5), (1, 5), (0, 2), (1, 3), (4, 5)]
    placement = partition(circuit(6, ops), n_qpus=2, seed=3)
    assert placement.tolist() == [0, 1, 0, 1, 0, 1]


@pytest.mark.parametrize(("n_qpus", "capacity"), [(3, 4), (5, 3), (4, 11), (7, 2)])
def test_partition__respects_capacity_and_is_deterministic(networkx, n_qpus, capacity):
    from modenhub_env.circuits.placement import partition

    rng = np.random.default_rng(0)
    qubit_a = rng.integers(0, 11, size=200)
    qubit_b = (qubit_a + rng.integers(1, 11, size=200)) % 11
    c = Circuit(11, qubit_a, qubit_b)
    placement = partition(c, n_qpus, capacity, seed=1)
    assert np.bincount(placement, minlength=n_qpus).max() <= capacity
    assert set(placement.tolist()) <= set(range(n_qpus))
    np.testing.assert_array_equal(placement, partition(c, n_qpus, capacity, seed=1))


def test_partition__never_cuts_more_than_the_contiguous_split(networkx):
    from modenhub_env.circuits.placement import partition

    rng = np.random.default_rng(1)
    for _ in range(5):
        qubit_a = rng.integers(0, 12, size=60)
        qubit_b = (qubit_a + rng.integers(1, 12, size=60)) % 12
        c = Circuit(12, qubit_a, qubit_b)
        contiguous = request_dag(c, [0] * 6 + [1] * 6, 2).n_gates
        assert request_dag(c, partition(c, 2, seed=0), 2).n_gates <= contiguous


def test_partition__rejects_too_little_room(networkx):
    from modenhub_env.circuits.placement import partition

    with pytest.raises(ValueError, match=r"qpu_capacity must be at least ceil\(n_qubits / n_qpus\) = 4"):
        partition(ghz(10), n_qpus=3, qpu_capacity=3)
