"""``train.summaries``: the lines the commands end with."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from train.cli import main
from train.files import write_csv
from train.summaries import (
    best_by_reward,
    evaluation_summary,
    paired_summary,
    reproduction_summary,
    training_summary,
)
from train.training import METRIC_COLUMNS


def row(policy: str, reward: float, step: int = 512, success: float = 0.5) -> dict:
    return {"step": step, "wall_seconds": 90.0, "policy": policy, "episodes": 4, "reward": reward,
            "reward_lo": reward - 1, "reward_hi": reward + 1, "success": success, "success_lo": 0.4,
            "success_hi": 0.6, "attempts": 3.0, "attempts_lo": 2.5, "attempts_hi": 3.5}


def test_best_by_reward__highest_mean_wins_and_empty_is_an_error():
    assert best_by_reward([row("a", 1.0), row("b", 3.0), row("c", 2.0)])["policy"] == "b"
    with pytest.raises(ValueError, match="rows must hold"):
        best_by_reward([])


def test_evaluation_summary__names_the_best_policy_with_its_interval():
    text = evaluation_summary([row("sequential", -5.0), row("deadline", 12.0, success=0.9)])
    assert text == "best of 2 policies by episode reward: deadline, 12.0 [11.0, 13.0] (95% CI), success 0.900"


def paired(row_: dict, diff: float, low: float, high: float, verdict: str, best: str = "deadline") -> dict:
    return {**row_, "best_heuristic": best, "diff_vs_best_heuristic": diff, "diff_ci_low": low, "diff_ci_high": high,
            "verdict": verdict}


def test_evaluation_summary__adds_each_policy_paired_against_the_best_heuristic():
    rows = [paired(row("sequential", -5.0), -17.0, -18.25, -15.75, "worse"),
            paired(row("deadline", 12.0, success=0.9), 0.0, 0.0, 0.0, "tie"),
            paired(row("m.safetensors", 12.5), 0.5, -0.25, 1.25, "tie")]
    assert evaluation_summary(rows).splitlines()[1] == (
        "paired against the best heuristic, deadline, episode by episode (95% CI): "
        "sequential -17.0 [-18.2, -15.8] (worse); m.safetensors +0.5 [-0.2, +1.2] (tie)")


def test_paired_summary__empty_without_a_best_heuristic_or_another_policy():
    assert paired_summary([paired(row("m.safetensors", 1.0), math.nan, math.nan, math.nan, "n/a", best="")]) == ""
    assert paired_summary([paired(row("deadline", 1.0), 0.0, 0.0, 0.0, "tie")]) == ""
    one_episode = paired(row("learned", 3.0), 2.0, math.nan, math.nan, "n/a")
    assert paired_summary([paired(row("deadline", 1.0), 0.0, 0.0, 0.0, "tie"), one_episode]).endswith("learned +2.0 (n/a)")


def test_training_summary__last_evaluation_against_best_heuristic_and_files(tmp_path):
    rows = [row("learned", 1.0, step=256), row("deadline", 2.0, step=256),
            row("learned", 7.0, step=512), row("deadline", 5.0, step=512), row("sequential", -3.0, step=512)]
    write_csv(tmp_path / "metrics.csv", rows, METRIC_COLUMNS)
    (tmp_path / "model.safetensors").write_bytes(b"")
    text = training_summary(tmp_path)
    assert "512 steps in 1.5 min" in text
    assert "learned  7.0 [6.0, 8.0]" in text
    assert "best heuristic, deadline  5.0 [4.0, 6.0]" in text
    assert text.splitlines()[-1] == f"wrote metrics.csv, model.safetensors in {tmp_path}"


def test_training_summary__run_without_metrics_lists_what_exists(tmp_path):
    (tmp_path / "config.json").write_text("{}")
    assert training_summary(tmp_path).splitlines() == [f"run folder {tmp_path}", f"wrote config.json in {tmp_path}"]


def test_cli_train__ends_with_the_summary_and_the_run_folder(tmp_path: Path, capsys):
    argv = ["train", "--preset", "paper", "--set", "cache_capacity=0", "--set", "episode_requests=20",
            "--out", str(tmp_path), "--run-name", "tiny", "--quiet", "--no-tensorboard", "--n-envs", "4",
            "--n-steps", "32", "--batch-size", "64", "--n-epochs", "1", "--eval-every", "256",
            "--eval-episodes", "2", "--timesteps", "256"]
    main(argv)
    captured = capsys.readouterr()
    run = tmp_path / "tiny"
    assert f"into {run}" in captured.err
    assert f"run folder {run}" in captured.out
    assert "best heuristic" in captured.out and "learned" in captured.out
    assert captured.out.rstrip().endswith(f"wrote config.json, metrics.csv, learning_curve.png, model.safetensors, "
                                          f"checkpoints in {run}")


def test_cli_evaluate__ends_with_the_best_policy_and_the_files(tmp_path: Path, capsys):
    main(["evaluate", "--preset", "hotspot", "--set", "episode_rounds=16", "--policies", "sequential,deadline",
          "--episodes", "2", "--out", str(tmp_path), "--quiet"])
    lines = capsys.readouterr().out.rstrip().splitlines()
    assert lines[-3].startswith("best of 2 policies by episode reward: ")
    assert lines[-2].startswith("paired against the best heuristic, ")
    assert lines[-1] == f"wrote {tmp_path}/evaluation_hotspot.csv, .md and .png"


def reproduction_row(n: int, policy: str, cache: int, success: float, attempts: float) -> dict:
    return {"n_qpus": str(n), "policy": policy, "cache": str(cache), "success": str(success), "attempts": str(attempts)}


def test_reproduction_summary__largest_n_baseline_against_orchestrator():
    rows = [reproduction_row(8, "sequential", 0, 0.5, 2.4), reproduction_row(128, "sequential", 0, 0.297, 2.68),
            reproduction_row(128, "sequential", 1, 0.31, 2.66), reproduction_row(128, "log-parallel", 1, 0.921, 11.05)]
    text = reproduction_summary(rows)
    assert text.startswith("at N = 128: sequential (no cache) success 0.297 with 2.68 attempts, "
                           "log-parallel (cache) success 0.921 with 11.05 attempts; the paper reports")
    assert "the paper" not in reproduction_summary(rows, paper_preset=False)
    assert "log-parallel (cache) not run" in reproduction_summary(rows[:2])


def test_cli_reproduce__ends_with_the_summary_and_the_files(tmp_path: Path, capsys):
    main(["reproduce", "--trials", "50", "--qpus", "1,4", "--out", str(tmp_path), "--quiet"])
    lines = capsys.readouterr().out.rstrip().splitlines()
    assert lines[-2].startswith("at N = 4: sequential (no cache) success ")
    assert lines[-1] == f"wrote {tmp_path / 'paper_reproduction.csv'} and {tmp_path / 'paper_reproduction.png'}"
