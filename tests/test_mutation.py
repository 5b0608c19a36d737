"""The mutation-testing script's options and report (mutmut itself is not run here)."""

from __future__ import annotations

import pytest

from train import mutation


def test_parse_args__defaults_to_the_seven_modules_with_their_own_tests():
    args = mutation.parse_args([])
    assert args.modules == list(mutation.DEFAULT_MODULES)
    assert args.test_map["agents/dp.py"] == ("tests/test_dp.py", "tests/test_agent_values.py")
    assert args.max_children == 2 and not args.report_only


def test_default_tests__every_selected_test_exists():
    """A renamed test would silently drop out of a module's selection: every file and
    test function named there must exist."""
    for module, tests in mutation.DEFAULT_TESTS.items():
        for test in tests:
            path, _, name = test.partition("::")
            source = (mutation.REPO / path).read_text()
            if name:
                assert f"def {name.split('[')[0]}(" in source, f"{module}: {test}"


def test_default_tests__the_kernels_selection_names_the_play_autoreset_and_cache_tests():
    """The fused Monte Carlo (``play_rows``), autoreset and the cache's folders are called
    by no value test of the core: the kernels' selection names the tests that call them."""
    selection = " ".join(mutation.DEFAULT_TESTS["modenhub_env/kernels.py"])
    for name in ("test_play__", "test_advance__autoreset", "test_cache_writable__", "test_cache_folders__"):
        assert name in selection, name


def test_parse_args__tests_option_maps_a_new_module(tmp_path):
    args = mutation.parse_args(["modenhub_env/core.py", "--tests", "modenhub_env/core.py=tests/test_core.py,tests/test_env.py"])
    assert args.modules == ["modenhub_env/core.py"]
    assert args.test_map["modenhub_env/core.py"] == ("tests/test_core.py", "tests/test_env.py")


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["no/such.py"], "MODULE must be a .py file of the repository, got 'no/such.py'"),
        (["--tests", "agents/dp.py"], "--tests must be MODULE=TEST[,TEST...], got 'agents/dp.py'"),
        (["--max-children", "0"], "--max-children must be a positive integer, got 0"),
        (["--report-only"], "--report-only needs the --workdir of an earlier run with --keep-workdir"),
    ],
)
def test_parse_args__bad_options_name_the_option(argv, message, capsys):
    with pytest.raises(SystemExit):
        mutation.parse_args(argv)
    assert message in capsys.readouterr().err


def test_render_report__counts_and_explains_survivors():
    result = mutation.ModuleResult("agents/dp.py", ("tests/test_dp.py",), 90.0)
    result.status = {"m__mutmut_1": "killed", "m__mutmut_2": "timeout", "m__mutmut_3": "survived",
                     "m__mutmut_10": "no tests"}
    result.diffs = {"m__mutmut_3": "-    a = 1\n+    a = 2", "m__mutmut_10": "-    b\n+    c"}
    text = mutation.render_report([result], {"m__mutmut_3": "Equivalent: a is never read."}, "python -m train.mutation")
    assert "| `agents/dp.py` | 4 | 2 | 2 | 0 | 50.0 | 1.5 | `tests/test_dp.py` |" in text
    assert "1.5 min in all." in text
    assert "Unexplained survivors: 1." in text
    assert "- `m__mutmut_3` (survived): Equivalent: a is never read." in text
    assert "- `m__mutmut_10` (no tests): **unexplained**" in text
    assert text.index("m__mutmut_3`") < text.index("m__mutmut_10`")  # natural order


def test_render_report__an_unfinished_run_shows_its_unchecked_mutants():
    result = mutation.ModuleResult("modenhub_env/kernels.py", ("tests/test_core.py",), float("nan"))
    result.status = {"m__mutmut_1": "killed", "m__mutmut_2": "not checked", "m__mutmut_3": "killed",
                     "m__mutmut_4": "not checked"}
    done = mutation.ModuleResult("agents/dp.py", ("tests/test_dp.py",), 30.0, {"m__mutmut_1": "killed"})
    text = mutation.render_report([done, result], {}, "python -m train.mutation")
    assert "| `modenhub_env/kernels.py` | 4 | 2 | 0 | 2 | 100.0 | - | `tests/test_core.py` |" in text
    assert "0.5 min in all (and the unfinished run of `modenhub_env/kernels.py`, stopped before every" in text
    assert "Unexplained survivors: 0." in text


