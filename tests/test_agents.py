"""The handcrafted policies: decisions on hand-built observations, and runs in the env."""

from __future__ import annotations

import math
import warnings
from collections import defaultdict

import gymnasium as gym
import numpy as np
import pytest

import agents
import modenhub_env  # noqa: F401  (registers ModEnHub-v0)
from agents import (
    POLICIES,
    DeadlinePolicy,
    LogParallelPolicy,
    RandomPolicy,
    SequentialPolicy,
    SingleRequestDPPolicy,
    attempts_for_target,
    make_policy,
    parse_observation,
    registry,
)
from agents.base import grant_in_order
from modenhub_env import HubConfig, HubCore, physics
from modenhub_env.observation import feature_names, observation_size
from modenhub_env.state import COUNTERS

ENV_ID = "modenhub_env:ModEnHub-v0"
PRESET_NAMES = ("paper", "contention", "decoherence", "hotspot")
HEURISTICS = ("sequential", "log-parallel", "deadline", "single-request-dp", "critical-path")


def crafted(config: HubConfig, requests=(), prefetch=(), batch: int | None = None) -> np.ndarray:
    """An observation in the documented layout: ``requests`` and ``prefetch`` are dicts of
    unscaled features per slot (``p``, ``slack`` [rounds], ``limit`` [attempts],
    ``from_cache``, ``cached`` [ebits]); a limit defaults to ``min(k_max, S, c_i)``."""
    names = feature_names(config.request_slots, config.prefetch_slots)
    obs = np.zeros(len(names), dtype=np.float32)
    cap = min(x for x in (config.k_max, config.max_attempts_per_round, config.comm_qubits_per_qpu) if x)

    def put(slot: str, feature: str, value: float) -> None:
        obs[names.index(f"{slot}.{feature}")] = value

    for i, req in enumerate(requests):
        slot = f"request[{i}]"
        from_cache = req.get("from_cache", False)
        put(slot, "present", 1.0)
        put(slot, "p_pair", req["p"])
        put(slot, "slack", req.get("slack", config.round_budget) / config.round_budget)
        put(slot, "from_cache", float(from_cache))
        put(slot, "attempt_limit", req.get("limit", 0 if from_cache else cap) / config.k_max)
    for j, pre in enumerate(prefetch):
        slot = f"prefetch[{j}]"
        put(slot, "present", 1.0)
        put(slot, "p_pair", pre["p"])
        put(slot, "cached", pre.get("cached", 0) / config.cache_per_pair)
        put(slot, "attempt_limit", pre.get("limit", cap) / config.k_max)
    return obs if batch is None else np.repeat(obs[None, :], batch, axis=0)


def rollout(policy, config: HubConfig | None = None, steps: int = 64, num_envs: int = 4,
            seed: int = 0, preset: str | None = None, masks: bool = False) -> dict[str, float]:
    """Run ``policy`` in the native vector env; counters summed over envs and rounds.
    Every action is checked against the action space (and against the masks)."""
    kwargs = {"preset": preset} if preset is not None else {"config": config}
    env = gym.make_vec(ENV_ID, num_envs=num_envs, **kwargs)
    k_max = env.unwrapped.config.k_max
    obs, _ = env.reset(seed=seed)
    totals: dict[str, float] = defaultdict(float)
    for _ in range(steps):
        mask = env.unwrapped.action_masks()
        actions, _ = policy.predict(obs, action_masks=mask) if masks else policy.predict(obs)
        assert actions.dtype == np.int64 and env.action_space.contains(actions)
        chosen = np.take_along_axis(mask.reshape(num_envs, -1, k_max + 1), actions[:, :, None], axis=2)
        totals["outside_mask"] += float((~chosen).sum())
        obs, _, _, _, info = env.step(actions)
        for name in COUNTERS:
            totals[name] += float(info[name].sum())
    env.close()
    return totals


# ------------------------------------------------------------------ observation view


