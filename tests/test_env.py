"""``ModEnHubEnv``, the single Gymnasium env: checkers, construction, determinism, pickling,
action validation, masks and ``info``."""

from __future__ import annotations

import dataclasses
import pickle
import warnings

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env as gym_check_env
from stable_baselines3.common.env_checker import check_env as sb3_check_env

from modenhub_env import PRESETS, HubConfig, ModEnHubEnv, kernels
from modenhub_env.core import INFO_COLUMNS
from modenhub_env.state import COUNTERS

ENV_ID = "modenhub_env:ModEnHub-v0"
REWARD_PARTS = ("reward_served", "reward_failed", "reward_attempts", "reward_fidelity")


def snapshot(env: ModEnHubEnv) -> dict:
    """A deep copy of every state array of the env's core."""
    out = {}
    for f in dataclasses.fields(env.core.state):
        value = getattr(env.core.state, f.name)
        out[f.name] = {k: v.copy() for k, v in value.items()} if isinstance(value, dict) else value.copy()
    return out


def assert_same_state(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for name in a:
        if isinstance(a[name], dict):
            for key in a[name]:
                np.testing.assert_array_equal(a[name][key], b[name][key], err_msg=f"{name}[{key}]")
        else:
            np.testing.assert_array_equal(a[name], b[name], err_msg=name)


def rollout(env: ModEnHubEnv, seed: int, steps: int, action_seed: int = 0):
    """Observations, rewards and flags of ``steps`` random steps, resetting at episode ends."""
    gen = np.random.default_rng(action_seed)
    obs, _ = env.reset(seed=seed)
    out = [obs.copy()]
    for _ in range(steps):
        action = gen.integers(0, env.config.k_max + 1, size=env.action_space.shape)
        obs, reward, terminated, truncated, info = env.step(action)
        out.append((obs.copy(), reward, terminated, truncated, info["served"], info["attempts"]))
        if terminated or truncated:
            obs, _ = env.reset()
            out.append(obs.copy())
    return out


def assert_same_rollout(first, second) -> None:
    assert len(first) == len(second)
    for x, y in zip(first, second, strict=True):
        if isinstance(x, np.ndarray):
            np.testing.assert_array_equal(x, y)
        else:
            np.testing.assert_array_equal(x[0], y[0])
            assert x[1:] == y[1:]


# ---------------------------------------------------------------- checkers


@pytest.mark.parametrize("preset", sorted(PRESETS))
def test_env__passes_gymnasium_check_env(preset):
    env = gym.make(ENV_ID, preset=preset, render_mode="ansi")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # any checker warning fails the test
        gym_check_env(env.unwrapped)


@pytest.mark.parametrize("preset", sorted(PRESETS))
def test_env__passes_sb3_check_env(preset):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        sb3_check_env(ModEnHubEnv(preset=preset), warn=True)


@pytest.mark.parametrize("preset", sorted(PRESETS))
def test_env_v1__passes_gymnasium_check_env_and_differs_from_v0_in_the_observation_only(preset):
    env = gym.make("modenhub_env:ModEnHub-v1", preset=preset)
    assert env.unwrapped.config == HubConfig.preset(preset, observation_version=1)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # any checker warning fails the test
        gym_check_env(env.unwrapped)
    k, m = env.unwrapped.config.request_slots, env.unwrapped.config.prefetch_slots
    assert env.observation_space.shape == (8 + 12 * k + 9 * m,)
    old = ModEnHubEnv(preset=preset)
    assert old.action_space == env.action_space
    env.reset(seed=2)
    old.reset(seed=2)
    for _ in range(20):
        action = old.action_space.sample()
        _, reward_v1, *_ = env.step(action)
        _, reward_v0, *_ = old.step(action)
        assert reward_v1 == reward_v0


def test_make_vec_v1__builds_the_native_vector_env_with_the_version_1_observation():
    envs = gym.make_vec("modenhub_env:ModEnHub-v1", num_envs=3, preset="contention", config=None)
    assert envs.unwrapped.config.observation_version == 1
    obs, _ = envs.reset(seed=0)
    assert obs.shape == (3, 8 + 12 * 8 + 9 * 2)
    with pytest.raises(ValueError, match=r"observation_version must be in \[0, 1\], got 2"):
        gym.make("modenhub_env:ModEnHub-v1", observation_version=2)


# ---------------------------------------------------------------- construction


def test_make__builds_env_with_preset_and_overrides():
    env = gym.make(ENV_ID, preset="paper", n_qpus=16)
    inner = env.unwrapped
    assert isinstance(inner, ModEnHubEnv)
    assert inner.config == HubConfig.preset("paper", n_qpus=16)
    k, m = inner.config.request_slots, inner.config.prefetch_slots
    assert env.observation_space.shape == (6 + 9 * k + 6 * m,)
    assert env.observation_space.dtype == np.float32
    np.testing.assert_array_equal(env.action_space.nvec, np.full(k + m, inner.config.k_max + 1))
    obs, _ = env.reset(seed=0)
    assert env.observation_space.contains(obs)


def test_env__keyword_overrides_apply_to_preset():
    env = ModEnHubEnv(preset="contention", n_qpus=32, w_fail=2.5, prefetch_slots=3)
    assert (env.config.n_qpus, env.config.w_fail, env.config.prefetch_slots) == (32, 2.5, 3)
    assert env.config.workload == "poisson"
    assert env.action_space.shape == (env.config.request_slots + 3,)


def test_env__accepts_a_config():
    cfg = HubConfig(n_qpus=4, request_slots=2)
    env = ModEnHubEnv(config=cfg, k_max=5)
    assert env.config == cfg.replace(k_max=5)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"config": HubConfig(), "preset": "paper"}, "either config or preset"),
        ({"preset": "nope"}, "preset must be one of"),
        ({"n_qpus": 0}, "n_qpus"),
        ({"render_mode": "human"}, "render_mode"),
        ({"config": {"n_qpus": 4}}, "config must be a HubConfig"),
    ],
)
def test_env__bad_construction_raises_clear_error(kwargs, message):
    with pytest.raises(ValueError, match=message):
        ModEnHubEnv(**kwargs)


