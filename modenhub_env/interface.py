"""What the three Gymnasium/SB3 faces share: config resolution, spaces, action checks,
seeding and ``info``. Gymnasium is imported here, never in the core."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from gymnasium import spaces
from gymnasium.utils import seeding

from modenhub_env import physics, rng
from modenhub_env.config import HubConfig
from modenhub_env.core import HubCore, StepResult
from modenhub_env.observation import observation_size

#: Config fields that fix the shapes of the spaces: ``reset(options=...)`` may not change them.
SPACE_FIELDS = ("request_slots", "prefetch_slots", "k_max")


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
    size = observation_size(config.request_slots, config.prefetch_slots)
    return spaces.Box(0.0, 1.0, shape=(size,), dtype=np.float32)


def action_space(config: HubConfig) -> spaces.MultiDiscrete:
    slots = config.request_slots + config.prefetch_slots
    return spaces.MultiDiscrete(np.full(slots, config.k_max + 1, dtype=np.int64))


def check_actions(actions: Any, batch_shape: tuple[int, ...], config: HubConfig) -> np.ndarray:
    """Validate attempts per slot; a clear ``ValueError`` for a wrong shape, type or value."""
    slots = config.request_slots + config.prefetch_slots
    array = np.asarray(actions)
    want = batch_shape + (slots,)
    if array.shape != want:
        raise ValueError(
            f"action must have shape {want} (attempts per request slot, then per prefetch "
            f"slot), got {array.shape}"
        )
    if not (np.issubdtype(array.dtype, np.integer) or array.dtype == bool):
        raise ValueError(f"action must hold integers, got dtype {array.dtype}")
    if array.size and (array.min() < 0 or array.max() > config.k_max):
        bad = np.argwhere((array < 0) | (array > config.k_max))[0]
        raise ValueError(
            f"action[{', '.join(map(str, bad))}] = {array[tuple(bad)]} is out of range: "
            f"attempts per slot must be in [0, k_max={config.k_max}]"
        )
    return array.astype(np.int64).reshape(-1, slots)


def keys_for_seeds(seeds: Sequence[int | None], keys: np.ndarray, fallback: np.random.Generator):
    """Episode keys for envs seeded ``seeds``: a seed gives the key that a single env
    seeded alike draws; ``None`` continues the env's own sequence (or, for an env not yet
    keyed, draws from ``fallback``)."""
    out = rng.next_episode_key(keys)
    for i, seed in enumerate(seeds):
        if seed is not None:
            out[i] = rng.key_from_generator(seeding.np_random(seed)[0])
        elif keys[i] == 0:
            out[i] = rng.key_from_generator(fallback)
    return out


def step_info(core: HubCore, result: StepResult) -> dict[str, np.ndarray]:
    """Per-env arrays, shape (B,): the round's counters and reward components, mean
    delivered ebit and teleported-gate fidelity (0 when nothing was served), queue and
    cache state, and the round's latency histogram (B, L)."""
    info = dict(result.counts)
    served = result.counts["served"]
    ebit = np.divide(result.counts["fidelity_sum"], served, out=np.zeros_like(served), where=served > 0)
    info["ebit_fidelity"] = ebit
    info["gate_fidelity"] = np.where(served > 0, physics.teleport_gate_fidelity(ebit), 0.0)
    info.update(state_info(core))
    info["latency_hist"] = result.latency_hist
    return info


def state_info(core: HubCore) -> dict[str, np.ndarray]:
    """Round, pending requests and cached ebits of every env, shape (B,)."""
    state = core.state
    return {
        "round": state.round.copy(),
        "pending": state.q_valid.sum(axis=1),
        "cache_fill": (state.c_pair >= 0).sum(axis=1),
    }


def episode_info(core: HubCore) -> dict[str, np.ndarray]:
    """Totals of the episode so far per env, ``(B,)`` each, and its latency histogram."""
    info = {name: total.copy() for name, total in core.state.totals.items()}
    info["latency_hist"] = core.state.latency_hist.copy()
    info["rounds"] = core.state.round.copy()
    return info


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
