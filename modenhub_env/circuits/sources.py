"""Circuit sources: benchmark circuits from Qiskit's circuit library, or an OpenQASM 2 or 3
file, decomposed to one- and two-qubit operations (``docs/model.md#circuits``).

Needs the ``circuits`` extra (Qiskit; ``qiskit-qasm3-import`` for OpenQASM 3 files;
networkx for QAOA's random graph): ``pip install 'modenhub[circuits]'``.

Decomposition: ``transpile(..., basis_gates=["u", "cx"], optimization_level=0)``, then
Qiskit's ``Optimize1qGatesDecomposition`` pass alone, which merges each run of one-qubit
gates on a qubit into one ``u``. Level 0 synthesises every gate into CNOTs and
one-qubit rotations without cancelling or reordering any two-qubit gate, so the
two-qubit structure is the circuit's as written (an optimising level could cancel a
CNOT pair across library blocks, or change with the Qiskit version); merging one-qubit
runs keeps a chain of rotations from counting as several local gates when
``local_rounds > 0``.
"""

from __future__ import annotations

import functools
import re
import traceback
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

import numpy as np

from modenhub_env.circuits.dag import Circuit, check_int

if TYPE_CHECKING:
    from qiskit import QuantumCircuit

#: Named generators: ``qft`` (Qiskit's ``synth_qft_full``, with the final swaps), ``ghz``
#: (a Hadamard and a chain of CNOTs), ``qaoa`` (``qaoa_ansatz`` of MaxCut on a random
#: ``degree``-regular graph, ``layers`` layers), ``draper`` (the QFT adder
#: ``adder_qft_d00`` of two ``n/2``-qubit registers, modulo ``2**(n/2)``), ``cuccaro``
#: (the ripple-carry adder ``adder_ripple_c04``: two registers of ``(n-2)/2`` qubits, a
#: carry in and a carry out, or ``(n-1)/2`` and a helper qubit for odd ``n``) and
#: ``quantum_volume`` (``quantum_volume``: ``n`` layers of random SU(4) on random pairs).
FAMILIES = ("qft", "ghz", "qaoa", "draper", "cuccaro", "quantum_volume")
#: Largest OpenQASM file read [bytes].
MAX_QASM_BYTES = 64 * 2**20
#: Largest generated circuit [qubits]: a sanity bound (a 4096-qubit QFT already has
#: about 8 million two-qubit gates).
MAX_GENERATED_QUBITS = 4096
MAX_LAYERS = 1000
MAX_SEED = 2**32 - 1  # numpy and networkx accept any seed below this bound
EXTRA = "pip install 'modenhub[circuits]'"


