"""Request workloads: where teleportation requests come from (``docs/model.md#workloads``).

Pairs are coded as ``a * N + b`` with ``a < b``; for ``N = 1`` the one pair is ``(0, 0)``,
the QPU with the hub memory.
"""

from __future__ import annotations

import csv
import functools
import itertools
import json
import math
from array import array
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np

from modenhub_env.circuits import RequestDag, build_dag, load_dag
from modenhub_env.config import DAG_SUFFIXES, HubConfig

TRACE_FIELDS = ("round", "a", "b", "budget")


@dataclass(frozen=True)
class Trace:
    """Requests of a trace file, sorted by arrival round; arrays of shape ``(rows,)``."""

    round: np.ndarray  # [rounds] arrival round within the episode
    a: np.ndarray  # QPU index, a < b (a == b == 0 only for N = 1)
    b: np.ndarray  # QPU index
    budget: np.ndarray  # [rounds] rounds the request may wait

    @property
    def rows(self) -> int:
        return int(self.round.size)

    def arrivals_per_round(self) -> np.ndarray:
        """Index of the first row arriving at each round, shape ``(last_round + 2,)``."""
        last = int(self.round[-1]) if self.rows else 0
        return np.searchsorted(self.round, np.arange(last + 2), side="left")


#: Bounds of a trace file, checked while reading, before anything is allocated for it.
MAX_TRACE_BYTES = 64 * 2**20  # [bytes] file size
MAX_TRACE_LINE_BYTES = 4096  # [bytes] one line, so one field
MAX_TRACE_FIELD_CHARS = 32  # [characters] one value, before it is parsed as an integer
MAX_TRACE_ROWS = 10**6  # requests
MAX_TRACE_ROUND = 10**7  # [rounds] latest arrival round
MAX_TRACE_BUDGET = 10_000  # [rounds] as ``HubConfig.round_budget``


def load_trace(path: str | Path, n_qpus: int) -> Trace:
    """Read a CSV (header ``round,a,b,budget``, other columns ignored) or JSON-lines trace
    (UTF-8).

    Bounds: a file of at most ``MAX_TRACE_BYTES`` (64 MiB), lines of at most
    ``MAX_TRACE_LINE_BYTES`` (4 KiB), values of at most ``MAX_TRACE_FIELD_CHARS``
    characters, at most ``MAX_TRACE_ROWS`` (10**6) requests, rounds in
    ``[0, MAX_TRACE_ROUND]`` (10**7) and budgets in ``[1, MAX_TRACE_BUDGET]`` (10,000, as
    ``round_budget``). The file is read a line at a time, so memory stays below about
    120 MB whatever the file holds: 32 bytes a row (32 MB at most, a few copies while
    sorting) and, in the core, the per-round index of 8 bytes a round (80 MB at most,
    :meth:`Trace.arrivals_per_round`) and a latency histogram of 8 bytes per budget round
    per env (80 KB an env).

    :raises ValueError: anything wrong (unreadable, not UTF-8, a line or value too long, a
        bad or out-of-range value, a missing column, no rows), naming the file and, for a
        row, its line.
    """
    path = Path(path)
    try:
        size = path.stat().st_size
        if size > MAX_TRACE_BYTES:
            raise ValueError(f"{path}: {size} bytes; a trace holds at most {MAX_TRACE_BYTES} bytes")
        with path.open("rb") as handle:
            columns = array("q")
            for line_no, row in _rows(path, _lines(path, handle)):
                if len(columns) >= 4 * MAX_TRACE_ROWS:
                    raise ValueError(f"{path}:{line_no}: more than {MAX_TRACE_ROWS} requests")
                columns.extend(_check_row(path, line_no, row, n_qpus))
    except OSError as err:
        raise ValueError(f"{path}: cannot read the trace ({err.strerror or err})") from None
    if not columns:
        raise ValueError(f"{path}: trace holds no requests")
    data = np.frombuffer(columns, dtype=np.int64).reshape(-1, 4)
    data = data[np.argsort(data[:, 0], kind="stable")]
    return Trace(round=data[:, 0], a=data[:, 1], b=data[:, 2], budget=data[:, 3])


