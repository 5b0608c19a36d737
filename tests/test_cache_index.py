"""The cache's index (``kernels`` hash table and chains) never changes what the cache
does: a core whose index is rebuilt from the entries before every round (as after hand
edits) steps bit for bit like one that keeps it up to date, through fills, expiries,
reservations and the table's own rebuilds; and a hand-edited entry that is no pair code
is refused by name."""

from __future__ import annotations

import numpy as np
import pytest

from modenhub_env import HubConfig, kernels
from modenhub_env.core import HubCore, hash_slots
from modenhub_env.interface import keys_for_seeds

SCENARIOS = {
    # Many distinct pairs through a small table: ebits expire after 2 rounds, so the table
    # fills with emptied chains and is rebuilt every few rounds.
    "churn": HubConfig.preset("hotspot", n_qpus=64, zipf_exponent=0.0, cache_capacity=6, cache_per_pair=2, cutoff=2),
    # A full cache that never expires (the paper preset at N = 128).
    "full": HubConfig.preset("paper", n_qpus=128),
    # Expiry by cutoff and fidelity floor, several ebits per pair, prefetching.
    "decoherence": HubConfig.preset("decoherence"),
    "hotspot": HubConfig.preset("hotspot"),
}


def _twins(config: HubConfig, batch: int) -> tuple[HubCore, HubCore]:
    """Two cores on the same episodes; the second rebuilds its index before every call."""
    cores = HubCore(config, batch), HubCore(config, batch)
    for core in cores:
        keys = keys_for_seeds([7 + i for i in range(batch)], core.keys, None)
        core.reset(np.ones(batch, dtype=bool), keys)
    cores[1].state  # noqa: B018  (handing out the state makes every call rebuild the index)
    return cores


def _check_kept_equals_rebuilt(config: HubConfig, batch: int, rounds: int) -> int:
    """Random valid rounds of a core that keeps its index up to date and of one that
    rebuilds it before every call: the same observations, outcomes and state throughout.
    Returns how often the first rebuilt its table itself (not counting resets)."""
    kept, rebuilt = _twins(config, batch)
    rng = np.random.default_rng(3)
    rebuilds_seen = 0
    for _ in range(rounds):
        limits = kept.work[:, : kept.n_slots]
        actions = np.ascontiguousarray((rng.random(limits.shape) * (limits + 1)).astype(np.int64))
        hashed_before = kept._ints[:, kernels.S_HASHED].copy()
        kept.advance(actions, autoreset=True)
        rebuilt.advance(actions.copy(), autoreset=True)
        went_on = kept._ints[:, kernels.S_ROUND] > 0  # an autoreset empties the table too
        rebuilds_seen += int((went_on & (kept._ints[:, kernels.S_HASHED] < hashed_before)).sum())
        np.testing.assert_array_equal(kept.obs, rebuilt.obs)
        np.testing.assert_array_equal(kept.out, rebuilt.out)
        np.testing.assert_array_equal(kept.work[:, : kept.n_slots], rebuilt.work[:, : rebuilt.n_slots])
        np.testing.assert_array_equal(kept.snapshot().c_pair, rebuilt.snapshot().c_pair)
        np.testing.assert_array_equal(kept.snapshot().q_reserved, rebuilt.snapshot().q_reserved)
    assert kept.snapshot().totals["cached"].sum() > 0
    return rebuilds_seen


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_index__kept_up_to_date_equals_rebuilt_every_round(name: str):
    rebuilds_seen = _check_kept_equals_rebuilt(SCENARIOS[name], 6, 300)
    if name == "churn":
        assert rebuilds_seen >= 20  # the table's own rebuild ran, many times


def test_index__a_short_churn_equals_rebuilt_every_round():
    """The churn scenario's check in brief (the mutation run's selection: every call under
    its trampolines costs)."""
    assert _check_kept_equals_rebuilt(SCENARIOS["churn"], 2, 60) >= 3