@dataclass(frozen=True)
class CircuitSource:
    """Where a circuit comes from: a named generator with a qubit count and a seed, or a
    QASM file.

    :param family: one of :data:`FAMILIES`, or ``"qasm"`` for a file.
    :param n_qubits: qubits of a generated circuit, 2 to 4096 (``None`` for a file,
        whose qubit count is its own).
    :param seed: seed of the random parts (QAOA's graph, quantum volume's unitaries and
        pairs), 0 to 2**32 - 1.
    :param layers: QAOA layers ``p``, 1 to 1000.
    :param degree: degree ``d`` of QAOA's random regular graph, 1 to ``n_qubits - 1``,
        with ``n_qubits * d`` even.
    :param path: the OpenQASM 2 or 3 file (family ``"qasm"``).
    """

    family: str
    n_qubits: int | None = None
    seed: int = 0
    layers: int = 1
    degree: int = 3
    path: str | None = None

    def __post_init__(self) -> None:
        if self.family not in (*FAMILIES, "qasm"):
            raise ValueError(f"family must be one of {[*FAMILIES, 'qasm']}, got {self.family!r}")
        if self.family == "qasm":
            if not isinstance(self.path, str) or not self.path:
                raise ValueError("path must name an OpenQASM file for family 'qasm'")
            if self.n_qubits is not None:
                raise ValueError("n_qubits must be None for family 'qasm': the file gives it")
            return
        if self.path is not None:
            raise ValueError(f"path must be None for the generated family {self.family!r}")
        n = check_int("n_qubits", self.n_qubits, 2, MAX_GENERATED_QUBITS)
        check_int("seed", self.seed, 0, MAX_SEED)
        check_int("layers", self.layers, 1, MAX_LAYERS)
        if self.family == "draper" and n % 2:
            raise ValueError(f"n_qubits must be even for 'draper' (two registers of n/2 qubits), got {n}")
        if self.family == "cuccaro" and n < 3:
            raise ValueError(f"n_qubits must be at least 3 for 'cuccaro', got {n}")
        if self.family == "qaoa":
            check_int("degree", self.degree, 1, n - 1)
            if n * self.degree % 2:
                raise ValueError(f"degree must make n_qubits * degree even (a regular graph), got {n} * {self.degree}")

    def describe(self) -> str:
        """The source as a spec that :meth:`parse` reads back, e.g. ``qaoa:64,seed=1``."""
        if self.family == "qasm":
            return str(self.path)
        extras = [f"seed={self.seed}"] if self.family in ("qaoa", "quantum_volume") else []
        if self.family == "qaoa":
            extras += [f"layers={self.layers}", f"degree={self.degree}"]
        return ",".join([f"{self.family}:{self.n_qubits}", *extras])

    @staticmethod
    def parse(spec: str) -> CircuitSource:
        """A source from its spec: an OpenQASM file (ending in ``.qasm``), or
        ``family:n_qubits`` with optional ``,key=value`` for ``seed``, ``layers`` and
        ``degree``, e.g. ``qft:64`` or ``qaoa:128,seed=3,layers=2``.

        :raises ValueError: an unknown family or key, or a value that is not an integer.
        """
        spec = spec.strip()
        if spec.endswith(".qasm"):
            return CircuitSource("qasm", path=spec)
        head, _, rest = spec.partition(",")
        family, colon, count = head.partition(":")
        if not colon:
            raise ValueError(f"circuit must be a .qasm file or family:n_qubits with family one of "
                             f"{list(FAMILIES)}, got {spec!r}")
        options: dict[str, int] = {"n_qubits": _spec_int(spec, "n_qubits", count)}
        for item in filter(None, rest.split(",")):
            key, _, value = item.partition("=")
            key = key.strip()
            if key not in ("seed", "layers", "degree"):
                raise ValueError(f"circuit option must be one of ['seed', 'layers', 'degree'], got {key!r} in {spec!r}")
            options[key] = _spec_int(spec, key, value)
        return CircuitSource(family.strip(), **options)


def _spec_int(spec: str, name: str, text: str) -> int:
    if not re.fullmatch(r"\s*\d{1,12}\s*", text):
        raise ValueError(f"{name} must be a non-negative integer, got {text.strip()!r} in {spec!r}")
    return int(text)


def load_circuit(source: CircuitSource) -> Circuit:
    """The circuit of ``source``, decomposed (see the module's docstring); generated
    circuits are cached per source, files per source and modification time.

    :raises ValueError: a malformed or unreadable QASM file (naming the file and, where
        the parser gives it, the line) or an operation that cannot be placed (control
        flow, more than two qubits after decomposition).
    :raises ImportError: Qiskit (or for OpenQASM 3 ``qiskit-qasm3-import``) missing.
    """
    stamp = None
    if source.family == "qasm":
        try:
            stat = Path(source.path).stat()
        except OSError as err:
            raise ValueError(f"{source.path}: cannot read the QASM file ({err.strerror or err})") from None
        stamp = (stat.st_mtime_ns, stat.st_size)
    return _cached_circuit(source, stamp)


@functools.lru_cache(maxsize=16)
def _cached_circuit(source: CircuitSource, stamp: tuple[int, int] | None) -> Circuit:
    del stamp  # part of the cache key only: a changed file is read again
    circuit = read_qasm(Path(source.path)) if source.family == "qasm" else generate(source)
    return to_circuit(decompose(circuit), source.describe(), source.path)


def _qiskit() -> ModuleType:
    try:
        import qiskit
    except ImportError as err:
        raise ImportError(f"circuit sources need Qiskit: {EXTRA}") from err
    return qiskit


