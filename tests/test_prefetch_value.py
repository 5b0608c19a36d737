"""The prefetch-value scheduler (``agents.heuristics.PrefetchValuePolicy``, its kernel in
``modenhub_env.kernels``): its table, the pairs' popularity it reads from the config and
its choices against numbers worked out by hand, and its runs in the env."""

from __future__ import annotations

import math
import re

import numpy as np
import pytest

from agents import PrefetchValuePolicy, SingleRequestDPPolicy, make_policy
from agents.heuristics import ranked_pairs, worth_table
from modenhub_env.config import HubConfig
from modenhub_env.observation import feature_names
from modenhub_env.vector_env import ModEnHubVectorEnv
from train import prefetch_value
from train.rollout import run_episodes

LOSSLESS = {"p_bsm": 0.5, "eta_c": 1.0, "eta_d": 1.0, "alpha_db_per_km": 0.0, "switch_loss_db": 0.0}
# One pair (N = 2, p = 0.5) asked for 0.5 times a round; one round to serve a request.
ONE_PAIR = HubConfig(n_qpus=2, workload="poisson", arrival_rate=0.5, episode_rounds=10, round_budget=1, k_max=2,
                     w_attempt=0.1, w_fail=1.0, request_slots=1, prefetch_slots=1, cache_per_pair=2, **LOSSLESS)
# P(a request within 1 round) = 1 - exp(-0.5) = 0.3934693, within 2: 1 - exp(-1) = 0.6321206;
# P(2 requests within 1 round) = 1 - 1.5 exp(-0.5) = 0.0902040, within 2: 1 - 2 exp(-1) = 0.2642411.
WITHIN_1, WITHIN_2, TWO_WITHIN_1, TWO_WITHIN_2 = 0.3934693402873666, 0.6321205588285577, 0.0902040104, 0.2642411177


def candidate(config: HubConfig, p: float, since: int, cached: int, limit: int) -> np.ndarray:
    """An observation with no request and one prefetch candidate."""
    names = feature_names(config.request_slots, config.prefetch_slots, config.observation_version)
    obs = np.zeros(len(names), dtype=np.float32)
    for feature, value in (("present", 1.0), ("p_pair", p), ("cached", cached / config.cache_per_pair),
                           ("recency", 1.0 / (1.0 + since)), ("attempt_limit", limit / config.k_max)):
        obs[names.index(f"prefetch[0].{feature}")] = value
    return obs


def test_worth_table__one_pair_without_decay_is_the_chance_of_a_request_in_time():
    classes, table = worth_table(ONE_PAIR, 2, 4, 64)
    assert classes.tolist() == [0.5]
    assert table.shape == (4, 2, 2, 2)  # rows by rounds since, p_ab classes and any, ebits held, (A, B)
    for since in range(4):
        for column in range(2):
            # no decay: a use is worth 1 whenever it comes, so A = B = P(the (c+1)-th request in 2 rounds)
            np.testing.assert_allclose(table[since, column, 0], [WITHIN_2, WITHIN_2], rtol=1e-12)
            np.testing.assert_allclose(table[since, column, 1], [TWO_WITHIN_2, TWO_WITHIN_2], rtol=1e-9)


def test_worth_table__a_use_is_worth_less_the_longer_the_ebit_waited():
    config = ONE_PAIR.replace(t_coh=10.0, w_fidelity=2.0, f0=0.97, f_min=0.5)
    _, table = worth_table(config, 2, 1, 64)
    # F(1) = 0.25 + 0.72 exp(-0.1) = 0.9014829, g(1) = 1 - 2 (0.97 - F(1)) = 0.8629659;
    # F(2) = 0.25 + 0.72 exp(-0.2) = 0.8394862, g(2) = 0.7389723
    # A = 0.3934693 g(1) + (0.6321206 - 0.3934693) g(2) = 0.5159073; B = 0.6321206
    np.testing.assert_allclose(table[0, 0, 0], [0.515907252417877, WITHIN_2], rtol=1e-12)
    # the second stored ebit: A = 0.0902040 g(1) + (0.2642411 - 0.0902040) g(2) = 0.2064516
    np.testing.assert_allclose(table[0, 0, 1], [0.20645158212185644, TWO_WITHIN_2], rtol=1e-9)