def test_strip_jit__drops_only_numbas_decorator_lines(tmp_path):
    """mutmut 3 skips decorated functions: the copy of the kernels loses its ``@njit``
    lines, and nothing else."""
    source = (mutation.REPO / "modenhub_env" / "kernels.py").read_text()
    copy = tmp_path / "kernels.py"
    copy.write_text(source)
    mutation._strip_jit(copy)
    stripped = copy.read_text().splitlines()
    original = source.splitlines()
    decorators = [line for line in original if line.startswith("@njit(")]
    assert len(decorators) > 40
    assert [line for line in original if not line.startswith("@njit(")] == stripped
    assert "modenhub_env/kernels.py" in mutation.DEFAULT_MODULES


def test_run_module__only_checks_the_named_mutants_and_counts_them_alone(tmp_path, monkeypatch):
    calls = []
    listing = "m.x_f__mutmut_1: killed\nm.x_f__mutmut_2: survived\nm.x_g__mutmut_1: not checked\n"

    def fake_run(command, **kwargs):
        calls.append(command)
        return type("Done", (), {"returncode": 0, "stdout": listing if "results" in command else "", "stderr": ""})()

    monkeypatch.setattr(mutation, "_copy_repo", lambda target: (target / "modenhub_env").mkdir(parents=True))
    monkeypatch.setattr(mutation, "_strip_jit", lambda path: None)
    monkeypatch.setattr(mutation.subprocess, "run", fake_run)
    args = mutation.parse_args(["modenhub_env/physics.py", "--only", "m.x_f__mutmut_*"])
    assert args.only == ["m.x_f__mutmut_*"]
    result = mutation.run_module("modenhub_env/physics.py", ("tests/test_physics.py",), tmp_path, 1, only=tuple(args.only))
    assert calls[0][-4:] == ["run", "--max-children", "1", "m.x_f__mutmut_*"]
    assert result.status == {"m.x_f__mutmut_1": "killed", "m.x_f__mutmut_2": "survived"}
    full = mutation.run_module("modenhub_env/physics.py", ("tests/test_physics.py",), tmp_path / "full", 1)
    assert calls[-3][-3:] == ["run", "--max-children", "1"] and full.status["m.x_g__mutmut_1"] == "not checked"


def test_recheck_module__checks_again_only_what_the_earlier_run_did_not_kill(tmp_path, monkeypatch):
    module = "modenhub_env/physics.py"
    earlier = tmp_path / "earlier" / module.replace("/", "__")
    for folder in ("modenhub_env", "mutants"):
        (earlier / folder).mkdir(parents=True)
    (earlier / "mutation_seconds.txt").write_text("60.0\n")
    mutation.shutil.copy2(mutation.REPO / module, earlier / module)
    mutation._strip_jit(earlier / module)
    listings = {
        str(earlier): "m.x_f__mutmut_1: killed\nm.x_f__mutmut_2: survived\nm.x_f__mutmut_3: no tests\n"
                      "m.x_f__mutmut_4: timeout\n",
        "again": "m.x_f__mutmut_1: not checked\nm.x_f__mutmut_2: killed\nm.x_f__mutmut_3: survived\n"
                 "m.x_f__mutmut_4: not checked\n",
    }
    calls = []

    def fake_run(command, cwd=None, **kwargs):
        calls.append(command)
        listing = listings[str(cwd)] if str(cwd) == str(earlier) else listings["again"]
        return type("Done", (), {"returncode": 0, "stdout": listing if "results" in command else "", "stderr": ""})()

    def copy_module(target):
        (target / "modenhub_env").mkdir(parents=True)
        mutation.shutil.copy2(mutation.REPO / module, target / module)

    monkeypatch.setattr(mutation, "_copy_repo", copy_module)
    monkeypatch.setattr(mutation.subprocess, "run", fake_run)
    result = mutation.recheck_module(module, ("tests/test_physics.py",), tmp_path / "earlier", tmp_path / "now", 1)
    runs = [c for c in calls if "run" in c]
    assert runs == [[*runs[0][:3], "run", "--max-children", "1", "m.x_f__mutmut_2", "m.x_f__mutmut_3"]]
    assert result.status == {"m.x_f__mutmut_1": "killed", "m.x_f__mutmut_2": "killed",
                             "m.x_f__mutmut_3": "survived", "m.x_f__mutmut_4": "timeout"}
    assert result.survivors == ["m.x_f__mutmut_3"] and result.seconds > 60.0
    (earlier / module).write_text("# another source\n")
    with pytest.raises(RuntimeError, match="differs from the module now; --recheck needs the same source"):
        mutation.recheck_module(module, ("tests/test_physics.py",), tmp_path / "earlier", tmp_path / "again", 1)
