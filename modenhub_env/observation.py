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
