"""RL Baselines3 Zoo: ``rl_zoo3.train`` with the hyperparameter files the project ships,
run as the README's commands (a thousand steps each)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.compat.readme import ROOT, require, shell_commands

HYPERPARAMS = ROOT / "hyperparams"


def test_hyperparams__every_file_is_a_zoo_algorithm_with_the_env_and_a_readme_command():
    require("rl_zoo3")
    from rl_zoo3.utils import ALGOS

    files = sorted(HYPERPARAMS.glob("*.yml"))
    assert [f.stem for f in files] == ["a2c", "ppo"]
    commanded = {argv[argv.index("--conf-file") + 1] for argv in shell_commands("zoo")}
    for path in files:
        assert path.stem in ALGOS, f"{path.name}: rl_zoo3 has no algorithm {path.stem!r}"
        settings = yaml.safe_load(path.read_text())
        assert list(settings) == ["ModEnHub-v0"], path.name
        assert settings["ModEnHub-v0"]["env_kwargs"]["preset"] == "hotspot"
        assert f"hyperparams/{path.name}" in commanded


@pytest.mark.parametrize("index", [0, 1])
def test_zoo_snippet__trains_and_saves_a_model_that_acts(index, tmp_path: Path):
    require("rl_zoo3")
    argv = shell_commands("zoo")[index]
    algo = argv[argv.index("--algo") + 1]
    (tmp_path / "hyperparams").symlink_to(HYPERPARAMS)  # the README's relative path, logs in tmp_path
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    done = subprocess.run(argv, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "Overwriting n_timesteps with n=1024" in done.stdout
    saved = tmp_path / "logs" / algo / "ModEnHub-v0_1" / "ModEnHub-v0.zip"
    assert saved.is_file(), done.stdout[-2000:]

    from rl_zoo3.utils import ALGOS

    from modenhub_env import ModEnHubEnv

    model = ALGOS[algo].load(saved, device="cpu")
    assert model.num_timesteps >= 1024
    probe = ModEnHubEnv(preset="hotspot")
    action, _ = model.predict(probe.reset(seed=0)[0], deterministic=True)
    assert probe.action_space.contains(action)
