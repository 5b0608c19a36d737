"""``train.mixed.MixedNVecEnv`` (hubs of several N as one SB3 ``VecEnv``) and ``modenhub
train --mix-n``."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("stable_baselines3")

from modenhub_env.config import HubConfig  # noqa: E402
from modenhub_env.sb3 import ModEnHubVecEnv  # noqa: E402
from train.mixed import MixedNVecEnv  # noqa: E402
from train.shaping import DPShapingVecEnv  # noqa: E402

# A few requests an episode, so that episodes end within the rounds stepped below.
CONFIG = HubConfig.preset("paper", cache_capacity=0, episode_requests=3)
NS = (4, 16)
PER_PART = 3
SEED = 7
ROUNDS = 40


def _rollout(env, first_row: int = 0, rounds: int = ROUNDS) -> dict[str, np.ndarray]:
    """Obs, rewards, dones and masks of ``rounds`` rounds, stacked ``(rounds, num_envs, ...)``.

    ``env``'s envs are rows ``first_row..`` of the mixed env: seeded ``SEED + row``, and
    each round every slot of a row launches the attempts :func:`_attempts` picks for it.
    """
    env.seed(SEED + first_row)
    obs = env.reset()
    rows = first_row + np.arange(env.num_envs)
    seen: dict[str, list[np.ndarray]] = {"obs": [obs], "reward": [], "done": [], "mask": []}
    for step in range(rounds):
        masks = np.asarray(env.env_method("action_masks"))
        seen["mask"].append(masks)
        obs, reward, done, infos = env.step(_attempts(masks, env.action_space.nvec, step, rows))
        seen["obs"].append(obs)
        seen["reward"].append(reward)
        seen["done"].append(done)
    return {key: np.stack(values) for key, values in seen.items()}


def _attempts(masks: np.ndarray, nvec: np.ndarray, step: int, rows: np.ndarray) -> np.ndarray:
    """Per slot the largest allowed number of attempts up to a cap of 0 to 2, drawn per
    round and row, so that rows given another row's actions would step differently."""
    caps = np.random.default_rng(step).integers(0, 3, size=PER_PART * len(NS))[rows]
    allowed = masks.reshape(masks.shape[0], len(nvec), int(nvec[0])) & (np.arange(nvec[0]) <= caps[:, None, None])
    allowed[:, :, 0] = True
    return allowed.shape[2] - 1 - np.argmax(allowed[:, :, ::-1], axis=2)


def _part_rows(seen: dict[str, np.ndarray], j: int) -> dict[str, np.ndarray]:
    rows = slice(j * PER_PART, (j + 1) * PER_PART)
    return {key: value[:, rows] for key, value in seen.items()}


@pytest.mark.parametrize("shaped", [False, True], ids=["plain", "dp-shaped"])
def test_mixed_n_vec_env__each_part_steps_as_a_plain_env_at_its_n(shaped):
    wrap = (lambda part, config: DPShapingVecEnv(part, config, 1.0)) if shaped else None
    mixed = _rollout(MixedNVecEnv(CONFIG, NS, PER_PART * len(NS), wrap_part=wrap))
    assert mixed["done"].any()  # episodes ended, so resets are compared too
    for j, n in enumerate(NS):
        config = CONFIG.replace(n_qpus=n)
        plain = ModEnHubVecEnv(PER_PART, config=config)
        alone = _rollout(DPShapingVecEnv(plain, config, 1.0) if shaped else plain, j * PER_PART)
        for key, value in _part_rows(mixed, j).items():
            np.testing.assert_array_equal(value, alone[key], err_msg=f"{key} of N={n}")


def test_mixed_n_vec_env__shaping_per_part_differs_from_shaping_at_the_config_n():
    # In a sequential workload the potential values the requests to come at the part's N.
    at_own_n = _rollout(MixedNVecEnv(CONFIG, NS, 4, wrap_part=lambda part, c: DPShapingVecEnv(part, c, 1.0)))
    at_config_n = _rollout(DPShapingVecEnv(MixedNVecEnv(CONFIG, NS, 4), CONFIG, 1.0))
    assert not np.allclose(at_own_n["reward"][:, :2], at_config_n["reward"][:, :2])  # N=4, not the config's 16
    np.testing.assert_allclose(at_own_n["reward"][:, 2:], at_config_n["reward"][:, 2:], rtol=1e-6)


def test_mixed_n_vec_env__action_masks_are_the_parts_masks_in_row_order():
    env = MixedNVecEnv(CONFIG, NS, 4)
    env.seed(0)
    env.reset()
    masks = env.action_masks()
    parts = np.concatenate([part.action_masks() for part in env.parts])
    np.testing.assert_array_equal(masks, parts)
    np.testing.assert_array_equal(np.stack(env.env_method("action_masks")), masks)
    np.testing.assert_array_equal(np.stack(env.env_method("action_masks", indices=[1, 2])), masks[1:3])


def test_mixed_n_vec_env__seeds_env_i_with_seed_plus_i():
    env = MixedNVecEnv(CONFIG, NS, 6)
    assert list(env.seed(10)) == list(range(10, 16))


def test_mixed_n_vec_env__get_attr_answers_each_row_from_its_part():
    env = MixedNVecEnv(CONFIG, NS, 4)
    assert [c.n_qpus for c in env.get_attr("config")] == [4, 4, 16, 16]
    assert [c.n_qpus for c in env.get_attr("config", indices=[1, 3])] == [4, 16]
    assert env.env_is_wrapped(DPShapingVecEnv) == [False] * 4


