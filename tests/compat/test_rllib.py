"""RLlib: ``examples/rllib_ppo.py --quick`` (the README's command), PPO for two small
iterations on one CPU, then its evaluation against log-parallel."""

from __future__ import annotations

import importlib.util
import math
import os
import re
import subprocess

from tests.compat.readme import ROOT, require, shell_commands


def test_rllib_snippet__trains_and_scores_the_learned_policy():
    require("ray.rllib")
    (argv,) = shell_commands("rllib")
    env = {**os.environ, "OMP_NUM_THREADS": "1", "RAY_USAGE_STATS_ENABLED": "0"}
    done = subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True, timeout=400)
    assert done.returncode == 0, done.stderr[-3000:]
    iterations = re.findall(r"iteration +(\d+): training episode return (\S+)", done.stdout)
    assert [int(i) for i, _ in iterations] == [1, 2], done.stdout[-2000:]
    assert all(math.isfinite(float(value)) for _, value in iterations)
    found = re.search(r"mean episode reward over 2 episodes: RLlib PPO (\S+), log-parallel (\S+)", done.stdout)
    assert found, done.stdout[-2000:]
    learned, heuristic = float(found[1]), float(found[2])
    assert math.isfinite(learned)
    # the script's evaluation: its log-parallel score is the one the heuristic earns on those episodes
    example = _load_example()
    assert heuristic == round(example.evaluate_heuristic({"preset": "hotspot", "episode_rounds": 32}, 2), 1)


def _load_example():
    spec = importlib.util.spec_from_file_location("rllib_ppo", ROOT / "examples" / "rllib_ppo.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
