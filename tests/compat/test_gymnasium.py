"""Gymnasium's own checks on the README's snippet: ``check_env``, the ``PassiveEnvChecker``
of ``gym.make``, and the native vector env driven with ``reset_mask``."""

from __future__ import annotations

import warnings

import gymnasium as gym
import numpy as np
from gymnasium.wrappers import PassiveEnvChecker

from modenhub_env import ModEnHubEnv, ModEnHubVectorEnv
from tests.compat.readme import run_python_snippet


def test_gymnasium_snippet__runs_without_a_checker_warning():
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # check_env and PassiveEnvChecker report by warning
        namespace = run_python_snippet("gymnasium")
    env, envs = namespace["env"], namespace["envs"]
    assert any(isinstance(layer, PassiveEnvChecker) for layer in _layers(env))
    assert isinstance(envs, ModEnHubVectorEnv) and envs.autoreset_mode == gym.vector.AutoresetMode.DISABLED
    # 300 rounds of 256-round episodes: every hub was restarted once, by the snippet's reset_mask
    assert (envs.core.state.round == 300 - 256).all()


def test_passive_env_checker__first_reset_and_step_pass_for_every_preset():
    for preset in ("paper", "contention", "decoherence", "hotspot"):
        env = PassiveEnvChecker(ModEnHubEnv(preset=preset))
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            obs, _ = env.reset(seed=0)
            env.step(env.action_space.sample())
        assert env.observation_space.contains(obs)


def _layers(env: gym.Env) -> list[gym.Env]:
    layers = [env]
    while hasattr(layers[-1], "env"):
        layers.append(layers[-1].env)
    return layers


def test_make_vec__disabled_mode_episode_totals_match_single_envs():
    kwargs = {"preset": "contention", "episode_rounds": 6}
    envs = gym.make_vec("ModEnHub-v0", num_envs=2, autoreset_mode=gym.vector.AutoresetMode.DISABLED, **kwargs)
    singles = [ModEnHubEnv(**kwargs) for _ in range(2)]
    envs.reset(seed=3)
    for i, env in enumerate(singles):
        env.reset(seed=3 + i)
    actions = np.ones(envs.action_space.shape, dtype=np.int64)
    for _ in range(6):
        *_, info = envs.step(actions)
        single_infos = [env.step(actions[i])[4] for i, env in enumerate(singles)]
    np.testing.assert_array_equal(info["_episode"], [True, True])
    for i, single in enumerate(single_infos):
        assert info["episode"]["served"][i] == single["episode"]["served"]
        assert info["episode"]["attempts"][i] == single["episode"]["attempts"]
