"""A trained policy network behind the handcrafted policies' ``predict``, stored in a
model file that holds no code.

**The model file** (``model.safetensors``, :func:`policy_file_bytes`) is a safetensors
file: the policy network's weights as plain tensors, and in its header (JSON) the entry
``"modenhub"``, itself JSON:

* ``format`` (``"modenhub-policy"``) and ``version`` (:data:`FORMAT_VERSION`);
* ``algo``: the algorithm that trained it (``ppo``, ``maskable-ppo``, ``a2c``);
* ``network``: the architecture, ``{"class": NAME, "kwargs": {...}}`` with ``NAME`` one of
  :data:`NETWORK_CLASSES` and the keyword arguments as plain JSON (classes by name from a
  fixed list);
* ``observation``: ``{"size": D, "features": [...]}``, the layout of
  :func:`modenhub_env.observation.feature_names`, checked against this code's on load;
* ``action``: ``{"nvec": [...]}``;
* ``config``: the scenario it was trained on (:meth:`HubConfig.to_dict`);
* ``num_timesteps`` and ``run``: where it came from.

Reading it parses JSON and copies tensors; nothing in it is executed.

**Stable-Baselines3 ``.zip`` models** are pickles: SB3's ``load()`` unpickles the
``":serialized:"`` entries of the zip's ``data``, which can run any code the file's author
wrote. :meth:`LearnedPolicy.load` refuses them unless called with ``trust_pickle=True``
(``--trust-pickle`` on the command line); :func:`convert_zip` turns a trusted one into a
model file once (``modenhub convert``).

Needs torch, safetensors, stable-baselines3 and sb3-contrib; import explicitly
(``from agents.learned import LearnedPolicy``).
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import torch as th
from gymnasium import spaces
from safetensors import SafetensorError
from safetensors.torch import load as load_tensors
from safetensors.torch import save as save_tensors
from stable_baselines3.common.policies import BaseModel, BasePolicy
from torch import nn

from modenhub_env.config import HubConfig
from modenhub_env.observation import feature_names, observation_size

FORMAT_NAME = "modenhub-policy"
FORMAT_VERSION = 1
METADATA_KEY = "modenhub"
ZIP_METADATA_ENTRY = "modenhub.json"  # in the .zip models of earlier versions
MAX_MODEL_BYTES = 1 << 30  # [bytes] a model file larger than this is refused before reading
MAX_LAYER_WIDTH = 4096  # [units] widest layer a model file may describe
ALGOS = ("ppo", "maskable-ppo", "a2c")
#: Network classes a model file may name.
NETWORK_CLASSES = ("SlotActorCriticPolicy", "MaskableSlotActorCriticPolicy", "ActorCriticPolicy",
                   "MaskableActorCriticPolicy")
EXTRACTOR_CLASSES = ("SlotFeaturesExtractor", "FlattenExtractor")
ACTIVATIONS = ("Tanh", "ReLU")
#: Constructor arguments a model file may set (the others keep SB3's defaults, which do
#: not change the network's forward pass).
NETWORK_KWARGS = ("net_arch", "activation_fn", "features_extractor_class", "features_extractor_kwargs",
                  "share_features_extractor", "slot_latent", "attempt_prior")
PICKLE_WARNING = "an SB3 .zip model is a pickle, and loading it runs whatever code its author put in it"


def algorithm_classes() -> dict[str, type]:
    """Algorithm name -> SB3 class."""
    from sb3_contrib import MaskablePPO
    from stable_baselines3 import A2C, PPO

    return {"ppo": PPO, "maskable-ppo": MaskablePPO, "a2c": A2C}


def _network_classes() -> dict[str, type]:
    from sb3_contrib.common.maskable.policies import MaskableActorCriticPolicy
    from stable_baselines3.common.policies import ActorCriticPolicy

    from agents.networks import MaskableSlotActorCriticPolicy, SlotActorCriticPolicy

    classes = (SlotActorCriticPolicy, MaskableSlotActorCriticPolicy, ActorCriticPolicy, MaskableActorCriticPolicy)
    return {cls.__name__: cls for cls in classes}


def _extractor_classes() -> dict[str, type]:
    from stable_baselines3.common.torch_layers import FlattenExtractor

    from agents.networks import SlotFeaturesExtractor

    return {"SlotFeaturesExtractor": SlotFeaturesExtractor, "FlattenExtractor": FlattenExtractor}


# Writing.


def network_spec(network: BasePolicy) -> dict[str, Any]:
    """The architecture of an SB3 actor-critic policy as plain JSON: ``{"class", "kwargs"}``.

    :raises ValueError: a network this format cannot describe (another class, extractor
        or activation, or generalised state-dependent exploration).
    """
    name = type(network).__name__
    if name not in NETWORK_CLASSES:
        raise ValueError(f"cannot store a {name} network; allowed: {', '.join(NETWORK_CLASSES)}")
    params = network._get_constructor_parameters()
    if params.get("use_sde"):
        raise ValueError("cannot store a network with state-dependent exploration (use_sde)")
    kwargs: dict[str, Any] = {}
    for key in NETWORK_KWARGS:
        if key not in params:
            continue
        value = params[key]
        if key in ("activation_fn", "features_extractor_class"):
            allowed = ACTIVATIONS if key == "activation_fn" else EXTRACTOR_CLASSES
            if value.__name__ not in allowed:
                raise ValueError(f"cannot store {key}={value.__name__}; allowed: {', '.join(allowed)}")
            value = value.__name__
        elif key == "features_extractor_kwargs":
            value = json.loads(json.dumps(value or {}, default=_plain_json))
        kwargs[key] = value
    return {"class": name, "kwargs": kwargs}


def _plain_json(value: Any) -> Any:
    if isinstance(value, tuple):
        return list(value)
    if hasattr(value, "item"):
        return value.item()
    raise TypeError(f"not JSON: {value!r}")


def policy_file_bytes(
    network: BasePolicy, config: HubConfig, algo: str, num_timesteps: int = 0, run: str | None = None
) -> bytes:
    """The bytes of a model file (see the module docstring) for ``network``.

    :param network: the trained SB3 policy (``model.policy``).
    :param config: the scenario it was trained on.
    :param algo: its algorithm's name, one of :data:`ALGOS`.
    :param num_timesteps: steps it was trained for.
    :param run: the training run's name.
    """
    if algo not in ALGOS:
        raise ValueError(f"algo must be one of {ALGOS}, got {algo!r}")
    header = {
        "format": FORMAT_NAME, "version": FORMAT_VERSION, "algo": algo, "network": network_spec(network),
        "observation": {"size": int(np.prod(network.observation_space.shape)),
                        "features": feature_names(config.request_slots, config.prefetch_slots,
                                                  config.observation_version)},
        "action": {"nvec": [int(n) for n in network.action_space.nvec]},
        "config": config.to_dict(), "num_timesteps": int(num_timesteps), "run": run,
    }
    # Cloned: the actor and critic may share an extractor, and safetensors stores no aliases.
    tensors = {key: value.detach().cpu().clone().contiguous() for key, value in network.state_dict().items()}
    return save_tensors(tensors, metadata={METADATA_KEY: json.dumps(header, sort_keys=True)})


# Reading.


def read_policy_file(path: Path) -> tuple[dict[str, Any], dict[str, th.Tensor]]:
    """The header (``"modenhub"`` entry, validated) and the tensors of a model file.

    :raises ValueError: not a model file, damaged, or of another format or version,
        naming ``path``.
    """
    size = path.stat().st_size
    if size > MAX_MODEL_BYTES:
        raise ValueError(f"{path}: {size} bytes, more than a model file holds ({MAX_MODEL_BYTES})")
    data = path.read_bytes()
    try:
        tensors = load_tensors(data)
        header_length = int.from_bytes(data[:8], "little")
        metadata = json.loads(data[8 : 8 + header_length]).get("__metadata__") or {}
        header = json.loads(metadata[METADATA_KEY])
    except (SafetensorError, ValueError, KeyError, TypeError, UnicodeDecodeError, AttributeError):
        raise ValueError(
            f"{path}: not a modenhub model file (a safetensors file with a '{METADATA_KEY}' header entry)"
        ) from None
    return _checked_header(path, header), tensors


def _checked_header(path: Path, header: Any) -> dict[str, Any]:
    if not isinstance(header, dict) or header.get("format") != FORMAT_NAME:
        raise ValueError(f"{path}: header 'format' must be {FORMAT_NAME!r}")
    version = header.get("version")
    if not isinstance(version, int) or not 1 <= version <= FORMAT_VERSION:
        raise ValueError(f"{path}: model format version {version!r}; this modenhub reads 1 to {FORMAT_VERSION}")
    if header.get("algo") not in ALGOS:
        raise ValueError(f"{path}: unknown algorithm {header.get('algo')!r}; allowed: {', '.join(ALGOS)}")
    try:
        header["config"] = HubConfig.from_dict(header["config"])
    except (ValueError, TypeError, KeyError) as err:
        raise ValueError(f"{path}: invalid config in the model file ({err})") from None
    return header


def build_network(path: Path, header: dict[str, Any]) -> BasePolicy:
    """A fresh SB3 policy of the architecture ``header["network"]`` describes (untrained).

    :raises ValueError: an unknown class, argument or value, naming ``path``.
    """
    spec, config = header.get("network"), header["config"]
    if not isinstance(spec, dict) or spec.get("class") not in NETWORK_CLASSES:
        raise ValueError(f"{path}: network class must be one of {', '.join(NETWORK_CLASSES)}")
    kwargs = dict(spec.get("kwargs") or {})
    unknown = sorted(set(kwargs) - set(NETWORK_KWARGS))
    if unknown:
        raise ValueError(f"{path}: unknown network arguments {unknown}; allowed: {', '.join(NETWORK_KWARGS)}")
    _check_widths(path, kwargs)
    if "activation_fn" in kwargs:
        kwargs["activation_fn"] = _named(path, "activation_fn", kwargs["activation_fn"],
                                         {name: getattr(nn, name) for name in ACTIVATIONS})
    if "features_extractor_class" in kwargs:
        kwargs["features_extractor_class"] = _named(path, "features_extractor_class",
                                                    kwargs["features_extractor_class"], _extractor_classes())
    prior = (kwargs.get("features_extractor_kwargs") or {}).get("prior")
    if prior is not None:
        kwargs["features_extractor_kwargs"] = {**kwargs["features_extractor_kwargs"], "prior": tuple(prior)}
    obs_space, action_space = _spaces(path, header, config)
    try:
        return _network_classes()[spec["class"]](obs_space, action_space, lambda _: 0.0, **kwargs)
    except (TypeError, ValueError, KeyError, RuntimeError) as err:
        raise ValueError(f"{path}: cannot build the network it describes ({type(err).__name__}: {err})") from None


def _check_widths(path: Path, kwargs: dict[str, Any]) -> None:
    """Layer widths in ``[1, MAX_LAYER_WIDTH]``, checked before the network is built, so
    that a file cannot make the loader allocate more than its weights hold."""
    arch = kwargs.get("net_arch") or []
    layers = [w for part in arch.values() for w in part] if isinstance(arch, dict) else list(arch)
    extractor = kwargs.get("features_extractor_kwargs") or {}
    widths = {"net_arch": layers, "slot_latent": [kwargs.get("slot_latent", 1)],
              "features_extractor_kwargs.hidden": [extractor.get("hidden", 1)]}
    for name, values in widths.items():
        for width in values:
            if isinstance(width, bool) or not isinstance(width, int) or not 1 <= width <= MAX_LAYER_WIDTH:
                raise ValueError(f"{path}: {name} must hold layer widths in [1, {MAX_LAYER_WIDTH}], got {width!r}")


def _named(path: Path, key: str, name: Any, allowed: dict[str, type]) -> type:
    if name not in allowed:
        raise ValueError(f"{path}: {key} must be one of {', '.join(allowed)}, got {name!r}")
    return allowed[name]


def _spaces(path: Path, header: dict[str, Any], config: HubConfig) -> tuple[spaces.Box, spaces.MultiDiscrete]:
    """The observation and action spaces of the file, checked against its own scenario and
    against this code's observation layout."""
    observation, action = header.get("observation") or {}, header.get("action") or {}
    expected = feature_names(config.request_slots, config.prefetch_slots, config.observation_version)
    if observation.get("features") != expected or observation.get("size") != len(expected):
        raise ValueError(
            f"{path}: its observation layout ({observation.get('size')} features) is not this modenhub's for "
            f"K={config.request_slots}, M={config.prefetch_slots} ({len(expected)} features)"
        )
    nvec = action.get("nvec")
    slots = config.request_slots + config.prefetch_slots
    if nvec != [config.k_max + 1] * slots:
        raise ValueError(f"{path}: action nvec {nvec!r} is not [k_max + 1] * (K + M) of its config")
    return (spaces.Box(0.0, 1.0, shape=(len(expected),), dtype=np.float32),
            spaces.MultiDiscrete(np.asarray(nvec, dtype=np.int64)))


