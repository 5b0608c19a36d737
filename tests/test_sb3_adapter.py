"""``modenhub_env.sb3.ModEnHubVecEnv``: the Stable-Baselines3 ``VecEnv`` contract and tiny
PPO / MaskablePPO runs."""

from __future__ import annotations

import numpy as np
import pytest
from sb3_contrib import MaskablePPO
from sb3_contrib.common.maskable.utils import get_action_masks
from stable_baselines3 import PPO
from stable_baselines3.common.vec_env import VecEnv, VecMonitor, VecNormalize

from modenhub_env import ModEnHubEnv
from modenhub_env.sb3 import ModEnHubVecEnv


def _zeros(venv: ModEnHubVecEnv) -> np.ndarray:
    return np.zeros((venv.num_envs,) + venv.action_space.shape, dtype=np.int64)


def test_vec_env__reset_returns_batched_observations():
    venv = ModEnHubVecEnv(3, preset="contention")
    assert isinstance(venv, VecEnv) and venv.num_envs == 3
    obs = venv.reset()
    assert isinstance(obs, np.ndarray)
    assert obs.shape == (3,) + venv.observation_space.shape and obs.dtype == np.float32
    assert all(venv.observation_space.contains(row) for row in obs)


def test_vec_env__step_returns_sb3_tuple():
    venv = ModEnHubVecEnv(3, preset="contention")
    venv.seed(0)
    venv.reset()
    obs, rewards, dones, infos = venv.step(np.ones((3,) + venv.action_space.shape, dtype=np.int64))
    assert obs.shape == (3,) + venv.observation_space.shape
    assert rewards.shape == (3,) and rewards.dtype == np.float32
    assert dones.shape == (3,) and dones.dtype == bool and not dones.any()
    assert isinstance(infos, list) and len(infos) == 3
    for info in infos:
        assert isinstance(info, dict)
        assert "served" in info and "attempts" in info and "terminal_observation" not in info


def test_vec_env__truncated_episode_reports_time_limit():
    venv = ModEnHubVecEnv(2, preset="contention", episode_rounds=3)
    venv.seed(1)
    venv.reset()
    returns = np.zeros(2)
    for step in range(3):
        obs, rewards, dones, infos = venv.step(np.ones((2,) + venv.action_space.shape, dtype=np.int64))
        returns += rewards
        assert dones.all() == (step == 2)
    for i, info in enumerate(infos):
        assert info["TimeLimit.truncated"] is True
        terminal = info["terminal_observation"]
        assert terminal.shape == venv.observation_space.shape
        assert not np.array_equal(terminal, obs[i])  # obs is the new episode's first
        assert info["episode"]["l"] == 3
        assert info["episode"]["r"] == pytest.approx(returns[i], abs=1e-5)


def test_vec_env__terminated_episode_is_not_time_limit_truncated():
    venv = ModEnHubVecEnv(2, preset="paper", episode_requests=2, n_qpus=4)
    venv.seed(2)
    venv.reset()
    ended = [False, False]
    for _ in range(20):
        _, _, dones, infos = venv.step(np.ones((2,) + venv.action_space.shape, dtype=np.int64))
        for i in np.flatnonzero(dones):
            ended[i] = True
            assert infos[i]["TimeLimit.truncated"] is False
            assert "terminal_observation" in infos[i]
            episode = infos[i]["episode"]
            assert episode["served"] + episode["failed"] == 2
            assert episode["l"] >= 1
        if all(ended):
            break
    assert all(ended)


def test_vec_env__seed_then_reset_is_reproducible():
    venv = ModEnHubVecEnv(3, preset="hotspot")
    venv.seed(123)
    first = venv.reset()
    steps_first = [venv.step(np.ones((3,) + venv.action_space.shape, dtype=np.int64))[0] for _ in range(5)]
    venv.seed(123)
    second = venv.reset()
    steps_second = [venv.step(np.ones((3,) + venv.action_space.shape, dtype=np.int64))[0] for _ in range(5)]
    np.testing.assert_array_equal(first, second)
    np.testing.assert_array_equal(np.array(steps_first), np.array(steps_second))
    venv.seed(124)
    venv.reset()
    other = [venv.step(np.ones((3,) + venv.action_space.shape, dtype=np.int64))[0] for _ in range(5)]
    assert not np.array_equal(np.array(steps_first), np.array(other))