def _lines(path: Path, handle: BinaryIO) -> Iterator[tuple[int, str]]:
    """``(line number, text)`` of every non-blank line, each decoded as UTF-8."""
    line_no = 0
    while True:
        raw = handle.readline(MAX_TRACE_LINE_BYTES + 1)
        if not raw:
            return
        line_no += 1
        if len(raw) > MAX_TRACE_LINE_BYTES:
            raise ValueError(f"{path}:{line_no}: line longer than {MAX_TRACE_LINE_BYTES} bytes")
        try:
            text = raw.decode("utf-8-sig" if line_no == 1 else "utf-8")
        except UnicodeDecodeError as err:
            raise ValueError(f"{path}:{line_no}: not UTF-8 text (byte {err.start + 1} of the line)") from None
        if text.strip():
            yield line_no, text.rstrip("\r\n")


def _rows(path: Path, lines: Iterator[tuple[int, str]]) -> Iterator[tuple[int, dict]]:
    """``(line number, row)`` of a CSV or JSON-lines trace, told apart by its first line."""
    first = next(lines, None)
    if first is None:
        return
    if first[1].lstrip().startswith("{"):
        yield from _json_rows(path, itertools.chain([first], lines))
    else:
        yield from _csv_rows(path, first, lines)


def _csv_fields(path: Path, line_no: int, text: str) -> list[str]:
    try:
        return next(csv.reader([text], strict=True))
    except csv.Error as err:
        raise ValueError(f"{path}:{line_no}: not a CSV line ({err})") from None


def _csv_rows(path: Path, header: tuple[int, str], lines: Iterator[tuple[int, str]]) -> Iterator[tuple[int, dict]]:
    names = [name.strip() for name in _csv_fields(path, *header)]
    if set(TRACE_FIELDS) - set(names):
        raise ValueError(f"{path}:{header[0]}: CSV header must name the columns {list(TRACE_FIELDS)}, got {names}")
    for line_no, text in lines:
        values = _csv_fields(path, line_no, text)
        yield line_no, dict(zip(names, values, strict=False))


def _json_rows(path: Path, lines: Iterator[tuple[int, str]]) -> Iterator[tuple[int, dict]]:
    for line_no, text in lines:
        try:
            row = json.loads(text)
        except json.JSONDecodeError as err:
            raise ValueError(f"{path}:{line_no}: not valid JSON ({err.msg})") from None
        except ValueError as err:  # e.g. an integer past Python's digit limit
            raise ValueError(f"{path}:{line_no}: not valid JSON ({err})") from None
        if not isinstance(row, dict):
            raise ValueError(f"{path}:{line_no}: each line must be a JSON object")
        yield line_no, row


#: Allowed range of each trace value (``a`` and ``b`` depend on N and are checked apart).
TRACE_RANGES = {"round": (0, MAX_TRACE_ROUND), "budget": (1, MAX_TRACE_BUDGET)}


def _check_row(path: Path, line: int, row: dict, n_qpus: int) -> tuple[int, int, int, int]:
    values = []
    for name in TRACE_FIELDS:
        value = row.get(name)
        text = str(value).strip()
        if isinstance(value, bool) or len(text) > MAX_TRACE_FIELD_CHARS:
            shown = text if len(text) <= MAX_TRACE_FIELD_CHARS else f"{text[:12]}... ({len(text)} characters)"
            raise ValueError(f"{path}:{line}: {name} must be an integer, got {shown}")
        try:
            number = int(text)
        except (TypeError, ValueError):
            raise ValueError(f"{path}:{line}: {name} must be an integer, got {value!r}") from None
        values.append(number)
    arrival, a, b, budget = values
    for name, number in (("round", arrival), ("budget", budget)):
        low, high = TRACE_RANGES[name]
        if not low <= number <= high:
            side = f">= {low}" if number < low else f"<= {high}"
            unit = " round" if name == "budget" and number < low else ""
            raise ValueError(f"{path}:{line}: {name} must be {side}{unit} (allowed [{low}, {high}]), got {number}")
    for name, qpu in (("a", a), ("b", b)):
        if not 0 <= qpu < n_qpus:
            raise ValueError(f"{path}:{line}: {name} must be a QPU in [0, {n_qpus - 1}], got {qpu}")
    if a == b and n_qpus > 1:
        raise ValueError(f"{path}:{line}: a and b must differ, both are {a}")
    return arrival, min(a, b), max(a, b), budget


