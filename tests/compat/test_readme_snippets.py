"""The snippet reader itself: every library section of the README has its one snippet."""

from __future__ import annotations

import pytest

from tests.compat.readme import shell_commands, snippet

NAMES = ("gymnasium", "sb3", "torchrl", "zoo", "rllib")


@pytest.mark.parametrize("name", NAMES)
def test_snippet__each_library_has_exactly_one(name):
    language, code = snippet(name)
    assert language in ("python", "bash") and code.strip()


def test_snippet__unknown_name_raises():
    with pytest.raises(AssertionError, match="0 blocks marked 'compat: nope'"):
        snippet("nope")


def test_shell_commands__run_python_with_this_interpreter():
    import sys

    for argv in shell_commands("zoo"):
        assert argv[0] == sys.executable and argv[1:3] == ["-m", "rl_zoo3.train"]
