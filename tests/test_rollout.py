"""``train.rollout.run_episodes``: whole-episode totals of a policy on the vector env."""

from __future__ import annotations

import numpy as np
import pytest

from agents import make_policy
from modenhub_env.config import HubConfig
from modenhub_env.state import COUNTERS
from train.rollout import EpisodeTotals, episode_seed, run_episodes

SEQUENTIAL = HubConfig(n_qpus=8, episode_requests=50)  # the paper preset, short episodes
CONTENTION = HubConfig.preset("contention", episode_rounds=32)


def _run(config: HubConfig, name: str, episodes: int, seed: int = 0, **kwargs) -> EpisodeTotals:
    return run_episodes(config, make_policy(name, config), episodes, seed, **kwargs)


@pytest.mark.parametrize("episodes", [1, 3, 5])
def test_run_episodes__returns_the_asked_number_of_episodes(episodes):
    totals = _run(SEQUENTIAL, "log-parallel", episodes, max_batch=2)
    assert totals.episodes == episodes
    assert totals.returns.shape == (episodes,)
    assert totals.latency_hist.shape[0] == episodes
    for name in COUNTERS:
        assert totals[name].shape == (episodes,), name


def test_run_episodes__total_sums_a_counter_over_episodes():
    totals = _run(SEQUENTIAL, "sequential", 3)
    assert totals.total("served") == pytest.approx(float(totals["served"].sum()))
    assert isinstance(totals.total("served"), float)


@pytest.mark.parametrize(("config", "name"), [(SEQUENTIAL, "log-parallel"), (CONTENTION, "deadline")])
def test_run_episodes__independent_of_max_batch(config, name):
    one = _run(config, name, 5, seed=11, max_batch=1)
    four = _run(config, name, 5, seed=11, max_batch=4)
    for key in one.counters:
        np.testing.assert_array_equal(one[key], four[key], err_msg=key)
    np.testing.assert_array_equal(one.returns, four.returns)
    np.testing.assert_array_equal(one.latency_hist, four.latency_hist)


def test_run_episodes__same_seed_same_totals_other_seed_differs():
    first = _run(SEQUENTIAL, "log-parallel", 3, seed=5)
    again = _run(SEQUENTIAL, "log-parallel", 3, seed=5)
    other = _run(SEQUENTIAL, "log-parallel", 3, seed=500)
    np.testing.assert_array_equal(first["attempts"], again["attempts"])
    assert not np.array_equal(first["attempts"], other["attempts"])


def test_run_episodes__neighbouring_seeds_share_no_episode():
    """Episode seeds are hashes of (seed, episode), not seed + episode."""
    from_two = _run(SEQUENTIAL, "log-parallel", 3, seed=2)
    from_three = _run(SEQUENTIAL, "log-parallel", 3, seed=3)
    assert not set(from_two["attempts"][1:]) & set(from_three["attempts"][:2])


def test_episode_seed__distinct_and_reproducible():
    seeds = {episode_seed(s, e) for s in range(20) for e in range(20)}
    assert len(seeds) == 400
    assert episode_seed(7, 3) == episode_seed(7, 3)


@pytest.mark.parametrize("name", ["sequential", "log-parallel", "deadline"])
def test_run_episodes__sequential_workload_resolves_every_request(name):
    episodes = 4
    totals = _run(SEQUENTIAL, name, episodes, seed=1)
    resolved = totals["served"] + totals["failed"]
    np.testing.assert_array_equal(resolved, np.full(episodes, 50.0))
    assert totals.total("served") + totals.total("failed") == episodes * 50
    np.testing.assert_array_equal(totals["arrived"], resolved)
    assert totals.total("rejected") == 0


@pytest.mark.parametrize("name", ["sequential", "log-parallel", "deadline", "random"])
def test_run_episodes__poisson_resolved_plus_pending_is_arrived(name):
    totals = _run(CONTENTION, name, 3, seed=2)
    resolved = totals["served"] + totals["failed"] + totals["rejected"]
    pending = totals["arrived"] - resolved
    assert (pending >= 0).all()
    assert (pending <= CONTENTION.queue_capacity).all()
    assert totals.total("arrived") > 0


@pytest.mark.parametrize(("config", "name"), [(SEQUENTIAL, "log-parallel"), (CONTENTION, "deadline")])
def test_run_episodes__latency_histogram_counts_served_requests(config, name):
    totals = _run(config, name, 3, seed=4)
    np.testing.assert_array_equal(totals.latency_hist.sum(axis=1), totals["served"])
    lags = np.arange(totals.latency_hist.shape[1])
    np.testing.assert_allclose(totals.latency_hist @ lags, totals["latency_sum"])


def test_run_episodes__returns_are_the_weighted_counters():
    config = CONTENTION
    totals = _run(config, "log-parallel", 3, seed=6)
    expected = (
        totals["served"]
        - config.w_fail * (totals["failed"] + totals["rejected"])
        - config.w_attempt * (totals["attempts"] + totals["prefetch_attempts"])
    )
    np.testing.assert_allclose(totals.returns, expected, atol=1e-9)


def test_run_episodes__paper_preset_return_counts_served_requests():
    totals = _run(SEQUENTIAL, "log-parallel", 3, seed=7)
    np.testing.assert_array_equal(totals.returns, totals["served"])


def test_run_episodes__episode_rounds_truncate_poisson_episodes():
    totals = _run(CONTENTION, "sequential", 2, seed=8)
    np.testing.assert_array_equal(totals["rounds"], [32.0, 32.0])


def test_run_episodes__progress_reports_every_episode_once():
    reported = []
    totals = _run(SEQUENTIAL, "sequential", 5, seed=0, max_batch=2, progress=reported.append)
    assert sum(reported) == totals.episodes == 5
    assert all(n >= 1 for n in reported)


class _IdleSpy:
    """Launches nothing; records what ``predict`` was given."""

    def __init__(self, config: HubConfig, wants_masks: bool) -> None:
        self.n_slots = config.request_slots + config.prefetch_slots
        self.masks: list = []
        if wants_masks:
            self.predict = self._predict_masked

    def predict(self, obs, state=None, episode_start=None, deterministic=True):
        self.masks.append(None)
        return np.zeros((obs.shape[0], self.n_slots), dtype=np.int64), state

    def _predict_masked(self, obs, state=None, episode_start=None, deterministic=True, action_masks=None):
        self.masks.append(action_masks)
        return np.zeros((obs.shape[0], self.n_slots), dtype=np.int64), state


@pytest.mark.parametrize("wants_masks", [True, False])
def test_run_episodes__passes_action_masks_only_to_policies_that_take_them(wants_masks):
    config = SEQUENTIAL.replace(episode_requests=3)
    spy = _IdleSpy(config, wants_masks)
    totals = run_episodes(config, spy, 2, 0)
    assert totals.total("served") == 0 and totals.total("failed") == 6  # idle: every request fails
    assert spy.masks
    if wants_masks:
        assert all(m is not None and m.shape[0] == 2 and m.dtype == bool for m in spy.masks)
    else:
        assert all(m is None for m in spy.masks)


def test_run_episodes__zero_episodes_is_empty_or_a_clear_error():
    try:
        totals = _run(SEQUENTIAL, "sequential", 0)
    except ValueError as err:
        assert "episodes" in str(err)
    else:
        assert totals.episodes == 0
