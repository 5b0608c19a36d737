"""What the three Gymnasium/SB3 faces share: config resolution, spaces, action checks,
seeding and ``info``. Gymnasium is imported here, never in the core."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from gymnasium import spaces
from gymnasium.utils import seeding

from modenhub_env import kernels
from modenhub_env.config import HubConfig
from modenhub_env.core import INFO_COLUMNS, INTEGER_INFO, HubCore, kernel_array
from modenhub_env.observation import observation_size
from modenhub_env.seeding import keys_from_seeds
from modenhub_env.state import COUNTERS

#: Config fields that fix the shapes of the spaces: ``reset(options=...)`` may not change them.
SPACE_FIELDS = ("request_slots", "prefetch_slots", "k_max", "observation_version")


def resolve_config(
    config: HubConfig | None = None, preset: str | None = None, **overrides: Any
) -> HubConfig:
    """The env's config: ``config`` or the named ``preset`` (paper by default), with
    ``overrides`` applied. Both ``config`` and ``preset`` is an error."""
    if config is not None and preset is not None:
        raise ValueError("give either config or preset, not both")
    if config is not None and not isinstance(config, HubConfig):
        raise ValueError(f"config must be a HubConfig, got {type(config).__name__}")
    base = config if config is not None else HubConfig.preset(preset or "paper")
    return base.replace(**overrides) if overrides else base


def reconfigure(config: HubConfig, options: Mapping[str, Any] | None) -> HubConfig:
    """``config`` with the overrides of ``reset(options=...)``; space-shaping fields may not change."""
    if not options:
        return config
    if not isinstance(options, Mapping):
        raise ValueError(f"options must be a dict of HubConfig fields, got {type(options).__name__}")
    new = config.replace(**options)
    changed = [name for name in SPACE_FIELDS if getattr(new, name) != getattr(config, name)]
    if changed:
        raise ValueError(
            f"reset options may not change {changed}: they fix the observation and action "
            "spaces; make a new env instead"
        )
    return new


def observation_space(config: HubConfig) -> spaces.Box:
    size = observation_size(config.request_slots, config.prefetch_slots, config.observation_version)
    return spaces.Box(0.0, 1.0, shape=(size,), dtype=np.float32)


def action_space(config: HubConfig) -> spaces.MultiDiscrete:
    slots = config.request_slots + config.prefetch_slots
    return spaces.MultiDiscrete(np.full(slots, config.k_max + 1, dtype=np.int64))


def check_actions(actions: Any, batch_shape: tuple[int, ...], config: HubConfig) -> np.ndarray:
    """Attempts per slot as the kernels take them, ``(B, K + M)`` int64 C-contiguous; a
    clear ``ValueError`` for a wrong shape or type. The range ``[0, k_max]`` is checked by
    the kernel, before anything moves (:class:`~modenhub_env.core.ActionRangeError`)."""
    slots = config.request_slots + config.prefetch_slots
    want = batch_shape + (slots,)
    if (type(actions) is np.ndarray and actions.dtype == np.int64 and actions.shape == want
            and actions.flags.c_contiguous and actions.flags.writeable):
        return actions.reshape(-1, slots)  # the common case, checked cheaply: it runs every step
    array = np.asarray(actions)
    if array.shape != want:
        raise ValueError(
            f"action must have shape {want} (attempts per request slot, then per prefetch "
            f"slot), got {array.shape}"
        )
    if array.dtype.kind not in "iub":
        raise ValueError(f"action must hold integers, got dtype {array.dtype}")
    if array.dtype.kind == "u" and array.size and array.max() > np.iinfo(np.int64).max:
        raise ValueError(f"action values must be in [0, k_max={config.k_max}], got {array.max()}")
    return kernel_array(array, np.int64).reshape(-1, slots)


def keys_for_seeds(seeds: Sequence[int | None], keys: np.ndarray, fallback: np.random.Generator):
    """Episode keys for envs seeded ``seeds``: a seed gives the key that a single env
    seeded alike draws; ``None`` continues the env's own sequence (or, for an env not yet
    keyed, draws from ``fallback``)."""
    out = kernels.next_episode_keys(kernel_array(keys, np.uint64))
    plain = [i for i, seed in enumerate(seeds) if _plain_seed(seed)]
    if plain:  # all at once, as the generator would draw them
        out[plain] = keys_from_seeds([seeds[i] for i in plain])
    for i, seed in enumerate(seeds):
        if seed is not None and not _plain_seed(seed):
            out[i] = key_from_generator(seeding.np_random(seed)[0])  # which explains what is wrong
        elif seed is None and keys[i] == 0:
            out[i] = key_from_generator(fallback)
    return out


def _plain_seed(seed: Any) -> bool:
    """A seed Gymnasium takes (a non-negative Python int), which ``keys_from_seeds`` reads alike."""
    return isinstance(seed, int) and not isinstance(seed, bool) and seed >= 0


def key_from_generator(rng: np.random.Generator) -> np.uint64:
    """An episode key drawn from a seeded generator."""
    return np.uint64(rng.integers(0, 2**63, dtype=np.int64))


def batched_info(out: np.ndarray, latency: np.ndarray) -> dict[str, np.ndarray]:
    """Per-env ``info`` arrays from the kernels' ``out`` (B, OUT_WIDTH), which it copies:
    the round's counters and reward components, mean delivered ebit and teleported-gate
    fidelity (0 when nothing was served), the round, pending requests and cached ebits
    (int64), and the round's latency histogram ``latency`` (B, L)."""
    block = out[:, kernels.O_COUNTERS :].copy()
    info: dict[str, np.ndarray] = {name: block[:, col] for col, name in enumerate(INFO_COLUMNS)}
    for name in INTEGER_INFO:
        info[name] = info[name].astype(np.int64)
    info["latency_hist"] = latency.copy()
    return info


