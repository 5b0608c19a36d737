"""``train.bench``: tiny runs write the CSV and the report with the promised columns and
sections. No timing assertions: speed is the benchmark's business, not the suite's."""

from __future__ import annotations

import json
import math
import os
import sys

import numpy as np
import pytest
from gymnasium import spaces

from train.bench import COLUMNS, SECTIONS, build_parser, main, sb3_helpers, startup
from train.bench.first_steps import first_steps
from train.bench.memory import buffer_bytes
from train.bench.plan import MC_MANY, MEMORY_QPUS, THREADS, make_plan
from train.files import read_csv

TINY = ["--quick", "--seconds", "0.05", "--repeats", "1", "--quiet"]
N_TARGETS = 12


def _speed_rows(rows):
    return [r for r in rows if r["section"] not in ("memory", "mainjob", "compile")]


def test_bench__tiny_run_writes_csv_and_report(tmp_path):
    main(TINY + ["--out", str(tmp_path), "--only", "single,vector,montecarlo,memory,scaling",
                 "--qpus", "8", "--batches", "4", "--slots", "4,8", "--trials", "20"])
    rows = read_csv(tmp_path / "benchmarks.csv")
    assert rows and list(rows[0]) == COLUMNS
    assert {r["section"] for r in rows} == {"single", "vector", "montecarlo", "memory", "scaling"}
    assert {r["env"] for r in rows} >= {
        "cartpole_single", "modenhub_single", "cartpole_vector", "modenhub_vector",
        "reproduce_measure", "naive_monte_carlo",
    }
    for r in _speed_rows(rows):
        speed, cost = float(r["steps_per_s"]), float(r["ns_per_step"])
        assert speed > 0 and math.isclose(speed * cost, 1e9, rel_tol=1e-4)
        assert float(r["peak_mem_mib"]) >= 0
    assert {int(r["request_slots"]) for r in rows if r["section"] == "scaling"} == {4, 8}
    report = (tmp_path / "benchmarks.md").read_text()
    for heading in ("## Targets", "## Machine", "## Method", "## Single env", "## Native vector env",
                    "## Monte Carlo", "## Memory per env", "## Cost per env-step"):
        assert heading in report
    assert "AMD" in report or "CPU" in report
    target_lines = [line for line in report.splitlines() if line.endswith(("**PASS** |", "**FAIL** |", "**n/a** |"))]
    assert len(target_lines) == N_TARGETS
    assert "PPO fps" in report and "not measured in this run" in report  # ppo was not selected


def test_bench__montecarlo_rows_on_each_thread_count_and_both_sizes(tmp_path):
    main(TINY + ["--out", str(tmp_path), "--only", "montecarlo", "--trials", "20"])
    rows = read_csv(tmp_path / "benchmarks.csv")
    fused = [r for r in rows if r["env"] == "reproduce_measure"]
    threads = set(THREADS)  # the core makes as many threads as it is asked for
    assert {(int(r["batch"]), int(r["threads"])) for r in fused} == {(e, t) for e in (1, MC_MANY) for t in threads}
    assert all(f"in {r['batch']} episode(s) of 20" in r["note"] for r in fused)
    assert [r["env"] for r in rows].count("naive_monte_carlo") == 1


def test_bench__vector_target_pair_runs_on_one_and_two_threads(tmp_path):
    main(TINY + ["--out", str(tmp_path), "--only", "vector", "--qpus", "16", "--batches", "1024"])
    rows = read_csv(tmp_path / "benchmarks.csv")
    ours = [r for r in rows if r["env"] == "modenhub_vector"]
    threads = set(THREADS)  # the core makes as many threads as it is asked for
    assert {(r["preset"], int(r["threads"])) for r in ours} == {(p, t) for p in ("paper", "contention") for t in threads}
    assert all("interleaved with cartpole_vector; speed ratio per run" in r["note"] for r in ours)
    report = (tmp_path / "benchmarks.md").read_text()
    lines = [line for line in report.splitlines() if line.startswith("| native vector env (")]
    assert len(lines) == 2 and all("on 1 thread" in line for line in lines) == (max(threads) == 2)


def test_memory__per_env_bytes_grow_with_the_cache_and_are_per_row():
    from modenhub_env.config import HubConfig
    from modenhub_env.core import HubCore

    small, large = (HubCore(HubConfig.preset("paper", n_qpus=n), 8) for n in (16, 128))
    per_small, shared_small = buffer_bytes(small)
    per_large, _ = buffer_bytes(large)
    assert 0 < per_small < per_large and shared_small > 0
    assert per_large == buffer_bytes(HubCore(HubConfig.preset("paper", n_qpus=128), 16))[0] // 2
    assert MEMORY_QPUS == (16, 128, 1024)


