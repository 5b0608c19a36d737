"""``train.stats``: the confidence intervals the scripts report, against known values and
intervals computed directly with numpy."""

from __future__ import annotations

import math

import numpy as np
import pytest

from train import stats

# ---------------------------------------------------------------- wilson_interval


@pytest.mark.parametrize(
    ("successes", "trials", "low", "high"),
    [
        (50, 100, 0.4038, 0.5962),  # the textbook example
        (1, 10, 0.0179, 0.4042),  # Wilson (1927) / Newcombe (1998) table value
        (8, 10, 0.4902, 0.9433),
    ],
)
def test_wilson_interval__matches_known_values(successes, trials, low, high):
    lo, hi = stats.wilson_interval(successes, trials)
    assert lo == pytest.approx(low, abs=1e-4)
    assert hi == pytest.approx(high, abs=1e-4)


def test_wilson_interval__is_symmetric_about_one_half():
    lo, hi = stats.wilson_interval(30, 100)
    lo_mirror, hi_mirror = stats.wilson_interval(70, 100)
    assert lo == pytest.approx(1 - hi_mirror, abs=1e-12)
    assert hi == pytest.approx(1 - lo_mirror, abs=1e-12)


@pytest.mark.parametrize("trials", [1, 10, 300])
def test_wilson_interval__no_successes_starts_at_zero(trials):
    z2 = stats.Z95**2
    lo, hi = stats.wilson_interval(0, trials)
    assert lo == pytest.approx(0.0, abs=1e-12)
    assert hi == pytest.approx(z2 / (trials + z2), rel=1e-12)


@pytest.mark.parametrize("trials", [1, 10, 300])
def test_wilson_interval__all_successes_ends_at_one(trials):
    z2 = stats.Z95**2
    lo, hi = stats.wilson_interval(trials, trials)
    assert hi == pytest.approx(1.0, abs=1e-12)
    assert lo == pytest.approx(trials / (trials + z2), rel=1e-12)


def test_wilson_interval__edge_rates_lie_inside_their_interval():
    for trials in (3, 10, 100, 300, 2500):
        lo, _ = stats.wilson_interval(0, trials)
        _, hi = stats.wilson_interval(trials, trials)
        assert lo <= 0.0, (trials, lo)
        assert hi >= 1.0, (trials, hi)


@pytest.mark.parametrize("trials", [0, -1])
def test_wilson_interval__no_trials_gives_nan(trials):
    lo, hi = stats.wilson_interval(0, trials)
    assert math.isnan(lo) and math.isnan(hi)


def test_wilson_interval__contains_rate_and_narrows_with_trials():
    widths = []
    for trials in (10, 100, 1000, 10000):
        lo, hi = stats.wilson_interval(0.3 * trials, trials)
        assert lo < 0.3 < hi
        widths.append(hi - lo)
    assert widths == sorted(widths, reverse=True)


def test_wilson_interval__larger_z_gives_wider_interval():
    lo95, hi95 = stats.wilson_interval(40, 100)
    lo99, hi99 = stats.wilson_interval(40, 100, z=2.5758)
    assert lo99 < lo95 and hi99 > hi95


# ---------------------------------------------------------------- mean_interval


def test_mean_interval__equals_numpy_mean_and_normal_half_width():
    samples = np.random.default_rng(1).normal(5.0, 2.0, size=400)
    mean, lo, hi = stats.mean_interval(samples.sum(), (samples**2).sum(), samples.size)
    half = stats.Z95 * samples.std(ddof=1) / math.sqrt(samples.size)
    assert mean == pytest.approx(samples.mean(), rel=1e-12)
    assert lo == pytest.approx(samples.mean() - half, rel=1e-9)
    assert hi == pytest.approx(samples.mean() + half, rel=1e-9)


def test_mean_interval__half_width_scales_with_z():
    samples = np.random.default_rng(2).integers(0, 12, size=50).astype(float)
    args = (samples.sum(), (samples**2).sum(), samples.size)
    mean, lo, hi = stats.mean_interval(*args)
    mean2, lo2, hi2 = stats.mean_interval(*args, z=2 * stats.Z95)
    assert mean2 == mean
    assert hi2 - lo2 == pytest.approx(2 * (hi - lo), rel=1e-12)


