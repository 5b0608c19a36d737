"""The compiled core: one round of the ModEn-Hub, its observation and its reset, as numba
kernels that loop over envs on scalars (``docs/model.md#round``).

Every function here that simulates is jitted, and all of them live in this one file: a
kernel compiled with ``cache=True`` embeds the helpers it calls, and numba checks only the
kernel's own file for changes, so a helper in another file could be loaded stale.

Data layout (built by :mod:`modenhub_env.core`, which owns the arrays): the entry
kernels take few arrays, since numba charges for every array argument of a call.

* ``ints`` ``(B, W)`` int64, per env: the state (the round, the requests issued, the
  episode key's bits, the queue's pair, arrival, deadline, attempts and reservation per
  slot, the cache's pair and birth per entry, the prefetch candidates' pair and round,
  the episode's latency histogram, the circuit's gate per slot and state per gate), then
  the scratch ``work`` (whose first ``K + M``
  columns hold the slots' attempt limits after each call), the round's latency
  histogram and the last finished episode's; offsets in ``iparams``.
* ``valid`` ``(B, Q)`` bool: pending requests.
* ``floats`` ``(B, ...)`` float64: the episode's totals (``len(COUNTERS)``), then ``out``
  (``OUT_WIDTH``: reward, flags, the round's counters, reward components, fidelities and
  state summary, at ``O_*``), then what a finished episode left (``final_out``).
* ``obs_buffer`` ``(B, 2 D)`` float32: the observation, then a finished episode's last.
* ``iconsts``/``fconsts``: the scenario's integers and reals (``iparams``, indices
  ``I_*``; ``fparams``, ``F_*``), each followed by its lookup tables (popular pairs,
  trace rows, the circuit's request DAG; spoke transmissions, Poisson and popularity
  CDFs) at offsets in ``iparams``.

:func:`_sections` cuts them into the named views the per-env functions take.

Randomness is counter-based (SplitMix64 of key, round, stream and index), so an env's
numbers never depend on its batch: a single env equals a row of a vector env, and rows
stepped by several threads at once equal rows stepped by one.
"""

from __future__ import annotations

import math
import os
import tempfile
import warnings

import numpy as np
from numba import config as numba_config
from numba import njit

# ---------------------------------------------------------------------------- caching


def cache_folders() -> list[str]:
    """Where numba may keep its on-disk cache, in its order: ``NUMBA_CACHE_DIR`` if set,
    beside this file, the user's cache folder."""
    candidates = [os.environ.get("NUMBA_CACHE_DIR"), os.path.join(os.path.dirname(__file__), "__pycache__")]
    candidates.append(os.path.join(os.path.expanduser("~"), ".cache", "numba"))
    return [folder for folder in candidates if folder]


def cache_writable(folders: list[str]) -> bool:
    """Whether any of ``folders`` can be created and written to."""
    for folder in folders:
        try:
            os.makedirs(folder, exist_ok=True)
            with tempfile.TemporaryFile(dir=folder):
                return True
        except OSError:
            continue
    return False


CACHE = cache_writable(cache_folders())
if not CACHE:
    warnings.warn(
        "modenhub: no writable folder for numba's kernel cache (beside the package, "
        "NUMBA_CACHE_DIR or ~/.cache/numba); every process compiles the kernels anew "
        "(a few seconds). Set NUMBA_CACHE_DIR to a writable folder to avoid it.",
        RuntimeWarning,
        stacklevel=2,
    )
#: How every kernel here is compiled: cached on disk, and without numba's reference counting.
#: They allocate nothing (but :func:`next_episode_keys`), so there is nothing to count; and
#: counting the arrays handed to every helper cost most of a round and made threads
#: contend for the same counters.
JIT = {"cache": CACHE, "_nrt": False}

if numba_config.DISABLE_JIT:
    # Run as plain Python, numpy's uint64 scalars warn where the hash wraps by design.
    warnings.filterwarnings("ignore", "overflow encountered", RuntimeWarning, __name__)

# ---------------------------------------------------------------------------- indices

# iparams: the scenario's integers.
I_N = 0  # QPUs N
I_K = 1  # request slots K
I_M = 2  # prefetch slots M
I_Q = 3  # queue slots Q
I_C = 4  # cache entries C
I_KMAX = 5  # [attempts] most per slot and round
I_CAPACITY = 6  # [attempts/round] hub capacity S, -1 if unlimited
I_COMM = 7  # [attempts/round] per-QPU limit c_i, -1 if unlimited
I_PER_PAIR = 8  # [ebits] cache entries per pair
I_WORKLOAD = 9  # WORKLOAD_* code
I_EPISODE_REQUESTS = 10  # [requests] of a sequential episode
I_EPISODE_ROUNDS = 11  # [rounds] truncation, -1 if none
I_BUDGET = 12  # [rounds] round budget R of generated requests
I_MAX_BUDGET = 13  # [rounds] longest budget, the slack's scale
I_STORAGE = 14  # [rounds] oldest usable age of a cached ebit, -1 if unlimited
I_K_PARALLEL = 15  # [attempts] k(N) of the log-parallel orchestrator
I_TRACE_ROWS = 16  # [requests] rows of the trace
I_CDF_SIZE = 17  # entries of the Poisson CDF
I_POP_SIZE = 18  # pairs ranked by popularity, 0 for uniform pairs
I_STARTS_SIZE = 19  # entries of the trace's first-row-per-round index
# Offsets into ``ints`` of the per-env state.
I_AT_QA, I_AT_QB, I_AT_ARRIVAL, I_AT_DEADLINE, I_AT_ATTEMPTS, I_AT_RESERVED = 20, 21, 22, 23, 24, 25
I_AT_CPAIR, I_AT_CBIRTH, I_AT_RPAIR, I_AT_RROUND, I_AT_LATENCY = 26, 27, 28, 29, 30
# Offsets into the tables.
I_AT_POP_A, I_AT_POP_B, I_AT_TRACE_A, I_AT_TRACE_B, I_AT_TRACE_BUDGET, I_AT_STARTS = 31, 32, 33, 34, 35, 36
I_AT_CDF, I_AT_POP_CDF = 37, 38
# Sections of the packed buffers: ``ints`` = state | work | round latency | final latency;
# ``obs`` = observation | final observation.
I_AT_WORK, I_AT_ROUND_LATENCY, I_AT_FINAL_LATENCY, I_OBS_SIZE = 39, 40, 41, 42
# The cache's index: slots of its hash table (a power of two), then offsets of the
# entries' chains and of the table.
I_H, I_AT_CNEXT, I_AT_HASH = 43, 44, 45
# The circuit workload (``docs/model.md#circuits``): the request DAG's size, then offsets
# into ``ints`` of the per-env circuit state (each queue slot's gate; each gate's
# predecessors not yet done, the round it may become pending, the round it was served and
# the age of the ebit that served it; the pool of released gates; the round the circuit
# can end by, and the pool's fill), then offsets of the DAG's tables.
I_GATES = 46  # non-local gates G of the circuit, 0 for other workloads
I_LOCAL_DEPTH = 47  # [rounds] the circuit's local depth
I_AT_QGATE, I_AT_GWAIT, I_AT_GREADY, I_AT_GSERVED, I_AT_GAGE, I_AT_GPOOL = 48, 49, 50, 51, 52, 53
I_AT_CEND, I_AT_CPOOLED = 54, 55
I_AT_PAIR_A, I_AT_PAIR_B, I_AT_SUCC_PTR, I_AT_SUCC, I_AT_SUCC_LAG = 56, 57, 58, 59, 60
I_AT_START_LAG, I_AT_END_LAG, I_AT_CRITICAL, I_AT_INDEGREE = 61, 62, 63, 64
I_OBS_VERSION = 65  # the observation's layout: 0 (ModEnHub-v0) or 1 (ModEnHub-v1)
I_SIZE = 66

# fparams: the scenario's reals.
F_P_BSM = 0  # Bell-state-measurement success probability
F_F0 = 1  # fidelity of a fresh ebit
F_T_COH = 2  # [rounds] coherence time, inf for none
F_W_FAIL = 3  # reward weight of a failed request
F_W_ATTEMPT = 4  # reward weight of one attempt
F_OBS_CAPACITY = 5  # global feature: hub capacity
F_OBS_LOG2N = 6  # global feature: log2(N) / 12
F_OBS_KPAR = 7  # global feature: k(N) / k_max
F_W_FIDELITY = 8  # reward weight of the fidelity a served request's ebit lost in storage
F_SIZE = 9

# Columns of ``ints`` before the per-env arrays.
S_ROUND = 0  # [rounds] since the episode began
S_ISSUED = 1  # requests issued (sequential) or trace rows read
S_KEY = 2  # the episode's random key (uint64 bits)
S_FILLED = 3  # [ebits] cache entries in use
S_FREE = 4  # no cache entry below it is free
S_OLDEST = 5  # [rounds] no cached ebit was heralded before it
S_HASHED = 6  # pairs in the cache's hash table (some may have no entry left)
S_HEAD = 7

WORKLOAD_SEQUENTIAL, WORKLOAD_POISSON, WORKLOAD_TRACE, WORKLOAD_CIRCUIT = 0, 1, 2, 3

# Columns of ``out``: reward and flags, the COUNTERS of ``modenhub_env.state`` in their
# order, the reward components, fidelities and the state after the round.
O_REWARD, O_TERMINATED, O_TRUNCATED = 0, 1, 2
O_ARRIVED, O_SERVED, O_FAILED, O_REJECTED, O_ATTEMPTS, O_PREFETCH = 3, 4, 5, 6, 7, 8
O_CLIPPED, O_CACHE_HITS, O_CACHED, O_WASTED, O_EXPIRED = 9, 10, 11, 12, 13
O_FIDELITY_SUM, O_LATENCY_SUM, O_ATTEMPTS_SQ = 14, 15, 16
O_REWARD_SERVED, O_REWARD_FAILED, O_REWARD_ATTEMPTS, O_REWARD_FIDELITY = 17, 18, 19, 20
O_EBIT_FIDELITY, O_GATE_FIDELITY = 21, 22
O_ROUND, O_PENDING, O_CACHE_FILL = 23, 24, 25
O_REWARD_MAKESPAN = 26  # circuit workload: -1 for a round before the circuit is done
OUT_WIDTH = 27
O_COUNTERS = 3  # first counter column
N_COUNTERS = 14

