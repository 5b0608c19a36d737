"""modenhub_env: the ModEn-Hub entanglement-hub simulation and its Gymnasium faces.

``gymnasium.make("modenhub_env:ModEnHub-v0", preset="paper", n_qpus=16)`` gives one hub;
``gymnasium.make_vec("modenhub_env:ModEnHub-v0", num_envs=B)`` the native batch;
``modenhub_env.sb3.ModEnHubVecEnv`` the Stable-Baselines3 ``VecEnv``. ``ModEnHub-v1`` is
the same hub with the observation of version 1 (``observation_version=1``), which shows
what the capacities ``S`` and ``c_i`` leave each slot (``docs/env.md#version-history``).
"""

from gymnasium.envs.registration import register, registry

from modenhub_env.config import PRESETS, HubConfig
from modenhub_env.core import HubCore
from modenhub_env.env import ModEnHubEnv
from modenhub_env.vector_env import ModEnHubVectorEnv

ENV_ID = "ModEnHub-v0"
ENV_ID_V1 = "ModEnHub-v1"

for _env_id, _version in ((ENV_ID, 0), (ENV_ID_V1, 1)):
    if _env_id not in registry:
        register(
            id=_env_id,
            entry_point="modenhub_env.env:ModEnHubEnv",
            vector_entry_point="modenhub_env.vector_env:ModEnHubVectorEnv",
            kwargs={"observation_version": _version} if _version else {},
        )

__all__ = ["ENV_ID", "ENV_ID_V1", "PRESETS", "HubConfig", "HubCore", "ModEnHubEnv", "ModEnHubVectorEnv"]
