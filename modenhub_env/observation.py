"""The agent's view of the hub: a fixed-size float32 vector and the action masks.

Layout (``MODEL.md`` section 6), every feature in ``[0, 1]``:

=========================  =====================================================
block                      features
=========================  =====================================================
global (6)                 episode progress; queue load (pending / queue size);
                           hub capacity ``S / (K k_max)`` (1 if unlimited); cache
                           fill; ``log2(N) / 12``; ``k(N) / k_max``
request slot x ``K`` (9)   present; ``p_ab``; slack (rounds left, this one
                           included) / max budget; attempts spent / (``k_max`` x
                           max budget); cached ebits of the pair / per-pair cap;
                           fidelity of the youngest cached ebit (0 if none);
                           served from the cache this round; chance of success
                           with one attempt a round over the slack,
                           ``1-(1-p)**slack``; attempt limit / ``k_max``
prefetch slot x ``M`` (6)  present; ``p_ab``; cached ebits of the pair / per-pair
                           cap; fidelity of the youngest cached ebit; recency
                           ``1 / (1 + rounds since last requested)``; attempt
                           limit / ``k_max``
=========================  =====================================================

Request slots hold the ``K`` oldest pending requests; prefetch slots the ``M`` pairs
requested most recently. Empty slots are all zeros. Features describe requests, not
QPUs, so a policy trained at one ``N`` runs at another.
"""

from __future__ import annotations

import math

import numpy as np

from modenhub_env import physics
from modenhub_env.core import HubCore

GLOBAL_FEATURES = (
    "progress", "queue_load", "hub_capacity", "cache_fill", "log2_qpus", "k_parallel",
)
REQUEST_FEATURES = (
    "present", "p_pair", "slack", "attempts_spent", "cached", "cached_fidelity",
    "from_cache", "chance_one_per_round", "attempt_limit",
)
PREFETCH_FEATURES = ("present", "p_pair", "cached", "cached_fidelity", "recency", "attempt_limit")


def observation_size(request_slots: int, prefetch_slots: int) -> int:
    """Length of the observation vector."""
    return (
        len(GLOBAL_FEATURES)
        + request_slots * len(REQUEST_FEATURES)
        + prefetch_slots * len(PREFETCH_FEATURES)
    )


def feature_names(request_slots: int, prefetch_slots: int) -> list[str]:
    """Name of every entry of the observation, e.g. ``request[2].slack``."""
    names = [f"global.{name}" for name in GLOBAL_FEATURES]
    names += [f"request[{i}].{n}" for i in range(request_slots) for n in REQUEST_FEATURES]
    names += [f"prefetch[{i}].{n}" for i in range(prefetch_slots) for n in PREFETCH_FEATURES]
    return names


def observe(core: HubCore) -> np.ndarray:
    """The observation of every env, ``(B, observation_size)`` float32."""
    cfg, state = core.config, core.state
    k = cfg.request_slots
    slots = core.slot_view(with_cache=True)
    a, b, present, limits = slots.a, slots.b, slots.present, slots.limits
    cached, youngest = slots.cached, slots.youngest
    p = np.where(present, cfg.p_bsm * core.eta[a] * core.eta[b], 0.0)
    fidelity = np.where(
        youngest >= 0,
        physics.werner_fidelity(state.round[:, None] - youngest, cfg.f0, cfg.t_coh),
        0.0,
    )
    cached_share = np.minimum(cached / cfg.cache_per_pair, 1.0)
    limit_share = limits / cfg.k_max

    requests = np.zeros((core.batch, k, len(REQUEST_FEATURES)))
    v = core.visible
    slack = np.where(present[:, :v], state.q_deadline[:, :v] - state.round[:, None], 0)
    requests[:, :v, 0] = present[:, :v]
    requests[:, :v, 1] = p[:, :v]
    requests[:, :v, 2] = slack / core.max_budget
    requests[:, :v, 3] = np.minimum(state.q_attempts[:, :v] / (cfg.k_max * core.max_budget), 1.0)
    requests[:, :v, 6] = state.q_reserved[:, :v] >= 0
    requests[:, :v, 7] = 1.0 - (1.0 - p[:, :v]) ** slack
    requests[:, :, 4] = cached_share[:, :k]
    requests[:, :, 5] = fidelity[:, :k]
    requests[:, :, 8] = limit_share[:, :k]
    requests *= present[:, :k, None]

    prefetch = np.zeros((core.batch, cfg.prefetch_slots, len(PREFETCH_FEATURES)))
    if cfg.prefetch_slots:
        shown = present[:, k:]
        since = state.round[:, None] - state.r_round
        prefetch[..., 0] = shown
        prefetch[..., 1] = p[:, k:]
        prefetch[..., 2] = cached_share[:, k:]
        prefetch[..., 3] = fidelity[:, k:]
        prefetch[..., 4] = np.where(shown, 1.0 / (1.0 + since), 0.0)
        prefetch[..., 5] = limit_share[:, k:]

    parts = [_global_features(core), requests.reshape(core.batch, -1), prefetch.reshape(core.batch, -1)]
    return np.clip(np.concatenate(parts, axis=1), 0.0, 1.0).astype(np.float32)


def _global_features(core: HubCore) -> np.ndarray:
    cfg, state = core.config, core.state
    out = np.zeros((core.batch, len(GLOBAL_FEATURES)))
    if cfg.workload == "sequential":
        out[:, 0] = state.issued / cfg.episode_requests
    elif cfg.workload == "trace":
        out[:, 0] = state.issued / core.trace.rows
    if cfg.episode_rounds is not None:
        out[:, 0] = np.maximum(out[:, 0], state.round / cfg.episode_rounds)
    out[:, 1] = state.q_valid.sum(axis=1) / state.q_valid.shape[1]
    capacity = cfg.max_attempts_per_round
    out[:, 2] = 1.0 if capacity is None else min(1.0, capacity / (cfg.request_slots * cfg.k_max))
    if cfg.cache_size:
        out[:, 3] = (state.c_pair >= 0).sum(axis=1) / cfg.cache_size
    out[:, 4] = math.log2(cfg.n_qpus) / 12.0
    out[:, 5] = min(1.0, cfg.k_parallel / cfg.k_max)
    return out


def action_masks(core: HubCore) -> np.ndarray:
    """Allowed attempt counts of every slot, flattened as sb3-contrib's MaskablePPO expects
    for a ``MultiDiscrete`` space: ``(B, (K + M) * (k_max + 1))`` bool."""
    limits = core.slot_limits()
    allowed = np.arange(core.config.k_max + 1)[None, None, :] <= limits[:, :, None]
    return allowed.reshape(core.batch, -1)
