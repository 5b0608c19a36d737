"""The one batched simulation core of the ModEn-Hub (``docs/model.md#hardware``, ``#requests``).

``HubCore`` holds ``B`` independent hubs of one configuration as a few packed arrays and
advances them with the compiled kernels of :mod:`modenhub_env.kernels`, one call per round
for the whole batch (on one thread for small batches, on several for large ones). The
Gymnasium env, the native vector env, the Stable-Baselines3 adapter and the Monte Carlo
studies all drive it. It imports neither gymnasium nor torch.

One round of one hub, in order (``docs/model.md#round``):

1. requests reserved a cached ebit at the end of the previous round are served from the
   cache at zero attempts (oldest usable ebit of the pair first);
2. the agent's attempts are launched: each slot gets at most its mask's limit, then the
   slots, oldest request first and prefetch slots last, share the hub capacity ``S`` and
   the per-QPU limit ``c_i`` first come, first served (the cut is counted as
   ``clipped_attempts``);
3. each attempt heralds an ebit with probability ``p_ab``; a request with a success is
   served; every further success (and every prefetch success) goes into the cache within
   ``cache_per_pair`` and ``cache_capacity``, the rest is wasted;
4. requests whose budget ends with this round fail;
5. the round advances; the cache discards ebits past the cutoff or below ``F_min``;
6. the workload's arrivals for the new round join the queue (or are rejected when it is
   full), and pending requests reserve usable cached ebits of their pair for step 1.
"""

from __future__ import annotations

import math
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

from modenhub_env import kernels as kn
from modenhub_env.circuits import RequestDag
from modenhub_env.config import HubConfig
from modenhub_env.observation import observation_size
from modenhub_env.state import COUNTERS, HubState, Layout
from modenhub_env.workload import (
    Popularity,
    Trace,
    circuit_dag,
    circuit_pool_size,
    load_trace,
    max_budget,
    poisson_cdf,
)

#: Batches at least this large are stepped by several threads at once (see :func:`set_threads`).
PARALLEL_MIN_BATCH = 256

#: Names of the ``out`` columns that ``info`` shows, in column order from ``O_COUNTERS``.
INFO_COLUMNS = COUNTERS + (
    "reward_served", "reward_failed", "reward_attempts", "reward_fidelity", "ebit_fidelity", "gate_fidelity",
    "round", "pending", "cache_fill", "reward_makespan",
)
#: The reward components among ``INFO_COLUMNS`` (``reward_makespan``: the circuit workload's).
REWARD_COLUMNS = ("reward_served", "reward_failed", "reward_attempts", "reward_fidelity", "reward_makespan")
#: [rounds] A storage limit this long never binds (an episode lasts at most 10**9 rounds).
NEVER_AGE = 2.0**62

#: ``info`` entries that count whole things (int64 in a vector env's ``info``).
INTEGER_INFO = ("round", "pending", "cache_fill")


def _default_threads() -> int:
    chosen = os.environ.get("MODENHUB_THREADS")
    if chosen is not None:
        if not chosen.isdigit() or int(chosen) < 1:
            raise ValueError(f"MODENHUB_THREADS must be a positive integer, got {chosen!r}")
        return int(chosen)
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


_threads = _default_threads()
_pool: ThreadPoolExecutor | None = None
_pool_pid = 0  # the process that made the pool: a forked child must make its own


def set_threads(count: int) -> None:
    """Threads that step a large batch (or play many episodes) at once, each its own rows;
    1 steps every batch on the calling thread. The default is ``MODENHUB_THREADS`` or the
    CPUs this process may use. Results do not depend on it."""
    global _threads, _pool
    if isinstance(count, bool) or not isinstance(count, (int, np.integer)) or count < 1:
        raise ValueError(f"threads must be a positive integer, got {count!r}")
    if _pool is not None and count != _threads:
        _pool.shutdown()
        _pool = None
    _threads = int(count)


def get_threads() -> int:
    """The thread count of :func:`set_threads`."""
    return _threads


