"""The README's per-library snippets, so that the compatibility tests run the very text users copy.

A snippet is the fenced block right after a ``<!-- compat: NAME -->`` line of ``README.md``.
"""

from __future__ import annotations

import re
import shlex
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
INSTALL = "pip install -c constraints/cpu.txt -e '.[compat]'"


def snippet(name: str) -> tuple[str, str]:
    """``(language, code)`` of the README block marked ``<!-- compat: name -->``.

    :param name: the marker's name, e.g. ``"torchrl"``.
    """
    pattern = rf"<!-- compat: {re.escape(name)} -->\n```(\w+)\n(.*?)```"
    found = re.findall(pattern, README.read_text(), flags=re.DOTALL)
    if len(found) != 1:
        raise AssertionError(f"README.md has {len(found)} blocks marked 'compat: {name}', expected 1")
    return found[0]


def run_python_snippet(name: str) -> dict:
    """Execute a Python snippet in a fresh namespace; returns the namespace for checks."""
    language, code = snippet(name)
    assert language == "python", f"snippet {name!r} is {language}, not python"
    namespace: dict = {"__name__": f"readme_{name}"}
    exec(compile(code, f"README.md[compat: {name}]", "exec"), namespace)
    return namespace


def shell_commands(name: str) -> list[list[str]]:
    """A bash snippet's commands, one per line, as argv lists with ``python`` as this interpreter."""
    language, code = snippet(name)
    assert language == "bash", f"snippet {name!r} is {language}, not bash"
    commands = [shlex.split(line) for line in code.splitlines() if line.strip()]
    return [[sys.executable, *argv[1:]] if argv[0] == "python" else argv for argv in commands]


def require(module: str) -> None:
    """Skip the calling test, naming the extra, when ``module`` is not installed."""
    pytest.importorskip(module, reason=f"{module} is part of the compat extra ({INSTALL}), not installed here")
