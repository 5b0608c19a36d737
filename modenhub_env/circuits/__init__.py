"""Circuit workloads: a quantum circuit, placed on the hub's QPUs, as a DAG of requests
(``docs/model.md#circuits``).

- :mod:`~modenhub_env.circuits.sources`: benchmark generators and OpenQASM files, through
  Qiskit, decomposed to one- and two-qubit operations;
- :mod:`~modenhub_env.circuits.placement`: qubits to QPUs by a balanced min-cut
  partition (networkx), or as the user gives them;
- :mod:`~modenhub_env.circuits.dag`: the request DAG of the non-local gates, as plain
  arrays, with its lower bound;
- :mod:`~modenhub_env.circuits.dagfile`: the DAG saved to and read from JSON or npz;
- :mod:`~modenhub_env.circuits.build`: all of it at once, cached per process.

Qiskit and networkx (the ``circuits`` extra) are needed to build a DAG, not to load a
saved one: importing this package imports neither.
"""

from modenhub_env.circuits.build import build_dag
from modenhub_env.circuits.dag import Circuit, RequestDag, request_dag
from modenhub_env.circuits.dagfile import load_dag, save_dag
from modenhub_env.circuits.sources import FAMILIES, CircuitSource

__all__ = ["FAMILIES", "Circuit", "CircuitSource", "RequestDag", "build_dag", "load_dag", "request_dag", "save_dag"]
