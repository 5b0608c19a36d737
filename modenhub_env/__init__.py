"""modenhub_env: the ModEn-Hub entanglement-hub simulation and its Gymnasium faces.

``gymnasium.make("modenhub_env:ModEnHub-v0", preset="paper", n_qpus=16)`` gives one hub;
``gymnasium.make_vec("modenhub_env:ModEnHub-v0", num_envs=B)`` the native batch;
``modenhub_env.sb3.ModEnHubVecEnv`` the Stable-Baselines3 ``VecEnv``.
"""

from gymnasium.envs.registration import register, registry

from modenhub_env.config import PRESETS, HubConfig
from modenhub_env.core import HubCore
from modenhub_env.env import ModEnHubEnv
from modenhub_env.vector_env import ModEnHubVectorEnv

ENV_ID = "ModEnHub-v0"

if ENV_ID not in registry:
    register(
        id=ENV_ID,
        entry_point="modenhub_env.env:ModEnHubEnv",
        vector_entry_point="modenhub_env.vector_env:ModEnHubVectorEnv",
    )

__all__ = ["ENV_ID", "PRESETS", "HubConfig", "HubCore", "ModEnHubEnv", "ModEnHubVectorEnv"]
