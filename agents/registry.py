"""Policies by name, so that scripts and benchmarks pick one from the command line."""

from __future__ import annotations

from typing import Any

from agents.base import Policy
from agents.dp import OptimalSingleRequestPolicy
from agents.heuristics import DeadlinePolicy, LogParallelPolicy, PrefetchValuePolicy, SequentialPolicy
from agents.random_policy import RandomPolicy
from modenhub_env.config import HubConfig

POLICIES: dict[str, type[Policy]] = {
    "sequential": SequentialPolicy,
    "log-parallel": LogParallelPolicy,
    "deadline": DeadlinePolicy,
    "random": RandomPolicy,
    "dp-optimal": OptimalSingleRequestPolicy,
    "prefetch-value": PrefetchValuePolicy,
}


def make_policy(name: str, config: HubConfig, **kwargs: Any) -> Policy:
    """The policy registered as ``name``, built for ``config`` with its keyword arguments
    (e.g. ``make_policy("deadline", cfg, target=0.95)``, ``make_policy("random", cfg, seed=0)``)."""
    if name not in POLICIES:
        raise ValueError(f"unknown policy {name!r}; allowed: {sorted(POLICIES)}")
    return POLICIES[name](config, **kwargs)
