"""Workloads: trace files, uniform and Zipf pair sampling, the Poisson arrival CDF."""

from __future__ import annotations

import io
import json
import math
import sys
from pathlib import Path

import numpy as np
import pytest

from modenhub_env.config import HubConfig
from modenhub_env.workload import (
    Popularity,
    Trace,
    _lines,
    all_pairs,
    load_trace,
    max_budget,
    pair_code,
    poisson_cdf,
    uniform_pairs,
)

# Upper 0.1% point of the chi-square distribution with 14 degrees of freedom (15 pairs of
# 6 QPUs): a correct sampler fails the test with probability 0.001 (and the seeds are fixed).
CHI2_14_DOF_999 = 36.12


def _write(path, text):
    path.write_text(text)
    return path


# ---------------------------------------------------------------- trace files


def test_load_trace__reads_csv(tmp_path):
    path = _write(tmp_path / "t.csv", "round,a,b,budget\n0,1,2,3\n2,3,0,1\n2,0,1,5\n")
    trace = load_trace(path, n_qpus=4)
    assert trace.rows == 3
    np.testing.assert_array_equal(trace.round, [0, 2, 2])
    np.testing.assert_array_equal(trace.a, [1, 0, 0])  # (3, 0) stored as a < b
    np.testing.assert_array_equal(trace.b, [2, 3, 1])
    np.testing.assert_array_equal(trace.budget, [3, 1, 5])


def test_load_trace__reads_csv_with_extra_columns_and_spaces(tmp_path):
    path = _write(tmp_path / "t.csv", "gate,round,a,b,budget\ncx, 4 ,0, 1,2\n")
    trace = load_trace(path, n_qpus=2)
    assert (trace.rows, int(trace.round[0]), int(trace.budget[0])) == (1, 4, 2)


def test_load_trace__reads_json_lines(tmp_path):
    rows = [{"round": 3, "a": 2, "b": 1, "budget": 4}, {"round": 0, "a": 0, "b": 3, "budget": 2}]
    path = _write(tmp_path / "t.jsonl", "\n".join(json.dumps(r) for r in rows) + "\n\n")
    trace = load_trace(path, n_qpus=4)
    np.testing.assert_array_equal(trace.round, [0, 3])
    np.testing.assert_array_equal(trace.a, [0, 1])
    np.testing.assert_array_equal(trace.b, [3, 2])
    np.testing.assert_array_equal(trace.budget, [2, 4])


def test_load_trace__sorts_by_round_stably(tmp_path):
    text = "round,a,b,budget\n5,0,1,1\n1,0,2,1\n5,0,3,1\n0,1,2,1\n1,1,3,1\n"
    trace = load_trace(_write(tmp_path / "t.csv", text), n_qpus=4)
    np.testing.assert_array_equal(trace.round, [0, 1, 1, 5, 5])
    # rows of one round keep their file order
    np.testing.assert_array_equal(trace.a * 4 + trace.b, [6, 2, 7, 1, 3])


def test_load_trace__one_qpu_allows_the_hub_pair(tmp_path):
    trace = load_trace(_write(tmp_path / "t.csv", "round,a,b,budget\n0,0,0,2\n"), n_qpus=1)
    assert (int(trace.a[0]), int(trace.b[0])) == (0, 0)


def test_trace__arrivals_per_round_indexes_first_rows(tmp_path):
    trace = load_trace(_write(tmp_path / "t.csv", "round,a,b,budget\n0,0,1,1\n2,0,1,1\n2,0,1,1\n3,0,1,1\n"), 2)
    np.testing.assert_array_equal(trace.arrivals_per_round(), [0, 1, 1, 3, 4])


@pytest.mark.parametrize(
    ("body", "line", "problem"),
    [
        ("0,1,2,3\n1,x,2,3\n", 3, "a must be an integer"),
        ("0,1,2,3\n1.5,0,2,3\n", 3, "round must be an integer"),
        ("0,1,1,3\n", 2, "a and b must differ"),
        ("0,1,2,3\n0,1,2,3\n0,0,4,3\n", 4, r"b must be a QPU in \[0, 3\]"),
        ("0,-1,2,3\n", 2, r"a must be a QPU in \[0, 3\]"),
        ("0,1,2,0\n", 2, "budget must be >= 1"),
        ("-1,1,2,3\n", 2, "round must be >= 0"),
        ("0,1,2\n", 2, "budget must be an integer"),
    ],
)
def test_load_trace__bad_csv_row_names_file_and_line(tmp_path, body, line, problem):
    path = _write(tmp_path / "bad.csv", "round,a,b,budget\n" + body)
    with pytest.raises(ValueError, match=problem) as err:
        load_trace(path, n_qpus=4)
    assert f"{path}:{line}:" in str(err.value)


