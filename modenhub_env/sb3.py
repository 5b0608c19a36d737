"""``ModEnHubVecEnv``: the batched core as a Stable-Baselines3 ``VecEnv``.

Needs ``stable-baselines3`` (``pip install 'modenhub[train]'``). Unlike a ``DummyVecEnv``
of single envs, every ``step`` is one call of the batched core for all envs.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from stable_baselines3.common.vec_env.base_vec_env import VecEnv, VecEnvIndices, VecEnvStepReturn

from modenhub_env import interface
from modenhub_env.config import HubConfig
from modenhub_env.vector_env import ModEnHubVectorEnv


class ModEnHubVecEnv(VecEnv):
    """SB3's ``VecEnv`` over :class:`ModEnHubVectorEnv`.

    Each ``info`` is a dict per env with the round's counters; a finished episode's adds
    ``terminal_observation``, ``TimeLimit.truncated`` and ``episode`` (its totals, plus
    ``r``, the return, and ``l``, the length in rounds, as SB3's ``Monitor`` writes them,
    so that ``ep_rew_mean`` shows in the logs). ``env_method("action_masks")`` serves
    sb3-contrib's MaskablePPO.

    :param num_envs: number of hubs.
    :param config: a :class:`HubConfig`; or ``preset`` and keyword overrides.
    :param render_mode: as for :class:`ModEnHubVectorEnv`.
    """

    def __init__(
        self,
        num_envs: int = 1,
        config: HubConfig | None = None,
        preset: str | None = None,
        render_mode: str | None = None,
        **overrides: Any,
    ) -> None:
        if "autoreset_mode" in overrides:
            raise TypeError(
                "ModEnHubVecEnv got an unexpected keyword argument 'autoreset_mode': SB3's VecEnv "
                "contract restarts finished envs in the same step, which is the only mode it runs"
            )
        self.venv = ModEnHubVectorEnv(num_envs, config, preset, render_mode, **overrides)
        self._returns = np.zeros(self.venv.num_envs)
        self._actions: np.ndarray | None = None
        super().__init__(self.venv.num_envs, self.venv.single_observation_space, self.venv.single_action_space)

    @property
    def config(self) -> HubConfig:
        return self.venv.config

    def reset(self) -> np.ndarray:
        seeds = self._seeds if any(s is not None for s in self._seeds) else None
        options = self._options[0] if self._options and self._options[0] else None
        obs, _ = self.venv.reset(seed=seeds, options=options)
        self._reset_seeds()
        self._reset_options()
        self._returns[:] = 0.0
        self.reset_infos = [{} for _ in range(self.num_envs)]
        return obs

    def step_async(self, actions: np.ndarray) -> None:
        self._actions = np.asarray(actions)

    def step_wait(self) -> VecEnvStepReturn:
        if self._actions is None:
            raise RuntimeError("step_wait() called without step_async()")
        obs, reward, terminated, truncated, info = self.venv.step(self._actions)
        self._actions = None
        self._returns += reward
        done = terminated | truncated
        plain = {k: v for k, v in info.items() if not k.startswith("_") and k not in ("final_obs", "final_info")}
        # One conversion per key, not per key and env: this runs every step of training.
        keys = list(plain)
        infos = [dict(zip(keys, row, strict=True)) for row in zip(*(plain[k].tolist() for k in keys), strict=True)]
        for i in np.flatnonzero(done):
            episode = interface.row_of(info["final_info"]["episode"], i)
            episode.update(r=float(self._returns[i]), l=int(episode["rounds"]))
            infos[i].update(
                terminal_observation=info["final_obs"][i],
                episode=episode,
                **{"TimeLimit.truncated": bool(truncated[i] and not terminated[i])},
            )
            self._returns[i] = 0.0
        return obs, reward.astype(np.float32), done, infos

    def action_masks(self) -> np.ndarray:
        return self.venv.action_masks()

    def close(self) -> None:
        self.venv.close()

    def get_images(self) -> Sequence[np.ndarray | None]:
        return [self.venv.render() if i == 0 else None for i in range(self.num_envs)]

    def get_attr(self, attr_name: str, indices: VecEnvIndices = None) -> list[Any]:
        value = getattr(self.venv, attr_name)
        return [value for _ in self._get_indices(indices)]

    def set_attr(self, attr_name: str, value: Any, indices: VecEnvIndices = None) -> None:
        raise AttributeError(f"ModEnHubVecEnv shares one config across envs; cannot set {attr_name!r} per env")

    def env_method(self, method_name: str, *method_args, indices: VecEnvIndices = None, **method_kwargs) -> list[Any]:
        rows = list(self._get_indices(indices))
        if method_name == "action_masks":
            masks = self.venv.action_masks()
            return [masks[i] for i in rows]
        method = getattr(self.venv, method_name)
        result = method(*method_args, **method_kwargs)
        return [result for _ in rows]

    def env_is_wrapped(self, wrapper_class: type, indices: VecEnvIndices = None) -> list[bool]:
        return [False for _ in self._get_indices(indices)]
