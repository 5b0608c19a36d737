"""``modenhub reproduce`` (``train.reproduce``) end to end on a tiny study, its resume logic,
and its closed forms against ``modenhub_env.physics``."""

from __future__ import annotations

import contextlib
import io
import math
import re
import shutil

import numpy as np
import pytest

from modenhub_env import physics
from modenhub_env.config import PAPER, HubConfig
from train import reproduce
from train.cli import main
from train.files import read_csv

QPUS = (1, 8)
TRIALS = 300
ARGS = ["reproduce", "--qpus", "1,8", "--trials", str(TRIALS), "--quiet"]
TEXT_COLUMNS = {"policy", "settings"}
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _run(args: list[str]) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        main(args)
    return out.getvalue(), err.getvalue()


def _key(row: dict) -> tuple[int, str, int]:
    return int(row["n_qpus"]), row["policy"], int(row["cache"])


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    """One tiny reproduction, shared read-only: (folder, stdout, CSV rows)."""
    out = tmp_path_factory.mktemp("study")
    stdout, _ = _run([*ARGS, "--out", str(out)])
    return out, stdout, read_csv(out / "paper_reproduction.csv")


@pytest.fixture
def study_copy(study, tmp_path):
    """A private copy of the study's folder, to resume from."""
    folder = tmp_path / "out"
    shutil.copytree(study[0], folder)
    return folder


# ---------------------------------------------------------------- the CSV


def test_reproduce__csv_has_the_documented_columns(study):
    out, _, _ = study
    header = (out / "paper_reproduction.csv").read_text().splitlines()[0]
    assert header.split(",") == reproduce.COLUMNS


def test_reproduce__csv_has_one_row_per_n_policy_and_cache(study):
    rows = study[2]
    assert len(rows) == 8
    expected = {(n, p, c) for n in QPUS for p in reproduce.POLICIES for c in (0, 1)}
    assert {_key(r) for r in rows} == expected


def test_reproduce__numeric_columns_parse(study):
    for row in study[2]:
        for column in reproduce.COLUMNS:
            if column not in TEXT_COLUMNS:
                float(row[column])  # raises on a malformed cell
        assert re.fullmatch(r"[0-9a-f]{12}", row["settings"])
    assert len({r["settings"] for r in study[2]}) == 1


def test_reproduce__every_point_resolves_the_asked_trials(study):
    for row in study[2]:
        assert int(row["trials"]) == TRIALS


def test_reproduce__success_lies_in_its_interval(study):
    for row in study[2]:
        lo, value, hi = (float(row[k]) for k in ("success_lo", "success", "success_hi"))
        assert 0.0 <= lo <= value <= hi <= 1.0, _key(row)
        lo, value, hi = (float(row[k]) for k in ("attempts_lo", "attempts", "attempts_hi"))
        assert lo <= value <= hi, _key(row)


def test_reproduce__no_cache_rows_agree_with_closed_form(study):
    rows = [r for r in study[2] if int(r["cache"]) == 0]
    assert len(rows) == 4
    for row in rows:
        exact = float(row["analytic_success"])
        standard_error = math.sqrt(exact * (1 - exact) / int(row["trials"]))
        assert abs(float(row["success"]) - exact) < 3 * standard_error, _key(row)
        attempts_se = (float(row["attempts_hi"]) - float(row["attempts_lo"])) / (2 * 1.96)
        assert abs(float(row["attempts"]) - float(row["analytic_attempts"])) < 3 * attempts_se, _key(row)


def test_reproduce__p_pair_and_k_follow_the_config(study):
    for row in study[2]:
        n = int(row["n_qpus"])
        config = PAPER.replace(n_qpus=n)
        assert float(row["p_pair"]) == pytest.approx(float(config.p_pair(0, min(1, n - 1))), rel=1e-5)
        expected_k = config.k_parallel if row["policy"] == "log-parallel" else 1
        assert int(row["k"]) == expected_k
    by_n = {int(r["n_qpus"]): float(r["p_pair"]) for r in study[2]}
    assert by_n[1] == pytest.approx(0.333, abs=5e-4)  # docs/model.md#paper-preset
    assert by_n[8] == pytest.approx(0.208, abs=5e-4)