# Three pairs on spokes of 0, 1, 2 km, halving per km: p = 0.5 (0, 1), 0.25 (0, 2), 0.125 (1, 2).
# Zipf 1 over 3 ranks at 1.1 a round: 0.6, 0.3, 0.2; the ranking (seed 0) is (1, 2), (0, 1), (0, 2).
THREE_PAIRS = HubConfig(n_qpus=3, fibre_km=0.0, fibre_km_max=2.0, p_bsm=1.0, eta_c=1.0, eta_d=1.0,
                        alpha_db_per_km=10 * math.log10(2), switch_loss_db=0.0, workload="poisson",
                        arrival_rate=1.1, zipf_exponent=1.0, episode_rounds=10, request_slots=1, prefetch_slots=1,
                        cache_per_pair=1, round_budget=1, k_max=2, w_fail=1.0, w_attempt=0.06)


def test_worth_table__p_ab_tells_the_pair_apart_and_recency_weighs_the_rest():
    config = THREE_PAIRS
    classes, table = worth_table(config, 1, 3, 64)
    assert classes.tolist() == [0.125, 0.25, 0.5]
    # one round ahead, no decay: B = 1 - exp(-rate): 0.4511884 (0.6), 0.2591818 (0.3), 0.1812692 (0.2)
    for since in range(3):
        np.testing.assert_allclose(table[since, :3, 0, 1], [0.4511883639059736, 0.18126924692201818,
                                                            0.2591817793182821], rtol=1e-12)
    # any pair: ranks weighed by rate exp(-rate s): s = 0: (0.6 B1 + 0.3 B2 + 0.2 B3) / 1.1 = 0.3497467
    np.testing.assert_allclose(table[0, 3, 0, 1], 0.34974672865770223, rtol=1e-12)
    # s = 2: weights 0.6 exp(-1.2), 0.3 exp(-0.6), 0.2 exp(-0.4): 0.3097706, the hot pair less likely
    np.testing.assert_allclose(table[2, 3, 0, 1], 0.3097706011554117, rtol=1e-12)
    # more distinct values of p_ab than the policy tells apart: only the column of any pair
    classes, table = worth_table(config, 1, 3, 2)
    assert classes.size == 0 and table.shape == (3, 1, 1, 2)
    np.testing.assert_allclose(table[0, 0, 0, 1], 0.34974672865770223, rtol=1e-12)


def test_worth_table__a_third_stored_ebit_waits_for_a_third_request():
    _, table = worth_table(ONE_PAIR.replace(cache_per_pair=3), 2, 1, 64)
    # P(3 requests within 2 rounds) = 1 - exp(-1) (1 + 1 + 1/2) = 0.0803014; no decay: A = B
    np.testing.assert_allclose(table[0, 0, 2], [0.08030139707139416, 0.08030139707139416], rtol=1e-9)
    _, table = worth_table(ONE_PAIR.replace(cache_per_pair=3), 1, 1, 64)
    # within 1 round: 1 - exp(-0.5) (1 + 0.5 + 0.125) = 0.0143877
    np.testing.assert_allclose(table[0, 0, 2], [0.014387677966970713, 0.014387677966970713], rtol=1e-9)


def test_worth_table__tells_apart_as_many_values_of_p_ab_as_allowed():
    classes, table = worth_table(THREE_PAIRS, 1, 2, 3)
    assert classes.tolist() == [0.125, 0.25, 0.5] and table.shape == (2, 4, 1, 2)
    np.testing.assert_allclose(table[0, :, 0, 1], [0.4511883639059736, 0.18126924692201818,
                                                   0.2591817793182821, 0.34974672865770223], rtol=1e-12)