def test_parse_observation__reads_every_slot_feature_by_name():
    cfg = HubConfig.preset("hotspot")
    names = feature_names(cfg.request_slots, cfg.prefetch_slots)
    obs = crafted(cfg, [{"p": 0.3, "slack": 1, "limit": 5}, {"p": 0.2, "from_cache": True}],
                  [{"p": 0.1, "cached": 1, "limit": 3}], batch=2)
    obs[1, names.index("request[1].from_cache")] = 0.0
    view = parse_observation(obs, cfg, cfg.round_budget)
    np.testing.assert_allclose(view.request_p[0, :3], [0.3, 0.2, 0.0], rtol=1e-6)
    np.testing.assert_array_equal(view.request_slack[0, :3], [1, cfg.round_budget, 0])
    np.testing.assert_array_equal(view.request_limit[0, :3], [5, 0, 0])
    np.testing.assert_array_equal(view.request_from_cache[:, 1], [True, False])
    np.testing.assert_array_equal(view.prefetch_present[0], [True, False, False, False])
    np.testing.assert_array_equal(view.prefetch_limit[0, :2], [3, 0])
    np.testing.assert_allclose(view.prefetch_cached[0, 0], 1 / cfg.cache_per_pair)


@pytest.mark.parametrize("preset", ["hotspot", "trace"])
def test_parse_observation__recovers_the_cores_slots_from_env_observations(preset, tmp_path):
    if preset == "trace":  # budgets differ per request: the slack's scale is the largest
        rows = ["round,a,b,budget"] + [f"{r},{r % 3},{r % 3 + 1},{1 + r % 5}" for r in range(40)]
        (tmp_path / "trace.csv").write_text("\n".join(rows) + "\n")
        cfg = HubConfig(n_qpus=4, workload="trace", trace_path=str(tmp_path / "trace.csv"), request_slots=3)
    else:
        cfg = HubConfig.preset(preset)
    env = gym.make_vec(ENV_ID, num_envs=4, config=cfg)
    obs, _ = env.reset(seed=9)
    policy = LogParallelPolicy(cfg)
    core = env.unwrapped.core
    for _ in range(12):
        view = parse_observation(obs, cfg, policy.slack_scale)
        a, b, present = core.slot_pairs()
        k = cfg.request_slots
        v = core.visible
        np.testing.assert_array_equal(view.request_present, present[:, :k])
        np.testing.assert_allclose(view.request_p, np.where(present[:, :k], cfg.p_pair(a, b)[:, :k], 0), rtol=1e-6)
        slack = np.where(present[:, :v], core.state.q_deadline[:, :v] - core.state.round[:, None], 0)
        np.testing.assert_array_equal(view.request_slack[:, :v], slack)
        limits = np.concatenate([view.request_limit, view.prefetch_limit], axis=1)
        np.testing.assert_array_equal(limits, core.slot_limits())
        obs, *_ = env.step(policy.predict(obs)[0])


def test_policy__rejects_an_observation_of_the_wrong_size():
    cfg = HubConfig()
    with pytest.raises(ValueError, match=str(observation_size(cfg.request_slots, cfg.prefetch_slots))):
        LogParallelPolicy(cfg).predict(np.zeros((2, 5), dtype=np.float32))


def test_grant_in_order__serves_the_order_until_capacity_is_spent():
    wanted = np.array([[3, 3, 3, 3], [5, 0, 2, 4]])
    order = np.array([[0, 1, 2, 3], [3, 2, 1, 0]])
    np.testing.assert_array_equal(grant_in_order(wanted, order, 7), [[3, 3, 1, 0], [1, 0, 2, 4]])
    np.testing.assert_array_equal(grant_in_order(wanted, order, None), wanted)


# ------------------------------------------------------------------ log-parallel


def test_log_parallel__launches_k_attempts_per_request_when_capacity_allows():
    cfg = HubConfig(n_qpus=8)  # k(8) = 3, S unlimited
    obs = crafted(cfg, [{"p": 0.2}, {"p": 0.1, "slack": 1}, {"p": 0.3}])
    actions, _ = LogParallelPolicy(cfg).predict(obs)
    assert cfg.k_parallel == 3
    np.testing.assert_array_equal(actions, [3, 3, 3, 0])


