"""The first step of each face of the env, timed from a fresh interpreter: run as a script
(``python train/bench/first_steps.py``) by the ``compile`` section, once with an empty
``NUMBA_CACHE_DIR`` (every kernel compiles) and once with the same folder again (every
kernel loads from the cache). Prints one JSON object: seconds per part, in order.

It is a script, not imported by the package, so that nothing is imported before the clock
starts but this file's standard-library modules.
"""

from __future__ import annotations

import json
import time

PROBE_QPUS = 16  # N of every face's config (the paper preset)
SERIAL_BATCH = 4  # [envs] a vector env below the core's parallel threshold
PARALLEL_BATCH = 256  # [envs] the core's PARALLEL_MIN_BATCH: split over its threads


def first_steps() -> dict[str, float]:
    """Seconds of: importing ``modenhub_env``, then the first ``reset`` + ``step`` of the
    single env (``gym.make``), of the vector env serial and parallel, and the first fused
    Monte Carlo (``HubCore.play`` of the log-parallel scheduler) of two envs."""
    times: dict[str, float] = {}
    start = time.perf_counter()
    import gymnasium as gym
    import numpy as np

    import modenhub_env  # noqa: F401  (what a user imports first)
    from modenhub_env.config import HubConfig

    times["import modenhub_env"] = time.perf_counter() - start
    config = HubConfig.preset("paper", n_qpus=PROBE_QPUS)
    slots = config.request_slots + config.prefetch_slots

    def timed(name: str, work) -> None:
        begin = time.perf_counter()
        work()
        times[name] = time.perf_counter() - begin

    def single() -> None:
        env = gym.make("modenhub_env:ModEnHub-v0", config=config)
        env.reset(seed=0)
        env.step(np.zeros(slots, dtype=np.int64))

    def vector(batch: int) -> None:
        env = gym.make_vec("modenhub_env:ModEnHub-v0", num_envs=batch, vectorization_mode="vector_entry_point",
                           config=config)
        env.reset(seed=0)
        env.step(np.zeros((batch, slots), dtype=np.int64))

    def play() -> None:
        from agents import make_policy
        from modenhub_env.core import HubCore

        core = HubCore(config, 2)
        core.play(make_policy("log-parallel", config).params, np.arange(1, 3, dtype=np.uint64))

    timed("single env (gym.make)", single)
    timed(f"vector env serial (B={SERIAL_BATCH})", lambda: vector(SERIAL_BATCH))
    timed(f"vector env parallel (B={PARALLEL_BATCH})", lambda: vector(PARALLEL_BATCH))
    timed("fused Monte Carlo (HubCore.play)", play)
    times["total"] = time.perf_counter() - start
    return times


if __name__ == "__main__":
    print(json.dumps(first_steps()))
