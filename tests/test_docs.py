"""The documentation under ``docs/``: its Python snippets run, the anchors that code cites
exist, and nothing points outside the repository."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
PAGES = sorted(DOCS.rglob("*.md"))
FENCE = re.compile(r"^```python\n(.*?)^```", re.MULTILINE | re.DOTALL)
SKIPPED_DIRS = {".git", ".venv", "site", "build", "dist", "__pycache__", ".pytest_cache", ".ruff_cache",
                ".hypothesis"}
#: Files the simulation-core rewrite (issue #10) owns; they still name the old model file
#: and are fixed there. Empty this set once it lands.
def repository_files() -> list[Path]:
    files = []
    for folder, subfolders, names in os.walk(ROOT):
        subfolders[:] = [d for d in subfolders if d not in SKIPPED_DIRS and not d.endswith(".egg-info")]
        files += [Path(folder) / name for name in names]
    return files


def text_of(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8")
    except (UnicodeDecodeError, OSError):
        return None


def python_blocks(page: Path) -> list[str]:
    """The page's ```python blocks, except those that include a file (``--8<--``)."""
    return [block for block in FENCE.findall(page.read_text()) if "--8<--" not in block]


PAGES_WITH_CODE = [page for page in PAGES if python_blocks(page)]


def test_docs__every_page_is_in_the_site_navigation():
    nav = (ROOT / "mkdocs.yml").read_text()
    for page in PAGES:
        assert page.relative_to(DOCS).as_posix() in nav, page


@pytest.mark.parametrize("page", PAGES_WITH_CODE, ids=[p.relative_to(DOCS).as_posix() for p in PAGES_WITH_CODE])
def test_docs__python_snippets_run(page, tmp_path):
    """The blocks of a page run in order, in one interpreter, in an empty folder."""
    code = "\n\n".join(python_blocks(page))
    code = code.replace('"results/models/', f'"{ROOT.as_posix()}/results/models/')
    script = tmp_path / "snippets.py"
    script.write_text(code)
    result = subprocess.run(
        [sys.executable, str(script)], cwd=tmp_path, capture_output=True, text=True, timeout=300,
        env={**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"},
    )
    assert result.returncode == 0, result.stderr[-3000:]


def test_docs__model_anchors_cited_anywhere_exist():
    text = (DOCS / "model.md").read_text()
    # Headings' anchors ({#name}), and the HTML anchors that keep former names working.
    anchors = set(re.findall(r"\{#([\w-]+)\}", text)) | set(re.findall(r'<a id="([\w-]+)"></a>', text))
    cited = {}
    for path in repository_files():
        text = text_of(path)
        for anchor in re.findall(r"model\.md#([\w-]+)", text or ""):
            cited.setdefault(anchor, path.relative_to(ROOT).as_posix())
    assert cited, "no file cites an anchor of docs/model.md"
    missing = {anchor: where for anchor, where in cited.items() if anchor not in anchors}
    assert not missing, f"anchors cited but not defined in docs/model.md: {missing}"


def test_docs__the_former_dp_anchor_still_leads_to_the_single_request_dp():
    text = (DOCS / "model.md").read_text()
    heading = text.index("### The single-request DP {#single-request-dp}")
    assert text.index('<a id="dp-optimum"></a>') - heading < 100  # right under the heading


def test_docs__nothing_points_outside_the_repository():
    forbidden = re.compile(r"MODEL\.md|\.\./shared|/work/shared")
    offenders = []
    for path in repository_files():
        relative = path.relative_to(ROOT).as_posix()
        text = text_of(path)
        if relative == "tests/test_docs.py" or text is None:
            continue
        offenders += [f"{relative}:{n}" for n, line in enumerate(text.splitlines(), 1) if forbidden.search(line)]
    assert not offenders, offenders

