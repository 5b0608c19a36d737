"""The one batched simulation core of the ModEn-Hub (``MODEL.md`` sections 1 and 2).

``HubCore`` advances ``B`` independent hubs by one round per :meth:`HubCore.step`, with
numpy operations over the batch, the request slots and the cache entries. The Gymnasium
env, the native vector env, the Stable-Baselines3 adapter and the Monte Carlo studies all
drive it. It imports neither gymnasium nor torch.

One round of one hub, in order:

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
from dataclasses import dataclass

import numpy as np

from modenhub_env import physics, rng
from modenhub_env.config import HubConfig
from modenhub_env.state import COUNTERS, HubState
from modenhub_env.workload import (
    Popularity,
    load_trace,
    max_budget,
    pair_code,
    poisson_cdf,
    uniform_pairs,
)

_NEVER = np.iinfo(np.int64).max


@dataclass
class SlotView:
    """The slots the agent sees: ``K`` oldest pending requests, then ``M`` prefetch pairs."""

    a: np.ndarray  # (B, K + M) int64 QPU a of the slot's pair
    b: np.ndarray  # (B, K + M) int64 QPU b
    present: np.ndarray  # (B, K + M) bool the slot holds a request or candidate
    limits: np.ndarray  # (B, K + M) int64 [attempts] most the slot may launch alone
    cached: np.ndarray | None  # (B, K + M) int64 [ebits] cached for the pair, if asked for
    youngest: np.ndarray | None  # (B, K + M) int64 [rounds] birth of its youngest, or -1


@dataclass
class StepResult:
    """What one round gives each env of the batch."""

    reward: np.ndarray  # (B,) float64
    terminated: np.ndarray  # (B,) bool: the workload is exhausted
    truncated: np.ndarray  # (B,) bool: episode_rounds reached
    counts: dict[str, np.ndarray]  # COUNTERS and reward components -> (B,) float64
    latency_hist: np.ndarray  # (B, L) int64 requests served this round by latency [rounds]


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
        # Constants of the scenario, computed once from the config for the hot path.
        self.eta = config.eta  # (N,) transmission of each spoke
        self.storage_limit = config.storage_limit  # [rounds]
        self.trace = load_trace(config.trace_path, config.n_qpus) if config.workload == "trace" else None
        self.max_budget = max_budget(config, self.trace)
        self.popularity = Popularity.build(config) if config.zipf_exponent > 0 else None
        self.arrival_cdf = poisson_cdf(config.arrival_rate) if config.workload == "poisson" else None
        self.trace_starts = self.trace.arrivals_per_round() if self.trace else None
        self.n_slots = config.request_slots + config.prefetch_slots
        self.visible = min(config.request_slots, config.queue_size)
        self._template = self._empty(1)
        self.state = self._empty(self.batch)

    def _empty(self, batch: int) -> HubState:
        cfg = self.config
        return HubState.empty(batch, cfg.queue_size, cfg.cache_size, cfg.prefetch_slots, self.max_budget)

    # ------------------------------------------------------------------ reset

    def reset(self, rows: np.ndarray, keys: np.ndarray) -> None:
        """Start new episodes in the envs selected by the boolean ``rows`` ((B,)), keyed
        by ``keys`` ((B,) uint64; only the selected entries are read)."""
        state = self.state
        state.clear(rows, self._template)
        state.key[rows] = keys[rows]
        counts = {name: np.zeros(self.batch) for name in COUNTERS}
        self._arrive(rows, counts)
        for name in COUNTERS:
            state.totals[name] += counts[name]
        self._reserve()

    # ------------------------------------------------------------------ step

    def step(self, actions: np.ndarray) -> StepResult:
        """Advance every env one round; ``actions`` ((B, K + M) ints) are attempts per slot."""
        cfg, state = self.config, self.state
        counts = {name: np.zeros(self.batch) for name in COUNTERS}
        latency = np.zeros((self.batch, self.max_budget), dtype=np.int64)
        slots = self.slot_view()
        a, b, limits = slots.a, slots.b, slots.limits
        self._serve_from_cache(counts, latency)

        launched = self._fit_capacity(np.minimum(actions.astype(np.int64), limits), a, b)
        counts["clipped_attempts"] += (actions - launched).sum(axis=1)
        p = cfg.p_bsm * self.eta[a] * self.eta[b]
        successes = self._successes(launched, p)

        k = cfg.request_slots
        counts["attempts"] += launched[:, :k].sum(axis=1)
        counts["prefetch_attempts"] += launched[:, k:].sum(axis=1)
        surplus = successes.copy()
        self._serve_fresh(launched[:, : self.visible], successes[:, : self.visible], surplus, counts, latency)
        self._store(pair_code(a, b, cfg.n_qpus), surplus, counts)

        failed = state.q_valid & (state.q_deadline <= state.round[:, None] + 1)
        counts["failed"] += failed.sum(axis=1)
        counts["attempts_sq_sum"] += (np.where(failed, state.q_attempts, 0) ** 2).sum(axis=1)
        state.q_valid &= ~failed

        state.round += 1
        self._expire(counts)
        self._compact()
        self._arrive(np.ones(self.batch, dtype=bool), counts)
        self._reserve()

        for name in COUNTERS:
            state.totals[name] += counts[name]
        state.latency_hist += latency
        reward = self._reward(counts)
        terminated = self._workload_done()
        truncated = np.zeros(self.batch, dtype=bool)
        if cfg.episode_rounds is not None:
            truncated = ~terminated & (state.round >= cfg.episode_rounds)
        return StepResult(reward, terminated, truncated, counts, latency)

    def _reward(self, counts: dict[str, np.ndarray]) -> np.ndarray:
        """``served - w_fail * failed - w_attempt * attempts``; components into ``counts``."""
        cfg = self.config
        counts["reward_served"] = counts["served"].copy()
        counts["reward_failed"] = -cfg.w_fail * counts["failed"]
        counts["reward_attempts"] = -cfg.w_attempt * (counts["attempts"] + counts["prefetch_attempts"])
        return counts["reward_served"] + counts["reward_failed"] + counts["reward_attempts"]

    def _workload_done(self) -> np.ndarray:
        cfg, state = self.config, self.state
        idle = ~state.q_valid.any(axis=1)
        if cfg.workload == "sequential":
            return idle & (state.issued >= cfg.episode_requests)
        if cfg.workload == "trace":
            return idle & (state.issued >= self.trace.rows)
        return np.zeros(self.batch, dtype=bool)

    # ------------------------------------------------------------------ slots

    def slot_pairs(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """QPUs ``a``, ``b`` and presence of every slot, each (B, K + M): the ``K`` oldest
        pending requests, then the ``M`` most recently requested pairs."""
        cfg, state = self.config, self.state
        shape = (self.batch, self.n_slots)
        a, b = np.zeros(shape, dtype=np.int64), np.zeros(shape, dtype=np.int64)
        present = np.zeros(shape, dtype=bool)
        v, k = self.visible, cfg.request_slots
        a[:, :v], b[:, :v] = state.q_a[:, :v], state.q_b[:, :v]
        present[:, :v] = state.q_valid[:, :v]
        if cfg.prefetch_slots:
            codes = state.r_pair
            present[:, k:] = codes >= 0
            a[:, k:] = np.where(codes >= 0, codes // cfg.n_qpus, 0)
            b[:, k:] = np.where(codes >= 0, codes % cfg.n_qpus, 0)
        return a, b, present

    def slot_cache(
        self, a: np.ndarray, b: np.ndarray, present: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Cached ebits of each present slot's pair and the round the youngest was
        heralded (-1 if none), each shaped like ``a``; 0 and -1 for absent slots."""
        count = np.zeros(a.shape, dtype=np.int64)
        youngest = np.full(a.shape, -1, dtype=np.int64)
        cached = self.state.c_pair >= 0
        if not cached.any():
            return count, youngest
        # Only slots present in some env are compared with the cache.
        cols = np.flatnonzero(present.any(axis=0))
        codes = np.where(present[:, cols], pair_code(a[:, cols], b[:, cols], self.config.n_qpus), -2)
        same = codes[:, :, None] == self.state.c_pair[:, None, :]
        count[:, cols] = same.sum(axis=2)
        youngest[:, cols] = np.where(same, self.state.c_birth[:, None, :], -1).max(axis=2, initial=-1)
        return count, youngest

    def slot_view(self, with_cache: bool = False) -> SlotView:
        """Every slot's pair, presence and attempt limit, computed once; with ``with_cache``
        also its cached ebits (for the observation)."""
        a, b, present = self.slot_pairs()
        cached = youngest = None
        if with_cache:
            cached, youngest = self.slot_cache(a, b, present)
        return SlotView(a, b, present, self._limits(a, b, present, cached), cached, youngest)

    def slot_limits(self) -> np.ndarray:
        """Most attempts each slot may launch on its own this round, (B, K + M): 0 for an
        empty slot, a request served from the cache, or a prefetch pair with no room."""
        return self.slot_view().limits

    def _limits(self, a, b, present, cached: np.ndarray | None) -> np.ndarray:
        cfg, state = self.config, self.state
        cap = cfg.k_max
        for limit in (cfg.max_attempts_per_round, cfg.comm_qubits_per_qpu):
            if limit is not None:
                cap = min(cap, limit)
        limits = np.where(present, cap, 0)
        v, k = self.visible, cfg.request_slots
        limits[:, :v] *= state.q_reserved[:, :v] < 0
        if cfg.prefetch_slots:
            if cfg.cache_size == 0:
                limits[:, k:] = 0
            else:
                if cached is None:
                    prefetch_cached, _ = self.slot_cache(a[:, k:], b[:, k:], present[:, k:])
                else:
                    prefetch_cached = cached[:, k:]
                room = (prefetch_cached < cfg.cache_per_pair) & (state.c_pair < 0).any(axis=1)[:, None]
                limits[:, k:] *= room
        return limits

    def _fit_capacity(self, wanted: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """Grant slots their attempts in order within ``S`` and the per-QPU limit ``c_i``."""
        cfg = self.config
        total, per_qpu = cfg.max_attempts_per_round, cfg.comm_qubits_per_qpu
        if total is None and per_qpu is None:
            return wanted
        granted = np.zeros_like(wanted)
        left = np.full(self.batch, total if total is not None else _NEVER, dtype=np.int64)
        for j in range(self.n_slots):
            grant = np.minimum(wanted[:, j], left)
            if per_qpu is not None:
                earlier_a, earlier_b = a[:, :j], b[:, :j]
                for qpu in (a[:, j : j + 1], b[:, j : j + 1]):
                    touches = (earlier_a == qpu) | (earlier_b == qpu)
                    grant = np.minimum(grant, per_qpu - (granted[:, :j] * touches).sum(axis=1))
            granted[:, j] = grant
            left -= grant
        return granted

    def _successes(self, launched: np.ndarray, p: np.ndarray) -> np.ndarray:
        """Heralded ebits per slot: ``launched`` Bernoulli(``p``) trials, (B, K + M)."""
        most = int(launched.max(initial=0))
        if most == 0:
            return np.zeros_like(launched)
        # Draws only for slots that launch somewhere; the index keeps each draw's place.
        cols = np.flatnonzero(launched.any(axis=0))
        index = cols[:, None] * self.config.k_max + np.arange(most)[None, :]
        u = rng.uniforms(self.state.key, self.state.round, rng.ATTEMPTS, index)
        tried = np.arange(most) < launched[:, cols, None]
        successes = np.zeros_like(launched)
        successes[:, cols] = ((u < p[:, cols, None]) & tried).sum(axis=2)
        return successes

    # ------------------------------------------------------------------ serving

    def _serve_fresh(self, launched, successes, surplus, counts, latency) -> None:
        """Serve visible requests with a success this round; ``surplus`` keeps the rest."""
        state, v = self.state, self.visible
        state.q_attempts[:, :v] += launched
        served = (successes > 0) & state.q_valid[:, :v]
        surplus[:, :v] -= served
        state.q_valid[:, :v] &= ~served
        rows, cols = np.nonzero(served)
        self._record_served(rows, cols, np.full(rows.size, self.config.f0), counts, latency)

    def _serve_from_cache(self, counts, latency) -> None:
        """Serve the requests that reserved a cached ebit, and free those entries."""
        state = self.state
        rows, cols = np.nonzero(state.q_reserved >= 0)
        if rows.size == 0:
            return
        entry = state.q_reserved[rows, cols]
        age = state.round[rows] - state.c_birth[rows, entry]
        fidelity = physics.werner_fidelity(age, self.config.f0, self.config.t_coh)
        self._record_served(rows, cols, fidelity, counts, latency)
        counts["cache_hits"] += np.bincount(rows, minlength=self.batch)
        state.c_pair[rows, entry] = -1
        state.q_valid[rows, cols] = False
        state.q_reserved[rows, cols] = -1

    def _record_served(self, rows, cols, fidelity, counts, latency) -> None:
        state = self.state
        waited = state.round[rows] - state.q_arrival[rows, cols]
        spent = state.q_attempts[rows, cols].astype(np.float64)
        counts["served"] += np.bincount(rows, minlength=self.batch)
        counts["attempts_sq_sum"] += np.bincount(rows, weights=spent**2, minlength=self.batch)
        counts["fidelity_sum"] += np.bincount(rows, weights=fidelity, minlength=self.batch)
        counts["latency_sum"] += np.bincount(rows, weights=waited, minlength=self.batch)
        np.add.at(latency, (rows, waited), 1)

    def _store(self, codes: np.ndarray, surplus: np.ndarray, counts) -> None:
        """Put surplus ebits of each slot's pair into free cache entries, within the caps."""
        cfg, state = self.config, self.state
        counts["wasted"] += surplus.sum(axis=1)
        if cfg.cache_size == 0:
            return
        for j in np.flatnonzero(surplus.any(axis=0)):
            rows = np.flatnonzero(surplus[:, j])  # only the envs with a surplus in this slot
            pairs = state.c_pair[rows]
            code = codes[rows, j : j + 1]
            free = pairs < 0
            pair_room = cfg.cache_per_pair - (pairs == code).sum(axis=1)
            stored = np.minimum(surplus[rows, j], np.minimum(pair_room, free.sum(axis=1)))
            put = free & (np.cumsum(free, axis=1) <= stored[:, None])
            where_rows, where_cols = np.nonzero(put)
            state.c_pair[rows[where_rows], where_cols] = code[where_rows, 0]
            state.c_birth[rows[where_rows], where_cols] = state.round[rows[where_rows]]
            counts["cached"][rows] += stored
            counts["wasted"][rows] -= stored

    def _expire(self, counts) -> None:
        state = self.state
        if math.isinf(self.storage_limit) or self.config.cache_size == 0:
            return
        dead = (state.c_pair >= 0) & (state.round[:, None] - state.c_birth > self.storage_limit)
        counts["expired"] += dead.sum(axis=1)
        state.c_pair[dead] = -1

    def _reserve(self) -> None:
        """Each pending request, oldest first, reserves the oldest cached ebit of its pair."""
        state = self.state
        state.q_reserved[:] = -1
        if self.config.cache_size == 0:
            return
        codes = pair_code(state.q_a, state.q_b, self.config.n_qpus)
        match = state.q_valid[:, :, None] & (codes[:, :, None] == state.c_pair[:, None, :])
        if not match.any():
            return
        taken = np.zeros(state.c_pair.shape, dtype=bool)
        for j in np.flatnonzero(match.any(axis=(0, 2))):
            candidates = match[:, j] & ~taken
            has = candidates.any(axis=1)
            entry = np.where(candidates, state.c_birth, _NEVER).argmin(axis=1)
            state.q_reserved[has, j] = entry[has]
            taken[has, entry[has]] = True

    # ------------------------------------------------------------------ queue

    def _compact(self) -> None:
        """Pack pending requests to the front of the queue, keeping their order."""
        state = self.state
        if state.q_valid.shape[1] == 1:
            return
        order = np.argsort(~state.q_valid, axis=1, kind="stable")
        for name in ("q_valid", "q_a", "q_b", "q_arrival", "q_deadline", "q_attempts"):
            setattr(state, name, np.take_along_axis(getattr(state, name), order, axis=1))

    def _arrive(self, rows: np.ndarray, counts) -> None:
        """Requests of the current round join the queue in the envs selected by ``rows``."""
        cfg, state = self.config, self.state
        pending = state.q_valid.sum(axis=1)
        free = state.q_valid.shape[1] - pending
        if cfg.workload == "sequential":
            offered = (rows & (pending == 0) & (state.issued < cfg.episode_requests)).astype(np.int64)
            state.issued += offered
        elif cfg.workload == "poisson":
            u = rng.uniforms(state.key, state.round, rng.ARRIVAL_COUNT, np.zeros(1))[:, 0]
            offered = np.where(rows, np.searchsorted(self.arrival_cdf, u, side="right"), 0)
        else:
            last = self.trace_starts.size - 1
            end = self.trace_starts[np.minimum(state.round + 1, last)]
            offered = np.where(rows, np.maximum(end - state.issued, 0), 0)
        accepted = np.minimum(offered, free)
        counts["arrived"] += offered
        counts["rejected"] += offered - accepted
        most = int(accepted.max(initial=0))
        if most:
            self._enqueue(pending, accepted, most)
        if cfg.workload == "trace":
            state.issued += offered

    def _enqueue(self, pending: np.ndarray, accepted: np.ndarray, most: int) -> None:
        cfg, state = self.config, self.state
        order = np.arange(most)[None, :]
        new = order < accepted[:, None]  # (B, most)
        if cfg.workload == "trace":
            row = np.minimum(state.issued[:, None] + order, self.trace.rows - 1)
            a, b = self.trace.a[row], self.trace.b[row]
            budget = self.trace.budget[row]
        else:
            u = rng.uniforms(state.key, state.round, rng.ARRIVAL_PAIRS, 2 * order[0][:, None] + np.arange(2))
            if self.popularity is not None:
                a, b = self.popularity.sample(u[..., 0])
            else:
                a, b = uniform_pairs(u[..., 0], u[..., 1], cfg.n_qpus)
            budget = np.full(a.shape, cfg.round_budget)
        rows, cols = np.nonzero(new)
        slots = pending[rows] + cols
        state.q_valid[rows, slots] = True
        state.q_a[rows, slots], state.q_b[rows, slots] = a[rows, cols], b[rows, cols]
        state.q_arrival[rows, slots] = state.round[rows]
        state.q_deadline[rows, slots] = state.round[rows] + budget[rows, cols]
        state.q_attempts[rows, slots] = 0
        if cfg.prefetch_slots:
            self._remember(pair_code(a, b, cfg.n_qpus), new)

    def _remember(self, codes: np.ndarray, new: np.ndarray) -> None:
        """Move the pairs just requested to the front of the prefetch candidates."""
        state = self.state
        m = state.r_pair.shape[1]
        pairs = np.concatenate([np.where(new, codes, -1)[:, ::-1], state.r_pair], axis=1)
        rounds = np.concatenate([np.broadcast_to(state.round[:, None], codes.shape), state.r_round], axis=1)
        n = pairs.shape[1]
        earlier = np.tril(np.ones((n, n), dtype=bool), k=-1)
        repeated = ((pairs[:, :, None] == pairs[:, None, :]) & earlier).any(axis=2)
        keep = (pairs >= 0) & ~repeated
        order = np.argsort(~keep, axis=1, kind="stable")[:, :m]
        kept = np.take_along_axis(keep, order, axis=1)
        state.r_pair = np.where(kept, np.take_along_axis(pairs, order, axis=1), -1)
        state.r_round = np.where(kept, np.take_along_axis(rounds, order, axis=1), 0)