def test_log_parallel__gives_zero_to_a_slot_served_from_the_cache():
    cfg = HubConfig(n_qpus=32)
    # The env's mask allows 0 only; the flag alone must suffice as well.
    obs = crafted(cfg, [{"p": 0.2, "from_cache": True}, {"p": 0.2, "from_cache": True, "limit": 12}, {"p": 0.2}])
    actions, _ = LogParallelPolicy(cfg).predict(obs)
    np.testing.assert_array_equal(actions, [0, 0, cfg.k_parallel, 0])


def test_log_parallel__fills_fifo_within_hub_capacity():
    cfg = HubConfig(n_qpus=8, max_attempts_per_round=7)
    obs = crafted(cfg, [{"p": 0.2, "slack": 3}, {"p": 0.2, "slack": 2}, {"p": 0.2, "slack": 1}, {"p": 0.2}])
    actions, _ = LogParallelPolicy(cfg).predict(obs)
    np.testing.assert_array_equal(actions, [3, 3, 1, 0])


def test_log_parallel__stays_within_the_slot_limit():
    cfg = HubConfig(n_qpus=64, comm_qubits_per_qpu=2)
    actions, _ = LogParallelPolicy(cfg).predict(crafted(cfg, [{"p": 0.2}, {"p": 0.2, "limit": 1}]))
    np.testing.assert_array_equal(actions, [2, 1, 0, 0])


# ------------------------------------------------------------------ sequential


def test_sequential__gives_one_attempt_to_the_oldest_request_only():
    cfg = HubConfig.preset("hotspot")
    obs = crafted(cfg, [{"p": 0.2, "slack": 2}, {"p": 0.3, "slack": 1}, {"p": 0.1}], [{"p": 0.2}, {"p": 0.3}])
    actions, _ = SequentialPolicy(cfg).predict(obs)
    np.testing.assert_array_equal(actions, [1] + [0] * (cfg.request_slots + cfg.prefetch_slots - 1))


def test_sequential__skips_a_request_served_from_the_cache():
    cfg = HubConfig.preset("hotspot")
    obs = crafted(cfg, [{"p": 0.2, "from_cache": True}, {"p": 0.3}, {"p": 0.1}])
    actions, _ = SequentialPolicy(cfg).predict(obs)
    assert actions.tolist() == [0, 1] + [0] * (len(actions) - 2)


def test_sequential__never_prefetches_or_caches_in_the_env():
    totals = rollout(SequentialPolicy(HubConfig.preset("hotspot")), preset="hotspot", steps=128)
    assert totals["attempts"] > 0
    assert totals["prefetch_attempts"] == 0 and totals["cached"] == 0 and totals["cache_hits"] == 0


# ------------------------------------------------------------------ deadline


def test_attempts_for_target__is_the_smallest_n_reaching_the_target():
    p = np.array([0.05, 0.2, 0.2, 0.6, 0.999])
    slack = np.array([3, 3, 1, 2, 1])
    n = attempts_for_target(p, slack, 0.9)
    reaches = 1.0 - (1.0 - p) ** (n * slack) >= 0.9
    one_less = 1.0 - (1.0 - p) ** ((n - 1) * slack) >= 0.9
    assert reaches.all() and not (one_less & (n > 1)).any()
    assert n[1] == 4  # 1 - 0.8**12 = 0.93, 1 - 0.8**9 = 0.87
    np.testing.assert_array_equal(attempts_for_target(np.array([0.3, 1.0]), np.array([0, 2]), 0.9), [0, 1])


def test_deadline__serves_least_slack_first_then_likeliest():
    cfg = HubConfig(n_qpus=16, max_attempts_per_round=6, prefetch_slots=2)
    obs = crafted(cfg, [{"p": 0.2, "slack": 3}, {"p": 0.1, "slack": 1}, {"p": 0.3, "slack": 1}], [{"p": 0.2}])
    actions, _ = DeadlinePolicy(cfg, max_share=1.0).predict(obs)
    # slack 1 at p 0.3 needs ceil(log 0.1 / log 0.7) = 7 > S: it takes the whole hub.
    np.testing.assert_array_equal(actions, [0, 0, 6, 0, 0, 0])
    actions, _ = DeadlinePolicy(cfg, max_share=0.5).predict(obs)
    np.testing.assert_array_equal(actions, [0, 3, 3, 0, 0, 0])


