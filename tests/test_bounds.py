"""The relaxation bounds (``train.bounds``) and the decoherence preset's design script."""

from __future__ import annotations

import math

import numpy as np
import pytest

from agents.dp import SingleRequestDPPolicy, dp_value_table
from modenhub_env.config import HubConfig
from modenhub_env.vector_env import ModEnHubVectorEnv
from train import decoherence_design as design
from train.bounds import Clairvoyant, clairvoyant_table, future_arrivals, play_bound
from train.rollout import episode_seed, run_episodes

SMALL = HubConfig.preset("decoherence", episode_rounds=40)


def test_clairvoyant_table__is_the_single_request_dp_when_storage_costs_nothing():
    """Without an attempt's worth of fidelity lost in storage, a request known d rounds ahead
    is a request with d more rounds: the DP's table, at every r."""
    config = SMALL.replace(w_fidelity=0.0, t_coh=math.inf)
    limit = int(min(config.storage_limit, config.episode_rounds))
    for p in (0.05, 0.17, 0.6):
        _, best = dp_value_table(p, config.round_budget + limit, config.k_max, config.w_attempt, config.w_fail)
        np.testing.assert_array_equal(clairvoyant_table(config, p), best)


def test_clairvoyant_table__values_by_hand():
    # R = 1, k_max = 2, w_attempt = 0.1, w_fail = 1, p = 1/2, T_coh = 10, F0 = 0.97, w_fidelity = 2:
    # r = 1: n = 0, 1, 2 give -1, 0.5 - 0.5 - 0.1 = -0.1, 0.75 - 0.25 - 0.2 = 0.3: n = 2, V(1) = 0.3
    # r = 2 (one round ahead, the ebit waits 1 round): g = 1 - 2 (0.97 - F(1)),
    #   F(1) = 0.25 + 0.72 exp(-0.1) = 0.9014829, g = 1 - 2 * 0.0685171 = 0.8629659
    #   n = 0: 0.3; n = 1: 0.5 g + 0.5 * 0.3 - 0.1 = 0.4814829; n = 2: 0.75 g + 0.25 * 0.3 - 0.2 = 0.5222244
    config = HubConfig(workload="poisson", episode_rounds=4, round_budget=1, k_max=2, w_attempt=0.1, w_fail=1.0,
                       t_coh=10.0, f0=0.97, f_min=0.5, w_fidelity=2.0)
    table = clairvoyant_table(config, 0.5)
    assert table[:3].tolist() == [0, 2, 2]
    # with w_fidelity = 20, g(2) = 1 - 20 * 0.0685171 = -0.370: waiting for the arrival (n = 0) is best
    assert clairvoyant_table(config.replace(w_fidelity=20.0), 0.5)[2] == 0


def test_future_arrivals__are_the_real_episodes_arrivals():
    seeds = [episode_seed(5, e) for e in range(6)]
    arrivals = future_arrivals(SMALL, seeds)
    env = ModEnHubVectorEnv(6, config=SMALL)
    env.reset(seed=seeds)
    n, seen = SMALL.n_qpus, [{} for _ in seeds]
    for _ in range(SMALL.episode_rounds):
        state = env.core.snapshot()
        new = state.q_valid & (state.q_arrival == state.round[:, None])
        for i, slot in zip(*np.nonzero(new), strict=True):
            seen[i].setdefault(int(state.q_a[i, slot]) * n + int(state.q_b[i, slot]), []).append(int(state.round[i]))
        env.step(np.zeros((6, env.core.n_slots), dtype=np.int64))
    assert seen == arrivals
    assert sum(len(rounds) for episode in arrivals for rounds in episode.values()) > 6 * 40 * 0.6 * 0.5


def test_bounds__without_prefetch_slots_are_the_dp_episode_by_episode():
    """The bounds pair with the heuristics: the same seeds give the same episodes."""
    config = SMALL.replace(prefetch_slots=0)
    dp = run_episodes(config, SingleRequestDPPolicy(config), 12, seed=3).returns
    for name in ("free-prefetch", "clairvoyant"):
        np.testing.assert_allclose(play_bound(name, config, 3, 12)["reward"], dp, rtol=0, atol=1e-9)