def test_mixed_n_vec_env__n_envs_not_a_multiple_of_the_n_values_names_n_envs():
    with pytest.raises(ValueError, match=r"--n-envs must be a positive multiple.*--mix-n.*\[4, 16\]\), got 5"):
        MixedNVecEnv(CONFIG, NS, 5)


def test_mixed_n_vec_env__per_qpu_fibres_cannot_change_n_and_name_it():
    config = CONFIG.replace(fibre_km=(1.0,) * CONFIG.n_qpus)
    with pytest.raises(ValueError, match=r"--mix-n: the scenario \(N=16\) cannot run at N=4"):
        MixedNVecEnv(config, NS, 4)


def test_mixed_n_vec_env__other_spaces_than_the_first_part_are_an_error():
    def other_slots(part, config):
        return part if config.n_qpus == NS[0] else ModEnHubVecEnv(part.num_envs, config=config.replace(k_max=1))

    with pytest.raises(ValueError, match="N=16 has other spaces than at N=4"):
        MixedNVecEnv(CONFIG, NS, 4, wrap_part=other_slots)


def test_train__mix_n_records_it_and_resumes(tmp_path):
    pytest.importorskip("sb3_contrib")
    from agents.learned import LearnedPolicy
    from tests.test_training import tiny_args
    from train import training

    run = training.main(tiny_args(tmp_path, "mixed", mix_n="16,8", shaping="dp"))
    saved = json.loads((run / "config.json").read_text())
    assert saved["args"]["mix_n"] == [8, 16]
    assert saved["config"]["n_qpus"] == HubConfig.preset("paper").n_qpus  # evaluation keeps the preset's N
    training.main(["--resume", str(run), "--timesteps", "768", "--quiet"])
    assert LearnedPolicy.load(run / "model.safetensors").num_timesteps == 768


def test_train__mix_n_with_indivisible_n_envs_fails_before_writing_the_run(tmp_path):
    from tests.test_training import tiny_args
    from train import training

    with pytest.raises(ValueError, match="--n-envs"):
        training.main(tiny_args(tmp_path, "bad", mix_n="8,16,32"))
    assert not (Path(tmp_path) / "bad").exists()


def test_mixed_vec_env__circuit_parts_step_as_plain_envs_of_their_circuit():
    pytest.importorskip("qiskit")
    pytest.importorskip("networkx")
    from train.circuits import study_config
    from train.mixed import MixedVecEnv

    configs = [study_config(spec, 4).replace(episode_rounds=12) for spec in ("ghz:8", "qft:8")]
    mixed = MixedVecEnv(configs, 2 * PER_PART, labels=["ghz", "qft"], option="--mix-circuits")
    seen = _rollout(mixed, rounds=30)
    assert seen["done"].any()
    for j, config in enumerate(configs):
        alone = _rollout(ModEnHubVecEnv(PER_PART, config=config), j * PER_PART, rounds=30)
        for key, value in _part_rows(seen, j).items():
            np.testing.assert_array_equal(value, alone[key], err_msg=f"{key} of {config.circuit}")


def _circuit_args(tmp_path: Path, name: str, *extra: str) -> list[str]:
    """A tiny training run on circuits at N = 4."""
    argv = ["--preset", "paper", "--out", str(tmp_path), "--run-name", name, "--quiet", "--no-tensorboard",
            "--n-envs", "4", "--n-steps", "32", "--batch-size", "64", "--n-epochs", "1",
            "--eval-every", "256", "--eval-episodes", "2", "--timesteps", "512"]
    for setting in ("episode_rounds=200", "n_qpus=4", "prefetch_slots=2", "cache_capacity=4"):
        argv += ["--set", setting]
    return argv + list(extra)


def test_train__mix_circuits_trains_on_each_circuit_and_resumes(tmp_path):
    pytest.importorskip("sb3_contrib")
    pytest.importorskip("qiskit")
    pytest.importorskip("networkx")
    from agents.learned import LearnedPolicy
    from train import training

    run = training.main(_circuit_args(tmp_path, "circuits", "--set", "workload=circuit",
                                      "--mix-circuits", "ghz:8", "qft:8"))
    saved = json.loads((run / "config.json").read_text())
    assert saved["args"]["mix_circuits"] == ["ghz:8", "qft:8"]
    assert saved["config"]["circuit"] == "ghz:8"  # evaluation runs the first circuit
    training.main(["--resume", str(run), "--timesteps", "768", "--quiet"])
    assert LearnedPolicy.load(run / "model.safetensors").num_timesteps == 768


@pytest.mark.parametrize(("extra", "message"), [
    (["--set", "workload=poisson"], r"--mix-circuits needs workload 'circuit' \(--set workload=circuit\), got 'poisson'"),
    (["--set", "workload=circuit", "--n-envs", "3"],
     r"--n-envs must be a positive multiple of the number of --mix-circuits values \(2: "),
    (["--set", "workload=circuit", "--mix-n", "4,8", "--n-envs", "6"],
     r"--n-envs must be a positive multiple of the number of --mix-n and --mix-circuits values \(4: "),
])
def test_train__bad_mix_circuits_is_named_before_the_run_folder(tmp_path, extra, message):
    from train import training

    argv = _circuit_args(tmp_path, "bad", "--mix-circuits", "ghz:8", "qft:8", *extra)
    with pytest.raises(ValueError, match=message):
        training.main(argv)
    assert not (tmp_path / "bad").exists()
