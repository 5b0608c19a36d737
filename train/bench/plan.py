"""What one benchmark run measures: the sections, the CSV columns, the reference
configuration and the :class:`Plan` resolved from the command line."""

from __future__ import annotations

import argparse
from dataclasses import dataclass

SECTIONS = ("single", "vector", "sb3", "montecarlo", "ppo", "mainjob", "compile", "memory", "scaling", "profile")
COLUMNS = [
    "section", "env", "preset", "n_qpus", "batch", "request_slots", "threads", "numba_cache",
    "steps_per_s", "ns_per_step", "seconds", "bytes_per_env", "peak_mem_mib", "note",
]
PRESETS = ("paper", "contention")
MIB, GIB = 2**20, 2**30
TARGET_QPUS, TARGET_BATCH = 16, 1024  # the reference configuration
THREADS = (1, 2)  # core threads (set_threads) of the vector env targets and the Monte Carlo
MC_MANY = 16  # the Monte Carlo's second point has this many episodes (so threads can share them)
MEMORY_QPUS = (16, 128, 1024)  # N of the memory-per-env rows, at B = TARGET_BATCH


@dataclass(frozen=True)
class Plan:
    """What one run measures, resolved from the command line (``--quick`` or full)."""

    sections: tuple[str, ...]
    qpus: tuple[int, ...]  # N of the single and vector env grids
    batches: tuple[int, ...]  # B of the vector env grid
    scaling_qpus: tuple[int, ...]  # N of the cost-vs-N sweep
    slots: tuple[int, ...]  # request slots K of the cost-vs-K sweep
    dummy_batch: int  # envs of the SB3 DummyVecEnv comparison
    mc_qpus: tuple[int, ...]  # N of the Monte Carlo cost per attempt
    trials: int  # requests of one Monte Carlo point
    job_args: tuple[str, ...]  # options of the timed ``modenhub reproduce`` (besides --out)
    warm_runs: int  # warm runs of the main job (one cold run: it compiles everything)
    ppo_envs: int
    ppo_n_steps: int  # rollout length per env of PPO
    ppo_steps: int  # env-steps of one PPO learn() call
    seconds: float  # budget of one measurement, split over the repeats
    repeats: int
    max_calls: int  # step() calls of one timed run at most
    max_mem: float  # [bytes] skip configs estimated above this
    seed: int

    @property
    def run_seconds(self) -> float:
        return self.seconds / self.repeats

    @property
    def scaling_batch(self) -> int:
        """The batch of the scaling sweeps: the largest of ``batches`` up to 1024."""
        return max((b for b in self.batches if b <= TARGET_BATCH), default=min(self.batches))


def make_plan(args: argparse.Namespace) -> Plan:
    quick = args.quick
    return Plan(
        sections=args.only or SECTIONS,
        qpus=args.qpus or ((TARGET_QPUS,) if quick else (8, TARGET_QPUS, 128, 1024)),
        batches=args.batches or ((1, TARGET_BATCH) if quick else (1, 64, TARGET_BATCH, 4096)),
        scaling_qpus=args.qpus or ((8, 128) if quick else (8, 32, 128, 512, 1024)),
        slots=args.slots or ((4, 16) if quick else (4, 16, 64)),
        dummy_batch=16 if quick else 64,
        mc_qpus=(128,) if quick else (128, 1024),
        trials=args.trials or (500 if quick else 2500),
        job_args=("--qpus", "1,128", "--trials", "500") if quick else (),
        warm_runs=1 if quick else 3,
        ppo_envs=8 if quick else 16,
        ppo_n_steps=64 if quick else 256,
        ppo_steps=args.ppo_steps or (512 if quick else 8192),
        seconds=args.seconds if args.seconds is not None else (0.5 if quick else 8.0),
        repeats=args.repeats or (1 if quick else 3),
        max_calls=args.max_calls,
        max_mem=args.max_mem_gib * GIB,
        seed=args.seed,
    )
