"""``ModEnHubVectorEnv``, the native Gymnasium vector env over the batched core."""

from __future__ import annotations

import pickle

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.vector import AutoresetMode, SyncVectorEnv

from modenhub_env import PRESETS, HubConfig, ModEnHubEnv, ModEnHubVectorEnv
from modenhub_env.state import COUNTERS

ENV_ID = "modenhub_env:ModEnHub-v0"
REWARD_PARTS = ("reward_served", "reward_failed", "reward_attempts", "reward_fidelity")


def random_actions(gen: np.random.Generator, venv: ModEnHubVectorEnv) -> np.ndarray:
    return gen.integers(0, venv.config.k_max + 1, size=venv.action_space.shape)


# ---------------------------------------------------------------- construction


def test_make_vec__gives_the_native_vector_env():
    venv = gym.make_vec(ENV_ID, num_envs=5, preset="paper", n_qpus=16)
    assert isinstance(venv, ModEnHubVectorEnv)
    assert venv.num_envs == 5
    assert venv.config == HubConfig.preset("paper", n_qpus=16)
    assert venv.metadata["autoreset_mode"] == AutoresetMode.SAME_STEP
    single = ModEnHubEnv(preset="paper")
    assert venv.single_observation_space == single.observation_space
    assert venv.single_action_space == single.action_space
    assert venv.observation_space.shape == (5,) + single.observation_space.shape
    assert venv.action_space.shape == (5,) + single.action_space.shape
    obs, info = venv.reset(seed=0)
    assert obs.shape == (5,) + single.observation_space.shape and obs.dtype == np.float32
    assert venv.observation_space.contains(obs)
    np.testing.assert_array_equal(info["pending"], np.ones(5))
    np.testing.assert_array_equal(info["_pending"], np.ones(5, dtype=bool))


def test_vector_env__keyword_overrides_and_config():
    venv = ModEnHubVectorEnv(3, preset="hotspot", n_qpus=8, round_budget=4)
    assert (venv.config.n_qpus, venv.config.round_budget, venv.config.zipf_exponent) == (8, 4, 1.4)
    cfg = HubConfig(n_qpus=4)
    assert ModEnHubVectorEnv(2, config=cfg).config == cfg
    with pytest.raises(ValueError, match="either config or preset"):
        ModEnHubVectorEnv(2, config=cfg, preset="paper")
    with pytest.raises(ValueError, match="batch must be a positive integer"):
        ModEnHubVectorEnv(0)


def test_reset__options_override_and_space_fields_raise():
    venv = ModEnHubVectorEnv(3, preset="contention")
    venv.reset(seed=0, options={"n_qpus": 8, "arrival_rate": 3.0})
    assert (venv.config.n_qpus, venv.config.arrival_rate) == (8, 3.0)
    assert venv.core.batch == 3 and venv.core.eta.shape == (8,)
    for field in ("request_slots", "prefetch_slots", "k_max"):
        with pytest.raises(ValueError, match=field):
            venv.reset(options={field: getattr(venv.config, field) + 1})
    assert venv.config.n_qpus == 8


def test_reset__seed_list_of_wrong_length_raises():
    venv = ModEnHubVectorEnv(3)
    with pytest.raises(ValueError, match="list of 3 seeds"):
        venv.reset(seed=[1, 2])


# ---------------------------------------------------------------- single env == vector row


@pytest.mark.parametrize(
    ("preset", "overrides"),
    [
        ("paper", {"episode_requests": 5, "n_qpus": 8}),  # terminates and autoresets
        ("contention", {"episode_rounds": 7}),  # truncates and autoresets
        ("decoherence", {"episode_rounds": 9}),
        ("hotspot", {"episode_rounds": 6}),
    ],
)
def test_vector_env__row_i_equals_single_env_seeded_s_plus_i(preset, overrides):
    batch, seed, steps = 3, 17, 30
    venv = ModEnHubVectorEnv(batch, preset=preset, **overrides)
    singles = [ModEnHubEnv(preset=preset, **overrides) for _ in range(batch)]
    v_obs, _ = venv.reset(seed=seed)
    for i, env in enumerate(singles):
        s_obs, _ = env.reset(seed=seed + i)
        np.testing.assert_array_equal(v_obs[i], s_obs)
    gen = np.random.default_rng(0)
    resets = 0
    for _ in range(steps):
        act = random_actions(gen, venv)
        v_obs, v_rew, v_term, v_trunc, v_info = venv.step(act)
        for i, env in enumerate(singles):
            s_obs, s_rew, s_term, s_trunc, s_info = env.step(act[i])
            assert (v_rew[i], v_term[i], v_trunc[i]) == (s_rew, s_term, s_trunc)
            for name in COUNTERS:
                assert v_info[name][i] == s_info[name], name
            if s_term or s_trunc:
                resets += 1
                assert v_info["_final_obs"][i]
                np.testing.assert_array_equal(v_info["final_obs"][i], s_obs)
                for name in COUNTERS:
                    assert v_info["final_info"]["episode"][name][i] == s_info["episode"][name], name
                s_obs, _ = env.reset()  # no seed: the env's next episode
            else:
                assert not v_info.get("_final_obs", np.zeros(batch, dtype=bool))[i]
            np.testing.assert_array_equal(v_obs[i], s_obs)
    assert resets >= batch  # the comparison crossed autoresets


