"""Benchmarks: how fast the ModEn-Hub env, its vector faces, the Monte Carlo and PPO run.

``python -m train.bench`` (``--help`` for the options) measures everything in one run on
one machine and writes ``OUT/benchmarks.csv`` (one row per measurement) and
``OUT/benchmarks.md`` (the tables, the issue's target ratios with PASS/FAIL, the machine
and, with the ``profile`` section, the hotspots of the core), both atomically.

Method, in short (the report repeats it):

* a *speed* is env-steps per second: ``step()`` calls times the envs each call advances,
  over the wall time (``time.perf_counter``) of the timed calls only. Each measurement
  splits its ``--seconds`` budget over ``--repeats`` timed runs (a run also stops after
  ``--max-calls`` calls) and reports their median. Episode resets that happen inside the
  timed calls are timed, as in training.
* actions are *random valid actions* drawn outside the timed calls: every
  ``REFRESH_EVERY`` calls the current action masks are read and ``POOL`` action batches
  are sampled, each slot uniform over the values its mask allows; the timed calls cycle
  through the pool. Masks drift while the pool is used, so some attempts may be clipped by
  the env (``clipped_attempts``): every action is in the action space and was valid a few
  rounds before.
* *peak memory* is ``tracemalloc``'s peak (Python objects and numpy buffers, which numpy
  reports to tracemalloc; not torch) during construction, ``reset`` and ``MEMORY_STEPS``
  steps, in an untimed pass before the timed runs. A config whose estimate (a probe at
  ``PROBE_BATCH`` envs, scaled linearly) exceeds ``--max-mem-gib`` is skipped with a note.

The machine may be shared and noisy: compare the speeds within one report (the ratios),
not across runs.
"""

from train.bench.cli import add_parser, build_parser, main, run
from train.bench.plan import COLUMNS, SECTIONS
from train.bench.vec_envs import sb3_helpers

__all__ = ["COLUMNS", "SECTIONS", "add_parser", "build_parser", "main", "run", "sb3_helpers"]
