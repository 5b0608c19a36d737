"""Mutation testing of chosen modules with mutmut 3, summarised in ``results/mutation.md``.

Each module is mutated on its own, in a scratch copy of the repository, and each of its
mutants is checked by that module's own test files only (mutmut runs, per mutant, just
the tests that call the mutated function), so the run fits on two cores. Numba kernels
run as Python (``NUMBA_DISABLE_JIT=1``), so mutmut can mutate them too.

The report lists per module the mutants, how many the tests killed and how many
survived, then every survivor with its diff and either the sentence of the notes file
that explains why it is equivalent, or **unexplained**. Not part of the normal test run
(about 10 minutes for the default modules on 2 shared cores; the report gives the timings).

Usage::

    python -m train.mutation                                  # the default modules
    python -m train.mutation modenhub_env/physics.py          # one module, its default tests
    python -m train.mutation modenhub_env/kernels.py --tests modenhub_env/kernels.py=tests/test_core.py
    python -m train.mutation modenhub_env/kernels.py --only 'modenhub_env.kernels.x__act__mutmut_*'
    python -m train.mutation --recheck EARLIER_WORKDIR   # only what an earlier kept run did not kill
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

#: Test files that exercise each module; a module not listed runs the whole ``tests/``.
DEFAULT_TESTS: dict[str, tuple[str, ...]] = {
    "modenhub_env/physics.py": ("tests/test_physics.py", "tests/test_core_values.py", "tests/test_config.py"),
    # The circuit functions: their unit tests, then a hand-made DAG refused by the core and
    # the slack's scale of a small circuit; each well under a second with NUMBA_DISABLE_JIT=1.
    "modenhub_env/workload.py": (
        "tests/test_workload.py", "tests/test_core_values.py", "tests/test_core.py",
        "tests/test_circuit_workload.py::test_circuit_dag__refuses_a_workload_that_is_not_circuit",
        "tests/test_circuit_workload.py::test_circuit_dag__builds_a_generated_circuit_with_the_configs_fields",
        "tests/test_circuit_workload.py::test_circuit_dag__a_file_gone_after_the_config_is_named",
        "tests/test_circuit_workload.py::test_circuit_dag__a_rewritten_dag_file_is_read_again",
        "tests/test_circuit_workload.py::test_circuit_dag__a_dag_file_for_other_qpus_is_named",
        "tests/test_circuit_workload.py::test_check_gate_order__passes_consecutive_gates_on_each_qubit_joined_by_edges",
        "tests/test_circuit_workload.py::test_check_gate_order__names_the_first_pair_with_no_edge_by_qubit",
        "tests/test_circuit_workload.py::test_circuit_pool_size__is_the_gates_or_half_the_qubits_whichever_is_fewer",
        "tests/test_circuit_workload.py::test_max_budget__of_a_circuit_is_its_lower_bound_and_at_least_one",
        "tests/test_circuit_workload.py::test_circuit_dag__a_hand_made_dag_with_unordered_gates_on_a_qubit_is_refused",
        "tests/test_circuit_workload.py::test_circuit__slack_is_the_rounds_a_gate_may_wait_and_prefetch_shows_the_next_gate",
    ),
    "modenhub_env/config.py": (
        "tests/test_config.py", "tests/test_physics.py", "tests/test_core_values.py",
        "tests/test_observation_values.py",
        "tests/test_circuit_workload.py::test_config__bad_circuit_fields_are_named",
        "tests/test_circuit_workload.py::test_config__a_dag_file_fixes_placement_capacity_and_local_rounds",
        "tests/test_circuit_workload.py::test_config__placement_lists_become_tuples_and_round_trip",
    ),
    # The newer schedulers' own tests: prefetch-value's table, popularity and choices, and
    # critical-path-first's params and actions on small circuits (not the long runs beside
    # them); each well under a second with NUMBA_DISABLE_JIT=1.
    "agents/heuristics.py": (
        "tests/test_agents.py", "tests/test_agent_values.py",
        "tests/test_prefetch_value.py::test_worth_table__one_pair_without_decay_is_the_chance_of_a_request_in_time",
        "tests/test_prefetch_value.py::test_worth_table__a_use_is_worth_less_the_longer_the_ebit_waited",
        "tests/test_prefetch_value.py::test_worth_table__p_ab_tells_the_pair_apart_and_recency_weighs_the_rest",
        "tests/test_prefetch_value.py::test_worth_table__a_third_stored_ebit_waits_for_a_third_request",
        "tests/test_prefetch_value.py::test_worth_table__tells_apart_as_many_values_of_p_ab_as_allowed",
        "tests/test_prefetch_value.py::test_ranked_pairs__zipf_weights_split_the_arrival_rate_in_the_configs_ranking",
        "tests/test_prefetch_value.py::test_ranked_pairs__without_zipf_the_arrival_rate_is_split_evenly_in_pair_order",
        "tests/test_prefetch_value.py::test_ranked_pairs__other_workloads_one_request_a_round_split_evenly",
        "tests/test_prefetch_value.py::test_ranked_pairs__p_ab_as_the_observation_shows_it_in_float32",
        "tests/test_prefetch_value.py::test_prefetch_value__chooses_the_attempts_of_the_largest_positive_expected_value",
        "tests/test_prefetch_value.py::test_prefetch_value__the_hot_pair_is_worth_it_and_the_cold_one_not",
        "tests/test_prefetch_value.py::test_prefetch_value__limit_and_an_unknown_p_ab",
        "tests/test_prefetch_value.py::test_prefetch_value__rejects_a_bad_horizon_and_caps_it_at_the_storage_limit",
        "tests/test_prefetch_value.py::test_prefetch_value__requests_as_the_dp_prefetch_within_limits_and_capacity",
        "tests/test_circuit_workload.py::test_critical_path__deals_the_capacity_longest_path_first",
        "tests/test_circuit_workload.py::test_critical_path__prefetches_only_imminent_gates_with_capacity_left",
        "tests/test_circuit_workload.py::test_critical_path__is_a_compiled_scheduler_and_checks_its_arguments",
        "tests/test_circuit_workload.py::test_critical_path__writes_its_defaults_and_the_ends_of_lookahead_into_its_params",
        "tests/test_circuit_workload.py::test_circuit__play_equals_stepping_round_by_round",
    ),
    "agents/dp.py": ("tests/test_dp.py", "tests/test_agent_values.py"),
    "agents/base.py": ("tests/test_agents.py", "tests/test_agent_values.py"),
    # The compiled core, run as Python: the short pinned rollouts of every scenario first
    # (they kill most mutants in a second or two), then the value tests, the fused Monte
    # Carlo against stepping, autoreset's final sections and the on-disk cache's folders;
    # each test here takes well under a second with NUMBA_DISABLE_JIT=1.
    "modenhub_env/kernels.py": (
        "tests/test_regression.py::test_short_rollout__matches_the_pinned_fingerprint",
        "tests/test_core_values.py", "tests/test_observation_values.py", "tests/test_agent_values.py",
        "tests/test_cache_index.py::test_index__counts_match_the_entries_after_many_rounds",
        "tests/test_cache_index.py::test_index__a_short_churn_equals_rebuilt_every_round",
        "tests/test_cache_index.py::test_rebuild__counts_a_single_qpus_pair_and_finds_the_first_free_entry",
        "tests/test_cache_index.py::test_home__spreads_consecutive_pair_codes_over_the_table",
        "tests/test_seeding.py",
        "tests/test_dp.py::test_single_request_dp__kernel_writes_every_entry_of_its_outputs",
        "tests/test_kernels.py::test_play__one_short_episode_equals_stepping_it_round_by_round",
        "tests/test_kernels.py::test_play_rows__plays_only_the_rows_from_start_to_stop",
        "tests/test_kernels.py::test_advance__autoreset_leaves_the_last_round_in_the_final_sections",
        "tests/test_kernels.py::test_bisect_right__counts_the_entries_at_most_u_from_start",
        "tests/test_kernels.py::test_cache_writable__finds_a_writable_folder_and_refuses_an_impossible_one",
        "tests/test_kernels.py::test_cache_writable__probes_the_folder_itself_not_the_temporary_folder",
        "tests/test_kernels.py::test_cache_folders__numba_cache_dir_beside_the_package_then_the_users_cache",
        # The compiled schedulers.
        # Their kernels on hand-built observations, then the policies' decisions, the DP's
        # table and prefetch-value's choices; each well under a second.
        "tests/test_scheduler_kernels.py",
        "tests/test_agents.py::test_grant_in_order__serves_the_order_until_capacity_is_spent",
        "tests/test_agents.py::test_log_parallel__launches_k_attempts_per_request_when_capacity_allows",
        "tests/test_agents.py::test_log_parallel__gives_zero_to_a_slot_served_from_the_cache",
        "tests/test_agents.py::test_log_parallel__fills_fifo_within_hub_capacity",
        "tests/test_agents.py::test_log_parallel__stays_within_the_slot_limit",
        "tests/test_agents.py::test_sequential__gives_one_attempt_to_the_oldest_request_only",
        "tests/test_agents.py::test_sequential__skips_a_request_served_from_the_cache",
        "tests/test_agents.py::test_attempts_for_target__is_the_smallest_n_reaching_the_target",
        "tests/test_agents.py::test_deadline__serves_least_slack_first_then_likeliest",
        "tests/test_agents.py::test_deadline__gives_the_attempts_that_reach_the_target",
        "tests/test_agents.py::test_deadline__prefetches_empty_pairs_with_idle_capacity_only",
        "tests/test_agents.py::test_deadline__skips_hopeless_requests_when_asked",
        "tests/test_agents.py::test_deadline__never_exceeds_hub_capacity_or_slot_limits",
        "tests/test_agents.py::test_policies__batched_and_unbatched_predictions_agree",
        "tests/test_prefetch_value.py::test_prefetch_value__chooses_the_attempts_of_the_largest_positive_expected_value",
        "tests/test_prefetch_value.py::test_prefetch_value__the_hot_pair_is_worth_it_and_the_cold_one_not",
        "tests/test_prefetch_value.py::test_prefetch_value__limit_and_an_unknown_p_ab",
        "tests/test_prefetch_value.py::test_prefetch_value__requests_as_the_dp_prefetch_within_limits_and_capacity",
        "tests/test_dp.py::test_dp_value_table__matches_brute_force_over_all_plans",
        "tests/test_dp.py::test_dp_value_table__free_attempts_use_k_max_every_round",
        "tests/test_dp.py::test_dp_value_table__no_rounds_left_is_the_fail_penalty",
        "tests/test_dp.py::test_dp_value_table__attempts_dearer_than_any_gain_are_never_launched",
        "tests/test_dp.py::test_dp_value_table__solves_many_requests_at_once",
        "tests/test_dp.py::test_optimal_single_request__picks_the_dp_attempts_for_each_slot",
        # The circuit workload's kernels.
        "tests/test_circuit_workload.py::test_circuit__ghz_chain_requests_come_one_a_round_in_chain_order",
        "tests/test_circuit_workload.py::test_circuit__local_gates_delay_the_next_request_by_their_rounds",
        "tests/test_circuit_workload.py::test_circuit__parallel_gates_wait_outside_a_full_queue_and_are_never_rejected",
        "tests/test_circuit_workload.py::test_circuit__all_on_one_qpu_makes_no_request_and_ends_at_its_local_depth",
        "tests/test_circuit_workload.py::test_circuit__reward_is_minus_the_makespan_minus_the_attempts_cost",
        "tests/test_circuit_workload.py::test_circuit__slack_is_the_rounds_a_gate_may_wait_and_prefetch_shows_the_next_gate",
        "tests/test_circuit_workload.py::test_circuit__cached_ebits_serve_gates_and_their_age_is_recorded",
        "tests/test_circuit_workload.py::test_circuit__play_equals_stepping_round_by_round",
        "tests/test_circuit_workload.py::test_critical_path__deals_the_capacity_longest_path_first",
        "tests/test_circuit_workload.py::test_critical_path__prefetches_only_imminent_gates_with_capacity_left",
        "tests/test_circuit_workload.py::test_circuit__a_one_slot_queue_ranks_the_waiting_gates_by_path_then_ready_round_then_order",
        "tests/test_circuit_workload.py::test_circuit__a_wide_queue_tracks_each_slots_gate_and_the_successors_of_pending_gates",
        "tests/test_circuit_workload.py::test_circuit__successors_of_pending_gates_show_each_pair_once",
        "tests/test_circuit_workload.py::test_circuit__a_run_out_of_rounds_is_truncated_in_its_last_round_and_a_run_done_in_it_is_not",
        "tests/test_circuit_workload.py::test_circuit__a_gate_a_cached_ebit_serves_gets_no_attempt_and_its_lost_fidelity_costs_nothing",
        "tests/test_circuit_workload.py::test_circuit__two_gates_served_from_the_cache_in_one_round_each_record_their_ebits_age",
        "tests/test_circuit_workload.py::test_grant_round_robin__deals_requests_one_attempt_a_round_then_what_is_left_to_prefetch_in_order",
        # The core's round and observation.
        "tests/test_cache_index.py::test_cache_put__rebuilds_the_table_when_the_next_pair_would_fill_three_quarters",
        "tests/test_cache_index.py::test_cache_put__skips_used_entries_of_a_single_qpus_pair_code_0",
        "tests/test_cache_index.py::test_expire__a_cutoff_of_one_round_drops_a_single_qpus_ebit_a_round_old",
        "tests/test_circuit_workload.py::test_circuit__slack_is_the_rounds_a_gate_may_wait_and_prefetch_shows_the_next_gate",
        "tests/test_circuit_workload.py::test_circuit__progress_is_the_share_of_gates_done",
        "tests/test_circuit_workload.py::test_circuit__progress_of_a_single_gate_circuit",
        "tests/test_circuit_workload.py::test_circuit__cached_ebits_serve_gates_and_their_age_is_recorded",
    ),
}
DEFAULT_MODULES = tuple(DEFAULT_TESTS)

KILLED = ("killed", "timeout")  # a mutant that hangs the tests is caught too
SURVIVED = ("survived", "no tests", "suspicious")


@dataclass
class ModuleResult:
    """Outcome of one module's mutants."""

    module: str
    tests: tuple[str, ...]
    seconds: float
    status: dict[str, str] = field(default_factory=dict)  # mutant name -> mutmut status
    diffs: dict[str, str] = field(default_factory=dict)  # survivor -> its -/+ lines

    def count(self, statuses: tuple[str, ...]) -> int:
        return sum(s in statuses for s in self.status.values())

    @property
    def survivors(self) -> list[str]:
        return sorted((n for n, s in self.status.items() if s in SURVIVED), key=_natural)