def test_vector_env__row_equals_single_env_for_a_trace(tmp_path):
    path = tmp_path / "trace.csv"
    path.write_text("round,a,b,budget\n0,0,1,2\n1,1,2,3\n1,0,2,1\n4,0,1,2\n")
    kwargs = {"workload": "trace", "trace_path": str(path), "n_qpus": 3, "queue_capacity": 2}
    venv, single = ModEnHubVectorEnv(2, **kwargs), ModEnHubEnv(**kwargs)
    v_obs, _ = venv.reset(seed=3)
    s_obs, _ = single.reset(seed=4)
    np.testing.assert_array_equal(v_obs[1], s_obs)
    ends = 0
    for _ in range(15):
        act = np.ones(venv.action_space.shape, dtype=np.int64)
        v_obs, v_rew, v_term, _, _ = venv.step(act)
        s_obs, s_rew, s_term, s_trunc, _ = single.step(act[1])
        assert (v_rew[1], v_term[1]) == (s_rew, s_term)
        if s_term or s_trunc:
            ends += 1
            s_obs, _ = single.reset()
        np.testing.assert_array_equal(v_obs[1], s_obs)
    assert ends >= 2


def _sync_reference(batch: int, **kwargs) -> SyncVectorEnv:
    """Gymnasium's own vector env of single envs, autoresetting in the same step."""
    return SyncVectorEnv([lambda: ModEnHubEnv(**kwargs) for _ in range(batch)], autoreset_mode=AutoresetMode.SAME_STEP)


def test_vector_env__matches_gymnasium_sync_vector_env():
    kwargs = {"preset": "paper", "episode_requests": 2, "n_qpus": 4}
    ref, venv = _sync_reference(3, **kwargs), ModEnHubVectorEnv(3, **kwargs)
    np.testing.assert_array_equal(ref.reset(seed=5)[0], venv.reset(seed=5)[0])
    gen = np.random.default_rng(0)
    autoresets = 0
    for _ in range(15):
        act = random_actions(gen, venv)
        r_out, v_out = ref.step(act), venv.step(act)
        for x, y in zip(r_out[:4], v_out[:4], strict=True):
            np.testing.assert_array_equal(x, y)
        r_info, v_info = r_out[4], v_out[4]
        assert ("_final_obs" in r_info) == ("_final_obs" in v_info)
        if "_final_obs" in r_info:
            autoresets += 1
            np.testing.assert_array_equal(r_info["_final_obs"], v_info["_final_obs"])
            for i in np.flatnonzero(r_info["_final_obs"]):
                np.testing.assert_array_equal(r_info["final_obs"][i], v_info["final_obs"][i])
                for name in COUNTERS:
                    assert r_info["final_info"][name][i] == v_info["final_info"][name][i], name
                    assert r_info["final_info"]["episode"][name][i] == v_info["final_info"]["episode"][name][i]
    assert autoresets > 0


def test_step__autoreset_state_info_describes_the_new_episode():
    venv = ModEnHubVectorEnv(3, preset="paper", episode_requests=2, n_qpus=4)
    venv.reset(seed=5)
    gen = np.random.default_rng(0)
    checked = 0
    for _ in range(15):
        *_, info = venv.step(random_actions(gen, venv))
        for i in np.flatnonzero(info.get("_final_obs", np.zeros(3, dtype=bool))):
            checked += 1
            assert info["round"][i] == venv.core.state.round[i] == 0
            assert info["pending"][i] == venv.core.state.q_valid[i].sum()
            assert info["cache_fill"][i] == (venv.core.state.c_pair[i] >= 0).sum()
    assert checked > 0