def test_ranked_pairs__zipf_weights_split_the_arrival_rate_in_the_configs_ranking():
    p_shown, rates = ranked_pairs(THREE_PAIRS)
    # ranks (1, 2), (0, 1), (0, 2); 1.1 split as 1 : 1/2 : 1/3
    assert p_shown.tolist() == [0.125, 0.5, 0.25]
    np.testing.assert_allclose(rates, [0.6, 0.3, 0.2], rtol=1e-12)


def test_ranked_pairs__without_zipf_the_arrival_rate_is_split_evenly_in_pair_order():
    p_shown, rates = ranked_pairs(THREE_PAIRS.replace(zipf_exponent=0.0, arrival_rate=0.6))
    assert p_shown.tolist() == [0.5, 0.25, 0.125]  # (0, 1), (0, 2), (1, 2)
    np.testing.assert_allclose(rates, [0.2, 0.2, 0.2], rtol=1e-12)


def test_ranked_pairs__other_workloads_one_request_a_round_split_evenly():
    # the sequential workload ignores arrival_rate and zipf_exponent
    p_shown, rates = ranked_pairs(THREE_PAIRS.replace(workload="sequential", arrival_rate=0.5))
    assert p_shown.tolist() == [0.5, 0.25, 0.125]
    np.testing.assert_allclose(rates, [1 / 3, 1 / 3, 1 / 3], rtol=1e-12)


def test_ranked_pairs__p_ab_as_the_observation_shows_it_in_float32():
    p_shown, _ = ranked_pairs(THREE_PAIRS.replace(p_bsm=0.3))
    # p = p_bsm / 2 halved per km: 0.0375, 0.15, 0.075 in rank order, each rounded to float32
    assert p_shown.tolist() == [0.03750000149011612, 0.15000000596046448, 0.07500000298023224]
    assert p_shown.dtype == np.float64


@pytest.mark.parametrize(("w_attempt", "cached", "chosen"), [
    # V(1) = max(-1, 0.5 - 0.5 - 0.1, 0.75 - 0.25 - 0.2) = 0.3; W = 0.6321206 (1 - 0.3) = 0.4424844:
    # one attempt 0.5 W - 0.1 = 0.1212, two 0.75 W - 0.2 = 0.1319
    (0.1, 0, 2),
    # V(1) = max(-1, -0.15, 0.75 - 0.25 - 0.3 = 0.2); W = 0.6321206 * 0.8 = 0.5056964:
    # one 0.5 W - 0.15 = 0.1028, two 0.75 W - 0.3 = 0.0793
    (0.15, 0, 1),
    # the pair holds an ebit: the next is used by a second request, W = 0.2642411 * 0.7 = 0.1849688:
    # one 0.5 W - 0.1 < 0, two 0.75 W - 0.2 < 0
    (0.1, 1, 0),
])
def test_prefetch_value__chooses_the_attempts_of_the_largest_positive_expected_value(w_attempt, cached, chosen):
    config = ONE_PAIR.replace(w_attempt=w_attempt)
    policy = PrefetchValuePolicy(config, horizon=2)
    actions, _ = policy.predict(candidate(config, 0.5, since=0, cached=cached, limit=2))
    assert actions.tolist() == [0, chosen]


def test_prefetch_value__the_hot_pair_is_worth_it_and_the_cold_one_not():
    policy = PrefetchValuePolicy(THREE_PAIRS, horizon=1)
    # p = 0.125, the pair of rate 0.6: V(1) = 0.234375 - 0.765625 - 0.12 = -0.65125 (2 attempts);
    # W = 0.4511884 * 1.65125 = 0.7450248: one 0.125 W - 0.06 = 0.0331, two 0.234375 W - 0.12 = 0.0546
    assert policy.predict(candidate(THREE_PAIRS, 0.125, since=0, cached=0, limit=2))[0].tolist() == [0, 2]
    # p = 0.25, the pair of rate 0.2: V(1) = -0.245; W = 0.1812692 * 1.245 = 0.2256802: one -0.0036,
    # two -0.0213 (as any pair, W would be 0.3497467 * 1.245 and two attempts would pay)
    assert policy.predict(candidate(THREE_PAIRS, 0.25, since=0, cached=0, limit=2))[0].tolist() == [0, 0]


