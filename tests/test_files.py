"""``train.files``: atomic writes leave either the old file or the new one, never a
half-written file or a stray temporary."""

from __future__ import annotations

import math
import os
import stat

import numpy as np
import pytest

from train import files


def _folder(tmp_path):
    return sorted(p.name for p in tmp_path.iterdir())


# ---------------------------------------------------------------- write_atomic


def test_write_atomic__writes_text_and_leaves_no_temporary(tmp_path):
    path = tmp_path / "a.txt"
    files.write_atomic(path, "hello\n")
    assert path.read_text() == "hello\n"
    assert _folder(tmp_path) == ["a.txt"]


def test_write_atomic__writes_bytes(tmp_path):
    path = tmp_path / "a.bin"
    files.write_atomic(path, b"\x00\x89PNG\xff")
    assert path.read_bytes() == b"\x00\x89PNG\xff"
    assert _folder(tmp_path) == ["a.bin"]


def test_write_atomic__replaces_existing_content(tmp_path):
    path = tmp_path / "a.txt"
    path.write_text("old content that is longer than the new one\n")
    files.write_atomic(path, "new\n")
    assert path.read_text() == "new\n"
    assert _folder(tmp_path) == ["a.txt"]


def test_write_atomic__creates_missing_parent_folders(tmp_path):
    path = tmp_path / "x" / "y" / "a.txt"
    files.write_atomic(str(path), "deep")
    assert path.read_text() == "deep"


def test_write_atomic__failure_while_writing_keeps_old_file(tmp_path):
    path = tmp_path / "a.txt"
    path.write_text("old\n")
    with pytest.raises(TypeError):
        files.write_atomic(path, 12345)  # type: ignore[arg-type]  # write() refuses an int
    assert path.read_text() == "old\n"
    assert _folder(tmp_path) == ["a.txt"]


def test_write_atomic__failure_before_rename_keeps_old_file(tmp_path, monkeypatch):
    path = tmp_path / "a.txt"
    path.write_text("old\n")

    def broken_fsync(fd):
        raise OSError("disk full")

    monkeypatch.setattr(os, "fsync", broken_fsync)
    with pytest.raises(OSError, match="disk full"):
        files.write_atomic(path, "new\n")
    assert path.read_text() == "old\n"
    assert _folder(tmp_path) == ["a.txt"]


def test_write_atomic__interrupt_keeps_old_file(tmp_path, monkeypatch):
    path = tmp_path / "a.txt"
    path.write_text("old\n")

    def interrupted(src, dst):
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "replace", interrupted)
    with pytest.raises(KeyboardInterrupt):
        files.write_atomic(path, "new\n")
    assert path.read_text() == "old\n"
    assert _folder(tmp_path) == ["a.txt"]


def test_write_atomic__file_mode_follows_umask_like_open(tmp_path):
    old_umask = os.umask(0o022)
    try:
        files.write_atomic(tmp_path / "a.txt", "x")
        (tmp_path / "b.txt").write_text("x")
    finally:
        os.umask(old_umask)
    mode_atomic = stat.S_IMODE((tmp_path / "a.txt").stat().st_mode)
    mode_open = stat.S_IMODE((tmp_path / "b.txt").stat().st_mode)
    assert mode_atomic == mode_open == 0o644


# ---------------------------------------------------------------- write_csv / read_csv


def test_write_csv__round_trips_through_read_csv(tmp_path):
    path = tmp_path / "t.csv"
    rows = [
        {"name": "sequential", "n": 8, "rate": 0.5, "big": 123456789.0},
        {"name": "log-parallel", "n": np.int64(16), "rate": np.float64(1 / 3), "big": math.inf},
    ]
    files.write_csv(path, rows, ["name", "n", "rate", "big"])
    back = files.read_csv(path)
    assert [r["name"] for r in back] == ["sequential", "log-parallel"]
    assert [int(r["n"]) for r in back] == [8, 16]
    assert float(back[0]["rate"]) == 0.5
    assert float(back[1]["rate"]) == pytest.approx(1 / 3, rel=5e-6)  # 6 significant digits
    assert float(back[0]["big"]) == pytest.approx(123456789.0, rel=5e-6)
    assert math.isinf(float(back[1]["big"]))
    assert _folder(tmp_path) == ["t.csv"]


def test_write_csv__keeps_column_order_and_blanks_missing_keys(tmp_path):
    path = tmp_path / "t.csv"
    files.write_csv(path, [{"b": 1, "a": 2, "ignored": 3}, {"a": 4}], ["a", "b"])
    assert path.read_text().splitlines() == ["a,b", "2,1", "4,"]
    assert files.read_csv(path) == [{"a": "2", "b": "1"}, {"a": "4", "b": ""}]


def test_write_csv__nan_round_trips(tmp_path):
    path = tmp_path / "t.csv"
    files.write_csv(path, [{"x": math.nan}], ["x"])
    assert math.isnan(float(files.read_csv(path)[0]["x"]))


def test_write_csv__quotes_commas_in_text(tmp_path):
    path = tmp_path / "t.csv"
    files.write_csv(path, [{"policy": "a,b", "v": 1}], ["policy", "v"])
    assert files.read_csv(path) == [{"policy": "a,b", "v": "1"}]


def test_write_csv__no_rows_writes_the_header(tmp_path):
    path = tmp_path / "t.csv"
    files.write_csv(path, [], ["a", "b"])
    assert path.read_text() == "a,b\n"
    assert files.read_csv(path) == []


def test_write_json__writes_sorted_json_with_numpy_values(tmp_path):
    import json

    path = tmp_path / "d.json"
    files.write_json(path, {"b": np.int64(3), "a": [1.5, 2]})
    assert json.loads(path.read_text()) == {"a": [1.5, 2], "b": 3}
    assert path.read_text().index('"a"') < path.read_text().index('"b"')


def test_save_figure__writes_a_png(tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots()
    ax.plot([0, 1], [1, 0])
    path = tmp_path / "f.png"
    files.save_figure(fig, path)
    plt.close(fig)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert _folder(tmp_path) == ["f.png"]
