"""Placement of a circuit's qubits on QPUs by a balanced min-cut partition of its qubit
interaction graph (``docs/model.md#circuits``).

The graph has a node per qubit and an edge per interacting pair, weighted by the number
of two-qubit gates between the two qubits, so the cut weight is the number of non-local
gates. It is split by recursive bisection: the QPUs are halved (``ceil(N/2)`` and
``floor(N/2)``), the qubits are split in proportion, within the capacity of each half,
and networkx's Kernighan-Lin bisection improves the split, which keeps the two sizes.
Kernighan-Lin runs from the contiguous split (qubits in index order, a good start for
circuits whose qubits interact with their neighbours) and from ``restarts`` random
splits drawn from ``seed``; the split of least cut is kept (the first of equal cuts).
Needs networkx (the ``circuits`` extra).
"""

from __future__ import annotations

from types import ModuleType
from typing import TYPE_CHECKING

import numpy as np

from modenhub_env.circuits.dag import (
    Circuit,
    check_capacity,
    check_int,
    check_placement,
)

if TYPE_CHECKING:
    import networkx as nx

#: Random starting splits of each bisection besides the contiguous one.
RESTARTS = 2


def _networkx() -> ModuleType:
    try:
        import networkx
    except ImportError as err:
        raise ImportError("placement needs networkx: pip install 'modenhub[circuits]'") from err
    return networkx


def interaction_graph(circuit: Circuit) -> nx.Graph:
    """The qubit interaction graph: nodes ``0..n_qubits-1``, an edge per pair of qubits
    sharing a two-qubit gate, its ``weight`` the number of such gates."""
    nx = _networkx()
    two = circuit.two_qubit
    low = np.minimum(circuit.qubit_a[two], circuit.qubit_b[two])
    high = np.maximum(circuit.qubit_a[two], circuit.qubit_b[two])
    pairs, counts = np.unique(low * circuit.n_qubits + high, return_counts=True)
    graph = nx.Graph()
    graph.add_nodes_from(range(circuit.n_qubits))
    graph.add_weighted_edges_from(
        (int(code // circuit.n_qubits), int(code % circuit.n_qubits), int(count))
        for code, count in zip(pairs.tolist(), counts.tolist(), strict=True)
    )
    return graph


def partition(circuit: Circuit, n_qpus: int, qpu_capacity: int | None = None, seed: int = 0,
              restarts: int = RESTARTS) -> np.ndarray:
    """``(n_qubits,)`` int64: the QPU of each qubit, by recursive Kernighan-Lin bisection
    of the interaction graph; the same arguments give the same placement.

    :param circuit: the decomposed circuit.
    :param n_qpus: QPUs ``N``, 1 to 4096.
    :param qpu_capacity: qubits a QPU holds at most; ``None`` for ``ceil(n_qubits / N)``.
    :param seed: seed of the random starting splits, 0 to 2**63 - 1.
    :param restarts: random starting splits per bisection besides the contiguous one.
    :raises ValueError: ``N * qpu_capacity`` below the qubit count, or a bad argument,
        naming it.
    """
    n_qpus, qpu_capacity = check_capacity(circuit.n_qubits, n_qpus, qpu_capacity)
    seed = check_int("seed", seed, 0, 2**63 - 1)
    restarts = check_int("restarts", restarts, 0, 100)
    graph = interaction_graph(circuit)
    placement = np.zeros(circuit.n_qubits, dtype=np.int64)
    rng = np.random.default_rng(seed)
    _split(graph, list(range(circuit.n_qubits)), 0, n_qpus, qpu_capacity, rng, restarts, placement)
    return check_placement(placement, circuit.n_qubits, n_qpus, qpu_capacity)


def _split(graph: nx.Graph, qubits: list[int], first_qpu: int, n_qpus: int, capacity: int,
           rng: np.random.Generator, restarts: int, placement: np.ndarray) -> None:
    """Place ``qubits`` (sorted) on QPUs ``first_qpu .. first_qpu + n_qpus - 1``."""
    if n_qpus == 1:
        placement[qubits] = first_qpu
        return
    left_qpus = (n_qpus + 1) // 2
    right_qpus = n_qpus - left_qpus
    size = len(qubits)
    left_size = min(left_qpus * capacity, max(size - right_qpus * capacity, size * left_qpus // n_qpus))
    left, right = _bisect(graph.subgraph(qubits), qubits, left_size, rng, restarts)
    _split(graph, left, first_qpu, left_qpus, capacity, rng, restarts, placement)
    _split(graph, right, first_qpu + left_qpus, right_qpus, capacity, rng, restarts, placement)


def _bisect(graph: nx.Graph, qubits: list[int], left_size: int, rng: np.random.Generator,
            restarts: int) -> tuple[list[int], list[int]]:
    """The least-cut split of ``qubits`` into ``left_size`` and the rest, both sorted."""
    nx = _networkx()
    starts = [qubits]
    # Drawn even when not needed, so that the stream (and every later split) does not
    # depend on the sizes met on the way.
    starts += [[qubits[i] for i in rng.permutation(len(qubits))] for _ in range(restarts)]
    if left_size in (0, len(qubits)) or graph.number_of_edges() == 0:
        return sorted(qubits[:left_size]), sorted(qubits[left_size:])
    best = None
    for order in starts:
        start = (set(order[:left_size]), set(order[left_size:]))
        one, two = nx.community.kernighan_lin_bisection(graph, partition=start, weight="weight")
        left, right = (one, two) if len(one) == left_size and (len(two) != left_size or min(one) < min(two)) else (two, one)
        cut = nx.cut_size(graph, left, right, weight="weight")
        if best is None or cut < best[0]:
            best = (cut, sorted(left), sorted(right))
    return best[1], best[2]