def _spread(kernel, batch: int, smallest: int, *args) -> list:
    """``kernel(start, stop, *args)`` over the rows ``0..batch-1``: on this thread, or in
    contiguous blocks on the pool's threads (the kernels release the GIL)."""
    global _pool, _pool_pid
    if batch < smallest or _threads == 1:
        return [kernel(0, batch, *args)]
    if _pool is None or _pool_pid != os.getpid():  # a fork keeps the pool but not its threads
        _pool, _pool_pid = ThreadPoolExecutor(max_workers=_threads, thread_name_prefix="modenhub"), os.getpid()
    bounds = np.linspace(0, batch, min(_threads, batch) + 1).astype(int).tolist()
    jobs = [_pool.submit(kernel, start, stop, *args) for start, stop in zip(bounds, bounds[1:], strict=False)]
    return [job.result() for job in jobs]



@dataclass
class StepResult:
    """What one round gives each env of the batch (copies, safe to keep)."""

    reward: np.ndarray  # (B,) float64
    terminated: np.ndarray  # (B,) bool: the workload is exhausted
    truncated: np.ndarray  # (B,) bool: episode_rounds reached
    counts: dict[str, np.ndarray]  # COUNTERS and reward components -> (B,) float64
    latency_hist: np.ndarray  # (B, L) int64 requests served this round by latency [rounds]


class ActionRangeError(ValueError):
    """An action outside ``[0, k_max]``; nothing was stepped."""

    def __init__(self, row: int, slot: int, value: int, k_max: int, batched: bool = True) -> None:
        self.row, self.slot, self.value, self.k_max = row, slot, value, k_max
        where = f"{row}, {slot}" if batched else f"{slot}"
        super().__init__(
            f"action[{where}] = {value} is out of range: attempts per slot must be in [0, k_max={k_max}]"
        )

    def unbatched(self) -> ActionRangeError:
        """The same error, indexed as one env's action."""
        return ActionRangeError(self.row, self.slot, self.value, self.k_max, batched=False)


