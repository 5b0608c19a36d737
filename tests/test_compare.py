"""``modenhub compare`` on a copy of one committed model, with a tiny budget."""

import shutil
from pathlib import Path

import pytest

from train.cli import main
from train.compare import HEURISTICS, scenarios, verdict
from train.files import read_csv

MODELS = Path(__file__).resolve().parents[1] / "results" / "models"


@pytest.fixture
def one_model(tmp_path):
    folder = tmp_path / "models" / "contention"
    folder.mkdir(parents=True)
    for name in ("model.zip", "config.json"):
        shutil.copy(MODELS / "contention" / name, folder / name)
    return tmp_path / "models"


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
    assert "| contention |" in table and ("CIs overlap" in table or "CIs apart" in table)
    assert "learned_vs_handcrafted" in capsys.readouterr().out


def test_compare__model_without_its_config_is_a_clear_error(one_model, tmp_path):
    (one_model / "contention" / "config.json").unlink()
    with pytest.raises(SystemExit, match="config.json"):
        main(["compare", "--models", str(one_model), "--episodes", "1", "--out", str(tmp_path), "--quiet"])


def test_scenarios__no_model_is_a_clear_error(tmp_path):
    with pytest.raises(ValueError, match="model.zip"):
        scenarios(tmp_path)


def test_verdict__apart_only_when_intervals_do_not_meet():
    def row(policy, reward, half):
        return {"policy": policy, "reward": reward, "reward_lo": reward - half, "reward_hi": reward + half}

    assert verdict([row("deadline", 10, 1), row("learned", 13, 1)])[3] == "learned better (CIs apart)"
    assert verdict([row("deadline", 10, 2), row("learned", 13, 2)])[3] == "CIs overlap"
    best, lead, _, call = verdict([row("log-parallel", 5, 1), row("deadline", 10, 1), row("learned", 7, 1)])
    assert (best, lead, call) == ("deadline", -3, "heuristic better (CIs apart)")