def test_index__counts_match_the_entries_after_many_rounds():
    """The index's summary (entries in use, no free entry below the hint, a bound on the
    oldest birth) agrees with a scan of the entries."""
    config = SCENARIOS["churn"]
    kept, _ = _twins(config, 3)
    rng = np.random.default_rng(5)
    for _ in range(100):
        limits = kept.work[:, : kept.n_slots]
        kept.advance(np.ascontiguousarray((rng.random(limits.shape) * (limits + 1)).astype(np.int64)), autoreset=True)
        state = kept.snapshot()
        in_use = state.c_pair >= 0
        filled, free_hint, oldest = kept._ints[:, 3], kept._ints[:, 4], kept._ints[:, 5]
        np.testing.assert_array_equal(filled, in_use.sum(axis=1))
        for row in range(3):
            assert in_use[row, : free_hint[row]].all()
            if in_use[row].any():
                assert oldest[row] <= state.c_birth[row][in_use[row]].min()


def test_hash_slots__a_power_of_two_at_least_twice_the_pairs_the_cache_can_hold():
    assert hash_slots(HubConfig.preset("paper", cache_capacity=0)) == 0
    assert hash_slots(HubConfig.preset("paper", n_qpus=16)) == 256  # 120 pairs
    assert hash_slots(HubConfig.preset("paper", n_qpus=128)) == 2048  # 1,024 entries
    assert hash_slots(HubConfig.preset("paper", n_qpus=1)) == 4  # one pair (0, 0)


def test_home__spreads_consecutive_pair_codes_over_the_table():
    """Linear probing stays short only if pairs start at different slots: the codes 0..15
    of a 16-slot table start at 15 of its slots (Fibonacci hashing: consecutive codes step
    by 2654435761 / 2^16 = 40503.6 slots, 7.6 mod 16; only 0 and 15 share slot 0), and 64
    codes in a 256-slot table at no fewer than 48 (three quarters)."""
    assert len({kernels._home(code, 15) for code in range(16)}) == 15
    assert len({kernels._home(code, 255) for code in range(64)}) >= 48


@pytest.mark.parametrize("bad", [5 * 6 + 2, 2 * 6 + 2, 36, -3])
def test_hand_edit__an_entry_that_is_no_pair_code_is_refused_by_name(bad: int):
    core = HubCore(HubConfig.preset("decoherence", n_qpus=6), 2)
    core.reset(np.ones(2, dtype=bool), np.array([1, 2], dtype=np.uint64))
    core.state.c_pair[1, 3] = bad
    with pytest.raises(ValueError, match=rf"state.c_pair\[1, 3\] = {bad} is not a pair code"):
        core.advance(np.zeros((2, core.n_slots), dtype=np.int64))


def test_slot_pairs__an_empty_request_slot_shows_pair_0_0():
    core = HubCore(HubConfig.preset("paper"), 1)
    core.reset(np.ones(1, dtype=bool), np.array([9], dtype=np.uint64))
    a, b, present = core.slot_pairs()
    k = core.config.request_slots
    assert present[0, 0] and not present[0, 1:k].any()
    assert (a[0, 1:k] == 0).all() and (b[0, 1:k] == 0).all()


def test_rebuild__counts_a_single_qpus_pair_and_finds_the_first_free_entry():
    """N = 1: the one pair (0, 0) has code 0, a valid entry. The index rebuilt after a hand
    edit counts its ebits (the request sees 2 of 3) and leaves the hint for the next put
    (``S_FREE``: no entry below it is free) at the first free entry; the entries' own
    columns alone decide, not the reservation column just before them."""
    config = HubConfig(n_qpus=1, cache_capacity=3, cache_per_pair=3)
    core = HubCore(config, 1)
    core.reset(np.ones(1, dtype=bool), np.array([5], dtype=np.uint64))
    s = core.state
    s.c_pair[0], s.c_birth[0] = [0, -1, 0], [0, 0, 0]
    s.q_reserved[0, -1] = 0  # a slot that is not pending: its reservation means nothing
    core.refresh()
    assert (core._ints[0, kernels.S_FILLED], core._ints[0, kernels.S_FREE]) == (2, 1)
    cached = kernels.N_GLOBAL + 4  # request[0].cached, ebits / cache_per_pair
    assert core.obs[0, cached] == np.float32(2 / 3)
    s.c_pair[0] = [0, 0, 0]  # full: the hint is the end of the entries
    core.refresh()
    assert (core._ints[0, kernels.S_FILLED], core._ints[0, kernels.S_FREE]) == (3, 3)