# Observation layout (names in ``modenhub_env.observation``): features of the global
# block, of a request slot and of a prefetch slot, in version 0 and in version 1, which
# appends its own to each block.
N_GLOBAL, N_REQUEST, N_PREFETCH = 6, 9, 6
N_GLOBAL_V1, N_REQUEST_V1, N_PREFETCH_V1 = 8, 12, 9

# Random streams: one per kind of draw, so that adding draws of one kind never shifts another.
ATTEMPTS, ARRIVAL_COUNT, ARRIVAL_PAIRS = 1, 2, 3

WERNER_FLOOR = 0.25  # fidelity of a fully depolarised two-qubit state
_NEVER = 2**63 - 1  # an unlimited capacity

# ---------------------------------------------------------------------------- randomness

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)
_STREAM = np.uint64(0xD1B54A32D192ED03)
_NEXT_EPISODE = np.uint64(0x5851F42D4C957F2D)
_SHIFT_30, _SHIFT_27, _SHIFT_31, _SHIFT_11 = np.uint64(30), np.uint64(27), np.uint64(31), np.uint64(11)
_TO_UNIT = 2.0**-53


@njit(**JIT, inline="always")
def splitmix64(x: np.uint64) -> np.uint64:
    """The SplitMix64 finaliser (wrapping uint64 arithmetic)."""
    z = x + _GOLDEN
    z = (z ^ (z >> _SHIFT_30)) * _MIX1
    z = (z ^ (z >> _SHIFT_27)) * _MIX2
    return z ^ (z >> _SHIFT_31)


@njit(**JIT, inline="always")
def uniform(key: np.uint64, counter: int, stream: int, index: int) -> float:
    """A uniform in ``[0, 1)``, a pure function of the episode key, the round, the stream
    and the draw's index within the stream."""
    offset = np.uint64(stream) * _STREAM
    base = splitmix64(key ^ (np.uint64(counter) * _GOLDEN + offset))
    bits = splitmix64(base + np.uint64(index) * _STREAM)
    return float(bits >> _SHIFT_11) * _TO_UNIT


@njit(**JIT, inline="always")
def _key(ints, i: int) -> np.uint64:
    """Env ``i``'s episode key."""
    return np.uint64(ints[i, S_KEY])


@njit(**JIT, inline="always")
def next_episode_key(key: np.uint64) -> np.uint64:
    """The key of the episode after the one keyed ``key`` (autoreset without a seed)."""
    return splitmix64(key ^ _NEXT_EPISODE)


# ---------------------------------------------------------------------------- physics


@njit(**JIT, inline="always")
def werner_fidelity(age: int, f0: float, t_coh: float) -> float:
    """``F(t) = 1/4 + (F0 - 1/4) exp(-t / T_coh)`` after ``age`` rounds; ``T_coh = inf`` keeps ``F0``."""
    if math.isinf(t_coh):
        return f0
    return WERNER_FLOOR + (f0 - WERNER_FLOOR) * math.exp(-float(age) / t_coh)


@njit(**JIT, inline="always")
def pair_code(a: int, b: int, n: int) -> int:
    """Code of the unordered pair ``(a, b)``: ``min * N + max``."""
    return min(a, b) * n + max(a, b)


@njit(**JIT, inline="always")
def pair_probability(a: int, b: int, fparams, ftable) -> float:
    """Heralding probability of one attempt, ``P_bsm * eta_a * eta_b``."""
    return fparams[F_P_BSM] * ftable[a] * ftable[b]


@njit(**JIT, inline="always")
def bisect_right(table, start: int, size: int, u: float) -> int:
    """How many of ``table[start:start + size]`` (sorted) are ``<= u``."""
    low, high = 0, size
    while low < high:
        middle = (low + high) // 2
        if table[start + middle] <= u:
            low = middle + 1
        else:
            high = middle
    return low


# ---------------------------------------------------------------------------- cache
# The cache's entries hold a pair code and a birth round each (``c_pair``, ``c_birth``;
# -1 marks a free entry). An index finds a pair's entries without scanning them all: a
# hash table with linear probing maps a pair code to the first of its entries, and each
# entry links to the next of the same pair (``c_next``). The table keeps a pair whose
# entries are all gone (its chain is empty) until it is rebuilt, when it is three
# quarters full. ``S_FILLED``, ``S_FREE`` and ``S_OLDEST`` spare scanning for a free
# entry or for expired ones. :func:`reindex_envs` rebuilds it all from the entries, after
# they were edited by hand.


@njit(**JIT, inline="always")
def _home(code: int, mask: int) -> int:
    """The hash table slot where the search for ``code`` starts."""
    return ((code * 2654435761) >> 16) & mask


@njit(**JIT, inline="always")
def _slot_of(i: int, ints, iparams, code: int, add: bool = False) -> int:
    """The hash table slot holding ``code``; if it is missing, -1, or with ``add`` a free
    slot that now holds it with an empty chain."""
    at, mask = iparams[I_AT_HASH], iparams[I_H] - 1
    h = _home(code, mask)
    while True:
        key = ints[i, at + 2 * h]
        if key == code:
            return h
        if key < 0:
            if not add:
                return -1
            ints[i, at + 2 * h] = code
            ints[i, at + 2 * h + 1] = -1
            ints[i, S_HASHED] += 1
            return h
        h = (h + 1) & mask


@njit(**JIT, inline="always")
def _cached_for(i: int, code: int, ints, iparams) -> tuple[int, int]:
    """Cached ebits of the pair ``code`` and the round the youngest was heralded (-1 if none)."""
    count, youngest = 0, -1
    if iparams[I_C] == 0:
        return count, youngest
    h = _slot_of(i, ints, iparams, code)
    if h < 0:
        return count, youngest
    at_birth, at_next = iparams[I_AT_CBIRTH], iparams[I_AT_CNEXT]
    e = ints[i, iparams[I_AT_HASH] + 2 * h + 1]
    while e >= 0:
        count += 1
        youngest = max(youngest, ints[i, at_birth + e])
        e = ints[i, at_next + e]
    return count, youngest


@njit(**JIT)
def _clear_index(i: int, ints, iparams) -> None:
    """An empty hash table and no entry in use."""
    at = iparams[I_AT_HASH]
    for h in range(iparams[I_H]):
        ints[i, at + 2 * h] = -1
    ints[i, S_FILLED] = 0
    ints[i, S_FREE] = 0
    ints[i, S_OLDEST] = _NEVER
    ints[i, S_HASHED] = 0


@njit(**JIT, inline="always")
def _link(i: int, ints, iparams, e: int) -> None:
    """Put entry ``e`` (its pair and birth set) at the head of its pair's chain."""
    h = _slot_of(i, ints, iparams, ints[i, iparams[I_AT_CPAIR] + e], True)
    head = iparams[I_AT_HASH] + 2 * h + 1
    ints[i, iparams[I_AT_CNEXT] + e] = ints[i, head]
    ints[i, head] = e
    ints[i, S_FILLED] += 1
    ints[i, S_OLDEST] = min(ints[i, S_OLDEST], ints[i, iparams[I_AT_CBIRTH] + e])


@njit(**JIT)
def _rebuild_index(i: int, ints, iparams) -> None:
    """The index anew from the entries as they are."""
    _clear_index(i, ints, iparams)
    at_pair = iparams[I_AT_CPAIR]
    for e in range(iparams[I_C]):
        if ints[i, at_pair + e] >= 0:
            _link(i, ints, iparams, e)
    free = 0
    while free < iparams[I_C] and ints[i, at_pair + free] >= 0:
        free += 1
    ints[i, S_FREE] = free


@njit(**JIT)
def _cache_put(i: int, ints, iparams, code: int, birth: int) -> None:
    """An ebit of the pair ``code`` heralded in round ``birth`` into the lowest free entry
    (there must be one)."""
    if 4 * (ints[i, S_HASHED] + 1) > 3 * iparams[I_H]:
        _rebuild_index(i, ints, iparams)
    at_pair = iparams[I_AT_CPAIR]
    e = ints[i, S_FREE]
    while ints[i, at_pair + e] >= 0:
        e += 1
    ints[i, at_pair + e] = code
    ints[i, iparams[I_AT_CBIRTH] + e] = birth
    _link(i, ints, iparams, e)
    ints[i, S_FREE] = e + 1


@njit(**JIT)
def _cache_drop(i: int, ints, iparams, e: int) -> None:
    """Free entry ``e`` (in use)."""
    at_next = iparams[I_AT_CNEXT]
    h = _slot_of(i, ints, iparams, ints[i, iparams[I_AT_CPAIR] + e])
    link = iparams[I_AT_HASH] + 2 * h + 1  # the column that points at the next entry
    while ints[i, link] != e:
        link = at_next + ints[i, link]
    ints[i, link] = ints[i, at_next + e]
    ints[i, iparams[I_AT_CPAIR] + e] = -1
    ints[i, S_FILLED] -= 1
    ints[i, S_FREE] = min(ints[i, S_FREE], e)


# ---------------------------------------------------------------------------- slots


@njit(**JIT)
def _fill_slots(i: int, ints, valid, iparams, work) -> None:
    """Each slot's pair, presence and attempt limit into ``work``: the ``K`` oldest pending
    requests, then the ``M`` most recently requested pairs (an empty slot shows the pair
    ``(0, 0)``). A slot may launch up to ``min(k_max, S, c_i)``; none for an empty slot, a
    request served from the cache this round, or a prefetch pair whose cache has no room.
    Every kernel call ends with it (in :func:`_observe`), so a round starts with ``work``
    as it is."""
    n, k, m, q = iparams[I_N], iparams[I_K], iparams[I_M], iparams[I_Q]
    s = k + m
    cap = iparams[I_KMAX]
    if iparams[I_CAPACITY] >= 0:
        cap = min(cap, iparams[I_CAPACITY])
    if iparams[I_COMM] >= 0:
        cap = min(cap, iparams[I_COMM])
    at_a, at_b, at_reserved = iparams[I_AT_QA], iparams[I_AT_QB], iparams[I_AT_RESERVED]
    for j in range(k):
        present = j < q and valid[i, j]
        a = ints[i, at_a + j] if present else 0
        b = ints[i, at_b + j] if present else 0
        work[i, s + j], work[i, 2 * s + j], work[i, 3 * s + j] = a, b, present
        served_from_cache = present and ints[i, at_reserved + j] >= 0
        work[i, j] = cap if present and not served_from_cache else 0
    room = ints[i, S_FILLED] < iparams[I_C]
    for j in range(m):
        code = ints[i, iparams[I_AT_RPAIR] + j]
        present = code >= 0
        a = code // n if present else 0
        b = code % n if present else 0
        work[i, s + k + j], work[i, 2 * s + k + j], work[i, 3 * s + k + j] = a, b, present
        limit = 0
        if present and room:
            cached, _ = _cached_for(i, pair_code(a, b, n), ints, iparams)
            if cached < iparams[I_PER_PAIR]:
                limit = cap
        work[i, k + j] = limit


