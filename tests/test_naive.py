"""The per-trial Python loop and the batched core are the same model: their Monte Carlo
estimates agree within their combined standard errors."""

import math

import numpy as np
import pytest

from modenhub_env.config import HubConfig
from train.naive import naive_monte_carlo
from train.reproduce import Point, measure, point_config


@pytest.mark.parametrize("n_qpus", [1, 8, 32])
def test_naive_monte_carlo__agrees_with_batched_core_with_cache(n_qpus):
    trials = 4000
    point = Point(n_qpus, "log-parallel", True)
    config = point_config(HubConfig(n_qpus=n_qpus, episode_requests=500), point, trials)
    row = measure(config, point, trials, seed=3)
    naive = naive_monte_carlo(config, config.k_parallel, trials, np.random.default_rng(3))
    naive_success = naive.served / naive.requests
    se = math.sqrt(
        row["success"] * (1 - row["success"]) / row["trials"]
        + naive_success * (1 - naive_success) / naive.requests
    )
    assert abs(row["success"] - naive_success) < 4 * se + 1e-12
    naive_hits = naive.cache_hits / naive.requests
    se_hits = math.sqrt(2 * max(naive_hits * (1 - naive_hits), 1e-4) / trials)
    assert abs(row["cache_hit_rate"] - naive_hits) < 4 * se_hits


def test_naive_monte_carlo__rejects_decoherence():
    with pytest.raises(ValueError, match="without decoherence"):
        naive_monte_carlo(HubConfig(t_coh=5.0), 1, 10, np.random.default_rng(0))