def test_reproduce__sequential_baseline_never_uses_the_cache(study):
    rows = {_key(r): r for r in study[2]}
    for n in QPUS:
        off, on = rows[(n, "sequential", 0)], rows[(n, "sequential", 1)]
        assert float(on["cache_hit_rate"]) == 0.0
        p_on, p_off = float(on["success"]), float(off["success"])
        se = math.sqrt(p_on * (1 - p_on) / int(on["trials"]) + p_off * (1 - p_off) / int(off["trials"]))
        assert abs(p_on - p_off) <= 4 * se


def test_reproduce__log_parallel_cache_hits_and_no_closed_form_at_n8(study):
    row = {_key(r): r for r in study[2]}[(8, "log-parallel", 1)]
    assert float(row["cache_hit_rate"]) > 0.0
    assert math.isnan(float(row["analytic_success"]))
    assert math.isnan(float(row["analytic_attempts"]))


def test_reproduce__orchestrator_beats_baseline_at_n8(study):
    rows = {_key(r): r for r in study[2]}
    assert float(rows[(8, "log-parallel", 0)]["success_lo"]) > float(rows[(8, "sequential", 0)]["success_hi"])


# ---------------------------------------------------------------- the figure and the table


def test_reproduce__png_is_a_valid_non_trivial_image(study):
    data = (study[0] / "paper_reproduction.png").read_bytes()
    assert data[:8] == PNG_MAGIC
    assert len(data) > 10_000
    assert b"IEND" in data[-16:]


def test_reproduce__writes_nothing_else(study):
    assert sorted(p.name for p in study[0].iterdir()) == ["paper_reproduction.csv", "paper_reproduction.png"]


def test_reproduce__printed_table_lists_every_row(study):
    out, stdout, rows = study
    lines = [line for line in stdout.splitlines() if line.startswith("| ")]
    assert lines[0].startswith("| N | p | policy | cache |")
    body = [line for line in lines[1:] if not line.startswith("|---")]
    assert len(body) == 8
    for row in rows:
        cache = "on" if int(row["cache"]) else "off"
        pattern = rf"^\| {row['n_qpus']} \| [0-9.]+ \| {row['policy']} \| {cache} \| {float(row['success']):.3f} "
        assert any(re.match(pattern, line) for line in body), pattern
    nan_row = next(line for line in body if line.startswith("| 8 |") and "log-parallel | on" in line)
    assert nan_row.endswith("| - | - |")
    assert str(out / "paper_reproduction.csv") in stdout


def test_reproduce__paper_preset_prints_no_note(tmp_path, monkeypatch, study):
    monkeypatch.setattr(reproduce, "measure", _replay(study[2], []))
    _, stderr = _run([*ARGS, "--out", str(tmp_path)])
    assert "note:" not in stderr


# ---------------------------------------------------------------- --resume


def _replay(rows: list[dict], calls: list) -> callable:
    """A stand-in for ``measure`` that returns the study's row of the point, and logs it."""
    by_key = {_key(r): r for r in rows}

    def fake(config, point, trials, seed, progress=None):
        calls.append((point, seed))
        row = dict(by_key[(point.n_qpus, point.policy, int(point.cache))])
        row.pop("settings")
        return row

    return fake


def test_reproduce__resume_with_everything_done_recomputes_nothing(study, study_copy, monkeypatch):
    def must_not_run(*args, **kwargs):
        raise AssertionError("measure called on --resume with every row done")

    monkeypatch.setattr(reproduce, "measure", must_not_run)
    stdout, _ = _run([*ARGS, "--out", str(study_copy), "--resume"])
    assert read_csv(study_copy / "paper_reproduction.csv") == study[2]
    assert (study_copy / "paper_reproduction.png").read_bytes()[:8] == PNG_MAGIC
    assert stdout.count("| sequential |") == 4


def test_reproduce__resume_recomputes_only_missing_rows(study, study_copy, monkeypatch):
    csv = study_copy / "paper_reproduction.csv"
    lines = csv.read_text().splitlines()
    dropped = [lines[2], lines[7]]
    csv.write_text("\n".join(line for line in lines if line not in dropped) + "\n")
    calls: list = []
    monkeypatch.setattr(reproduce, "measure", _replay(study[2], calls))
    _run([*ARGS, "--out", str(study_copy), "--resume"])
    recomputed = {(p.n_qpus, p.policy, int(p.cache)) for p, _ in calls}
    expected = set()
    for line in dropped:
        n, policy, cache = line.split(",")[:3]
        expected.add((int(n), policy, int(cache)))
    assert len(calls) == 2
    assert recomputed == expected
    assert len(read_csv(csv)) == 8


