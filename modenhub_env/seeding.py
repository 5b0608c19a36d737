"""Episode keys for many seeds at once, equal to the ones NumPy and Gymnasium derive one
seed at a time.

A seeded episode's key is the first draw of ``gymnasium.utils.seeding.np_random(seed)``:
``Generator(PCG64(SeedSequence(seed))).integers(0, 2**63)``, which is the first 64-bit
output of that PCG64 shifted right by one (Lemire's bounded draw of a range of 2^63
never rejects). Building a ``SeedSequence`` and a ``PCG64`` per seed costs about 30 us,
which thousands of short episodes (``train.rollout``) notice; here both run on arrays,
for every seed at once. The algorithms are NumPy's (``numpy/random/bit_generator.pyx``,
``pcg64.h``); ``tests/test_seeding.py`` checks them against NumPy itself.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

# SeedSequence's hash constants (uint32).
_INIT_A, _MULT_A, _INIT_B, _MULT_B = 0x43B0D7E5, 0x931E8875, 0x8B51F9DD, 0x58F38DED
_MIX_MULT_L, _MIX_MULT_R = 0xCA01F9DD, 0x4973F715
_XSHIFT, _POOL = 16, 4
_MASK32 = 0xFFFFFFFF
# PCG64's 128-bit multiplier, high and low words.
_PCG_MULT_HIGH, _PCG_MULT_LOW = 2549297995355413924, 4865540595714422341


def _words(value: int) -> list[int]:
    """``value``'s little-endian uint32 words, as SeedSequence reads an int (0 is one word)."""
    words = [_checked(value) & _MASK32]
    value >>= 32
    while value:
        words.append(value & _MASK32)
        value >>= 32
    return words


def _hash_constants(start: int, multiplier: int, count: int) -> list[int]:
    """The running hash constant after each of ``count`` steps (it never depends on data)."""
    constants, value = [], start
    for _ in range(count):
        value = (value * multiplier) & _MASK32
        constants.append(value)
    return constants


def seed_sequence_state(entropy: np.ndarray, words: int) -> np.ndarray:
    """``SeedSequence(e).generate_state(words, np.uint32)`` for each row ``e`` of
    ``entropy`` ((n, L) uint32, every row L words long), as an (n, words) uint32 array."""
    entropy = np.asarray(entropy, dtype=np.uint32)
    rows, length = entropy.shape
    with np.errstate(over="ignore"):
        mixes = _POOL + _POOL * (_POOL - 1) + _POOL * max(length - _POOL, 0)
        constants = iter(_hash_constants(_INIT_A, _MULT_A, mixes))
        hash_const = _INIT_A

        def hashmix(value: np.ndarray) -> np.ndarray:
            nonlocal hash_const
            value = value ^ np.uint32(hash_const)
            hash_const = next(constants)
            value = value * np.uint32(hash_const)
            return value ^ (value >> np.uint32(_XSHIFT))

        def mix(x: np.ndarray, y: np.ndarray) -> np.ndarray:
            result = np.uint32(_MIX_MULT_L) * x - np.uint32(_MIX_MULT_R) * y
            return result ^ (result >> np.uint32(_XSHIFT))

        zeros = np.zeros(rows, dtype=np.uint32)
        pool = [hashmix(entropy[:, i] if i < length else zeros) for i in range(_POOL)]
        for src in range(_POOL):
            for dst in range(_POOL):
                if src != dst:
                    pool[dst] = mix(pool[dst], hashmix(pool[src]))
        for src in range(_POOL, length):
            for dst in range(_POOL):
                pool[dst] = mix(pool[dst], hashmix(entropy[:, src]))
        state = np.empty((rows, words), dtype=np.uint32)
        out_const = _INIT_B
        for i in range(words):
            value = pool[i % _POOL] ^ np.uint32(out_const)
            out_const = (out_const * _MULT_B) & _MASK32
            value = value * np.uint32(out_const)
            state[:, i] = value ^ (value >> np.uint32(_XSHIFT))
    return state


def _as_uint64(state: np.ndarray) -> np.ndarray:
    """uint32 words read in little-endian pairs, as ``generate_state(..., np.uint64)`` does."""
    return np.ascontiguousarray(state, dtype="<u4").view("<u8").astype(np.uint64)