def max_budget(config: HubConfig, trace: Trace | None = None, dag: RequestDag | None = None) -> int:
    """The longest round budget of the workload [rounds], which scales the observation's
    slack: ``round_budget``, for a trace the largest budget in its file (read unless
    ``trace`` is given), for a circuit its lower bound (at least 1; built unless ``dag``
    is given), which bounds a gate's slack."""
    if config.workload == "circuit":
        return max(1, (dag if dag is not None else circuit_dag(config)).lower_bound)
    if config.workload != "trace":
        return config.round_budget
    if trace is None:
        trace = load_trace(config.trace_path, config.n_qpus)
    return int(trace.budget.max())


def pair_code(a: np.ndarray, b: np.ndarray, n_qpus: int) -> np.ndarray:
    """Code of the unordered pair ``(a, b)``: ``min * N + max``."""
    return np.minimum(a, b) * n_qpus + np.maximum(a, b)


def all_pairs(n_qpus: int) -> tuple[np.ndarray, np.ndarray]:
    """QPUs ``a < b`` of every pair, each ``(n_pairs,)`` int64; for ``N = 1`` the one pair
    ``(0, 0)`` of the QPU with the hub memory."""
    if n_qpus == 1:
        zero = np.zeros(1, dtype=np.int64)
        return zero, zero.copy()
    a, b = np.triu_indices(n_qpus, k=1)
    return a.astype(np.int64), b.astype(np.int64)


def uniform_pairs(u_first: np.ndarray, u_second: np.ndarray, n_qpus: int):
    """Uniformly random distinct QPUs ``(a, b)``, ``a < b``, from two uniforms each."""
    if n_qpus == 1:
        zero = np.zeros(u_first.shape, dtype=np.int64)
        return zero, zero
    a = (u_first * n_qpus).astype(np.int64)
    b = (u_second * (n_qpus - 1)).astype(np.int64)
    b += b >= a
    return np.minimum(a, b), np.maximum(a, b)


@dataclass(frozen=True)
class Popularity:
    """Zipf popularity over pairs: rank ``r`` has weight ``1 / (r + 1)**s``; the ranking
    of pairs is a fixed permutation drawn from ``popularity_seed``."""

    cdf: np.ndarray  # (n_pairs,) cumulative probability by rank
    a: np.ndarray  # (n_pairs,) QPU a of the pair at each rank
    b: np.ndarray  # (n_pairs,) QPU b of the pair at each rank

    @staticmethod
    def build(cfg: HubConfig) -> Popularity:
        a, b = all_pairs(cfg.n_qpus)
        order = np.random.default_rng(cfg.popularity_seed).permutation(a.size)
        weights = 1.0 / np.arange(1, a.size + 1, dtype=np.float64) ** cfg.zipf_exponent
        cdf = np.cumsum(weights)
        return Popularity(cdf=cdf / cdf[-1], a=a[order], b=b[order])

    def sample(self, u: np.ndarray):
        rank = np.minimum(np.searchsorted(self.cdf, u, side="right"), self.cdf.size - 1)
        return self.a[rank], self.b[rank]


def poisson_cdf(rate: float) -> np.ndarray:
    """CDF of ``Poisson(rate)`` up to where it reaches 1 in double precision."""
    top = int(rate + 12.0 * math.sqrt(rate) + 20)
    k = np.arange(top + 1)
    log_pmf = k * math.log(rate) - rate - np.array([math.lgamma(i + 1) for i in k])
    cdf = np.cumsum(np.exp(log_pmf))
    return cdf / cdf[-1]