def generate(source: CircuitSource) -> QuantumCircuit:
    """The Qiskit circuit of a named generator (see :data:`FAMILIES`), not decomposed."""
    qiskit = _qiskit()
    from qiskit.circuit.library import quantum_volume
    from qiskit.synthesis import adder_qft_d00, adder_ripple_c04, synth_qft_full

    n = source.n_qubits
    if source.family == "qft":
        return synth_qft_full(n)
    if source.family == "ghz":
        circuit = qiskit.QuantumCircuit(n, name="ghz")
        circuit.h(0)
        for qubit in range(n - 1):
            circuit.cx(qubit, qubit + 1)
        return circuit
    if source.family == "qaoa":
        return _qaoa(n, source.degree, source.layers, source.seed)
    if source.family == "draper":
        return adder_qft_d00(n // 2, kind="fixed")
    if source.family == "cuccaro":
        return adder_ripple_c04((n - 1) // 2, kind="fixed") if n % 2 else adder_ripple_c04((n - 2) // 2, kind="half")
    return quantum_volume(n, seed=np.random.default_rng(source.seed))


def _qaoa(n: int, degree: int, layers: int, seed: int) -> QuantumCircuit:
    try:
        import networkx as nx
    except ImportError as err:
        raise ImportError(f"QAOA's random graph needs networkx: {EXTRA}") from err
    from qiskit.circuit.library import qaoa_ansatz
    from qiskit.quantum_info import SparsePauliOp

    graph = nx.random_regular_graph(degree, n, seed=seed)
    terms = [("ZZ", [u, v], 1.0) for u, v in sorted(tuple(sorted(edge)) for edge in graph.edges())]
    return qaoa_ansatz(SparsePauliOp.from_sparse_list(terms, num_qubits=n), reps=layers)


def decompose(circuit: QuantumCircuit) -> QuantumCircuit:
    """``circuit`` in CNOTs and one-qubit ``u`` gates, one-qubit runs merged."""
    qiskit = _qiskit()
    from qiskit.transpiler import PassManager
    from qiskit.transpiler.passes import Optimize1qGatesDecomposition

    basis = qiskit.transpile(circuit, basis_gates=["u", "cx"], optimization_level=0, seed_transpiler=0)
    return PassManager([Optimize1qGatesDecomposition(basis=["u"])]).run(basis)


#: Directives that neither act on a qubit nor take time.
DIRECTIVES = ("barrier",)


def to_circuit(circuit: QuantumCircuit, source: str, path: str | None = None) -> Circuit:
    """The qubits of each operation of a decomposed circuit, in order; barriers dropped,
    measurements and resets kept as one-qubit operations.

    :raises ValueError: control flow or an operation on more than two qubits, naming
        ``path`` (or ``source``).
    """
    where = path or source
    index = {qubit: i for i, qubit in enumerate(circuit.qubits)}
    qubit_a, qubit_b = [], []
    for instruction in circuit.data:
        operation = instruction.operation
        if operation.name in DIRECTIVES or not instruction.qubits:
            continue
        if getattr(operation, "blocks", ()):
            raise ValueError(f"{where}: control flow ({operation.name}) is not supported: the request DAG "
                             "needs the circuit's gates known in advance")
        qubits = [index[q] for q in instruction.qubits]
        if len(qubits) > 2:
            raise ValueError(f"{where}: {operation.name} acts on {len(qubits)} qubits after decomposition; "
                             "only one- and two-qubit operations can be placed")
        qubit_a.append(qubits[0])
        qubit_b.append(qubits[1] if len(qubits) == 2 else -1)
    return Circuit(circuit.num_qubits, np.asarray(qubit_a, dtype=np.int64), np.asarray(qubit_b, dtype=np.int64),
                   source=source)


_VERSION = re.compile(r"\s*OPENQASM\s+(\d+)(?:\.\d+)?\s*;")
_COMMENTS = re.compile(r"(\s|//[^\n]*\n|/\*.*?\*/)*", re.DOTALL)


def qasm_version(text: str) -> int:
    """The OpenQASM major version a program declares (after comments); 3 if it declares
    none, as OpenQASM 3 allows."""
    start = _COMMENTS.match(text).end()
    match = _VERSION.match(text, start)
    return int(match.group(1)) if match else 3


def read_qasm(path: Path) -> QuantumCircuit:
    """Parse an OpenQASM 2 or 3 file (by its ``OPENQASM`` line) with Qiskit's parsers;
    ``include`` files are looked up next to it.

    :raises ValueError: unreadable, too large (over ``MAX_QASM_BYTES``, 64 MiB), not UTF-8,
        another version, or rejected by the parser: ``path:line: message``.
    """
    try:
        size = path.stat().st_size
        if size > MAX_QASM_BYTES:
            raise ValueError(f"{path}: {size} bytes; a QASM file holds at most {MAX_QASM_BYTES} bytes")
        text = path.read_bytes().decode("utf-8-sig")
    except OSError as err:
        raise ValueError(f"{path}: cannot read the QASM file ({err.strerror or err})") from None
    except UnicodeDecodeError as err:
        raise ValueError(f"{path}: not UTF-8 text (byte {err.start + 1})") from None
    version = qasm_version(text)
    if version == 2:
        return _read_qasm2(path, text)
    if version == 3:
        return _read_qasm3(path, text)
    raise ValueError(f"{path}: OpenQASM version must be 2 or 3, got {version}")


def _read_qasm2(path: Path, text: str) -> QuantumCircuit:
    _qiskit()
    from qiskit import qasm2

    try:
        return qasm2.loads(text, include_path=[path.parent], custom_instructions=qasm2.LEGACY_CUSTOM_INSTRUCTIONS)
    except qasm2.QASM2ParseError as err:
        line, message = _parser_position(str(err).strip("'\""))
        raise ValueError(f"{path}:{line}: {message}") from None


def _read_qasm3(path: Path, text: str) -> QuantumCircuit:
    _qiskit()
    try:
        from qiskit_qasm3_import import parse as qasm3_parse
    except ImportError as err:
        raise ImportError(f"OpenQASM 3 files need qiskit-qasm3-import: {EXTRA}") from err
    try:
        return qasm3_parse(text)
    except Exception as err:  # noqa: BLE001  the ANTLR parser and the converter raise many types
        line, message = _parser_position(str(err))
        token = _offending_token(err)
        if line is None and token is not None:
            line = int(token.line)
        line = line or _traceback_line(err) or "?"
        if not message:
            message = f"syntax error at {token.text!r}" if token is not None else type(err).__name__
        raise ValueError(f"{path}:{line}: {message}") from None


_POSITION = re.compile(r"^(?:<[^>]*>:)?L?(\d+)(?:,|:C)(\d+): (.*)$", re.DOTALL)


def _parser_position(message: str) -> tuple[int | None, str]:
    """``(line, message)`` of a parser message ``<input>:4,10: ...``, ``4,10: ...`` or
    ``L4:C10: ...``; ``(None, message)`` if it has no position."""
    match = _POSITION.match(message.strip())
    if not match:
        return None, message.strip()
    return int(match.group(1)), match.group(3).strip()


def _offending_token(err: BaseException) -> Any | None:
    """The token ANTLR stopped at: an OpenQASM 3 syntax error carries it only in the
    exceptions it was raised from."""
    cause = err.__cause__
    while cause is not None:
        for arg in (cause, *getattr(cause, "args", ())):
            token = getattr(arg, "offendingToken", None)
            if token is not None and getattr(token, "line", None):
                return token
        cause = cause.__cause__
    return None


def _traceback_line(err: BaseException) -> int | None:
    """The line of the innermost OpenQASM 3 AST node being converted when ``err`` was
    raised (the converter raises a few plain Python errors, e.g. an index out of range,
    that carry no position)."""
    for frame, _ in reversed(list(traceback.walk_tb(err.__traceback__))):
        node = frame.f_locals.get("node")
        span = getattr(node, "span", None)
        if span is not None and getattr(span, "start_line", None):
            return int(span.start_line)
    return None