def test_deadline__gives_the_attempts_that_reach_the_target():
    cfg = HubConfig(n_qpus=16, prefetch_slots=1)
    obs = crafted(cfg, [{"p": 0.2, "slack": 3}, {"p": 0.2, "slack": 1}, {"p": 0.9, "slack": 2}])
    actions, _ = DeadlinePolicy(cfg, target=0.9, prefetch=False).predict(obs)
    np.testing.assert_array_equal(actions, [4, 11, 1, 0, 0])


def test_deadline__prefetches_empty_pairs_with_idle_capacity_only():
    cfg = HubConfig(n_qpus=16, max_attempts_per_round=6, prefetch_slots=4, cache_per_pair=2)
    prefetch = [{"p": 0.2}, {"p": 0.2, "cached": 1}, {"p": 0.2, "limit": 0}, {"p": 0.2}]
    idle = crafted(cfg, [{"p": 0.6, "slack": 3}], prefetch)  # needs 1 attempt
    actions, _ = DeadlinePolicy(cfg, prefetch_attempts=2).predict(idle)
    np.testing.assert_array_equal(actions, [1, 0, 0, 0, 2, 0, 0, 2])
    actions, _ = DeadlinePolicy(cfg, prefetch=False).predict(idle)
    np.testing.assert_array_equal(actions[cfg.request_slots :], 0)
    busy = crafted(cfg, [{"p": 0.1, "slack": 1}, {"p": 0.1, "slack": 1}], prefetch)
    actions, _ = DeadlinePolicy(cfg, prefetch_attempts=2).predict(busy)
    np.testing.assert_array_equal(actions, [3, 3, 0, 0, 0, 0, 0, 0])


def test_deadline__skips_hopeless_requests_when_asked():
    cfg = HubConfig(n_qpus=16, k_max=4)
    obs = crafted(cfg, [{"p": 0.01, "slack": 1}, {"p": 0.3, "slack": 1}])
    kept, _ = DeadlinePolicy(cfg).predict(obs)
    skipped, _ = DeadlinePolicy(cfg, give_up_below=0.2).predict(obs)
    np.testing.assert_array_equal(kept[:2], [4, 4])
    np.testing.assert_array_equal(skipped[:2], [0, 4])


def test_deadline__never_exceeds_hub_capacity_or_slot_limits():
    cfg = HubConfig.preset("contention")
    rng = np.random.default_rng(0)
    batch = 512
    names = feature_names(cfg.request_slots, cfg.prefetch_slots)
    obs = np.zeros((batch, len(names)), dtype=np.float32)
    for i, name in enumerate(names):
        if name.endswith(".present"):
            obs[:, i] = rng.random(batch) < 0.8
        elif name.endswith(".slack"):
            obs[:, i] = rng.integers(1, cfg.round_budget + 1, batch) / cfg.round_budget
        elif name.endswith(".attempt_limit"):
            obs[:, i] = rng.integers(0, cfg.k_max + 1, batch) / cfg.k_max
        elif not name.startswith("global"):
            obs[:, i] = rng.random(batch)
    policy = DeadlinePolicy(cfg, target=0.99, max_share=1.0, prefetch_attempts=cfg.k_max)
    actions, _ = policy.predict(obs)
    limits = np.rint(obs[:, [names.index(n) for n in names if n.endswith("attempt_limit")]] * cfg.k_max)
    assert actions.sum(axis=1).max() == cfg.max_attempts_per_round  # the cap binds somewhere
    assert (actions <= limits).all()


# ------------------------------------------------------------------ random


def test_random__actions_stay_within_the_mask_with_and_without_masks():
    cfg = HubConfig.preset("decoherence")
    for masks in (True, False):
        totals = rollout(RandomPolicy(cfg, seed=1), preset="decoherence", steps=96, masks=masks)
        assert totals["outside_mask"] == 0
        assert totals["attempts"] > 0 and totals["prefetch_attempts"] > 0