def _fake_runner(calls):
    """Records each call and the files in its NUMBA_CACHE_DIR; answers like the real commands."""
    parts = ["import modenhub_env", "single env (gym.make)", "total"]

    def run(command, env):
        cache_dir = env["NUMBA_CACHE_DIR"]
        calls.append((command, cache_dir, sorted(os.listdir(cache_dir))))
        with open(os.path.join(cache_dir, f"kernel{len(calls)}.nbi"), "w") as handle:
            handle.write("compiled")
        if str(command[1]).endswith("first_steps.py"):
            return 0.1, json.dumps({part: 0.5 * len(calls) for part in parts}) + "\n"
        return float(len(calls)), ""

    return run


def test_bench__mainjob_and_compile_run_cold_then_warm_in_one_cache(tmp_path, monkeypatch):
    calls = []
    monkeypatch.setattr(startup, "run_command", _fake_runner(calls))
    main(TINY + ["--out", str(tmp_path), "--only", "mainjob,compile"])
    plan = make_plan(build_parser().parse_args(["--quick"]))
    job_calls, compile_calls = calls[: 1 + plan.warm_runs], calls[1 + plan.warm_runs :]
    for group in (job_calls, compile_calls):
        assert group[0][2] == [] and all(files for _, _, files in group[1:])  # cold: an empty cache only first
        assert len({cache_dir for _, cache_dir, _ in group}) == 1
    assert job_calls[0][1] != compile_calls[0][1]
    command = job_calls[0][0]
    assert command[:4] == [sys.executable, "-m", "train.cli", "reproduce"] and "--out" in command
    assert tuple(command[command.index("--out") + 2 :]) == plan.job_args
    rows = read_csv(tmp_path / "benchmarks.csv")
    job = {r["numba_cache"]: float(r["seconds"]) for r in rows if r["section"] == "mainjob"}
    assert job == {"cold": 1.0, "warm": float(np.median(range(2, 2 + plan.warm_runs)))}
    compiled = [(r["env"], r["numba_cache"], float(r["seconds"])) for r in rows if r["section"] == "compile"]
    assert compiled[:2] == [("import modenhub_env", "cold", 0.5 * (len(job_calls) + 1)),
                            ("import modenhub_env", "warm", 0.5 * (len(job_calls) + 2))]
    report = (tmp_path / "benchmarks.md").read_text()
    assert "## Main job" in report and "## Compile time" in report
    assert "| main job (modenhub reproduce), cold numba cache | 1.0 s" in report


def test_first_steps__times_import_and_each_face():
    times = first_steps()
    assert list(times) == [
        "import modenhub_env", "single env (gym.make)", "vector env serial (B=4)",
        "vector env parallel (B=256)", "fused Monte Carlo (HubCore.play)", "total",
    ]
    assert all(t > 0 for t in times.values()) and times["total"] >= max(v for k, v in times.items() if k != "total")


def test_bench__config_over_memory_limit_is_skipped_with_a_note(tmp_path):
    main(TINY + ["--out", str(tmp_path), "--only", "vector", "--qpus", "8", "--batches", "128",
                 "--max-mem-gib", "1e-9"])
    rows = read_csv(tmp_path / "benchmarks.csv")
    ours = [r for r in rows if r["env"] == "modenhub_vector"]
    assert len(ours) == 2 and all(r["steps_per_s"] == "" and r["note"].startswith("skipped") for r in ours)


def test_bench__ppo_section_compares_with_zero_cost_env(tmp_path):
    main(TINY + ["--out", str(tmp_path), "--only", "ppo"])
    rows = read_csv(tmp_path / "benchmarks.csv")
    assert sorted(r["env"] for r in rows) == ["ppo_modenhub", "ppo_zero"]
    assert all(float(r["steps_per_s"]) > 0 and "env share" in r["note"] for r in rows)


def test_zero_vec_env__zeros_and_truncation_every_episode_length():
    zero_vec_env, _ = sb3_helpers()
    obs_space = spaces.Box(0.0, 1.0, shape=(5,), dtype=np.float32)
    venv = zero_vec_env(3, obs_space, spaces.MultiDiscrete([4, 4]), episode_length=2)
    obs = venv.reset()
    assert obs.shape == (3, 5) and obs.dtype == np.float32 and not obs.any()
    _, rewards, dones, infos = venv.step(np.zeros((3, 2), dtype=np.int64))
    assert not dones.any() and not rewards.any() and infos == [{}, {}, {}]
    _, _, dones, infos = venv.step(np.zeros((3, 2), dtype=np.int64))
    assert dones.all() and all(info["TimeLimit.truncated"] for info in infos)
    assert infos[0]["terminal_observation"].shape == (5,)


def test_bench__help_explains_every_option(capsys):
    with pytest.raises(SystemExit):
        build_parser().parse_args(["--help"])
    text = capsys.readouterr().out
    for option in ("--quick", "--out", "--only", "--seconds", "--repeats", "--max-calls", "--max-mem-gib",
                   "--qpus", "--batches", "--slots", "--trials", "--ppo-steps", "--seed", "--quiet"):
        assert option in text
    for section in SECTIONS:
        assert section in text


def test_bench__unknown_section_is_an_error(capsys):
    with pytest.raises(SystemExit):
        build_parser().parse_args(["--only", "single,nonsense"])
    assert "sections must be among" in capsys.readouterr().err
