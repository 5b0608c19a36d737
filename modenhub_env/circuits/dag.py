"""The request DAG of a partitioned circuit (``docs/model.md#circuits``).

A :class:`Circuit` is what the DAG needs of a circuit already decomposed to one- and
two-qubit operations: the qubits of each operation, in circuit order. Given a placement
of its qubits on QPUs, every two-qubit gate across two QPUs is a *non-local gate*, one
ebit of that QPU pair, and :func:`request_dag` projects the circuit's dependency graph
onto those gates: an edge ``g -> h`` for every path from ``g`` to ``h`` in the circuit
whose gates in between are all local, with the lag of the longest such path. Plain numpy
and Python: nothing here needs Qiskit or networkx.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

#: Bounds of a circuit and of its request DAG, checked before anything is built.
MAX_QUBITS = 100_000
MAX_QPUS = 4096  # as ``HubConfig.n_qpus``
MAX_OPERATIONS = 10**7  # one- and two-qubit operations of a circuit
MAX_LOCAL_ROUNDS = 1000  # [rounds] per local gate
MAX_LAG = 10**9  # [rounds] any lag of a DAG read from a file


def int_array(name: str, value: object, ndim: int = 1) -> np.ndarray:
    """``value`` as a read-only int64 array of ``ndim`` dimensions.

    :raises ValueError: not integers (booleans and floats included) or the wrong
        number of dimensions, naming ``name``.
    """
    try:
        array = np.asarray(value)
    except ValueError:  # a ragged nested list
        raise ValueError(f"{name} must be a {ndim}-dimensional array of integers, got a ragged nesting") from None
    if array.ndim != ndim:
        raise ValueError(f"{name} must be a {ndim}-dimensional array of integers, got {array.ndim} dimensions")
    if array.dtype.kind not in "iu" and not (array.size == 0 and array.dtype.kind == "f"):
        raise ValueError(f"{name} must hold integers, got {array.dtype} values")
    if array.dtype.kind == "u" and array.size and int(array.max()) > np.iinfo(np.int64).max:
        raise ValueError(f"{name} must hold integers below 2**63, got {int(array.max())}")
    array = array.astype(np.int64, copy=True)
    array.flags.writeable = False
    return array


def check_int(name: str, value: object, low: int, high: int) -> int:
    """``value`` as an ``int`` in ``[low, high]``.

    :raises ValueError: not an integer (a bool is not one) or out of range, naming ``name``.
    """
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise ValueError(f"{name} must be an integer in [{low}, {high}], got {value!r}")
    if not low <= value <= high:
        raise ValueError(f"{name} must be in [{low}, {high}], got {value}")
    return int(value)


def _check_range(name: str, array: np.ndarray, low: int, high: int) -> None:
    """Every entry of ``array`` in ``[low, high]``, else an error naming the first one outside."""
    bad = np.flatnonzero((array < low) | (array > high))
    if bad.size:
        raise ValueError(f"{name} must lie in [{low}, {high}], got {int(array[bad[0]])} at index {int(bad[0])}")


@dataclass(frozen=True, eq=False)
class Circuit:
    """A circuit reduced to the qubits of each operation, in circuit order.

    :param n_qubits: qubits of the circuit.
    :param qubit_a: ``(n_ops,)`` the (first) qubit of each operation.
    :param qubit_b: ``(n_ops,)`` the second qubit of a two-qubit operation, -1 for a
        one-qubit operation.
    :param source: a description of where the circuit comes from.
    """

    n_qubits: int
    qubit_a: np.ndarray  # (n_ops,) qubit index
    qubit_b: np.ndarray  # (n_ops,) qubit index, -1: one-qubit operation
    source: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "n_qubits", check_int("n_qubits", self.n_qubits, 1, MAX_QUBITS))
        qubit_a = int_array("qubit_a", self.qubit_a)
        qubit_b = int_array("qubit_b", self.qubit_b)
        if qubit_a.size != qubit_b.size:
            raise ValueError(f"qubit_a and qubit_b must have one entry per operation, got {qubit_a.size} and {qubit_b.size}")
        if qubit_a.size > MAX_OPERATIONS:
            raise ValueError(f"a circuit holds at most {MAX_OPERATIONS} operations, got {qubit_a.size}")
        _check_range("qubit_a", qubit_a, 0, self.n_qubits - 1)
        _check_range("qubit_b", qubit_b, -1, self.n_qubits - 1)
        same = np.flatnonzero(qubit_a == qubit_b)
        if same.size:
            raise ValueError(f"operation {int(same[0])} acts twice on qubit {int(qubit_a[same[0]])}")
        object.__setattr__(self, "qubit_a", qubit_a)
        object.__setattr__(self, "qubit_b", qubit_b)

    @property
    def n_ops(self) -> int:
        return int(self.qubit_a.size)

    @property
    def two_qubit(self) -> np.ndarray:
        """``(n_ops,)`` bool: the operation acts on two qubits."""
        return self.qubit_b >= 0


def check_placement(placement: object, n_qubits: int, n_qpus: int, qpu_capacity: int) -> np.ndarray:
    """A placement of ``n_qubits`` qubits on ``n_qpus`` QPUs of ``qpu_capacity`` qubits,
    checked: one QPU in ``[0, n_qpus - 1]`` per qubit, none holding more than its capacity.

    :raises ValueError: naming the field ``placement`` and the problem.
    """
    array = int_array("placement", placement)
    if array.size != n_qubits:
        raise ValueError(f"placement must give one QPU for each of the {n_qubits} qubits, got {array.size}")
    _check_range("placement", array, 0, n_qpus - 1)
    load = np.bincount(array, minlength=n_qpus)
    if load.max(initial=0) > qpu_capacity:
        qpu = int(np.argmax(load))
        raise ValueError(f"placement puts {int(load[qpu])} qubits on QPU {qpu}, more than qpu_capacity = {qpu_capacity}")
    return array


def default_capacity(n_qubits: int, n_qpus: int) -> int:
    """The smallest capacity that holds the circuit: ``ceil(n_qubits / n_qpus)`` qubits."""
    return math.ceil(n_qubits / n_qpus)


def check_capacity(n_qubits: int, n_qpus: object, qpu_capacity: object) -> tuple[int, int]:
    """``n_qpus`` and ``qpu_capacity`` (``None``: :func:`default_capacity`) checked to be
    integers in range whose QPUs hold ``n_qubits`` qubits; a ``ValueError`` naming the field."""
    n_qpus = check_int("n_qpus", n_qpus, 1, MAX_QPUS)
    if qpu_capacity is None:
        qpu_capacity = default_capacity(n_qubits, n_qpus)
    qpu_capacity = check_int("qpu_capacity", qpu_capacity, 1, MAX_QUBITS)
    if n_qpus * qpu_capacity < n_qubits:
        raise ValueError(f"qpu_capacity must be at least ceil(n_qubits / n_qpus) = "
                         f"{default_capacity(n_qubits, n_qpus)}, got {qpu_capacity} "
                         f"(to place {n_qubits} qubits on {n_qpus} QPUs)")
    return n_qpus, qpu_capacity


@dataclass(frozen=True, eq=False)
class RequestDag:
    """The non-local gates of a placed circuit and their dependencies, as plain arrays.

    Gates are indexed ``0..G-1`` in circuit order, which is a topological order: every
    edge goes from a lower index to a higher one. ``E`` is the number of edges. Lags and
    paths are in rounds (``docs/model.md#circuits``). The fields below are stored in a
    DAG file; ``pair_a``, ``pair_b``, ``indegree`` and ``critical_path`` are derived on
    construction. Every array is read-only; two DAGs are equal only if they are the same
    object (compare arrays to compare contents).

    :param source: where the circuit comes from (a generator and its arguments, or a file).
    :param n_qubits: qubits of the circuit.
    :param n_qpus: QPUs ``N`` the qubits are placed on.
    :param qpu_capacity: qubits a QPU holds at most, ``q``.
    :param local_rounds: rounds one local gate takes: how the lags were computed (the
        timing reads the lags, not this).
    :param placement: ``(n_qubits,)`` the QPU of each qubit.
    :param qubit_a: ``(G,)`` first qubit of each non-local gate.
    :param qubit_b: ``(G,)`` second qubit of each non-local gate.
    :param succ_ptr: ``(G + 1,)`` successors of gate ``g`` are ``succ[succ_ptr[g]:succ_ptr[g + 1]]``.
    :param succ: ``(E,)`` successor gates, increasing within each gate.
    :param succ_lag: ``(E,)`` [rounds] lag of each edge: the local gates on the longest
        path between the two gates, times ``local_rounds``.
    :param start_lag: ``(G,)`` [rounds] the longest path of local gates from the
        circuit's start to the gate (0 if none).
    :param end_lag: ``(G,)`` [rounds] the longest path of local gates from the gate to
        the circuit's end (0 if none).
    :param local_depth: [rounds] the longest path from the circuit's start to its end
        through local gates only.
    :param local_gates: local operations (one-qubit, and two-qubit within one QPU).
    :param local_two_qubit_gates: two-qubit gates within one QPU.
    """

    source: str
    n_qubits: int
    n_qpus: int
    qpu_capacity: int  # [qubits]
    local_rounds: int  # [rounds] per local gate
    placement: np.ndarray  # (n_qubits,) QPU of each qubit
    qubit_a: np.ndarray  # (G,) qubit
    qubit_b: np.ndarray  # (G,) qubit
    succ_ptr: np.ndarray  # (G + 1,) offsets into succ
    succ: np.ndarray  # (E,) gate index
    succ_lag: np.ndarray  # (E,) [rounds]
    start_lag: np.ndarray  # (G,) [rounds]
    end_lag: np.ndarray  # (G,) [rounds]
    local_depth: int  # [rounds]
    local_gates: int
    local_two_qubit_gates: int
    pair_a: np.ndarray = field(init=False, repr=False)  # (G,) QPU, pair_a < pair_b
    pair_b: np.ndarray = field(init=False, repr=False)  # (G,) QPU
    indegree: np.ndarray = field(init=False, repr=False)  # (G,) predecessors of each gate
    critical_path: np.ndarray = field(init=False, repr=False)  # (G,) [rounds] remaining, gate included

    def __post_init__(self) -> None:
        if not isinstance(self.source, str):
            raise ValueError(f"source must be a string, got {type(self.source).__name__}")
        set_ = object.__setattr__
        n_qubits = check_int("n_qubits", self.n_qubits, 1, MAX_QUBITS)
        if self.qpu_capacity is None:  # a DAG records the capacity it was placed with
            raise ValueError(f"qpu_capacity must be an integer in [1, {MAX_QUBITS}], got None")
        n_qpus, capacity = check_capacity(n_qubits, self.n_qpus, self.qpu_capacity)
        for name, value in (("n_qubits", n_qubits), ("n_qpus", n_qpus), ("qpu_capacity", capacity)):
            set_(self, name, value)
        set_(self, "local_rounds", check_int("local_rounds", self.local_rounds, 0, MAX_LOCAL_ROUNDS))
        for name in ("local_depth", "local_gates", "local_two_qubit_gates"):
            set_(self, name, check_int(name, getattr(self, name), 0, MAX_LAG))
        if self.local_two_qubit_gates > self.local_gates:
            raise ValueError(f"local_two_qubit_gates must be at most local_gates = {self.local_gates}, "
                             f"got {self.local_two_qubit_gates}")
        placement = check_placement(self.placement, n_qubits, n_qpus, capacity)
        set_(self, "placement", placement)
        self._check_gates(placement)
        self._check_edges()
        succ_ptr, succ, succ_lag = self.succ_ptr, self.succ, self.succ_lag
        indegree = np.bincount(succ, minlength=self.n_gates).astype(np.int64)
        indegree.flags.writeable = False
        set_(self, "indegree", indegree)
        critical = remaining_critical_path(succ_ptr, succ, succ_lag, self.end_lag)
        critical.flags.writeable = False
        set_(self, "critical_path", critical)

    def _check_gates(self, placement: np.ndarray) -> None:
        qubit_a = int_array("qubit_a", self.qubit_a)
        qubit_b = int_array("qubit_b", self.qubit_b)
        gates = qubit_a.size
        for name, array in (("qubit_b", qubit_b), ("start_lag", self.start_lag), ("end_lag", self.end_lag)):
            if np.asarray(array).shape != (gates,):
                raise ValueError(f"{name} must have one entry per gate ({gates}, as qubit_a), "
                                 f"got shape {np.asarray(array).shape}")
        for name, array in (("qubit_a", qubit_a), ("qubit_b", qubit_b)):
            _check_range(name, array, 0, self.n_qubits - 1)
        qpu_a, qpu_b = placement[qubit_a], placement[qubit_b]
        local = np.flatnonzero(qpu_a == qpu_b)
        if local.size:
            gate = int(local[0])
            raise ValueError(f"qubit_a, qubit_b: gate {gate} acts on qubits {int(qubit_a[gate])} and "
                             f"{int(qubit_b[gate])}, both placed on QPU {int(qpu_a[gate])}: not a non-local gate")
        pair_a, pair_b = np.minimum(qpu_a, qpu_b), np.maximum(qpu_a, qpu_b)
        for name, array in (("qubit_a", qubit_a), ("qubit_b", qubit_b), ("pair_a", pair_a), ("pair_b", pair_b)):
            array.flags.writeable = False
            object.__setattr__(self, name, array)
        for name in ("start_lag", "end_lag"):
            lag = int_array(name, getattr(self, name))
            _check_range(name, lag, 0, MAX_LAG)
            object.__setattr__(self, name, lag)

    def _check_edges(self) -> None:
        gates = self.n_gates
        succ_ptr = int_array("succ_ptr", self.succ_ptr)
        if succ_ptr.size != gates + 1:
            raise ValueError(f"succ_ptr must have n_gates + 1 = {gates + 1} entries, got {succ_ptr.size}")
        succ = int_array("succ", self.succ)
        succ_lag = int_array("succ_lag", self.succ_lag)
        if succ_ptr[0] != 0 or succ_ptr[-1] != succ.size:
            raise ValueError(f"succ_ptr must run from 0 to the number of edges {succ.size}, "
                             f"got {int(succ_ptr[0])} to {int(succ_ptr[-1])}")
        falling = np.flatnonzero(np.diff(succ_ptr) < 0)
        if falling.size:
            raise ValueError(f"succ_ptr must not decrease, got {int(succ_ptr[falling[0] + 1])} after "
                             f"{int(succ_ptr[falling[0]])} at index {int(falling[0]) + 1}")
        if succ_lag.size != succ.size:
            raise ValueError(f"succ_lag must have one entry per edge ({succ.size}, as succ), got {succ_lag.size}")
        _check_range("succ_lag", succ_lag, 0, MAX_LAG)
        _check_range("succ", succ, 0, gates - 1)
        owner = np.repeat(np.arange(gates, dtype=np.int64), np.diff(succ_ptr))
        backwards = np.flatnonzero(succ <= owner)
        if backwards.size:
            edge = int(backwards[0])
            raise ValueError(f"succ: gate {int(owner[edge])} has successor {int(succ[edge])}; successors must "
                             "come later in the gate order, which is a topological order")
        repeated = np.flatnonzero((np.diff(succ) <= 0) & (owner[1:] == owner[:-1]))
        if repeated.size:
            edge = int(repeated[0]) + 1
            raise ValueError(f"succ: the successors of gate {int(owner[edge])} must be increasing, "
                             f"got {int(succ[edge])} after {int(succ[edge - 1])}")
        for name, array in (("succ_ptr", succ_ptr), ("succ", succ), ("succ_lag", succ_lag)):
            object.__setattr__(self, name, array)

    @property
    def n_gates(self) -> int:
        """Non-local gates ``G``, each one request for one ebit."""
        return int(self.qubit_a.size)

    @property
    def n_edges(self) -> int:
        return int(self.succ.size)

    @property
    def two_qubit_gates(self) -> int:
        """Two-qubit gates of the circuit, local or not."""
        return self.local_two_qubit_gates + self.n_gates

    @property
    def lower_bound(self) -> int:
        """[rounds] The makespan if every ebit arrived at once: the longest path of the
        circuit, a non-local gate counting one round and a local gate ``local_rounds``."""
        if self.n_gates == 0:
            return self.local_depth
        return max(self.local_depth, int((self.start_lag + self.critical_path).max()))

    def predecessors(self, gate: int) -> np.ndarray:
        """The gates ``gate`` depends on, increasing (a scan of ``succ``: for tests and
        inspection, not for a hot path)."""
        owner = np.repeat(np.arange(self.n_gates), np.diff(self.succ_ptr))
        return owner[self.succ == gate]


def remaining_critical_path(succ_ptr: np.ndarray, succ: np.ndarray, succ_lag: np.ndarray,
                            end_lag: np.ndarray) -> np.ndarray:
    """``(G,)`` [rounds] for each gate, the longest path from it to the circuit's end, the
    gate's own round included: ``1 + max(end_lag, max over successors (lag + path))``."""
    gates = end_lag.size
    path = [0] * gates
    ptr, nxt, lag, tail = succ_ptr.tolist(), succ.tolist(), succ_lag.tolist(), end_lag.tolist()
    for gate in range(gates - 1, -1, -1):
        longest = tail[gate]
        for edge in range(ptr[gate], ptr[gate + 1]):
            longest = max(longest, lag[edge] + path[nxt[edge]])
        path[gate] = 1 + longest
    return np.asarray(path, dtype=np.int64).reshape(gates)


def request_dag(circuit: Circuit, placement: object, n_qpus: int, qpu_capacity: int | None = None,
                local_rounds: int = 0) -> RequestDag:
    """The request DAG of ``circuit`` with its qubits placed on QPUs.

    One pass in circuit order keeps, for each qubit, the non-local gates that reach its
    latest operation through local gates only, each with the longest such path counted in
    local gates (and the same count from the circuit's start). A local operation merges
    the sets of its qubits and adds one; a non-local gate takes the union of its two
    qubits' sets as its predecessors and starts both sets afresh.

    :param circuit: the circuit, decomposed to one- and two-qubit operations.
    :param placement: ``(n_qubits,)`` the QPU of each qubit.
    :param n_qpus: QPUs ``N``.
    :param qpu_capacity: qubits a QPU holds at most; ``None`` for ``ceil(n_qubits / N)``.
    :param local_rounds: rounds one local operation takes, 0 to 1000.
    :raises ValueError: a bad placement, capacity or ``local_rounds``, naming the field.
    """
    n_qpus, qpu_capacity = check_capacity(circuit.n_qubits, n_qpus, qpu_capacity)
    local_rounds = check_int("local_rounds", local_rounds, 0, MAX_LOCAL_ROUNDS)
    placement = check_placement(placement, circuit.n_qubits, n_qpus, qpu_capacity)
    projection = _project(circuit, placement)
    edges = projection.edges
    succ_ptr = np.zeros(projection.gates + 1, dtype=np.int64)
    np.cumsum([len(succs) for succs in edges], out=succ_ptr[1:])
    succ = [s for succs in edges for s in sorted(succs)]
    succ_lag = [succs[s] for succs in edges for s in sorted(succs)]
    return RequestDag(
        source=circuit.source, n_qubits=circuit.n_qubits, n_qpus=n_qpus, qpu_capacity=qpu_capacity,
        local_rounds=local_rounds, placement=placement,
        qubit_a=np.asarray(projection.qubit_a, dtype=np.int64).reshape(-1),
        qubit_b=np.asarray(projection.qubit_b, dtype=np.int64).reshape(-1),
        succ_ptr=succ_ptr, succ=np.asarray(succ, dtype=np.int64).reshape(-1),
        succ_lag=local_rounds * np.asarray(succ_lag, dtype=np.int64).reshape(-1),
        start_lag=local_rounds * np.asarray(projection.start, dtype=np.int64).reshape(-1),
        end_lag=local_rounds * np.asarray(projection.end, dtype=np.int64).reshape(-1),
        local_depth=local_rounds * projection.local_depth, local_gates=projection.local_gates,
        local_two_qubit_gates=projection.local_two_qubit_gates,
    )


@dataclass
class _Projection:
    """The non-local gates found by :func:`_project`; lags counted in local gates."""

    qubit_a: list[int] = field(default_factory=list)
    qubit_b: list[int] = field(default_factory=list)
    edges: list[dict[int, int]] = field(default_factory=list)  # successor -> local gates between
    start: list[int] = field(default_factory=list)  # local gates from the start
    end: list[int] = field(default_factory=list)  # local gates to the end
    local_depth: int = 0
    local_gates: int = 0
    local_two_qubit_gates: int = 0

    @property
    def gates(self) -> int:
        return len(self.qubit_a)


def _project(circuit: Circuit, placement: np.ndarray) -> _Projection:
    out = _Projection()
    # Per qubit: non-local gate -> most local gates on a local-only path from it to the
    # qubit's latest operation; and the same from the circuit's start (-1: no such path).
    reach: list[dict[int, int]] = [{} for _ in range(circuit.n_qubits)]
    from_start = [0] * circuit.n_qubits
    qpu = placement.tolist()
    for a, b in zip(circuit.qubit_a.tolist(), circuit.qubit_b.tolist(), strict=True):
        if b < 0:
            reach[a] = {gate: count + 1 for gate, count in reach[a].items()}
            from_start[a] = from_start[a] + 1 if from_start[a] >= 0 else -1
            out.local_gates += 1
            continue
        merged = dict(reach[a])
        for gate, count in reach[b].items():
            if count > merged.get(gate, -1):
                merged[gate] = count
        start = max(from_start[a], from_start[b])
        if qpu[a] == qpu[b]:
            merged = {gate: count + 1 for gate, count in merged.items()}
            reach[a], reach[b] = merged, dict(merged)
            from_start[a] = from_start[b] = start + 1 if start >= 0 else -1
            out.local_gates += 1
            out.local_two_qubit_gates += 1
            continue
        gate = out.gates
        for pred, count in merged.items():
            out.edges[pred][gate] = count
        out.qubit_a.append(a)
        out.qubit_b.append(b)
        out.edges.append({})
        out.start.append(max(start, 0))
        out.end.append(0)
        reach[a], reach[b] = {gate: 0}, {gate: 0}
        from_start[a] = from_start[b] = -1
    for qubit in range(circuit.n_qubits):
        for gate, count in reach[qubit].items():
            out.end[gate] = max(out.end[gate], count)
        out.local_depth = max(out.local_depth, from_start[qubit])
    return out
