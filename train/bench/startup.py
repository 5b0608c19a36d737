"""Time to first result in a fresh process, cold and warm: the README's main job
(``modenhub reproduce``) and the first step of each face of the env (``first_steps.py``).

*Cold* is a fresh, empty ``NUMBA_CACHE_DIR``, so every kernel compiles, as on a fresh
install; *warm* is the same folder again, so every kernel loads from numba's cache. Each
run is a subprocess with ``NUMBA_NUM_THREADS`` set to the largest of ``THREADS``.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from train.bench.plan import THREADS, Plan

FIRST_STEPS = Path(__file__).with_name("first_steps.py")
CACHE_NOTE = {
    "cold": "empty NUMBA_CACHE_DIR: every kernel compiles",
    "warm": "the same NUMBA_CACHE_DIR again: kernels load from the cache",
}

#: Runs a command with extra environment variables; returns (wall seconds, stdout).
Runner = Callable[[list[str], dict[str, str]], tuple[float, str]]


def run_command(command: list[str], env: dict[str, str]) -> tuple[float, str]:
    """``command`` in a subprocess with ``env`` added to this process's environment: its
    wall time [s] and stdout; a failure raises with the command's stderr.

    :param command: the program and its arguments.
    :param env: environment variables to add.
    """
    start = time.perf_counter()
    done = subprocess.run(command, env={**os.environ, **env}, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed ({done.returncode}): {done.stderr.strip()[-2000:]}")
    return elapsed, done.stdout


def _environment(cache_dir: str) -> dict[str, str]:
    return {"NUMBA_CACHE_DIR": cache_dir, "NUMBA_NUM_THREADS": str(max(THREADS))}


def _row(env: str, cache: str, seconds: list[float], note: str) -> dict:
    spread = f"median of {len(seconds)} run(s) ({min(seconds):.2f}-{max(seconds):.2f} s)"
    return {
        "section": "", "env": env, "preset": "paper", "n_qpus": "", "batch": "", "request_slots": "",
        "threads": max(THREADS), "numba_cache": cache, "seconds": statistics.median(seconds),
        "note": "; ".join(part for part in (note, CACHE_NOTE[cache], spread if len(seconds) > 1 else "") if part),
    }


def main_job_rows(plan: Plan, runner: Runner | None = None) -> list[dict]:
    """``modenhub reproduce --out <tmp>`` (with ``plan.job_args``): one cold run, then
    ``plan.warm_runs`` warm runs with the same cache folder.

    :param plan: the run's plan (``job_args``, ``warm_runs``).
    :param runner: runs one command (default :func:`run_command`).
    """
    runner = runner or run_command
    command_text = " ".join(["modenhub reproduce --out <tmp>", *plan.job_args])
    seconds: dict[str, list[float]] = {"cold": [], "warm": []}
    with tempfile.TemporaryDirectory(prefix="modenhub-numba-") as cache_dir:
        for cache in ["cold"] + ["warm"] * plan.warm_runs:
            with tempfile.TemporaryDirectory(prefix="modenhub-job-") as out:
                command = [sys.executable, "-m", "train.cli", "reproduce", "--out", out, *plan.job_args]
                elapsed, _ = runner(command, _environment(cache_dir))
            seconds[cache].append(elapsed)
    return [
        {**_row("modenhub_reproduce", cache, runs, f"`{command_text}` as a subprocess"), "section": "mainjob"}
        for cache, runs in seconds.items()
    ]


def compile_rows(runner: Runner | None = None) -> list[dict]:
    """Import and first step of each face (``first_steps.py``), cold then warm: one row per
    part and cache state, with the seconds of that part.

    :param runner: runs one command (default :func:`run_command`).
    """
    runner = runner or run_command
    parts: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory(prefix="modenhub-numba-") as cache_dir:
        for cache in ("cold", "warm"):
            _, stdout = runner([sys.executable, str(FIRST_STEPS)], _environment(cache_dir))
            parts[cache] = json.loads(stdout.strip().splitlines()[-1])
    return [
        {**_row(part, cache, [parts[cache][part]], "the parts above" if part == "total" else ""), "section": "compile"}
        for part in parts["cold"] for cache in ("cold", "warm")
    ]
