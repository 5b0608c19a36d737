"""``modenhub evaluate`` (``train.evaluate``) end to end on a tiny contention scenario, and
its row summary on hand-made totals."""

from __future__ import annotations

import contextlib
import io
import math
import shutil
from pathlib import Path

import numpy as np
import pytest

from modenhub_env.config import HubConfig
from train import evaluate
from train.cli import main
from train.files import read_csv
from train.rollout import EpisodeTotals

POLICIES = ["sequential", "log-parallel", "deadline", "random"]
TINY = ["--episodes", "2", "--set", "episode_rounds=32", "--quiet"]
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _run(args: list[str]) -> str:
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(io.StringIO()):
        main(args)
    return out.getvalue()


def _fail(args: list[str]) -> str:
    """Run ``args``, expect the one-line error exit (code 1); return that line."""
    err = io.StringIO()
    with pytest.raises(SystemExit) as excinfo, contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(err):
        main(args)
    assert excinfo.value.code == 1
    lines = err.getvalue().strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), err.getvalue()
    return lines[0]


@pytest.fixture(scope="module")
def evaluation(tmp_path_factory):
    """One tiny evaluation of four policies, shared read-only: (folder, stdout, CSV rows)."""
    out = tmp_path_factory.mktemp("evaluation")
    stdout = _run(["evaluate", "--policies", ",".join(POLICIES), "--preset", "contention",
                   *TINY, "--out", str(out)])
    return out, stdout, read_csv(out / "evaluation_contention.csv")


# ---------------------------------------------------------------- the files


def test_evaluate__writes_csv_markdown_and_png_named_by_preset(evaluation):
    out = evaluation[0]
    assert sorted(p.name for p in out.iterdir()) == [
        "evaluation_contention.csv", "evaluation_contention.md", "evaluation_contention.png",
    ]


def test_evaluate__csv_has_every_metric_column(evaluation):
    out, _, rows = evaluation
    header = (out / "evaluation_contention.csv").read_text().splitlines()[0].split(",")
    assert header == evaluate.columns()
    for key in evaluate.METRICS:
        assert {key, f"{key}_lo", f"{key}_hi"} <= set(header)


def test_evaluate__one_row_per_policy_in_order(evaluation):
    rows = evaluation[2]
    assert [r["policy"] for r in rows] == POLICIES
    assert all(int(r["episodes"]) == 2 for r in rows)
    assert all(int(r["requests"]) > 0 for r in rows)


def test_evaluate__every_value_lies_in_its_finite_interval(evaluation):
    for row in evaluation[2]:
        for key in evaluate.METRICS:
            value, lo, hi = (float(row[k]) for k in (key, f"{key}_lo", f"{key}_hi"))
            assert math.isfinite(value), (row["policy"], key)
            if math.isfinite(lo) and math.isfinite(hi):
                assert lo <= value <= hi, (row["policy"], key, lo, value, hi)


def test_evaluate__metrics_stay_in_their_ranges(evaluation):
    for row in evaluation[2]:
        assert 0.0 <= float(row["success"]) <= 1.0
        assert float(row["attempts"]) >= 0.0
        assert float(row["wasted"]) >= 0.0
        assert 0.25 <= float(row["fidelity"]) <= 1.0
        assert 0.0 <= float(row["latency_p50"]) <= float(row["latency_p95"])


def test_evaluate__sequential_launches_fewer_attempts_than_log_parallel(evaluation):
    rows = {r["policy"]: r for r in evaluation[2]}
    assert float(rows["sequential"]["attempts"]) < float(rows["log-parallel"]["attempts"])


def test_evaluate__markdown_and_stdout_hold_the_table(evaluation):
    out, stdout, _ = evaluation
    markdown = (out / "evaluation_contention.md").read_text()
    assert markdown.startswith("Scenario `contention`, 2 episodes per policy")
    for label, _ in evaluate.METRICS.values():
        assert label in markdown
    for name in POLICIES:
        assert f"\n| {name} | " in markdown
        assert f"\n| {name} | " in stdout
    assert markdown.strip() in stdout


def test_evaluate__every_row_is_paired_with_the_best_heuristic(evaluation):
    rows = evaluation[2]
    best = max(rows, key=lambda r: float(r["reward"]))  # all four are heuristics
    for row in rows:
        assert row["best_heuristic"] == best["policy"]
        # the mean of the differences is the difference of the means, on the same episodes
        difference = float(row["reward"]) - float(best["reward"])
        assert float(row["diff_vs_best_heuristic"]) == pytest.approx(difference, abs=2e-3)  # 6 digits in the CSV
        low, high = float(row["diff_ci_low"]), float(row["diff_ci_high"])
        assert low <= float(row["diff_vs_best_heuristic"]) <= high
        assert row["verdict"] == ("better" if low > 0 else "worse" if high < 0 else "tie")
    zeros = [float(best[key]) for key in ("diff_vs_best_heuristic", "diff_ci_low", "diff_ci_high")]
    assert zeros == [0.0, 0.0, 0.0] and best["verdict"] == "tie"


