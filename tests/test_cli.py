"""The ``modenhub`` command line: parser, help texts, ``--set`` overrides and bad input."""

from __future__ import annotations

import argparse
import math
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from modenhub_env.config import PRESETS, HubConfig, field_names
from train import options, reproduce
from train.cli import build_parser, main

SUBCOMMANDS = ("reproduce", "evaluate", "train", "compare", "convert", "sweep", "bench", "circuits", "render")
CONFIG_SUBCOMMANDS = ("reproduce", "evaluate", "train", "sweep", "render")  # those that take --preset and --set


def _subparsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return dict(action.choices)


def _help(argv: list[str], capsys) -> str:
    with pytest.raises(SystemExit) as excinfo:
        main(argv)
    assert excinfo.value.code == 0
    return capsys.readouterr().out


def _error(argv: list[str], capsys) -> str:
    """Run ``argv``, expect argparse's usage error (exit 2), return stderr."""
    with pytest.raises(SystemExit) as excinfo:
        main(argv)
    assert excinfo.value.code == 2
    return capsys.readouterr().err


# ---------------------------------------------------------------- --help


def test_cli_help__top_level_lists_every_subcommand(capsys):
    text = _help(["--help"], capsys)
    assert set(_subparsers(build_parser())) == set(SUBCOMMANDS)
    for name in SUBCOMMANDS:
        assert name in text
    assert "usage: modenhub" in text


@pytest.mark.parametrize("command", SUBCOMMANDS)
def test_cli_help__subcommand_mentions_every_option(command, capsys):
    text = _help([command, "--help"], capsys)
    sub = _subparsers(build_parser())[command]
    flags = [flag for action in sub._actions for flag in action.option_strings]
    assert len(flags) >= 4  # -h, --help and the subcommand's own options
    for flag in flags:
        assert flag in text, flag
    for action in sub._actions:
        assert action.help, f"--help does not explain {action.option_strings or action.dest}"
        if action.help != argparse.SUPPRESS:
            assert action.help.split()[0].strip("(") in text, action.dest


@pytest.mark.parametrize("command", CONFIG_SUBCOMMANDS)
def test_cli_help__subcommand_lists_presets_and_config_fields(command, capsys):
    text = " ".join(_help([command, "--help"], capsys).split())
    for preset in PRESETS:
        assert preset in text
    for name in field_names():
        assert name in text, name


@pytest.mark.parametrize(
    "argv",
    [
        pytest.param(["--help"], id="top"),
        pytest.param(["reproduce", "--help"], id="reproduce"),
        pytest.param(["evaluate", "--help"], id="evaluate"),
        pytest.param(["circuits", "--help"], id="circuits"),
    ],
)
def test_cli_help__shows_no_doubled_percent_signs(argv, capsys):
    assert "%%" not in _help(argv, capsys)


def test_cli__no_subcommand_is_a_usage_error(capsys):
    assert "COMMAND" in _error([], capsys)


