"""``modenhub sweep``: a grid of ``modenhub train`` runs as Ray Tune trials, resumable.

The sweep file's schema, the sweep folder's layout and resuming are described in
:mod:`train.sweep.spec`. The package holds one concern per module:

* :mod:`train.sweep.spec`: the sweep file, its validation and the grid points;
* :mod:`train.sweep.runner`: one point's training run, the ledger of finished points, Ray Tune;
* :mod:`train.sweep.report`: the aggregate over seeds (CSV, Markdown, plot);
* :mod:`train.sweep.cli`: the ``sweep`` subcommand (``python -m train.sweep`` runs it alone).
"""

from train.sweep.cli import DESCRIPTION, EPILOG, add_parser, main, run_from_namespace, spec_from_namespace
from train.sweep.cli import _add_arguments as _add_arguments
from train.sweep.report import (
    aggregate,
    format_summary,
    plot_summary,
    seed_interval,
    summary_columns,
    t_quantile_975,
    trial_columns,
)
from train.sweep.runner import (
    SweepOutcome,
    final_metrics,
    finished_points,
    ledger_path,
    record_finished,
    require_ray,
    run_point,
    run_sweep,
)
from train.sweep.spec import (
    CONFIG_PREFIX,
    INSTALL_HINT,
    METRICS,
    RESERVED_OPTIONS,
    SPEC_KEYS,
    SweepError,
    SweepSpec,
    grid_points,
    group_label,
    load_sweep_file,
    training_options,
    validate_spec,
)

__all__ = [
    "CONFIG_PREFIX", "DESCRIPTION", "EPILOG", "INSTALL_HINT", "METRICS", "RESERVED_OPTIONS", "SPEC_KEYS",
    "SweepError", "SweepOutcome", "SweepSpec", "add_parser", "aggregate", "final_metrics", "finished_points",
    "format_summary", "grid_points", "group_label", "ledger_path", "load_sweep_file", "main", "plot_summary",
    "record_finished", "require_ray", "run_from_namespace", "run_point", "run_sweep", "seed_interval",
    "spec_from_namespace", "summary_columns", "t_quantile_975", "training_options", "trial_columns",
    "validate_spec",
]
