"""Keys and episode seeds computed for many seeds at once equal NumPy's and Gymnasium's,
one seed at a time, across the word sizes SeedSequence distinguishes."""

from __future__ import annotations

import numpy as np
import pytest
from gymnasium.utils import seeding as gym_seeding

from modenhub_env import seeding
from modenhub_env.interface import key_from_generator, keys_for_seeds
from train.rollout import episode_seed, episode_seeds

SEEDS = [0, 1, 2, 41, 2**31, 2**32 - 1, 2**32, 2**40 + 3, 2**63, 2**64 - 1, 2**64, 2**100 + 7, 2**130]


def test_keys_from_seeds__equal_gymnasiums_generator_one_seed_at_a_time():
    seeds = SEEDS + [int(x) for x in np.random.default_rng(0).integers(0, 2**63, 200)]
    expected = [key_from_generator(gym_seeding.np_random(seed)[0]) for seed in seeds]
    np.testing.assert_array_equal(seeding.keys_from_seeds(seeds), np.array(expected, dtype=np.uint64))


def test_sequence_draws__equal_seed_sequence_for_mixed_lengths():
    entropies = [[seed, episode] for seed in SEEDS for episode in (0, 1, 5, 2**33)] + [[3], [2**70, 1, 2, 3, 4]]
    expected = [np.random.SeedSequence(e).generate_state(1, np.uint64)[0] for e in entropies]
    np.testing.assert_array_equal(seeding.sequence_draws(entropies), np.array(expected, dtype=np.uint64))


def test_few_seeds__go_through_numpy_with_the_same_results_as_arrays():
    """Fewer than ``FEW`` seeds take NumPy's own path; the many-seed tests above the array one."""
    seeds = SEEDS + list(range(100, 100 + seeding.FEW))
    entropies = [[seed, 3] for seed in seeds]
    keys, draws = seeding.keys_from_seeds(seeds), seeding.sequence_draws(entropies)
    for row, seed in enumerate(seeds):
        assert seeding.keys_from_seeds([seed])[0] == keys[row]
        assert seeding.sequence_draws([entropies[row]])[0] == draws[row]
    assert seeding.keys_from_seeds([]).dtype == np.uint64 and seeding.sequence_draws([]).shape == (0,)
    with pytest.raises(ValueError, match="non-negative"):
        seeding.sequence_draws([[1, -2]])


def test_seed_sequence_state__equals_numpy_for_longer_states():
    entropy = np.array([[5, 6, 7, 8, 9, 10]], dtype=np.uint32)
    expected = np.random.SeedSequence([5, 6, 7, 8, 9, 10]).generate_state(9, np.uint32)
    np.testing.assert_array_equal(seeding.seed_sequence_state(entropy, 9)[0], expected)


def test_episode_seeds__equal_episode_seed_one_by_one():
    assert episode_seeds(7, range(50)) == [episode_seed(7, e) for e in range(50)]


def test_keys_for_seeds__refuses_what_gymnasium_refuses():
    with pytest.raises(Exception, match="Seed must be"):
        keys_for_seeds([-1], np.zeros(1, dtype=np.uint64), None)
    with pytest.raises(ValueError, match="non-negative"):
        seeding.keys_from_seeds([-5])