# ---------------------------------------------------------------------------- serving


@njit(**JIT, inline="always")
def _record_served(i: int, slot: int, ints, iparams, out, latency) -> float:
    """Counters of a request served now; returns its attempts squared."""
    waited = ints[i, S_ROUND] - ints[i, iparams[I_AT_ARRIVAL] + slot]
    spent = float(ints[i, iparams[I_AT_ATTEMPTS] + slot])
    out[i, O_SERVED] += 1.0
    out[i, O_LATENCY_SUM] += waited
    latency[i, min(waited, latency.shape[1] - 1)] += 1  # a circuit's gate may wait past the last bin
    return spent * spent


@njit(**JIT)
def _serve_from_cache(i: int, ints, valid, iparams, fparams, out, latency) -> None:
    """Serve the requests that reserved a cached ebit, and free those entries; the fidelity
    their ebits lost in the cache, the sum of ``F0 - F``, goes to ``O_REWARD_FIDELITY``
    until :func:`_finish` weighs it."""
    at_reserved, at_birth = iparams[I_AT_RESERVED], iparams[I_AT_CBIRTH]
    fidelity_sum = 0.0
    lost = 0.0
    squares = 0.0
    for j in range(iparams[I_Q]):
        entry = ints[i, at_reserved + j]
        if entry < 0:
            continue
        age = ints[i, S_ROUND] - ints[i, at_birth + entry]
        if iparams[I_WORKLOAD] == WORKLOAD_CIRCUIT:
            ints[i, iparams[I_AT_GAGE] + ints[i, iparams[I_AT_QGATE] + j]] = age
        fidelity = werner_fidelity(age, fparams[F_F0], fparams[F_T_COH])
        fidelity_sum += fidelity
        lost += fparams[F_F0] - fidelity
        squares += _record_served(i, j, ints, iparams, out, latency)
        out[i, O_CACHE_HITS] += 1.0
        _cache_drop(i, ints, iparams, entry)
        valid[i, j] = False
        ints[i, at_reserved + j] = -1
    out[i, O_FIDELITY_SUM] += fidelity_sum
    out[i, O_REWARD_FIDELITY] = lost
    out[i, O_ATTEMPTS_SQ] += squares


@njit(**JIT)
def _fit_capacity(i: int, actions, iparams, work) -> None:
    """Launched attempts per slot into ``work``: each slot's ask cut to its limit, then the
    slots, in order, share the hub capacity ``S`` and the per-QPU limit ``c_i`` first
    come, first served."""
    s = iparams[I_K] + iparams[I_M]
    capacity, per_qpu = iparams[I_CAPACITY], iparams[I_COMM]
    left = capacity if capacity >= 0 else _NEVER
    for j in range(s):
        grant = min(min(actions[i, j], work[i, j]), left)
        if grant > 0 and per_qpu >= 0:
            a, b = work[i, s + j], work[i, 2 * s + j]
            used_a, used_b = 0, 0
            for earlier in range(j):
                granted = work[i, 4 * s + earlier]
                if granted == 0:
                    continue
                ea, eb = work[i, s + earlier], work[i, 2 * s + earlier]
                if ea == a or eb == a:
                    used_a += granted
                if ea == b or eb == b:
                    used_b += granted
            grant = min(grant, min(per_qpu - used_a, per_qpu - used_b))
        work[i, 4 * s + j] = grant
        left -= grant


@njit(**JIT)
def _attempt(i: int, ints, iparams, fparams, ftable, work) -> None:
    """Heralded ebits per slot into ``work``: launched Bernoulli(``p_ab``) trials, each
    drawn at its own index (slot x k_max + attempt) of the round's attempt stream."""
    s = iparams[I_K] + iparams[I_M]
    k_max = iparams[I_KMAX]
    for j in range(s):
        p = pair_probability(work[i, s + j], work[i, 2 * s + j], fparams, ftable)
        successes = 0
        for t in range(work[i, 4 * s + j]):
            if uniform(_key(ints, i), ints[i, S_ROUND], ATTEMPTS, j * k_max + t) < p:
                successes += 1
        work[i, 5 * s + j] = successes


@njit(**JIT)
def _serve_fresh(i: int, ints, valid, iparams, fparams, out, latency, work) -> None:
    """Serve visible requests with a success this round; the slot's surplus stays in ``work``."""
    k, s = iparams[I_K], iparams[I_K] + iparams[I_M]
    at_attempts = iparams[I_AT_ATTEMPTS]
    visible = min(k, iparams[I_Q])
    for j in range(visible):
        ints[i, at_attempts + j] += work[i, 4 * s + j]
    fidelity_sum = 0.0
    squares = 0.0
    for j in range(visible):
        if work[i, 5 * s + j] > 0 and valid[i, j]:
            work[i, 5 * s + j] -= 1
            valid[i, j] = False
            fidelity_sum += fparams[F_F0]
            squares += _record_served(i, j, ints, iparams, out, latency)
    out[i, O_FIDELITY_SUM] += fidelity_sum
    out[i, O_ATTEMPTS_SQ] += squares


@njit(**JIT)
def _store(i: int, ints, iparams, out, work) -> None:
    """Surplus ebits of each slot's pair into free cache entries (lowest first), within
    ``cache_per_pair`` and the free entries; the rest is wasted."""
    n, s, c = iparams[I_N], iparams[I_K] + iparams[I_M], iparams[I_C]
    for j in range(s):
        out[i, O_WASTED] += work[i, 5 * s + j]
    if c == 0:
        return
    for j in range(s):
        surplus = work[i, 5 * s + j]
        if surplus <= 0:
            continue
        code = pair_code(work[i, s + j], work[i, 2 * s + j], n)
        same, _ = _cached_for(i, code, ints, iparams)
        stored = max(min(surplus, min(iparams[I_PER_PAIR] - same, c - ints[i, S_FILLED])), 0)
        for _ in range(stored):
            _cache_put(i, ints, iparams, code, ints[i, S_ROUND])
        out[i, O_CACHED] += stored
        out[i, O_WASTED] -= stored


@njit(**JIT)
def _fail(i: int, ints, valid, iparams, out) -> None:
    """Requests whose budget ends with this round fail (a circuit's gates never do: their
    deadline is a soft one, see :func:`_gate_deadlines`)."""
    if iparams[I_WORKLOAD] == WORKLOAD_CIRCUIT:
        return
    at_deadline, at_attempts = iparams[I_AT_DEADLINE], iparams[I_AT_ATTEMPTS]
    squares = 0
    for j in range(iparams[I_Q]):
        if valid[i, j] and ints[i, at_deadline + j] <= ints[i, S_ROUND] + 1:
            out[i, O_FAILED] += 1.0
            squares += ints[i, at_attempts + j] ** 2
            valid[i, j] = False
    out[i, O_ATTEMPTS_SQ] += squares


@njit(**JIT)
def _expire(i: int, ints, iparams, out) -> None:
    """Discard cached ebits older than the storage limit (cutoff or fidelity floor)."""
    limit, now = iparams[I_STORAGE], ints[i, S_ROUND]
    if limit < 0 or ints[i, S_FILLED] == 0 or now - ints[i, S_OLDEST] <= limit:
        return
    at_pair, at_birth = iparams[I_AT_CPAIR], iparams[I_AT_CBIRTH]
    oldest = _NEVER
    for e in range(iparams[I_C]):
        if ints[i, at_pair + e] < 0:
            continue
        if now - ints[i, at_birth + e] > limit:
            out[i, O_EXPIRED] += 1.0
            _cache_drop(i, ints, iparams, e)
        else:
            oldest = min(oldest, ints[i, at_birth + e])
    ints[i, S_OLDEST] = oldest


@njit(**JIT)
def _compact(i: int, ints, valid, iparams) -> None:
    """Move the pending requests to the front of the queue, keeping their order; what the
    slots behind them hold is left as it is (nothing reads a slot that is not pending)."""
    fields = (iparams[I_AT_QA], iparams[I_AT_QB], iparams[I_AT_ARRIVAL], iparams[I_AT_DEADLINE], iparams[I_AT_ATTEMPTS],
              iparams[I_AT_QGATE])
    order = 0
    for j in range(iparams[I_Q]):
        if not valid[i, j]:
            continue
        if order < j:
            for at in fields:
                ints[i, at + order] = ints[i, at + j]
            valid[i, order] = True
            valid[i, j] = False
        order += 1


# ---------------------------------------------------------------------------- arrivals


@njit(**JIT)
def _offered(i: int, ints, valid, iparams, ftable, itable, pending: int) -> int:
    """Requests the workload offers this round."""
    workload = iparams[I_WORKLOAD]
    if workload == WORKLOAD_SEQUENTIAL:
        if pending == 0 and ints[i, S_ISSUED] < iparams[I_EPISODE_REQUESTS]:
            ints[i, S_ISSUED] += 1
            return 1
        return 0
    if workload == WORKLOAD_POISSON:
        u = uniform(_key(ints, i), ints[i, S_ROUND], ARRIVAL_COUNT, 0)
        return bisect_right(ftable, iparams[I_AT_CDF], iparams[I_CDF_SIZE], u)
    last = iparams[I_STARTS_SIZE] - 1
    end = itable[iparams[I_AT_STARTS] + min(ints[i, S_ROUND] + 1, last)]
    return max(end - ints[i, S_ISSUED], 0)


