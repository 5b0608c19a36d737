"""agents: handcrafted schedulers of the ModEn-Hub, behind SB3's ``predict`` interface.

``make_policy("log-parallel", config)`` builds one by name; each takes batched
``(B, obs_dim)`` (or single) observations and returns attempts per slot.
"""

from agents import dp as _dp
from agents.base import Policy
from agents.dp import SingleRequestDPPolicy, dp_value_table
from agents.heuristics import (
    CriticalPathPolicy,
    DeadlinePolicy,
    LogParallelPolicy,
    PrefetchValuePolicy,
    SequentialPolicy,
    attempts_for_target,
)
from agents.random_policy import RandomPolicy
from agents.registry import POLICIES, make_policy
from agents.view import ObservationView, parse_observation

__all__ = [
    "POLICIES",
    "CriticalPathPolicy",
    "DeadlinePolicy",
    "LogParallelPolicy",
    "ObservationView",
    "Policy",
    "PrefetchValuePolicy",
    "RandomPolicy",
    "SequentialPolicy",
    "SingleRequestDPPolicy",
    "attempts_for_target",
    "dp_value_table",
    "make_policy",
    "parse_observation",
]


def __getattr__(name: str) -> object:
    """Former names of ``agents.dp`` (``agents.dp.RENAMED``), with a ``DeprecationWarning``."""
    if name in _dp.RENAMED:
        return _dp.__getattr__(name, stacklevel=3)  # the warning points at the user's import
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
