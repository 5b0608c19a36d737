"""The short summaries the ``modenhub`` commands end with: what came out, and where."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from train.files import read_csv


def _interval(row: dict[str, Any], key: str, digits: int = 1) -> str:
    value, lo, hi = (float(row[name]) for name in (key, f"{key}_lo", f"{key}_hi"))
    if math.isnan(lo) or math.isnan(hi):
        return f"{value:.{digits}f}"
    return f"{value:.{digits}f} [{lo:.{digits}f}, {hi:.{digits}f}]"


def best_by_reward(rows: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """The row with the highest mean episode reward.

    :param rows: one row per policy, each with ``policy`` and ``reward``.
    :raises ValueError: no rows.
    """
    if not rows:
        raise ValueError("rows must hold at least one policy's row")
    return max(rows, key=lambda row: float(row["reward"]))


def evaluation_summary(rows: Sequence[dict[str, Any]]) -> str:
    """One line: the best policy by mean episode reward, with its 95% CI and success rate;
    and, for rows with a best heuristic (``train.evaluate.add_paired``), a second: every
    other policy's paired difference to it.

    :param rows: ``train.evaluate.evaluate``'s rows.
    """
    best = best_by_reward(rows)
    line = (f"best of {len(rows)} policies by episode reward: {best['policy']}, {_interval(best, 'reward')} "
            f"(95% CI), success {float(best['success']):.3f}")
    paired = paired_summary(rows)
    return f"{line}\n{paired}" if paired else line


def paired_summary(rows: Sequence[dict[str, Any]]) -> str:
    """One line: each policy's episode reward minus the best heuristic's, paired over the
    same episodes, with its 95% interval and verdict; empty without a best heuristic or
    another policy.

    :param rows: rows with ``train.evaluate.PAIRED_COLUMNS`` (numbers, or strings read from a CSV).
    """
    reference = rows[0].get("best_heuristic") if rows else ""
    others = [row for row in rows if row["policy"] != reference]
    if not reference or not others:
        return ""
    parts = []
    for row in others:
        value, low, high = (float(row[key]) for key in ("diff_vs_best_heuristic", "diff_ci_low", "diff_ci_high"))
        interval = "" if math.isnan(low) or math.isnan(high) else f" [{low:+.1f}, {high:+.1f}]"
        parts.append(f"{row['policy']} {value:+.1f}{interval} ({row['verdict']})")
    return f"paired against the best heuristic, {reference}, episode by episode (95% CI): " + "; ".join(parts)


def training_summary(run_dir: Path) -> str:
    """The end of a training run: its last evaluation against the best heuristic, and its files.

    :param run_dir: a run folder written by ``modenhub train``.
    """
    lines = [f"run folder {run_dir}"]
    rows = read_csv(run_dir / "metrics.csv") if (run_dir / "metrics.csv").is_file() else []
    if rows:
        step = max(int(row["step"]) for row in rows)
        last = [row for row in rows if int(row["step"]) == step]
        learned = next((row for row in last if row["policy"] == "learned"), None)
        heuristics = [row for row in last if row["policy"] != "learned"]
        minutes = float(last[0]["wall_seconds"]) / 60
        lines.append(f"  {step} steps in {minutes:.1f} min; last evaluation over {last[0]['episodes']} episodes "
                     "(mean episode reward, 95% CI):")
        if learned is not None:
            lines.append(f"  learned  {_interval(learned, 'reward')}, success {float(learned['success']):.3f}, "
                         f"attempts per request {float(learned['attempts']):.2f}")
        if heuristics:
            best = best_by_reward(heuristics)
            lines.append(f"  best heuristic, {best['policy']}  {_interval(best, 'reward')}, "
                         f"success {float(best['success']):.3f}, attempts per request {float(best['attempts']):.2f}")
    written = [name for name in ("config.json", "metrics.csv", "learning_curve.png", "model.safetensors", "checkpoints", "tb")
               if (run_dir / name).exists()]
    lines.append(f"wrote {', '.join(written)} in {run_dir}")
    return "\n".join(lines)


def reproduction_summary(rows: Sequence[dict[str, Any]], paper_preset: bool = True) -> str:
    """One line: at the largest N, the sequential baseline without the cache against the
    log-parallel orchestrator with it, and, on the paper preset, the paper's headline figures.

    :param rows: ``train.reproduce.reproduce``'s rows (numbers, or strings read from its CSV).
    :param paper_preset: the rows come from the paper preset unchanged.
    """
    largest = max(int(row["n_qpus"]) for row in rows)

    def point(policy: str, cache: int) -> str:
        found = [r for r in rows if int(r["n_qpus"]) == largest and r["policy"] == policy and int(r["cache"]) == cache]
        if not found:
            return "not run"
        return f"success {float(found[0]['success']):.3f} with {float(found[0]['attempts']):.2f} attempts"

    line = f"at N = {largest}: sequential (no cache) {point('sequential', 0)}, log-parallel (cache) {point('log-parallel', 1)}"
    if paper_preset:
        line += ("; the paper reports about 30% with about 3 attempts and about 90% with 10-12 at scale "
                 "(the preset is a reconstruction calibrated to those figures)")
    return line
