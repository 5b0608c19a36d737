"""Confidence intervals for the rates and means the scripts report (95% by default)."""

from __future__ import annotations

import math

import numpy as np

Z95 = 1.959963984540054


def wilson_interval(successes: float, trials: float, z: float = Z95) -> tuple[float, float]:
    """Wilson score interval of a binomial proportion; ``(nan, nan)`` for no trials."""
    if trials <= 0:
        return math.nan, math.nan
    rate = successes / trials
    denom = 1.0 + z * z / trials
    centre = (rate + z * z / (2 * trials)) / denom
    half = z * math.sqrt(rate * (1 - rate) / trials + z * z / (4 * trials * trials)) / denom
    # At a rate of 0 or 1 the bound is exactly the rate; rounding must not move it past.
    low = 0.0 if successes <= 0 else max(0.0, centre - half)
    high = 1.0 if successes >= trials else min(1.0, centre + half)
    return low, high


def mean_interval(total: float, total_sq: float, n: float, z: float = Z95) -> tuple[float, float, float]:
    """Mean of ``n`` samples from their sum and sum of squares, with a normal interval."""
    if n <= 0:
        return math.nan, math.nan, math.nan
    mean = total / n
    if n < 2:
        return mean, math.nan, math.nan
    variance = max(0.0, (total_sq - n * mean * mean) / (n - 1))
    half = z * math.sqrt(variance / n)
    return mean, mean - half, mean + half


def sample_interval(samples: np.ndarray, z: float = Z95) -> tuple[float, float, float]:
    """Mean of per-episode samples with a normal interval over episodes."""
    samples = np.asarray(samples, dtype=np.float64)
    return mean_interval(samples.sum(), (samples**2).sum(), samples.size, z)


def histogram_quantile(counts: np.ndarray, q: float) -> float:
    """The ``q`` quantile of integer values ``0, 1, ...`` counted by ``counts``."""
    total = counts.sum()
    if total <= 0:
        return math.nan
    cumulative = np.cumsum(counts)
    # The smallest value whose cumulative count reaches q * total (numpy's inverted_cdf);
    # at q = 0 that is the smallest value counted at all.
    return float(np.flatnonzero((cumulative >= q * total) & (cumulative > 0))[0])


def bootstrap_quantile(
    hists: np.ndarray, q: float, rng: np.random.Generator, draws: int = 500
) -> tuple[float, float, float]:
    """Quantile of pooled per-episode histograms (E, L) with a bootstrap interval over episodes."""
    point = histogram_quantile(hists.sum(axis=0), q)
    if hists.shape[0] < 2:
        return point, math.nan, math.nan
    picks = rng.integers(0, hists.shape[0], size=(draws, hists.shape[0]))
    values = np.array([histogram_quantile(hists[p].sum(axis=0), q) for p in picks])
    values = values[np.isfinite(values)]
    if values.size == 0:  # no resample served any request
        return point, math.nan, math.nan
    low, high = np.percentile(values, [2.5, 97.5])
    return point, float(low), float(high)