def test_load_trace__csv_missing_column_names_file_and_columns(tmp_path):
    path = _write(tmp_path / "bad.csv", "round,a,budget\n0,1,3\n")
    with pytest.raises(ValueError, match="CSV header must name the columns") as err:
        load_trace(path, n_qpus=4)
    assert f"{path}:1:" in str(err.value)


@pytest.mark.parametrize(
    ("lines", "line", "problem"),
    [
        (['{"round": 0, "a": 0, "b": 1, "budget": 2}', '{"round": 1, "a": 0, "b": 1'], 2, "not valid JSON"),
        (['{"round": 0, "a": 0, "b": 1, "budget": 2}', "", "[1, 2, 3]"], 3, "must be a JSON object"),
        (['{"round": 0, "a": 0, "b": 1}'], 1, "budget must be an integer"),
        (['{"round": 0, "a": 2, "b": 2, "budget": 1}'], 1, "a and b must differ"),
        (['{"round": 0, "a": 0, "b": 9, "budget": 1}'], 1, "b must be a QPU"),
        (['{"round": 0, "a": 0, "b": 1, "budget": 0}'], 1, "budget must be >= 1"),
        (['{"round": "soon", "a": 0, "b": 1, "budget": 1}'], 1, "round must be an integer"),
    ],
)
def test_load_trace__bad_json_row_names_file_and_line(tmp_path, lines, line, problem):
    path = _write(tmp_path / "bad.jsonl", "\n".join(lines) + "\n")
    with pytest.raises(ValueError, match=problem) as err:
        load_trace(path, n_qpus=4)
    assert f"{path}:{line}:" in str(err.value)


def test_load_trace__empty_trace_raises_naming_file(tmp_path):
    path = _write(tmp_path / "empty.csv", "round,a,b,budget\n")
    with pytest.raises(ValueError, match="no requests") as err:
        load_trace(path, n_qpus=4)
    assert str(path) in str(err.value)


# ---------------------------------------------------------------- pair sampling


def test_pair_code__is_min_times_n_plus_max():
    a, b = np.array([0, 3, 2]), np.array([1, 1, 2])
    np.testing.assert_array_equal(pair_code(a, b, 4), [1, 7, 10])


def test_uniform_pairs__gives_distinct_ordered_qpus():
    gen = np.random.default_rng(1)
    a, b = uniform_pairs(gen.random(5000), gen.random(5000), 7)
    assert np.all(a < b)
    assert a.min() >= 0 and b.max() <= 6


def test_uniform_pairs__handles_uniform_edges():
    u = np.array([0.0, 1.0 - 2.0**-53])
    a, b = uniform_pairs(u, u[::-1], 5)
    assert np.all(a < b) and np.all(b < 5)


def test_uniform_pairs__one_qpu_gives_the_hub_pair():
    a, b = uniform_pairs(np.array([0.3, 0.9]), np.array([0.1, 0.5]), 1)
    np.testing.assert_array_equal(a, [0, 0])
    np.testing.assert_array_equal(b, [0, 0])


def test_uniform_pairs__covers_all_pairs_uniformly():
    n, draws = 6, 30_000
    gen = np.random.default_rng(2024)
    a, b = uniform_pairs(gen.random(draws), gen.random(draws), n)
    counts = np.bincount(pair_code(a, b, n), minlength=n * n)
    iu = np.triu_indices(n, k=1)
    observed = counts.reshape(n, n)[iu]
    assert observed.sum() == draws  # no mass off the a < b pairs
    expected = draws / observed.size
    chi2 = float(((observed - expected) ** 2 / expected).sum())
    assert chi2 < CHI2_14_DOF_999


def _pop(n_qpus: int, s: float, seed: int = 0) -> Popularity:
    cfg = HubConfig(n_qpus=n_qpus, zipf_exponent=s, popularity_seed=seed, workload="poisson", episode_rounds=10)
    return Popularity.build(cfg)


def test_popularity__ranks_every_pair_once():
    pop = _pop(6, 1.2)
    assert np.all(pop.a < pop.b)
    codes = pair_code(pop.a, pop.b, 6)
    assert np.unique(codes).size == 15
    assert pop.cdf[-1] == pytest.approx(1.0) and np.all(np.diff(pop.cdf) > 0)


