"""``modenhub compare`` on a copy of one committed model, with a tiny budget."""

import json
import re
import shutil
from pathlib import Path

import numpy as np
import pytest

from train.cli import main
from train.compare import HEURISTICS, n_values, scenarios, verdict
from train.evaluate import add_paired
from train.files import read_csv

MODELS = Path(__file__).resolve().parents[1] / "results" / "models"


def copy_model(root: Path) -> Path:
    """A models folder under ``root`` holding a copy of the committed contention model."""
    folder = root / "models" / "contention"
    folder.mkdir(parents=True)
    for name in ("model.safetensors", "config.json"):
        shutil.copy(MODELS / "contention" / name, folder / name)
    return root / "models"


@pytest.fixture
def one_model(tmp_path):
    return copy_model(tmp_path)


@pytest.fixture(scope="module")
def over_n_run(tmp_path_factory):
    """One ``compare --over-n 8,16`` (16 is the model's training N), 2 episodes a policy."""
    root = tmp_path_factory.mktemp("over_n")
    out = root / "out"
    main(["compare", "--models", str(copy_model(root)), "--episodes", "2", "--over-n", "16,8",
          "--out", str(out), "--quiet"])
    return out


def test_compare__writes_every_policy_and_a_verdict(one_model, tmp_path, capsys):
    out = tmp_path / "out"
    main(["compare", "--models", str(one_model), "--episodes", "2", "--out", str(out), "--quiet"])
    rows = read_csv(out / "learned_vs_handcrafted.csv")
    assert [r["policy"] for r in rows] == [*HEURISTICS, "learned"]
    assert {r["scenario"] for r in rows} == {"contention"}
    for row in rows:
        assert float(row["reward_lo"]) <= float(row["reward"]) <= float(row["reward_hi"])
    assert (out / "learned_vs_handcrafted.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    table = (out / "learned_vs_handcrafted.md").read_text()
    learned = rows[-1]
    assert learned["best_heuristic"] in HEURISTICS and learned["verdict"] in ("better", "worse", "tie")
    assert re.search(rf"\| contention \|.*\| {learned['best_heuristic']} \| [+-][\d.]+ \[[+-][\d.]+, [+-][\d.]+\] "
                     rf"\([+-][\d.]+%\) \| {learned['verdict']} \|", table)
    assert "learned_vs_handcrafted" in capsys.readouterr().out
    assert not list(out.glob("learned_over_n.*"))


def test_compare__paired_columns_against_the_best_heuristic_of_the_scenario(one_model, tmp_path):
    out = tmp_path / "out"
    main(["compare", "--models", str(one_model), "--episodes", "3", "--out", str(out), "--quiet"])
    rows = read_csv(out / "learned_vs_handcrafted.csv")
    heuristics = [r for r in rows if r["policy"] in HEURISTICS]
    best = max(heuristics, key=lambda r: float(r["reward"]))
    for row in rows:
        assert row["best_heuristic"] == best["policy"]
        diff = float(row["diff_vs_best_heuristic"])
        assert diff == pytest.approx(float(row["reward"]) - float(best["reward"]), abs=2e-3)  # 6 digits in the CSV
        assert float(row["diff_ci_low"]) <= diff <= float(row["diff_ci_high"])


def test_compare__seeds_that_selected_a_model_are_refused_before_any_run(one_model, tmp_path, capsys):
    with pytest.raises(SystemExit) as excinfo:
        main(["compare", "--models", str(one_model), "--episodes", "2", "--seed", "1000000",
              "--out", str(tmp_path / "out"), "--quiet"])
    assert excinfo.value.code == 1
    assert re.search(r"--seed 1000000: 2 of the 2 evaluation episodes were played in the selection .*contention",
                     capsys.readouterr().err)
    assert not (tmp_path / "out").exists()


def test_compare__a_config_without_its_training_options_is_refused(one_model, tmp_path, capsys):
    config_path = one_model / "contention" / "config.json"
    config_path.write_text(json.dumps({"config": json.loads(config_path.read_text())["config"]}))
    with pytest.raises(SystemExit):
        main(["compare", "--models", str(one_model), "--episodes", "1", "--out", str(tmp_path / "out"), "--quiet"])
    assert "no 'args' of the training run" in capsys.readouterr().err


def test_compare__model_without_its_config_is_a_clear_error(one_model, tmp_path, capsys):
    (one_model / "contention" / "config.json").unlink()
    with pytest.raises(SystemExit) as excinfo:
        main(["compare", "--models", str(one_model), "--episodes", "1", "--out", str(tmp_path), "--quiet"])
    assert excinfo.value.code == 1
    assert "config.json" in capsys.readouterr().err


def test_scenarios__no_model_is_a_clear_error(tmp_path):
    with pytest.raises(ValueError, match="model.safetensors"):
        scenarios(tmp_path)


def test_verdict__the_learned_rows_paired_difference_to_the_best_heuristic():
    rows = [{"policy": "log-parallel", "reward": 5.0}, {"policy": "deadline", "reward": 10.0}, {"policy": "learned"}]
    returns = [np.array([4.0, 5.0, 6.0]), np.array([9.0, 10.0, 11.0]), np.array([10.0, 12.0, 11.0])]
    add_paired(rows, returns, [True, True, False])
    best, diff, low, high, share, call = verdict(rows)
    # differences 1, 2, 0: mean 1, sd 1, half width t(0.975, 2) / sqrt(3) = 2.4841377
    assert (best, call) == ("deadline", "tie")
    assert (diff, low, high, share) == pytest.approx((1.0, 1.0 - 2.4841377118, 1.0 + 2.4841377118, 0.1), abs=1e-9)


def test_compare__over_n_writes_a_row_per_scenario_n_and_policy(over_n_run):
    rows = read_csv(over_n_run / "learned_over_n.csv")
    main_columns = list(read_csv(over_n_run / "learned_vs_handcrafted.csv")[0])
    assert list(rows[0]) == [main_columns[0], "n_qpus", *main_columns[1:]]
    policies = [*HEURISTICS, "learned"]
    assert [(r["scenario"], r["n_qpus"], r["policy"]) for r in rows] == [
        ("contention", n, p) for n in ("8", "16") for p in policies
    ]
    table = (over_n_run / "learned_over_n.md").read_text()
    assert "## contention" in table and "| 8 |" in table and "| 16 (trained) |" in table
    assert "| best heuristic | learned - best heuristic, paired (95% CI) | verdict |" in table
    for n in ("8", "16"):  # each N has the best heuristic of its own episodes
        at_n = [r for r in rows if r["n_qpus"] == n]
        best = max((r for r in at_n if r["policy"] in HEURISTICS), key=lambda r: float(r["reward"]))
        assert {r["best_heuristic"] for r in at_n} == {best["policy"]}
    assert (over_n_run / "learned_over_n.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_compare__over_n_at_the_training_n_repeats_the_main_table(over_n_run):
    main_rows = {r["policy"]: r for r in read_csv(over_n_run / "learned_vs_handcrafted.csv")}
    at_16 = {r["policy"]: r for r in read_csv(over_n_run / "learned_over_n.csv") if r["n_qpus"] == "16"}
    for policy in ("learned", *HEURISTICS):
        assert {k: at_16[policy][k] for k in main_rows[policy]} == main_rows[policy]


def test_compare__over_n_on_other_n_changes_the_outcome(over_n_run):
    rewards = {(r["n_qpus"], r["policy"]): float(r["reward"]) for r in read_csv(over_n_run / "learned_over_n.csv")}
    assert rewards[("8", "learned")] != rewards[("16", "learned")]


@pytest.mark.parametrize("value", ["8,x", "0", "8,-16", ",", "eight"])
def test_compare__bad_over_n_is_an_argparse_error_naming_it(one_model, tmp_path, capsys, value):
    with pytest.raises(SystemExit) as exit_info:
        main(["compare", "--models", str(one_model), "--episodes", "1", "--over-n", value,
              "--out", str(tmp_path / "out"), "--quiet"])
    assert exit_info.value.code == 2
    assert "--over-n" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_compare__over_n_on_per_qpu_fibres_names_the_scenario_and_n(one_model, tmp_path, capsys):
    config_path = one_model / "contention" / "config.json"
    run = json.loads(config_path.read_text())
    run["config"].update(fibre_km=[1.0] * run["config"]["n_qpus"], fibre_km_max=None)
    config_path.write_text(json.dumps(run))
    with pytest.raises(SystemExit) as excinfo:
        main(["compare", "--models", str(one_model), "--episodes", "1", "--over-n", "8",
              "--out", str(tmp_path / "out"), "--quiet"])
    assert excinfo.value.code == 1
    assert re.search(r"--over-n: scenario 'contention'.*N=8.*fibre_km", capsys.readouterr().err)
    assert not (tmp_path / "out").exists()


def test_n_values__sorted_distinct_positive_integers():
    assert n_values("32,8, 16,8") == (8, 16, 32)


def test_scenarios__a_folder_with_only_an_sb3_zip_needs_trust_pickle(one_model):
    folder = one_model / "contention"
    (folder / "model.safetensors").rename(folder / "model.zip")
    with pytest.raises(ValueError, match=r"contention: holds only an SB3 model.zip.*--trust-pickle.*modenhub convert"):
        scenarios(one_model)
    assert scenarios(one_model, trust_pickle=True)[0][2] == folder / "model.zip"


def test_compare__a_missing_models_folder_is_one_line(tmp_path, capsys):
    with pytest.raises(SystemExit) as excinfo:
        main(["compare", "--models", str(tmp_path / "nowhere"), "--out", str(tmp_path / "out"), "--quiet"])
    assert excinfo.value.code == 1
    assert capsys.readouterr().err.strip() == f"error: --models {tmp_path / 'nowhere'}: no such folder"


def test_scenarios__leave_a_circuit_scheduler_to_modenhub_circuits(tmp_path, capsys):
    models = copy_model(tmp_path)
    shutil.copytree(MODELS / "circuits", models / "circuits")
    assert [name for name, _, _ in scenarios(models)] == ["contention"]
    assert "circuits/ holds a circuit scheduler; `modenhub circuits --model" in capsys.readouterr().err
