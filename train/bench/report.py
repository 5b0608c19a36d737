"""The Markdown report (targets, machine, method, one table per section, hotspots), the
machine and git state it records, and the targets printed at the end of a run."""

from __future__ import annotations

import datetime
import importlib.metadata
import math
import os
import platform
import shlex
import subprocess
import time
from pathlib import Path
from typing import Any

from train.bench.hotspots import Profile
from train.bench.measure import INTERLEAVE, MEMORY_STEPS, PROBE_BATCH, REFRESH_EVERY
from train.bench.plan import MC_MANY, MEMORY_QPUS, SECTIONS, TARGET_BATCH, TARGET_QPUS, THREADS
from train.bench.steppers import POOL
from train.bench.targets import GROWTH_TOLERANCE, find_row, targets


def machine() -> dict[str, str]:
    """CPU, cores, memory, load and the versions that matter for speed."""
    cpu, mem = "unknown", "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                mem = f"{int(line.split()[1]) / 2**20:.1f} GiB"
                break
    except OSError:
        pass
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    info = {
        "CPU (/proc/cpuinfo)": cpu,
        "cores": f"{os.cpu_count()} logical, {usable} usable by this process",
        "memory": mem,
        "OS": platform.platform(),
        "Python": platform.python_version(),
    }
    for package in ("numpy", "numba", "gymnasium", "torch", "stable-baselines3"):
        try:
            info[package] = importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            info[package] = "not installed"
    return info


def git_state() -> str:
    """The commit measured, and the core's files that differ from it (if any)."""
    root = Path(__file__).resolve().parents[2]

    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, check=True).stdout.strip()

    try:
        head = git("rev-parse", "--short", "HEAD")
        core = git("log", "-1", "--format=%h", "--", "modenhub_env")
        changed = git("diff", "--name-only", "HEAD", "--", "modenhub_env").split()
    except (OSError, subprocess.CalledProcessError):
        return "unknown (no git)"
    state = f"{head} (modenhub_env/ last changed in {core}"
    if not changed:
        return state + ", no uncommitted changes)"
    return state + f"; uncommitted changes in {', '.join(changed)})"


def _num(value: Any, digits: int = 0) -> str:
    if value == "" or value is None:
        return "-"
    return f"{float(value):,.{digits}f}"


SECTION_TITLES = {
    "single": "Single env (`gymnasium.make`, default wrappers)",
    "vector": "Native vector env (`gymnasium.make_vec`, `vector_entry_point`)",
    "sb3": "Stable-Baselines3 vector envs",
    "montecarlo": "Monte Carlo cost per link attempt (a step is one attempt)",
    "ppo": "PPO training throughput (a step is one env-step of `learn()`)",
    "mainjob": "Main job: `modenhub reproduce` in a fresh process",
    "compile": "Compile time: import and first step of each face in a fresh process",
    "memory": f"Memory per env (native vector env, paper, B = {TARGET_BATCH})",
    "scaling": "Cost per env-step against N and request slots (native vector env)",
}
YARDSTICK = {"single": "cartpole_single", "vector": "cartpole_vector", "sb3": "cartpole_dummyvecenv"}