def _natural(name: str) -> list:
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", name)]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line (see ``--help``)."""
    parser = argparse.ArgumentParser(
        prog="python -m train.mutation",
        description=(
            "Mutation testing with mutmut 3 (pip install -e '.[mutation]'): mutate each MODULE "
            "in a scratch copy of the repository, run that module's test files against every "
            "mutant, and write a Markdown report of killed and surviving mutants."
        ),
    )
    parser.add_argument(
        "modules", nargs="*", default=list(DEFAULT_MODULES), metavar="MODULE",
        help="source files to mutate, relative to the repository root (default: "
        + ", ".join(DEFAULT_MODULES) + ")",
    )
    parser.add_argument(
        "--tests", action="append", default=[], metavar="MODULE=TEST[,TEST...]",
        help="test files (or pytest node ids) that check MODULE, overriding the built-in list; "
        "repeat for several modules; a module with no list runs all of tests/",
    )
    parser.add_argument(
        "--notes", type=Path, default=REPO / "results" / "mutation_notes.json", metavar="PATH",
        help="JSON object mapping a surviving mutant's name to one sentence on why it is "
        "equivalent; survivors it does not name are reported as unexplained "
        "(default: results/mutation_notes.json)",
    )
    parser.add_argument(
        "--out", type=Path, default=REPO / "results" / "mutation.md", metavar="PATH",
        help="the Markdown report to write (default: results/mutation.md)",
    )
    parser.add_argument(
        "--only", action="append", default=[], metavar="PATTERN",
        help="check only the mutants whose names match PATTERN (mutmut's names, * a wildcard, e.g. "
        "'modenhub_env.kernels.x__act__mutmut_*'), repeatable: a partial run while writing tests; its "
        "report counts the checked mutants alone and says so",
    )
    parser.add_argument(
        "--recheck", type=Path, default=None, metavar="EARLIER_WORKDIR",
        help="check again only the mutants that an earlier run (kept with --keep-workdir in "
        "EARLIER_WORKDIR, of the same source) did not kill, with the tests as they are now, and report "
        "the union: the earlier kills stand, since added tests never revive a mutant",
    )
    parser.add_argument(
        "--max-children", type=int, default=2, metavar="N",
        help="mutants checked in parallel (default: 2, the cores of this project's machines)",
    )
    parser.add_argument(
        "--workdir", type=Path, default=None, metavar="DIR",
        help="scratch directory for the copies (default: a new temporary directory, removed "
        "afterwards unless --keep-workdir)",
    )
    parser.add_argument(
        "--keep-workdir", action="store_true",
        help="keep the scratch copies, e.g. to run 'mutmut show NAME' in DIR/<module>",
    )
    parser.add_argument(
        "--report-only", action="store_true",
        help="do not mutate: rewrite the report from the copies an earlier run kept in --workdir "
        "(e.g. after editing the notes)",
    )
    args = parser.parse_args(argv)
    if args.report_only and args.workdir is None:
        parser.error("--report-only needs the --workdir of an earlier run with --keep-workdir")
    if args.recheck is not None and args.only:
        parser.error("--recheck picks the mutants to check itself: not with --only")
    if args.max_children < 1:
        parser.error(f"--max-children must be a positive integer, got {args.max_children}")
    for module in args.modules:
        if not (REPO / module).is_file() or not module.endswith(".py"):
            parser.error(f"MODULE must be a .py file of the repository, got {module!r}")
    args.test_map = dict(DEFAULT_TESTS)
    for entry in args.tests:
        module, sep, tests = entry.partition("=")
        if not sep or not tests:
            parser.error(f"--tests must be MODULE=TEST[,TEST...], got {entry!r}")
        args.test_map[module] = tuple(t for t in tests.split(",") if t)
    return args