def read_zip_metadata(path: Path) -> dict[str, Any]:
    """Algorithm and scenario of a trusted SB3 ``.zip``: its ``modenhub.json`` entry, or
    the run folder's ``config.json`` (the file's folder or, for a checkpoint, the one above).

    :raises ValueError: neither can be read, naming the file.
    """
    try:
        with zipfile.ZipFile(path) as archive:
            names = archive.namelist()
            if "data" not in names or "policy.pth" not in names:
                raise ValueError(f"{path}: not a Stable-Baselines3 model (no 'data' and 'policy.pth' inside)")
            if ZIP_METADATA_ENTRY in names:
                return _checked_zip_metadata(path, json.loads(archive.read(ZIP_METADATA_ENTRY)))
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
            return _checked_zip_metadata(config_file, {"algo": args.get("algo"), "config": data.get("config")})
    raise ValueError(f"{path}: no {ZIP_METADATA_ENTRY} inside and no config.json beside it; not a modenhub model")


def _checked_zip_metadata(source: Path, data: Any) -> dict[str, Any]:
    if not isinstance(data, dict) or not isinstance(data.get("config"), dict):
        raise ValueError(f"{source}: metadata holds no 'config'")
    if data.get("algo") not in ALGOS:
        raise ValueError(f"{source}: unknown algorithm {data.get('algo')!r}; allowed: {', '.join(ALGOS)}")
    try:
        data["config"] = HubConfig.from_dict(data["config"])
    except (ValueError, TypeError) as err:
        raise ValueError(f"{source}: invalid config in metadata ({err})") from None
    return data


