"""Output folders: fresh by default, checked before any work, claimed by one writer.

* :func:`fresh_name` / :func:`default_out`: ``runs/<command>-<time>-<suffix>``, the time to
  the second and a random suffix, so that two commands started in the same second never
  share a folder.
* :func:`check_writable`: an ``--out`` that cannot be written is an error before any work.
* :class:`RunLock`: an exclusive ``flock`` on ``<run>/.lock``, held while a process writes
  a training run; the kernel releases it when the process ends (a kill included), so a
  second writer, or a ``--resume`` of a run a live process holds, is refused while the
  first lives and never after. :func:`claim_new_run` creates a run folder under it.
"""

from __future__ import annotations

import json
import os
import secrets
import socket
import tempfile
import time
from pathlib import Path

try:
    import fcntl
except ImportError:  # not on Windows: only the mkdir claim of a new run folder applies there
    fcntl = None  # type: ignore[assignment]

RUNS_ROOT = Path("runs")
LOCK_NAME = ".lock"


def fresh_name(prefix: str) -> str:
    """``<prefix>-<YYYYmmdd-HHMMSS>-<6 hex digits>``."""
    return f"{prefix}-{time.strftime('%Y%m%d-%H%M%S')}-{secrets.token_hex(3)}"


def default_out(command: str) -> Path:
    """A fresh folder name under ``runs/`` for ``command``'s results (not created)."""
    return RUNS_ROOT / fresh_name(command)


def output_folder(out: str | Path | None, command: str) -> Path:
    """``out``, or a fresh ``runs/<command>-<time>-<suffix>/``, checked writable (and
    created) before any work.

    :raises ValueError: it cannot be written.
    """
    return check_writable(default_out(command) if out is None else Path(out))


def check_writable(folder: str | Path, what: str = "--out") -> Path:
    """Create ``folder`` if needed and prove a file can be written there.

    :raises ValueError: it cannot (naming ``what``, the folder and the reason).
    """
    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as err:
        raise ValueError(f"{what} {folder}: cannot write there ({err.strerror or err})") from None
    return folder


class RunInUseError(ValueError):
    """Another live process holds the run folder."""


class RunLock:
    """An exclusive lock on a run folder, held until :meth:`release` (or the process ends).

    :param run_dir: the run folder (must exist).
    :raises RunInUseError: another process holds it; the message names its pid and host.
    """

    def __init__(self, run_dir: Path) -> None:
        self.run_dir = Path(run_dir)
        self.path = self.run_dir / LOCK_NAME
        self.fd: int | None = None
        if fcntl is None:
            return
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o666)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            raise RunInUseError(
                f"{self.run_dir} is in use by another process ({self._owner()}); wait for it to end or stop it"
            ) from None
        self.fd = fd
        owner = json.dumps({"pid": os.getpid(), "host": socket.gethostname(), "since": time.strftime("%Y-%m-%d %H:%M:%S")})
        os.ftruncate(fd, 0)
        os.write(fd, owner.encode())

    def _owner(self) -> str:
        try:
            data = json.loads(self.path.read_text())
            return f"pid {data['pid']} on {data['host']}, since {data['since']}"
        except (OSError, ValueError, KeyError, TypeError):
            return "owner unknown"

    def release(self) -> None:
        """Give the folder up (the lock file stays, unlocked)."""
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None

    def __enter__(self) -> RunLock:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def claim_new_run(run_dir: Path) -> RunLock:
    """Create ``run_dir`` for a new run and lock it.

    A folder that exists is accepted only if it holds nothing but a lock file (a run
    killed before it wrote anything).

    :raises ValueError: it holds a run or other files, or another process holds it.
    """
    run_dir = Path(run_dir)
    run_dir.parent.mkdir(parents=True, exist_ok=True)
    try:
        run_dir.mkdir()
    except FileExistsError:
        _check_empty(run_dir)
    lock = RunLock(run_dir)
    try:
        _check_empty(run_dir)  # again under the lock: another writer may have started meanwhile
    except ValueError:
        lock.release()
        raise
    return lock


def _check_empty(run_dir: Path) -> None:
    if not run_dir.is_dir():
        raise ValueError(f"{run_dir} exists and is not a folder")
    if (run_dir / "config.json").exists():
        raise ValueError(f"{run_dir} already holds a run; continue it with --resume {run_dir} or choose another --run-name")
    others = sorted(p.name for p in run_dir.iterdir() if p.name != LOCK_NAME)
    if others:
        raise ValueError(f"{run_dir} exists and holds {', '.join(others[:3])}; not a place for a new run")
