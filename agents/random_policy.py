"""Uniformly random valid actions: the floor every scheduler should clear."""

from __future__ import annotations

import numpy as np

from agents.base import Policy
from modenhub_env.config import HubConfig


class RandomPolicy(Policy):
    """Each slot draws its attempts uniformly from the values its action mask allows.

    With ``action_masks=`` given to :meth:`predict`, those masks are sampled; without, the
    allowed values are ``0..limit`` with the limit read from the observation's
    ``attempt_limit`` feature (which is what the env's masks allow). The hub capacity ``S``
    is not respected: the env clips what exceeds it. Random whether or not
    ``deterministic`` is set.

    :param config: the scenario.
    :param rng: the generator to draw from; or
    :param seed: a seed for a new one (``rng`` and ``seed`` together is an error).
    """

    def __init__(
        self, config: HubConfig, rng: np.random.Generator | None = None, seed: int | None = None
    ) -> None:
        super().__init__(config)
        if rng is not None and seed is not None:
            raise ValueError("give either rng or seed, not both")
        if rng is not None and not isinstance(rng, np.random.Generator):
            raise ValueError(f"rng must be a numpy Generator, got {type(rng).__name__}")
        self.rng = rng if rng is not None else np.random.default_rng(seed)

    def act(self, obs: np.ndarray, limits: np.ndarray, allowed: np.ndarray) -> np.ndarray:
        # The largest of uniform keys over the allowed values is a uniform choice among them.
        keys = np.where(allowed, self.rng.random(allowed.shape), -1.0)
        return keys.argmax(axis=2).astype(np.int64)
