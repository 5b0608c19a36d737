"""Counter-based random numbers: every env of a batch draws its own stream.

A draw is a pure function of ``(key, round, stream, index)`` (a SplitMix64 hash), so an
env's randomness does not depend on which batch it runs in or on the other envs: a single
env and row ``i`` of a vector env seeded alike produce the same rollout. Keys come from
the ``np.random.Generator`` that ``reset(seed=...)`` seeds.
"""

from __future__ import annotations

import numpy as np

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)
_STREAM = np.uint64(0xD1B54A32D192ED03)
_NEXT_EPISODE = np.uint64(0x5851F42D4C957F2D)
_TO_UNIT = 2.0**-53

#: Streams: one per kind of draw, so that adding draws of one kind never shifts another.
ATTEMPTS, ARRIVAL_COUNT, ARRIVAL_PAIRS = 1, 2, 3


def splitmix64(x: np.ndarray) -> np.ndarray:
    """The SplitMix64 finaliser, elementwise on ``uint64`` (wrapping arithmetic)."""
    z = x + _GOLDEN
    z = (z ^ (z >> np.uint64(30))) * _MIX1
    z = (z ^ (z >> np.uint64(27))) * _MIX2
    return z ^ (z >> np.uint64(31))


def uniforms(
    key: np.ndarray, counter: np.ndarray, stream: int, index: np.ndarray
) -> np.ndarray:
    """Uniforms in ``[0, 1)`` of shape ``(B, *index.shape)``.

    :param key: ``(B,)`` uint64 episode keys.
    :param counter: ``(B,)`` int64 rounds; one draw set per round and stream.
    :param stream: one of the stream constants of this module.
    :param index: non-negative integers naming the draws within the stream; the same
        index always gives the same number, whichever other indices are drawn.
    """
    offset = np.uint64((stream * int(_STREAM)) % 2**64)
    base = splitmix64(key ^ (counter.astype(np.uint64) * _GOLDEN + offset))
    base = base.reshape((-1,) + (1,) * index.ndim)
    bits = splitmix64(base + index.astype(np.uint64) * _STREAM)
    return (bits >> np.uint64(11)).astype(np.float64) * _TO_UNIT


def next_episode_key(key: np.ndarray) -> np.ndarray:
    """The key of the episode after the one keyed ``key`` (autoreset without a seed)."""
    return splitmix64(key ^ _NEXT_EPISODE)


def key_from_generator(rng: np.random.Generator) -> np.uint64:
    """An episode key drawn from a seeded generator."""
    return np.uint64(rng.integers(0, 2**63, dtype=np.int64))
