"""SB3 ``VecEnv`` helpers of the PPO section: a zero-cost env and a wrapper that times
the wrapped env, built on first use."""

from __future__ import annotations

import functools
import time

import numpy as np


@functools.cache
def sb3_helpers() -> tuple[type, type]:
    """``(ZeroVecEnv, TimedVecEnv)``, built on first use so that importing this module
    needs no Stable-Baselines3 (nor torch)."""
    from stable_baselines3.common.vec_env import VecEnv, VecEnvWrapper

    class ZeroVecEnv(VecEnv):
        """A zero-cost SB3 ``VecEnv``: all-zero observations and rewards, the spaces and
        ``num_envs`` given, every env truncated together every ``episode_length`` steps."""

        def __init__(self, num_envs: int, observation_space, action_space, episode_length: int | None) -> None:
            self.render_mode = None
            super().__init__(num_envs, observation_space, action_space)
            self.episode_length = episode_length or 256
            self._obs = np.zeros((num_envs,) + observation_space.shape, dtype=observation_space.dtype)
            self._rewards = np.zeros(num_envs, dtype=np.float32)
            self._t = 0

        def reset(self) -> np.ndarray:
            self._t = 0
            return self._obs.copy()

        def step_async(self, actions: np.ndarray) -> None:
            pass

        def step_wait(self):
            self._t += 1
            done = self._t >= self.episode_length
            infos: list[dict] = [{} for _ in range(self.num_envs)]
            if done:
                self._t = 0
                for info in infos:
                    info.update({"terminal_observation": self._obs[0].copy(), "TimeLimit.truncated": True})
            return self._obs.copy(), self._rewards.copy(), np.full(self.num_envs, done), infos

        def close(self) -> None:
            pass

        def get_attr(self, attr_name, indices=None):
            return [getattr(self, attr_name) for _ in self._get_indices(indices)]

        def set_attr(self, attr_name, value, indices=None) -> None:
            setattr(self, attr_name, value)

        def env_method(self, method_name, *method_args, indices=None, **method_kwargs):
            return [getattr(self, method_name)(*method_args, **method_kwargs) for _ in self._get_indices(indices)]

        def env_is_wrapped(self, wrapper_class, indices=None):
            return [False for _ in self._get_indices(indices)]

    class TimedVecEnv(VecEnvWrapper):
        """Adds the wall time spent in the wrapped env's ``reset`` and ``step`` to ``env_seconds``."""

        def __init__(self, venv) -> None:
            super().__init__(venv)
            self.env_seconds = 0.0

        def reset(self):
            start = time.perf_counter()
            obs = self.venv.reset()
            self.env_seconds += time.perf_counter() - start
            return obs

        def step_async(self, actions) -> None:
            start = time.perf_counter()
            self.venv.step_async(actions)
            self.env_seconds += time.perf_counter() - start

        def step_wait(self):
            start = time.perf_counter()
            out = self.venv.step_wait()
            self.env_seconds += time.perf_counter() - start
            return out

    return ZeroVecEnv, TimedVecEnv
