"""Policies by name, so that scripts and benchmarks pick one from the command line."""

from __future__ import annotations

import warnings
from typing import Any

from agents.base import Policy
from agents.dp import SingleRequestDPPolicy
from agents.heuristics import (
    CriticalPathPolicy,
    DeadlinePolicy,
    LogParallelPolicy,
    PrefetchValuePolicy,
    SequentialPolicy,
)
from agents.random_policy import RandomPolicy
from modenhub_env.config import HubConfig

POLICIES: dict[str, type[Policy]] = {
    "sequential": SequentialPolicy,
    "log-parallel": LogParallelPolicy,
    "deadline": DeadlinePolicy,
    "random": RandomPolicy,
    "single-request-dp": SingleRequestDPPolicy,
    "critical-path": CriticalPathPolicy,
    "prefetch-value": PrefetchValuePolicy,
}

#: Former policy names -> their names now; still accepted, with one ``DeprecationWarning``.
DEPRECATED_NAMES = {"dp-optimal": "single-request-dp"}
_warned: set[str] = set()


class DeprecatedPolicyName(DeprecationWarning):
    """A policy was named by a former name (:data:`DEPRECATED_NAMES`); the ``modenhub``
    command shows it, where Python hides other ``DeprecationWarning``s."""


def canonical_name(name: str) -> str:
    """``name``, or the name now of a former one (``"dp-optimal"`` -> ``"single-request-dp"``),
    which warns once per process (:class:`DeprecatedPolicyName`)."""
    new = DEPRECATED_NAMES.get(name)
    if new is None:
        return name
    if name not in _warned:
        _warned.add(name)
        warnings.warn(f"policy name {name!r} is deprecated, use {new!r}: the single-request DP is the optimum "
                      "only for one request at a time (docs/model.md#single-request-dp)",
                      DeprecatedPolicyName, stacklevel=3)
    return new


def make_policy(name: str, config: HubConfig, **kwargs: Any) -> Policy:
    """The policy registered as ``name``, built for ``config`` with its keyword arguments
    (e.g. ``make_policy("deadline", cfg, target=0.95)``, ``make_policy("random", cfg, seed=0)``)."""
    name = canonical_name(name)
    if name not in POLICIES:
        raise ValueError(f"unknown policy {name!r}; allowed: {sorted(POLICIES)}")
    return POLICIES[name](config, **kwargs)