def test_env__unknown_keyword_is_a_type_error_naming_the_nearest_field():
    with pytest.raises(TypeError, match=r"unexpected keyword argument 'n_qbits' \(did you mean 'n_qpus'\?\)"):
        ModEnHubEnv(n_qbits=3)
    with pytest.raises(TypeError, match="unexpected keyword argument 'frameskip'"):
        gym.make(ENV_ID, preset="hotspot", frameskip=4)


def test_reset__options_override_config():
    env = ModEnHubEnv(preset="paper")
    obs, _ = env.reset(seed=1, options={"n_qpus": 8, "round_budget": 5})
    assert (env.config.n_qpus, env.config.round_budget) == (8, 5)
    assert env.core.config is env.config and env.core.eta.shape == (8,)
    assert env.core.state.q_deadline[0, 0] == 5
    assert env.observation_space.contains(obs)
    obs, *_ = env.step(env.action_space.sample())
    assert env.observation_space.contains(obs)


def test_reset__options_may_switch_workload():
    env = ModEnHubEnv(preset="paper")
    env.reset(seed=1, options={"workload": "poisson", "episode_rounds": 3})
    flags = [env.step(np.zeros(env.action_space.shape, dtype=np.int64))[3] for _ in range(3)]
    assert flags == [False, False, True]


@pytest.mark.parametrize("field", ["request_slots", "prefetch_slots", "k_max", "observation_version"])
def test_reset__options_that_change_spaces_raise(field):
    env = ModEnHubEnv(preset="paper")
    env.reset(seed=0)
    before = snapshot(env)
    with pytest.raises(ValueError, match=field) as err:
        env.reset(options={field: getattr(env.config, field) + 1})
    assert "spaces" in str(err.value)
    assert env.config == HubConfig.preset("paper")
    assert_same_state(before, snapshot(env))