def test_mean_interval__constant_samples_give_zero_width():
    samples = np.full(37, 0.97)
    mean, lo, hi = stats.mean_interval(samples.sum(), (samples**2).sum(), samples.size)
    assert mean == pytest.approx(0.97)
    assert lo <= mean <= hi
    assert hi - lo < 1e-6


def test_mean_interval__one_sample_has_no_interval():
    mean, lo, hi = stats.mean_interval(3.0, 9.0, 1)
    assert mean == 3.0
    assert math.isnan(lo) and math.isnan(hi)


def test_mean_interval__no_samples_gives_nan():
    assert all(math.isnan(x) for x in stats.mean_interval(0.0, 0.0, 0))


def test_sample_interval__equals_mean_interval_of_sums():
    samples = np.array([1.0, 4.0, 2.0, 8.0, 5.0])
    expected = stats.mean_interval(samples.sum(), (samples**2).sum(), samples.size)
    assert stats.sample_interval(samples) == pytest.approx(expected)


# ---------------------------------------------------------------- histogram_quantile


@pytest.mark.parametrize(
    ("counts", "q", "expected"),
    [
        ([0, 0, 5], 0.5, 2.0),
        ([0, 0, 5], 0.95, 2.0),
        ([1, 1, 1, 1], 0.5, 1.0),  # the lower median of 0, 1, 2, 3
        ([1, 1, 1, 1], 0.95, 3.0),
        ([10, 0, 0, 1], 0.5, 0.0),
        ([10, 0, 0, 1], 0.95, 3.0),
        ([3, 5, 2], 0.5, 1.0),
        ([5], 0.95, 0.0),
    ],
)
def test_histogram_quantile__on_simple_histograms(counts, q, expected):
    assert stats.histogram_quantile(np.array(counts), q) == expected


@pytest.mark.parametrize("q", [0.1, 0.5, 0.9, 0.95])
def test_histogram_quantile__equals_numpy_inverted_cdf_of_the_samples(q):
    rng = np.random.default_rng(3)
    for _ in range(20):
        counts = rng.integers(0, 6, size=rng.integers(1, 9))
        counts[rng.integers(counts.size)] += 1  # never empty
        samples = np.repeat(np.arange(counts.size), counts)
        assert stats.histogram_quantile(counts, q) == np.quantile(samples, q, method="inverted_cdf")


def test_histogram_quantile__empty_histogram_gives_nan():
    assert math.isnan(stats.histogram_quantile(np.zeros(4, dtype=int), 0.5))


def test_histogram_quantile__q_zero_is_the_smallest_counted_value():
    assert stats.histogram_quantile(np.array([0, 0, 5]), 0.0) == 2.0


# ---------------------------------------------------------------- bootstrap_quantile


def _latency_hists(episodes: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    hists = np.zeros((episodes, 8), dtype=np.int64)
    for e in range(episodes):
        values = np.minimum(rng.poisson(1.5, size=200), 7)
        hists[e] = np.bincount(values, minlength=8)
    return hists


@pytest.mark.parametrize("q", [0.5, 0.95])
def test_bootstrap_quantile__interval_contains_point_estimate(q):
    hists = _latency_hists(20, seed=4)
    point, lo, hi = stats.bootstrap_quantile(hists, q, np.random.default_rng(0))
    assert point == stats.histogram_quantile(hists.sum(axis=0), q)
    assert lo <= point <= hi


def test_bootstrap_quantile__identical_episodes_give_a_zero_width_interval():
    hists = np.tile(np.array([[2, 5, 3, 1]]), (10, 1))
    point, lo, hi = stats.bootstrap_quantile(hists, 0.5, np.random.default_rng(0))
    assert (point, lo, hi) == (1.0, 1.0, 1.0)


def test_bootstrap_quantile__same_generator_seed_gives_same_interval():
    hists = _latency_hists(6, seed=5)
    first = stats.bootstrap_quantile(hists, 0.95, np.random.default_rng(9))
    second = stats.bootstrap_quantile(hists, 0.95, np.random.default_rng(9))
    assert first == second


def test_bootstrap_quantile__one_episode_has_no_interval():
    point, lo, hi = stats.bootstrap_quantile(np.array([[0, 4, 1]]), 0.5, np.random.default_rng(0))
    assert point == 1.0
    assert math.isnan(lo) and math.isnan(hi)
