"""Run a policy on the native vector env and collect whole-episode totals.

Every script that scores a policy (the paper reproduction, ``evaluate``, training's
periodic evaluation) goes through :func:`run_episodes`, so heuristics and learned
policies are measured by the same code.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np

from agents.base import KernelPolicy
from modenhub_env.config import HubConfig
from modenhub_env.core import HubCore
from modenhub_env.interface import keys_for_seeds
from modenhub_env.seeding import sequence_draws
from modenhub_env.vector_env import ModEnHubVectorEnv


@dataclass
class EpisodeTotals:
    """Totals of ``E`` finished episodes: each counter of ``modenhub_env.state.COUNTERS``
    as an (E,) array, the returns (E,), and served requests by latency (E, L)."""

    counters: dict[str, np.ndarray]
    returns: np.ndarray
    latency_hist: np.ndarray

    def __getitem__(self, name: str) -> np.ndarray:
        return self.counters[name]

    def total(self, name: str) -> float:
        return float(self.counters[name].sum())

    @property
    def episodes(self) -> int:
        return int(self.returns.size)


def run_episodes(
    config: HubConfig,
    policy: Any,
    episodes: int,
    seed: int,
    max_batch: int = 1024,
    progress: Any = None,
) -> EpisodeTotals:
    """Play ``episodes`` episodes of ``config`` with ``policy`` (anything with SB3's
    ``predict``), ``max_batch`` at a time. Episode ``e`` is seeded by
    :func:`episode_seed`, so a deterministic policy's results do not depend on
    ``max_batch``, and runs from different seeds share no episode. A compiled scheduler
    (:class:`~agents.base.KernelPolicy`) plays whole episodes in one kernel call
    (``HubCore.play``), with the same results as stepping it round by round.

    :param progress: optional callable ``progress(episodes_finished)`` for progress bars.
    """
    if episodes < 1:
        raise ValueError(f"episodes must be a positive integer, got {episodes}")
    chunks = []
    for start in range(0, episodes, max_batch):
        size = min(max_batch, episodes - start)
        seeds = episode_seeds(seed, range(start, start + size))
        run = _play_chunk if isinstance(policy, KernelPolicy) else _run_chunk
        chunks.append(run(config, policy, seeds, progress))
    return EpisodeTotals(
        counters={k: np.concatenate([c.counters[k] for c in chunks]) for k in chunks[0].counters},
        returns=np.concatenate([c.returns for c in chunks]),
        latency_hist=np.concatenate([c.latency_hist for c in chunks]),
    )


def episode_seed(seed: int, episode: int) -> int:
    """The seed of episode ``episode`` of a run seeded ``seed``: a hash of both."""
    return int(np.random.SeedSequence([seed, episode]).generate_state(1, dtype=np.uint64)[0])


def episode_seeds(seed: int, episodes: Iterable[int]) -> list[int]:
    """:func:`episode_seed` of each of ``episodes``, computed together."""
    return [int(value) for value in sequence_draws([[seed, episode] for episode in episodes])]


def _play_chunk(config: HubConfig, policy: KernelPolicy, seeds: list[int], progress: Any) -> EpisodeTotals:
    core = HubCore(config, len(seeds))
    keys = keys_for_seeds(seeds, core.keys, fallback=None)
    returns = core.play(policy.params, keys)
    counters = core.episode_totals()
    latency_hist = counters.pop("latency_hist")
    counters["rounds"] = counters["rounds"].astype(np.float64)
    if progress is not None:
        progress(len(seeds))
    return EpisodeTotals(counters=counters, returns=returns, latency_hist=latency_hist)


class Asker:
    """Asks a policy with SB3's ``predict`` for every env's action each round, the
    deterministic choice, with the action masks if its ``predict`` takes them and its
    recurrent state carried from round to round."""

    def __init__(self, policy: Any, size: int):
        self.policy = policy
        self.takes_masks = "action_masks" in inspect.signature(policy.predict).parameters
        self.state = None
        self.episode_start = np.ones(size, dtype=bool)

    def __call__(self, obs: np.ndarray, masks: Callable[[], np.ndarray]) -> np.ndarray:
        """The actions for ``obs``; ``masks`` is called only for a policy that takes them."""
        kwargs = {"action_masks": masks()} if self.takes_masks else {}
        actions, self.state = self.policy.predict(
            obs, state=self.state, episode_start=self.episode_start, deterministic=True, **kwargs,
        )
        return actions

    def ended(self, done: np.ndarray) -> None:
        """Which episodes the last step ended: a recurrent policy starts those afresh."""
        self.episode_start = done


def _run_chunk(config: HubConfig, policy: Any, seeds: list[int], progress: Any) -> EpisodeTotals:
    size = len(seeds)
    env = ModEnHubVectorEnv(size, config=config)
    obs, _ = env.reset(seed=seeds)
    ask = Asker(policy, size)
    finished = np.zeros(size, dtype=bool)
    returns = np.zeros(size)
    counters: dict[str, np.ndarray] = {}
    latency = None
    while not finished.all():
        obs, reward, terminated, truncated, info = env.step(ask(obs, env.action_masks))
        returns += np.where(finished, 0.0, reward)
        done = (terminated | truncated) & ~finished
        ask.ended(terminated | truncated)
        if done.any():
            final = info["final_info"]["episode"]
            if latency is None:
                counters = {k: np.zeros(size) for k in final if not k.startswith("_") and k != "latency_hist"}
                latency = np.zeros((size, final["latency_hist"].shape[1]), dtype=np.int64)
            for key in counters:
                counters[key][done] = final[key][done]
            latency[done] = final["latency_hist"][done]
            finished |= done
            if progress is not None:
                progress(int(done.sum()))
    env.close()
    return EpisodeTotals(counters=counters, returns=returns, latency_hist=latency)
