"""Progress bars for long work (tqdm when installed, silent otherwise)."""

from __future__ import annotations

import contextlib
import sys


class _Silent:
    def update(self, n: int = 1) -> None:
        pass

    def set_postfix_str(self, text: str) -> None:
        pass


@contextlib.contextmanager
def progress_bar(total: int, desc: str, enabled: bool = True):
    """A tqdm bar on stderr, or a silent stand-in when disabled or tqdm is missing."""
    try:
        from tqdm.auto import tqdm
    except ImportError:
        enabled = False
    if not enabled:
        yield _Silent()
        return
    with tqdm(total=total, desc=desc, file=sys.stderr, dynamic_ncols=True) as bar:
        yield bar