def _copy_repo(target: Path) -> None:
    """The tracked files of the repository (its working-tree versions) into ``target``."""
    files = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=REPO, check=True, capture_output=True,
    ).stdout.decode().split("\0")
    for name in filter(None, files):
        source = REPO / name
        if source.is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / name)


def _strip_jit(path: Path) -> None:
    """Drop the ``@njit(...)`` lines of a module's copy: mutmut 3 does not mutate decorated
    functions, and with ``NUMBA_DISABLE_JIT=1`` numba's decorator returns the function as
    it is, so the module runs the same without them."""
    lines = path.read_text().splitlines(keepends=True)
    path.write_text("".join(line for line in lines if not re.match(r"@njit\(.*\)\s*$", line)))


def _write_mutmut_config(target: Path, module: str, tests: tuple[str, ...]) -> None:
    package = module.split("/")[0]
    others = sorted({p.split("/")[0] for p in ("modenhub_env/", "agents/", "train/")} - {package})
    lines = ["[mutmut]", "source_paths =", f"    {package}/", "only_mutate =", f"    {module}"]
    lines += ["also_copy =", *(f"    {p}/" for p in others), "    tests/"]
    lines += ["pytest_add_cli_args_test_selection =", *(f"    {t}" for t in tests)]
    lines += ["pytest_add_cli_args =", "    -p", "    no:cacheprovider", "    -q", "    -x"]
    # A mutant that loops forever (a probe or chain walk that never ends) is stopped after
    # 2 x 2 x (its tests' CPU seconds + 1), not mutmut's default 15 x 2 x (...): with the
    # core's selection that was 10 minutes a mutant. CPU time, so a loaded machine does not
    # turn a slow run into a timeout.
    lines += ["timeout_multiplier = 2.0"]
    (target / "setup.cfg").write_text("\n".join(lines) + "\n")
    # mutmut reads [tool.mutmut] of pyproject.toml before setup.cfg; the copy has none.


