"""Every script in ``examples/`` runs in its quick mode, so that none can rot."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import modenhub_env

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
# RLlib's run is the compatibility suite's (tests/compat/test_rllib.py): not twice.
SCRIPTS = sorted(path for path in EXAMPLES.glob("*.py") if path.stem != "rllib_ppo")


def test_examples__folder_holds_scripts():
    assert len(SCRIPTS) >= 2, SCRIPTS


@pytest.mark.parametrize("script", SCRIPTS, ids=[s.stem for s in SCRIPTS])
def test_examples__quick_run_succeeds_and_reports(script, tmp_path):
    assert "--quick" in script.read_text(), f"{script.name} has no --quick smoke mode"
    root = Path(modenhub_env.__file__).resolve().parents[1]
    result = subprocess.run(
        [sys.executable, str(script), "--quick"], cwd=tmp_path, capture_output=True, text=True, timeout=300,
        env={**os.environ, "PYTHONPATH": str(root), "OMP_NUM_THREADS": "1"},
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip(), f"{script.name} printed nothing"