def test_prefetch_value__limit_and_an_unknown_p_ab():
    policy = PrefetchValuePolicy(ONE_PAIR, horizon=2)
    assert policy.predict(candidate(ONE_PAIR, 0.5, since=0, cached=0, limit=1))[0].tolist() == [0, 1]
    assert policy.predict(candidate(ONE_PAIR, 0.5, since=0, cached=0, limit=0))[0].tolist() == [0, 0]
    # a p_ab no pair has reads the column of any pair (here the same pair): still 2 attempts at p = 0.49
    # (V(1) = max(-1, 0.49 - 0.51 - 0.1, 0.7399 - 0.2601 - 0.2 = 0.2798); W = 0.6321206 * 0.7202 = 0.455253;
    # one: 0.49 W - 0.1 = 0.1231, two: 0.7399 W - 0.2 = 0.1368)
    assert policy.predict(candidate(ONE_PAIR, 0.49, since=0, cached=0, limit=2))[0].tolist() == [0, 2]


def test_prefetch_value__rejects_a_bad_horizon_and_caps_it_at_the_storage_limit():
    for bad in (0, 4097, 2.5, True):
        with pytest.raises(ValueError, match="horizon must be an integer in"):
            PrefetchValuePolicy(ONE_PAIR, horizon=bad)
    assert PrefetchValuePolicy(HubConfig.preset("decoherence"), horizon=32).horizon == 8  # the storage limit
    assert PrefetchValuePolicy(HubConfig.preset("hotspot")).horizon == 8  # no decay: the default
    assert PrefetchValuePolicy(ONE_PAIR, horizon=4096).horizon == 4096  # no decay: the largest allowed
    with pytest.raises(ValueError, match=re.escape("horizon must be an integer in [1, 4096] rounds, got 4097")):
        PrefetchValuePolicy(ONE_PAIR, horizon=4097)


def test_prefetch_value__requests_as_the_dp_prefetch_within_limits_and_capacity():
    config = HubConfig.preset("decoherence", episode_rounds=40)
    env = ModEnHubVectorEnv(8, config=config)
    obs, _ = env.reset(seed=2)
    policy, dp = make_policy("prefetch-value", config), SingleRequestDPPolicy(config)
    k, prefetched = config.request_slots, 0
    for _ in range(40):
        actions, _ = policy.predict(obs)
        np.testing.assert_array_equal(actions[:, :k], dp.predict(obs)[0][:, :k])
        assert (actions <= env.core.slot_limits()).all()
        assert (actions.sum(axis=1) <= config.max_attempts_per_round).all()
        prefetched += int(actions[:, k:].sum())
        obs, _, _, _, info = env.step(actions)
        assert (info["clipped_attempts"] == 0).all()
    assert prefetched > 0


def test_prefetch_value__leads_the_dp_on_the_decoherence_preset():
    """On seeds no evaluation uses: more cache hits for a little prefetch, and a better return."""
    config = HubConfig.preset("decoherence")
    ours = run_episodes(config, make_policy("prefetch-value", config), 60, seed=40_000)
    dp = run_episodes(config, SingleRequestDPPolicy(config), 60, seed=40_000)
    assert ours["cache_hits"].mean() > dp["cache_hits"].mean() + 2
    assert 0 < ours["prefetch_attempts"].mean() < 0.2 * ours["attempts"].mean()
    assert (ours.returns - dp.returns).mean() > 0


def test_prefetch_value_script__writes_paired_leads(tmp_path):
    assert prefetch_value.main(["--presets", "decoherence", "--episodes", "4", "--out", str(tmp_path),
                                "--no-progress"]) == 0
    rows = (tmp_path / "prefetch_value.csv").read_text().splitlines()
    assert rows[0].startswith("preset,policy,episodes,reward")
    ours = next(row for row in rows if ",prefetch-value," in row)
    assert ours.split(",")[6] == "0"  # its lead over itself
    with pytest.raises(SystemExit):
        prefetch_value.main(["--presets", "decoherense", "--out", str(tmp_path)])
