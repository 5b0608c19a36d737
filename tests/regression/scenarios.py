"""Fingerprints of whole rollouts, pinned before the core was compiled (issue #10).

``python -m tests.regression.scenarios`` writes ``fingerprints.json`` beside this file from
the core as it is; ``tests/test_regression.py`` replays every scenario and compares. A
scenario's fingerprint is the sha256 of every observation, action mask, reward and flag of
a seeded vector-env rollout, and the episode totals of every env at the end, so any change
of the simulated numbers shows.
"""

from __future__ import annotations

import hashlib
import json
import tempfile
from pathlib import Path

import numpy as np

from agents import make_policy
from modenhub_env.config import HubConfig
from modenhub_env.vector_env import ModEnHubVectorEnv

FINGERPRINTS = Path(__file__).with_name("fingerprints.json")
BATCH = 8  # [envs] seeded 1000 + i
STEPS = 300  # [rounds] long enough to cross episode ends in every scenario
# A short rollout of every scenario, pinned from the compiled core (whose long rollouts
# match the fingerprints above): fast enough to run against every mutant of the kernels
# with numba's JIT disabled (``train.mutation``).
SHORT_FINGERPRINTS = Path(__file__).with_name("fingerprints_short.json")
SHORT_BATCH, SHORT_STEPS = 3, 40
FINISHED_KEPT = 10  # [episodes] totals kept per scenario, to read a difference by

TRACE_ROWS = "round,a,b,budget\n" + "".join(
    f"{r},{a},{b},{budget}\n"
    for r, a, b, budget in [
        (0, 0, 1, 2), (0, 2, 3, 3), (1, 0, 1, 1), (1, 4, 5, 4), (1, 1, 2, 2), (3, 0, 5, 3),
        (3, 0, 5, 3), (4, 2, 3, 1), (6, 1, 4, 5), (6, 0, 1, 2), (6, 0, 2, 2), (9, 3, 4, 2),
    ]
)


def scenarios(trace_path: str) -> dict[str, tuple[HubConfig, str]]:
    """Name -> (config, policy); ``random`` draws uniform attempts, masks ignored."""
    paper = HubConfig.preset("paper", episode_requests=60)
    return {
        "paper-logparallel": (paper, "log-parallel"),
        "paper-sequential-nocache": (paper.replace(cache_capacity=0), "sequential"),
        "paper-n1": (paper.replace(n_qpus=1), "log-parallel"),
        "paper-n128": (paper.replace(n_qpus=128), "log-parallel"),
        "paper-cost-dp": (paper.replace(w_attempt=0.05, w_fail=0.5, cache_capacity=0), "single-request-dp"),
        "paper-random": (paper.replace(n_qpus=5, fibre_km_max=9.0), "random"),
        "contention-deadline": (HubConfig.preset("contention"), "deadline"),
        "contention-random": (HubConfig.preset("contention"), "random"),
        "decoherence-deadline": (HubConfig.preset("decoherence-short"), "deadline"),
        "decoherence-random": (HubConfig.preset("decoherence-short"), "random"),
        "hotspot-deadline": (HubConfig.preset("hotspot"), "deadline"),
        "hotspot-random": (HubConfig.preset("hotspot"), "random"),
        "poisson-small-queue": (
            HubConfig.preset("contention", n_qpus=6, queue_capacity=3, arrival_rate=2.5,
                             fibre_km=(1.0, 2.0, 5.0, 1.5, 12.0, 3.0), fibre_km_max=None,
                             episode_rounds=120, cutoff=3, prefetch_slots=3),
            "random",
        ),
        "trace-random": (
            HubConfig(n_qpus=6, workload="trace", trace_path=trace_path, queue_capacity=4,
                      request_slots=3, prefetch_slots=2, cache_capacity=4, cache_per_pair=2,
                      max_attempts_per_round=7, comm_qubits_per_qpu=3, t_coh=5.0, f_min=0.7),
            "random",
        ),
    }


def fingerprint(config: HubConfig, policy_name: str, batch: int = BATCH, steps: int = STEPS) -> dict:
    """The digest and end totals of one seeded rollout of ``batch`` envs for ``steps`` rounds."""
    env = ModEnHubVectorEnv(batch, config=config)
    policy = make_policy(policy_name, config, seed=0) if policy_name == "random" else make_policy(policy_name, config)
    gen = np.random.default_rng(7)
    digest = hashlib.sha256()
    obs, _ = env.reset(seed=1000)
    finished = []
    for _ in range(steps):
        masks = env.action_masks()
        digest.update(obs.tobytes())
        digest.update(masks.tobytes())
        if policy_name == "random":
            actions = gen.integers(0, config.k_max + 1, size=(batch, env.single_action_space.shape[0]))
        else:
            actions, _ = policy.predict(obs)
        obs, reward, terminated, truncated, info = env.step(actions)
        digest.update(np.asarray(reward, dtype=np.float64).tobytes())
        digest.update(terminated.tobytes() + truncated.tobytes())
        if "final_info" in info:
            episode = info["final_info"]["episode"]
            for i in np.flatnonzero(info["_final_info"]):
                finished.append({k: float(v[i]) for k, v in episode.items() if not k.startswith("_") and k != "latency_hist"})
    totals = {k: [float(x) for x in v] for k, v in env.core.snapshot().totals.items()}
    return {"digest": digest.hexdigest(), "totals": totals, "finished": finished[:FINISHED_KEPT]}


def compute_all(batch: int = BATCH, steps: int = STEPS) -> dict[str, dict]:
    with tempfile.TemporaryDirectory() as folder:
        trace = Path(folder) / "trace.csv"
        trace.write_text(TRACE_ROWS)
        return {name: fingerprint(cfg, policy, batch, steps) for name, (cfg, policy) in scenarios(str(trace)).items()}


if __name__ == "__main__":
    import sys

    short = "--short" in sys.argv[1:]  # only the short rollouts; the long ones stay pinned
    path = SHORT_FINGERPRINTS if short else FINGERPRINTS
    pinned = compute_all(SHORT_BATCH, SHORT_STEPS) if short else compute_all()
    path.write_text(json.dumps(pinned, indent=1, sort_keys=True) + "\n")
    print(f"wrote {path}")