def section_table(rows: list[dict], section: str) -> list[str]:
    if section in ("mainjob", "compile"):
        lines = ["| what | numba cache | seconds | note |", "|---|---|---|---|"]
        lines += [f"| {r['env']} | {r['numba_cache']} | {_num(r['seconds'], 2)} | {r['note']} |"
                  for r in rows if r["section"] == section]
        return lines
    if section == "memory":
        lines = ["| N | B | core buffers, bytes per env | tracemalloc peak MiB | note |", "|---|---|---|---|---|"]
        lines += [f"| {r['n_qpus']} | {r['batch']} | {_num(r['bytes_per_env'])} | {_num(r['peak_mem_mib'], 1)} "
                  f"| {r['note']} |" for r in rows if r["section"] == section]
        return lines
    yard = YARDSTICK.get(section)
    head = "| env | preset | N | B | K | threads | env-steps/s | ns/env-step |"
    head += " x CartPole (same B) |" if yard else ""
    head += " peak MiB | note |"
    lines = [head, "|" + "---|" * (head.count("|") - 1)]
    for r in (r for r in rows if r["section"] == section):
        cells = [r["env"], r["preset"] or "-", str(r["n_qpus"] or "-"), str(r["batch"]),
                 str(r["request_slots"] or "-"), str(r.get("threads") or "-"), _num(r.get("steps_per_s")),
                 _num(r.get("ns_per_step"))]
        if yard:
            ref = find_row(rows, section=section, env=yard, batch=r["batch"])
            ok = ref and r.get("steps_per_s", "") != ""
            cells.append(f"{r['steps_per_s'] / ref['steps_per_s']:.3f}" if ok else "-")
        cells += [_num(r.get("peak_mem_mib"), 2), r.get("note", "")]
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def profile_tables(profiles: list[Profile]) -> list[str]:
    lines = []
    for prof in profiles:
        lines += [
            f"### {prof.label}", "",
            f"{prof.steps} step() calls in {prof.seconds:.1f} s under cProfile (which slows Python calls, "
            f"so shares are indicative); {prof.calls_per_step:,.0f} function calls per step.", "",
            "| top functions by own time | calls | share of total |", "|---|---|---|",
        ]
        lines += [f"| `{name}` | {calls:,} | {share:.1%} |" for name, calls, share in prof.by_own]
        lines += ["", "| modenhub_env functions by cumulative time | calls | share of total |", "|---|---|---|"]
        lines += [f"| `{name}` | {calls:,} | {share:.1%} |" for name, calls, share in prof.by_cumulative]
        lines.append("")
    return lines


METHOD = f"""\
- **Speed**: env-steps per second = `step()` calls x envs advanced per call / wall time of the
  timed calls (`time.perf_counter`). A measurement splits `--seconds` over `--repeats` timed runs
  (each also capped at `--max-calls` calls) and reports the median (the range is in the note).
  Resets inside the timed calls (single env, DummyVecEnv) and autoresets are timed. A warm-up
  at the start compiles (or loads from numba's cache) every kernel before any measurement.
- **Targets, interleaved**: the single env (paper, N = {TARGET_QPUS}, `gym.make` with its default
  wrappers) with CartPole-v1 (`gym.make`), and the native vector env (paper and contention,
  N = {TARGET_QPUS}, B = {TARGET_BATCH}, on {" and ".join(map(str, THREADS))} core threads, set with
  `modenhub_env.core.set_threads`) with `CartPoleVectorEnv` (`gym.make_vec(..., vectorization_mode=
  "vector_entry_point")`), are measured in alternation in {INTERLEAVE} x `--repeats` short runs; the
  target's value is the median of the per-run speed ratios (range in the targets table). Other
  rows of the grid run on numba's default threads (the `threads` column).
- **Actions**: random *valid* actions, drawn outside the timed calls. Every {REFRESH_EVERY} calls the
  env's current action masks are read and {POOL} action batches are sampled, each slot uniform over
  the values its mask allows; the timed calls cycle through them. Masks drift while a pool is used,
  so the env may clip some attempts (counted in `clipped_attempts`); every action is inside the
  action space. CartPole gets a fixed pool of random 0/1 actions.
- **Memory**: `tracemalloc` peak (Python objects and numpy buffers; not torch) during construction,
  `reset` and {MEMORY_STEPS} steps, in an untimed pass before the timed runs. For B > {PROBE_BATCH} a probe at
  B = {PROBE_BATCH} is scaled linearly first, and a config estimated above `--max-mem-gib` is skipped.
- **Monte Carlo**: the wall time of `train.reproduce.measure` for one point (log-parallel, cache
  on, built by `point_config` exactly as `modenhub reproduce` does; the fused Monte Carlo,
  `HubCore.play`, whole episodes in one kernel call), divided by the attempts launched; on 1 and
  2 core threads, for `--trials` requests (the paper's 2,500: one episode, so threads cannot
  help) and {MC_MANY} times as many (episodes the threads share). The 1-thread target reads the
  first, the 2-thread target the second. The naive per-trial loop `train.naive.naive_monte_carlo`
  with the same config is the yardstick.
- **Main job**: `python -m train.cli reproduce --out <tmp>` (= `modenhub reproduce`) as a
  subprocess: one *cold* run with a fresh, empty `NUMBA_CACHE_DIR` (every kernel compiles, as on a
  fresh install; Python's own bytecode cache is not cleared), then warm runs with the same folder
  (median). `NUMBA_NUM_THREADS={max(THREADS)}`.
- **Compile time**: `train/bench/first_steps.py` in a fresh interpreter, cold then warm as above:
  the import of `modenhub_env`, then the first reset + step of the single env, of the vector env
  serial (B = 4) and parallel (B = 256, numba's threads), and the first `HubCore.play`.
- **Memory per env**: the bytes of the arrays the core owns with a row per env (`nbytes`, views
  not counted twice) / B, and tracemalloc's peak for building, resetting and stepping the native
  vector env, at N = {", ".join(map(str, MEMORY_QPUS))} and B = {TARGET_BATCH}.
- **PPO**: SB3 `PPO("MlpPolicy")` with `batch_size=512`, `torch.set_num_threads(1)`, `device="cpu"`,
  the same number of env-steps per `learn()` on `ModEnHubVecEnv` (contention) and on a zero-cost
  `VecEnv` with the same spaces and `num_envs` (zeros, truncated every `episode_rounds` steps).
  Runs are interleaved; fps = env-steps / wall time of `learn()`. The env share is the time inside
  the env's `reset`/`step` over the time of `learn()`.
- **Scaling**: the native vector env at B = the largest batch up to {TARGET_BATCH}; against N with the
  preset's slots, and against request slots K at N = {TARGET_QPUS} (queue widened to at least K). The
  check passes when, between consecutive points, cost growth / size growth <= {GROWTH_TOLERANCE:g}
  (a noise allowance).
- **Noise**: the machine is shared; compare ratios within this report, not numbers across runs."""


