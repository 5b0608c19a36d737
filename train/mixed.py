"""Hubs of several scenarios as one SB3 ``VecEnv``, to train one model on a mix of them:
``MixedNVecEnv`` over numbers of QPUs N (``modenhub train --mix-n``), ``MixedVecEnv`` over
any scenarios with the same spaces, e.g. several circuits (``--mix-circuits``).

The per-slot policy runs at any N and on any workload, but a model trained on one scenario
learns attempt counts that fit its link success probabilities and its traffic. Training on
several at once shows it the spread. The parts share the observation and action spaces
(their sizes depend on ``request_slots``, ``prefetch_slots``, ``k_max`` and
``observation_version`` alone).

Each part is a :class:`ModEnHubVecEnv` of ``n_envs // len(configs)`` hubs of one scenario,
stepped as one batch; the parts' rows follow one another in the order of the scenarios. A
wrapper that needs the part's own scenario (the DP reward shaping, whose potential values
the requests still to come at that N's link probabilities) goes around each part through
``wrap_part``, before the rows are joined, so that it never sees hubs of another scenario.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

import numpy as np
from stable_baselines3.common.vec_env.base_vec_env import VecEnv, VecEnvIndices, VecEnvStepReturn

from modenhub_env.config import HubConfig
from modenhub_env.sb3 import ModEnHubVecEnv
from train.options import at_each_n

PartWrapper = Callable[[VecEnv, HubConfig], VecEnv]


def envs_per_part(n_envs: int, parts: Sequence[Any], option: str = "--mix-n") -> int:
    """Hubs per part: ``n_envs`` split evenly over ``parts``.

    :param option: the command-line option that named the parts, for the error.
    :raises ValueError: ``n_envs`` not a positive multiple of ``len(parts)``.
    """
    if not parts:
        raise ValueError(f"{option} needs at least one value")
    if n_envs < 1 or n_envs % len(parts):
        raise ValueError(f"--n-envs must be a positive multiple of the number of {option} values "
                         f"({len(parts)}: {list(parts)}), got {n_envs}")
    return n_envs // len(parts)


class MixedVecEnv(VecEnv):
    """Hubs of several scenarios presented as one ``VecEnv`` of ``n_envs`` envs (see the
    module docstring). Env ``i`` overall is row ``i - offset_j`` of part ``j``; ``seed(s)``
    seeds it with ``s + i``, as a single ``ModEnHubVecEnv`` of ``n_envs`` would be seeded.

    :param configs: the scenarios, one part each, in row order.
    :param n_envs: hubs in all, a multiple of ``len(configs)``.
    :param wrap_part: called as ``wrap_part(part, part_config)`` on every part, e.g. to
        shape its reward with its own scenario; ``None``: the parts as they are.
    :param labels: how errors name each part (default ``N=<n_qpus>``).
    :param option: the command-line option that chose the parts, for errors.
    """

    def __init__(self, configs: Sequence[HubConfig], n_envs: int, wrap_part: PartWrapper | None = None,
                 labels: Sequence[str] | None = None, option: str = "--mix-n") -> None:
        self.configs = list(configs)
        self.labels = list(labels) if labels is not None else [f"N={c.n_qpus}" for c in self.configs]
        per_part = envs_per_part(n_envs, self.labels, option)
        self.parts: list[VecEnv] = []
        for part_config in self.configs:
            part: VecEnv = ModEnHubVecEnv(per_part, config=part_config)
            self.parts.append(wrap_part(part, part_config) if wrap_part is not None else part)
        self.offsets = [j * per_part for j in range(len(self.configs))]  # first row of each part
        self._check_spaces()
        super().__init__(n_envs, self.parts[0].observation_space, self.parts[0].action_space)

    def _check_spaces(self) -> None:
        first = self.parts[0]
        for label, part in zip(self.labels, self.parts, strict=True):
            if part.observation_space != first.observation_space or part.action_space != first.action_space:
                raise ValueError(f"the env at {label} has other spaces than at {self.labels[0]} "
                                 f"(observation {part.observation_space} vs {first.observation_space}, "
                                 f"action {part.action_space} vs {first.action_space})")

    def _rows(self, indices: VecEnvIndices) -> list[tuple[VecEnv, list[int]]]:
        """``(part, its local rows)`` of the overall env ``indices``, parts without any left out."""
        wanted = list(self._get_indices(indices))
        split = []
        for part, offset in zip(self.parts, self.offsets, strict=True):
            local = [i - offset for i in wanted if offset <= i < offset + part.num_envs]
            if local:
                split.append((part, local))
        return split

    def reset(self) -> np.ndarray:
        obs = np.concatenate([part.reset() for part in self.parts])
        self.reset_infos = _joined(part.reset_infos for part in self.parts)
        return obs

    def seed(self, seed: int | None = None) -> Sequence[int | None]:
        """Part ``j`` gets ``seed + offset_j``, so env ``i`` overall gets ``seed + i``
        (``None``: each part draws its own)."""
        return _joined(part.seed(None if seed is None else seed + offset)
                       for part, offset in zip(self.parts, self.offsets, strict=True))

    def set_options(self, options: list[dict] | dict | None = None) -> None:
        for part, offset in zip(self.parts, self.offsets, strict=True):
            mine = options if options is None or isinstance(options, dict) else options[offset:offset + part.num_envs]
            part.set_options(mine)

    def step_async(self, actions: np.ndarray) -> None:
        actions = np.asarray(actions)
        for part, offset in zip(self.parts, self.offsets, strict=True):
            part.step_async(actions[offset:offset + part.num_envs])

    def step_wait(self) -> VecEnvStepReturn:
        results = [part.step_wait() for part in self.parts]
        obs, rewards, dones, infos = zip(*results, strict=True)
        return np.concatenate(obs), np.concatenate(rewards), np.concatenate(dones), _joined(infos)

    def action_masks(self) -> np.ndarray:
        """``(n_envs, ...)``: the parts' masks, in row order."""
        return np.concatenate([part.action_masks() for part in self.parts])

    def close(self) -> None:
        for part in self.parts:
            part.close()

    def get_images(self) -> Sequence[np.ndarray | None]:
        return _joined(part.get_images() for part in self.parts)

    def get_attr(self, attr_name: str, indices: VecEnvIndices = None) -> list[Any]:
        return _joined(part.get_attr(attr_name, local) for part, local in self._rows(indices))

    def set_attr(self, attr_name: str, value: Any, indices: VecEnvIndices = None) -> None:
        for part, local in self._rows(indices):
            part.set_attr(attr_name, value, local)

    def env_method(self, method_name: str, *method_args, indices: VecEnvIndices = None, **method_kwargs) -> list[Any]:
        # Each part answers for its own rows; env_method("action_masks"), as sb3-contrib's
        # MaskablePPO calls it, thereby gives every row its own part's mask.
        return _joined(part.env_method(method_name, *method_args, indices=local, **method_kwargs)
                       for part, local in self._rows(indices))

    def env_is_wrapped(self, wrapper_class: type, indices: VecEnvIndices = None) -> list[bool]:
        return _joined(part.env_is_wrapped(wrapper_class, local) for part, local in self._rows(indices))


def _joined(lists: Iterable[Sequence[Any]]) -> list[Any]:
    """The items of ``lists``, one after the other."""
    return [item for items in lists for item in items]


class MixedNVecEnv(MixedVecEnv):
    """Hubs of ``config`` at each of the numbers of QPUs ``ns`` (``--mix-n``): the parts'
    scenarios are ``config.replace(n_qpus=n)``; otherwise as :class:`MixedVecEnv`."""

    def __init__(self, config: HubConfig, ns: Sequence[int], n_envs: int, wrap_part: PartWrapper | None = None) -> None:
        envs_per_part(n_envs, ns)  # before building anything
        configs = at_each_n(config, ns, f"--mix-n: the scenario (N={config.n_qpus})")
        super().__init__(configs, n_envs, wrap_part, [f"N={n}" for n in ns])