def test_popularity__zipf_skews_toward_rank_zero():
    n, s, draws = 6, 1.4, 20_000
    pop = _pop(n, s)
    a, b = pop.sample(np.random.default_rng(7).random(draws))
    codes = pair_code(a, b, n)
    by_rank = np.array([(codes == c).sum() for c in pair_code(pop.a, pop.b, n)])
    weights = 1.0 / np.arange(1, 16) ** s
    share = weights / weights.sum()
    # rank 0 gets its Zipf share within 4 binomial standard errors
    se = math.sqrt(share[0] * (1 - share[0]) / draws)
    assert abs(by_rank[0] / draws - share[0]) < 4 * se
    assert by_rank[0] > by_rank[1] > by_rank[4] > by_rank[14]
    assert by_rank[0] > 4 * draws / 15  # far above the uniform share


def test_popularity__zero_exponent_is_uniform():
    pop = _pop(6, 0.0)
    np.testing.assert_allclose(np.diff(np.concatenate([[0.0], pop.cdf])), 1 / 15)


def test_popularity__ranking_depends_on_seed_only():
    first, again, other = _pop(8, 1.0, seed=3), _pop(8, 1.0, seed=3), _pop(8, 1.0, seed=4)
    np.testing.assert_array_equal(first.a * 8 + first.b, again.a * 8 + again.b)
    assert not np.array_equal(first.a * 8 + first.b, other.a * 8 + other.b)


def test_popularity__one_qpu_has_one_pair():
    pop = _pop(1, 1.0)
    a, b = pop.sample(np.array([0.0, 0.5, 0.999]))
    np.testing.assert_array_equal(a, 0)
    np.testing.assert_array_equal(b, 0)


# ---------------------------------------------------------------- Poisson arrivals


@pytest.mark.parametrize("rate", [0.05, 0.6, 1.0, 2.0, 7.5, 30.0, 64.0])
def test_poisson_cdf__has_poisson_mean_and_variance(rate):
    cdf = poisson_cdf(rate)
    assert cdf[-1] == pytest.approx(1.0, abs=1e-15)
    assert np.all(np.diff(cdf) >= 0)
    pmf = np.diff(np.concatenate([[0.0], cdf]))
    k = np.arange(cdf.size)
    mean = float((k * pmf).sum())
    assert mean == pytest.approx(rate, rel=1e-9)
    assert float(((k - mean) ** 2 * pmf).sum()) == pytest.approx(rate, rel=1e-8)


def test_poisson_cdf__first_entry_is_exp_minus_rate():
    assert poisson_cdf(2.0)[0] == pytest.approx(math.exp(-2.0), rel=1e-12)


def test_poisson_cdf__inverse_sampling_has_the_mean():
    rate, draws = 3.0, 20_000
    u = np.random.default_rng(11).random(draws)
    samples = np.searchsorted(poisson_cdf(rate), u, side="right")
    se = math.sqrt(rate / draws)
    assert abs(samples.mean() - rate) < 4 * se


@pytest.mark.parametrize("n_qpus", [1, 2, 7])
def test_all_pairs__every_pair_once_in_order(n_qpus):
    from modenhub_env.config import HubConfig
    from modenhub_env.workload import all_pairs

    a, b = all_pairs(n_qpus)
    assert a.size == HubConfig(n_qpus=n_qpus).n_pairs
    if n_qpus == 1:
        assert (a.tolist(), b.tolist()) == ([0], [0])
    else:
        assert (a < b).all() and len(set(zip(a.tolist(), b.tolist(), strict=True))) == a.size


# ---------------------------------------------------------------- trace bounds: located errors before any allocation


@pytest.mark.parametrize(
    ("body", "line", "problem"),
    [
        ("0,0,1,1000000000000\n", 2, r"budget must be <= 10000 \(allowed \[1, 10000\]\)"),
        ("0,0,1,2\n10000000000,0,1,2\n", 3, r"round must be <= 10000000"),
        ("0,0,1,100000000\n1,0,1,100000000\n", 2, "budget must be <= 10000"),
        ("0,0,1," + "9" * 4000 + "\n", 2, r"budget must be an integer, got 999999999999\.\.\. \(4000 characters\)"),
        ("0,0,1,1e3\n", 2, "budget must be an integer"),
        ('0,0,1,"2\n', 2, "not a CSV line"),
    ],
)
def test_load_trace__out_of_bounds_or_malformed_values_name_file_and_line(tmp_path, body, line, problem):
    path = _write(tmp_path / "bad.csv", "round,a,b,budget\n" + body)
    with pytest.raises(ValueError, match=problem) as err:
        load_trace(path, n_qpus=4)
    assert f"{path}:{line}:" in str(err.value)


