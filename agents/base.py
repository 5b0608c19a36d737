"""The one policy interface: Stable-Baselines3's ``predict`` on batched observations.

Every agent, handcrafted or learned, is evaluated through
``predict(observation, state=None, episode_start=None, deterministic=True) -> (actions, state)``
(SB3's ``PolicyPredictor``). A handcrafted :class:`Policy` decides from the observation
alone; it implements :meth:`Policy.act`. The schedulers of the paper and the stronger
baselines are :class:`KernelPolicy`: their decisions are compiled kernels of
:mod:`modenhub_env.kernels`, which the fused Monte Carlo (``HubCore.play``) runs too.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from agents.view import check_batch, parse_observation
from modenhub_env import kernels
from modenhub_env.config import HubConfig
from modenhub_env.core import kernel_array
from modenhub_env.workload import max_budget


class Policy:
    """Base of the handcrafted policies: batching, masks and limits.

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
        batch = check_batch(obs[None, :] if single else obs, self.config)
        allowed = self._allowed(batch, action_masks)
        largest = allowed.shape[2] - 1 - np.argmax(allowed[:, :, ::-1], axis=2)
        limits = np.where(allowed.any(axis=2), largest, 0)
        actions = np.asarray(self.act(batch, limits, allowed), dtype=np.int64)
        return (actions[0] if single else actions), state

    def act(self, obs: np.ndarray, limits: np.ndarray, allowed: np.ndarray) -> np.ndarray:
        """Attempts per slot, ``(B, K + M)``: what each policy defines.

        :param obs: the observations, ``(B, obs_dim)``.
        :param limits: the largest allowed attempts of every slot, ``(B, K + M)`` int64.
        :param allowed: allowed attempts of every slot, ``(B, K + M, k_max + 1)`` bool.
        """
        raise NotImplementedError

    def _allowed(self, obs: np.ndarray, action_masks: np.ndarray | None) -> np.ndarray:
        """The masks given, or ``0..limit`` per slot from the observation's ``attempt_limit``
        (what the env's masks allow)."""
        choices = self.config.k_max + 1
        if action_masks is None:
            view = parse_observation(obs, self.config, self.slack_scale)
            limits = np.concatenate([view.request_limit, view.prefetch_limit], axis=1)
            return np.arange(choices) <= limits[:, :, None]
        masks = np.asarray(action_masks, dtype=bool)
        if masks.size != obs.shape[0] * self.n_slots * choices:
            raise ValueError(
                f"action_masks must have {self.n_slots * choices} entries per observation "
                f"((K + M) * (k_max + 1)), got shape {masks.shape}"
            )
        return masks.reshape(obs.shape[0], self.n_slots, choices)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(n_qpus={self.config.n_qpus}, workload={self.config.workload!r})"


class KernelPolicy(Policy):
    """A handcrafted scheduler compiled in :mod:`modenhub_env.kernels` (``kernel`` is its
    ``kernels.SEQUENTIAL``, ``LOG_PARALLEL``, ... code); :attr:`params` is what the kernel
    reads, so ``HubCore.play`` can run whole episodes of it without Python in between.

    :param config: the scenario.
    """

    kernel: int

    def __init__(self, config: HubConfig) -> None:
        super().__init__(config)
        cfg = config
        self.params = np.zeros(kernels.P_SIZE)
        self.params[kernels.P_CODE] = self.kernel
        self.params[kernels.P_K], self.params[kernels.P_M] = cfg.request_slots, cfg.prefetch_slots
        self.params[kernels.P_KMAX], self.params[kernels.P_K_PARALLEL] = cfg.k_max, cfg.k_parallel
        capacity = cfg.max_attempts_per_round
        self.params[kernels.P_CAPACITY] = -1 if capacity is None else capacity
        self.params[kernels.P_SLACK_SCALE] = self.slack_scale
        self.params[kernels.P_W_ATTEMPT], self.params[kernels.P_W_FAIL] = cfg.w_attempt, cfg.w_fail
        self.params[kernels.P_OBS_VERSION] = cfg.observation_version

    def act(self, obs: np.ndarray, limits: np.ndarray, allowed: np.ndarray) -> np.ndarray:
        obs = kernel_array(obs, np.float32)
        limits = kernel_array(limits, np.int64)
        actions = np.empty_like(limits)
        scratch = np.empty((obs.shape[0], 3 * self.n_slots), dtype=np.int64)
        kernels.act_envs(self.params, obs, limits, actions, scratch)
        return actions


def grant_in_order(wanted: np.ndarray, order: np.ndarray, capacity: int | None) -> np.ndarray:
    """Cut ``wanted`` attempts ((B, n) ints) to a per-round ``capacity`` in total, serving
    the slots of each row in ``order`` ((B, n), a permutation of ``0..n-1`` per row) until
    the capacity is spent; ``None`` is unlimited. The last slot served may get a part.
    (The schedulers' kernels do the same per row; this is for scripts that adjust actions.)"""
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
