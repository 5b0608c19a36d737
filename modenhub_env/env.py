"""``ModEnHubEnv``: one ModEn-Hub as a Gymnasium environment (a batch of one of the core)."""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium.error import ResetNeeded

from modenhub_env import interface, render
from modenhub_env.config import HubConfig
from modenhub_env.core import ActionRangeError, HubCore
from modenhub_env.observation import action_masks


class ModEnHubEnv(gym.Env):
    """
    ## Description

    A central photonic entanglement hub joins ``N`` QPUs through lossy fibre spokes. Each
    round (one entanglement-generation window) the orchestrator, the agent, decides how
    many entanglement attempts to launch for each pending teleportation request, and for
    pairs it expects to be asked for (prefetch), before the requests' round budgets run
    out. An attempt for the pair ``(a, b)`` heralds a Bell pair (ebit) with probability
    ``p_ab = P_bsm * eta_a * eta_b``. A request with a success is served; surplus ebits go
    into a small cache in the hub's quantum memory, where they decohere (Werner decay)
    until used or discarded. The physics, the workloads and the paper behind them are in
    ``docs/model.md`` (the round's order of events: ``docs/model.md#round``) and
    :mod:`modenhub_env.core`; this card is also ``docs/env.md``.

    ## Action Space

    ``MultiDiscrete([k_max + 1] * (K + M))``: attempts this round for each of the ``K``
    request slots (oldest pending request first), then each of the ``M`` prefetch slots.
    An empty slot, a request served from the cache this round, or a prefetch pair with no
    cache room allows 0 only; hub capacity ``S`` and per-QPU limits ``c_i`` cap the sum.
    :meth:`action_masks` gives the allowed values per slot (for sb3-contrib's
    MaskablePPO). Attempts beyond a slot's mask, or beyond the capacity left by older
    slots, are not launched and are counted in ``info["clipped_attempts"]``. A wrong
    shape, a non-integer dtype or a value outside ``[0, k_max]`` raises ``ValueError``.

    ## Observation Space

    ``Box(0, 1, (6 + 9 K + 6 M,), float32)`` in v0 (the table), ``Box(0, 1, (8 + 12 K +
    9 M,), float32)`` in v1; empty slots are zeros.

    | block | index | feature | unit / scaling |
    |---|---|---|---|
    | global | 0 | episode progress | requests issued / T, or round / episode_rounds |
    | global | 1 | queue load | pending / queue size |
    | global | 2 | hub capacity | ``S / (K k_max)``, 1 if unlimited |
    | global | 3 | cache fill | ebits / cache size |
    | global | 4 | size of the network | ``log2(N) / 12`` |
    | global | 5 | log-parallel attempts | ``k(N) / k_max`` |
    | request ``i`` | 6 + 9i + 0 | present | 0 or 1 |
    | | +1 | ``p_ab`` | probability per attempt |
    | | +2 | slack | rounds left (this one included) / max budget |
    | | +3 | attempts spent | / (``k_max`` x max budget) |
    | | +4 | cached ebits of the pair | / ``cache_per_pair`` |
    | | +5 | fidelity of the youngest cached ebit | 0 if none |
    | | +6 | served from the cache this round | 0 or 1 |
    | | +7 | ``1 - (1 - p_ab)**slack`` | probability |
    | | +8 | attempt limit of the slot | / ``k_max`` |
    | prefetch ``j`` | 6 + 9K + 6j + 0 | present | 0 or 1 |
    | | +1 | ``p_ab`` | probability per attempt |
    | | +2 | cached ebits of the pair | / ``cache_per_pair`` |
    | | +3 | fidelity of the youngest cached ebit | 0 if none |
    | | +4 | recency | ``1 / (1 + rounds since last requested)`` |
    | | +5 | attempt limit of the slot | / ``k_max`` |

    ``modenhub_env.observation.feature_names(K, M, version)`` names every index. v1
    (``observation_version=1``) keeps these features in their order within each block and
    appends to each: globally the capacity left if every slot launched its limit
    (``max(S - sum L, 0) / S``) and ``min(c_i / k_max, 1)``; per slot the attempts the
    older and the younger slots may launch on its busier QPU (their limits ``L`` summed
    per QPU, ``/ c_i``, at most 1) and the attempts it is granted whatever the older slots
    ask (``max(0, min(L_j, S - older limits, c_i - older claim)) / k_max``). The formulas
    are in ``docs/env.md#observation-space``.
    With the
    ``circuit`` workload, slack is the rounds a gate may wait before it delays the
    circuit's earliest end, prefetch slots hold upcoming gates' pairs and their recency
    is ``1 / (1 + rounds until the gate may be pending)`` (``docs/env.md``).

    ## Rewards

    Per round, ``served - w_fail * failed - w_attempt * attempts - w_fidelity * sum(F0 -
    F)`` (attempts include prefetch attempts; the sum runs over the requests served, ``F``
    the fidelity of the ebit that served each, ``F0`` for a fresh one). ``info`` holds the
    four components (``reward_served``, ``reward_failed``, ``reward_attempts``,
    ``reward_fidelity``) and the round's counters: ``arrived``,
    ``served``, ``failed``, ``rejected``, ``attempts``, ``prefetch_attempts``,
    ``clipped_attempts``, ``cache_hits``, ``cached``, ``wasted``, ``expired``,
    ``fidelity_sum``, ``latency_sum``, the mean delivered ``ebit_fidelity`` and
    ``gate_fidelity`` ``(2F + 1) / 3`` (0 when nothing was served), ``round``,
    ``pending``, ``cache_fill`` and ``latency_hist`` (served requests by rounds waited).
    For the ``circuit`` workload, ``-1`` a round until the circuit is done
    (``reward_makespan``) ``- w_attempt * attempts``.

    ## Starting State

    Round 0, an empty cache and queue, and the workload's arrivals of round 0.

    ## Episode End

    Terminated when the workload is exhausted and the queue is empty: ``episode_requests``
    requests for ``sequential``, every row for ``trace``, every gate of the circuit (and
    its local tail) for ``circuit``. Truncated at ``episode_rounds`` rounds, if set
    (always for ``poisson``, which never terminates, and ``circuit``). At the end,
    ``info["episode"]`` holds the episode's totals.

    ## Arguments

    ```python
    gymnasium.make("modenhub_env:ModEnHub-v1", preset="contention", n_qpus=32)
    gymnasium.make("modenhub_env:ModEnHub-v0", config=HubConfig(...), render_mode="ansi")
    ```

    * ``config``: a :class:`HubConfig`; or ``preset``: ``paper`` (default),
      ``contention``, ``decoherence``, ``decoherence-short`` or ``hotspot``;
    * any ``HubConfig`` field as a keyword, overriding the preset;
    * ``render_mode``: ``"ansi"`` (text summary of the round) or ``"rgb_array"``.

    ``reset(options={...})`` takes ``HubConfig`` fields too, except those that shape the
    spaces (``request_slots``, ``prefetch_slots``, ``k_max``, ``observation_version``).

    ## Version History

    * v0: initial version.
    * v1: the observation extended by what the capacities ``S`` and ``c_i`` leave each slot
      (``observation_version=1``); dynamics, actions and rewards as v0, which stays
      registered unchanged.
    """

    metadata = {"render_modes": list(render.RENDER_MODES), "render_fps": 4}

    def __init__(
        self,
        config: HubConfig | None = None,
        preset: str | None = None,
        render_mode: str | None = None,
        **overrides: Any,
    ) -> None:
        self.config = interface.resolve_config(config, preset, **overrides)
        self.render_mode = render.check_render_mode(render_mode)
        self.observation_space = interface.observation_space(self.config)
        self.action_space = interface.action_space(self.config)
        self.core = HubCore(self.config, 1)
        self._last_info: dict[str, Any] = {}
        self._needs_reset = True

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        config = interface.reconfigure(self.config, options)
        super().reset(seed=seed)
        if config is not self.config:
            self.config, self.core = config, HubCore(config, 1)
        keys = interface.keys_for_seeds([seed], self.core.keys, self.np_random)
        self.core.reset(np.ones(1, dtype=bool), keys)
        self._needs_reset = False
        self._last_info = interface.row_of(interface.state_info(self.core), 0)
        return self.core.obs[0].copy(), dict(self._last_info)

    def step(self, action: Any) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        if self._needs_reset:
            raise ResetNeeded("call reset() before step(): the env has no episode yet")
        actions = interface.check_actions(action, (), self.config)
        try:
            self.core.advance(actions)
        except ActionRangeError as err:
            raise err.unbatched() from None
        reward, terminated, truncated, info = interface.single_step(self.core)
        if terminated or truncated:
            info["episode"] = interface.row_of(interface.episode_info(self.core), 0)
        self._last_info = info
        return self.core.obs[0].copy(), reward, terminated, truncated, info

    def action_masks(self) -> np.ndarray:
        """Allowed attempts per slot, flattened: ``((K + M) * (k_max + 1),)`` bool."""
        return action_masks(self.core)[0]

    def render(self) -> str | np.ndarray | None:
        return render.render_frame(self.core, self.render_mode, self._last_info)
