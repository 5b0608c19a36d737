"""``ModEnHubVectorEnv``: ``B`` hubs as one native Gymnasium ``VectorEnv`` over the batched core."""

from __future__ import annotations

from typing import Any

import numpy as np
from gymnasium.error import ResetNeeded
from gymnasium.vector import AutoresetMode, VectorEnv
from gymnasium.vector.utils import batch_space

from modenhub_env import interface, kernels, render
from modenhub_env.config import HubConfig
from modenhub_env.core import HubCore
from modenhub_env.observation import action_masks


class ModEnHubVectorEnv(VectorEnv):
    """``num_envs`` independent ModEn-Hubs stepped together by one batched core.

    Spaces, rewards and ``info`` are those of :class:`modenhub_env.env.ModEnHubEnv`, with
    a batch axis; ``info`` entries are arrays of shape ``(num_envs,)`` with Gymnasium's
    ``_name`` masks. Episodes restart in the same step (``AutoresetMode.SAME_STEP``): the
    returned observation of a finished env is its new episode's first, and
    ``info["final_obs"]`` / ``info["final_info"]`` (masked by ``_final_obs`` /
    ``_final_info``) hold the last observation and info of the episode that ended. Env
    ``i`` seeded ``seed + i`` by ``reset(seed=seed)`` matches a single env seeded
    ``seed + i``, step for step.

    :param num_envs: number of hubs ``B``.
    :param config: a :class:`HubConfig`; or ``preset`` and keyword overrides as for the
        single env.
    :param render_mode: ``"ansi"`` or ``"rgb_array"``; renders env 0.
    """

    metadata = {
        "render_modes": list(render.RENDER_MODES),
        "render_fps": 4,
        "autoreset_mode": AutoresetMode.SAME_STEP,
    }

    def __init__(
        self,
        num_envs: int = 1,
        config: HubConfig | None = None,
        preset: str | None = None,
        render_mode: str | None = None,
        **overrides: Any,
    ) -> None:
        self.config = interface.resolve_config(config, preset, **overrides)
        self.core = HubCore(self.config, num_envs)
        self.num_envs = self.core.batch
        self.render_mode = render.check_render_mode(render_mode)
        self.single_observation_space = interface.observation_space(self.config)
        self.single_action_space = interface.action_space(self.config)
        self.observation_space = batch_space(self.single_observation_space, self.num_envs)
        self.action_space = batch_space(self.single_action_space, self.num_envs)
        self._last_info: dict[str, Any] = {}
        self._needs_reset = True
        self._all = np.ones(self.num_envs, dtype=bool)

    def reset(
        self,
        *,
        seed: int | list[int | None] | None = None,
        options: dict[str, Any] | None = None,
    ) -> tuple[np.ndarray, dict[str, Any]]:
        config = interface.reconfigure(self.config, options)
        base_seed = seed if isinstance(seed, int) else None
        super().reset(seed=base_seed)
        if config is not self.config:
            self.config, self.core = config, HubCore(config, self.num_envs)
        seeds = self._per_env_seeds(seed)
        keys = interface.keys_for_seeds(seeds, self.core.state.key, self.np_random)
        self.core.reset(np.ones(self.num_envs, dtype=bool), keys)
        self._needs_reset = False
        info = _masked(interface.state_info(self.core), self._all)
        self._last_info = info
        return self.core.obs.copy(), info

    def _per_env_seeds(self, seed: int | list[int | None] | None) -> list[int | None]:
        if seed is None:
            return [None] * self.num_envs
        if isinstance(seed, (int, np.integer)) and not isinstance(seed, bool):
            return [int(seed) + i for i in range(self.num_envs)]
        seeds = list(seed)
        if len(seeds) != self.num_envs:
            raise ValueError(f"seed must be an int, None or a list of {self.num_envs} seeds, got {len(seeds)}")
        return seeds

    def step(
        self, actions: Any
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, dict[str, Any]]:
        if self._needs_reset:
            raise ResetNeeded("call reset() before step(): the envs have no episodes yet")
        checked = interface.check_actions(actions, (self.num_envs,), self.config)
        self.core.advance(checked, autoreset=True)
        out = self.core.out
        reward = out[:, kernels.O_REWARD].copy()
        terminated, truncated = out[:, kernels.O_TERMINATED] > 0, out[:, kernels.O_TRUNCATED] > 0
        done = terminated | truncated
        info = interface.batched_info(out, self.core.latency)
        obs = self.core.obs.copy()
        info = _masked(info, self._all)
        if done.any():
            final_obs = np.empty(self.num_envs, dtype=object)
            final_obs[:] = None
            for i in np.flatnonzero(done):
                final_obs[i] = self.core.final_obs[i].copy()
            info["final_obs"], info["_final_obs"] = final_obs, done.copy()
            info["final_info"], info["_final_info"] = _masked(interface.final_info(self.core), done), done.copy()
        self._last_info = info
        return obs, reward, terminated, truncated, info

    def action_masks(self) -> np.ndarray:
        """Allowed attempts per slot of every env: ``(num_envs, (K + M) * (k_max + 1))`` bool."""
        return action_masks(self.core)

    def render(self) -> str | np.ndarray | None:
        return render.render_frame(self.core, self.render_mode, interface.row_of(_unmasked(self._last_info), 0))


def _masked(info: dict[str, Any], rows: np.ndarray) -> dict[str, Any]:
    """Gymnasium's vector ``info`` layout: each entry beside a ``_name`` mask of the envs
    (``rows``) it holds a value for."""
    out: dict[str, Any] = {}
    for key, value in info.items():
        out[key] = _masked(value, rows) if isinstance(value, dict) else value
        out[f"_{key}"] = rows.copy()
    return out


def _unmasked(info: dict[str, Any]) -> dict[str, Any]:
    return {
        key: value
        for key, value in info.items()
        if not key.startswith("_") and key not in ("final_obs", "final_info")
    }