@njit(**JIT)
def _new_pair(i: int, order: int, ints, iparams, ftable, itable) -> tuple[int, int, int]:
    """QPUs and budget of the ``order``-th request accepted this round."""
    n = iparams[I_N]
    if iparams[I_WORKLOAD] == WORKLOAD_TRACE:
        row = min(ints[i, S_ISSUED] + order, iparams[I_TRACE_ROWS] - 1)
        return (itable[iparams[I_AT_TRACE_A] + row], itable[iparams[I_AT_TRACE_B] + row],
                itable[iparams[I_AT_TRACE_BUDGET] + row])
    u_first = uniform(_key(ints, i), ints[i, S_ROUND], ARRIVAL_PAIRS, 2 * order)
    budget = iparams[I_BUDGET]
    if iparams[I_POP_SIZE] > 0:
        size = iparams[I_POP_SIZE]
        rank = min(bisect_right(ftable, iparams[I_AT_POP_CDF], size, u_first), size - 1)
        return itable[iparams[I_AT_POP_A] + rank], itable[iparams[I_AT_POP_B] + rank], budget
    if n == 1:
        return 0, 0, budget
    u_second = uniform(_key(ints, i), ints[i, S_ROUND], ARRIVAL_PAIRS, 2 * order + 1)
    a = int(u_first * n)
    b = int(u_second * (n - 1))
    if b >= a:
        b += 1
    return min(a, b), max(a, b), budget


@njit(**JIT, inline="always")
def _among(array, i: int, start: int, count: int, value: int) -> bool:
    """Whether ``value`` is one of ``array[i, start:start + count]``."""
    for t in range(count):
        if array[i, start + t] == value:
            return True
    return False


@njit(**JIT)
def _remember(i: int, ints, iparams, work, accepted: int) -> None:
    """Move the pairs requested this round to the front of the prefetch candidates, each
    pair once, keeping the ``M`` most recent. ``work`` holds the new pairs' codes, newest
    first, in its first ``accepted`` scratch columns."""
    m, q = iparams[I_M], iparams[I_Q]
    scratch = 6 * (iparams[I_K] + m)  # work columns: candidate pairs, then their rounds
    width = q + m
    at_rpair, at_rround = iparams[I_AT_RPAIR], iparams[I_AT_RROUND]
    for c in range(accepted):
        work[i, scratch + width + c] = ints[i, S_ROUND]
    for j in range(m):
        work[i, scratch + accepted + j] = ints[i, at_rpair + j]
        work[i, scratch + width + accepted + j] = ints[i, at_rround + j]
    kept = 0
    for t in range(accepted + m):
        code = work[i, scratch + t]
        if code < 0 or kept >= m:
            continue
        if not _among(work, i, scratch, t, code):
            ints[i, at_rpair + kept] = code
            ints[i, at_rround + kept] = work[i, scratch + width + t]
            kept += 1
    for j in range(kept, m):
        ints[i, at_rpair + j] = -1
        ints[i, at_rround + j] = 0


@njit(**JIT)
def _arrive(i: int, ints, valid, iparams, ftable, itable, work) -> tuple[int, int]:
    """The workload's arrivals of the current round join the queue behind the pending
    requests, or are rejected when it is full; returns (offered, rejected)."""
    if iparams[I_WORKLOAD] == WORKLOAD_CIRCUIT:
        return _arrive_gates(i, ints, valid, iparams, itable), 0
    q, n = iparams[I_Q], iparams[I_N]
    pending = 0
    for j in range(q):
        pending += valid[i, j]
    offered = _offered(i, ints, valid, iparams, ftable, itable, pending)
    accepted = min(offered, q - pending)
    scratch = 6 * (iparams[I_K] + iparams[I_M])
    for c in range(accepted):
        a, b, budget = _new_pair(i, c, ints, iparams, ftable, itable)
        slot = pending + c
        valid[i, slot] = True
        ints[i, iparams[I_AT_QA] + slot] = a
        ints[i, iparams[I_AT_QB] + slot] = b
        ints[i, iparams[I_AT_ARRIVAL] + slot] = ints[i, S_ROUND]
        ints[i, iparams[I_AT_DEADLINE] + slot] = ints[i, S_ROUND] + budget
        ints[i, iparams[I_AT_ATTEMPTS] + slot] = 0
        work[i, scratch + accepted - 1 - c] = pair_code(a, b, n)
    if accepted > 0 and iparams[I_M] > 0:
        _remember(i, ints, iparams, work, accepted)
    if iparams[I_WORKLOAD] == WORKLOAD_TRACE:
        ints[i, S_ISSUED] += offered
    return offered, offered - accepted


@njit(**JIT)
def _reserve(i: int, ints, valid, iparams) -> None:
    """Each pending request, oldest first, reserves the oldest cached ebit of its pair (the
    lowest entry among equals) that no older request reserved, to be served next round."""
    q, n = iparams[I_Q], iparams[I_N]
    at_reserved, at_birth, at_next = iparams[I_AT_RESERVED], iparams[I_AT_CBIRTH], iparams[I_AT_CNEXT]
    for j in range(q):
        ints[i, at_reserved + j] = -1
    if ints[i, S_FILLED] == 0:
        return
    for j in range(q):
        if not valid[i, j]:
            continue
        h = _slot_of(i, ints, iparams, pair_code(ints[i, iparams[I_AT_QA] + j], ints[i, iparams[I_AT_QB] + j], n))
        if h < 0:
            continue
        best = -1
        e = ints[i, iparams[I_AT_HASH] + 2 * h + 1]
        while e >= 0:
            older = best < 0 or ints[i, at_birth + e] < ints[i, at_birth + best] or (
                ints[i, at_birth + e] == ints[i, at_birth + best] and e < best)
            if older and not _among(ints, i, at_reserved, j, e):
                best = e
            e = ints[i, at_next + e]
        ints[i, at_reserved + j] = best


# ---------------------------------------------------------------------------- circuits
# The circuit workload (``docs/model.md#circuit-workload``). The request DAG's arrays are
# tables of ``itable`` (``I_AT_PAIR_A`` ...). Per env: ``q_gate``, the gate of each queue
# slot (-1 for none); per gate, ``g_waiting`` its predecessors not yet done, ``g_ready``
# the round it may become pending (the latest of its start lag and each done
# predecessor's round + 1 + lag), ``g_served`` the round its request was served (-1) and
# ``g_age`` the age of the ebit that served it [rounds]; ``g_pool``, the released gates
# (every predecessor done) that are not in the queue yet, waiting for their lag or for
# room; the round the circuit can end by given the gates done (``I_AT_CEND``) and the
# pool's fill (``I_AT_CPOOLED``). ``S_ISSUED`` counts the gates done. The gates in the
# queue and the pool never share a qubit, so at most ``n_qubits / 2`` of them wait at once
# (``modenhub_env.workload.circuit_dag`` checks the DAG for it).


@njit(**JIT)
def _start_circuit(i: int, ints, iparams, itable) -> None:
    """No gate done: each waits for all its predecessors and its start lag; the gates
    without predecessors are released; no queue slot holds a gate."""
    at_wait, at_ready, at_served = iparams[I_AT_GWAIT], iparams[I_AT_GREADY], iparams[I_AT_GSERVED]
    at_age, at_pool = iparams[I_AT_GAGE], iparams[I_AT_GPOOL]
    at_indegree, at_start = iparams[I_AT_INDEGREE], iparams[I_AT_START_LAG]
    pooled = 0
    for g in range(iparams[I_GATES]):
        ints[i, at_wait + g] = itable[at_indegree + g]
        ints[i, at_ready + g] = itable[at_start + g]
        ints[i, at_served + g] = -1
        ints[i, at_age + g] = 0
        if itable[at_indegree + g] == 0:
            ints[i, at_pool + pooled] = g
            pooled += 1
    ints[i, iparams[I_AT_CPOOLED]] = pooled
    ints[i, iparams[I_AT_CEND]] = iparams[I_LOCAL_DEPTH]
    for j in range(iparams[I_Q]):
        ints[i, iparams[I_AT_QGATE] + j] = -1


@njit(**JIT)
def _complete_gates(i: int, ints, valid, iparams, itable) -> None:
    """The gates whose requests were served this round are done: each successor may be
    pending no earlier than the next round plus the edge's lag, and is released once its
    last predecessor is done; the circuit cannot end before the next round plus the
    gate's end lag."""
    now = ints[i, S_ROUND]
    at_gate, at_wait, at_ready = iparams[I_AT_QGATE], iparams[I_AT_GWAIT], iparams[I_AT_GREADY]
    at_ptr, at_succ, at_lag = iparams[I_AT_SUCC_PTR], iparams[I_AT_SUCC], iparams[I_AT_SUCC_LAG]
    at_pool, at_pooled, at_end = iparams[I_AT_GPOOL], iparams[I_AT_CPOOLED], iparams[I_AT_CEND]
    for j in range(iparams[I_Q]):
        g = ints[i, at_gate + j]
        if g < 0 or valid[i, j]:
            continue
        ints[i, at_gate + j] = -1
        ints[i, iparams[I_AT_GSERVED] + g] = now
        ints[i, S_ISSUED] += 1
        ints[i, at_end] = max(ints[i, at_end], now + 1 + itable[iparams[I_AT_END_LAG] + g])
        for e in range(itable[at_ptr + g], itable[at_ptr + g + 1]):
            h = itable[at_succ + e]
            ints[i, at_ready + h] = max(ints[i, at_ready + h], now + 1 + itable[at_lag + e])
            ints[i, at_wait + h] -= 1
            if ints[i, at_wait + h] == 0:
                ints[i, at_pool + ints[i, at_pooled]] = h
                ints[i, at_pooled] += 1


@njit(**JIT)
def _arrive_gates(i: int, ints, valid, iparams, itable) -> int:
    """The released gates whose lag has passed join the queue behind the pending requests
    while it has room, the earliest ready first (the first in circuit order among
    equals); none is rejected: the others wait in the pool. Then the pending gates' soft
    deadlines and the prefetch candidates. Returns the gates that joined."""
    q, now = iparams[I_Q], ints[i, S_ROUND]
    at_gate, at_ready, at_pool, at_pooled = iparams[I_AT_QGATE], iparams[I_AT_GREADY], iparams[I_AT_GPOOL], iparams[I_AT_CPOOLED]
    pending = 0
    for j in range(q):
        pending += valid[i, j]
    for j in range(pending, q):  # what compaction left behind
        ints[i, at_gate + j] = -1
    joined = 0
    while pending + joined < q:
        pick, best_ready, best_gate = -1, 0, 0
        for t in range(ints[i, at_pooled]):
            g = ints[i, at_pool + t]
            ready = ints[i, at_ready + g]
            if ready <= now and (pick < 0 or ready < best_ready or (ready == best_ready and g < best_gate)):
                pick, best_ready, best_gate = t, ready, g
        if pick < 0:
            break
        ints[i, at_pooled] -= 1
        ints[i, at_pool + pick] = ints[i, at_pool + ints[i, at_pooled]]
        slot = pending + joined
        valid[i, slot] = True
        ints[i, iparams[I_AT_QA] + slot] = itable[iparams[I_AT_PAIR_A] + best_gate]
        ints[i, iparams[I_AT_QB] + slot] = itable[iparams[I_AT_PAIR_B] + best_gate]
        ints[i, iparams[I_AT_ARRIVAL] + slot] = now
        ints[i, iparams[I_AT_ATTEMPTS] + slot] = 0
        ints[i, at_gate + slot] = best_gate
        joined += 1
    _gate_deadlines(i, ints, valid, iparams, itable)
    if iparams[I_M] > 0:
        _upcoming_gates(i, ints, valid, iparams, itable)
    return joined


