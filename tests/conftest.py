"""Test-wide settings: Hypothesis draws the same examples on every machine.

The default profile, ``derandomized``, seeds Hypothesis from each test's own source, so
CI and a local run try the same examples, and a failure prints its example and the
``@reproduce_failure`` blob. Set ``HYPOTHESIS_PROFILE=explore`` to draw fresh random
examples instead (e.g. to hunt for new counterexamples locally).
"""

from __future__ import annotations

import os

from hypothesis import settings

settings.register_profile("derandomized", derandomize=True, print_blob=True, database=None)
settings.register_profile("explore", print_blob=True)

_PROFILES = ("derandomized", "explore")
_profile = os.environ.get("HYPOTHESIS_PROFILE", "derandomized")
if _profile not in _PROFILES:
    raise ValueError(f"HYPOTHESIS_PROFILE must be one of {_PROFILES}, got {_profile!r}")
settings.load_profile(_profile)
