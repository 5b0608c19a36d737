"""The soak and fuzz harness (``train/soak.py``), small: every invariant holds over every
scenario, face and policy; random configs give a working env or a one-line ValueError;
and the checks do catch a broken invariant."""

from __future__ import annotations

import numpy as np
import pytest

from modenhub_env.vector_env import ModEnHubVectorEnv
from train import soak


def test_soak__a_small_run_keeps_every_invariant_on_every_scenario():
    report = soak.run(steps=60_000, configs=0, batch=128, seed=3, progress=False, chunk=8)
    assert report.failures == {}, report.examples
    assert report.steps >= 60_000
    assert set(report.steps_by_scenario) == {"paper", "contention", "decoherence", "decoherence-short", "hotspot", "trace"}


def test_fuzz__random_configs_and_traces_work_or_give_a_one_line_value_error():
    report = soak.run(steps=0, configs=300, batch=1, seed=5, progress=False)
    assert report.failures == {}, report.examples
    assert report.cases == 300 == report.working + report.rejected
    assert report.working > 20 and report.rejected > 20  # both outcomes are exercised


def _stepped(preset: str = "hotspot"):
    env = ModEnHubVectorEnv(8, preset=preset)
    obs, _ = env.reset(seed=0)
    for _ in range(30):
        obs, reward, _, _, info = env.step(np.ones((8, env.core.n_slots), dtype=np.int64))
    return env, obs, reward, info


def test_check_invariants__hold_after_ordinary_steps():
    env, obs, reward, info = _stepped()
    assert soak.check_invariants(env.core, obs, reward, info) == []


@pytest.mark.parametrize(
    ("breaking", "problem"),
    [
        (lambda core, obs, info: core.state.totals["arrived"].__iadd__(1), "arrived != served"),
        (lambda core, obs, info: core.state.latency_hist.__setitem__((0, 0), 10**6), "latency histogram"),
        (lambda core, obs, info: core.state.c_pair.__setitem__((0, slice(0, 3)), 7), "cache_per_pair"),
        (lambda core, obs, info: core.state.c_birth.__setitem__((0, slice(None)), core.state.round[0] + 100), "cached ebit fidelity"),
        (lambda core, obs, info: obs.__setitem__((0, 0), np.nan), "observation"),
        (lambda core, obs, info: info["cache_hits"].__setitem__(0, info["served"][0] + 1), "more cache hits"),
        (lambda core, obs, info: info["attempts"].__setitem__(0, 10**6), "hub capacity"),
    ],
)
def test_check_invariants__catch_a_broken_invariant(breaking, problem):
    env, obs, reward, info = _stepped("decoherence")
    if problem == "cached ebit fidelity":
        env.core.state.c_pair[0, 0] = 1  # a cached ebit to age
    breaking(env.core, obs, info)  # in place, as the core's contract allows
    assert any(problem in broken for broken in soak.check_invariants(env.core, obs, reward, info))


def test_fuzz_case__an_exception_other_than_value_error_is_a_failure(monkeypatch, tmp_path):
    class Broken:
        def __init__(self, *args, **kwargs):
            raise TypeError("boom")

    monkeypatch.setattr(soak, "ModEnHubVectorEnv", Broken)
    monkeypatch.setattr(soak.HubConfig, "preset", staticmethod(lambda name, **overrides: soak.HubConfig()))
    report = soak.Report()
    soak.fuzz_case(np.random.default_rng(0), tmp_path, 0, report)
    assert report.failures == {"fuzz: TypeError": 1}


def test_soak_cli__help_and_a_tiny_run(capsys, tmp_path):
    with pytest.raises(SystemExit) as excinfo:
        soak.main(["--help"])
    assert excinfo.value.code == 0 and "--steps" in capsys.readouterr().out
    assert soak.main(["--steps", "0", "--configs", "5", "--quiet", "--json", str(tmp_path / "r.json")]) == 0
    assert '"cases": 5' in (tmp_path / "r.json").read_text()
