"""``train.bench``: tiny runs write the CSV and the report with the promised columns and
sections. No timing assertions: speed is the benchmark's business, not the suite's."""

from __future__ import annotations

import math

import numpy as np
import pytest
from gymnasium import spaces

from train.bench import COLUMNS, SECTIONS, build_parser, main, sb3_helpers
from train.files import read_csv

TINY = ["--quick", "--seconds", "0.05", "--repeats", "1", "--quiet"]


def test_bench__tiny_run_writes_csv_and_report(tmp_path):
    main(TINY + ["--out", str(tmp_path), "--only", "single,vector,montecarlo,scaling",
                 "--qpus", "8", "--batches", "4", "--slots", "4,8", "--trials", "20"])
    rows = read_csv(tmp_path / "benchmarks.csv")
    assert rows and list(rows[0]) == COLUMNS
    assert {r["section"] for r in rows} == {"single", "vector", "montecarlo", "scaling"}
    assert {r["env"] for r in rows} >= {
        "cartpole_single", "modenhub_single", "cartpole_vector", "modenhub_vector",
        "reproduce_measure", "naive_monte_carlo",
    }
    for r in rows:
        speed, cost = float(r["steps_per_s"]), float(r["ns_per_step"])
        assert speed > 0 and math.isclose(speed * cost, 1e9, rel_tol=1e-4)
        assert float(r["peak_mem_mib"]) >= 0
    assert {int(r["request_slots"]) for r in rows if r["section"] == "scaling"} == {4, 8}
    report = (tmp_path / "benchmarks.md").read_text()
    for heading in ("## Targets", "## Machine", "## Method", "## Single env", "## Native vector env",
                    "## Monte Carlo", "## Cost per env-step"):
        assert heading in report
    assert "AMD" in report or "CPU" in report
    target_lines = [line for line in report.splitlines() if line.endswith(("**PASS** |", "**FAIL** |", "**n/a** |"))]
    assert len(target_lines) == 8
    assert "PPO fps" in report and "not measured in this run" in report  # ppo was not selected


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
