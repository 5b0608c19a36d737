"""Named, unscaled views of a batch of observations, so that policies read features by name.

The layout is that of :mod:`modenhub_env.observation`: the global block, then ``K`` request
slots, then ``M`` prefetch slots, each with the features of ``block_features`` for the
config's ``observation_version``. Every offset below comes from those name tuples, never
from a literal index.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from modenhub_env.config import HubConfig
from modenhub_env.observation import block_features, observation_size


@dataclass(frozen=True)
class ObservationView:
    """The features a handcrafted policy needs, unscaled; ``B`` envs, ``K`` request slots
    (oldest pending request first), ``M`` prefetch slots (most recently requested first)."""

    request_present: np.ndarray  # (B, K) bool
    request_p: np.ndarray  # (B, K) float64 success probability of one attempt
    request_slack: np.ndarray  # (B, K) int64 [rounds] left, this one included; 0 if empty
    request_from_cache: np.ndarray  # (B, K) bool served from the cache this round
    request_limit: np.ndarray  # (B, K) int64 [attempts] the slot's mask allows this round
    prefetch_present: np.ndarray  # (B, M) bool
    prefetch_p: np.ndarray  # (B, M) float64 success probability of one attempt
    prefetch_cached: np.ndarray  # (B, M) float64 cached ebits of the pair / cache_per_pair
    prefetch_limit: np.ndarray  # (B, M) int64 [attempts] the slot's mask allows this round

    @property
    def batch(self) -> int:
        return self.request_present.shape[0]


def check_batch(observation: np.ndarray, config: HubConfig) -> np.ndarray:
    """``observation`` as a ``(B, obs_dim)`` array of ``config``'s env; a clear
    ``ValueError`` for any other shape."""
    k, m = config.request_slots, config.prefetch_slots
    version = config.observation_version
    size = observation_size(k, m, version)
    obs = np.asarray(observation)
    if obs.ndim != 2 or obs.shape[1] != size:
        raise ValueError(
            f"observation must have shape (B, {size}) or ({size},) for request_slots={k}, "
            f"prefetch_slots={m}, observation_version={version}, got {np.shape(observation)}"
        )
    return obs


def parse_observation(observation: np.ndarray, config: HubConfig, budget: int) -> ObservationView:
    """Split a ``(B, obs_dim)`` batch of observations into named slot features.

    :param observation: observations of ``config``'s env, shape ``(B, obs_dim)``.
    :param config: the scenario, for ``K``, ``M`` and ``k_max``.
    :param budget: the slack's scale [rounds], from :func:`max_budget`.
    """
    k, m = config.request_slots, config.prefetch_slots
    obs = check_batch(observation, config).astype(np.float64)
    global_features, request_features, prefetch_features = block_features(config.observation_version)
    start = len(global_features)
    split = start + k * len(request_features)
    requests = obs[:, start:split].reshape(obs.shape[0], k, len(request_features))
    prefetch = obs[:, split:].reshape(obs.shape[0], m, len(prefetch_features))

    def req(name: str) -> np.ndarray:
        return requests[:, :, request_features.index(name)]

    def pre(name: str) -> np.ndarray:
        return prefetch[:, :, prefetch_features.index(name)]

    def count(share: np.ndarray, scale: int) -> np.ndarray:
        # Features are float32 shares of an integer; rounding undoes the scaling exactly.
        return np.rint(share * scale).astype(np.int64)

    request_present = req("present") > 0.5
    prefetch_present = pre("present") > 0.5
    return ObservationView(
        request_present=request_present,
        request_p=np.where(request_present, req("p_pair"), 0.0),
        request_slack=np.where(request_present, count(req("slack"), budget), 0),
        request_from_cache=request_present & (req("from_cache") > 0.5),
        request_limit=np.where(request_present, count(req("attempt_limit"), config.k_max), 0),
        prefetch_present=prefetch_present,
        prefetch_p=np.where(prefetch_present, pre("p_pair"), 0.0),
        prefetch_cached=np.where(prefetch_present, pre("cached"), 0.0),
        prefetch_limit=np.where(prefetch_present, count(pre("attempt_limit"), config.k_max), 0),
    )