def test_reproduce__without_resume_recomputes_everything(study, study_copy, monkeypatch):
    calls: list = []
    monkeypatch.setattr(reproduce, "measure", _replay(study[2], calls))
    _run([*ARGS, "--out", str(study_copy)])
    assert len(calls) == 8


def test_reproduce__resume_with_another_seed_recomputes_everything(study, study_copy, monkeypatch):
    calls: list = []
    monkeypatch.setattr(reproduce, "measure", _replay(study[2], calls))
    _run([*ARGS, "--out", str(study_copy), "--resume", "--seed", "7"])
    assert len(calls) == 8
    assert {seed for _, seed in calls} == {7}
    new_settings = {r["settings"] for r in read_csv(study_copy / "paper_reproduction.csv")}
    assert len(new_settings) == 1
    assert new_settings != {study[2][0]["settings"]}


def test_reproduce__interrupted_run_resumes_to_the_same_table(study, tmp_path, monkeypatch):
    real_measure = reproduce.measure
    calls: list = []

    def dies_after_three(config, point, trials, seed, progress=None):
        if len(calls) == 3:
            raise KeyboardInterrupt
        calls.append(point)
        return real_measure(config, point, trials, seed, progress)

    monkeypatch.setattr(reproduce, "measure", dies_after_three)
    with pytest.raises(SystemExit) as excinfo:  # Ctrl-C: "interrupted", exit code 130, no traceback
        _run([*ARGS, "--out", str(tmp_path)])
    assert excinfo.value.code == 130
    partial = read_csv(tmp_path / "paper_reproduction.csv")
    assert len(partial) == 3  # the CSV is written after every point
    assert not (tmp_path / "paper_reproduction.png").exists()

    resumed: list = []

    def counting(config, point, trials, seed, progress=None):
        resumed.append(point)
        return real_measure(config, point, trials, seed, progress)

    monkeypatch.setattr(reproduce, "measure", counting)
    _run([*ARGS, "--out", str(tmp_path), "--resume"])
    assert len(resumed) == 5
    assert not set(resumed) & set(calls)
    assert read_csv(tmp_path / "paper_reproduction.csv") == study[2]  # same seed, same numbers


def test_reproduce__other_preset_notes_it_and_rounds_trials_up_to_whole_episodes(tmp_path):
    _, stderr = _run([
        "reproduce", "--qpus", "1", "--trials", "50", "--set", "episode_requests=20",
        "--out", str(tmp_path), "--quiet",
    ])
    assert "note:" in stderr and "episode_requests" in stderr
    rows = read_csv(tmp_path / "paper_reproduction.csv")
    assert len(rows) == 4
    trials = {int(r["cache"]): int(r["trials"]) for r in rows}
    assert trials == {1: 60, 0: 50}  # cache on: 3 episodes of 20; off: 50 independent requests


def test_reproduce__n_qpus_zero_exits_cleanly(tmp_path):
    err = io.StringIO()
    with pytest.raises(SystemExit) as excinfo, contextlib.redirect_stderr(err):
        main(["reproduce", "--qpus", "0", "--trials", "10", "--out", str(tmp_path), "--quiet"])
    assert excinfo.value.code == 1
    assert err.getvalue().startswith("error: ") and "n_qpus" in err.getvalue()
    assert len(err.getvalue().strip().splitlines()) == 1


# ---------------------------------------------------------------- pieces


def test_points__every_n_policy_and_cache_in_order():
    got = reproduce.points((1, 4))
    assert [(p.n_qpus, p.policy, p.cache) for p in got] == [
        (1, "sequential", False), (1, "sequential", True),
        (1, "log-parallel", False), (1, "log-parallel", True),
        (4, "sequential", False), (4, "sequential", True),
        (4, "log-parallel", False), (4, "log-parallel", True),
    ]


def test_point_config__cache_off_sets_capacity_zero():
    base = PAPER.replace(cache_capacity=77)
    off = reproduce.point_config(base, reproduce.Point(8, "log-parallel", False), 2500)
    on = reproduce.point_config(base, reproduce.Point(8, "log-parallel", True), 2500)
    assert off.cache_capacity == 0 and off.cache_size == 0
    assert on.cache_capacity == 77
    assert off.n_qpus == on.n_qpus == 8


@pytest.mark.parametrize(("trials", "expected"), [(300, 300), (2500, 2500), (10_000, 2500), (1, 1)])
def test_point_config__caps_episode_requests_at_trials(trials, expected):
    config = reproduce.point_config(PAPER, reproduce.Point(4, "sequential", True), trials)
    assert config.episode_requests == expected