def test_reset__seed_list_matches_singles():
    venv = ModEnHubVectorEnv(3, preset="contention")
    obs, _ = venv.reset(seed=[5, None, 9])
    for i, seed in ((0, 5), (2, 9)):
        single, _ = ModEnHubEnv(preset="contention").reset(seed=seed)
        np.testing.assert_array_equal(obs[i], single)


# ---------------------------------------------------------------- determinism


def _rollout(venv: ModEnHubVectorEnv, seed: int, steps: int = 25) -> list:
    gen = np.random.default_rng(1)
    obs, _ = venv.reset(seed=seed)
    out = [obs.copy()]
    for _ in range(steps):
        obs, rew, term, trunc, _ = venv.step(random_actions(gen, venv))
        out += [obs.copy(), rew.copy(), term.copy(), trunc.copy()]
    return out


@pytest.mark.parametrize("preset", sorted(PRESETS))
def test_vector_env__same_seed_identical_different_seed_differs(preset):
    kwargs = {"episode_requests": 4} if preset == "paper" else {"episode_rounds": 8}
    first = _rollout(ModEnHubVectorEnv(4, preset=preset, **kwargs), seed=3)
    second = _rollout(ModEnHubVectorEnv(4, preset=preset, **kwargs), seed=3)
    other = _rollout(ModEnHubVectorEnv(4, preset=preset, **kwargs), seed=4)
    assert all(np.array_equal(a, b) for a, b in zip(first, second, strict=True))
    assert not all(np.array_equal(a, b) for a, b in zip(first, other, strict=True))


def test_vector_env__rows_of_one_seed_differ_from_each_other():
    venv = ModEnHubVectorEnv(4, preset="contention")
    venv.reset(seed=0)
    gen = np.random.default_rng(0)
    act = np.repeat(random_actions(gen, venv)[:1], 4, axis=0)
    obs = [venv.step(act)[0] for _ in range(10)]
    trajectories = np.stack(obs, axis=1)  # (B, steps, obs)
    assert not np.array_equal(trajectories[0], trajectories[1])


# ---------------------------------------------------------------- autoreset


def test_step__same_step_autoreset_fills_final_obs_and_info():
    batch = 4
    venv = ModEnHubVectorEnv(batch, preset="paper", episode_requests=2, n_qpus=4)
    venv.reset(seed=0)
    gen = np.random.default_rng(0)
    seen_done = 0
    for _ in range(40):
        obs, rew, term, trunc, info = venv.step(random_actions(gen, venv))
        done = term | trunc
        if not done.any():
            assert "final_obs" not in info and "_final_obs" not in info
            continue
        seen_done += int(done.sum())
        np.testing.assert_array_equal(info["_final_obs"], done)
        np.testing.assert_array_equal(info["_final_info"], done)
        assert info["final_obs"].dtype == object and info["final_obs"].shape == (batch,)
        for i in range(batch):
            if done[i]:
                final = info["final_obs"][i]
                assert venv.single_observation_space.contains(final)
                assert not np.array_equal(final, obs[i])
                # the returned observation is the first of the new episode
                assert venv.core.state.round[i] == 0
                assert venv.core.state.issued[i] == 1
                episode = info["final_info"]["episode"]
                assert episode["served"][i] + episode["failed"][i] == 2
                np.testing.assert_array_equal(info["final_info"]["episode"]["_served"], done)
                np.testing.assert_array_equal(info["final_info"]["_served"], done)
            else:
                assert info["final_obs"][i] is None
                assert venv.core.state.round[i] > 0
    assert seen_done >= batch


def test_step__autoreset_episode_totals_start_from_zero():
    venv = ModEnHubVectorEnv(2, preset="contention", episode_rounds=3)
    venv.reset(seed=1)
    gen = np.random.default_rng(1)
    for _ in range(3):
        *_, info = venv.step(random_actions(gen, venv))
    assert info["_final_info"].all()
    np.testing.assert_array_equal(info["final_info"]["episode"]["rounds"], [3, 3])
    totals = venv.core.state.totals
    for name in COUNTERS:
        if name not in ("arrived", "rejected"):
            np.testing.assert_array_equal(totals[name], 0.0, err_msg=name)
    pending = venv.core.state.q_valid.sum(axis=1)
    np.testing.assert_array_equal(totals["arrived"] - totals["rejected"], pending)
    np.testing.assert_array_equal(venv.core.state.round, 0)


# ---------------------------------------------------------------- memory, pickling, actions


