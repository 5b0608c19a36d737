"""``modenhub sweep``: the sweep file's validation, the grid, one trial's body, the
aggregate, and (with Ray installed) a two-trial sweep run end to end and resumed."""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
from pathlib import Path

import pytest

from train import sweep
from train.files import read_csv

EXAMPLE = Path(__file__).parents[1] / "examples" / "sweep.yaml"
# The paper preset with short episodes and a training budget of seconds.
TINY = {
    "presets": ["paper"], "algos": ["ppo"], "seeds": [0, 1], "timesteps": 256,
    "set": {"cache_capacity": 0, "episode_requests": 20},
    "train": {"n_envs": 4, "n_steps": 32, "batch_size": 64, "n_epochs": 1, "eval_every": 128, "eval_episodes": 2,
              "tensorboard": False},
}


def spec_of(**keys) -> sweep.SweepSpec:
    return sweep.validate_spec(keys, "test.yaml")


def error_of(**keys) -> str:
    with pytest.raises(sweep.SweepError) as info:
        sweep.validate_spec(keys, "test.yaml")
    return str(info.value)


# Validation (no Ray).


def test_validate_spec__unknown_key_names_it_and_the_allowed_keys():
    message = error_of(presets=["paper"], seed=[0, 1])
    assert "test.yaml" in message and "'seed'" in message and "did you mean 'seeds'" in message
    assert "allowed keys: name, out, presets, algos, seeds" in message


@pytest.mark.parametrize(("keys", "named", "expected"), [
    ({"seeds": "0,1"}, "'seeds'", "expected a list"),
    ({"seeds": [0, 1.5]}, "'seeds'", "integers"),
    ({"timesteps": "many"}, "'timesteps'", "positive integer"),
    ({"train": {"n_envs": "four"}}, "'train.n_envs'", "expected an integer"),
    ({"train": {"n_envs": 0}}, "'train.n_envs'", "positive integer"),
    ({"train": {"norm_reward": 1}}, "'train.norm_reward'", "true or false"),
    ({"grid": {"learning_rate": 0.001}}, "'grid.learning_rate'", "expected a list"),
    ({"grid": ["learning_rate"]}, "'grid'", "mapping"),
    ({"cpus_per_trial": 0}, "'cpus_per_trial'", "positive number"),
    ({"max_concurrent": "all"}, "'max_concurrent'", "positive integer or null"),
])
def test_validate_spec__wrong_type_names_the_key_and_what_it_expects(keys, named, expected):
    message = error_of(**keys)
    assert named in message and expected in message


@pytest.mark.parametrize(("keys", "named"), [
    ({"presets": []}, "'presets'"),
    ({"algos": []}, "'algos'"),
    ({"seeds": []}, "'seeds'"),
    ({"grid": {"learning_rate": []}}, "'grid.learning_rate'"),
])
def test_validate_spec__empty_list_is_an_error(keys, named):
    message = error_of(**keys)
    assert named in message and "is empty" in message


@pytest.mark.parametrize(("keys", "named", "allowed"), [
    ({"presets": ["paper", "contentoin"]}, "'presets'", "contention, decoherence, decoherence-short, hotspot, paper"),
    ({"algos": ["sac"]}, "'algos'", "ppo, maskable-ppo, a2c"),
    ({"train": {"policy": "cnn"}}, "'train.policy'", "slots, pooled, mlp"),
    ({"grid": {"lr": [1e-3]}}, "'grid.lr'", "learning_rate"),
    ({"grid": {"set.t_cho": [8.0]}}, "'grid.set.t_cho'", "t_coh"),
    ({"set": {"wfail": 1}}, "'set.wfail'", "w_fail"),
])
def test_validate_spec__unknown_name_lists_the_allowed_values(keys, named, allowed):
    message = error_of(**keys)
    assert named in message and allowed in message


def test_validate_spec__options_the_sweep_sets_itself_are_refused():
    message = error_of(train={"seed": 3})
    assert "'train.seed'" in message and "set by the sweep itself" in message


def test_validate_spec__bad_config_value_stops_before_any_run():
    message = error_of(presets=["contention", "hotspot"], grid={"set.w_fail": [1.0, -1.0]})
    assert "set.w_fail=-1.0" in message and "w_fail" in message and "'contention'" in message


def test_validate_spec__repeated_values_are_an_error():
    assert "repeats 1" in error_of(seeds=[0, 1, 1])