def test_point_config__keeps_every_other_field():
    base = PAPER.replace(round_budget=5, p_bsm=0.4)
    config = reproduce.point_config(base, reproduce.Point(32, "sequential", False), 100)
    changed = {k for k, v in config.to_dict().items() if base.to_dict()[k] != v}
    assert changed == {"n_qpus", "cache_capacity", "episode_requests"}


@pytest.mark.parametrize("n", reproduce.PAPER_QPUS)
def test_analytic__equals_physics_closed_forms_on_the_paper_preset(n):
    config = PAPER.replace(n_qpus=n, cache_capacity=0)
    p = float(config.p_pair(0, min(1, n - 1)))
    k = physics.parallel_attempts(n)
    success, attempts = reproduce.analytic(config, "sequential")
    assert success == pytest.approx(float(physics.sequential_success(p, 3)), rel=1e-12)
    assert attempts == pytest.approx(float(physics.sequential_mean_attempts(p, 3)), rel=1e-12)
    success, attempts = reproduce.analytic(config, "log-parallel")
    assert success == pytest.approx(float(physics.parallel_success(p, 3, k)), rel=1e-12)
    assert attempts == pytest.approx(float(physics.parallel_mean_attempts(p, 3, k)), rel=1e-12)


def test_analytic__matches_model_md_table():
    """docs/model.md#headline-numbers, N = 1 and 128: sequential about .71 and .30, orchestrated about .91."""
    one = PAPER.replace(n_qpus=1, cache_capacity=0)
    big = PAPER.replace(n_qpus=128, cache_capacity=0)
    assert reproduce.analytic(one, "sequential")[0] == pytest.approx(0.70, abs=0.015)
    assert reproduce.analytic(big, "sequential")[0] == pytest.approx(0.30, abs=0.015)
    assert reproduce.analytic(big, "sequential")[1] == pytest.approx(2.69, abs=0.02)
    assert reproduce.analytic(big, "log-parallel")[0] == pytest.approx(0.91, abs=0.02)


def test_analytic__log_parallel_with_cache_has_no_closed_form_when_k_above_one():
    assert all(math.isnan(x) for x in reproduce.analytic(PAPER.replace(n_qpus=8), "log-parallel"))
    # k(N) = 1: nothing is ever surplus, so the cache never fills and the closed form holds
    one = reproduce.analytic(PAPER.replace(n_qpus=2), "log-parallel")
    assert one == reproduce.analytic(PAPER.replace(n_qpus=2), "sequential")
    assert all(math.isfinite(x) for x in one)
    # the sequential baseline ignores the cache
    assert all(math.isfinite(x) for x in reproduce.analytic(PAPER.replace(n_qpus=8), "sequential"))


def test_analytic__averages_over_uniform_pairs_of_heterogeneous_spokes():
    config = HubConfig(n_qpus=4, fibre_km=1.0, fibre_km_max=30.0, cache_capacity=0)
    a, b = np.triu_indices(4, k=1)
    p = config.p_pair(a, b)
    assert len(set(np.round(p, 12))) > 1
    success, attempts = reproduce.analytic(config, "sequential")
    assert success == pytest.approx(float(np.mean(1 - (1 - p) ** 3)), rel=1e-12)
    assert attempts == pytest.approx(float(np.mean((1 - (1 - p) ** 3) / p)), rel=1e-12)


def test_settings_id__depends_on_config_trials_and_seed():
    base = reproduce.settings_id(PAPER, 300, 0)
    assert re.fullmatch(r"[0-9a-f]{12}", base)
    assert reproduce.settings_id(HubConfig(), 300, 0) == base
    others = {
        reproduce.settings_id(PAPER, 300, 1),
        reproduce.settings_id(PAPER, 301, 0),
        reproduce.settings_id(PAPER.replace(round_budget=4), 300, 0),
    }
    assert base not in others and len(others) == 3


def test_point_config__no_cache_splits_trials_into_short_episodes():
    base = HubConfig()
    off = reproduce.point_config(base, reproduce.Point(8, "log-parallel", False), 100_000)
    on = reproduce.point_config(base, reproduce.Point(8, "log-parallel", True), 100_000)
    assert off.episode_requests == math.ceil(100_000 / reproduce.BATCH)
    assert on.episode_requests == base.episode_requests
