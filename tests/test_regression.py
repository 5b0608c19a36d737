"""Rollouts of every preset and workload against fingerprints pinned before the core was
compiled: the simulated numbers must not move (``tests/regression/scenarios.py``)."""

from __future__ import annotations

import json

import pytest

from tests.regression.scenarios import (
    FINGERPRINTS,
    SHORT_BATCH,
    SHORT_FINGERPRINTS,
    SHORT_STEPS,
    TRACE_ROWS,
    fingerprint,
    scenarios,
)

PINNED = json.loads(FINGERPRINTS.read_text())
PINNED_SHORT = json.loads(SHORT_FINGERPRINTS.read_text())


@pytest.fixture(scope="module")
def trace_path(tmp_path_factory) -> str:
    path = tmp_path_factory.mktemp("trace") / "trace.csv"
    path.write_text(TRACE_ROWS)
    return str(path)


@pytest.mark.parametrize("name", sorted(PINNED))
def test_rollout__matches_the_pinned_fingerprint(name: str, trace_path: str):
    config, policy = scenarios(trace_path)[name]
    got = fingerprint(config, policy)
    want = PINNED[name]
    assert got["totals"] == want["totals"]
    assert got["finished"] == want["finished"]
    assert got["digest"] == want["digest"]


@pytest.mark.parametrize("name", sorted(PINNED_SHORT))
def test_short_rollout__matches_the_pinned_fingerprint(name: str, trace_path: str):
    config, policy = scenarios(trace_path)[name]
    assert fingerprint(config, policy, SHORT_BATCH, SHORT_STEPS) == PINNED_SHORT[name]


def test_scenarios__every_pinned_scenario_still_exists(trace_path: str):
    assert set(scenarios(trace_path)) == set(PINNED) == set(PINNED_SHORT)
