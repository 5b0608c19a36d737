"""The agent's view of the hub: a fixed-size float32 vector and the action masks.

Layout (``docs/model.md#agent-interface``; the full table in ``docs/env.md``), every
feature in ``[0, 1]``:

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

Observation version 1 (``ModEnHub-v1``, ``HubConfig.observation_version = 1``) adds, at
the end of each block, what a scheduler needs to respect the capacities ``S`` and
``c_i`` (``docs/env.md#observation-space``): globally the capacity left if every slot
launched its limit, and ``c_i / k_max``; per slot (request and prefetch alike) the
attempts older and younger slots could claim on its busier QPU, as shares of ``c_i``,
and the attempts it is sure to be granted whatever older slots ask.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from modenhub_env.core import HubCore

GLOBAL_FEATURES = (
    "progress", "queue_load", "hub_capacity", "cache_fill", "log2_qpus", "k_parallel",
)
REQUEST_FEATURES = (
    "present", "p_pair", "slack", "attempts_spent", "cached", "cached_fidelity",
    "from_cache", "chance_one_per_round", "attempt_limit",
)
PREFETCH_FEATURES = ("present", "p_pair", "cached", "cached_fidelity", "recency", "attempt_limit")
#: What observation version 1 adds after the global features of version 0.
GLOBAL_FEATURES_V1 = ("capacity_left", "qpu_capacity")
#: What observation version 1 adds after the features of version 0 of every slot.
SLOT_FEATURES_V1 = ("older_qpu_claim", "younger_qpu_claim", "sure_attempts")
#: The observation versions: 0 (``ModEnHub-v0``) and 1 (``ModEnHub-v1``).
OBSERVATION_VERSIONS = (0, 1)


def block_features(version: int = 0) -> tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]:
    """Names of the global features, of one request slot's and of one prefetch slot's in
    observation ``version``; version 1 keeps version 0's and appends its own to each."""
    if version not in OBSERVATION_VERSIONS:
        raise ValueError(f"observation_version must be one of {OBSERVATION_VERSIONS}, got {version!r}")
    if version == 0:
        return GLOBAL_FEATURES, REQUEST_FEATURES, PREFETCH_FEATURES
    return GLOBAL_FEATURES + GLOBAL_FEATURES_V1, REQUEST_FEATURES + SLOT_FEATURES_V1, PREFETCH_FEATURES + SLOT_FEATURES_V1


def observation_size(request_slots: int, prefetch_slots: int, version: int = 0) -> int:
    """Length of the observation vector."""
    glob, request, prefetch = block_features(version)
    return len(glob) + request_slots * len(request) + prefetch_slots * len(prefetch)


def feature_names(request_slots: int, prefetch_slots: int, version: int = 0) -> list[str]:
    """Name of every entry of the observation, e.g. ``request[2].slack``."""
    glob, request, prefetch = block_features(version)
    names = [f"global.{name}" for name in glob]
    names += [f"request[{i}].{n}" for i in range(request_slots) for n in request]
    names += [f"prefetch[{i}].{n}" for i in range(prefetch_slots) for n in prefetch]
    return names


def observe(core: HubCore) -> np.ndarray:
    """The observation of every env from its state as it is, ``(B, observation_size)``
    float32 (computed by the compiled kernel ``kernels._observe``)."""
    core.refresh()
    return core.obs.copy()


def action_masks(core: HubCore) -> np.ndarray:
    """Allowed attempt counts of every slot, flattened as sb3-contrib's MaskablePPO expects
    for a ``MultiDiscrete`` space: ``(B, (K + M) * (k_max + 1))`` bool."""
    return masks_from_limits(core.slot_limits(), core.config.k_max)


def masks_from_limits(limits: np.ndarray, k_max: int) -> np.ndarray:
    """``0..limit`` allowed per slot: ``(B, K + M)`` limits to ``(B, (K + M) * (k_max + 1))`` bool."""
    allowed = np.arange(k_max + 1)[None, None, :] <= limits[:, :, None]
    return allowed.reshape(limits.shape[0], -1)