def test_load_trace__non_utf8_bytes_name_file_and_line(tmp_path):
    path = tmp_path / "latin.csv"
    path.write_bytes(b"round,a,b,budget\n0,0,1,2\n1,0,1,2 \xe9t\xe9\n")
    # "1,0,1,2 " is 8 bytes, so the first bad byte is the 9th
    with pytest.raises(ValueError, match=r"latin.csv:3: not UTF-8 text \(byte 9 of the line\)$"):
        load_trace(path, n_qpus=4)


def test_load_trace__a_huge_field_is_refused_by_line_length(tmp_path):
    path = tmp_path / "big.csv"
    path.write_bytes(b"round,a,b,budget\n0,0,1," + b"7" * (5 * 2**20) + b"\n")
    with pytest.raises(ValueError, match=r"big.csv:2: line longer than 4096 bytes"):
        load_trace(path, n_qpus=4)


def test_load_trace__huge_json_number_names_file_and_line(tmp_path):
    path = _write(tmp_path / "big.jsonl", '{"round": 0, "a": 0, "b": 1, "budget": 1' + "0" * 3000 + "}\n")
    with pytest.raises(ValueError, match=r"big.jsonl:1: budget must be an integer, got 100000000000\.\.\."):
        load_trace(path, n_qpus=4)


def test_load_trace__json_true_is_not_an_integer(tmp_path):
    path = _write(tmp_path / "bool.jsonl", '{"round": 0, "a": 0, "b": 1, "budget": true}\n')
    with pytest.raises(ValueError, match="bool.jsonl:1: budget must be an integer, got True$"):
        load_trace(path, n_qpus=4)


def test_load_trace__a_file_past_the_size_bound_is_refused_before_reading(tmp_path, monkeypatch):
    from modenhub_env import workload

    monkeypatch.setattr(workload, "MAX_TRACE_BYTES", 64)
    path = _write(tmp_path / "long.csv", "round,a,b,budget\n" + "0,0,1,2\n" * 20)
    with pytest.raises(ValueError, match=r"long.csv: 177 bytes; a trace holds at most 64 bytes"):
        load_trace(path, n_qpus=4)


def test_load_trace__rows_past_the_row_bound_name_the_line(tmp_path, monkeypatch):
    from modenhub_env import workload

    monkeypatch.setattr(workload, "MAX_TRACE_ROWS", 3)
    path = _write(tmp_path / "many.csv", "round,a,b,budget\n" + "0,0,1,2\n" * 5)
    with pytest.raises(ValueError, match=r"many.csv:5: more than 3 requests"):
        load_trace(path, n_qpus=4)


def test_load_trace__bounds_themselves_are_accepted(tmp_path):
    path = _write(tmp_path / "edge.csv", "round,a,b,budget\n10000000,0,1,10000\n")
    trace = load_trace(path, n_qpus=2)
    assert (int(trace.round[0]), int(trace.budget[0])) == (10**7, 10**4)


def test_load_trace__a_folder_is_a_clear_error(tmp_path):
    with pytest.raises(ValueError, match="cannot read the trace"):
        load_trace(tmp_path, n_qpus=4)


# ---------------------------------------------------------------- edges (from mutation testing)


def test_load_trace__blank_file_holds_no_requests(tmp_path):
    for text in ("", "\n  \n"):
        with pytest.raises(ValueError, match="blank.csv: trace holds no requests"):
            load_trace(_write(tmp_path / "blank.csv", text), n_qpus=4)


def test_load_trace__json_lines_may_start_with_spaces(tmp_path):
    text = '  {"round": 0, "a": 1, "b": 2, "budget": 3}\n\t{"round": 1, "a": 0, "b": 3, "budget": 2}\n'
    trace = load_trace(_write(tmp_path / "t.jsonl", text), n_qpus=4)
    np.testing.assert_array_equal(trace.a * 4 + trace.b, [6, 3])


