"""A circuit source and a placement turned into a request DAG, once per process for each
set of arguments (``docs/model.md#circuits``)."""

from __future__ import annotations

import functools
from pathlib import Path

from modenhub_env.circuits.dag import RequestDag, check_int, int_array, request_dag
from modenhub_env.circuits.sources import CircuitSource, load_circuit


def build_dag(source: CircuitSource | str, n_qpus: int, qpu_capacity: int | None = None, *,
              placement: tuple[int, ...] | None = None, seed: int = 0, local_rounds: int = 0) -> RequestDag:
    """The request DAG of a circuit placed on ``n_qpus`` QPUs.

    The result is cached for the process, keyed by every argument (and a file's
    modification time and size), so building it again for the same config is free; its
    arrays are read-only.

    :param source: a :class:`CircuitSource`, or its spec (``"qft:64"``, ``"qaoa:64,seed=1"``,
        ``"circuit.qasm"``; see :meth:`CircuitSource.parse`).
    :param n_qpus: QPUs ``N``, 1 to 4096.
    :param qpu_capacity: qubits a QPU holds at most; ``None`` for ``ceil(n_qubits / N)``.
    :param placement: the QPU of each qubit; ``None`` to partition the interaction graph
        (:func:`modenhub_env.circuits.placement.partition`).
    :param seed: seed of the partitioner's random starts (unused with ``placement``).
    :param local_rounds: rounds one local gate takes, 0 to 1000.
    :raises ValueError: a bad source, file, placement or argument, naming it.
    """
    if isinstance(source, str):
        source = CircuitSource.parse(source)
    check_int("seed", seed, 0, 2**63 - 1)
    if placement is not None:
        placement = tuple(int_array("placement", placement).tolist())
    stamp = None
    if source.family == "qasm":
        stat = Path(source.path).stat() if Path(source.path).is_file() else None
        stamp = (stat.st_mtime_ns, stat.st_size) if stat else None
    return _cached_dag(source, stamp, n_qpus, qpu_capacity, placement, seed, local_rounds)


@functools.lru_cache(maxsize=64)
def _cached_dag(source: CircuitSource, stamp: tuple[int, int] | None, n_qpus: int, qpu_capacity: int | None,
                placement: tuple[int, ...] | None, seed: int, local_rounds: int) -> RequestDag:
    del stamp  # part of the cache key only: a changed file is built again
    circuit = load_circuit(source)
    if placement is None:
        from modenhub_env.circuits.placement import partition

        placement = partition(circuit, n_qpus, qpu_capacity, seed=seed)
    return request_dag(circuit, placement, n_qpus, qpu_capacity, local_rounds=local_rounds)