def test_evaluate__markdown_and_stdout_show_the_paired_comparison(evaluation):
    out, stdout, rows = evaluation
    markdown = (out / "evaluation_contention.md").read_text()
    assert "reward - best heuristic's, paired | verdict |" in markdown and "95% t-interval" in markdown
    best = rows[0]["best_heuristic"]
    assert f"\n| {best} | " in markdown and "(best heuristic) | - |" in markdown
    assert f"paired against the best heuristic, {best}, episode by episode (95% CI): " in stdout


def test_evaluate__png_is_valid(evaluation):
    data = (evaluation[0] / "evaluation_contention.png").read_bytes()
    assert data[:8] == PNG_MAGIC
    assert len(data) > 10_000


# ---------------------------------------------------------------- options


def test_evaluate__tag_names_the_files(tmp_path):
    stdout = _run(["evaluate", "--policies", "sequential", *TINY, "--tag", "mytag", "--out", str(tmp_path)])
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "evaluation_mytag.csv", "evaluation_mytag.md", "evaluation_mytag.png",
    ]
    assert "Scenario `mytag`" in stdout


def test_evaluate__unknown_policy_exits_listing_the_allowed_names(tmp_path):
    message = _fail(["evaluate", "--policies", "bogus", *TINY, "--out", str(tmp_path)])
    assert "bogus" in message
    for name in ("sequential", "log-parallel", "deadline", "random", "single-request-dp"):
        assert name in message
    assert not list(tmp_path.iterdir())


def test_evaluate__the_former_dp_name_runs_under_its_new_name_with_a_warning(tmp_path, monkeypatch):
    from agents import registry

    monkeypatch.setattr(registry, "_warned", set())
    monkeypatch.setattr(evaluate, "plot", lambda rows, path, tag: None)
    with pytest.warns(DeprecationWarning, match="'dp-optimal' is deprecated, use 'single-request-dp'"):
        _run(["evaluate", "--policies", "deadline,dp-optimal", *TINY, "--out", str(tmp_path)])
    rows = read_csv(tmp_path / "evaluation_contention.csv")
    assert [r["policy"] for r in rows] == ["deadline", "single-request-dp"]


def test_evaluate__a_model_on_the_seeds_that_selected_it_is_an_error(tmp_path):
    pytest.importorskip("torch")
    models = Path(__file__).resolve().parents[1] / "results" / "models" / "contention"
    folder = tmp_path / "model"
    folder.mkdir()
    for name in ("model.safetensors", "config.json"):
        shutil.copy(models / name, folder / name)
    message = _fail(["evaluate", "--policies", f"deadline,{folder / 'model.safetensors'}", *TINY,
                     "--seed", "1000000", "--out", str(tmp_path / "out")])
    assert "--seed 1000000: 2 of the 2 evaluation episodes were played in the selection" in message
    assert not list((tmp_path / "out").glob("*"))  # no episode ran, no file written


def test_evaluate__random_policy_is_reproducible_with_the_same_seed(tmp_path, monkeypatch):
    monkeypatch.setattr(evaluate, "plot", lambda rows, path, tag: None)  # the CSV is what we compare
    tables = []
    for folder, seed in (("a", "3"), ("b", "3"), ("c", "4")):
        _run(["evaluate", "--policies", "random", *TINY, "--seed", seed, "--out", str(tmp_path / folder)])
        tables.append((tmp_path / folder / "evaluation_contention.csv").read_text())
    assert tables[0] == tables[1]
    assert tables[0] != tables[2]


def test_evaluate__other_preset_and_overrides_apply(tmp_path, monkeypatch):
    monkeypatch.setattr(evaluate, "plot", lambda rows, path, tag: None)
    _run(["evaluate", "--preset", "paper", "--policies", "log-parallel", "--episodes", "2",
          "--set", "episode_requests=20", "--set", "n_qpus=4", "--quiet", "--out", str(tmp_path)])
    rows = read_csv(tmp_path / "evaluation_paper.csv")
    assert int(rows[0]["requests"]) == 40  # 2 sequential episodes of 20 requests
    assert float(rows[0]["reward"]) == pytest.approx(20 * float(rows[0]["success"]))


def test_evaluate__empty_policy_list_exits_cleanly(tmp_path):
    assert "polic" in _fail(["evaluate", "--policies", ",", *TINY, "--out", str(tmp_path)])


# ---------------------------------------------------------------- summarise


def _totals(served, failed, rejected, attempts, returns, hists) -> EpisodeTotals:
    n = len(served)
    counters = {
        "served": np.array(served, float), "failed": np.array(failed, float),
        "rejected": np.array(rejected, float), "attempts": np.array(attempts, float),
        "prefetch_attempts": np.zeros(n), "wasted": np.arange(n, dtype=float),
        "fidelity_sum": 0.9 * np.array(served, float),
    }
    return EpisodeTotals(counters=counters, returns=np.array(returns, float), latency_hist=np.array(hists))