@njit(**JIT)
def _gate_deadlines(i: int, ints, valid, iparams, itable) -> None:
    """Each pending gate's soft deadline: ``E + 1 - c(g)``, with ``E`` the round the
    circuit could end by if every ebit arrived at once from now on (the gates done so
    far, and the released gates' ready round, or now, plus their critical path). The
    slack ``deadline - now`` is then the rounds the gate may wait, this one included,
    before it delays ``E``: 1 on the critical path."""
    now = ints[i, S_ROUND]
    at_gate, at_ready, at_pool, at_critical = iparams[I_AT_QGATE], iparams[I_AT_GREADY], iparams[I_AT_GPOOL], iparams[I_AT_CRITICAL]
    end = ints[i, iparams[I_AT_CEND]]
    for t in range(ints[i, iparams[I_AT_CPOOLED]]):
        g = ints[i, at_pool + t]
        end = max(end, max(ints[i, at_ready + g], now) + itable[at_critical + g])
    for j in range(iparams[I_Q]):
        if valid[i, j]:
            end = max(end, now + itable[at_critical + ints[i, at_gate + j]])
    for j in range(iparams[I_Q]):
        if valid[i, j]:
            ints[i, iparams[I_AT_DEADLINE] + j] = end + 1 - itable[at_critical + ints[i, at_gate + j]]


@njit(**JIT, inline="always")
def _ranks_before(path: int, ready: int, gate: int, other_path: int, other_ready: int, other_gate: int) -> bool:
    """Whether an upcoming gate comes before another: the longer critical path first, then
    the earlier ready round, then circuit order."""
    if path != other_path:
        return path > other_path
    if ready != other_ready:
        return ready < other_ready
    return gate < other_gate


@njit(**JIT)
def _upcoming_gates(i: int, ints, valid, iparams, itable) -> None:
    """The prefetch candidates of a circuit: the pairs of the ``M`` first upcoming gates,
    each pair once, by :func:`_ranks_before`, with the round each may be pending at the
    earliest. Upcoming are the released gates not in the queue (waiting for their lag or
    for room) and the gates whose one predecessor not done is pending (ready the round
    after it is served plus the edge's lag, or later). Each pick is the first candidate
    after the previous pick whose pair is not taken yet."""
    n, m, now = iparams[I_N], iparams[I_M], ints[i, S_ROUND]
    at_gate, at_wait, at_ready, at_pool = iparams[I_AT_QGATE], iparams[I_AT_GWAIT], iparams[I_AT_GREADY], iparams[I_AT_GPOOL]
    at_ptr, at_succ, at_lag, at_critical = iparams[I_AT_SUCC_PTR], iparams[I_AT_SUCC], iparams[I_AT_SUCC_LAG], iparams[I_AT_CRITICAL]
    at_a, at_b = iparams[I_AT_PAIR_A], iparams[I_AT_PAIR_B]
    at_rpair, at_rround = iparams[I_AT_RPAIR], iparams[I_AT_RROUND]
    last_path, last_ready, last = 0, 0, -1  # the previous pick
    for t in range(m):
        path, ready, pick = 0, 0, -1
        for u in range(ints[i, iparams[I_AT_CPOOLED]]):
            h = ints[i, at_pool + u]
            h_ready = max(ints[i, at_ready + h], now)
            code = pair_code(itable[at_a + h], itable[at_b + h], n)
            if _next_pick(h, itable[at_critical + h], h_ready, code, last, last_path, last_ready, pick, path, ready,
                          ints, i, at_rpair, t):
                path, ready, pick = itable[at_critical + h], h_ready, h
        for j in range(iparams[I_Q]):
            if not valid[i, j]:
                continue
            g = ints[i, at_gate + j]
            for e in range(itable[at_ptr + g], itable[at_ptr + g + 1]):
                h = itable[at_succ + e]
                if ints[i, at_wait + h] != 1:
                    continue
                h_ready = max(ints[i, at_ready + h], now + 1 + itable[at_lag + e])
                code = pair_code(itable[at_a + h], itable[at_b + h], n)
                if _next_pick(h, itable[at_critical + h], h_ready, code, last, last_path, last_ready, pick, path, ready,
                              ints, i, at_rpair, t):
                    path, ready, pick = itable[at_critical + h], h_ready, h
        if pick < 0:
            for rest in range(t, m):
                ints[i, at_rpair + rest] = -1
                ints[i, at_rround + rest] = 0
            return
        ints[i, at_rpair + t] = pair_code(itable[at_a + pick], itable[at_b + pick], n)
        ints[i, at_rround + t] = ready
        last_path, last_ready, last = path, ready, pick


@njit(**JIT, inline="always")
def _next_pick(h: int, path: int, ready: int, code: int, last: int, last_path: int, last_ready: int, pick: int,
               pick_path: int, pick_ready: int, ints, i: int, at_rpair: int, taken: int) -> bool:
    """Whether upcoming gate ``h`` replaces the pick so far: it comes after the previous
    pick ``last`` (if any) and before the pick so far (if any), and its pair is not among
    the ``taken`` candidates already chosen."""
    if last >= 0 and not _ranks_before(last_path, last_ready, last, path, ready, h):
        return False
    if pick >= 0 and not _ranks_before(path, ready, h, pick_path, pick_ready, pick):
        return False
    return not _among(ints, i, at_rpair, taken, code)


@njit(**JIT)
def _finish_circuit(i: int, ints, iparams, out) -> None:
    """A circuit's reward and end: -1 for a round in which the circuit was not done yet,
    plus the attempts' cost; terminated once every gate is done and the local gates after
    them have had their rounds (the makespan); truncated at ``episode_rounds`` otherwise."""
    now, end = ints[i, S_ROUND], ints[i, iparams[I_AT_CEND]]
    done = ints[i, S_ISSUED] >= iparams[I_GATES] and now >= end
    out[i, O_REWARD_MAKESPAN] = 0.0 if done and now > end else -1.0  # done before this round began
    out[i, O_REWARD_SERVED] = 0.0
    out[i, O_REWARD_FAILED] = 0.0
    out[i, O_REWARD_FIDELITY] = 0.0
    out[i, O_REWARD] = out[i, O_REWARD_MAKESPAN] + out[i, O_REWARD_ATTEMPTS]
    rounds = iparams[I_EPISODE_ROUNDS]
    out[i, O_TERMINATED] = done
    out[i, O_TRUNCATED] = rounds >= 0 and not done and now >= rounds


# ---------------------------------------------------------------------------- observation


@njit(**JIT)
def _observe(i: int, ints, valid, iparams, fparams, ftable, obs, out, work) -> None:
    """The env's observation (layout in ``modenhub_env.observation``), the slots' limits
    into ``work`` and the state summary into ``out``."""
    _fill_slots(i, ints, valid, iparams, work)
    n, k, m, q, c = iparams[I_N], iparams[I_K], iparams[I_M], iparams[I_Q], iparams[I_C]
    s = k + m
    n_global, n_request, n_prefetch = _obs_widths(iparams[I_OBS_VERSION])
    k_max, max_budget, per_pair = iparams[I_KMAX], iparams[I_MAX_BUDGET], iparams[I_PER_PAIR]
    now = ints[i, S_ROUND]
    f0, t_coh = fparams[F_F0], fparams[F_T_COH]
    for f in range(obs.shape[1]):
        obs[i, f] = 0.0
    pending = 0
    for j in range(q):
        pending += valid[i, j]
    filled = ints[i, S_FILLED]
    workload = iparams[I_WORKLOAD]
    progress = 0.0
    if workload == WORKLOAD_SEQUENTIAL:
        progress = ints[i, S_ISSUED] / iparams[I_EPISODE_REQUESTS]
    elif workload == WORKLOAD_TRACE:
        progress = ints[i, S_ISSUED] / iparams[I_TRACE_ROWS]
    elif workload == WORKLOAD_CIRCUIT:
        progress = ints[i, S_ISSUED] / max(iparams[I_GATES], 1)
    if iparams[I_EPISODE_ROUNDS] >= 0:
        progress = max(progress, now / iparams[I_EPISODE_ROUNDS])
    obs[i, 0] = _unit(progress)
    obs[i, 1] = _unit(pending / q)
    obs[i, 2] = _unit(fparams[F_OBS_CAPACITY])
    obs[i, 3] = _unit(filled / c) if c > 0 else 0.0
    obs[i, 4] = _unit(fparams[F_OBS_LOG2N])
    obs[i, 5] = _unit(fparams[F_OBS_KPAR])
    for j in range(s):
        if not work[i, 3 * s + j]:
            continue
        a, b = work[i, s + j], work[i, 2 * s + j]
        p = pair_probability(a, b, fparams, ftable)
        cached, youngest = _cached_for(i, pair_code(a, b, n), ints, iparams)
        cached_share = min(cached / per_pair, 1.0)
        fidelity = werner_fidelity(now - youngest, f0, t_coh) if youngest >= 0 else 0.0
        limit_share = work[i, j] / k_max
        if j < k:
            at = n_global + n_request * j
            slack = ints[i, iparams[I_AT_DEADLINE] + j] - now
            spent = ints[i, iparams[I_AT_ATTEMPTS] + j] / (k_max * max_budget)
            obs[i, at] = 1.0
            obs[i, at + 1] = _unit(p)
            obs[i, at + 2] = _unit(slack / max_budget)
            obs[i, at + 3] = _unit(min(spent, 1.0))
            obs[i, at + 4] = _unit(cached_share)
            obs[i, at + 5] = _unit(fidelity)
            obs[i, at + 6] = 1.0 if ints[i, iparams[I_AT_RESERVED] + j] >= 0 else 0.0
            obs[i, at + 7] = _unit(1.0 - (1.0 - p) ** float(slack))
            obs[i, at + 8] = _unit(limit_share)
        else:
            at = n_global + n_request * k + n_prefetch * (j - k)
            # Rounds since the pair was requested, or for a circuit until its gate may be pending.
            since = abs(now - ints[i, iparams[I_AT_RROUND] + j - k])
            obs[i, at] = 1.0
            obs[i, at + 1] = _unit(p)
            obs[i, at + 2] = _unit(cached_share)
            obs[i, at + 3] = _unit(fidelity)
            obs[i, at + 4] = _unit(1.0 / (1.0 + since))
            obs[i, at + 5] = _unit(limit_share)
    if iparams[I_OBS_VERSION] >= 1:
        _observe_load(i, iparams, obs, work, n_request, n_prefetch)
    out[i, O_ROUND] = now
    out[i, O_PENDING] = pending
    out[i, O_CACHE_FILL] = filled