def test_load_trace__many_rows_of_one_round_keep_their_file_order(tmp_path):
    # 400 rows over 3 rounds, unsorted: numpy's default (quick)sort would reorder ties
    gen = np.random.default_rng(0)
    rounds = gen.integers(0, 3, size=400)
    a = np.arange(400) % 40
    rows = "".join(f"{r},{x},40,1\n" for r, x in zip(rounds, a, strict=True))
    trace = load_trace(_write(tmp_path / "t.csv", "round,a,b,budget\n" + rows), n_qpus=41)
    for r in range(3):
        np.testing.assert_array_equal(trace.a[trace.round == r], a[rounds == r])


def test_load_trace__two_qpus_reject_a_request_of_one_qpu_to_itself(tmp_path):
    with pytest.raises(ValueError, match="a and b must differ, both are 1"):
        load_trace(_write(tmp_path / "t.csv", "round,a,b,budget\n0,1,1,2\n"), n_qpus=2)


def test_trace__arrivals_per_round_of_no_rows_is_two_zeros():
    empty = np.zeros(0, dtype=np.int64)
    trace = Trace(round=empty, a=empty, b=empty, budget=empty)
    np.testing.assert_array_equal(trace.arrivals_per_round(), [0, 0])


def test_max_budget__reads_the_trace_file_when_no_trace_is_given(tmp_path):
    path = _write(tmp_path / "t.csv", "round,a,b,budget\n0,0,1,2\n1,1,2,7\n2,0,2,4\n")
    cfg = HubConfig(n_qpus=3, workload="trace", trace_path=str(path), round_budget=3)
    assert max_budget(cfg) == 7
    assert max_budget(cfg.replace(workload="sequential", trace_path=None)) == 3


def test_pairs__are_int64_also_for_one_qpu():
    for n_qpus in (1, 5):
        a, b = all_pairs(n_qpus)
        assert a.dtype == np.int64 and b.dtype == np.int64
        a, b = uniform_pairs(np.array([0.3, 0.9]), np.array([0.5, 0.1]), n_qpus)
        assert a.dtype == np.int64 and b.dtype == np.int64


def test_popularity__integer_exponent_on_many_pairs_does_not_overflow():
    # 2016 pairs, weights r**-10: cdf[0] = 1 / sum_{r<=2016} r**-10 = 1 / 1.0009946 = 0.9990064
    pop = Popularity.build(HubConfig(n_qpus=64, zipf_exponent=10))
    assert pop.cdf[0] == pytest.approx(0.9990064130690307, rel=1e-12)
    assert np.all(np.diff(pop.cdf) >= 0.0) and pop.cdf[-1] == 1.0


def test_popularity__sample_rank_boundaries():
    pop = Popularity.build(HubConfig(n_qpus=4, zipf_exponent=1.0))
    pairs = list(zip(pop.a.tolist(), pop.b.tolist(), strict=True))
    a, b = pop.sample(np.array([0.0, pop.cdf[0], pop.cdf[1], 1.0]))
    # u in [cdf[r-1], cdf[r]) picks rank r; u = 1 (never drawn) is clamped to the last rank
    assert list(zip(a.tolist(), b.tolist(), strict=True)) == [pairs[0], pairs[1], pairs[2], pairs[5]]


def test_load_trace__a_file_of_exactly_the_size_bound_is_read(tmp_path, monkeypatch):
    from modenhub_env import workload

    path = _write(tmp_path / "edge.csv", "round,a,b,budget\n0,0,1,2\n")  # 17 + 8 bytes
    monkeypatch.setattr(workload, "MAX_TRACE_BYTES", 25)
    assert load_trace(path, n_qpus=2).rows == 1


def test_load_trace__a_missing_file_names_the_systems_reason(tmp_path):
    path = tmp_path / "missing.csv"
    with pytest.raises(ValueError) as err:
        load_trace(path, n_qpus=4)
    assert str(err.value) == f"{path}: cannot read the trace (No such file or directory)"


def test_load_trace__a_line_of_exactly_the_line_bound_is_read(tmp_path):
    # "0,0,1,2," (8 bytes) + 4087 bytes of an ignored column + the newline: 4096 bytes
    header = "round,a,b,budget,note\n"
    path = _write(tmp_path / "edge.csv", header + "0,0,1,2," + "x" * 4087 + "\n")
    assert load_trace(path, n_qpus=2).rows == 1
    path = _write(tmp_path / "edge.csv", header + "0,0,1,2," + "x" * 4088 + "\n")
    with pytest.raises(ValueError, match=r"edge.csv:2: line longer than 4096 bytes"):
        load_trace(path, n_qpus=2)


