"""Which episode seeds each stage of a learned scheduler's life plays, and the check that a
held-out evaluation shares none with the training and the model selection of the run.

* **Training** (``modenhub train``): env ``i`` of a run seeded ``s`` starts from seed
  ``s + i`` (``train.mixed`` keeps that numbering over several N), and a run resumed at
  step ``t`` restarts its envs from ``s + t + i``. A step is at most the run's
  ``timesteps`` plus one rollout (``n_steps * n_envs``), so every seed a training env is
  given lies in :func:`training_seeds`. Its later episodes carry on the env's own key
  sequence (``kernels.next_episode_key``) without a seed.
* **Selection** (the periodic evaluation in ``metrics.csv``, from which a run's model is
  chosen): ``eval_episodes`` episodes seeded :func:`train.rollout.episode_seed` of
  ``(eval_seed, e)``, default ``eval_seed`` 1,000,000.
* **Held-out evaluation** (``modenhub evaluate`` and ``compare``): episodes seeded
  ``episode_seed(seed, e)`` for ``e < episodes``, default ``seed`` 10,000.

``episode_seed`` is a 64-bit hash, so evaluation seeds are not small integers like the
training seeds, and two base seeds share an episode seed only by a hash collision.
:func:`check_held_out` checks the seeds themselves, exactly. The episode keys the env
derives from distinct seeds, and the keys of the later training episodes, are 64-bit
hashes as well; two of them coincide with probability about ``(training episodes) x
(evaluated episodes) / 2**63``, below 1e-9 for every run here.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from train.rollout import episode_seed

#: Defaults of ``train.training.Args`` for a ``config.json`` that lacks a key (kept equal
#: to them by a test).
TRAINING_DEFAULTS = {"seed": 0, "n_envs": 16, "n_steps": 64, "timesteps": 200_000,
                     "eval_seed": 1_000_000, "eval_episodes": 20}


def training_seeds(run: Mapping[str, Any]) -> range:
    """Every seed a training env of the run may be given: ``[seed, seed + timesteps +
    (n_steps + 1) * n_envs)``.

    :param run: the run's options, the ``args`` of its ``config.json``.
    """
    get = {**TRAINING_DEFAULTS, **run}.__getitem__
    return range(get("seed"), get("seed") + get("timesteps") + (get("n_steps") + 1) * get("n_envs"))


def selection_seeds(run: Mapping[str, Any]) -> set[int]:
    """The episode seeds of the run's periodic evaluation, from which its model is chosen."""
    get = {**TRAINING_DEFAULTS, **run}.__getitem__
    return {episode_seed(get("eval_seed"), e) for e in range(get("eval_episodes"))}


def run_options(model: Path) -> dict[str, Any] | None:
    """The ``args`` of the ``config.json`` beside a model file (its training run), or
    ``None`` when there is none to read."""
    path = Path(model).parent / "config.json"
    try:
        args = json.loads(path.read_text())["args"]
    except (OSError, json.JSONDecodeError, UnicodeDecodeError, KeyError, TypeError):
        return None
    return args if isinstance(args, dict) else None


def check_held_out(seed: int, episodes: int, run: Mapping[str, Any], model: str | Path) -> None:
    """A ``ValueError`` if an evaluation from ``seed`` over ``episodes`` episodes would play
    an episode seed that trained or selected ``model`` (its run's options ``run``).

    :raises ValueError: naming the model, the overlap and a ``--seed`` that avoids it.
    """
    evaluated = [episode_seed(seed, e) for e in range(episodes)]
    trained = training_seeds(run)
    in_training = [s for s in evaluated if s in trained]
    in_selection = set(evaluated) & selection_seeds(run)
    if in_training or in_selection:
        stage = "selection (its run's --eval-seed)" if in_selection else "training"
        raise ValueError(
            f"--seed {seed}: {len(in_training) + len(in_selection)} of the {episodes} evaluation episodes were "
            f"played in the {stage} of {model}; held-out results need other seeds: choose another --seed"
        )
