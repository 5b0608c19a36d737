"""A trained Stable-Baselines3 model behind the handcrafted policies' ``predict``.

A model file is SB3's ``.zip`` (PPO, A2C or sb3-contrib's MaskablePPO) with one more
entry, ``modenhub.json``: the algorithm's name, the :class:`HubConfig` it was trained on
and the policy's kind (:func:`embed_metadata`; SB3 ignores the entry when it loads). A
model without it is read with the ``config.json`` of its run folder (the file's folder or,
for a checkpoint, the folder above ``checkpoints/``).

Needs torch, stable-baselines3 and sb3-contrib; import explicitly
(``from agents.learned import LearnedPolicy``).
"""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import torch as th
from stable_baselines3.common.policies import BaseModel

from modenhub_env.config import HubConfig
from modenhub_env.observation import observation_size

METADATA_ENTRY = "modenhub.json"
METADATA_FORMAT = 1


def algorithm_classes() -> dict[str, type]:
    """Algorithm name -> SB3 class."""
    from sb3_contrib import MaskablePPO
    from stable_baselines3 import A2C, PPO

    return {"ppo": PPO, "maskable-ppo": MaskablePPO, "a2c": A2C}


def embed_metadata(model_zip: bytes, metadata: dict[str, Any]) -> bytes:
    """``model_zip`` (SB3's saved bytes) with ``modenhub.json`` added."""
    buffer = io.BytesIO(model_zip)
    with zipfile.ZipFile(buffer, "a") as archive:
        archive.writestr(METADATA_ENTRY, json.dumps(metadata, indent=2, sort_keys=True))
    return buffer.getvalue()


def model_bytes(model: Any, metadata: dict[str, Any]) -> bytes:
    """The bytes of ``model`` saved by SB3 (weights, optimizer, step count), with metadata."""
    buffer = io.BytesIO()
    model.save(buffer)
    return embed_metadata(buffer.getvalue(), metadata)


def read_metadata(path: Path) -> dict[str, Any]:
    """The model's ``modenhub.json``, or the run folder's ``config.json``; a clear error if
    neither can be read."""
    if not zipfile.is_zipfile(path):
        raise ValueError(f"{path}: not a model file (not a zip archive)")
    try:
        with zipfile.ZipFile(path) as archive:
            names = archive.namelist()
            if "data" not in names or "policy.pth" not in names:
                raise ValueError(f"{path}: not a Stable-Baselines3 model (no 'data' and 'policy.pth' inside)")
            if METADATA_ENTRY in names:
                return _checked_metadata(path, json.loads(archive.read(METADATA_ENTRY)))
    except (zipfile.BadZipFile, json.JSONDecodeError, OSError, UnicodeDecodeError) as err:
        raise ValueError(f"{path}: corrupt model file ({err})") from None
    for folder in (path.parent, path.parent.parent):
        config_file = folder / "config.json"
        if config_file.is_file():
            try:
                data = json.loads(config_file.read_text())
            except (json.JSONDecodeError, UnicodeDecodeError) as err:
                raise ValueError(f"{config_file}: corrupt run config ({err})") from None
            args = data.get("args", {})
            return _checked_metadata(config_file, {"algo": args.get("algo"), "config": data.get("config")})
    raise ValueError(f"{path}: no {METADATA_ENTRY} inside and no config.json beside it; not a modenhub model")


def _checked_metadata(source: Path, data: Any) -> dict[str, Any]:
    if not isinstance(data, dict) or not isinstance(data.get("config"), dict):
        raise ValueError(f"{source}: metadata holds no 'config'")
    if data.get("algo") not in algorithm_classes():
        raise ValueError(f"{source}: unknown algorithm {data.get('algo')!r}; allowed: {sorted(algorithm_classes())}")
    try:
        data["config"] = HubConfig.from_dict(data["config"])
    except (ValueError, TypeError) as err:
        raise ValueError(f"{source}: invalid config in metadata ({err})") from None
    return data


