"""The one policy interface: Stable-Baselines3's ``predict`` on batched observations.

Every agent, handcrafted or learned, is evaluated through
``predict(observation, state=None, episode_start=None, deterministic=True) -> (actions, state)``
(SB3's ``PolicyPredictor``). A handcrafted :class:`Policy` decides from the observation
alone; it only implements :meth:`Policy.act` on an :class:`~agents.view.ObservationView`.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from agents.view import ObservationView, parse_observation
from modenhub_env.config import HubConfig
from modenhub_env.workload import max_budget


class Policy:
    """Base of the handcrafted policies: batching, masks and the observation's parsing.

    :param config: the scenario the policy acts in (``K``, ``M``, ``k_max``, ``S``, ``k(N)``).
    """

    def __init__(self, config: HubConfig) -> None:
        if not isinstance(config, HubConfig):
            raise ValueError(f"config must be a HubConfig, got {type(config).__name__}")
        self.config = config
        self.slack_scale = max_budget(config)  # [rounds] one unit of the slack feature

    @property
    def n_slots(self) -> int:
        """Action entries: ``K`` request slots, then ``M`` prefetch slots."""
        return self.config.request_slots + self.config.prefetch_slots

    def predict(
        self,
        observation: np.ndarray,
        state: Any = None,
        episode_start: np.ndarray | None = None,
        deterministic: bool = True,
        action_masks: np.ndarray | None = None,
    ) -> tuple[np.ndarray, Any]:
        """Attempts per slot for a batch ``(B, obs_dim)`` of observations, ``(B, K + M)``
        int64; an unbatched ``(obs_dim,)`` observation gives ``(K + M,)``.

        :param observation: observations of the env built from ``self.config``.
        :param state: recurrent state, unused and returned as given (SB3's contract).
        :param episode_start: unused; handcrafted policies are memoryless.
        :param deterministic: unused: the handcrafted policies are deterministic, and
            :class:`~agents.random_policy.RandomPolicy` is random either way.
        :param action_masks: optional sb3-contrib masks, ``(B, (K + M) * (k_max + 1))``
            bool (or unbatched); when given, each slot's limit is its largest allowed
            value instead of the observation's ``attempt_limit``.
        """
        obs = np.asarray(observation)
        single = obs.ndim == 1
        view = parse_observation(obs[None, :] if single else obs, self.config, self.slack_scale)
        allowed = self._allowed(view, action_masks)
        k = self.config.request_slots
        largest = allowed.shape[2] - 1 - np.argmax(allowed[:, :, ::-1], axis=2)
        limits = np.where(allowed.any(axis=2), largest, 0)
        view = dataclasses.replace(view, request_limit=limits[:, :k], prefetch_limit=limits[:, k:])
        actions = np.asarray(self.act(view, allowed), dtype=np.int64)
        return (actions[0] if single else actions), state

    def act(self, view: ObservationView, allowed: np.ndarray) -> np.ndarray:
        """Attempts per slot, ``(B, K + M)``: what each policy defines.

        :param view: the observations' features; its limits are the largest allowed values.
        :param allowed: allowed attempts of every slot, ``(B, K + M, k_max + 1)`` bool.
        """
        raise NotImplementedError

    def _allowed(self, view: ObservationView, action_masks: np.ndarray | None) -> np.ndarray:
        """The masks given, or ``0..limit`` per slot from the observation's ``attempt_limit``
        (what the env's masks allow)."""
        choices = self.config.k_max + 1
        if action_masks is None:
            limits = np.concatenate([view.request_limit, view.prefetch_limit], axis=1)
            return np.arange(choices) <= limits[:, :, None]
        masks = np.asarray(action_masks, dtype=bool)
        if masks.size != view.batch * self.n_slots * choices:
            raise ValueError(
                f"action_masks must have {self.n_slots * choices} entries per observation "
                f"((K + M) * (k_max + 1)), got shape {masks.shape}"
            )
        return masks.reshape(view.batch, self.n_slots, choices)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(n_qpus={self.config.n_qpus}, workload={self.config.workload!r})"


def grant_in_order(wanted: np.ndarray, order: np.ndarray, capacity: int | None) -> np.ndarray:
    """Cut ``wanted`` attempts ((B, n) ints) to a per-round ``capacity`` in total, serving
    the slots of each row in ``order`` ((B, n), a permutation of ``0..n-1`` per row) until
    the capacity is spent; ``None`` is unlimited. The last slot served may get a part."""
    wanted = np.asarray(wanted, dtype=np.int64)
    if capacity is None:
        return wanted
    ordered = np.take_along_axis(wanted, order, axis=1)
    before = np.cumsum(ordered, axis=1) - ordered
    granted_ordered = np.minimum(ordered, np.maximum(capacity - before, 0))
    granted = np.empty_like(wanted)
    np.put_along_axis(granted, order, granted_ordered, axis=1)
    return granted


def slot_order(batch: int, n_slots: int) -> np.ndarray:
    """The slots' own order for every row, ``(B, n)``: oldest request first, prefetch last."""
    return np.broadcast_to(np.arange(n_slots), (batch, n_slots))
