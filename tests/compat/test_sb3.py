"""Stable-Baselines3 and sb3-contrib on the README's snippet: SB3's ``check_env``,
``make_vec_env`` of the registered id, and PPO / MaskablePPO for a few hundred steps."""

from __future__ import annotations

import numpy as np

from tests.compat.readme import require, run_python_snippet


def test_sb3_snippet__checks_and_trains_ppo_and_maskable_ppo():
    require("stable_baselines3")
    require("sb3_contrib")
    import torch

    torch.set_num_threads(1)
    namespace = run_python_snippet("sb3")
    venv = namespace["venv"]
    assert venv.num_envs == 4
    for name in ("model", "masked"):
        model = namespace[name]
        assert model.num_timesteps >= 512, name
        obs = venv.reset()
        actions, _ = model.predict(obs, deterministic=True)
        assert actions.shape == (4,) + venv.action_space.shape and venv.action_space.contains(actions[0])
    # MaskablePPO reads each env's masks through make_vec_env's wrappers
    masks = np.stack(venv.env_method("action_masks"))
    assert masks.shape == (4, int(venv.action_space.nvec.sum())) and masks.dtype == bool