def report(rows, profiles, info: dict, started: float, argv: list[str], load: tuple, commit: str) -> str:
    finished = time.perf_counter()
    # ``modenhub bench ...`` passes its own subcommand first; ``python -m train.bench`` does not.
    program = "modenhub" if argv[:1] == ["bench"] else "python -m train.bench"
    command = " ".join([program, shlex.join(argv)]).strip()
    lines = [
        "# ModEn-Hub benchmarks", "",
        f"`{command}`, started {datetime.datetime.now() - datetime.timedelta(seconds=finished - started):%Y-%m-%d %H:%M} "
        f"at commit {commit}; {(finished - started) / 60:.1f} min. The paper preset is a "
        "reconstruction calibrated to the paper's headline results (see docs/model.md#calibration).", "",
        "## Targets", "",
        "| target | measured | value | threshold | result |", "|---|---|---|---|---|",
    ]
    for t in targets(rows):
        value = "-" if math.isnan(t.value) else f"{t.value:,.3g}"
        lines.append(f"| {t.name} | {t.measured} | {value} | {t.threshold} | **{t.verdict}** |")
    lines += ["", "## Machine", "", "| | |", "|---|---|"]
    lines += [f"| {k} | {v} |" for k, v in info.items()]
    lines += [f"| load average (1 min) | {load[0]:.2f} at start, {os.getloadavg()[0]:.2f} at end |", ""]
    lines += ["## Method", "", METHOD, ""]
    for section in SECTIONS:
        if section == "profile":
            if profiles:
                lines += ["## Hotspots (cProfile)", ""] + profile_tables(profiles)
        elif any(r["section"] == section for r in rows):
            lines += [f"## {SECTION_TITLES[section]}", ""] + section_table(rows, section) + [""]
    return "\n".join(lines) + "\n"


def print_targets(rows: list[dict]) -> None:
    print("\nTargets:")
    for t in targets(rows):
        value = "-" if math.isnan(t.value) else f"{t.value:,.3g}"
        print(f"  [{t.verdict}] {t.name}: {value} ({t.threshold}); {t.measured}")