def test_step__observations_do_not_share_memory():
    venv = ModEnHubVectorEnv(3, preset="paper", episode_requests=2)
    obs0, _ = venv.reset(seed=0)
    act = np.ones(venv.action_space.shape, dtype=np.int64)
    previous = [obs0]
    for _ in range(8):
        obs, *_, info = venv.step(act)
        assert all(not np.shares_memory(obs, p) for p in previous)
        if "final_obs" in info:
            for final in info["final_obs"]:
                if final is not None:
                    assert not np.shares_memory(final, obs)
        previous.append(obs)


def test_vector_env__pickles_and_continues_identically():
    venv = ModEnHubVectorEnv(3, preset="decoherence", episode_rounds=10)
    venv.reset(seed=5)
    gen = np.random.default_rng(5)
    for _ in range(4):
        venv.step(random_actions(gen, venv))
    clone = pickle.loads(pickle.dumps(venv))
    for _ in range(20):  # crosses an autoreset
        act = random_actions(gen, venv)
        a, b = venv.step(act), clone.step(act)
        for x, y in zip(a[:4], b[:4], strict=True):
            np.testing.assert_array_equal(x, y)
        assert ("final_obs" in a[4]) == ("final_obs" in b[4])


@pytest.mark.parametrize(
    ("make_action", "message"),
    [
        (lambda shape: np.zeros(shape[1:], dtype=np.int64), "shape"),
        (lambda shape: np.zeros((shape[0] + 1, shape[1]), dtype=np.int64), "shape"),
        (lambda shape: np.zeros(shape, dtype=np.float64), "integers"),
        (lambda shape: np.full(shape, -2), "out of range"),
        (lambda shape: np.full(shape, 13), "out of range"),
    ],
)
def test_step__invalid_action_raises_and_leaves_env_usable(make_action, message):
    venv, twin = ModEnHubVectorEnv(2, preset="contention"), ModEnHubVectorEnv(2, preset="contention")
    venv.reset(seed=2)
    twin.reset(seed=2)
    before = {name: value.copy() for name, value in vars(venv.core.state).items() if isinstance(value, np.ndarray)}
    with pytest.raises(ValueError, match=message):
        venv.step(make_action(venv.action_space.shape))
    for name, value in before.items():
        np.testing.assert_array_equal(getattr(venv.core.state, name), value, err_msg=name)
    act = np.ones(venv.action_space.shape, dtype=np.int64)
    a, b = venv.step(act), twin.step(act)
    for x, y in zip(a[:4], b[:4], strict=True):
        np.testing.assert_array_equal(x, y)


def test_action_masks__shape_and_never_clipped_without_capacity_limits():
    venv = ModEnHubVectorEnv(4, preset="hotspot", max_attempts_per_round=None)
    cfg = venv.config
    venv.reset(seed=0)
    gen = np.random.default_rng(0)
    for _ in range(40):
        masks = venv.action_masks()
        assert masks.shape == (4, (cfg.request_slots + cfg.prefetch_slots) * (cfg.k_max + 1))
        assert masks.dtype == bool
        limits = masks.reshape(4, -1, cfg.k_max + 1).sum(axis=2) - 1
        act = np.floor(gen.random(limits.shape) * (limits + 1)).astype(np.int64)
        *_, info = venv.step(act)
        np.testing.assert_array_equal(info["clipped_attempts"], 0)
        np.testing.assert_array_equal(info["attempts"] + info["prefetch_attempts"], act.sum(axis=1))


def test_step__info_has_masked_counters_and_reward_components():
    venv = ModEnHubVectorEnv(3, preset="contention")
    venv.reset(seed=0)
    gen = np.random.default_rng(0)
    for _ in range(20):
        _, reward, _, _, info = venv.step(random_actions(gen, venv))
        assert reward.shape == (3,) and reward.dtype == np.float64
        for name in COUNTERS + REWARD_PARTS + ("gate_fidelity", "ebit_fidelity", "pending"):
            assert info[name].shape == (3,), name
            np.testing.assert_array_equal(info[f"_{name}"], True)
        np.testing.assert_allclose(reward, sum(info[name] for name in REWARD_PARTS))


def test_vector_env__step_before_reset_raises():
    venv = ModEnHubVectorEnv(3, preset="hotspot")
    with pytest.raises(gym.error.ResetNeeded, match="reset"):
        venv.step(np.zeros((3,) + venv.single_action_space.shape, dtype=np.int64))
    assert np.all(venv.core.state.round == 0) and not venv.core.state.q_valid.any()