def test_reset__options_with_same_space_fields_are_allowed():
    env = ModEnHubEnv(preset="paper")
    env.reset(seed=0, options={"k_max": env.config.k_max, "n_qpus": 4})
    assert env.config.n_qpus == 4


def test_reset__invalid_option_value_raises_naming_field():
    env = ModEnHubEnv(preset="paper")
    with pytest.raises(ValueError, match="p_bsm"):
        env.reset(options={"p_bsm": 2.0})
    with pytest.raises(TypeError, match="unexpected keyword argument 'bogus'"):
        env.reset(options={"bogus": 1})


# ---------------------------------------------------------------- determinism


@pytest.mark.parametrize("preset", sorted(PRESETS))
def test_env__same_seed_gives_identical_rollouts(preset):
    kwargs = {"episode_requests": 6} if preset == "paper" else {"episode_rounds": 15}
    first = rollout(ModEnHubEnv(preset=preset, **kwargs), seed=42, steps=40)
    second = rollout(ModEnHubEnv(preset=preset, **kwargs), seed=42, steps=40)
    assert_same_rollout(first, second)


@pytest.mark.parametrize("preset", sorted(PRESETS))
def test_env__different_seeds_give_different_rollouts(preset):
    first = rollout(ModEnHubEnv(preset=preset), seed=1, steps=30)
    second = rollout(ModEnHubEnv(preset=preset), seed=2, steps=30)
    with pytest.raises(AssertionError):
        assert_same_rollout(first, second)


def test_reset__reseeding_restarts_the_same_episode():
    env = ModEnHubEnv(preset="contention")
    first = rollout(env, seed=7, steps=20)
    second = rollout(env, seed=7, steps=20)
    assert_same_rollout(first, second)


def _episode_from_current_start(env: ModEnHubEnv, steps: int = 20) -> list:
    action = np.full(env.action_space.shape, 2, dtype=np.int64)
    return [(env.step(action)[0].copy()) for _ in range(steps)]


def test_reset__without_seed_starts_a_new_episode():
    env = ModEnHubEnv(preset="hotspot")
    env.reset(seed=7)
    seeded = _episode_from_current_start(env)
    env.reset()
    unseeded = _episode_from_current_start(env)
    assert not all(np.array_equal(a, b) for a, b in zip(seeded, unseeded, strict=True))
    # and the continuation itself is reproducible from the seed
    env.reset(seed=7)
    _episode_from_current_start(env)
    env.reset()
    np.testing.assert_array_equal(np.array(_episode_from_current_start(env)), np.array(unseeded))


# ---------------------------------------------------------------- memory and pickling


def test_step__observations_do_not_share_memory():
    env = ModEnHubEnv(preset="contention")
    obs0, _ = env.reset(seed=3)
    action = np.ones(env.action_space.shape, dtype=np.int64)
    obs1, *_, info1 = env.step(action)
    obs2, *_, info2 = env.step(action)
    assert not np.shares_memory(obs0, obs1) and not np.shares_memory(obs1, obs2)
    assert not np.shares_memory(info1["latency_hist"], info2["latency_hist"])


def test_step__writing_to_a_returned_observation_does_not_change_the_env():
    action = np.full((8 + 2,), 2, dtype=np.int64)
    clean, dirty = ModEnHubEnv(preset="contention"), ModEnHubEnv(preset="contention")
    clean.reset(seed=5)
    obs, _ = dirty.reset(seed=5)
    obs[:] = 0.5
    for _ in range(10):
        a, *rest_a = clean.step(action)
        b, *rest_b = dirty.step(action)
        b_copy = b.copy()
        b[:] = -1.0
        np.testing.assert_array_equal(a, b_copy)
        assert rest_a[:3] == rest_b[:3]