def test_random__samples_only_allowed_values_of_an_irregular_mask():
    cfg = HubConfig(n_qpus=4, k_max=3)
    allowed = np.zeros((64, cfg.request_slots, cfg.k_max + 1), dtype=bool)
    allowed[:, :, [0, 2]] = True
    obs = crafted(cfg, [{"p": 0.2}] * cfg.request_slots, batch=64)
    actions, _ = RandomPolicy(cfg, seed=0).predict(obs, action_masks=allowed.reshape(64, -1))
    assert set(np.unique(actions)) == {0, 2}


def test_random__is_reproducible_from_a_seed_or_generator():
    cfg = HubConfig.preset("hotspot")
    obs = crafted(cfg, [{"p": 0.2}] * 3, [{"p": 0.1}], batch=32)
    first, _ = RandomPolicy(cfg, seed=7).predict(obs)
    second, _ = RandomPolicy(cfg, rng=np.random.default_rng(7)).predict(obs)
    other, _ = RandomPolicy(cfg, seed=8).predict(obs)
    np.testing.assert_array_equal(first, second)
    assert not np.array_equal(first, other)
    with pytest.raises(ValueError, match="rng or seed"):
        RandomPolicy(cfg, rng=np.random.default_rng(0), seed=0)


# ------------------------------------------------------------------ every policy in the env


@pytest.mark.parametrize("name", sorted(POLICIES))
def test_policies__batched_and_unbatched_predictions_agree(name):
    cfg = HubConfig.preset("hotspot")
    env = gym.make_vec(ENV_ID, num_envs=6, config=cfg)
    obs, _ = env.reset(seed=3)
    for _ in range(5):
        obs, *_ = env.step(LogParallelPolicy(cfg).predict(obs)[0])
    batched, state = make_policy(name, cfg, **({"seed": 0} if name == "random" else {})).predict(obs)
    assert state is None and batched.shape == (6, cfg.request_slots + cfg.prefetch_slots)
    single = make_policy(name, cfg, **({"seed": 0} if name == "random" else {}))
    rows = np.stack([single.predict(row)[0] for row in obs])
    assert rows.shape == batched.shape and rows.dtype == np.int64
    if name != "random":
        np.testing.assert_array_equal(rows, batched)


@pytest.mark.parametrize("name", HEURISTICS)
def test_policies__masks_from_the_env_give_the_same_actions_as_the_observation(name):
    cfg = HubConfig.preset("hotspot")
    env = gym.make_vec(ENV_ID, num_envs=8, config=cfg)
    obs, _ = env.reset(seed=5)
    policy = make_policy(name, cfg)
    for _ in range(20):
        actions, _ = policy.predict(obs)
        masked, _ = policy.predict(obs, action_masks=env.unwrapped.action_masks())
        np.testing.assert_array_equal(actions, masked)
        obs, *_ = env.step(actions)


@pytest.mark.parametrize("preset,overrides", [(name, {}) for name in PRESET_NAMES]
                         + [("contention", {"comm_qubits_per_qpu": None})])
@pytest.mark.parametrize("name", sorted(POLICIES))
def test_policies__run_in_the_vector_env_of_every_preset(name, preset, overrides):
    cfg = HubConfig.preset(preset, **overrides)
    policy = make_policy(name, cfg, **({"seed": 0} if name == "random" else {}))
    totals = rollout(policy, cfg, steps=48, num_envs=4)
    assert totals["attempts"] > 0
    if name in HEURISTICS:
        assert totals["outside_mask"] == 0
        if cfg.comm_qubits_per_qpu is None:
            assert totals["clipped_attempts"] == 0