# ---------------------------------------------------------------- autoreset modes


def test_vector_env__autoreset_mode_is_an_attribute_and_in_metadata():
    same = ModEnHubVectorEnv(2)
    assert same.autoreset_mode == AutoresetMode.SAME_STEP
    disabled = gym.make_vec(ENV_ID, num_envs=2, autoreset_mode=AutoresetMode.DISABLED)
    assert isinstance(disabled, ModEnHubVectorEnv)
    assert disabled.autoreset_mode == disabled.metadata["autoreset_mode"] == AutoresetMode.DISABLED
    assert ModEnHubVectorEnv(2, autoreset_mode="Disabled").autoreset_mode == AutoresetMode.DISABLED
    assert same.metadata["autoreset_mode"] == ModEnHubVectorEnv.metadata["autoreset_mode"] == AutoresetMode.SAME_STEP


@pytest.mark.parametrize(
    ("mode", "message"),
    [(AutoresetMode.NEXT_STEP, "NEXT_STEP is not offered"), ("sometimes", "got 'sometimes'")],
)
def test_vector_env__unsupported_autoreset_mode_raises(mode, message):
    with pytest.raises(ValueError, match=r"autoreset_mode must be AutoresetMode.SAME_STEP \('SameStep'\) or "
                       r"AutoresetMode.DISABLED \('Disabled'\)") as err:
        ModEnHubVectorEnv(2, autoreset_mode=mode)
    assert message in str(err.value)


@pytest.mark.parametrize(
    ("preset", "overrides"),
    [
        ("paper", {"episode_requests": 5, "n_qpus": 8}),  # terminates
        ("contention", {"episode_rounds": 7}),  # truncates
        ("hotspot", {"episode_rounds": 6}),
    ],
)
def test_vector_env__disabled_row_i_equals_single_env_seeded_s_plus_i(preset, overrides):
    batch, seed, steps = 3, 17, 30
    venv = ModEnHubVectorEnv(batch, preset=preset, autoreset_mode=AutoresetMode.DISABLED, **overrides)
    singles = [ModEnHubEnv(preset=preset, **overrides) for _ in range(batch)]
    v_obs, _ = venv.reset(seed=seed)
    for i, env in enumerate(singles):
        np.testing.assert_array_equal(v_obs[i], env.reset(seed=seed + i)[0])
    gen = np.random.default_rng(0)
    ends = reseeded = 0
    for step in range(steps):
        act = random_actions(gen, venv)
        v_obs, v_rew, v_term, v_trunc, v_info = venv.step(act)
        done = v_term | v_trunc
        assert "final_obs" not in v_info
        for i, env in enumerate(singles):
            s_obs, s_rew, s_term, s_trunc, s_info = env.step(act[i])
            assert (v_rew[i], v_term[i], v_trunc[i]) == (s_rew, s_term, s_trunc)
            np.testing.assert_array_equal(v_obs[i], s_obs)  # the last observation, not a new episode's
            for name in COUNTERS:
                assert v_info[name][i] == s_info[name], name
            assert bool(v_info.get("_episode", np.zeros(batch, dtype=bool))[i]) == (s_term or s_trunc)
            if s_term or s_trunc:
                for name in COUNTERS:
                    assert v_info["episode"][name][i] == s_info["episode"][name], name
        if not done.any():
            continue
        ends += int(done.sum())
        if ends % 2:  # the next episodes of the finished envs, unseeded
            v_obs, r_info = venv.reset(options={"reset_mask": done})
            expected = {int(i): singles[i].reset()[0] for i in np.flatnonzero(done)}
        else:  # reseeded: env i takes seed + i, as for a full reset
            reseeded += 1
            v_obs, r_info = venv.reset(seed=seed + step, options={"reset_mask": done})
            expected = {int(i): singles[i].reset(seed=seed + step + int(i))[0] for i in np.flatnonzero(done)}
        np.testing.assert_array_equal(r_info["_pending"], done)
        for i in range(batch):
            if i in expected:
                np.testing.assert_array_equal(v_obs[i], expected[i])
            else:  # untouched: still the observation of its running episode
                np.testing.assert_array_equal(v_obs[i], observe_single(singles[i]))
    assert ends >= batch and 1 <= reseeded < ends


def observe_single(env: ModEnHubEnv) -> np.ndarray:
    from modenhub_env.observation import observe

    return observe(env.core)[0]


