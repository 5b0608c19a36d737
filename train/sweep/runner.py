"""Running the grid points: one point's training run (the body of a trial), the ledger of
finished points, and the Ray Tune experiment that runs the pending ones (Ray is imported
only inside the functions that need it)."""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from train.files import write_json
from train.sweep.report import aggregate
from train.sweep.spec import INSTALL_HINT, METRICS, SweepSpec, config_values, grid_points

# One trial.


def run_point(point: Mapping[str, Any], runs_dir: str | Path) -> dict[str, float]:
    """Train one grid point in ``runs_dir/<run>`` (the body of a trial; needs no Ray).

    A run folder left by an interrupted trial is continued from its last checkpoint
    (``train.training.resume``); a finished one (``model.safetensors`` present) is only read.
    Returns the final metrics (:func:`final_metrics`).
    """
    from train import training

    run_dir = Path(runs_dir) / point["run"]
    if (run_dir / "model.safetensors").is_file():
        return final_metrics(run_dir)
    if (run_dir / "config.json").is_file():
        training.resume(run_dir, timesteps=point["timesteps"], progress=False)
    else:
        args = training.Args(
            preset=point["preset"], overrides=config_values(point["set"]), algo=point["algo"], seed=point["seed"],
            timesteps=point["timesteps"], out=str(run_dir.parent), run_name=point["run"], progress=False,
            **point["train"],
        )
        training.train(args)
    return final_metrics(run_dir)


def final_metrics(run_dir: Path) -> dict[str, float]:
    """The last evaluation of a run: ``step``, ``wall_seconds`` and ``<policy>_<metric>``,
    ``_lo``, ``_hi`` for the learned policy and each heuristic."""
    from train import training

    rows = training.read_metrics(run_dir / "metrics.csv")
    if not rows:
        raise RuntimeError(f"{run_dir}: the run finished without an evaluation in metrics.csv")
    step = max(int(r["step"]) for r in rows)
    metrics: dict[str, float] = {"step": float(step)}
    for row in rows:
        if int(row["step"]) != step:
            continue
        if row["policy"] == "learned":
            metrics["wall_seconds"] = float(row["wall_seconds"])
        for key in METRICS:
            for suffix in ("", "_lo", "_hi"):
                metrics[f"{row['policy']}_{key}{suffix}"] = float(row[f"{key}{suffix}"])
    return metrics


def _trainable(config: dict[str, Any]) -> None:
    """The Ray Tune function trainable: one point, one report at the end."""
    metrics = run_point(config["point"], config["runs_dir"])
    _ray_api()["report"]({"final": metrics, "done": True})


# The ledger of finished points.


def ledger_path(sweep_dir: Path, run: str) -> Path:
    return sweep_dir / "ledger" / f"{run}.json"


def record_finished(sweep_dir: Path, point: Mapping[str, Any], metrics: Mapping[str, float]) -> None:
    """Mark ``point`` finished, atomically, so that a resumed sweep skips it."""
    write_json(ledger_path(sweep_dir, point["run"]),
               {"point": dict(point), "metrics": dict(metrics), "finished": time.strftime("%Y-%m-%dT%H:%M:%S")})


def finished_points(sweep_dir: Path, points: list[dict[str, Any]]) -> dict[str, dict[str, float]]:
    """Run name -> final metrics of the ``points`` whose ledger entry is whole."""
    done = {}
    for point in points:
        path = ledger_path(sweep_dir, point["run"])
        try:
            entry = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        if entry.get("point") == point and isinstance(entry.get("metrics"), dict):
            done[point["run"]] = entry["metrics"]
    return done


# Ray.


def require_ray() -> None:
    """Exit with how to install Ray when it is missing."""
    try:
        import ray  # noqa: F401
        from ray import tune  # noqa: F401
    except ImportError as err:
        raise SystemExit(
            f"error: modenhub sweep runs its trials on Ray Tune, which is not installed ({err.msg}).\n"
            f"Install the optional extra: {INSTALL_HINT}"
        ) from None


def _ray_api() -> dict[str, Any]:
    """Tune's report, RunConfig and FailureConfig (in ray.tune since Ray 2.41, ray.train before)."""
    try:
        from ray.tune import FailureConfig, RunConfig, report
    except ImportError:
        from ray.train import FailureConfig, RunConfig, report
    return {"report": report, "RunConfig": RunConfig, "FailureConfig": FailureConfig}