@njit(**JIT, inline="always")
def _obs_widths(version: int) -> tuple[int, int, int]:
    """Features of the global block, of a request slot and of a prefetch slot in
    observation ``version``."""
    if version >= 1:
        return N_GLOBAL_V1, N_REQUEST_V1, N_PREFETCH_V1
    return N_GLOBAL, N_REQUEST, N_PREFETCH


@njit(**JIT, inline="always")
def _qpu_claim(i: int, work, s: int, j: int, first: int, last: int) -> int:
    """[attempts] The most that the slots ``first..last-1`` but ``j`` may launch on the
    busier of slot ``j``'s two QPUs: their limits summed per QPU (a slot on both counts once)."""
    a, b = work[i, s + j], work[i, 2 * s + j]
    on_a, on_b = 0, 0
    for e in range(first, last):
        limit = work[i, e]
        if e == j or limit == 0:
            continue
        ea, eb = work[i, s + e], work[i, 2 * s + e]
        if ea == a or eb == a:
            on_a += limit
        if ea == b or eb == b:
            on_b += limit
    return max(on_a, on_b)


@njit(**JIT)
def _observe_load(i: int, iparams, obs, work, n_request: int, n_prefetch: int) -> None:
    """The features observation version 1 adds (``docs/env.md#observation-space``), from
    the slots' pairs and limits in ``work``: globally the share of ``S`` left if every
    slot launched its limit, and ``c_i / k_max``; per present slot the attempts older
    (then younger) slots may launch on its busier QPU as a share of ``c_i``, and the
    attempts it is granted whatever the older slots ask, ``/ k_max``."""
    k, m, k_max = iparams[I_K], iparams[I_M], iparams[I_KMAX]
    s = k + m
    hub, per_qpu = iparams[I_CAPACITY], iparams[I_COMM]
    claimed = 0  # [attempts] the limits of all slots
    for j in range(s):
        claimed += work[i, j]
    obs[i, N_GLOBAL] = 1.0 if hub < 0 else _unit((hub - claimed) / hub)
    obs[i, N_GLOBAL + 1] = 1.0 if per_qpu < 0 else _unit(per_qpu / k_max)
    older = 0  # [attempts] the limits of the slots before ``j``
    for j in range(s):
        if work[i, 3 * s + j]:
            at = N_GLOBAL_V1 + n_request * j + N_REQUEST
            if j >= k:
                at = N_GLOBAL_V1 + n_request * k + n_prefetch * (j - k) + N_PREFETCH
            before, after = _qpu_claim(i, work, s, j, 0, j), _qpu_claim(i, work, s, j, j + 1, s)
            sure = work[i, j]
            if hub >= 0:
                sure = min(sure, hub - older)
            if per_qpu >= 0:
                sure = min(sure, per_qpu - before)
                obs[i, at] = _unit(before / per_qpu)
                obs[i, at + 1] = _unit(after / per_qpu)
            obs[i, at + 2] = _unit(max(sure, 0) / k_max)
        older += work[i, j]


@njit(**JIT, inline="always")
def _unit(x: float) -> float:
    """``x`` clipped to ``[0, 1]``, as every feature is."""
    return min(max(x, 0.0), 1.0)


# ---------------------------------------------------------------------------- round


@njit(**JIT)
def _clear(i: int, ints, valid, totals, iparams, key: np.uint64) -> None:
    """A fresh episode's state: round 0, empty queue, cache and candidates."""
    for col in range(iparams[I_AT_WORK]):
        ints[i, col] = 0
    for j in range(iparams[I_Q]):
        valid[i, j] = False
        ints[i, iparams[I_AT_RESERVED] + j] = -1
    for e in range(iparams[I_C]):
        ints[i, iparams[I_AT_CPAIR] + e] = -1
    _clear_index(i, ints, iparams)
    for j in range(iparams[I_M]):
        ints[i, iparams[I_AT_RPAIR] + j] = -1
    for col in range(totals.shape[1]):
        totals[i, col] = 0.0
    ints[i, S_KEY] = np.int64(key)


@njit(**JIT)
def _start(i: int, ints, valid, totals, iparams, ftable, itable, work, key: np.uint64) -> None:
    """Start a new episode keyed ``key``: clear, the arrivals of round 0, reservations."""
    _clear(i, ints, valid, totals, iparams, key)
    if iparams[I_WORKLOAD] == WORKLOAD_CIRCUIT:
        _start_circuit(i, ints, iparams, itable)
    offered, rejected = _arrive(i, ints, valid, iparams, ftable, itable, work)
    totals[i, O_ARRIVED - O_COUNTERS] += offered
    totals[i, O_REJECTED - O_COUNTERS] += rejected
    _reserve(i, ints, valid, iparams)


@njit(**JIT)
def _finish(i: int, ints, valid, iparams, fparams, out) -> None:
    """Reward and its components, fidelities and the episode's end flags of the round."""
    served = out[i, O_SERVED]
    out[i, O_REWARD_SERVED] = served
    out[i, O_REWARD_FAILED] = -fparams[F_W_FAIL] * out[i, O_FAILED]
    out[i, O_REWARD_ATTEMPTS] = -fparams[F_W_ATTEMPT] * (out[i, O_ATTEMPTS] + out[i, O_PREFETCH])
    # The column holds the fidelity the ebits served from the cache lost there (see
    # :func:`_serve_from_cache`); fresh ebits lose none.
    out[i, O_REWARD_FIDELITY] = -fparams[F_W_FIDELITY] * out[i, O_REWARD_FIDELITY]
    out[i, O_REWARD] = (out[i, O_REWARD_SERVED] + out[i, O_REWARD_FAILED] + out[i, O_REWARD_ATTEMPTS]
                        + out[i, O_REWARD_FIDELITY])
    if served > 0:
        ebit = out[i, O_FIDELITY_SUM] / served
        out[i, O_EBIT_FIDELITY] = ebit
        out[i, O_GATE_FIDELITY] = (2.0 * ebit + 1.0) / 3.0
    idle = True
    for j in range(iparams[I_Q]):
        if valid[i, j]:
            idle = False
    workload = iparams[I_WORKLOAD]
    terminated = False
    if workload == WORKLOAD_SEQUENTIAL:
        terminated = idle and ints[i, S_ISSUED] >= iparams[I_EPISODE_REQUESTS]
    elif workload == WORKLOAD_TRACE:
        terminated = idle and ints[i, S_ISSUED] >= iparams[I_TRACE_ROWS]
    rounds = iparams[I_EPISODE_ROUNDS]
    out[i, O_TERMINATED] = terminated
    out[i, O_TRUNCATED] = rounds >= 0 and not terminated and ints[i, S_ROUND] >= rounds
    if workload == WORKLOAD_CIRCUIT:
        _finish_circuit(i, ints, iparams, out)


@njit(**JIT)
def _step_env(i: int, ints, valid, totals, iparams, fparams, ftable, itable, actions, obs, out,
              latency, work) -> None:
    """One round of env ``i`` (``docs/model.md#round``), then its observation."""
    s = iparams[I_K] + iparams[I_M]
    for col in range(out.shape[1]):
        out[i, col] = 0.0
    for col in range(latency.shape[1]):
        latency[i, col] = 0
    _serve_from_cache(i, ints, valid, iparams, fparams, out, latency)
    _fit_capacity(i, actions, iparams, work)
    for j in range(s):
        out[i, O_CLIPPED] += actions[i, j] - work[i, 4 * s + j]
        out[i, O_ATTEMPTS if j < iparams[I_K] else O_PREFETCH] += work[i, 4 * s + j]
    _attempt(i, ints, iparams, fparams, ftable, work)
    _serve_fresh(i, ints, valid, iparams, fparams, out, latency, work)
    _store(i, ints, iparams, out, work)
    _fail(i, ints, valid, iparams, out)
    if iparams[I_WORKLOAD] == WORKLOAD_CIRCUIT:
        _complete_gates(i, ints, valid, iparams, itable)
    ints[i, S_ROUND] += 1
    _expire(i, ints, iparams, out)
    _compact(i, ints, valid, iparams)
    offered, rejected = _arrive(i, ints, valid, iparams, ftable, itable, work)
    out[i, O_ARRIVED] += offered
    out[i, O_REJECTED] += rejected
    _reserve(i, ints, valid, iparams)
    for col in range(N_COUNTERS):
        totals[i, col] += out[i, O_COUNTERS + col]
    at_latency = iparams[I_AT_LATENCY]
    for col in range(latency.shape[1]):
        ints[i, at_latency + col] += latency[i, col]
    _finish(i, ints, valid, iparams, fparams, out)
    _observe(i, ints, valid, iparams, fparams, ftable, obs, out, work)


@njit(**JIT)
def _save_final(i: int, ints, totals, iparams, obs, out, final_obs, final_out, final_latency) -> None:
    """Keep the last observation, the round's ``out`` and the episode's totals, latency
    histogram and length of env ``i`` before it restarts."""
    for col in range(obs.shape[1]):
        final_obs[i, col] = obs[i, col]
    for col in range(OUT_WIDTH):
        final_out[i, col] = out[i, col]
    for col in range(N_COUNTERS):
        final_out[i, OUT_WIDTH + col] = totals[i, col]
    final_out[i, OUT_WIDTH + N_COUNTERS] = ints[i, S_ROUND]
    for col in range(final_latency.shape[1]):
        final_latency[i, col] = ints[i, iparams[I_AT_LATENCY] + col]


