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


# ---------------------------------------------------------------- Student t


@pytest.mark.parametrize("t", [-7.5, -1.0, -0.2, 0.0, 0.3, 1.5, 4.0, 40.0])
def test_t_cdf__equals_the_closed_forms_of_one_two_and_three_degrees_of_freedom(t):
    assert stats.t_cdf(t, 1) == pytest.approx(0.5 + math.atan(t) / math.pi, abs=1e-14)
    assert stats.t_cdf(t, 2) == pytest.approx(0.5 + t / (2 * math.sqrt(2 + t * t)), abs=1e-14)
    three = 0.5 + (t / (math.sqrt(3) * (1 + t * t / 3)) + math.atan(t / math.sqrt(3))) / math.pi
    assert stats.t_cdf(t, 3) == pytest.approx(three, abs=1e-14)


@pytest.mark.parametrize("p", [0.6, 0.9, 0.975, 0.995])
def test_t_quantile__equals_the_closed_forms_of_one_two_and_four_degrees_of_freedom(p):
    assert stats.t_quantile(p, 1) == pytest.approx(math.tan(math.pi * (p - 0.5)), rel=1e-12)
    assert stats.t_quantile(p, 2) == pytest.approx((2 * p - 1) / math.sqrt(2 * p * (1 - p)), rel=1e-12)
    alpha = 4 * p * (1 - p)
    q = math.cos(math.acos(math.sqrt(alpha)) / 3) / math.sqrt(alpha)
    assert stats.t_quantile(p, 4) == pytest.approx(2 * math.sqrt(q - 1), rel=1e-12)


@pytest.mark.parametrize(("df", "t"), [(1, 12.7062), (2, 4.3027), (4, 2.7764), (9, 2.2622), (30, 2.0423),
                                       (120, 1.9799)])
def test_t_quantile__975_matches_the_printed_table(df, t):
    assert stats.t_quantile(0.975, df) == pytest.approx(t, abs=1e-4)


@pytest.mark.parametrize("df", [1, 2, 3, 7, 10, 31, 199, 200, 999, 1000, 1001, 5000, 10**6])
@pytest.mark.parametrize("p", [0.025, 0.5, 0.8, 0.975, 0.995])
def test_t_quantile__equals_scipy_on_both_sides_of_the_expansion(df, p):
    scipy_stats = pytest.importorskip("scipy.stats")
    assert stats.t_quantile(p, df) == pytest.approx(scipy_stats.t.ppf(p, df), rel=1e-12, abs=1e-13)
    if df <= stats.T_EXPANSION_DF:  # beyond, the series of t_cdf loses digits to rounding
        assert stats.t_cdf(stats.t_quantile(p, df), df) == pytest.approx(p, abs=1e-12)


def test_t_quantile__narrows_to_the_normal_quantile():
    values = [stats.t_quantile(0.975, df) for df in (1, 2, 5, 30, 1000, 1001, 10**7)]
    assert values == sorted(values, reverse=True)
    assert values[-1] == pytest.approx(stats.Z95, abs=1e-6)


@pytest.mark.parametrize(("p", "df"), [(0.0, 5), (1.0, 5), (0.975, 0), (0.975, 2.5), (0.975, True)])
def test_t_quantile__rejects_a_bad_probability_or_degrees_of_freedom(p, df):
    with pytest.raises(ValueError, match="must be"):
        stats.t_quantile(p, df)


# ---------------------------------------------------------------- t_interval, paired_difference, verdict


def test_t_interval__hand_worked_example():
    # mean 3, sd sqrt(2.5), n 5: half width t(0.975, 4) sqrt(2.5 / 5) = 2.7764451 * 0.7071068
    assert stats.t_interval(np.array([1.0, 2.0, 3.0, 4.0, 5.0])) == pytest.approx(
        (3.0, 1.0367568385, 4.9632431615), abs=1e-9)


def test_t_interval__one_sample_has_no_interval_and_none_has_nothing():
    mean, lo, hi = stats.t_interval(np.array([2.5]))
    assert mean == 2.5 and math.isnan(lo) and math.isnan(hi)
    assert all(math.isnan(x) for x in stats.t_interval(np.array([])))


def test_paired_difference__hand_worked_example_is_tighter_than_the_two_intervals():
    learned = np.array([10.0, 12.0, 9.0, 11.0])
    best = np.array([8.0, 11.0, 8.0, 9.0])
    # differences 2, 1, 1, 2: mean 1.5, sd 1/sqrt(3), half width t(0.975, 3) / (2 sqrt(3)) = 0.9186931
    mean, lo, hi = stats.paired_difference(learned, best)
    assert (mean, lo, hi) == pytest.approx((1.5, 0.5813068845, 2.4186931155), abs=1e-9)
    assert stats.verdict(lo, hi) == "better"
    # Side by side, each policy's own interval overlaps the other's: [8.45, 12.55] and [6.75, 11.25].
    assert stats.t_interval(learned)[1] == pytest.approx(8.4457397, abs=1e-6)
    assert stats.t_interval(best)[2] == pytest.approx(11.2503294, abs=1e-6)


def test_paired_difference__is_antisymmetric_and_zero_against_itself():
    a, b = np.array([3.0, 1.0, 4.0, 1.0, 5.0]), np.array([2.0, 7.0, 1.0, 8.0, 2.0])
    mean, lo, hi = stats.paired_difference(a, b)
    assert stats.paired_difference(b, a) == pytest.approx((-mean, -hi, -lo), abs=1e-12)
    assert stats.paired_difference(a, a) == (0.0, 0.0, 0.0)


def test_paired_difference__different_episodes_are_an_error():
    with pytest.raises(ValueError, match="same episodes"):
        stats.paired_difference(np.zeros(3), np.zeros(4))


@pytest.mark.parametrize(("lo", "hi", "expected"), [(0.1, 2.0, "better"), (-2.0, -0.1, "worse"), (-1.0, 1.0, "tie"),
                                                    (0.0, 1.0, "tie"), (0.0, 0.0, "tie"), (math.nan, math.nan, "n/a")])
def test_verdict__from_where_the_interval_lies(lo, hi, expected):
    assert stats.verdict(lo, hi) == expected