def test_lines__reads_at_most_one_byte_past_the_line_bound():
    class Recording(io.BytesIO):
        def __init__(self, data: bytes):
            super().__init__(data)
            self.sizes = []

        def readline(self, size=-1):
            self.sizes.append(size)
            return super().readline(size)

    handle = Recording(b"round,a,b,budget\n" + b"7" * (5 * 2**20) + b"\n")
    with pytest.raises(ValueError, match="t.csv:2: line longer than 4096 bytes"):
        list(_lines(Path("t.csv"), handle))
    assert handle.sizes == [4097, 4097]  # 4096 + 1: never the whole 5 MiB line


def test_load_trace__a_byte_order_mark_is_dropped_from_the_first_line_only(tmp_path):
    path = tmp_path / "bom.csv"
    path.write_bytes(b"\xef\xbb\xbfround,a,b,budget\n0,0,1,2\n")
    assert load_trace(path, n_qpus=2).rows == 1
    path.write_bytes(b"round,a,b,budget\n\xef\xbb\xbf0,0,1,2\n")
    with pytest.raises(ValueError, match=r"bom.csv:2: round must be an integer, got '\\ufeff0'$"):
        load_trace(path, n_qpus=2)


@pytest.mark.parametrize(
    ("row", "problem"),
    [
        ("\r0,0,1,2\n", "not a CSV line"),  # a carriage return opening a line is no line ending
        ('0,0,1,"2" \n', "not a CSV line"),  # nor is a space after a closing quote
        ("0,0,1,2X\n", "budget must be an integer, got '2X'"),
    ],
)
def test_load_trace__only_the_line_ending_is_stripped(tmp_path, row, problem):
    path = _write(tmp_path / "t.csv", "round,a,b,budget\n0,0,1,2\r\n" + row)
    with pytest.raises(ValueError, match=problem) as err:
        load_trace(path, n_qpus=2)
    assert f"{path}:3:" in str(err.value)


def test_load_trace__a_header_that_is_not_csv_names_file_and_line(tmp_path):
    path = _write(tmp_path / "bad.csv", 'round,a,b,"budget\n0,0,1,2\n')
    with pytest.raises(ValueError, match="not a CSV line") as err:
        load_trace(path, n_qpus=2)
    assert f"{path}:1:" in str(err.value)


def test_load_trace__json_past_pythons_digit_limit_names_file_and_line(tmp_path):
    # The default limit (4300 digits) is longer than a line may be; a lower one is reached.
    path = _write(tmp_path / "big.jsonl", '{"round": 0, "a": 0, "b": 1, "budget": 1' + "0" * 700 + "}\n")
    limit = sys.get_int_max_str_digits()
    sys.set_int_max_str_digits(640)
    try:
        with pytest.raises(ValueError, match=r"big.jsonl:1: not valid JSON \(Exceeds the limit \(640 digits\)"):
            load_trace(path, n_qpus=4)
    finally:
        sys.set_int_max_str_digits(limit)


def test_load_trace__a_value_of_exactly_the_field_bound_is_read(tmp_path):
    path = _write(tmp_path / "t.csv", "round,a,b,budget\n" + "0" * 31 + "3,0,1,2\n")  # 32 characters
    assert int(load_trace(path, n_qpus=2).round[0]) == 3
    path = _write(tmp_path / "t.csv", "round,a,b,budget\n" + "0" * 32 + "3,0,1,2\n")
    with pytest.raises(ValueError, match=r"t.csv:2: round must be an integer, got 000000000000\.\.\. \(33 characters\)$"):
        load_trace(path, n_qpus=2)


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ("0,0,1,0", "budget must be >= 1 round (allowed [1, 10000]), got 0"),
        ("-1,0,1,2", "round must be >= 0 (allowed [0, 10000000]), got -1"),
        ("0,0,1,10001", "budget must be <= 10000 (allowed [1, 10000]), got 10001"),
        ("10000001,0,1,2", "round must be <= 10000000 (allowed [0, 10000000]), got 10000001"),
    ],
)
def test_load_trace__an_out_of_range_value_is_named_with_its_range(tmp_path, row, message):
    path = _write(tmp_path / "t.csv", f"round,a,b,budget\n{row}\n")
    with pytest.raises(ValueError) as err:
        load_trace(path, n_qpus=2)
    assert str(err.value) == f"{path}:2: {message}"