@pytest.mark.parametrize("preset", sorted(PRESETS))
def test_env__pickles_and_continues_identically(preset):
    env = ModEnHubEnv(preset=preset)
    env.reset(seed=11)
    gen = np.random.default_rng(0)
    for _ in range(5):
        env.step(gen.integers(0, env.config.k_max + 1, size=env.action_space.shape))
    clone = pickle.loads(pickle.dumps(env))
    assert clone.config == env.config
    assert_same_state(snapshot(env), snapshot(clone))
    for _ in range(20):
        action = gen.integers(0, env.config.k_max + 1, size=env.action_space.shape)
        a, b = env.step(action), clone.step(action)
        np.testing.assert_array_equal(a[0], b[0])
        assert a[1:4] == b[1:4]
        if a[2] or a[3]:
            env.reset()
            clone.reset()


# ---------------------------------------------------------------- actions


def _invalid_actions(env: ModEnHubEnv):
    n = env.action_space.shape[0]
    k_max = env.config.k_max
    return [
        (np.zeros(n + 1, dtype=np.int64), "shape"),
        (np.zeros((1, n), dtype=np.int64), "shape"),
        (np.zeros(n, dtype=np.float32), "integers"),
        (np.full(n, 1.0), "integers"),
        (np.array([-1] + [0] * (n - 1)), r"out of range.*\[0, k_max=12\]"),
        (np.array([0] * (n - 1) + [k_max + 1]), r"action\[3\] = 13 is out of range"),
        ("two", "shape"),
    ]


@pytest.mark.parametrize("case", range(7))
def test_step__invalid_action_raises_and_leaves_env_usable(case):
    env, twin = ModEnHubEnv(preset="paper", n_qpus=8), ModEnHubEnv(preset="paper", n_qpus=8)
    env.reset(seed=9)
    twin.reset(seed=9)
    action, message = _invalid_actions(env)[case]
    before = snapshot(env)
    with pytest.raises(ValueError, match=message):
        env.step(action)
    assert_same_state(before, snapshot(env))
    valid = np.array([3, 0, 0, 0])
    a, b = env.step(valid), twin.step(valid)
    np.testing.assert_array_equal(a[0], b[0])
    assert a[1:4] == b[1:4]


def test_step__accepts_a_list_and_sampled_actions():
    env = ModEnHubEnv(preset="hotspot")
    env.reset(seed=0)
    env.step([1] * env.action_space.shape[0])
    env.action_space.seed(0)
    obs, *_ = env.step(env.action_space.sample())
    assert env.observation_space.contains(obs)


def test_action_masks__shape_and_dtype():
    env = ModEnHubEnv(preset="decoherence")
    env.reset(seed=0)
    cfg = env.config
    mask = env.action_masks()
    assert mask.shape == ((cfg.request_slots + cfg.prefetch_slots) * (cfg.k_max + 1),)
    assert mask.dtype == bool
    per_slot = mask.reshape(-1, cfg.k_max + 1)
    assert np.all(per_slot[:, 0])  # zero attempts is always allowed
    # allowed values of a slot are 0..limit, a prefix
    limits = per_slot.sum(axis=1) - 1
    np.testing.assert_array_equal(per_slot, np.arange(cfg.k_max + 1)[None, :] <= limits[:, None])


@pytest.mark.parametrize("preset", sorted(PRESETS))
def test_action_masks__masked_actions_are_never_clipped_without_capacity_limits(preset):
    env = ModEnHubEnv(preset=preset, max_attempts_per_round=None, comm_qubits_per_qpu=None)
    env.reset(seed=4)
    gen = np.random.default_rng(4)
    cfg = env.config
    for _ in range(60):
        per_slot = env.action_masks().reshape(-1, cfg.k_max + 1)
        limits = per_slot.sum(axis=1) - 1
        action = np.floor(gen.random(limits.shape) * (limits + 1)).astype(np.int64)
        _, _, terminated, truncated, info = env.step(action)
        assert info["clipped_attempts"] == 0
        assert info["attempts"] + info["prefetch_attempts"] == action.sum()
        if terminated or truncated:
            env.reset()