def run_module(
    module: str, tests: tuple[str, ...], workdir: Path, max_children: int, report_only: bool = False,
    only: tuple[str, ...] = (),
) -> ModuleResult:
    """Mutate ``module`` in a copy under ``workdir`` and check its mutants with ``tests``
    (with ``report_only``, read the results an earlier run left there; with ``only``, check
    just the mutants those name patterns match and leave the others out of the result)."""
    target = workdir / module.replace("/", "__")
    env = {**os.environ, "NUMBA_DISABLE_JIT": "1", "PYTHONHASHSEED": "0"}
    mutmut = [sys.executable, "-m", "mutmut"]
    timing = target / "mutation_seconds.txt"
    if report_only:
        if not (target / "mutants").is_dir():
            raise RuntimeError(f"{target}: no earlier run of {module} to report")
        # A run stopped before the end left no timing: its unchecked mutants show as such.
        seconds = float(timing.read_text()) if timing.is_file() else math.nan
    else:
        target.mkdir(parents=True)
        _copy_repo(target)
        _strip_jit(target / module)
        _write_mutmut_config(target, module, tests)
        start = time.perf_counter()
        run = subprocess.run(
            [*mutmut, "run", "--max-children", str(max_children), *only], cwd=target, env=env,
            capture_output=True, text=True,
        )
        seconds = time.perf_counter() - start
        if run.returncode != 0:
            tail = (run.stdout + run.stderr)[-3000:]
            raise RuntimeError(f"mutmut run failed for {module} (exit {run.returncode}):\n{tail}")
        timing.write_text(f"{seconds:.1f}\n")
    listing = subprocess.run(
        [*mutmut, "results", "--all", "true"], cwd=target, env=env, check=True,
        capture_output=True, text=True,
    ).stdout
    result = ModuleResult(module, tests, seconds)
    for line in listing.splitlines():
        name, sep, status = line.strip().partition(": ")
        if sep and not (only and status.strip() == "not checked"):  # a partial run leaves the rest out
            result.status[name] = status.strip()
    for name in result.survivors:
        shown = subprocess.run(
            [*mutmut, "show", name], cwd=target, env=env, check=True, capture_output=True, text=True,
        ).stdout
        changed = [ln for ln in shown.splitlines() if ln[:1] in "-+" and ln[:3] not in ("---", "+++")]
        result.diffs[name] = "\n".join(changed)
    return result


