"""Envs ready to be timed: a :class:`Stepper` per face of the ModEn-Hub env (single,
native vector, SB3 ``DummyVecEnv``, the project's SB3 adapter) and of CartPole, each with its
pool of random valid actions sampled outside the timed calls."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import gymnasium as gym
import numpy as np

import modenhub_env  # noqa: F401  (registers ModEnHub-v0)
from modenhub_env.config import HubConfig

ENV_ID = "modenhub_env:ModEnHub-v0"
CARTPOLE_ID = "CartPole-v1"
POOL = 8  # action batches sampled per refresh of the masks


@dataclass
class Stepper:
    """An env ready to be timed: ``step(i)`` makes call ``i`` with the action pool's entry
    ``i % POOL``; ``refresh()`` re-samples the pool (untimed)."""

    step: Callable[[int], Any]
    refresh: Callable[[], None]
    envs_per_call: int
    close: Callable[[], None]
    core: Any = None  # the ModEn-Hub core underneath, if any (for its buffers' sizes)


def sample_within(masks: np.ndarray, slots: int, choices: int, rng: np.random.Generator) -> np.ndarray:
    """``POOL`` action batches ``(POOL, B, slots)``, each slot uniform over the values its
    flattened mask ``(B, slots * choices)`` allows (the largest of uniform keys)."""
    allowed = np.asarray(masks, dtype=bool).reshape(-1, slots, choices)
    keys = np.where(allowed, rng.random((POOL,) + allowed.shape), -1.0)
    return keys.argmax(axis=-1)


def _slots_and_choices(config: HubConfig) -> tuple[int, int]:
    return config.request_slots + config.prefetch_slots, config.k_max + 1


def modenhub_single(config: HubConfig, seed: int) -> Stepper:
    """``gymnasium.make`` with the default wrappers; resets inside the timed calls."""
    env = gym.make(ENV_ID, config=config)
    env.reset(seed=seed)
    rng = np.random.default_rng(seed)
    slots, choices = _slots_and_choices(config)
    pool = np.zeros((POOL, slots), dtype=np.int64)

    def refresh() -> None:
        nonlocal pool
        pool = sample_within(env.unwrapped.action_masks()[None], slots, choices, rng)[:, 0]

    def step(i: int) -> None:
        _, _, terminated, truncated, _ = env.step(pool[i % POOL])
        if terminated or truncated:
            env.reset()

    return Stepper(step, refresh, 1, env.close)


def modenhub_vector(config: HubConfig, batch: int, seed: int) -> Stepper:
    """``gymnasium.make_vec`` -> the native ``ModEnHubVectorEnv`` (same-step autoreset)."""
    env = gym.make_vec(ENV_ID, num_envs=batch, vectorization_mode="vector_entry_point", config=config)
    env.reset(seed=seed)
    stepper = _masked_batch_stepper(env.step, env.unwrapped.action_masks, config, batch, seed, env.close)
    stepper.core = env.unwrapped.core
    return stepper


def _masked_batch_stepper(step_fn, masks_fn, config: HubConfig, batch: int, seed: int, close) -> Stepper:
    rng = np.random.default_rng(seed)
    slots, choices = _slots_and_choices(config)
    pool = np.zeros((POOL, 1, slots), dtype=np.int64)

    def refresh() -> None:
        nonlocal pool
        pool = sample_within(masks_fn(), slots, choices, rng)

    return Stepper(lambda i: step_fn(pool[i % POOL]), refresh, batch, close)


def cartpole_single(seed: int) -> Stepper:
    env = gym.make(CARTPOLE_ID)
    env.reset(seed=seed)
    pool = np.random.default_rng(seed).integers(0, 2, size=1024).tolist()

    def step(i: int) -> None:
        _, _, terminated, truncated, _ = env.step(pool[i % 1024])
        if terminated or truncated:
            env.reset()

    return Stepper(step, lambda: None, 1, env.close)


def cartpole_vector(batch: int, seed: int) -> Stepper:
    env = gym.make_vec(CARTPOLE_ID, num_envs=batch, vectorization_mode="vector_entry_point")
    env.reset(seed=seed)
    pool = np.random.default_rng(seed).integers(0, 2, size=(POOL, batch))
    return Stepper(lambda i: env.step(pool[i % POOL]), lambda: None, batch, env.close)


def modenhub_dummy(config: HubConfig, batch: int, seed: int) -> Stepper:
    """SB3's ``DummyVecEnv`` of ``batch`` single envs (a Python loop over envs)."""
    from stable_baselines3.common.vec_env import DummyVecEnv

    venv = DummyVecEnv([lambda: gym.make(ENV_ID, config=config)] * batch)
    venv.seed(seed)
    venv.reset()

    def masks() -> np.ndarray:
        return np.stack([env.unwrapped.action_masks() for env in venv.envs])

    return _masked_batch_stepper(venv.step, masks, config, batch, seed, venv.close)


def modenhub_sb3(config: HubConfig, batch: int, seed: int) -> Stepper:
    """The project's SB3 adapter ``ModEnHubVecEnv`` (one batched core call per step)."""
    from modenhub_env.sb3 import ModEnHubVecEnv

    venv = ModEnHubVecEnv(batch, config=config)
    venv.seed(seed)
    venv.reset()
    return _masked_batch_stepper(venv.step, venv.action_masks, config, batch, seed, venv.close)


def cartpole_dummy(batch: int, seed: int) -> Stepper:
    from stable_baselines3.common.vec_env import DummyVecEnv

    venv = DummyVecEnv([lambda: gym.make(CARTPOLE_ID)] * batch)
    venv.seed(seed)
    venv.reset()
    pool = np.random.default_rng(seed).integers(0, 2, size=(POOL, batch))
    return Stepper(lambda i: venv.step(pool[i % POOL]), lambda: None, batch, venv.close)