@pytest.mark.parametrize("name", sorted(set(POLICIES) - {"random"}))
def test_policies__act_alike_on_observations_of_either_version(name):
    """Version 1 keeps every feature of version 0: a handcrafted policy decides the same on
    both, step by step and in the fused Monte Carlo."""
    configs = {v: HubConfig.preset("contention", prefetch_slots=3, observation_version=v) for v in (0, 1)}
    envs = {v: gym.make_vec(ENV_ID, num_envs=6, config=cfg) for v, cfg in configs.items()}
    policies = {v: make_policy(name, cfg) for v, cfg in configs.items()}
    obs = {v: env.reset(seed=4)[0] for v, env in envs.items()}
    assert obs[1].shape[1] > obs[0].shape[1]
    launched = 0
    for _ in range(40):
        actions = {v: policies[v].predict(obs[v])[0] for v in (0, 1)}
        np.testing.assert_array_equal(actions[0], actions[1])
        steps = {v: envs[v].step(actions[v]) for v in (0, 1)}
        np.testing.assert_array_equal(steps[0][1], steps[1][1])  # the rewards
        obs = {v: steps[v][0] for v in (0, 1)}
        launched += int(actions[0].sum())
    assert launched > 0
    keys = np.arange(1, 5, dtype=np.uint64)
    returns = {v: HubCore(cfg, 4).play(policies[v].params, keys) for v, cfg in configs.items()}
    np.testing.assert_array_equal(returns[0], returns[1])
    with pytest.raises(ValueError, match="observation_version=1"):
        HubCore(configs[1], 4).play(policies[0].params, keys)


def test_policies__run_with_a_preset_name_through_make_vec():
    policy = make_policy("deadline", HubConfig.preset("contention"))
    totals = rollout(policy, preset="contention", steps=32)
    assert totals["served"] > 0


def test_log_parallel__beats_sequential_on_the_paper_preset():
    cfg = HubConfig(n_qpus=8, episode_requests=200)
    rates = {}
    for name in ("sequential", "log-parallel"):
        totals = rollout(make_policy(name, cfg), cfg, steps=300, num_envs=8, seed=11)
        rates[name] = totals["served"] / (totals["served"] + totals["failed"])
    p = float(cfg.p_pair(0, 1))
    assert abs(rates["sequential"] - physics.sequential_success(p, cfg.round_budget)) < 0.05  # ~0.50
    assert rates["log-parallel"] > 0.85  # ~0.90
    assert rates["log-parallel"] - rates["sequential"] > 0.3


# ------------------------------------------------------------------ registry


def test_make_policy__builds_every_registered_name():
    cfg = HubConfig.preset("contention")
    for name, cls in POLICIES.items():
        assert type(make_policy(name, cfg)) is cls
    assert make_policy("deadline", cfg, target=0.5).target == 0.5


def test_make_policy__unknown_name_lists_the_allowed_ones():
    with pytest.raises(ValueError, match=r"unknown policy 'greedy'.*deadline.*log-parallel.*single-request-dp"):
        make_policy("greedy", HubConfig())


def test_make_policy__the_former_dp_name_builds_the_single_request_dp_and_warns_once(monkeypatch):
    monkeypatch.setattr(registry, "_warned", set())
    with pytest.warns(DeprecationWarning, match="'dp-optimal' is deprecated, use 'single-request-dp'"):
        policy = make_policy("dp-optimal", HubConfig())
    assert type(policy) is SingleRequestDPPolicy
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a second use warns no more
        assert type(make_policy("dp-optimal", HubConfig())) is SingleRequestDPPolicy
    assert "dp-optimal" not in POLICIES  # not listed as a policy of its own


def test_agents__the_former_dp_class_name_imports_with_a_warning():
    with pytest.warns(DeprecationWarning, match="OptimalSingleRequestPolicy is deprecated; use SingleRequestDPPolicy"):
        from agents import OptimalSingleRequestPolicy
    assert OptimalSingleRequestPolicy is SingleRequestDPPolicy
    with pytest.raises(AttributeError, match="no attribute 'NoSuchPolicy'"):
        agents.NoSuchPolicy  # noqa: B018


def test_deadline__rejects_a_target_outside_the_unit_interval():
    for bad in (0.0, 1.5, -0.1, math.nan):
        with pytest.raises(ValueError, match="target"):
            DeadlinePolicy(HubConfig(), target=bad)


def test_agents_package__a_former_name_warns_at_the_users_line():
    # Not among agents/dp.py's mutation tests: mutmut wraps the mutated module's functions
    # in one more frame, which moves where a warning with a fixed stacklevel points.
    with pytest.warns(DeprecationWarning, match="OptimalSingleRequestPolicy is deprecated") as record:
        former = agents.OptimalSingleRequestPolicy
    assert former is agents.SingleRequestDPPolicy
    assert record[0].filename == __file__