def recheck_module(module: str, tests: tuple[str, ...], earlier: Path, workdir: Path, max_children: int,
                   report_only: bool = False) -> ModuleResult:
    """The mutants of ``module`` that the run kept in ``earlier`` did not kill, checked again
    in a new copy under ``workdir`` (with ``report_only``, read from that copy); the result
    is the earlier one with theirs replaced.

    :raises RuntimeError: no earlier run of the module there, or its source differs from
        the module's now (then the mutants' names mean other mutations).
    """
    before = run_module(module, tests, earlier, 1, report_only=True)
    source = earlier / module.replace("/", "__") / module
    scratch = Path(tempfile.mkdtemp(prefix="modenhub-recheck-"))
    try:
        shutil.copy2(REPO / module, scratch / "now.py")
        _strip_jit(scratch / "now.py")
        if not source.is_file() or source.read_text() != (scratch / "now.py").read_text():
            raise RuntimeError(f"{earlier}: its copy of {module} differs from the module now; --recheck needs the same source")
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    again = tuple(sorted((name for name, status in before.status.items() if status not in KILLED), key=_natural))
    if not again:
        return before
    after = run_module(module, tests, workdir, max_children, report_only, only=again)
    merged = ModuleResult(module, tests, before.seconds + after.seconds, {**before.status, **after.status})
    merged.diffs = after.diffs
    return merged