def circuit_dag(config: HubConfig) -> RequestDag:
    """The request DAG of the circuit workload (``docs/model.md#circuits``): ``circuit``
    built and placed on ``n_qpus`` QPUs (``modenhub_env.circuits.build_dag``), or a saved
    DAG file loaded. Cached per process, keyed by the fields it depends on (and a file's
    modification time and size), so building it again for the same config is free.

    :raises ValueError: a bad circuit, file or placement, naming it; a DAG file for
        another number of QPUs, naming ``n_qpus``; a DAG whose gates on one qubit are not
        ordered by edges (only a hand-made file can be), naming the gates.
    :raises ImportError: Qiskit (or networkx) missing to build a circuit that is not a
        DAG file.
    """
    if config.workload != "circuit":
        raise ValueError(f"workload must be 'circuit' to build a circuit's DAG, got {config.workload!r}")
    spec = config.circuit.strip()
    stamp = None
    if spec.endswith((*DAG_SUFFIXES, ".qasm")):
        try:
            stat = Path(spec).stat()
        except OSError as err:
            raise ValueError(f"circuit: cannot read {spec!r} ({err.strerror or err})") from None
        stamp = (stat.st_mtime_ns, stat.st_size)
    dag = _cached_circuit_dag(spec, stamp, config.n_qpus, config.qpu_capacity, config.placement,
                              config.placement_seed, config.local_rounds)
    if dag.n_qpus != config.n_qpus:
        raise ValueError(f"n_qpus must be {dag.n_qpus}, the QPUs of the DAG file {spec!r}, got {config.n_qpus}")
    return dag


@functools.lru_cache(maxsize=32)
def _cached_circuit_dag(spec: str, stamp: tuple[int, int] | None, n_qpus: int, qpu_capacity: int | None,
                        placement: tuple[int, ...] | None, seed: int, local_rounds: int | None) -> RequestDag:
    del stamp  # part of the cache key only: a changed file is read again
    if spec.endswith(DAG_SUFFIXES):
        dag = load_dag(spec)
    else:
        dag = build_dag(spec, n_qpus, qpu_capacity, placement=placement, seed=seed, local_rounds=local_rounds or 0)
    check_gate_order(dag, spec)
    return dag


def check_gate_order(dag: RequestDag, where: str) -> None:
    """Every two consecutive gates on a qubit joined by an edge, as in every DAG that
    :func:`~modenhub_env.circuits.request_dag` builds (the path between them on that
    qubit has only local gates). The core relies on it: the gates waiting at once then
    share no qubit, so at most ``n_qubits // 2`` of them wait outside the queue.

    :raises ValueError: naming ``where``, the two gates and their qubit.
    """
    gates = np.arange(dag.n_gates, dtype=np.int64)
    qubit = np.concatenate([dag.qubit_a, dag.qubit_b])
    gate = np.concatenate([gates, gates])
    order = np.lexsort((gate, qubit))
    qubit, gate = qubit[order], gate[order]
    same = np.flatnonzero(qubit[1:] == qubit[:-1])
    first, then = gate[same], gate[same + 1]
    owner = np.repeat(gates, np.diff(dag.succ_ptr))
    linked = np.isin(first * max(dag.n_gates, 1) + then, owner * max(dag.n_gates, 1) + dag.succ)
    if not linked.all():
        bad = int(np.flatnonzero(~linked)[0])
        raise ValueError(f"{where}: gates {int(first[bad])} and {int(then[bad])} both act on qubit "
                         f"{int(qubit[same[bad]])} with no edge from the first to the second; a request DAG "
                         "orders the gates on each qubit")


def circuit_pool_size(dag: RequestDag) -> int:
    """Entries of the pool of released gates the core keeps per env: the gates that may
    wait at once share no qubit (:func:`check_gate_order`)."""
    return min(dag.n_gates, dag.n_qubits // 2)
