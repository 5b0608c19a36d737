"""Confidence intervals for the rates and means the scripts report (95% by default), and
the paired difference between two policies over the same episodes."""

from __future__ import annotations

import functools
import math
from statistics import NormalDist

import numpy as np

Z95 = 1.959963984540054
#: Above this many degrees of freedom, :func:`t_quantile` uses its expansion in ``1/df``
#: (error below 1e-13 there for ``p`` up to 0.995); up to it, it inverts :func:`t_cdf`,
#: whose series grows with ``df`` and loses digits to rounding as it does.
T_EXPANSION_DF = 1000


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


def t_cdf(t: float, df: int) -> float:
    """``P(T <= t)`` for Student's t with ``df`` (a positive integer) degrees of freedom, in
    closed form (Abramowitz and Stegun 26.7.3 and 26.7.4: with ``theta = atan(t / sqrt(df))``
    and ``c = cos(theta)**2``, ``P(|T| < t)`` is ``2/pi (theta + sin(theta) cos(theta) (1 +
    2/3 c + 2*4/(3*5) c**2 + ...))`` for odd ``df`` and ``sin(theta) (1 + 1/2 c + 1*3/(2*4)
    c**2 + ...)`` for even ``df``, each series stopping at ``c**((df - 3) // 2)`` or
    ``c**((df - 2) // 2)``). Rounding in the series costs digits as ``df`` grows: an error
    of 1e-14 at ``df`` 1,000, 1e-11 at 10**6."""
    _check_df(df)
    theta = math.atan(abs(t) / math.sqrt(df))
    c = math.cos(theta) ** 2
    if df == 1:
        inside = 2.0 / math.pi * theta
    elif df % 2:
        k = np.arange(1, (df - 3) // 2 + 1, dtype=np.float64)
        series = 1.0 + float(np.sum(np.cumprod(2 * k / (2 * k + 1)) * c**k))
        inside = 2.0 / math.pi * (theta + math.sin(theta) * math.cos(theta) * series)
    else:
        k = np.arange(1, (df - 2) // 2 + 1, dtype=np.float64)
        inside = math.sin(theta) * (1.0 + float(np.sum(np.cumprod((2 * k - 1) / (2 * k)) * c**k)))
    return 0.5 + math.copysign(0.5 * min(inside, 1.0), t)


def _check_df(df: int) -> None:
    if isinstance(df, bool) or not isinstance(df, (int, np.integer)) or df < 1:
        raise ValueError(f"df must be a positive integer, got {df!r}")


@functools.lru_cache(maxsize=64, typed=True)
def t_quantile(p: float, df: int) -> float:
    """The ``p`` quantile of Student's t with ``df`` degrees of freedom (e.g. ``t_quantile(0.975,
    9) = 2.262``): :func:`t_cdf` inverted by bisection to the last bit, or for ``df`` above
    :data:`T_EXPANSION_DF` the Cornish-Fisher expansion to ``1/df**4`` (Abramowitz and
    Stegun 26.7.5)."""
    _check_df(df)
    if not 0.0 < p < 1.0:
        raise ValueError(f"p must be in (0, 1), got {p!r}")
    if p < 0.5:
        return -t_quantile(1.0 - p, df)
    if df > T_EXPANSION_DF:
        x = NormalDist().inv_cdf(p)
        terms = ((x**3 + x) / 4, (5 * x**5 + 16 * x**3 + 3 * x) / 96,
                 (3 * x**7 + 19 * x**5 + 17 * x**3 - 15 * x) / 384,
                 (79 * x**9 + 776 * x**7 + 1482 * x**5 - 1920 * x**3 - 945 * x) / 92160)
        return x + sum(term / df ** (i + 1) for i, term in enumerate(terms))
    low, high = 0.0, 1.0
    while t_cdf(high, df) < p:
        low, high = high, 2.0 * high
    for _ in range(200):
        middle = 0.5 * (low + high)
        if middle in (low, high):
            break
        low, high = (middle, high) if t_cdf(middle, df) < p else (low, middle)
    return high


def t_interval(samples: np.ndarray, level: float = 0.95) -> tuple[float, float, float]:
    """Mean of ``samples`` with its Student t interval at ``level`` (``nan`` bounds for fewer
    than two samples; ``nan`` everywhere for none)."""
    samples = np.asarray(samples, dtype=np.float64)
    n = samples.size
    if n == 0:
        return math.nan, math.nan, math.nan
    mean = float(samples.mean())
    if n < 2:
        return mean, math.nan, math.nan
    half = t_quantile(0.5 + level / 2, n - 1) * float(samples.std(ddof=1)) / math.sqrt(n)
    return mean, mean - half, mean + half


def paired_difference(samples: np.ndarray, reference: np.ndarray, level: float = 0.95) -> tuple[float, float, float]:
    """Mean of ``samples - reference``, episode by episode, with its Student t interval at
    ``level``: the paired comparison of two policies over the same episodes (seeds). The
    episodes' common luck cancels in each difference, so this interval is much narrower
    than the two policies' own intervals side by side.

    :raises ValueError: the two arrays differ in shape (they must be the same episodes).
    """
    samples, reference = np.asarray(samples, dtype=np.float64), np.asarray(reference, dtype=np.float64)
    if samples.shape != reference.shape:
        raise ValueError(f"paired samples must be the same episodes, got shapes {samples.shape} and {reference.shape}")
    return t_interval(samples - reference, level)


def verdict(low: float, high: float) -> str:
    """``better`` when an interval of a difference lies above 0, ``worse`` below it, ``tie``
    when it contains 0, ``n/a`` without an interval (fewer than two episodes)."""
    if math.isnan(low) or math.isnan(high):
        return "n/a"
    if low > 0.0:
        return "better"
    if high < 0.0:
        return "worse"
    return "tie"