def test_clairvoyant__prefetches_only_pairs_asked_for_in_time_and_gains_cache_hits():
    config = SMALL
    dp = run_episodes(config, SingleRequestDPPolicy(config), 24, seed=7)
    clairvoyant = play_bound("clairvoyant", config, 7, 24)
    free = play_bound("free-prefetch", config, 7, 24)
    assert clairvoyant["cache_hits"].sum() > dp["cache_hits"].sum()
    assert 0 < clairvoyant["prefetch_attempts"].sum() < free["prefetch_attempts"].sum() / 4
    np.testing.assert_allclose(free["reward"] - free["reward_at_cost"], config.w_attempt * free["prefetch_attempts"])
    assert (clairvoyant["reward"] == clairvoyant["reward_at_cost"]).all()


def test_clairvoyant__acts_only_on_prefetch_slots_beyond_the_dp():
    config = SMALL
    seeds = [episode_seed(1, e) for e in range(4)]
    env = ModEnHubVectorEnv(4, config=config)
    obs, _ = env.reset(seed=seeds)
    scheduler = Clairvoyant(config, future_arrivals(config, seeds))
    dp = SingleRequestDPPolicy(config)
    for _ in range(20):
        actions = scheduler.act(obs, env.core)
        np.testing.assert_array_equal(actions[:, : config.request_slots], dp.predict(obs)[0][:, : config.request_slots])
        assert (actions <= env.core.slot_limits()).all()
        obs, *_ = env.step(actions)


def test_play_bound__rejects_an_unknown_bound_and_a_workload_without_rounds():
    with pytest.raises(ValueError, match="unknown bound 'oracle'; allowed: free-prefetch, clairvoyant"):
        play_bound("oracle", SMALL, 0, 2)
    with pytest.raises(ValueError, match="Poisson"):
        play_bound("clairvoyant", HubConfig(), 0, 2)


# ---------------------------------------------------------------- the design script


def test_design__the_committed_preset_is_one_candidate_and_the_grid_is_in_its_order():
    configs = design.candidates()
    assert len(configs) == 16 and len(set(configs)) == 16
    assert configs.count(HubConfig.preset("decoherence")) == 1
    assert [c.t_coh for c in configs[:8]] == [30.0] * 8 and configs[8].t_coh == 90.0
    assert (configs[0].round_budget, configs[0].arrival_rate, configs[0].zipf_exponent) == (2, 0.6, 1.0)
    assert [HubConfig.preset("decoherence", t_coh=t).storage_limit for t in design.GRID["t_coh"]] == [8, 24]


def _rows(best_reward, clair_lead_lo, expired_best, expired_clair):
    best = {"policy": "single-request-dp", "best_heuristic": "single-request-dp", "expired_share": expired_best,
            "reward": best_reward}
    clair = {"policy": "clairvoyant", "best_heuristic": "single-request-dp", "expired_share": expired_clair,
             "diff_pct": clair_lead_lo + 1.0, "diff_pct_lo": clair_lead_lo, "diff_pct_hi": clair_lead_lo + 2.0}
    return [best, clair]


@pytest.mark.parametrize(("lead_lo", "expired", "qualifies"), [
    (10.0, (0.25, 0.25), True), (9.9, (0.9, 0.9), False), (15.0, (0.9, 0.24), False), (15.0, (0.2, 0.9), False),
])
def test_verdict__needs_both_the_headroom_and_the_expiry(lead_lo, expired, qualifies):
    ok, why = design.verdict(_rows(50.0, lead_lo, *expired))
    assert ok is qualifies
    assert "clairvoyant" in why and "expired" in why


def test_design_main__quick_run_writes_the_tables(tmp_path, capsys):
    assert design.main(["--quick", "--out", str(tmp_path), "--no-progress"]) == 0
    csv = (tmp_path / "decoherence_design.csv").read_text().splitlines()
    assert csv[0].startswith("candidate,t_coh,round_budget,arrival_rate,zipf_exponent,storage_limit,policy")
    policies = len(design.heuristics()) + 4  # the capacity relaxation, two bounds, charged prefetch
    assert len(csv) == 1 + 2 * policies
    assert "| # | T_coh | R |" in (tmp_path / "decoherence_design.md").read_text()
    assert "wrote" in capsys.readouterr().out
