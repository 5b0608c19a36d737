"""``modenhub train``: a short run learns, the run folder, resume after a kill, evaluation."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("torch")
pytest.importorskip("sb3_contrib")

from agents import make_policy  # noqa: E402
from agents.learned import LearnedPolicy  # noqa: E402
from modenhub_env.config import HubConfig  # noqa: E402
from train import checkpoints, training  # noqa: E402
from train.evaluate import evaluate  # noqa: E402
from train.files import read_csv  # noqa: E402
from train.rollout import run_episodes  # noqa: E402

# The paper preset with an attempt cost large enough that launching at random is costly:
# a few thousand rounds of PPO reliably learn to launch far fewer (measured over seeds 0-3).
EASY = {"w_attempt": 0.2, "w_fail": 0.5, "cache_capacity": 0, "episode_requests": 100}
TINY = {"cache_capacity": 0, "episode_requests": 20}


def tiny_args(tmp_path: Path, name: str, **changes) -> list[str]:
    argv = ["--preset", "paper", "--out", str(tmp_path), "--run-name", name, "--quiet", "--no-tensorboard",
            "--n-envs", "4", "--n-steps", "32", "--batch-size", "64", "--n-epochs", "1",
            "--eval-every", "256", "--eval-episodes", "2", "--timesteps", "512"]
    for field, value in TINY.items():
        argv += ["--set", f"{field}={value}"]
    for flag, value in changes.items():
        argv += [f"--{flag.replace('_', '-')}", str(value)]
    return argv


@pytest.fixture(scope="module")
def easy_run(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("runs")
    argv = ["--preset", "paper", "--algo", "ppo", "--timesteps", "4096", "--seed", "0", "--n-envs", "16",
            "--n-steps", "32", "--batch-size", "256", "--learning-rate", "1e-3", "--eval-every", "2048",
            "--eval-episodes", "4", "--out", str(out), "--run-name", "easy", "--quiet"]
    for field, value in EASY.items():
        argv += ["--set", f"{field}={value}"]
    return training.main(argv)


def test_train__a_short_ppo_run_beats_the_random_policy(easy_run):
    config = HubConfig.preset("paper", **EASY)
    learned = run_episodes(config, LearnedPolicy.load(easy_run / "model.safetensors"), 20, 500).returns
    random = run_episodes(config, make_policy("random", config, seed=0), 20, 500).returns
    margin = 1.96 * (learned.std(ddof=1) + random.std(ddof=1)) / np.sqrt(20)
    assert learned.mean() - random.mean() > margin


def test_train__writes_config_metrics_checkpoints_model_and_tensorboard(easy_run):
    saved = json.loads((easy_run / "config.json").read_text())
    assert HubConfig.from_dict(saved["config"]) == HubConfig.preset("paper", **EASY)
    assert saved["args"]["algo"] == "ppo" and saved["args"]["timesteps"] == 4096
    rows = read_csv(easy_run / "metrics.csv")
    assert [(int(r["step"]), r["policy"]) for r in rows if r["policy"] == "learned"] == [(2048, "learned"), (4096, "learned")]
    assert {r["policy"] for r in rows} == {"learned", "sequential", "log-parallel", "deadline", "single-request-dp",
                                          "prefetch-value", "critical-path"}
    assert json.loads((easy_run / "checkpoints" / "latest.json").read_text())["step"] == 4096
    assert LearnedPolicy.load(easy_run / "model.safetensors").num_timesteps == 4096
    assert any((easy_run / "tb").rglob("events.out.tfevents.*"))


def test_train__refuses_to_overwrite_a_run(easy_run):
    with pytest.raises(ValueError, match="already holds a run"):
        training.main(["--preset", "paper", "--out", str(easy_run.parent), "--run-name", "easy", "--quiet"])


def test_train__bad_config_override_exits_with_the_field(tmp_path):
    with pytest.raises(SystemExit, match="w_fail"):
        training.main(["--preset", "paper", "--set", "w_fail=-1", "--out", str(tmp_path), "--quiet"])


def test_train__a_prior_needs_the_slots_policy(tmp_path):
    with pytest.raises(ValueError, match="prior 'single-request-dp' needs policy 'slots', got 'pooled'"):
        training.main(tiny_args(tmp_path, "prior", policy="pooled", prior="single-request-dp"))


def test_train__the_former_prior_name_is_read_as_the_new_one_with_a_warning(tmp_path, monkeypatch):
    from agents import registry

    monkeypatch.setattr(registry, "_warned", set())
    with pytest.warns(DeprecationWarning, match="'dp-optimal' is deprecated, use 'single-request-dp'"):
        with pytest.raises(ValueError, match="prior 'single-request-dp' needs policy 'slots'"):
            training.main(tiny_args(tmp_path, "prior", policy="pooled", prior="dp-optimal"))


def test_args__a_run_saved_with_the_former_prior_name_resumes_under_the_new_one(monkeypatch):
    from agents import registry

    monkeypatch.setattr(registry, "_warned", set())
    with pytest.warns(DeprecationWarning):
        assert training.Args(prior="dp-optimal").prior == "single-request-dp"
    assert training.Args(prior="deadline").prior == "deadline"


def test_train__with_dp_shaping_a_prior_and_separate_extractors_runs_and_loads(tmp_path):
    argv = tiny_args(tmp_path, "shaped", algo="maskable-ppo", shaping="dp", prior="single-request-dp")
    run = training.main(argv + ["--separate-extractors"])
    saved = json.loads((run / "config.json").read_text())["args"]
    assert (saved["shaping"], saved["prior"], saved["share_extractor"]) == ("dp", "single-request-dp", False)
    assert LearnedPolicy.load(run / "model.safetensors").num_timesteps == 512


@pytest.mark.parametrize("algo", ["maskable-ppo", "a2c"])
def test_train__other_algorithms_and_policies_run_and_load(tmp_path, algo):
    run = training.main(tiny_args(tmp_path, algo, algo=algo, policy="pooled" if algo == "a2c" else "slots"))
    policy = LearnedPolicy.load(run / "model.safetensors")
    assert policy.algo == algo and policy.num_timesteps == 512


def test_resume__restores_the_step_count_and_continues(tmp_path):
    run = training.main(tiny_args(tmp_path, "r"))
    first, _ = checkpoints.read_checkpoint(run / "checkpoints" / "step_512.safetensors")
    training.main(["--resume", str(run), "--timesteps", "1024", "--quiet"])
    assert LearnedPolicy.load(run / "model.safetensors").num_timesteps == 1024
    last, _ = checkpoints.read_checkpoint(run / "checkpoints" / "step_1024.safetensors")
    assert last["n_updates"] > first["n_updates"] > 0  # the optimizer's progress carried over
    steps = [int(r["step"]) for r in read_csv(run / "metrics.csv") if r["policy"] == "learned"]
    assert steps == [256, 512, 768, 1024]
    assert json.loads((run / "config.json").read_text())["args"]["timesteps"] == 1024


def test_resume__ignores_temp_files_and_drops_rows_past_the_checkpoint(tmp_path):
    run = training.main(tiny_args(tmp_path, "k"))
    # What a kill can leave: a half-written temp file of an atomic write, and metrics
    # of an evaluation whose checkpoint never made it (here a truncated row, too).
    (run / ".model.safetensors.abc123.tmp").write_bytes(b"half")
    (run / "checkpoints" / ".step_768.safetensors.xyz.tmp").write_bytes(b"\x08")
    with (run / "metrics.csv").open("a") as handle:
        handle.write("768,9.1,learned,2,1.0,0.5,1.5,0.9,0.8,1.0,2,1,3\n896,9.9,lear")
    training.main(["--resume", str(run), "--timesteps", "768", "--quiet"])
    assert not list(run.rglob(".*.tmp"))
    rows = read_csv(run / "metrics.csv")
    learned = [r for r in rows if r["policy"] == "learned"]
    assert [int(r["step"]) for r in learned] == [256, 512, 768]
    assert learned[-1]["wall_seconds"] != "9.1"  # evaluated again, not the orphan row
    assert LearnedPolicy.load(run / "model.safetensors").num_timesteps == 768


def test_resume__after_sigkill_mid_training_continues_from_the_last_checkpoint(tmp_path):
    argv = tiny_args(tmp_path, "killed", timesteps=10**6, eval_every=128)
    process = subprocess.Popen([sys.executable, "-m", "train.training", *argv], cwd=Path(__file__).parents[1],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    pointer = tmp_path / "killed" / "checkpoints" / "latest.json"
    deadline = time.monotonic() + 60
    try:
        while time.monotonic() < deadline and not (pointer.exists() and json.loads(pointer.read_text())["step"] >= 384):
            time.sleep(0.2)
    finally:
        os.kill(process.pid, signal.SIGKILL)
        process.wait()
    killed_at = json.loads(pointer.read_text())["step"]
    assert killed_at >= 384
    run = training.resume(tmp_path / "killed", timesteps=killed_at + 256, progress=False)
    assert LearnedPolicy.load(run / "model.safetensors").num_timesteps == killed_at + 256
    steps = [int(r["step"]) for r in read_csv(run / "metrics.csv") if r["policy"] == "learned"]
    assert steps == list(range(128, killed_at + 256 + 1, 128))


def test_evaluate__mixes_heuristics_and_a_learned_model_in_one_table(easy_run, tmp_path):
    config = HubConfig.preset("paper", **EASY)
    model = str(easy_run / "model.safetensors")
    rows = evaluate(config, ["log-parallel", model], 4, 10_000, tmp_path, "mixed", show_progress=False)
    assert [r["policy"] for r in rows] == ["log-parallel", model]
    assert rows[0]["reward"] != rows[1]["reward"]
    table = (tmp_path / "evaluation_mixed.md").read_text()
    assert "log-parallel" in table and "model.safetensors" in table
    assert len(read_csv(tmp_path / "evaluation_mixed.csv")) == 2


# Run folders: claimed by one writer; checkpoints: no pickle, damaged ones skipped.


def test_train__default_run_names_differ_within_one_second():
    args = training.Args()
    names = {training.default_run_name(args) for _ in range(20)}
    assert len(names) == 20


def test_train__a_run_folder_another_process_holds_is_refused(tmp_path):
    from train.runs import RunLock

    folder = tmp_path / "held"
    folder.mkdir()
    with RunLock(folder):  # a second open file description conflicts, as another process's would
        with pytest.raises(ValueError, match=r"held is in use by another process \(pid \d+"):
            training.main(tiny_args(tmp_path, "held"))
    assert not (folder / "config.json").exists()


def test_resume__of_a_run_another_process_holds_is_refused(tmp_path):
    from train.runs import RunLock

    run = training.main(tiny_args(tmp_path, "live", timesteps=256))
    with RunLock(run), pytest.raises(ValueError, match="in use by another process"):
        training.resume(run, timesteps=512, progress=False)


def test_resume__damaged_latest_checkpoint_falls_back_to_the_older_one_and_says_so(tmp_path, capsys):
    run = training.main(tiny_args(tmp_path, "damaged"))
    latest = run / "checkpoints" / "step_512.safetensors"
    latest.write_bytes(latest.read_bytes()[:1000])
    training.resume(run, timesteps=768, progress=False)
    err = capsys.readouterr().err
    assert "skipping checkpoint step 512" in err and "step_512.safetensors" in err and "from step 256" in err
    steps = [int(r["step"]) for r in read_csv(run / "metrics.csv") if r["policy"] == "learned"]
    assert steps == [256, 512, 768]  # 512 evaluated again after the fallback
    assert LearnedPolicy.load(run / "model.safetensors").num_timesteps == 768


class _Marker:
    """Unpickling this creates the file ``path``: the stand-in for arbitrary code."""

    def __init__(self, path: str) -> None:
        self.path = path

    def __reduce__(self):
        return (open, (self.path, "w"))


def test_resume__a_malicious_checkpoint_runs_nothing_and_is_a_clear_error(tmp_path):
    import pickle

    run = training.main(tiny_args(tmp_path, "evil", timesteps=256))
    marker = tmp_path / "pwned"
    for path in (run / "checkpoints").glob("step_*"):
        path.write_bytes(pickle.dumps(_Marker(str(marker))))
    with pytest.raises(ValueError, match=r"evil: no intact checkpoint \(.*step_256.safetensors: not a modenhub checkpoint"):
        training.resume(run, timesteps=512, progress=False)
    assert not marker.exists()


def test_resume__pickled_checkpoints_of_earlier_versions_are_not_loaded(tmp_path):
    import pickle

    run = training.main(tiny_args(tmp_path, "old", timesteps=256))
    marker = tmp_path / "pwned"
    for path in (run / "checkpoints").glob("step_*"):
        path.unlink()
    (run / "checkpoints" / "step_256.state.pkl").write_bytes(pickle.dumps(_Marker(str(marker))))
    (run / "checkpoints" / "step_256.zip").write_bytes(b"PK")
    with pytest.raises(ValueError, match="pickles of an earlier modenhub, which are not loaded"):
        training.resume(run, timesteps=512, progress=False)
    assert not marker.exists()


def test_resume__a_missing_folder_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="--resume .*nowhere: no such folder"):
        training.resume(tmp_path / "nowhere")


def test_checkpoint__restores_weights_optimizer_and_generators_exactly(tmp_path):
    import random

    import torch as th

    run = training.main(tiny_args(tmp_path, "exact", timesteps=256))
    header, tensors = checkpoints.read_checkpoint(run / "checkpoints" / "step_256.safetensors")
    args = training.Args(**json.loads((run / "config.json").read_text())["args"])
    config = training._config(args)
    env = training._make_env(config, args, env_seed=0)
    model = training._make_model(args, env, run)
    checkpoints.restore(model, header, tensors)
    draws = (random.random(), np.random.random(), th.rand(1).item())  # noqa: NPY002
    again = checkpoints.checkpoint_bytes(model, 256, 0.0)
    header2, tensors2 = checkpoints.read_checkpoint_bytes(again)
    for name, tensor in tensors.items():
        if not name.startswith("rng/"):
            assert th.equal(tensors2[name], tensor), name
    assert header2["optimizer"] == header["optimizer"] and header2["n_updates"] == header["n_updates"]
    checkpoints.restore(model, header, tensors)
    assert (random.random(), np.random.random(), th.rand(1).item()) == draws  # noqa: NPY002


def test_train__a_live_training_process_keeps_a_second_writer_and_a_resume_out(tmp_path):
    argv = tiny_args(tmp_path, "busy", timesteps=10**6, eval_every=10**6)
    process = subprocess.Popen([sys.executable, "-m", "train.training", *argv], cwd=Path(__file__).parents[1],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    config = tmp_path / "busy" / "config.json"
    deadline = time.monotonic() + 60
    try:
        while time.monotonic() < deadline and not config.exists():
            time.sleep(0.2)
        assert config.exists()
        with pytest.raises(ValueError, match=rf"busy is in use by another process \(pid {process.pid} "):
            training.resume(tmp_path / "busy", timesteps=512, progress=False)
        with pytest.raises(ValueError, match="busy already holds a run|busy is in use by another process"):
            training.main(tiny_args(tmp_path, "busy"))
    finally:
        os.kill(process.pid, signal.SIGKILL)
        process.wait()
    assert not (tmp_path / "busy" / "model.safetensors").exists()