def test_cli__console_script_runs():
    script = Path(sys.executable).parent / "modenhub"
    if not script.exists():
        script = Path(shutil.which("modenhub") or "modenhub")
    result = subprocess.run([str(script), "--help"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "reproduce" in result.stdout and "evaluate" in result.stdout


def test_cli__python_dash_m_runs_a_subcommand_help():
    result = subprocess.run(
        [sys.executable, "-m", "train.cli", "reproduce", "--help"], capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert "--resume" in result.stdout


# ---------------------------------------------------------------- defaults


def test_cli_defaults__reproduce_is_the_paper_study():
    args = build_parser().parse_args(["reproduce"])
    assert args.preset == "paper"
    assert tuple(args.qpus) == reproduce.PAPER_QPUS
    assert args.trials == 2500 and args.seed == 0 and not args.resume and not args.quiet
    assert args.out is None and args.overrides == []  # a fresh runs/ folder
    assert options.config_from(args) == PRESETS["paper"]


def test_cli_defaults__evaluate_is_the_contention_scenario():
    args = build_parser().parse_args(["evaluate"])
    assert args.preset == "contention"
    assert args.policies.split(",") == ["sequential", "log-parallel", "deadline"]
    assert args.episodes == 20 and args.seed == 10_000 and args.tag is None
    assert options.config_from(args) == PRESETS["contention"]


def test_config_from__applies_overrides_in_order():
    args = build_parser().parse_args(
        ["evaluate", "--preset", "hotspot", "--set", "n_qpus=8", "--set", "t_coh=40", "--set", "n_qpus=12"]
    )
    assert options.config_from(args) == HubConfig.preset("hotspot", n_qpus=12, t_coh=40)


# ---------------------------------------------------------------- parse_override


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("n_qpus=8", ("n_qpus", 8)),
        ("p_bsm=0.45", ("p_bsm", 0.45)),
        ("w_attempt=1e-2", ("w_attempt", 0.01)),
        ("cutoff=none", ("cutoff", None)),
        ("cutoff=None", ("cutoff", None)),
        ("max_attempts_per_round=null", ("max_attempts_per_round", None)),
        ("fibre_km=[1, 2.5, 3]", ("fibre_km", (1, 2.5, 3))),
        ("workload=poisson", ("workload", "poisson")),
        ("trace_path=traces/run 1.csv", ("trace_path", "traces/run 1.csv")),
        (" round_budget = 5 ", ("round_budget", 5)),
        ("trace_path=a=b", ("trace_path", "a=b")),
    ],
)
def test_parse_override__parses_values(text, expected):
    name, value = options.parse_override(text)
    assert (name, value) == expected
    assert type(value) is type(expected[1])


@pytest.mark.parametrize("text", ["t_coh=inf", "t_coh=INF", "t_coh=Infinity"])
def test_parse_override__inf_is_infinity(text):
    name, value = options.parse_override(text)
    assert name == "t_coh"
    assert isinstance(value, float) and math.isinf(value) and value > 0


def test_parse_override__list_becomes_tuple_a_config_accepts():
    name, value = options.parse_override("fibre_km=[1, 2, 3, 4]")
    assert isinstance(value, tuple)
    assert HubConfig(n_qpus=4, **{name: value}).spoke_km.tolist() == [1, 2, 3, 4]


def test_parse_override__unknown_field_is_named():
    with pytest.raises(argparse.ArgumentTypeError) as excinfo:
        options.parse_override("n_qbits=4")
    message = str(excinfo.value)
    assert "'n_qbits' (did you mean 'n_qpus'?)" in message
    assert "allowed: n_qpus, p_bsm," in message  # the allowed names are listed


def test_config_from__unknown_field_exits_with_one_line():
    args = argparse.Namespace(preset="paper", overrides=[("n_qbits", 4)])
    with pytest.raises(SystemExit) as excinfo:
        options.config_from(args)
    message = str(excinfo.value.code)
    assert message.startswith("error: HubConfig got an unexpected keyword argument 'n_qbits'")
    assert "\n" not in message


def test_parse_override__missing_equals_is_rejected():
    with pytest.raises(argparse.ArgumentTypeError) as excinfo:
        options.parse_override("n_qpus")
    message = str(excinfo.value)
    assert "FIELD=VALUE" in message and "n_qpus" in message


@pytest.mark.parametrize("command", CONFIG_SUBCOMMANDS)
def test_cli_set__unknown_field_is_a_usage_error(command, capsys):
    err = _error([command, "--set", "bogus_field=1"], capsys)
    assert "--set" in err and "bogus_field" in err


@pytest.mark.parametrize("command", CONFIG_SUBCOMMANDS)
def test_cli_set__out_of_range_value_names_field_and_range(command, tmp_path):
    with pytest.raises(SystemExit) as excinfo:
        main([command, "--set", "k_max=0", "--quiet", "--out", str(tmp_path)])
    message = str(excinfo.value.code)
    assert message.startswith("error:")
    assert "k_max" in message and "[1, 1024]" in message and "0" in message
    assert not list(tmp_path.iterdir())


def test_cli_set__wrong_type_names_field(tmp_path):
    with pytest.raises(SystemExit) as excinfo:
        main(["reproduce", "--set", "round_budget=soon", "--quiet", "--out", str(tmp_path)])
    assert "round_budget" in str(excinfo.value.code)


# ---------------------------------------------------------------- --qpus, --trials, --episodes, --preset


def test_int_list__parses_comma_separated_integers():
    assert options.int_list("1,2,4") == (1, 2, 4)
    assert options.int_list(" 8 , 16,") == (8, 16)


@pytest.mark.parametrize("text", ["1,x", "", ",", "1.5", "one"])
def test_int_list__rejects_non_integers(text):
    with pytest.raises(argparse.ArgumentTypeError):
        options.int_list(text)


def test_cli_qpus__non_integer_is_a_usage_error(capsys):
    err = _error(["reproduce", "--qpus", "1,x"], capsys)
    assert "--qpus" in err and "1,x" in err


@pytest.mark.parametrize(("text", "value"), [("1", 1), ("2500", 2500)])
def test_positive_int__accepts_positive(text, value):
    assert options.positive_int(text) == value


@pytest.mark.parametrize("text", ["0", "-3", "2.5", "many"])
def test_positive_int__rejects_others(text):
    with pytest.raises(argparse.ArgumentTypeError, match="positive integer"):
        options.positive_int(text)


@pytest.mark.parametrize(
    ("argv", "flag"),
    [
        (["reproduce", "--trials", "0"], "--trials"),
        (["reproduce", "--trials", "-5"], "--trials"),
        (["evaluate", "--episodes", "0"], "--episodes"),
        (["evaluate", "--seed", "x"], "--seed"),
        (["evaluate", "--preset", "nowhere"], "--preset"),
    ],
)
def test_cli__bad_option_value_is_a_usage_error(argv, flag, capsys):
    assert flag in _error(argv, capsys)


# ---------------------------------------------------------------- one-line errors, --debug, fresh output folders


def _fails(argv: list[str], capsys) -> str:
    """Run ``argv``, expect the one-line error exit (code 1, no traceback); return the line."""
    with pytest.raises(SystemExit) as excinfo:
        main(argv)
    assert excinfo.value.code == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and err.startswith("error: ") and "Traceback" not in err, err
    return err


TINY_EVALUATE = ["evaluate", "--policies", "deadline", "--episodes", "1", "--set", "episode_rounds=8", "--quiet"]


def test_cli_errors__a_missing_extra_names_the_install_line(tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "torch", None)  # as after the README's main-job install
    err = _fails(["train", "--out", str(tmp_path), "--quiet"], capsys)
    assert "`modenhub train` needs the 'train' extra" in err
    assert "pip install -c constraints/cpu.txt -e '.[train]'" in err


@pytest.mark.parametrize("position", ["before", "after"])
def test_cli_errors__debug_shows_the_traceback(tmp_path, monkeypatch, position):
    monkeypatch.setitem(sys.modules, "torch", None)
    argv = ["train", "--out", str(tmp_path), "--quiet"]
    argv = ["--debug", *argv] if position == "before" else [*argv, "--debug"]
    with pytest.raises(ModuleNotFoundError):
        main(argv)


def test_cli_errors__an_unusable_out_is_refused_before_any_work(tmp_path, capsys):
    blocker = tmp_path / "a_file"
    blocker.write_text("not a folder")
    err = _fails([*TINY_EVALUATE, "--out", str(blocker / "results")], capsys)
    assert f"--out {blocker / 'results'}: cannot write there" in err
    assert capsys.readouterr().out == ""  # no table: nothing ran


@pytest.mark.parametrize(
    ("argv", "field", "workload"),
    [
        (["evaluate", "--preset", "contention", "--set", "episode_requests=5"], "episode_requests", "poisson"),
        (["evaluate", "--preset", "contention", "--set", "trace_path=x.csv"], "trace_path", "poisson"),
        (["reproduce", "--set", "arrival_rate=2"], "arrival_rate", "sequential"),
        (["train", "--preset", "paper", "--set", "queue_capacity=4"], "queue_capacity", "sequential"),
    ],
)
def test_cli_set__a_field_the_workload_ignores_is_an_error(argv, field, workload, tmp_path):
    with pytest.raises(SystemExit) as excinfo:
        main([*argv, "--out", str(tmp_path / "out"), "--quiet"])
    message = str(excinfo.value.code)
    assert message.startswith(f"error: --set {field}: workload '{workload}' ignores it")
    assert not (tmp_path / "out").exists()


def test_cli_set__a_field_the_set_workload_reads_is_accepted():
    args = build_parser().parse_args(["evaluate", "--preset", "paper", "--set", "workload=poisson",
                                      "--set", "episode_rounds=8", "--set", "arrival_rate=2"])
    assert options.config_from(args).arrival_rate == 2


def test_cli_reproduce__set_n_qpus_is_an_error_pointing_to_qpus(tmp_path, capsys):
    err = _fails(["reproduce", "--set", "n_qpus=5", "--out", str(tmp_path), "--quiet"], capsys)
    assert "--set n_qpus" in err and "--qpus" in err


def test_cli_reproduce__resume_needs_out(capsys):
    assert "--resume needs --out" in _fails(["reproduce", "--resume", "--quiet"], capsys)


def test_cli_evaluate__a_missing_model_path_is_one_line(tmp_path, capsys):
    missing = tmp_path / "nowhere" / "model.safetensors"
    err = _fails(["evaluate", "--policies", f"deadline,{missing}", "--out", str(tmp_path / "out")], capsys)
    assert f"{missing}: no such model file" in err


def test_cli_evaluate__an_sb3_zip_is_refused_naming_the_flag(tmp_path, capsys):
    import zipfile

    path = tmp_path / "model.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("data", "{}")
    err = _fails(["evaluate", "--policies", str(path), "--out", str(tmp_path / "out")], capsys)
    assert "refused" in err and "--trust-pickle" in err and "modenhub convert" in err


def test_cli_train__an_existing_run_and_a_bad_resume_path_are_one_line(tmp_path, capsys):
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "config.json").write_text("{}")
    err = _fails(["train", "--out", str(tmp_path), "--run-name", "taken", "--quiet", "--preset", "paper"], capsys)
    assert "taken already holds a run; continue it with --resume" in err
    err = _fails(["train", "--resume", str(tmp_path / "nowhere")], capsys)
    assert "--resume" in err and "nowhere: no such folder" in err


def test_cli_evaluate__writes_to_a_fresh_folder_by_default_and_says_where(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    printed = []
    for _ in range(2):
        main(TINY_EVALUATE)
        printed.append(capsys.readouterr().out)
    folders = sorted((tmp_path / "runs").iterdir())
    assert len(folders) == 2 and all(f.name.startswith("evaluate-") for f in folders)
    for folder, out in zip(folders, sorted(printed, key=lambda text: text.rsplit("wrote ", 1)[1]), strict=True):
        assert (folder / "evaluation_contention.csv").is_file()
        assert f"wrote runs/{folder.name}/evaluation_contention.csv" in out
    assert not (tmp_path / "results").exists()