def test_action_masks__actions_beyond_masks_are_clipped_and_counted():
    env = ModEnHubEnv(preset="paper")
    env.reset(seed=0)
    action = np.full(env.action_space.shape, env.config.k_max)  # slots 1-3 are empty
    _, _, _, _, info = env.step(action)
    assert info["clipped_attempts"] == 3 * env.config.k_max
    assert info["attempts"] == env.config.k_max


# ---------------------------------------------------------------- info and episode end


def test_step__info_has_counters_and_reward_components():
    env = ModEnHubEnv(preset="contention", w_fail=1.0, w_attempt=0.1)
    env.reset(seed=2)
    gen = np.random.default_rng(2)
    seen_served = False
    for _ in range(40):
        _, reward, _, _, info = env.step(gen.integers(0, 4, size=env.action_space.shape))
        # Every out column of the kernels, each once: nothing more, nothing less.
        assert sorted(info) == sorted(INFO_COLUMNS + ("latency_hist",))
        assert len(INFO_COLUMNS) == kernels.OUT_WIDTH - kernels.O_COUNTERS
        for name in COUNTERS + REWARD_PARTS + ("ebit_fidelity", "gate_fidelity", "round", "pending", "cache_fill"):
            assert isinstance(info[name], float), name
        assert reward == pytest.approx(sum(info[name] for name in REWARD_PARTS))
        assert reward == pytest.approx(info["served"] - info["failed"] - 0.1 * (info["attempts"] + info["prefetch_attempts"]))
        if info["served"] > 0:
            seen_served = True
            assert info["ebit_fidelity"] == pytest.approx(info["fidelity_sum"] / info["served"])
            assert info["gate_fidelity"] == pytest.approx((2 * info["ebit_fidelity"] + 1) / 3)
        else:
            assert info["gate_fidelity"] == 0.0
        assert info["latency_hist"].sum() == info["served"]
    assert seen_served


def test_step__sequential_episode_terminates_with_episode_totals():
    env = ModEnHubEnv(preset="paper", episode_requests=3)
    env.reset(seed=0)
    served, steps = 0.0, 0
    while steps < 50:
        _, _, terminated, truncated, info = env.step(np.array([1, 0, 0, 0]))
        steps += 1
        served += info["served"]
        if terminated:
            break
    assert terminated and not truncated
    episode = info["episode"]
    assert episode["served"] == served
    assert episode["served"] + episode["failed"] == 3
    assert episode["rounds"] == steps


def test_step__poisson_episode_is_truncated_at_episode_rounds():
    env = ModEnHubEnv(preset="contention", episode_rounds=4)
    env.reset(seed=0)
    flags = [env.step(np.zeros(env.action_space.shape, dtype=np.int64))[2:4] for _ in range(4)]
    assert flags == [(False, False)] * 3 + [(False, True)]


def test_reset__info_reports_state():
    env = ModEnHubEnv(preset="paper")
    _, info = env.reset(seed=0)
    assert (info["round"], info["pending"], info["cache_fill"]) == (0.0, 1.0, 0.0)


@pytest.mark.parametrize("render_mode", ["ansi", "rgb_array"])
def test_render__returns_text_or_image(render_mode):
    env = ModEnHubEnv(preset="paper", render_mode=render_mode)
    env.reset(seed=0)
    env.step(np.array([1, 0, 0, 0]))
    frame = env.render()
    if render_mode == "ansi":
        assert isinstance(frame, str) and "round 1" in frame
    else:
        assert isinstance(frame, np.ndarray) and frame.ndim == 3 and frame.dtype == np.uint8


def test_env__step_before_reset_raises_and_changes_nothing():
    env = ModEnHubEnv(preset="contention")
    before = snapshot(env)
    with pytest.raises(gym.error.ResetNeeded, match="reset"):
        env.step(env.action_space.sample())
    assert_same_state(before, snapshot(env))
    env.reset(seed=0)
    env.step(np.zeros(env.action_space.shape, dtype=np.int64))