@njit(**JIT)
def _advance(i, ints, valid, totals, iparams, fparams, ftable, itable, actions, obs, out, latency,
             work, final_obs, final_out, final_latency, autoreset) -> None:
    _step_env(i, ints, valid, totals, iparams, fparams, ftable, itable, actions, obs, out, latency, work)
    if autoreset and (out[i, O_TERMINATED] > 0 or out[i, O_TRUNCATED] > 0):
        _save_final(i, ints, totals, iparams, obs, out, final_obs, final_out, final_latency)
        _start(i, ints, valid, totals, iparams, ftable, itable, work, next_episode_key(_key(ints, i)))
        _observe(i, ints, valid, iparams, fparams, ftable, obs, out, work)


@njit(**JIT)
def first_bad_action(actions, iconsts, start: int, stop: int) -> int:
    """Flat index of the first action outside ``[0, k_max]`` in rows ``start..stop-1``, or -1."""
    k_max = iconsts[I_KMAX]
    for i in range(start, stop):
        for j in range(actions.shape[1]):
            if actions[i, j] < 0 or actions[i, j] > k_max:
                return i * actions.shape[1] + j
    return -1


@njit(**JIT)
def _sections(ints, floats, obs, iconsts, fconsts):
    """Views of the packed buffers: the parameters and tables, the scratch and latency
    blocks of ``ints``, ``totals | out | final_out`` of ``floats`` and the two halves of ``obs``."""
    iparams, itable = iconsts[:I_SIZE], iconsts[I_SIZE:]
    fparams, ftable = fconsts[:F_SIZE], fconsts[F_SIZE:]
    at_work, at_latency, at_final = iparams[I_AT_WORK], iparams[I_AT_ROUND_LATENCY], iparams[I_AT_FINAL_LATENCY]
    size = iparams[I_OBS_SIZE]
    return (
        iparams, fparams, itable, ftable,
        ints[:, at_work:at_latency], ints[:, at_latency:at_final], ints[:, at_final:],
        floats[:, :N_COUNTERS], floats[:, N_COUNTERS : N_COUNTERS + OUT_WIDTH], floats[:, N_COUNTERS + OUT_WIDTH :],
        obs[:, :size], obs[:, size:],
    )


@njit(**JIT, nogil=True)
def step_rows(start, stop, ints, valid, floats, obs_buffer, iconsts, fconsts, actions, autoreset) -> int:
    """Envs ``start..stop-1`` one round; with ``autoreset`` a finished env keeps its last
    observation and totals in the final sections and starts its next episode. Returns
    :func:`first_bad_action` of those rows; nothing moves if it is not -1. Releases the
    GIL, so that threads can step disjoint rows at once."""
    (iparams, fparams, itable, ftable, work, latency, final_latency,
     totals, out, final_out, obs, final_obs) = _sections(ints, floats, obs_buffer, iconsts, fconsts)
    bad = first_bad_action(actions, iconsts, start, stop)
    if bad >= 0:
        return bad
    for i in range(start, stop):
        _advance(i, ints, valid, totals, iparams, fparams, ftable, itable, actions, obs, out, latency,
                 work, final_obs, final_out, final_latency, autoreset)
    return -1


@njit(**JIT)
def reset_envs(rows, new_keys, ints, valid, floats, obs_buffer, iconsts, fconsts) -> None:
    """Start new episodes in the envs selected by ``rows``, keyed ``new_keys``; then every
    env's observation (and limits, and state summary) anew."""
    (iparams, fparams, itable, ftable, work, _, _,
     totals, out, _, obs, _) = _sections(ints, floats, obs_buffer, iconsts, fconsts)
    for i in range(ints.shape[0]):
        if rows[i]:
            _start(i, ints, valid, totals, iparams, ftable, itable, work, new_keys[i])
        else:
            _reserve(i, ints, valid, iparams)
        _observe(i, ints, valid, iparams, fparams, ftable, obs, out, work)


@njit(**JIT)
def observe_envs(ints, valid, floats, obs_buffer, iconsts, fconsts) -> None:
    """Every env's cache index rebuilt, then its observation, limits and state summary,
    from its state as it is (after the state was edited by hand)."""
    (iparams, fparams, _, ftable, work, _, _, _, out, _, obs, _) = _sections(ints, floats, obs_buffer, iconsts, fconsts)
    for i in range(ints.shape[0]):
        _rebuild_index(i, ints, iparams)
        _observe(i, ints, valid, iparams, fparams, ftable, obs, out, work)


@njit(cache=CACHE)
def next_episode_keys(keys):
    """:func:`next_episode_key` of each key of a (B,) uint64 array."""
    out = np.empty_like(keys)
    for i in range(keys.shape[0]):
        out[i] = next_episode_key(keys[i])
    return out


# ---------------------------------------------------------------------------- schedulers
# The handcrafted schedulers of ``agents`` decide here, from an observation row and the
# slots' limits, so that their ``predict`` and the fused Monte Carlo below share one
# implementation. ``policy`` is a float64 array indexed by ``P_*``.

P_CODE, P_K, P_M, P_KMAX, P_CAPACITY, P_K_PARALLEL, P_SLACK_SCALE = 0, 1, 2, 3, 4, 5, 6
P_W_ATTEMPT, P_W_FAIL = 7, 8
P_TARGET, P_REQUEST_CAP, P_PREFETCH, P_PREFETCH_ATTEMPTS, P_GIVE_UP = 9, 10, 11, 12, 13
P_LOOKAHEAD = 14  # [rounds] critical-path-first prefetches gates pending within this many rounds
P_OBS_VERSION = 15  # the layout of the observations it reads
# The prefetch-value scheduler's: cache_per_pair, the rows and the p_ab classes of its table.
P_PER_PAIR, P_WORTH_ROWS, P_WORTH_CLASSES = 16, 17, 18
P_SIZE = 19  # then the prefetch-value scheduler's classes and table (``agents.heuristics.PrefetchValuePolicy``)
SEQUENTIAL, LOG_PARALLEL, DEADLINE, SINGLE_REQUEST_DP, CRITICAL_PATH, PREFETCH_VALUE = 0, 1, 2, 3, 4, 5
_UNREACHABLE = 2**31 - 1  # [attempts] of a target no number of attempts reaches

# Request-slot feature offsets read by the schedulers (names in ``modenhub_env.observation``).
_R_PRESENT, _R_P, _R_SLACK, _R_FROM_CACHE = 0, 1, 2, 6
_PF_PRESENT, _PF_P, _PF_CACHED, _PF_RECENCY = 0, 1, 2, 4


@njit(**JIT)
def attempts_for_target(p: float, slack: int, target: float) -> int:
    """Smallest ``n >= 1`` with ``1 - (1 - p)**(n * slack) >= target`` (a large number if
    none does, e.g. ``p = 0``; 0 when ``slack`` is 0)."""
    if slack <= 0:
        return 0
    p = min(max(p, 0.0), 1.0)
    if 0.0 < p < 1.0:
        # (1 - p)**(n s) <= 1 - target  <=>  n >= log(1 - target) / (s log(1 - p))
        ratio = math.log1p(-target) / (slack * math.log1p(-p)) if target < 1.0 else math.inf
        # A tiny tolerance keeps an exact integer ratio from rounding up.
        needed = math.ceil(min(ratio, float(_UNREACHABLE)) - 1e-9)
    else:
        needed = 1 if p >= 1.0 else _UNREACHABLE
    return max(needed, 1)


@njit(**JIT)
def _dp_round(p: float, k_max: int, w_attempt: float, value_after: float) -> tuple[float, int]:
    """Best expected reward and attempts (the fewest among equals) of one round of a single
    request, ``max_n q(n) + (1 - q(n)) V_after - w_attempt n`` over ``n`` in ``0..k_max``
    with ``q(n) = 1 - (1 - p)**n``."""
    top, choice = -math.inf, 0
    for n in range(k_max + 1):
        success = 1.0 - (1.0 - p) ** float(n)
        outcome = success + (1.0 - success) * value_after - w_attempt * n
        if outcome > top:
            top, choice = outcome, n
    return top, choice


@njit(**JIT)
def single_request_dp(p: float, rounds: int, k_max: int, w_attempt: float, w_fail: float, values, best) -> None:
    """The single-request optimum by rounds left (``docs/model.md#dp-optimum``):
    ``V(0) = -w_fail``, ``V(r) = max_n q(n) + (1 - q(n)) V(r-1) - w_attempt n``;
    ``values[r]`` and ``best[r]`` (``best[0] = 0``) for ``r`` in ``0..rounds``."""
    values[0], best[0] = -w_fail, 0
    for r in range(1, rounds + 1):
        values[r], best[r] = _dp_round(p, k_max, w_attempt, values[r - 1])


@njit(**JIT)
def single_request_dp_rows(p, k_max, w_attempt: float, w_fail: float, values, best) -> None:
    """:func:`single_request_dp` for each ``p[row]`` with its ``k_max[row]``, into
    ``values[row]`` and ``best[row]`` (``(n, rounds + 1)`` each)."""
    for row in range(p.shape[0]):
        single_request_dp(p[row], values.shape[1] - 1, k_max[row], w_attempt, w_fail, values[row], best[row])


@njit(**JIT)
def _dp_choice(p: float, slack: int, limit: int, policy) -> int:
    """The single-request optimum's attempts this round with ``slack`` rounds left."""
    value, choice = -policy[P_W_FAIL], 0
    for _ in range(min(slack, int(policy[P_SLACK_SCALE]))):
        value, choice = _dp_round(p, limit, policy[P_W_ATTEMPT], value)
    return choice


@njit(**JIT)
def _dp_value(p: float, rounds: int, limit: int, policy) -> float:
    """The single-request optimum's expected reward with ``rounds`` rounds left, ``V(rounds)``."""
    value = -policy[P_W_FAIL]
    for _ in range(rounds):
        value, _ = _dp_round(p, limit, policy[P_W_ATTEMPT], value)
    return value