def _multiply(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The full 128-bit product of uint64 arrays, as (high, low) words."""
    low32 = np.uint64(_MASK32)
    shift = np.uint64(32)
    a0, a1, b0, b1 = a & low32, a >> shift, b & low32, b >> shift
    p00, p01, p10, p11 = a0 * b0, a0 * b1, a1 * b0, a1 * b1
    middle = (p00 >> shift) + (p01 & low32) + (p10 & low32)
    return p11 + (p01 >> shift) + (p10 >> shift) + (middle >> shift), (p00 & low32) | (middle << shift)


def _pcg_step(high, low, inc_high, inc_low):
    """``state * multiplier + inc`` modulo 2^128."""
    product_high, product_low = _multiply(low, np.uint64(_PCG_MULT_LOW))
    product_high = product_high + high * np.uint64(_PCG_MULT_LOW) + low * np.uint64(_PCG_MULT_HIGH)
    return _add(product_high, product_low, inc_high, inc_low)


def _add(high, low, other_high, other_low):
    """128-bit sum modulo 2^128."""
    total_low = low + other_low
    carry = (total_low < low).astype(np.uint64)
    return high + other_high + carry, total_low


def pcg64_first_output(seed_state: np.ndarray) -> np.ndarray:
    """The first ``random_raw()`` of ``PCG64`` seeded by each row of ``seed_state``
    ((n, 4) uint64: initial state high, low, then sequence high, low)."""
    with np.errstate(over="ignore"):
        one = np.uint64(1)
        inc_high = (seed_state[:, 2] << one) | (seed_state[:, 3] >> np.uint64(63))
        inc_low = (seed_state[:, 3] << one) | one
        zero = np.zeros(len(seed_state), dtype=np.uint64)
        high, low = _pcg_step(zero, zero, inc_high, inc_low)
        high, low = _add(high, low, seed_state[:, 0], seed_state[:, 1])
        high, low = _pcg_step(high, low, inc_high, inc_low)
        high, low = _pcg_step(high, low, inc_high, inc_low)  # the draw steps first
        value = high ^ low
        rotation = high >> np.uint64(58)
        return (value >> rotation) | (value << ((np.uint64(64) - rotation) & np.uint64(63)))


#: Fewer entropies than this are cheaper one at a time through NumPy itself (some 10 us
#: each) than on arrays (a fixed cost of about 0.4 ms).
FEW = 16


def keys_from_seeds(seeds: Sequence[int]) -> np.ndarray:
    """The episode key of each seed (non-negative ints), (n,) uint64: what
    ``gymnasium.utils.seeding.np_random(seed)[0].integers(0, 2**63, dtype=np.int64)`` gives."""
    if len(seeds) < FEW:
        return np.array([_numpy_key(int(seed)) for seed in seeds], dtype=np.uint64)
    return _by_entropy([[int(seed)] for seed in seeds], lambda state: pcg64_first_output(_as_uint64(state)) >> np.uint64(1), 8)


def sequence_draws(entropies: Sequence[Sequence[int]]) -> np.ndarray:
    """``SeedSequence(entropy).generate_state(1, np.uint64)[0]`` of each entropy (a list
    of non-negative ints), (n,) uint64."""
    if len(entropies) < FEW:
        return np.array([np.random.SeedSequence([_checked(v) for v in entropy]).generate_state(1, np.uint64)[0]
                         for entropy in entropies], dtype=np.uint64)
    return _by_entropy(entropies, _as_uint64, 2)[:, 0] if len(entropies) else np.zeros(0, dtype=np.uint64)


def _checked(value: int) -> int:
    """``value`` if it may seed: SeedSequence's own message for a negative one differs from ours."""
    if value < 0:
        raise ValueError(f"seeds must be non-negative integers, got {value}")
    return value


def _numpy_key(seed: int) -> int:
    """One seed's key, as NumPy draws it."""
    return int(np.random.PCG64(np.random.SeedSequence(_checked(seed))).random_raw()) >> 1


def _by_entropy(entropies: Sequence[Sequence[int]], finish, words: int) -> np.ndarray:
    """``finish(seed_sequence_state(...))`` per entropy, computed in groups of entropies
    with the same number of words."""
    assembled = [[word for value in entropy for word in _words(value)] for entropy in entropies]
    groups: dict[int, list[int]] = {}
    for row, entropy in enumerate(assembled):
        groups.setdefault(len(entropy), []).append(row)
    out: np.ndarray | None = None
    for rows in groups.values():
        state = seed_sequence_state(np.array([assembled[row] for row in rows], dtype=np.uint32), words)
        values = finish(state)
        if out is None:
            out = np.zeros((len(assembled),) + values.shape[1:], dtype=np.uint64)
        out[rows] = values
    return out if out is not None else np.zeros(0, dtype=np.uint64)