class HubCore:
    """``batch`` ModEn-Hubs of one configuration, stepped together.

    :param config: the scenario.
    :param batch: number of independent hubs ``B``.
    """

    def __init__(self, config: HubConfig, batch: int) -> None:
        if isinstance(batch, bool) or not isinstance(batch, (int, np.integer)) or batch < 1:
            raise ValueError(f"batch must be a positive integer, got {batch!r}")
        self.config = config
        self.batch = int(batch)
        self.eta = config.eta  # (N,) transmission of each spoke
        self.storage_limit = config.storage_limit  # [rounds]
        self.trace = load_trace(config.trace_path, config.n_qpus) if config.workload == "trace" else None
        self.dag = circuit_dag(config) if config.workload == "circuit" else None  # built once per config, cached
        self.max_budget = max_budget(config, self.trace, self.dag)  # [rounds] L, the slack's scale
        self.n_slots = config.request_slots + config.prefetch_slots
        self.visible = min(config.request_slots, config.queue_size)
        gates, pool = (self.dag.n_gates, circuit_pool_size(self.dag)) if self.dag is not None else (0, 0)
        self.layout = Layout(config.queue_size, config.cache_size, config.prefetch_slots, self.max_budget,
                             hash_slots(config), gates, pool)
        iparams, fparams, itable, ftable = scenario_arrays(config, self.trace, self.layout, self.dag)
        b, width, scratch = self.batch, self.layout.width, work_width(config)
        size = observation_size(config.request_slots, config.prefetch_slots, config.observation_version)
        sections = {kn.I_AT_WORK: width, kn.I_AT_ROUND_LATENCY: width + scratch,
                    kn.I_AT_FINAL_LATENCY: width + scratch + self.max_budget, kn.I_OBS_SIZE: size}
        for index, value in sections.items():
            iparams[index] = value
        self._iconsts, self._fconsts = np.concatenate([iparams, itable]), np.concatenate([fparams, ftable])
        # The kernels' packed buffers; the arrays the faces read are views of them.
        self._ints = np.zeros((b, width + scratch + 2 * self.max_budget), dtype=np.int64)
        self._valid = np.zeros((b, config.queue_size), dtype=bool)
        self._floats = np.zeros((b, 2 * kn.N_COUNTERS + 2 * kn.OUT_WIDTH + 1))
        self._obs = np.zeros((b, 2 * size), dtype=np.float32)
        self._bind_views()
        for empty in (self._state.q_reserved, self._state.c_pair, self._state.r_pair):
            empty[:] = -1
        at_hash = self.layout.offsets()["c_hash"]
        self._ints[:, at_hash : at_hash + 2 * self.layout.hash_slots : 2] = -1  # an empty cache index
        self._ints[:, kn.S_OLDEST] = np.iinfo(np.int64).max
        self._edited = False  # whether ``state`` was handed out, to be edited by hand

    def _bind_views(self) -> None:
        """The named views of the packed buffers (again after unpickling, which copies views)."""
        p = self._iconsts
        work, latency, final = p[kn.I_AT_WORK], p[kn.I_AT_ROUND_LATENCY], p[kn.I_AT_FINAL_LATENCY]
        size, counters = p[kn.I_OBS_SIZE], kn.N_COUNTERS
        keys = self._ints.view(np.uint64)[:, kn.S_KEY]
        self._state = HubState.over(self._ints, self._valid, keys, self._floats[:, :counters], self.layout)
        # Outputs of the last kernel call, overwritten by the next one.
        self.obs = self._obs[:, :size]  # (B, D) float32
        self.out = self._floats[:, counters : counters + kn.OUT_WIDTH]  # reward, flags, info
        self.latency = self._ints[:, latency:final]  # (B, L) the round's served by latency
        self.work = self._ints[:, work:latency]  # slot limits, then scratch
        # What an env that ended and restarted (autoreset) leaves behind.
        self.final_obs = self._obs[:, size:]
        self.final_out = self._floats[:, counters + kn.OUT_WIDTH :]  # out, totals, rounds
        self.final_latency = self._ints[:, final:]

    _VIEWS = ("_state", "obs", "out", "latency", "work", "final_obs", "final_out", "final_latency")

    def __getstate__(self) -> dict:
        return {key: value for key, value in vars(self).items() if key not in self._VIEWS}

    def __setstate__(self, state: dict) -> None:
        vars(self).update(state)
        self._bind_views()

    @property
    def state(self) -> HubState:
        """The state, as named views that may be edited in place: from then on, every
        kernel call first rebuilds the cache's index from the entries (a cost of the order
        of the cache's size per env). The faces read :meth:`snapshot` instead."""
        self._edited = True
        return self._state

    @property
    def keys(self) -> np.ndarray:
        """Each env's episode key, (B,) uint64 (a copy)."""
        return self._state.key.copy()

    def episode_totals(self) -> dict[str, np.ndarray]:
        """Totals of each env's episode so far (copies): every counter of ``COUNTERS``,
        ``latency_hist`` (B, L) and ``rounds`` (B,) int64."""
        totals = {name: total.copy() for name, total in self._state.totals.items()}
        totals["latency_hist"] = self._state.latency_hist.copy()
        totals["rounds"] = self._state.round.copy()
        return totals

    def snapshot(self) -> HubState:
        """A copy of the state, to read."""
        keys = self._state.key.copy()
        ints, valid, totals = self._ints.copy(), self._valid.copy(), self._floats[:, : kn.N_COUNTERS].copy()
        return HubState.over(ints, valid, keys, totals, self.layout)

    def _sync(self) -> None:
        """After hand edits of ``state``: check the cache's pair codes, rebuild its index
        and the slots' limits."""
        if self._edited:
            codes = self._state.c_pair
            n = self.config.n_qpus
            a, b = codes // n, codes % n
            bad = (codes >= 0) & ((a > b) | (a == b) & (n > 1) | (codes >= n * n))
            bad |= codes < -1
            if bad.any():
                row, entry = (int(x[0]) for x in np.nonzero(bad))
                raise ValueError(
                    f"state.c_pair[{row}, {entry}] = {int(codes[row, entry])} is not a pair code: "
                    f"-1 or a * N + b with 0 <= a < b < N = {n}" + (" (the pair (0, 0): 0)" if n == 1 else "")
                )
            self.refresh()

    # ------------------------------------------------------------------ kernels

    def reset(self, rows: np.ndarray, keys: np.ndarray) -> None:
        """Start new episodes in the envs selected by the boolean ``rows`` ((B,)), keyed
        by ``keys`` ((B,) uint64; only the selected entries are read). Refreshes ``obs``."""
        rows = kernel_array(rows, bool)
        keys = kernel_array(keys, np.uint64)
        self._sync()
        kn.reset_envs(rows, keys, self._ints, self._valid, self._floats, self._obs, self._iconsts, self._fconsts)

    def advance(self, actions: np.ndarray, autoreset: bool = False) -> None:
        """Every env one round, leaving ``obs``, ``out`` and ``latency`` for the faces to
        read; with ``autoreset``, envs whose episode ended start the next one (keyed from
        the last) and leave their last observation and totals in ``final_*``.

        :param actions: attempts per slot, (B, K + M) int64, C-contiguous.
        :raises ActionRangeError: an action outside ``[0, k_max]``; nothing moves then.
        """
        self._sync()
        if self.batch >= PARALLEL_MIN_BATCH:  # no block may move before every action is checked
            bad = kn.first_bad_action(actions, self._iconsts, 0, self.batch)
        else:
            bad = -1
        if bad < 0:
            args = (self._ints, self._valid, self._floats, self._obs, self._iconsts, self._fconsts, actions, autoreset)
            if self.batch < PARALLEL_MIN_BATCH:  # a single env's path: every microsecond shows
                bad = kn.step_rows(0, self.batch, *args)
            else:
                bad = max(_spread(kn.step_rows, self.batch, PARALLEL_MIN_BATCH, *args))
        if bad >= 0:
            row, slot = divmod(bad, self.n_slots)
            raise ActionRangeError(row, slot, int(actions[row, slot]), self.config.k_max)

    def play(self, policy: np.ndarray, keys: np.ndarray) -> np.ndarray:
        """Play one whole episode in every env under a compiled scheduler (the ``params``
        of an ``agents.base.KernelPolicy``), keyed ``keys`` ((B,) uint64), in one kernel
        call with no Python between rounds: the fused Monte Carlo. Returns each episode's
        return, (B,) float64; its totals, latency histogram and length stay in ``state``."""
        keys = kernel_array(keys, np.uint64)
        actions = np.zeros((self.batch, self.n_slots), dtype=np.int64)
        scratch = np.zeros((self.batch, 3 * self.n_slots), dtype=np.int64)
        returns = np.zeros(self.batch)
        policy = kernel_array(policy, np.float64)
        version = self.config.observation_version
        if policy.ndim != 1 or policy.size < kn.P_SIZE or policy[kn.P_OBS_VERSION] != version:
            raise ValueError(
                f"policy must be the params (at least P_SIZE={kn.P_SIZE}) of a scheduler built for this "
                f"scenario's observation_version={version}, got shape {policy.shape}"
                + (f" and version {policy[kn.P_OBS_VERSION]:g}" if policy.ndim == 1 and policy.size >= kn.P_SIZE else "")
            )
        # Whole episodes are long: even two envs are worth a thread each.
        _spread(kn.play_rows, self.batch, 2, keys, self._ints, self._valid, self._floats, self._obs,
                self._iconsts, self._fconsts, policy, actions, scratch, returns)
        return returns

    def refresh(self) -> None:
        """Rebuild the cache's index and recompute ``obs``, the slots' limits and the state
        summary from the state as it is (after the state was changed by hand)."""
        kn.observe_envs(self._ints, self._valid, self._floats, self._obs, self._iconsts, self._fconsts)

    # ------------------------------------------------------------------ views

    def step(self, actions: np.ndarray) -> StepResult:
        """Advance every env one round; ``actions`` ((B, K + M) ints) are attempts per slot."""
        self.advance(kernel_array(actions, np.int64))
        out = self.out.copy()
        return StepResult(
            reward=out[:, kn.O_REWARD],
            terminated=out[:, kn.O_TERMINATED] > 0,
            truncated=out[:, kn.O_TRUNCATED] > 0,
            counts={name: out[:, kn.O_COUNTERS + col] for col, name in enumerate(INFO_COLUMNS)
                    if name in COUNTERS or name in REWARD_COLUMNS},
            latency_hist=self.latency.copy(),
        )

    def slot_pairs(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """QPUs ``a``, ``b`` and presence of every slot, each (B, K + M): the ``K`` oldest
        pending requests, then the ``M`` most recently requested pairs (``(0, 0)`` where
        a slot is empty)."""
        self._sync()
        s = self.n_slots
        return self.work[:, s : 2 * s].copy(), self.work[:, 2 * s : 3 * s].copy(), self.work[:, 3 * s : 4 * s] > 0

    @property
    def launched(self) -> np.ndarray:
        """Attempts launched per slot in the last round, (B, K + M) int64 (a copy)."""
        s = self.n_slots
        return self.work[:, 4 * s : 5 * s].copy()

    def slot_limits(self) -> np.ndarray:
        """Most attempts each slot may launch on its own this round, (B, K + M): 0 for an
        empty slot, a request served from the cache, or a prefetch pair with no room."""
        self._sync()
        return self.work[:, : self.n_slots].copy()


def kernel_array(values, dtype) -> np.ndarray:
    """``values`` as a kernel takes them: C-contiguous and writable (a copy if need be), since
    numba compiles anew for a read-only or strided array, and each kernel keeps one signature."""
    return np.require(values, dtype=dtype, requirements=["C", "W"])


def work_width(config: HubConfig) -> int:
    """Scratch columns per env: the slots' limits, pairs, presence, launched attempts and
    successes, then room to rank the prefetch candidates."""
    slots, queue = config.request_slots + config.prefetch_slots, config.queue_size
    return 6 * slots + 2 * (queue + config.prefetch_slots)


def hash_slots(config: HubConfig) -> int:
    """Slots of the cache index's hash table: a power of two at least twice the pairs the
    cache can hold at once (and at least 4), 0 without a cache."""
    if config.cache_size == 0:
        return 0
    n = config.n_qpus
    pairs = max(n * (n - 1) // 2, 1)
    return max(4, 1 << (2 * min(config.cache_size, pairs) - 1).bit_length())


def scenario_arrays(
    config: HubConfig, trace: Trace | None, layout: Layout, dag: RequestDag | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The scenario as the kernels read it: ``iparams`` and ``fparams`` (indices
    ``kernels.I_*`` and ``F_*``), and the tables ``itable`` (popular pairs, trace rows,
    the circuit's request DAG) and ``ftable`` (spoke transmissions, Poisson and
    popularity CDFs)."""
    cfg = config
    workload = {"sequential": kn.WORKLOAD_SEQUENTIAL, "poisson": kn.WORKLOAD_POISSON, "trace": kn.WORKLOAD_TRACE,
                "circuit": kn.WORKLOAD_CIRCUIT}
    empty_i, empty_f = np.zeros(0, dtype=np.int64), np.zeros(0)
    popularity = Popularity.build(cfg) if cfg.zipf_exponent > 0 else None
    cdf = poisson_cdf(cfg.arrival_rate) if cfg.workload == "poisson" else empty_f
    starts = trace.arrivals_per_round() if trace is not None else empty_i
    int_parts = {
        kn.I_AT_POP_A: popularity.a if popularity else empty_i,
        kn.I_AT_POP_B: popularity.b if popularity else empty_i,
        kn.I_AT_TRACE_A: trace.a if trace else empty_i,
        kn.I_AT_TRACE_B: trace.b if trace else empty_i,
        kn.I_AT_TRACE_BUDGET: trace.budget if trace else empty_i,
        kn.I_AT_STARTS: starts,
    }
    for index, name in CIRCUIT_TABLES.items():
        int_parts[index] = getattr(dag, name) if dag is not None else empty_i
    float_parts = {-1: cfg.eta, kn.I_AT_CDF: cdf, kn.I_AT_POP_CDF: popularity.cdf if popularity else empty_f}
    iparams = np.zeros(kn.I_SIZE, dtype=np.int64)
    itable, ftable = _pack(int_parts, iparams, np.int64), _pack(float_parts, iparams, np.float64)
    storage = cfg.storage_limit
    values = {
        kn.I_N: cfg.n_qpus, kn.I_K: cfg.request_slots, kn.I_M: cfg.prefetch_slots, kn.I_Q: cfg.queue_size,
        kn.I_C: cfg.cache_size, kn.I_KMAX: cfg.k_max, kn.I_CAPACITY: _or_unlimited(cfg.max_attempts_per_round),
        kn.I_COMM: _or_unlimited(cfg.comm_qubits_per_qpu), kn.I_PER_PAIR: cfg.cache_per_pair,
        kn.I_WORKLOAD: workload[cfg.workload], kn.I_EPISODE_REQUESTS: cfg.episode_requests,
        kn.I_EPISODE_ROUNDS: _or_unlimited(cfg.episode_rounds), kn.I_BUDGET: cfg.round_budget,
        kn.I_MAX_BUDGET: layout.max_budget,
        kn.I_STORAGE: -1 if storage >= NEVER_AGE or cfg.cache_size == 0 else int(storage),
        kn.I_K_PARALLEL: cfg.k_parallel, kn.I_TRACE_ROWS: trace.rows if trace else 0,
        kn.I_CDF_SIZE: cdf.size, kn.I_POP_SIZE: popularity.cdf.size if popularity else 0,
        kn.I_STARTS_SIZE: starts.size, kn.I_OBS_VERSION: cfg.observation_version,
        kn.I_GATES: dag.n_gates if dag is not None else 0, kn.I_LOCAL_DEPTH: dag.local_depth if dag is not None else 0,
    }
    offsets = layout.offsets()
    names = {
        kn.I_AT_QA: "q_a", kn.I_AT_QB: "q_b", kn.I_AT_ARRIVAL: "q_arrival", kn.I_AT_DEADLINE: "q_deadline",
        kn.I_AT_ATTEMPTS: "q_attempts", kn.I_AT_RESERVED: "q_reserved", kn.I_AT_CPAIR: "c_pair",
        kn.I_AT_CBIRTH: "c_birth", kn.I_AT_RPAIR: "r_pair", kn.I_AT_RROUND: "r_round",
        kn.I_AT_LATENCY: "latency_hist", kn.I_AT_CNEXT: "c_next", kn.I_AT_HASH: "c_hash",
        kn.I_AT_QGATE: "q_gate", kn.I_AT_GWAIT: "g_waiting", kn.I_AT_GREADY: "g_ready", kn.I_AT_GSERVED: "g_served",
        kn.I_AT_GAGE: "g_age", kn.I_AT_GPOOL: "g_pool", kn.I_AT_CEND: "circuit_end", kn.I_AT_CPOOLED: "g_pooled",
    }
    values[kn.I_H] = layout.hash_slots
    values.update({index: offsets[name] for index, name in names.items()})
    for index, value in values.items():
        iparams[index] = value
    fparams = np.zeros(kn.F_SIZE)
    fparams[kn.F_P_BSM], fparams[kn.F_F0], fparams[kn.F_T_COH] = cfg.p_bsm, cfg.f0, cfg.t_coh
    fparams[kn.F_W_FAIL], fparams[kn.F_W_ATTEMPT], fparams[kn.F_W_FIDELITY] = cfg.w_fail, cfg.w_attempt, cfg.w_fidelity
    capacity = cfg.max_attempts_per_round
    fparams[kn.F_OBS_CAPACITY] = 1.0 if capacity is None else min(1.0, capacity / (cfg.request_slots * cfg.k_max))
    fparams[kn.F_OBS_LOG2N] = math.log2(cfg.n_qpus) / 12.0
    fparams[kn.F_OBS_KPAR] = min(1.0, cfg.k_parallel / cfg.k_max)
    return iparams, fparams, itable, ftable


#: The request DAG's arrays in ``itable``: table offset index -> ``RequestDag`` field.
CIRCUIT_TABLES = {
    kn.I_AT_PAIR_A: "pair_a", kn.I_AT_PAIR_B: "pair_b", kn.I_AT_SUCC_PTR: "succ_ptr", kn.I_AT_SUCC: "succ",
    kn.I_AT_SUCC_LAG: "succ_lag", kn.I_AT_START_LAG: "start_lag", kn.I_AT_END_LAG: "end_lag",
    kn.I_AT_CRITICAL: "critical_path", kn.I_AT_INDEGREE: "indegree",
}


def _pack(parts: dict[int, np.ndarray], iparams: np.ndarray, dtype) -> np.ndarray:
    """Concatenate ``parts``, writing each one's offset to ``iparams`` at its key (the
    first, keyed -1, starts at 0 and needs no offset)."""
    offsets = np.cumsum([0] + [part.size for part in parts.values()])
    for (index, _), offset in zip(parts.items(), offsets, strict=False):
        if index >= 0:
            iparams[index] = offset
    return np.concatenate([np.asarray(part, dtype=dtype) for part in parts.values()]).astype(dtype)


def _or_unlimited(value: int | None) -> int:
    return -1 if value is None else int(value)