def refuse_pickle_message(path: Path) -> str:
    """The refusal of an SB3 ``.zip`` loaded without ``trust_pickle``."""
    return (
        f"{path}: refused: {PICKLE_WARNING}. If you trust its source, pass --trust-pickle (Python: "
        f"trust_pickle=True), or convert it once with `modenhub convert {path} --trust-pickle` to the "
        "code-free model.safetensors format"
    )


def convert_zip(source: str | Path, target: str | Path) -> LearnedPolicy:
    """Write the model file ``target`` from the trusted SB3 ``.zip`` ``source`` (this
    unpickles ``source``); returns the policy as read back from ``target``."""
    from train.files import write_atomic

    policy = LearnedPolicy.load(source, trust_pickle=True)
    write_atomic(target, policy_file_bytes(policy.network, policy.config, policy.algo, policy.num_timesteps,
                                           policy.run))
    return LearnedPolicy.load(target)


class LearnedPolicy:
    """A trained SB3 policy network as a policy: ``predict(obs, ...)`` gives attempts per slot.

    Actions respect the action masks when given (masked logits, then the mode or a sample),
    for every algorithm, so a PPO model never asks for what the env would clip.

    :param network: the SB3 actor-critic policy (``model.policy``).
    :param config: the scenario it was trained on.
    :param algo: its algorithm's name (``ppo``, ``maskable-ppo``, ``a2c``).
    :param path: the file it came from, for messages.
    :param num_timesteps: steps it was trained for.
    :param run: the training run's name, if known.
    """

    def __init__(
        self,
        network: BasePolicy,
        config: HubConfig,
        algo: str,
        path: str | Path | None = None,
        num_timesteps: int = 0,
        run: str | None = None,
    ) -> None:
        self.network, self.config, self.algo = network, config, algo
        self.path = Path(path) if path is not None else None
        self.num_timesteps, self.run = int(num_timesteps), run
        self.obs_dim = int(np.prod(network.observation_space.shape))
        self.nvec = np.asarray(network.action_space.nvec)
        self.generator = th.Generator().manual_seed(0)

    @classmethod
    def from_model(cls, model: Any, config: HubConfig, algo: str, run: str | None = None) -> LearnedPolicy:
        """The policy of an SB3 model in memory (e.g. during training)."""
        return cls(model.policy, config, algo, num_timesteps=int(model.num_timesteps), run=run)

    @classmethod
    def load(cls, path: str | Path, config: HubConfig | None = None, trust_pickle: bool = False) -> LearnedPolicy:
        """Load a model file; with ``config``, check that the model fits its observation.

        :param path: a model file (``.safetensors``, see the module docstring), or with
            ``trust_pickle`` an SB3 ``.zip``.
        :param config: the scenario it is to play, checked against the model's layout.
        :param trust_pickle: allow an SB3 ``.zip``, which runs any code it holds when
            loaded: only for files from a source you trust.
        :raises FileNotFoundError: no such file.
        :raises ValueError: not a model, an SB3 zip without ``trust_pickle``, corrupt, of
            an unknown algorithm or format, or not fitting the config (the message names
            the file and the problem).
        """
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"{path}: no such model file")
        if zipfile.is_zipfile(path):
            if not trust_pickle:
                raise ValueError(refuse_pickle_message(path))
            policy = cls._load_zip(path)
        else:
            header, tensors = read_policy_file(path)
            network = build_network(path, header)
            try:
                network.load_state_dict(tensors, strict=True)
            except RuntimeError as err:
                first = str(err).strip().splitlines()[:2]
                raise ValueError(f"{path}: its weights do not fit the network it describes ({' '.join(first)})") from None
            network.set_training_mode(False)
            policy = cls(network, header["config"], header["algo"], path, header.get("num_timesteps") or 0,
                         header.get("run"))
        if config is not None:
            policy.check_fits(config)
        return policy

    @classmethod
    def _load_zip(cls, path: Path) -> LearnedPolicy:
        """SB3's own loader: unpickles the archive (the caller trusts it)."""
        metadata = read_zip_metadata(path)
        algo, trained_on = metadata["algo"], metadata["config"]
        try:
            model = algorithm_classes()[algo].load(path, device="cpu")
        except Exception as err:  # SB3 raises many kinds on a damaged archive
            raise ValueError(f"{path}: cannot load the {algo} model ({type(err).__name__}: {err})") from None
        expected = observation_size(trained_on.request_slots, trained_on.prefetch_slots, trained_on.observation_version)
        if model.observation_space.shape != (expected,):
            raise ValueError(
                f"{path}: model observation size {model.observation_space.shape} does not match its "
                f"own config ({expected},)"
            )
        policy = cls.from_model(model, trained_on, algo, run=metadata.get("run"))
        policy.path = path
        return policy

    def save(self, path: str | Path) -> Path:
        """Write this policy as a model file, atomically; returns ``path``."""
        from train.files import write_atomic

        write_atomic(path, policy_file_bytes(self.network, self.config, self.algo, self.num_timesteps, self.run))
        return Path(path)

    def check_fits(self, config: HubConfig) -> None:
        """A clear ``ValueError`` if observations of ``config`` do not fit the model."""
        size = observation_size(config.request_slots, config.prefetch_slots, config.observation_version)
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
        network = self.network
        with th.no_grad():
            tensor = th.as_tensor(obs, device=network.device)
            # The actor's features alone (ActorCriticPolicy's own method gives both when the
            # actor and the critic have an extractor each).
            features = BaseModel.extract_features(network, tensor, network.pi_features_extractor)
            return network.action_net(network.mlp_extractor.forward_actor(features)).cpu()

    def _name(self) -> str:
        return str(self.path) if self.path is not None else f"learned {self.algo} model"

    def __repr__(self) -> str:
        return f"LearnedPolicy({self.algo}, {self._name()})"