def render_report(results: list[ModuleResult], notes: dict[str, str], command: str) -> str:
    """The Markdown report of ``results``; survivors explained by ``notes``."""
    total_seconds = sum(r.seconds for r in results if not math.isnan(r.seconds))
    stopped = [f"`{r.module}`" for r in results if math.isnan(r.seconds)]
    out = [
        "# Mutation testing",
        "",
        f"`{command}` (mutmut 3, `NUMBA_DISABLE_JIT=1`), "
        f"{datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC, {total_seconds / 60:.1f} min in all"
        + (f" (and the unfinished run of {', '.join(stopped)}, stopped before every mutant was checked)." if stopped
           else "."),
        "Each module's mutants are checked by its own test files only (column *tests*).",
        "A mutant that times out counts as killed; *no tests* (no test calls the function) and",
        "*suspicious* count as survivors.",
        "",
        "| module | mutants | killed | survived | not checked | killed % of checked | minutes | tests |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        n, killed, survived = len(r.status), r.count(KILLED), len(r.survivors)
        unchecked = r.count(("not checked",))
        share = 100.0 * killed / (n - unchecked) if n > unchecked else float("nan")
        tests = ", ".join(f"`{t}`" for t in r.tests)
        minutes = "-" if math.isnan(r.seconds) else f"{r.seconds / 60:.1f}"
        out.append(f"| `{r.module}` | {n} | {killed} | {survived} | {unchecked} | {share:.1f} | {minutes} | {tests} |")
    unexplained = [s for r in results for s in r.survivors if s not in notes]
    out += ["", f"Unexplained survivors: {len(unexplained)}.", ""]
    for r in results:
        if not r.survivors:
            continue
        out += [f"## Survivors of `{r.module}`", ""]
        for name in r.survivors:
            note = notes.get(name, "**unexplained**")
            out += [f"- `{name}` ({r.status[name]}): {note}", "", "  ```diff"]
            out += [f"  {line}" for line in r.diffs[name].splitlines()]
            out += ["  ```", ""]
    return "\n".join(out).rstrip() + "\n"


def main(argv: list[str] | None = None) -> int:
    """Run the mutation testing and write the report; 1 if a survivor is unexplained."""
    args = parse_args(argv)
    notes = json.loads(args.notes.read_text()) if args.notes.is_file() else {}
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="modenhub-mutation-"))
    if not args.report_only:
        workdir.mkdir(parents=True, exist_ok=True)
        (workdir / "command.txt").write_text(
            "python -m train.mutation " + " ".join(argv if argv is not None else sys.argv[1:]) + "\n"
        )
    results = []
    try:
        for module in args.modules:
            tests = args.test_map.get(module, ("tests/",))
            missing = [t for t in tests if not (REPO / t.split("::")[0]).exists()]
            if missing:
                print(f"  skipping missing test paths {missing}", flush=True)
            tests = tuple(t for t in tests if t not in missing)
            verb = "reading the results of" if args.report_only else "mutating"
            print(f"{verb} {module} (tests: {', '.join(tests)}) ...", flush=True)
            if args.recheck is not None:
                result = recheck_module(module, tests, args.recheck, workdir, args.max_children, args.report_only)
            else:
                result = run_module(module, tests, workdir, args.max_children, args.report_only, tuple(args.only))
            print(
                f"  {len(result.status)} mutants, {result.count(KILLED)} killed, "
                f"{len(result.survivors)} survived, {result.seconds:.0f} s",
                flush=True,
            )
            results.append(result)
    finally:
        if not (args.keep_workdir or args.report_only):
            shutil.rmtree(workdir, ignore_errors=True)
    command = "python -m train.mutation " + " ".join(argv if argv is not None else sys.argv[1:])
    if args.report_only:  # the command that mutated, not the one that rewrote the report
        saved = workdir / "command.txt"
        command = saved.read_text().strip() if saved.is_file() else command
    if args.recheck is not None:
        saved = args.recheck / "command.txt"
        first = saved.read_text().strip() if saved.is_file() else f"a run kept in {args.recheck}"
        command = f"{first}`, then `{command}"
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(render_report(results, notes, command.strip()))
    print(f"wrote {args.out}")
    unexplained = [s for r in results for s in r.survivors if s not in notes]
    return 1 if unexplained else 0


if __name__ == "__main__":
    sys.exit(main())