class LearnedPolicy:
    """A trained SB3 model as a policy: ``predict(obs, ...)`` gives attempts per slot.

    Actions respect the action masks when given (masked logits, then the mode or a sample),
    for every algorithm, so a PPO model never asks for what the env would clip.

    :param model: a PPO, A2C or MaskablePPO model.
    :param config: the scenario it was trained on.
    :param algo: its algorithm's name (``ppo``, ``maskable-ppo``, ``a2c``).
    :param path: the file it came from, for messages.
    """

    def __init__(self, model: Any, config: HubConfig, algo: str, path: str | Path | None = None) -> None:
        self.model, self.config, self.algo = model, config, algo
        self.path = Path(path) if path is not None else None
        self.obs_dim = int(np.prod(model.observation_space.shape))
        self.nvec = np.asarray(model.action_space.nvec)
        self.generator = th.Generator().manual_seed(0)

    @classmethod
    def load(cls, path: str | Path, config: HubConfig | None = None) -> LearnedPolicy:
        """Load a model file; with ``config``, check that the model fits its observation.

        :raises FileNotFoundError: no such file.
        :raises ValueError: not a model, corrupt, of an unknown algorithm, or not fitting
            the config (the message names the file and the problem).
        """
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"{path}: no such model file")
        metadata = read_metadata(path)
        algo, trained_on = metadata["algo"], metadata["config"]
        try:
            model = algorithm_classes()[algo].load(path, device="cpu")
        except Exception as err:  # SB3 raises many kinds on a damaged archive
            raise ValueError(f"{path}: cannot load the {algo} model ({type(err).__name__}: {err})") from None
        expected = observation_size(trained_on.request_slots, trained_on.prefetch_slots)
        if model.observation_space.shape != (expected,):
            raise ValueError(
                f"{path}: model observation size {model.observation_space.shape} does not match its "
                f"own config ({expected},)"
            )
        policy = cls(model, trained_on, algo, path)
        if config is not None:
            policy.check_fits(config)
        return policy

    def check_fits(self, config: HubConfig) -> None:
        """A clear ``ValueError`` if observations of ``config`` do not fit the model."""
        size = observation_size(config.request_slots, config.prefetch_slots)
        if size != self.obs_dim or config.k_max + 1 != self.nvec[0]:
            raise ValueError(
                f"{self._name()}: trained on observations of size {self.obs_dim} with k_max={self.nvec[0] - 1} "
                f"(K={self.config.request_slots}, M={self.config.prefetch_slots}); this scenario has size "
                f"{size} with k_max={config.k_max} (K={config.request_slots}, M={config.prefetch_slots})"
            )

    def predict(
        self,
        observation: np.ndarray,
        state: Any = None,
        episode_start: np.ndarray | None = None,
        deterministic: bool = True,
        action_masks: np.ndarray | None = None,
    ) -> tuple[np.ndarray, Any]:
        """Attempts per slot, ``(B, K + M)`` int64 for ``(B, obs_dim)`` observations
        (``(K + M,)`` for one); SB3's ``predict`` contract, as :class:`agents.base.Policy`."""
        obs = np.asarray(observation, dtype=np.float32)
        single = obs.ndim == 1
        obs = obs[None, :] if single else obs
        if obs.ndim != 2 or obs.shape[1] != self.obs_dim:
            raise ValueError(f"{self._name()}: expected observations of size {self.obs_dim}, got shape {np.shape(observation)}")
        logits = self._logits(obs).reshape(obs.shape[0], self.nvec.size, int(self.nvec[0]))
        if action_masks is not None:
            masks = th.as_tensor(np.asarray(action_masks, dtype=bool).reshape(logits.shape))
            logits = logits.masked_fill(~masks, float("-inf"))
        if deterministic:
            actions = logits.argmax(dim=-1)
        else:
            probs = th.softmax(logits, dim=-1).reshape(-1, logits.shape[-1])
            actions = th.multinomial(probs, 1, generator=self.generator).reshape(logits.shape[:2])
        actions = actions.numpy().astype(np.int64)
        return (actions[0] if single else actions), state

    def _logits(self, obs: np.ndarray) -> th.Tensor:
        policy = self.model.policy
        with th.no_grad():
            tensor = th.as_tensor(obs, device=policy.device)
            # The actor's features alone (ActorCriticPolicy's own method gives both when the
            # actor and the critic have an extractor each).
            features = BaseModel.extract_features(policy, tensor, policy.pi_features_extractor)
            return policy.action_net(policy.mlp_extractor.forward_actor(features)).cpu()

    def _name(self) -> str:
        return str(self.path) if self.path is not None else f"learned {self.algo} model"

    def __repr__(self) -> str:
        return f"LearnedPolicy({self.algo}, {self._name()})"
