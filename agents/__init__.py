"""agents: handcrafted schedulers of the ModEn-Hub, behind SB3's ``predict`` interface.

``make_policy("log-parallel", config)`` builds one by name; each takes batched
``(B, obs_dim)`` (or single) observations and returns attempts per slot.
"""

from agents.base import Policy
from agents.dp import OptimalSingleRequestPolicy, dp_value_table
from agents.heuristics import (
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
    "DeadlinePolicy",
    "LogParallelPolicy",
    "ObservationView",
    "OptimalSingleRequestPolicy",
    "Policy",
    "PrefetchValuePolicy",
    "RandomPolicy",
    "SequentialPolicy",
    "attempts_for_target",
    "dp_value_table",
    "make_policy",
    "parse_observation",
]