def test_vec_env__seed_s_row_i_matches_single_env_seeded_s_plus_i():
    venv = ModEnHubVecEnv(3, preset="contention")
    venv.seed(40)
    obs = venv.reset()
    for i in range(3):
        single, _ = ModEnHubEnv(preset="contention").reset(seed=40 + i)
        np.testing.assert_array_equal(obs[i], single)


def test_vec_env__action_masks_per_env():
    venv = ModEnHubVecEnv(3, preset="decoherence")
    venv.reset()
    cfg = venv.config
    width = (cfg.request_slots + cfg.prefetch_slots) * (cfg.k_max + 1)
    masks = venv.env_method("action_masks")
    assert isinstance(masks, list) and len(masks) == 3
    for i, mask in enumerate(masks):
        assert mask.shape == (width,) and mask.dtype == bool
        np.testing.assert_array_equal(mask, venv.venv.action_masks()[i])
    assert len(venv.env_method("action_masks", indices=[2])) == 1
    np.testing.assert_array_equal(venv.env_method("action_masks", indices=[2])[0], masks[2])
    assert get_action_masks(venv).shape == (3, width)


def test_vec_env__get_attr_and_wrappers():
    venv = ModEnHubVecEnv(2, preset="paper", n_qpus=8)
    assert [c.n_qpus for c in venv.get_attr("config")] == [8, 8]
    assert venv.env_is_wrapped(VecEnv) == [False, False]
    wrapped = VecNormalize(VecMonitor(venv))
    obs = wrapped.reset()
    assert obs.shape == (2,) + venv.observation_space.shape
    wrapped.step(_zeros(venv))


def test_vec_env__options_are_forwarded_to_reset():
    venv = ModEnHubVecEnv(2, preset="paper")
    venv.set_options({"n_qpus": 4})
    venv.reset()
    assert venv.config.n_qpus == 4


def test_ppo__learns_a_few_steps():
    venv = ModEnHubVecEnv(4, preset="contention", episode_rounds=16)
    model = PPO("MlpPolicy", venv, n_steps=64, batch_size=64, n_epochs=1, seed=0, device="cpu")
    model.learn(total_timesteps=256)
    assert model.num_timesteps >= 256
    action, _ = model.predict(venv.reset(), deterministic=True)
    assert action.shape == (4,) + venv.action_space.shape


def test_maskable_ppo__learns_a_few_steps_with_masks():
    venv = ModEnHubVecEnv(4, preset="hotspot", episode_rounds=16)
    model = MaskablePPO("MlpPolicy", venv, n_steps=64, batch_size=64, n_epochs=1, seed=0, device="cpu")
    model.learn(total_timesteps=256)
    assert model.num_timesteps >= 256
    assert len(model.ep_info_buffer) > 0 and "r" in model.ep_info_buffer[0]
    obs = venv.reset()
    masks = get_action_masks(venv)
    action, _ = model.predict(obs, action_masks=masks, deterministic=True)
    cfg = venv.config
    limits = masks.reshape(4, -1, cfg.k_max + 1).sum(axis=2) - 1
    assert np.all(action <= limits)


def test_vec_env__step_before_reset_raises():
    import gymnasium as gym

    venv = ModEnHubVecEnv(2, preset="paper")
    with pytest.raises(gym.error.ResetNeeded, match="reset"):
        venv.step(_zeros(venv))


def test_vec_env__refuses_another_autoreset_mode():
    with pytest.raises(TypeError, match="autoreset_mode"):
        ModEnHubVecEnv(2, autoreset_mode="Disabled")