@njit(**JIT)
def _prefetch_choice(p: float, cached: int, since: int, limit: int, policy) -> int:
    """Attempts ``n`` in ``0..limit`` maximising ``q(n) W - w_attempt n`` (the fewest among
    equals), ``q(n) = 1 - (1 - p)**n``: 0 unless the expected value of prefetching is
    positive (``docs/model.md#prefetch-value``). ``W = A - V B`` is the worth of one more
    stored ebit of a pair last requested ``since`` rounds ago, shown with ``p`` and holding
    ``cached``: ``A`` and ``B`` from the policy's table, ``V`` the single-request optimum's
    value of serving a request of the pair fresh."""
    if limit <= 0 or p <= 0.0:
        return 0
    per_pair, rows, classes = int(policy[P_PER_PAIR]), int(policy[P_WORTH_ROWS]), int(policy[P_WORTH_CLASSES])
    column = classes  # any pair, unless p_ab is one of the classes
    for c in range(classes):
        if abs(policy[P_SIZE + c] - p) <= 1e-6 * p:
            column = c
            break
    cell = (min(since, rows - 1) * (classes + 1) + column) * per_pair + min(cached, per_pair - 1)
    at = P_SIZE + classes + 2 * cell
    worth = policy[at] - _dp_value(p, int(policy[P_SLACK_SCALE]), limit, policy) * policy[at + 1]
    best, choice = 0.0, 0
    for n in range(1, limit + 1):
        gain = (1.0 - (1.0 - p) ** float(n)) * worth - policy[P_W_ATTEMPT] * n
        if gain > best:
            best, choice = gain, n
    return choice


@njit(**JIT)
def _grant_in_order(i: int, wanted, order, capacity: int, actions) -> None:
    """``actions[i]`` = ``wanted`` cut to ``capacity`` (-1: unlimited), serving the slots
    in ``order`` while the wanted total before them stays below it (the last may get a part)."""
    before = 0
    for t in range(order.shape[0]):
        j = order[t]
        actions[i, j] = wanted[j] if capacity < 0 else min(wanted[j], max(capacity - before, 0))
        before += wanted[j]


@njit(**JIT, inline="always")
def _likelihood(i: int, j: int, obs, k: int, n_global: int, n_request: int) -> float:
    """``p_ab`` of request slot ``j`` (0 if empty); 0 for a prefetch slot."""
    at = n_global + n_request * j
    if j >= k or obs[i, at + _R_PRESENT] <= 0.5:
        return 0.0
    return float(obs[i, at + _R_P])


@njit(**JIT)
def _act(i: int, policy, obs, limits, actions, scratch) -> None:
    """Attempts per slot of row ``i`` for the scheduler ``policy[P_CODE]``."""
    code, k, m = int(policy[P_CODE]), int(policy[P_K]), int(policy[P_M])
    s = k + m
    scale = int(policy[P_SLACK_SCALE])
    n_global, n_request, n_prefetch = _obs_widths(int(policy[P_OBS_VERSION]))
    wanted, order, keys = scratch[i, :s], scratch[i, s : 2 * s], scratch[i, 2 * s : 3 * s]
    for j in range(s):
        wanted[j], order[j] = 0, j
    if code == SEQUENTIAL:
        for j in range(k):
            actions[i, j] = 0
        for j in range(m):
            actions[i, k + j] = 0
        for j in range(k):
            if obs[i, n_global + n_request * j + _R_PRESENT] > 0.5 and limits[i, j] > 0:
                actions[i, j] = 1
                break
        return
    # Request features, read as policies do: slack rounded back to whole rounds.
    for j in range(k):
        at = n_global + n_request * j
        present = obs[i, at + _R_PRESENT] > 0.5
        p = float(obs[i, at + _R_P]) if present else 0.0
        slack = int(np.rint(float(obs[i, at + _R_SLACK]) * scale)) if present else 0
        from_cache = present and obs[i, at + _R_FROM_CACHE] > 0.5
        limit = limits[i, j] if present else 0
        if code == LOG_PARALLEL:
            wanted[j] = 0 if from_cache else min(int(policy[P_K_PARALLEL]), limit)
        elif code == SINGLE_REQUEST_DP or code == PREFETCH_VALUE:
            wanted[j] = 0 if from_cache else _dp_choice(p, slack, limit, policy)
        elif code == CRITICAL_PATH:
            limit = min(limit, int(policy[P_REQUEST_CAP]))
            # One round to go; np.int64, not a literal 1, keeps the kernel to one signature.
            wanted[j] = 0 if from_cache else min(attempts_for_target(p, np.int64(1), policy[P_TARGET]), limit)
        else:
            limit = min(limit, int(policy[P_REQUEST_CAP]))
            best_chance = 1.0 - (1.0 - p) ** float(limit * slack)
            skip = from_cache or best_chance < policy[P_GIVE_UP]
            needed = attempts_for_target(p, slack, policy[P_TARGET])
            wanted[j] = 0 if skip else min(needed, limit)
        keys[j] = slack if present else scale + 1
    if code == PREFETCH_VALUE:
        for j in range(m):
            at = n_global + n_request * k + n_prefetch * j
            if obs[i, at + _PF_PRESENT] > 0.5:
                cached = int(np.rint(float(obs[i, at + _PF_CACHED]) * policy[P_PER_PAIR]))
                # recency = 1 / (1 + rounds since last requested), a float32 share
                since = int(np.rint(1.0 / max(float(obs[i, at + _PF_RECENCY]), 1e-9) - 1.0))
                p = float(obs[i, at + _PF_P])
                wanted[k + j] = _prefetch_choice(p, cached, since, limits[i, k + j], policy)
    if code == DEADLINE:
        for j in range(m):
            at = n_global + n_request * k + n_prefetch * j
            present = obs[i, at + _PF_PRESENT] > 0.5
            cached = float(obs[i, at + _PF_CACHED]) if present else 0.0
            if policy[P_PREFETCH] > 0 and cached <= 0.0:
                wanted[k + j] = min(int(policy[P_PREFETCH_ATTEMPTS]), limits[i, k + j] if present else 0)
            keys[k + j] = scale + 2
        _least_slack_first(i, obs, k, s, keys, order, n_global, n_request)
    elif code == CRITICAL_PATH:
        # Gates pending within the lookahead: recency 1 / (1 + rounds to go) at least 1 / (1 + lookahead).
        soon = 1.0 / (1.0 + policy[P_LOOKAHEAD])
        for j in range(m):
            at = n_global + n_request * k + n_prefetch * j
            present = obs[i, at + _PF_PRESENT] > 0.5
            imminent = present and float(obs[i, at + _PF_RECENCY]) >= soon * (1.0 - 1e-6)
            if policy[P_PREFETCH] > 0 and imminent and float(obs[i, at + _PF_CACHED]) <= 0.0:
                wanted[k + j] = min(int(policy[P_PREFETCH_ATTEMPTS]), limits[i, k + j])
            keys[k + j] = scale + 2
        _least_slack_first(i, obs, k, s, keys, order, n_global, n_request)
        _grant_round_robin(i, wanted, order, k, int(policy[P_CAPACITY]), actions)
        return
    _grant_in_order(i, wanted, order, int(policy[P_CAPACITY]), actions)


@njit(**JIT)
def _grant_round_robin(i: int, wanted, order, k: int, capacity: int, actions) -> None:
    """``actions[i]``: the ``capacity`` (-1: unlimited) dealt one attempt at a time to the
    request slots, round after round in ``order``, each up to what it ``wanted``; then
    what is left to the prefetch slots, in ``order``. A first attempt on a request is
    worth more than a second (the chance of a success grows ever more slowly), so when the
    capacity binds this spreads it evenly, the first in ``order`` getting the extras."""
    left = capacity if capacity >= 0 else _NEVER
    for j in range(order.shape[0]):
        actions[i, j] = 0
    dealt = True
    while dealt and left > 0:
        dealt = False
        for t in range(order.shape[0]):
            j = order[t]
            if j < k and actions[i, j] < wanted[j] and left > 0:
                actions[i, j] += 1
                left -= 1
                dealt = True
    for t in range(order.shape[0]):
        j = order[t]
        if j >= k:
            actions[i, j] = min(wanted[j], left)
            left -= actions[i, j]


@njit(**JIT)
def _least_slack_first(i: int, obs, k: int, s: int, keys, order, n_global: int, n_request: int) -> None:
    """Sort ``order`` by ``keys`` (the slots' slack), least first, then the likeliest to
    succeed; a stable insertion sort."""
    for t in range(1, s):
        j = order[t]
        u = t
        while u > 0 and (keys[order[u - 1]] > keys[j] or (
                keys[order[u - 1]] == keys[j]
                and _likelihood(i, order[u - 1], obs, k, n_global, n_request)
                < _likelihood(i, j, obs, k, n_global, n_request))):
            order[u] = order[u - 1]
            u -= 1
        order[u] = j


@njit(**JIT)
def act_envs(policy, obs, limits, actions, scratch) -> None:
    """A handcrafted scheduler's attempts for every row of ``obs`` ((B, D) float32), given
    each slot's largest allowed attempts ``limits`` ((B, K + M) int64); ``scratch`` is
    (B, 3 (K + M)) int64."""
    for i in range(obs.shape[0]):
        _act(i, policy, obs, limits, actions, scratch)


@njit(**JIT)
def _play(i, ints, valid, totals, iparams, fparams, ftable, itable, obs, out, latency, work, policy,
          actions, scratch, returns, key) -> None:
    """One whole episode of env ``i`` under ``policy``: its totals stay in the state and
    its return in ``returns[i]``."""
    _start(i, ints, valid, totals, iparams, ftable, itable, work, key)
    _observe(i, ints, valid, iparams, fparams, ftable, obs, out, work)
    returns[i] = 0.0
    while True:
        _act(i, policy, obs, work, actions, scratch)
        _step_env(i, ints, valid, totals, iparams, fparams, ftable, itable, actions, obs, out, latency, work)
        returns[i] += out[i, O_REWARD]
        if out[i, O_TERMINATED] > 0 or out[i, O_TRUNCATED] > 0:
            return


@njit(**JIT, nogil=True)
def play_rows(start, stop, keys, ints, valid, floats, obs_buffer, iconsts, fconsts, policy, actions, scratch,
              returns) -> None:
    """Play one episode in each env ``start..stop-1``, keyed ``keys``: the fused Monte
    Carlo, no Python between rounds. Releases the GIL, like :func:`step_rows`."""
    (iparams, fparams, itable, ftable, work, latency, _,
     totals, out, _, obs, _) = _sections(ints, floats, obs_buffer, iconsts, fconsts)
    for i in range(start, stop):
        _play(i, ints, valid, totals, iparams, fparams, ftable, itable, obs, out, latency, work, policy,
              actions, scratch, returns, keys[i])
