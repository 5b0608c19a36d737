"""``train.seeds``: the seeds of training, selection and held-out evaluation, and the
check that they do not meet."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from train import seeds
from train.rollout import episode_seed

MODELS = Path(__file__).resolve().parents[1] / "results" / "models"


def test_training_defaults__equal_the_training_options_defaults():
    pytest.importorskip("torch")
    from train.training import Args

    defaults = {field.name: field.default for field in dataclasses.fields(Args)}
    assert {name: defaults[name] for name in seeds.TRAINING_DEFAULTS} == seeds.TRAINING_DEFAULTS


def test_training_seeds__from_the_seed_to_past_the_last_rollout():
    run = {"seed": 7, "n_envs": 4, "n_steps": 10, "timesteps": 100}
    assert seeds.training_seeds(run) == range(7, 7 + 100 + 11 * 4)


def test_selection_seeds__the_periodic_evaluation_episodes():
    assert seeds.selection_seeds({"eval_seed": 3, "eval_episodes": 2}) == {episode_seed(3, 0), episode_seed(3, 1)}


def test_check_held_out__evaluating_on_the_selection_seeds_is_an_error():
    run = {"eval_seed": 1_000_000, "eval_episodes": 20}
    with pytest.raises(ValueError, match=r"--seed 1000000: 5 of the 5 evaluation episodes were played in the "
                       r"selection .* of m\.safetensors; .*choose another --seed"):
        seeds.check_held_out(1_000_000, 5, run, "m.safetensors")


def test_check_held_out__an_evaluation_seed_among_the_training_seeds_is_an_error():
    run = {"seed": episode_seed(10_000, 3) - 2, "n_envs": 4, "timesteps": 0, "n_steps": 1}
    with pytest.raises(ValueError, match="1 of the 5 evaluation episodes were played in the training of m"):
        seeds.check_held_out(10_000, 5, run, "m")


def test_check_held_out__another_base_seed_shares_nothing():
    run = {"eval_seed": 1_000_000, "eval_episodes": 20}
    seeds.check_held_out(1_000_001, 20, run, "m")


@pytest.mark.parametrize("folder", sorted(p.name for p in MODELS.iterdir() if (p / "config.json").is_file()))
def test_committed_models__compare_defaults_are_held_out(folder):
    """``modenhub compare``'s default 200 episodes from seed 10,000 share no seed with the
    training or selection of any committed model (with room: 2,000 episodes)."""
    run = seeds.run_options(MODELS / folder / "model.safetensors")
    assert run == json.loads((MODELS / folder / "config.json").read_text())["args"]
    seeds.check_held_out(10_000, 2_000, run, folder)


def test_run_options__none_without_a_readable_config(tmp_path):
    assert seeds.run_options(tmp_path / "model.safetensors") is None
    (tmp_path / "config.json").write_text('{"config": {}}')
    assert seeds.run_options(tmp_path / "model.safetensors") is None
    (tmp_path / "config.json").write_text("not json")
    assert seeds.run_options(tmp_path / "model.safetensors") is None