def test_vector_env__disabled_matches_gymnasium_sync_vector_env():
    kwargs = {"preset": "contention", "episode_rounds": 4, "n_qpus": 6}
    batch = 3
    ours = ModEnHubVectorEnv(batch, autoreset_mode=AutoresetMode.DISABLED, **kwargs)
    theirs = SyncVectorEnv([lambda: ModEnHubEnv(**kwargs) for _ in range(batch)], autoreset_mode=AutoresetMode.DISABLED)
    np.testing.assert_array_equal(ours.reset(seed=5)[0], theirs.reset(seed=5)[0])
    gen = np.random.default_rng(1)
    ends = 0
    for _ in range(12):
        act = random_actions(gen, ours)
        a, b = ours.step(act), theirs.step(act)
        for mine, gyms in zip(a[:4], b[:4], strict=True):
            np.testing.assert_array_equal(mine, gyms)
        done = a[2] | a[3]
        if done.any():
            ends += 1
            np.testing.assert_array_equal(
                ours.reset(options={"reset_mask": done})[0], theirs.reset(options={"reset_mask": done})[0]
            )
    assert ends >= 2


def test_step__disabled_finished_env_without_reset_raises_and_stays_usable():
    venv = ModEnHubVectorEnv(3, preset="contention", episode_rounds=2, autoreset_mode=AutoresetMode.DISABLED)
    venv.reset(seed=0)
    zeros = np.zeros(venv.action_space.shape, dtype=np.int64)
    venv.step(zeros)
    _, _, _, trunc, _ = venv.step(zeros)
    assert trunc.all()
    rounds = venv.core.state.round.copy()
    with pytest.raises(gym.error.ResetNeeded, match=r"envs \[0, 1, 2\] finished.*reset_mask"):
        venv.step(zeros)
    np.testing.assert_array_equal(venv.core.state.round, rounds)  # nothing was stepped
    venv.reset(options={"reset_mask": np.array([True, False, True])})
    with pytest.raises(gym.error.ResetNeeded, match=r"envs \[1\] finished"):
        venv.step(zeros)
    venv.reset(options={"reset_mask": np.array([False, True, False])})
    _, _, _, trunc, _ = venv.step(zeros)
    assert not trunc.any()


def test_reset__reset_mask_restarts_only_the_masked_envs_in_same_step_mode():
    venv = ModEnHubVectorEnv(3, preset="contention", episode_rounds=50)
    venv.reset(seed=0)
    for _ in range(3):
        before, _, _, _, _ = venv.step(np.ones(venv.action_space.shape, dtype=np.int64))
    obs, info = venv.reset(seed=9, options={"reset_mask": np.array([False, True, False])})
    np.testing.assert_array_equal(venv.core.state.round, [3, 0, 3])
    np.testing.assert_array_equal(obs[[0, 2]], before[[0, 2]])
    np.testing.assert_array_equal(obs[1], ModEnHubEnv(preset="contention", episode_rounds=50).reset(seed=10)[0])
    np.testing.assert_array_equal(info["_round"], [False, True, False])


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"reset_mask": np.array([1, 0, 1])}, r"reset_mask must be a bool array of shape \(3,\), got dtype int64"),
        ({"reset_mask": np.ones(2, dtype=bool)}, r"shape \(3,\), got dtype bool and shape \(2,\)"),
        ({"reset_mask": np.zeros(3, dtype=bool)}, "reset_mask selects no env"),
        ({"reset_mask": np.array([True, False, False]), "arrival_rate": 2.0}, "cannot go with a reset_mask"),
    ],
)
def test_reset__bad_reset_mask_raises_and_leaves_env_as_it_was(options, message):
    venv = ModEnHubVectorEnv(3, preset="contention")
    venv.reset(seed=0)
    venv.step(np.ones(venv.action_space.shape, dtype=np.int64))
    config = venv.config
    with pytest.raises(ValueError, match=message):
        venv.reset(options=options)
    assert venv.config is config
    np.testing.assert_array_equal(venv.core.state.round, [1, 1, 1])


def test_reset__reset_mask_of_all_envs_may_change_the_config():
    venv = ModEnHubVectorEnv(2, preset="contention")
    venv.reset(seed=0, options={"reset_mask": np.ones(2, dtype=bool), "arrival_rate": 2.0})
    assert venv.config.arrival_rate == 2.0
    same = venv.config
    venv.reset(options={"reset_mask": np.array([True, False]), "arrival_rate": 2.0})  # no change: allowed
    assert venv.config == same
