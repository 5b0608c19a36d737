"""Request workloads: where teleportation requests come from (``docs/model.md#workloads``).

Pairs are coded as ``a * N + b`` with ``a < b``; for ``N = 1`` the one pair is ``(0, 0)``,
the QPU with the hub memory.
"""

from __future__ import annotations

import csv
import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from modenhub_env.config import HubConfig

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


def load_trace(path: str | Path, n_qpus: int) -> Trace:
    """Read a CSV (header ``round,a,b,budget``) or JSON-lines trace.

    A bad row raises ``ValueError`` naming the file, the line and the problem.
    """
    path = Path(path)
    with path.open(newline="") as handle:
        text = handle.read()
    first = next((line for line in text.splitlines() if line.strip()), "")
    is_json = first.lstrip().startswith("{")
    rows = list(_json_rows(path, text) if is_json else _csv_rows(path, text))
    if not rows:
        raise ValueError(f"{path}: trace holds no requests")
    parsed = [_check_row(path, line, row, n_qpus) for line, row in rows]
    data = np.asarray(parsed, dtype=np.int64).reshape(-1, 4)
    order = np.argsort(data[:, 0], kind="stable")
    data = data[order]
    return Trace(round=data[:, 0], a=data[:, 1], b=data[:, 2], budget=data[:, 3])


def _csv_rows(path: Path, text: str):
    reader = csv.DictReader(text.splitlines())
    if reader.fieldnames is None or set(TRACE_FIELDS) - set(reader.fieldnames):
        raise ValueError(
            f"{path}:1: CSV header must name the columns {list(TRACE_FIELDS)}, "
            f"got {reader.fieldnames}"
        )
    for row in reader:
        yield reader.line_num, row


def _json_rows(path: Path, text: str):
    for line_no, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as err:
            raise ValueError(f"{path}:{line_no}: not valid JSON ({err.msg})") from None
        if not isinstance(row, dict):
            raise ValueError(f"{path}:{line_no}: each line must be a JSON object")
        yield line_no, row


def _check_row(path: Path, line: int, row: dict, n_qpus: int) -> tuple[int, int, int, int]:
    values = []
    for name in TRACE_FIELDS:
        value = row.get(name)
        try:
            number = int(str(value).strip())
        except (TypeError, ValueError):
            raise ValueError(f"{path}:{line}: {name} must be an integer, got {value!r}") from None
        values.append(number)
    arrival, a, b, budget = values
    if arrival < 0:
        raise ValueError(f"{path}:{line}: round must be >= 0, got {arrival}")
    if budget < 1:
        raise ValueError(f"{path}:{line}: budget must be >= 1 round, got {budget}")
    for name, qpu in (("a", a), ("b", b)):
        if not 0 <= qpu < n_qpus:
            raise ValueError(f"{path}:{line}: {name} must be a QPU in [0, {n_qpus - 1}], got {qpu}")
    if a == b and n_qpus > 1:
        raise ValueError(f"{path}:{line}: a and b must differ, both are {a}")
    return arrival, min(a, b), max(a, b), budget


def max_budget(config: HubConfig, trace: Trace | None = None) -> int:
    """The longest round budget of the workload [rounds], which scales the observation's
    slack: ``round_budget``, or for a trace the largest budget in its file (read unless
    ``trace`` is given)."""
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