def test_validate_spec__reads_a_yaml_float_written_without_a_dot():
    # YAML 1.1 reads `3e-4` as a string.
    spec = spec_of(grid={"learning_rate": ["3e-4", 0.001]}, train={"gamma": "0.9"})
    assert spec.grid["learning_rate"] == (3e-4, 1e-3) and spec.train["gamma"] == 0.9


def test_validate_spec__defaults_match_the_train_command():
    from train import training

    spec = spec_of()
    assert spec.timesteps == training.Args().timesteps and spec.presets == ("contention",)
    assert spec.algos == ("maskable-ppo",) and spec.seeds == (0, 1, 2) and spec.grid == {}


def test_load_sweep_file__malformed_file_exits_naming_the_file_and_key(tmp_path, capsys):
    pytest.importorskip("yaml")
    path = tmp_path / "bad.yaml"
    path.write_text("presets: [hotspot]\ngrid:\n  learning_rate: [3.0e-4]\n  n_env: [8, 16]\n")
    with pytest.raises(SystemExit, match=r"bad\.yaml: key 'grid\.n_env': unknown training option.*'n_envs'"):
        sweep.main([str(path), "--dry-run"])
    path.write_text("- presets\n- algos\n")
    with pytest.raises(SystemExit, match="a sweep file is a mapping of keys"):
        sweep.main([str(path), "--dry-run"])
    path.write_text("presets: [paper\n")
    with pytest.raises(SystemExit, match="not valid YAML"):
        sweep.main([str(path), "--dry-run"])


def test_example_sweep_file__is_valid_and_lists_its_grid(capsys):
    pytest.importorskip("yaml")
    spec = sweep.validate_spec(sweep.load_sweep_file(EXAMPLE), str(EXAMPLE), EXAMPLE.stem)
    assert len(sweep.grid_points(spec)) == 3 * 2 * 2 * 3
    sweep.main([str(EXAMPLE), "--dry-run", "--out", "/nonexistent/sweeps"])
    out = capsys.readouterr().out
    assert "36 runs" in out and out.count("todo") == 36


# The grid and the command line (no Ray).


def test_grid_points__cartesian_product_with_distinct_stable_run_names():
    spec = spec_of(presets=["contention", "hotspot"], algos=["ppo", "a2c"], seeds=[0, 1, 2],
                   grid={"learning_rate": [3e-4, 1e-3], "set.t_coh": [8.0, math.inf]})
    points = sweep.grid_points(spec)
    assert len(points) == 2 * 2 * 2 * 2 * 3
    assert len({p["run"] for p in points}) == len(points)
    assert points == sweep.grid_points(spec)  # the names are a function of the settings
    assert {p["set"]["t_coh"] for p in points} == {8.0, math.inf}
    assert all(p["run"].startswith(f"{p['preset']}__{p['algo']}__{p['seed']}__") for p in points)
    longer = sweep.grid_points(spec_of(presets=["contention", "hotspot"], algos=["ppo", "a2c"], seeds=[0, 1, 2],
                                       grid={"learning_rate": [3e-4, 1e-3], "set.t_coh": [8.0, math.inf]},
                                       timesteps=1000))
    assert not {p["run"] for p in points} & {p["run"] for p in longer}


def test_command_line__flags_override_the_file(tmp_path):
    pytest.importorskip("yaml")
    path = tmp_path / "base.yaml"
    path.write_text("presets: [hotspot]\nseeds: [0]\ntrain: {n_envs: 8}\ngrid: {learning_rate: [0.001]}\n")
    parser = argparse.ArgumentParser()
    sweep._add_arguments(parser)
    ns = parser.parse_args([str(path), "--seeds", "3,4", "--timesteps", "1000", "--set", "w_fail=0.5",
                            "--train", "n-epochs=2", "--grid", "set.t_coh=8,inf", "--grid", "ent_coef=0,0.01"])
    spec = sweep.spec_from_namespace(ns)
    assert spec.name == "base" and spec.presets == ("hotspot",) and spec.seeds == (3, 4) and spec.timesteps == 1000
    assert spec.overrides == {"w_fail": 0.5} and spec.train == {"n_envs": 8, "n_epochs": 2}
    assert spec.grid == {"learning_rate": (0.001,), "set.t_coh": (8, math.inf), "ent_coef": (0.0, 0.01)}


