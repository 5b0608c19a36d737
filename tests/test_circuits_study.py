"""``modenhub circuits`` (``train/circuits.py``): a quick run writes its three files with
every policy on every circuit, its numbers hold together, a resumed run keeps the
finished circuits, and bad options are named before any work.

The runs build circuits with Qiskit and place them with networkx: they skip without the
``circuits`` extra.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from modenhub_env.circuits import Circuit, request_dag
from modenhub_env.config import HubConfig
from train import circuits
from train.cli import main
from train.files import read_csv


@pytest.fixture
def extra():
    pytest.importorskip("qiskit")
    pytest.importorskip("networkx")


def test_circuits__quick_run_writes_every_policy_on_every_circuit(extra, tmp_path, capsys):
    main(["circuits", "--quick", "--families", "ghz,qaoa", "--out", str(tmp_path), "--quiet"])
    rows = read_csv(tmp_path / "circuits.csv")
    assert [(r["family"], r["policy"]) for r in rows] == [
        (family, policy) for family in ("ghz", "qaoa") for policy in circuits.POLICIES]
    for r in rows:
        assert int(r["completed"]) == int(r["episodes"]) == circuits.QUICK["episodes"]
        assert float(r["ratio"]) >= 1.0 and float(r["ratio_lo"]) <= float(r["ratio"]) <= float(r["ratio_hi"])
        assert float(r["makespan"]) == pytest.approx(float(r["ratio"]) * int(r["lower_bound"]), rel=1e-4)
        assert float(r["ebits_per_gate"]) >= 1.0  # every gate consumed one
        assert float(r["attempts_per_gate"]) >= float(r["ebits_per_gate"])  # an ebit takes an attempt
        assert float(r["log10_fidelity"]) < 0
    ghz = [r for r in rows if r["family"] == "ghz"]
    assert {int(r["gates"]) for r in ghz} == {3}  # a chain cut once between each two of the 4 QPUs
    assert float(ghz[0]["rounds_saved"]) == 0.0 and ghz[0]["verdict"] == "tie"  # log-parallel against itself
    for r in rows:  # the paired difference is that of the means, over the same seeds
        same = [x for x in rows if x["family"] == r["family"] and x["policy"] == "log-parallel"][0]
        assert float(r["rounds_saved"]) == pytest.approx(float(same["makespan"]) - float(r["makespan"]), abs=1e-3)
    assert (tmp_path / "circuits.png").stat().st_size > 0
    table = (tmp_path / "circuits.md").read_text()
    assert "| ghz:16 | 4 | 3 | 3 | 0.51 |" in table  # 3 gates / (8 attempts x p(4) = 0.244) = 1.54 rounds
    out = capsys.readouterr().out
    assert "critical-path: mean makespan / lower bound" in out and "against log-parallel, paired" in out
    assert "circuits.csv" in out


def test_circuits__resume_keeps_the_finished_circuits(extra, tmp_path, monkeypatch):
    argv = ["circuits", "--quick", "--families", "ghz", "--policies", "log-parallel", "--out", str(tmp_path), "--quiet"]
    main(argv)
    first = read_csv(tmp_path / "circuits.csv")
    calls = []
    monkeypatch.setattr(circuits, "measure_cell", lambda *args: calls.append(args) or [dict(r) for r in first])
    main([*argv, "--resume"])
    assert calls == [] and read_csv(tmp_path / "circuits.csv") == first
    main([*argv[:-3], "--episodes", "2", "--out", str(tmp_path), "--quiet", "--resume"])  # --quick sets 3
    assert calls == []
    main([*argv, "--resume", "--seed", "5"])  # other settings: run again
    assert len(calls) == 1


def test_circuit_fidelity__is_the_product_of_teleported_gate_fidelities():
    config = HubConfig(t_coh=10.0)
    ages = np.array([[0, 0, 3], [0, 5, 5]])
    served = np.array([[0, 1, 2], [0, 1, -1]])
    got = circuits.circuit_fidelity_log10(ages, served, config)
    werner = 0.25 + (config.f0 - 0.25) * np.exp(-3 / 10.0)
    gate = lambda f: (2 * f + 1) / 3  # noqa: E731
    assert got[0] == pytest.approx(math.log10(gate(config.f0) ** 2 * gate(werner)))
    assert got[1] == -math.inf  # a gate never served: the circuit did not run


def test_capacity_bound__is_the_gates_over_the_best_successes_a_round():
    config = circuits.study_config("ghz:8", 4)
    dag = request_dag(Circuit(8, [1, 3, 5], [2, 4, 6]), [0, 0, 1, 1, 2, 2, 3, 3], 4)
    p = float(config.p_pair(0, 1))
    assert circuits.capacity_bound(config, dag) == pytest.approx(3 / (8 * p))
    assert math.isnan(circuits.capacity_bound(config.replace(max_attempts_per_round=None), dag))


def test_study_config__is_the_documented_scenario():
    config = circuits.study_config("ghz:8", 8, overrides={"t_coh": math.inf})
    assert (config.workload, config.circuit, config.n_qpus) == ("circuit", "ghz:8", 8)
    assert config.max_attempts_per_round == 16 and config.request_slots == config.queue_capacity == 16
    assert (config.prefetch_slots, config.cache_capacity, config.cache_per_pair) == (4, 32, 2)
    assert config.t_coh == math.inf and config.w_attempt == 0.01
    assert circuits.Cell("qaoa", 64, 4).spec(3) == "qaoa:64,seed=3"
    assert circuits.Cell("qft", 64, 4).spec(3) == "qft:64"


@pytest.mark.parametrize(("argv", "message"), [
    (["--families", "qft,bogus"], "expected circuit families among"),
    (["--policies", "random"], "expected compiled schedulers among"),
    (["--qubits", "x"], "expected comma-separated integers"),
])
def test_circuits__bad_option_is_a_usage_error(argv, message, capsys):
    with pytest.raises(SystemExit):
        main(["circuits", *argv])
    assert message in capsys.readouterr().err


@pytest.mark.parametrize(("argv", "message"), [
    (["--set", "n_qpus=4"], "--set n_qpus: the study sets it"),
    (["--set", "request_slots=0"], "request_slots must be in"),
    (["--set", "round_budget=4"], "--set round_budget: workload 'circuit' ignores it"),
    (["--qubits", "1"], "n_qubits must be in [2, 4096]"),
    (["--resume"], "--resume needs --out"),
])
def test_circuits__bad_setting_is_named_before_any_work(argv, message, tmp_path, capsys):
    out = [] if "--resume" in argv else ["--out", str(tmp_path / "out")]
    with pytest.raises(SystemExit):
        main(["circuits", *argv, *out, "--quiet"])
    assert message in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


class _Asked:
    """A compiled scheduler seen only through SB3's ``predict``, so that ``play_episodes``
    steps it round by round, as it steps a learned one."""

    def __init__(self, policy):
        self.policy = policy

    def predict(self, observation, state=None, episode_start=None, deterministic=True, action_masks=None):
        return self.policy.predict(observation, deterministic=deterministic, action_masks=action_masks)


@pytest.mark.parametrize("name", ["critical-path", "log-parallel"])
def test_play_episodes__stepping_a_policy_equals_its_fused_episodes(extra, name):
    from agents import make_policy

    # Episodes of several lengths, so that the first to end keep being stepped while the others run.
    config = circuits.study_config("qft:12", 4)
    seeds = [3, 1, 4, 1_000_000, 59]
    fused = circuits.play_episodes(config, make_policy(name, config), seeds)
    stepped = circuits.play_episodes(config, _Asked(make_policy(name, config)), seeds)
    assert len(set(fused["rounds"].tolist())) > 1
    for key, values in fused.items():
        np.testing.assert_array_equal(stepped[key], values, err_msg=key)


def test_circuits__a_model_runs_beside_the_policies_against_the_reference(extra, tmp_path, monkeypatch):
    from train import evaluate

    model = tmp_path / "mix.safetensors"
    model.write_bytes(b"weights")
    monkeypatch.setattr(evaluate, "load_policy", lambda path, config, seed: _Asked(
        circuits.make_policy("critical-path", config)))  # the model file as critical-path would act
    main(["circuits", "--quick", "--families", "ghz", "--policies", "log-parallel,critical-path", "--model", str(model),
          "--reference", "critical-path", "--out", str(tmp_path / "out"), "--quiet"])
    rows = {r["policy"]: r for r in read_csv(tmp_path / "out" / "circuits.csv")}
    assert list(rows) == ["log-parallel", "critical-path", "learned:mix"]
    assert {r["reference"] for r in rows.values()} == {"critical-path"}
    assert rows["learned:mix"]["makespan"] == rows["critical-path"]["makespan"]
    assert (float(rows["learned:mix"]["rounds_saved"]), rows["learned:mix"]["verdict"]) == (0.0, "tie")
    assert "against critical-path paired" in (tmp_path / "out" / "circuits.md").read_text()


@pytest.mark.parametrize(("argv", "message"), [
    (["--reference", "deadline", "--policies", "log-parallel"], "--reference must be one of the policies run"),
    (["--model", "missing.safetensors"], "--model missing.safetensors: no such file"),
])
def test_circuits__bad_reference_or_model_is_named_before_any_work(argv, message, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit):
        main(["circuits", *argv, "--out", str(tmp_path / "out"), "--quiet"])
    assert message in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_model_label__names_a_run_folders_model_by_its_folder():
    assert circuits.model_label("runs/mix/model.safetensors") == "learned:mix"
    assert circuits.model_label("models/qft-only.safetensors") == "learned:qft-only"
    assert circuits.model_label("model.safetensors") == "learned:model"