def test_cache_put__rebuilds_the_table_when_the_next_pair_would_fill_three_quarters():
    """H = 8 slots (3 entries, 15 pairs); five pairs put and dropped leave five keys with
    empty chains. A sixth pair makes 6 = 3/4 of 8 without a rebuild; a seventh would pass
    it, so the table is rebuilt first: the live pair and the new one, 2 keys."""
    config = HubConfig(n_qpus=6, cache_capacity=3, cache_per_pair=1)
    core = HubCore(config, 1)
    core.reset(np.ones(1, dtype=bool), np.array([5], dtype=np.uint64))
    ints, iparams = core._ints, core._iconsts
    assert iparams[kernels.I_H] == 8
    assert ints[0, kernels.S_HASHED] == 0 and ints[0, kernels.S_FILLED] == 0
    for code in (1, 2, 3, 4, 5):  # pairs (0, 1) .. (0, 5), each into entry 0 and out again
        kernels._cache_put(0, ints, iparams, code, 0)
        kernels._cache_drop(0, ints, iparams, 0)
    assert ints[0, kernels.S_HASHED] == 5 and ints[0, kernels.S_FILLED] == 0
    kernels._cache_put(0, ints, iparams, 8, 1)  # (1, 2): 4 (5 + 1) = 24, not above 3 * 8
    assert ints[0, kernels.S_HASHED] == 6
    kernels._cache_put(0, ints, iparams, 9, 2)  # (1, 3): 4 (6 + 1) = 28 > 24, rebuilt first
    assert ints[0, kernels.S_HASHED] == 2
    assert ints[0, kernels.S_FILLED] == 2
    assert ints[0, kernels.S_OLDEST] == 1  # the older of the births 1 and 2
    assert kernels._cached_for(0, 8, ints, iparams) == (1, 1)
    assert kernels._cached_for(0, 9, ints, iparams) == (1, 2)
    assert kernels._cached_for(0, 1, ints, iparams) == (0, -1)


def test_cache_put__skips_used_entries_of_a_single_qpus_pair_code_0():
    """N = 1: the pair (0, 0) has code 0. Entries 0 and 1 in use, 0 dropped and put again:
    the hint then points at entry 1, in use, so the next put goes on to entry 2."""
    config = HubConfig(n_qpus=1, cache_capacity=3, cache_per_pair=3)
    core = HubCore(config, 1)
    core.reset(np.ones(1, dtype=bool), np.array([5], dtype=np.uint64))
    ints, iparams = core._ints, core._iconsts
    kernels._cache_put(0, ints, iparams, 0, 0)
    kernels._cache_put(0, ints, iparams, 0, 1)
    kernels._cache_drop(0, ints, iparams, 0)
    kernels._cache_put(0, ints, iparams, 0, 2)  # into entry 0; the hint is now 1
    assert ints[0, kernels.S_FREE] == 1
    kernels._cache_put(0, ints, iparams, 0, 3)  # entry 1 is in use: entry 2
    assert core.snapshot().c_pair[0].tolist() == [0, 0, 0]
    assert core.snapshot().c_birth[0].tolist() == [2, 1, 3]
    assert kernels._cached_for(0, 0, ints, iparams) == (3, 3)


def test_expire__a_cutoff_of_one_round_drops_a_single_qpus_ebit_a_round_old():
    """cutoff 1: the storage limit is age 0, so an ebit heralded last round goes; N = 1
    makes its pair code 0."""
    config = HubConfig(n_qpus=1, cache_capacity=3, cache_per_pair=3, cutoff=1)
    core = HubCore(config, 1)
    core.reset(np.ones(1, dtype=bool), np.array([5], dtype=np.uint64))
    s = core.state
    s.round[0] = 5
    s.c_pair[0], s.c_birth[0] = [0, 0, -1], [4, 5, 0]
    core.refresh()
    ints, iparams = core._ints, core._iconsts
    assert iparams[kernels.I_STORAGE] == 0
    expired = core.out[0, kernels.O_EXPIRED]
    kernels._expire(0, ints, iparams, core.out)
    assert core.out[0, kernels.O_EXPIRED] == expired + 1.0
    assert core.snapshot().c_pair[0].tolist() == [-1, 0, -1]
    assert ints[0, kernels.S_FILLED] == 1
    assert ints[0, kernels.S_OLDEST] == 5