def test_summarise__per_episode_ratios_and_intervals():
    totals = _totals(
        served=[8, 6, 0], failed=[2, 2, 0], rejected=[0, 2, 0], attempts=[20, 30, 0],
        returns=[1.0, 2.0, 3.0], hists=[[4, 4, 0], [0, 3, 3], [0, 0, 0]],
    )
    row = evaluate.summarise("x", totals, seed=0)
    assert row["policy"] == "x" and row["episodes"] == 3 and row["requests"] == 20
    # the empty third episode has no rate: it drops out of the ratios, not of the reward
    assert row["success"] == pytest.approx(np.mean([0.8, 0.6]))
    assert row["attempts"] == pytest.approx(np.mean([2.0, 3.0]))
    assert row["reward"] == pytest.approx(2.0)
    assert row["fidelity"] == pytest.approx(0.9)
    assert row["wasted"] == pytest.approx(1.0)
    assert row["latency_p50"] == 1.0 and row["latency_p95"] == 2.0
    for key in evaluate.METRICS:
        assert row[f"{key}_lo"] <= row[key] <= row[f"{key}_hi"], key


def _rows(*names: str) -> list[dict]:
    return [{"policy": name} for name in names]


def test_add_paired__hand_built_returns_give_the_worked_differences_and_intervals():
    rows = _rows("log-parallel", "deadline", "model.safetensors")
    returns = [np.array([5.0, 7.0, 6.0, 7.0]), np.array([8.0, 11.0, 8.0, 9.0]), np.array([10.0, 12.0, 9.0, 11.0])]
    evaluate.add_paired(rows, returns, [True, True, False])
    assert {r["best_heuristic"] for r in rows} == {"deadline"}  # mean 9 against 6.25; the model is no candidate
    learned = rows[2]  # differences 2, 1, 1, 2: mean 1.5, half width t(0.975, 3) / (2 sqrt(3))
    assert (learned["diff_vs_best_heuristic"], learned["diff_ci_low"], learned["diff_ci_high"]) == pytest.approx(
        (1.5, 0.5813068845, 2.4186931155), abs=1e-9)
    assert learned["verdict"] == "better"
    worse = rows[0]  # differences -3, -4, -2, -2: mean -2.75, variance 11/12
    half = 3.1824463052837078 * math.sqrt(11 / 12) / 2
    assert (worse["diff_vs_best_heuristic"], worse["diff_ci_low"], worse["diff_ci_high"]) == pytest.approx(
        (-2.75, -2.75 - half, -2.75 + half), abs=1e-9)
    assert worse["verdict"] == "worse"
    assert (rows[1]["diff_vs_best_heuristic"], rows[1]["diff_ci_low"], rows[1]["diff_ci_high"], rows[1]["verdict"]) \
        == (0.0, 0.0, 0.0, "tie")


def test_add_paired__a_model_level_with_the_best_heuristic_ties():
    rows = _rows("deadline", "m.safetensors")
    evaluate.add_paired(rows, [np.array([1.0, 2.0, 3.0]), np.array([2.0, 1.0, 3.5])], [True, False])
    assert rows[1]["verdict"] == "tie" and rows[1]["diff_vs_best_heuristic"] == pytest.approx(0.5 / 3)


def test_add_paired__equal_means_pick_the_first_heuristic_and_no_heuristic_leaves_the_columns_empty():
    rows = _rows("a", "b")
    evaluate.add_paired(rows, [np.array([1.0, 3.0]), np.array([3.0, 1.0])], [True, True])
    assert rows[1]["best_heuristic"] == "a"
    rows = _rows("m1.safetensors", "m2.safetensors")
    evaluate.add_paired(rows, [np.ones(3), np.zeros(3)], [False, False])
    assert all(r["best_heuristic"] == "" and r["verdict"] == "n/a" and math.isnan(r["diff_vs_best_heuristic"])
               for r in rows)


def test_add_paired__one_episode_has_no_interval_and_no_verdict():
    rows = _rows("deadline", "m.safetensors")
    evaluate.add_paired(rows, [np.array([1.0]), np.array([4.0])], [True, False])
    assert rows[1]["diff_vs_best_heuristic"] == 3.0 and math.isnan(rows[1]["diff_ci_low"])
    assert rows[1]["verdict"] == "n/a"
    assert evaluate.paired_cells({**rows[1], "policy": "m.safetensors"}) == ["+3", "n/a"]


def test_load_policy__random_is_seeded():
    config = HubConfig.preset("contention")
    first = evaluate.load_policy("random", config, seed=5)
    second = evaluate.load_policy("random", config, seed=5)
    assert first.rng.random() == second.rng.random()
    assert type(evaluate.load_policy("deadline", config, seed=5)).__name__ == "DeadlinePolicy"