def single_step(core: HubCore) -> tuple[float, bool, bool, dict[str, Any]]:
    """Env 0's reward, terminated, truncated and ``info`` (Python floats, and its latency
    histogram) after :meth:`HubCore.advance`."""
    row = core.out[0].tolist()
    info = dict(zip(INFO_COLUMNS, row[kernels.O_COUNTERS :], strict=False))  # equal by kernels.OUT_WIDTH
    info["latency_hist"] = core.latency[0].copy()
    return row[kernels.O_REWARD], row[kernels.O_TERMINATED] > 0, row[kernels.O_TRUNCATED] > 0, info


def state_info(core: HubCore) -> dict[str, np.ndarray]:
    """Round, pending requests and cached ebits of every env after the last kernel call, (B,) int64."""
    return {name: core.out[:, kernels.O_COUNTERS + INFO_COLUMNS.index(name)].astype(np.int64) for name in INTEGER_INFO}


def final_info(core: HubCore) -> dict[str, Any]:
    """The ``info`` of the round in which each env's episode ended (autoreset), with
    ``episode``: its totals per env, latency histogram and length in rounds."""
    final = core.final_out
    info = batched_info(final[:, : kernels.OUT_WIDTH], core.latency)
    totals = final[:, kernels.OUT_WIDTH :].copy()
    episode: dict[str, np.ndarray] = {name: totals[:, col] for col, name in enumerate(COUNTERS)}
    episode["latency_hist"] = core.final_latency.copy()
    episode["rounds"] = totals[:, kernels.N_COUNTERS].astype(np.int64)
    info["episode"] = episode
    return info


def episode_info(core: HubCore) -> dict[str, np.ndarray]:
    """Totals of the episode so far per env, ``(B,)`` each, and its latency histogram."""
    return core.episode_totals()


def row_of(info: dict[str, Any], index: int) -> dict[str, Any]:
    """One env's entries of a batched info dict, scalars as Python floats."""
    out = {}
    for key, value in info.items():
        if isinstance(value, dict):
            out[key] = row_of(value, index)
        else:
            item = value[index]
            out[key] = item.copy() if isinstance(item, np.ndarray) else float(item)
    return out
