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
    ``_name`` masks. Env ``i`` seeded ``seed + i`` by ``reset(seed=seed)`` matches a single
    env seeded ``seed + i``, step for step, in either autoreset mode:

    * ``AutoresetMode.SAME_STEP`` (the default): episodes restart in the step that ends
      them. The returned observation of a finished env is its new episode's first, and
      ``info["final_obs"]`` / ``info["final_info"]`` (masked by ``_final_obs`` /
      ``_final_info``) hold the last observation and info of the episode that ended.
    * ``AutoresetMode.DISABLED``: a finished env returns its last observation, with
      ``info["episode"]`` (masked by ``_episode``) holding its totals, and waits for
      ``reset(options={"reset_mask": mask})``, which restarts the envs where ``mask`` is
      true (seeded ``seed + i`` if a ``seed`` is given) and leaves the others as they are.
      Stepping a finished env before that raises ``gymnasium.error.ResetNeeded``.

    ``AutoresetMode.NEXT_STEP`` is not offered: the core steps every env of the batch
    together, so it cannot hold the finished ones back for the step in which they restart.
    ``reset(options=...)`` takes ``reset_mask`` (in either mode) beside ``HubConfig``
    fields; a field that changes the config restarts every env, so it is refused with a
    ``reset_mask``.

    :param num_envs: number of hubs ``B``.
    :param config: a :class:`HubConfig`; or ``preset`` and keyword overrides as for the
        single env.
    :param render_mode: ``"ansi"`` or ``"rgb_array"``; renders env 0.
    :param autoreset_mode: ``AutoresetMode.SAME_STEP`` or ``DISABLED`` (or their values,
        ``"SameStep"``, ``"Disabled"``).
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
        autoreset_mode: AutoresetMode | str = AutoresetMode.SAME_STEP,
        **overrides: Any,
    ) -> None:
        self.autoreset_mode = _check_autoreset_mode(autoreset_mode)
        self.metadata = {**type(self).metadata, "autoreset_mode": self.autoreset_mode}
        self.config = interface.resolve_config(config, preset, **overrides)
        self.core = HubCore(self.config, num_envs)
        self.num_envs = self.core.batch
        self.render_mode = render.check_render_mode(render_mode)
        self.single_observation_space = interface.observation_space(self.config)
        self.single_action_space = interface.action_space(self.config)
        self.observation_space = batch_space(self.single_observation_space, self.num_envs)
        self.action_space = batch_space(self.single_action_space, self.num_envs)
        self._last_info: dict[str, Any] = {}
        self._all = np.ones(self.num_envs, dtype=bool)
        self._finished = np.zeros(self.num_envs, dtype=bool)  # ended, awaiting reset (DISABLED only)
        self._needs_reset = True  # no episode yet

    def reset(
        self,
        *,
        seed: int | list[int | None] | None = None,
        options: dict[str, Any] | None = None,
    ) -> tuple[np.ndarray, dict[str, Any]]:
        options = dict(options) if options else {}
        rows = self._reset_rows(options.pop("reset_mask", None))
        if self._needs_reset and not rows.all():
            raise ValueError("the first reset() starts every env: give no reset_mask, or an all-true one")
        config = interface.reconfigure(self.config, options)
        if config != self.config and not rows.all():
            raise ValueError(
                "reset options: HubConfig fields restart every env, so they cannot go with a "
                "reset_mask; reset all envs to change the config"
            )
        base_seed = seed if isinstance(seed, int) else None
        super().reset(seed=base_seed)
        if config is not self.config and rows.all():
            self.config, self.core = config, HubCore(config, self.num_envs)
        seeds = self._per_env_seeds(seed)
        keys = interface.keys_for_seeds(seeds, self.core.keys, self.np_random)
        self.core.reset(rows, keys)
        self._finished &= ~rows
        self._needs_reset = False
        info = _masked(interface.state_info(self.core), rows)
        self._last_info = info
        return self.core.obs.copy(), info

    def _reset_rows(self, reset_mask: Any) -> np.ndarray:
        """The envs a reset restarts: all, or those where ``reset_mask`` ((num_envs,) bool) is true."""
        if reset_mask is None:
            return self._all.copy()
        mask = np.asarray(reset_mask)
        if mask.dtype != bool or mask.shape != (self.num_envs,):
            raise ValueError(
                f"reset_mask must be a bool array of shape ({self.num_envs},), got "
                f"dtype {mask.dtype} and shape {mask.shape}"
            )
        if not mask.any():
            raise ValueError("reset_mask selects no env: at least one entry must be true")
        return mask.copy()

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
        if self._finished.any():
            raise ResetNeeded(
                f"envs {np.flatnonzero(self._finished).tolist()} finished their episodes; with "
                "autoreset_mode DISABLED, call reset(options={'reset_mask': mask}) before stepping them"
            )
        disabled = self.autoreset_mode == AutoresetMode.DISABLED
        self.core.advance(checked, autoreset=not disabled)
        out = self.core.out
        reward = out[:, kernels.O_REWARD].copy()
        terminated, truncated = out[:, kernels.O_TERMINATED] > 0, out[:, kernels.O_TRUNCATED] > 0
        done = terminated | truncated
        info = _masked(interface.batched_info(out, self.core.latency), self._all)
        if disabled:
            if done.any():
                info["episode"], info["_episode"] = _masked(interface.episode_info(self.core), done), done.copy()
            self._finished = done
        elif done.any():
            final_obs = np.empty(self.num_envs, dtype=object)
            final_obs[:] = None
            for i in np.flatnonzero(done):
                final_obs[i] = self.core.final_obs[i].copy()
            info["final_obs"], info["_final_obs"] = final_obs, done.copy()
            info["final_info"], info["_final_info"] = _masked(interface.final_info(self.core), done), done.copy()
        self._last_info = info
        return self.core.obs.copy(), reward, terminated, truncated, info

    def action_masks(self) -> np.ndarray:
        """Allowed attempts per slot of every env: ``(num_envs, (K + M) * (k_max + 1))`` bool."""
        return action_masks(self.core)

    def render(self) -> str | np.ndarray | None:
        return render.render_frame(self.core, self.render_mode, interface.row_of(_unmasked(self._last_info), 0))


def _check_autoreset_mode(mode: AutoresetMode | str) -> AutoresetMode:
    """``mode`` as an ``AutoresetMode`` this env supports (SAME_STEP or DISABLED)."""
    supported = (AutoresetMode.SAME_STEP, AutoresetMode.DISABLED)
    try:
        checked = AutoresetMode(mode)
    except ValueError:
        checked = None
    if checked not in supported:
        allowed = " or ".join(f"AutoresetMode.{m.name} ({m.value!r})" for m in supported)
        why = " (NEXT_STEP is not offered: the batched core steps every env together)" if checked else ""
        raise ValueError(f"autoreset_mode must be {allowed}, got {mode!r}{why}")
    return checked


def _masked(info: dict[str, Any], rows: np.ndarray) -> dict[str, Any]:
    """Gymnasium's vector ``info`` layout: each entry beside a ``_name`` mask of the envs
    (``rows``) it holds a value for; the entries share one read-only copy of the mask."""
    mask = rows.copy()
    mask.flags.writeable = False
    return _with_mask(info, mask)


def _with_mask(info: dict[str, Any], mask: np.ndarray) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in info.items():
        out[key] = _with_mask(value, mask) if isinstance(value, dict) else value
        out[f"_{key}"] = mask
    return out


def _unmasked(info: dict[str, Any]) -> dict[str, Any]:
    return {
        key: value
        for key, value in info.items()
        if not key.startswith("_") and key not in ("final_obs", "final_info")
    }