def _trial_name(trial: Any) -> str:
    return trial.config["point"]["run"]


@dataclass
class SweepOutcome:
    """What one invocation did with the grid points."""

    folder: Path
    ran: list[str]  # finished in this invocation
    skipped: list[str]  # finished before, not rerun
    failed: dict[str, str]  # run -> error (after the retries)
    interrupted: list[str]  # stopped without an error (Ctrl-C): resumable
    rows: list[dict[str, Any]]  # summary rows


def run_sweep(spec: SweepSpec, address: str | None = None, num_cpus: int | None = None,
              verbose: int = 1) -> SweepOutcome:
    """Run the grid points without a ledger entry on Ray Tune, then aggregate.

    :param spec: the validated sweep.
    :param address: an existing Ray cluster (``auto`` or ``HOST:PORT``); ``None`` starts Ray
        on this machine. If Ray is initialised already (as in tests), that session is used.
    :param num_cpus: CPUs of the local Ray instance (``None``: all cores); not with ``address``.
    :param verbose: Tune's verbosity (0 silent, 1 status, 2 trial results).
    """
    if address is not None and num_cpus is not None:
        raise ValueError("num_cpus applies to a local Ray instance; a cluster's CPUs are set by `ray start`")
    sweep_dir = spec.folder.resolve()
    points = grid_points(spec)
    write_json(sweep_dir / "sweep.json", spec.to_dict())
    done = finished_points(sweep_dir, points)
    pending = [p for p in points if p["run"] not in done]
    failed: dict[str, str] = {}
    if pending:
        failed = _run_on_tune(pending, spec, sweep_dir, address, num_cpus, verbose)
    finished = finished_points(sweep_dir, points)
    rows = aggregate(spec, points, finished, sweep_dir)
    return SweepOutcome(
        folder=sweep_dir, ran=[p["run"] for p in pending if p["run"] in finished],
        skipped=[p["run"] for p in points if p["run"] in done], failed=failed,
        interrupted=[p["run"] for p in pending if p["run"] not in finished and p["run"] not in failed], rows=rows,
    )


def _run_on_tune(pending: list[dict[str, Any]], spec: SweepSpec, sweep_dir: Path, address: str | None,
                 num_cpus: int | None, verbose: int) -> dict[str, str]:
    """The pending points as one Tune experiment; returns run -> error of the failed ones
    (a trial stopped by Ctrl-C has no error and no result: it is interrupted, not failed)."""
    require_ray()
    import ray
    from ray import tune

    api = _ray_api()
    started_here = not ray.is_initialized()
    if started_here:
        ray.init(address=address or "local", num_cpus=num_cpus, include_dashboard=False,
                 log_to_driver=verbose > 0, logging_level="WARNING")

    class LedgerCallback(tune.Callback):
        """Writes a point's ledger entry on the driver as soon as its trial completes."""

        def on_trial_complete(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
            result = trial.last_result or {}
            if result.get("done") and isinstance(result.get("final"), dict):
                record_finished(sweep_dir, trial.config["point"], result["final"])

    try:
        tuner = tune.Tuner(
            tune.with_resources(_trainable, {"cpu": spec.cpus_per_trial}),
            param_space={"point": tune.grid_search(pending), "runs_dir": str(sweep_dir / "runs")},
            tune_config=tune.TuneConfig(max_concurrent_trials=spec.max_concurrent, trial_name_creator=_trial_name,
                                        trial_dirname_creator=_trial_name),
            run_config=api["RunConfig"](
                name=time.strftime("%Y%m%d-%H%M%S"), storage_path=str(sweep_dir / "tune"), verbose=verbose,
                callbacks=[LedgerCallback()], failure_config=api["FailureConfig"](max_failures=spec.retries),
            ),
        )
        results = tuner.fit()
        failed = {}
        for result in results:
            point = result.config["point"]
            final = (result.metrics or {}).get("final")
            if result.error is not None:
                failed[point["run"]] = str(result.error)
            elif isinstance(final, dict):
                record_finished(sweep_dir, point, final)  # in case the callback missed it
        return failed
    finally:
        if started_here:
            ray.shutdown()