def test_add_parser__registers_the_sweep_subcommand(capsys):
    parser = argparse.ArgumentParser(prog="modenhub")
    sweep.add_parser(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["sweep", "--presets", "paper", "--algos", "a2c", "--seeds", "0,1", "--dry-run",
                              "--out", "/nonexistent/sweeps"])
    args.func(args)
    out = capsys.readouterr().out
    assert "sweep paper__a2c: 2 runs" in out and "paper__a2c__1__" in out


def test_sweep__without_ray_exits_with_the_install_command(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` raises ImportError
    with pytest.raises(SystemExit, match=r"pip install 'modenhub\[ray\]'"):
        sweep.main(["--presets", "paper", "--out", str(tmp_path)])
    assert not (tmp_path / "paper__maskable-ppo").exists()


# Statistics and the aggregate (no Ray, no training).


@pytest.mark.parametrize(("df", "t"), [(1, 12.706), (4, 2.776), (30, 2.042), (60, 2.000), (120, 1.980)])
def test_t_quantile_975__matches_the_student_t_table(df, t):
    assert sweep.t_quantile_975(df) == pytest.approx(t, abs=1e-3)


def test_seed_interval__is_the_student_t_interval_over_seeds():
    mean, lo, hi = sweep.seed_interval([1.0, 2.0, 3.0])
    assert mean == 2.0 and hi - mean == pytest.approx(4.303 * 1.0 / math.sqrt(3), abs=1e-3)
    assert mean - lo == pytest.approx(hi - mean, rel=1e-12)
    assert math.isnan(sweep.seed_interval([5.0])[1])


def fake_metrics(learned: float, heuristic: float) -> dict[str, float]:
    metrics = {"step": 256.0, "wall_seconds": 1.0}
    for policy, reward in (("learned", learned), ("deadline", heuristic), ("sequential", heuristic - 10)):
        for metric, value in (("reward", reward), ("success", 0.9), ("attempts", 3.0)):
            metrics |= {f"{policy}_{metric}": value, f"{policy}_{metric}_lo": value - 1, f"{policy}_{metric}_hi": value + 1}
    return metrics


def test_aggregate__writes_csv_markdown_and_plot_over_seeds(tmp_path):
    pytest.importorskip("matplotlib")
    spec = spec_of(presets=["contention", "hotspot"], algos=["ppo"], seeds=[0, 1, 2],
                   grid={"learning_rate": [3e-4, 1e-3]})
    points = sweep.grid_points(spec)
    # Every point but one seed of the last group finished.
    finished = {p["run"]: fake_metrics(10.0 + p["seed"], 12.0) for p in points[:-1]}
    rows = sweep.aggregate(spec, points, finished, tmp_path)
    assert len(rows) == 4 and [r["seeds"] for r in rows] == [3, 3, 3, 2]
    first = rows[0]
    assert first["learned_reward"] == 11.0 and first["learned_reward_hi"] == pytest.approx(11 + 4.303 / math.sqrt(3), abs=1e-3)
    assert first["best_heuristic"] == "deadline" and first["learned_minus_best_reward"] == -1.0
    assert len(read_csv(tmp_path / "trials.csv")) == len(points) - 1
    summary = read_csv(tmp_path / "summary.csv")
    assert [r["learning_rate"] for r in summary] == ["0.0003", "0.001", "0.0003", "0.001"]
    table = (tmp_path / "summary.md").read_text()
    assert "11 of 12 runs finished" in table and "| hotspot | ppo learning_rate=0.001 | 2/3 |" in table
    assert (tmp_path / "summary.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_finished_points__ignores_a_damaged_or_foreign_ledger_entry(tmp_path):
    points = sweep.grid_points(spec_of(presets=["paper"], seeds=[0, 1, 2]))
    sweep.record_finished(tmp_path, points[0], {"learned_reward": 1.0})
    sweep.ledger_path(tmp_path, points[1]["run"]).write_text('{"point": ')  # cut short
    sweep.record_finished(tmp_path, {**points[2], "timesteps": 1}, {"learned_reward": 1.0})  # other settings
    assert set(sweep.finished_points(tmp_path, points)) == {points[0]["run"]}


# One trial's body (training, no Ray).


def test_run_point__continues_an_interrupted_run_and_only_reads_a_finished_one(tmp_path):
    pytest.importorskip("sb3_contrib")
    from train import training

    point = sweep.grid_points(spec_of(**{**TINY, "seeds": [0]}))[0]
    # What a trial killed after its checkpoint at step 128 leaves: no model.safetensors.
    args = training.Args(preset="paper", overrides=point["set"], algo="ppo", seed=0, timesteps=128,
                         out=str(tmp_path), run_name=point["run"], progress=False, **point["train"])
    run_dir = training.train(args)
    (run_dir / "model.safetensors").unlink()
    first_row = read_csv(run_dir / "metrics.csv")[0]
    metrics = sweep.run_point(point, tmp_path)
    rows = read_csv(run_dir / "metrics.csv")
    assert [int(r["step"]) for r in rows if r["policy"] == "learned"] == [128, 256]
    assert rows[0] == first_row  # kept, not retrained from scratch
    assert metrics["step"] == 256
    learned_last = [r for r in rows if r["policy"] == "learned"][-1]
    assert metrics["learned_reward"] == float(learned_last["reward"])
    assert {"learned_success_hi", "sequential_reward", "deadline_attempts_lo"} <= set(metrics)
    stamp = (run_dir / "metrics.csv").stat().st_mtime_ns
    assert sweep.run_point(point, tmp_path) == metrics
    assert (run_dir / "metrics.csv").stat().st_mtime_ns == stamp


# A sweep on Ray (skipped without Ray).


@pytest.fixture(scope="module")
def finished_sweep(tmp_path_factory):
    """A two-trial sweep run once per test session: xdist workers share it through a lock,
    and only the worker that runs it starts Ray (one session, shut down at the end)."""
    pytest.importorskip("ray")
    pytest.importorskip("sb3_contrib")
    pytest.importorskip("yaml")
    import ray
    from filelock import FileLock

    base = tmp_path_factory.getbasetemp()
    shared = base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base
    path = shared / "tiny_sweep.yaml"
    with FileLock(str(shared / "tiny_sweep.lock")):
        record = shared / "tiny_sweep_first_outcome.json"
        if not record.exists():
            import yaml

            path.write_text(yaml.safe_dump({**TINY, "name": "tiny", "out": str(shared / "sweeps")}))
            # "local": a new instance, never a cluster some other `ray start` left running.
            ray.init(address="local", num_cpus=2, include_dashboard=False, logging_level="WARNING",
                     log_to_driver=False)
            try:
                outcome = sweep.main([str(path), "--quiet"])
            finally:
                ray.shutdown()
            record.write_text(json.dumps({"ran": outcome.ran, "skipped": outcome.skipped}))
    return path, shared / "sweeps" / "tiny", json.loads(record.read_text())


def test_run_sweep__two_trials_run_end_to_end_and_write_the_aggregate(finished_sweep):
    _, folder, first = finished_sweep
    assert len(first["ran"]) == 2 and first["skipped"] == []
    assert sorted(p.stem for p in (folder / "ledger").glob("*.json")) == sorted(first["ran"])
    for run in first["ran"]:
        assert (folder / "runs" / run / "model.safetensors").is_file()
    trials = read_csv(folder / "trials.csv")
    assert sorted(int(t["seed"]) for t in trials) == [0, 1] and {t["step"] for t in trials} == {"256"}
    (summary,) = read_csv(folder / "summary.csv")
    assert summary["seeds"] == "2" and summary["best_heuristic"]
    rewards = [float(t["learned_reward"]) for t in trials]
    assert float(summary["learned_reward"]) == pytest.approx(sum(rewards) / 2, rel=1e-4)
    assert "| paper | ppo | 2/2 |" in (folder / "summary.md").read_text()
    assert (folder / "summary.png").read_bytes()[:4] == b"\x89PNG"
    assert json.loads((folder / "sweep.json").read_text())["seeds"] == [0, 1]


def test_run_sweep__resuming_a_finished_sweep_reruns_nothing(finished_sweep, monkeypatch):
    path, folder, first = finished_sweep
    models = {p: p.stat().st_mtime_ns for p in folder.glob("runs/*/model.safetensors")}

    def no_tune(*args, **kwargs):
        raise AssertionError("a finished sweep started Ray Tune")

    monkeypatch.setattr(sweep.runner, "_run_on_tune", no_tune)
    outcome = sweep.main([str(path), "--quiet"])
    assert outcome.ran == [] and sorted(outcome.skipped) == sorted(first["ran"])
    assert {p: p.stat().st_mtime_ns for p in folder.glob("runs/*/model.safetensors")} == models
    assert len(outcome.rows) == 1 and outcome.rows[0]["seeds"] == 2
