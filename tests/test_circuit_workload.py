"""The circuit workload in the core (``docs/model.md#circuit-workload``): requests of
small hand-checked circuits in their order and rounds, a circuit on one QPU, the lower
bound and the model's timing under every policy on random circuits, the reward,
determinism, the critical-path-first scheduler, named errors for bad fields, and the
workload's circuit functions (``circuit_dag``, ``check_gate_order``, ``circuit_pool_size``,
``max_budget``) on their own.

Circuits are written by hand and saved as DAG files, so that only the tests marked with
the ``qiskit`` fixture need the ``circuits`` extra.
"""

from __future__ import annotations

import dataclasses
import re
import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agents import POLICIES, make_policy
from agents.base import KernelPolicy
from modenhub_env import HubConfig, ModEnHubEnv, kernels
from modenhub_env.circuits import Circuit, RequestDag, request_dag, save_dag
from modenhub_env.core import HubCore
from modenhub_env.interface import keys_for_seeds
from modenhub_env.vector_env import ModEnHubVectorEnv
from modenhub_env.workload import check_gate_order, circuit_dag, circuit_pool_size, max_budget

#: Every attempt heralds an ebit: p_ab = 1.
CERTAIN = {"p_bsm": 1.0, "eta_c": 1.0, "eta_d": 1.0, "alpha_db_per_km": 0.0, "switch_loss_db": 0.0}


def circuit(n_qubits: int, ops: list[tuple[int, ...]]) -> Circuit:
    """A circuit from ``(a,)`` one-qubit and ``(a, b)`` two-qubit operations."""
    return Circuit(n_qubits, [op[0] for op in ops], [op[1] if len(op) == 2 else -1 for op in ops], source="test")


def dag_file(folder: Path, c: Circuit, placement: list[int], n_qpus: int, local_rounds: int = 0,
             name: str = "dag.json") -> str:
    dag = request_dag(c, placement, n_qpus, qpu_capacity=c.n_qubits, local_rounds=local_rounds)
    return str(save_dag(dag, folder / name))


def circuit_config(path: str, n_qpus: int, **overrides) -> HubConfig:
    fields = {"n_qpus": n_qpus, "workload": "circuit", "circuit": path, "episode_rounds": 500,
              "queue_capacity": 8, "request_slots": 8, "prefetch_slots": 2, "cache_capacity": 0}
    fields.update(overrides)
    return HubConfig(**fields)


def one_attempt_each(core: HubCore) -> np.ndarray:
    """One attempt for every request slot whose mask allows one; no prefetch."""
    limits = core.slot_limits()
    actions = np.minimum(limits, 1)
    actions[:, core.config.request_slots :] = 0
    return actions


def play(core: HubCore, act=one_attempt_each, seed: int = 0) -> list[dict]:
    """One episode of env 0, round by round: the gates pending at the start of each round
    (queue order), the reward and its parts."""
    core.reset(np.ones(1, dtype=bool), keys_for_seeds([seed], core.keys, None))
    rounds = []
    while True:
        state = core.snapshot()
        pending = state.q_gate[0][state.q_valid[0]].tolist()
        result = core.step(act(core))
        rounds.append({"pending": pending, "reward": float(result.reward[0]),
                       "makespan": float(result.counts["reward_makespan"][0]),
                       "attempts": float(result.counts["reward_attempts"][0]),
                       "arrived": float(result.counts["arrived"][0]), "rejected": float(result.counts["rejected"][0])})
        if result.terminated[0] or result.truncated[0]:
            rounds[-1]["terminated"] = bool(result.terminated[0])
            return rounds


@pytest.fixture
def qiskit():
    return pytest.importorskip("qiskit")


# ---------------------------------------------------------------- hand-checked circuits


def test_circuit__ghz_chain_requests_come_one_a_round_in_chain_order(tmp_path):
    # H(0), CX(0,1), ..., CX(5,6) with one qubit pair per QPU: (1,2), (3,4) and (5,6) cross.
    c = circuit(7, [(0,)] + [(q, q + 1) for q in range(6)])
    core = HubCore(circuit_config(dag_file(tmp_path, c, [0, 0, 1, 1, 2, 2, 3], 4), 4, **CERTAIN), 1)
    assert (core.dag.pair_a.tolist(), core.dag.pair_b.tolist()) == ([0, 1, 2], [1, 2, 3])
    rounds = play(core)
    assert [r["pending"] for r in rounds] == [[0], [1], [2]]
    assert core.snapshot().g_served[0].tolist() == [0, 1, 2]
    assert rounds[-1]["terminated"] and len(rounds) == core.dag.lower_bound == 3


def test_circuit__local_gates_delay_the_next_request_by_their_rounds(tmp_path):
    # CX(0,1) and CX(1,2) cross; two one-qubit gates on qubit 1 between them, one after.
    c = circuit(3, [(0, 1), (1,), (1,), (1, 2), (2,)])
    core = HubCore(circuit_config(dag_file(tmp_path, c, [0, 1, 2], 3, local_rounds=2), 3, **CERTAIN), 1)
    rounds = play(core)
    # Gate 0 served in round 0; gate 1 pending at 0 + 1 + 2 * 2 = 5; the circuit ends
    # after the last gate's round plus its one local gate: 5 + 1 + 2 = 8.
    assert [r["pending"] for r in rounds] == [[0], [], [], [], [], [1], [], []]
    assert core.snapshot().g_served[0].tolist() == [0, 5]
    assert len(rounds) == core.dag.lower_bound == 8
    assert [r["makespan"] for r in rounds] == [-1.0] * 8


def test_circuit__parallel_gates_wait_outside_a_full_queue_and_are_never_rejected(tmp_path):
    # Three independent crossing gates, then one that needs the first and the third.
    c = circuit(6, [(0, 1), (2, 3), (4, 5), (1, 4)])
    path = dag_file(tmp_path, c, [0, 1, 0, 1, 0, 1], 2)
    wide = play(HubCore(circuit_config(path, 2, **CERTAIN), 1))
    assert [r["pending"] for r in wide] == [[0, 1, 2], [3]]
    narrow = play(HubCore(circuit_config(path, 2, queue_capacity=1, request_slots=1, **CERTAIN), 1))
    # One slot: the ready gates join in circuit order, one a round; gate 3 waits for gate 2.
    assert [r["pending"] for r in narrow] == [[0], [1], [2], [3]]
    assert sum(r["rejected"] for r in narrow) == 0
    assert sum(r["arrived"] for r in narrow) == 4 - 1  # gate 0 arrived with the reset


def test_circuit__qft3_requests_follow_its_dag(tmp_path, qiskit):
    # Qiskit's 3-qubit QFT on three QPUs: nine CNOTs, each waiting for the one before.
    config = HubConfig(n_qpus=3, workload="circuit", circuit="qft:3", placement=(0, 1, 2), episode_rounds=100,
                       queue_capacity=4, request_slots=4, cache_capacity=0, **CERTAIN)
    core = HubCore(config, 1)
    rounds = play(core)
    assert [r["pending"] for r in rounds] == [[g] for g in range(9)]
    assert len(rounds) == core.dag.lower_bound == 9
    first = HubCore(config, 1)
    first.reset(np.ones(1, dtype=bool), keys_for_seeds([0], first.keys, None))
    state = first.snapshot()
    assert (state.q_a[0, 0], state.q_b[0, 0]) == (1, 2)  # CX(2, 1): QPUs 1 and 2


def test_circuit__qft3_with_lossy_links_keeps_the_order(tmp_path, qiskit):
    config = HubConfig(n_qpus=3, workload="circuit", circuit="qft:3", placement=(0, 1, 2), episode_rounds=400,
                       queue_capacity=4, request_slots=4, cache_capacity=0)
    core = HubCore(config, 1)
    rounds = play(core, seed=5)
    order = [r["pending"][0] for r in rounds]
    assert order == sorted(order) and set(order) == set(range(9))
    served = core.snapshot().g_served[0]
    assert (np.diff(served) >= 1).all() and len(rounds) == served[-1] + 1 > 9


@pytest.mark.parametrize(("local_rounds", "depth"), [(0, 0), (1, 4), (3, 12)])
def test_circuit__all_on_one_qpu_makes_no_request_and_ends_at_its_local_depth(tmp_path, local_rounds, depth):
    c = circuit(3, [(0,), (0, 1), (1, 2), (2,), (0,)])  # longest path: U(0), CX(0,1), CX(1,2), U(2)
    core = HubCore(circuit_config(dag_file(tmp_path, c, [1, 1, 1], 2, local_rounds=local_rounds), 2), 1)
    assert core.dag.n_gates == 0 and core.dag.lower_bound == depth
    rounds = play(core)
    assert all(r["pending"] == [] and r["arrived"] == 0 for r in rounds)
    assert rounds[-1]["terminated"]
    assert len(rounds) == max(depth, 1)  # an episode has at least one step
    assert sum(r["reward"] for r in rounds) == -depth


# ---------------------------------------------------------------- reward and observation


def test_circuit__reward_is_minus_the_makespan_minus_the_attempts_cost(tmp_path):
    c = circuit(4, [(0, 1), (1, 2), (2, 3), (0, 3)])
    config = circuit_config(dag_file(tmp_path, c, [0, 1, 2, 3], 4), 4, w_attempt=0.25)
    env = ModEnHubEnv(config=config)
    env.reset(seed=3)
    total, parts, attempts, done = 0.0, 0.0, 0.0, False
    while not done:
        _, reward, terminated, truncated, info = env.step(np.full(10, 2))
        total += reward
        parts += info["reward_makespan"]
        attempts += info["attempts"] + info["prefetch_attempts"]
        assert reward == pytest.approx(info["reward_makespan"] + info["reward_attempts"])
        assert info["reward_served"] == info["reward_failed"] == info["failed"] == 0
        done = terminated or truncated
    assert terminated and parts == -info["episode"]["rounds"]
    assert total == pytest.approx(parts - 0.25 * attempts)


def test_circuit__slack_is_the_rounds_a_gate_may_wait_and_prefetch_shows_the_next_gate(tmp_path):
    # A chain of three crossing gates beside one lone crossing gate: the chain is critical.
    c = circuit(6, [(0, 1), (1, 2), (2, 3), (4, 5)])
    config = circuit_config(dag_file(tmp_path, c, [0, 1, 0, 1, 2, 3], 4), 4, request_slots=2, prefetch_slots=1,
                            cache_capacity=4)
    core = HubCore(config, 1)
    assert core.dag.lower_bound == core.max_budget == 3
    core.reset(np.ones(1, dtype=bool), keys_for_seeds([0], core.keys, None))
    state, obs = core.snapshot(), core.obs[0]
    assert state.q_gate[0, :2].tolist() == [0, 3]
    # Slack: the chain's head may not wait (1 round, this one); the lone gate may wait 3.
    assert obs[6 + 2] == pytest.approx(1 / 3) and obs[6 + 9 + 2] == pytest.approx(3 / 3)
    # The prefetch slot shows the chain's next gate, QPUs 0 and 1 (gate 1: qubits 1, 2),
    # pending next round at the earliest: "recency" 1 / (1 + 1).
    prefetch = 6 + 2 * 9
    assert state.r_pair[0, 0] == 0 * 4 + 1 and state.r_round[0, 0] == 1
    assert obs[prefetch] == 1.0 and obs[prefetch + 4] == pytest.approx(0.5)
    assert obs[0] == 0.0  # progress: no gate done


def test_circuit__cached_ebits_serve_gates_and_their_age_is_recorded(tmp_path):
    # Prefetch the next gate's pair while the first is pending: when the next gate
    # becomes pending it is served from the cache, with the ebit's age recorded.
    c = circuit(3, [(0, 1), (1, 2)])
    config = circuit_config(dag_file(tmp_path, c, [0, 1, 0], 2), 2, prefetch_slots=1, cache_capacity=4,
                            cache_per_pair=2, t_coh=10.0, **CERTAIN)
    core = HubCore(config, 1)

    def prefetch_first(core: HubCore) -> np.ndarray:
        actions = np.zeros((1, core.n_slots), dtype=np.int64)
        state = core.snapshot()
        if state.round[0] == 0:
            actions[0, core.config.request_slots] = 1  # prefetch the pair of gate 1 only
        elif state.q_valid[0, 0] and state.q_reserved[0, 0] < 0:
            actions[0, 0] = 1
        return actions

    play(core, prefetch_first)
    state = core.snapshot()
    # Round 0: nothing for gate 0, an ebit for (0, 1) cached. Round 0 ends with gate 0
    # reserving it; round 1 serves gate 0 from the cache (age 1); gate 1 is pending in
    # round 2 and gets its own attempt.
    assert state.g_served[0].tolist() == [1, 2]
    assert state.g_age[0].tolist() == [1, 0]
    assert state.totals["cache_hits"][0] == 1


# ---------------------------------------------------------------- the core's circuit kernels, round by round


def attempt_slots(core: HubCore, slots: list[int]) -> np.ndarray:
    """One attempt on each of the request ``slots`` of env 0, none elsewhere."""
    actions = np.zeros((1, core.n_slots), dtype=np.int64)
    actions[0, slots] = 1
    return actions


def upcoming(core: HubCore) -> tuple[list[int], list[int]]:
    state = core.snapshot()
    return state.r_pair[0].tolist(), state.r_round[0].tolist()


def test_circuit__a_one_slot_queue_ranks_the_waiting_gates_by_path_then_ready_round_then_order(tmp_path):
    # Local rounds L = 1; qubits 0..9 on QPUs 1, 2, 0, 3, 4, 5, 1, 2, 0, 4. g0 CX(0,1) after U(0): start
    # lag 1. g1 CX(2,3), g2 CX(4,5), g5 CX(8,9): ready at 0. g3 CX(6,7), on g0's QPUs (1, 2), after U(6)
    # U(6): start lag 2. g4 CX(5,3) after g1 and g2.
    # Critical paths: c(g1) = c(g2) = 2, the others 1.
    c = circuit(10, [(0,), (0, 1), (2, 3), (4, 5), (6,), (6,), (6, 7), (5, 3), (8, 9)])
    config = circuit_config(dag_file(tmp_path, c, [1, 2, 0, 3, 4, 5, 1, 2, 0, 4], 6, local_rounds=1), 6,
                            queue_capacity=1, request_slots=1, prefetch_slots=4, **CERTAIN)
    core = HubCore(config, 1)
    assert core.dag.critical_path.tolist() == [1, 2, 2, 1, 1, 1] and core.dag.lower_bound == 3  # g3: 2 + 1
    core.reset(np.ones(1, dtype=bool), keys_for_seeds([0], core.keys, None))
    state = core.snapshot()
    assert state.g_waiting[0].tolist() == [0, 0, 0, 0, 2, 0]
    assert state.g_ready[0].tolist() == [1, 0, 0, 2, 0, 0]
    assert state.g_served[0].tolist() == [-1] * 6 and state.g_age[0].tolist() == [0] * 6
    # Round 0: g1 joins (ready 0, first in circuit order); waiting: g2 (path 2), then path 1: g5 (ready 0),
    # g0 (ready 1) and g3 (ready 2, the pair of g0: left out). Codes a * 6 + b: (4,5) 29, (0,4) 4, (1,2) 8.
    assert state.q_gate[0].tolist() == [1] and upcoming(core) == ([29, 4, 8, -1], [0, 0, 1, 0])
    # E = max(g3: 2 + 1, g2: 0 + 2, ...) = 3: g1's deadline 3 + 1 - 2 = 2.
    assert state.q_deadline[0, 0] == 2 and state.q_attempts[0, 0] == 0
    core.step(attempt_slots(core, [0]))  # g1 served in round 0
    # Round 1: g2 joins (ready 0, before g5); g4's last predecessor g2 is pending: g4 may be pending
    # in round 2.
    state = core.snapshot()
    assert state.q_gate[0].tolist() == [2] and state.g_ready[0].tolist() == [1, 0, 0, 2, 1, 0]
    assert upcoming(core) == ([8, 4, 3 * 6 + 5, -1], [1, 1, 2, 0])  # g0, g5 (ready 1), g4 (ready 2)
    assert state.q_deadline[0, 0] == 2  # E = 3 (g2: 1 + 2, g3: 2 + 1): 3 + 1 - 2
    core.step(attempt_slots(core, [0]))
    # Round 2: g0 joins (ready 1, before g5); g3, g4 and g5 may be pending now: circuit order.
    # Round 2: g5 joins (ready 0, before g0); g3 and g4 may be pending now, g3 with g0's pair.
    state = core.snapshot()
    assert state.q_gate[0].tolist() == [5] and upcoming(core) == ([8, 23, -1, -1], [2, 2, 0, 0])
    assert state.q_deadline[0, 0] == 3  # E = 3 (every gate left: 2 + 1): 3 + 1 - 1
    core.step(attempt_slots(core, [0]))
    # Round 3: g0 joins (ready 1); g3 and g4 wait.
    state = core.snapshot()
    assert state.q_gate[0].tolist() == [0] and upcoming(core) == ([8, 23, -1, -1], [3, 3, 0, 0])
    assert state.q_deadline[0, 0] == 4  # E = 4: g3 and g4 may end by 3 + 1
    for _ in range(3):
        result = core.step(attempt_slots(core, [0]))
    assert result.terminated[0] and core.snapshot().g_served[0].tolist() == [3, 0, 1, 4, 5, 2]


def test_circuit__a_wide_queue_tracks_each_slots_gate_and_the_successors_of_pending_gates(tmp_path):
    # L = 1, qubits 0..10 on QPUs 0..7, 3, 0, 6. g0 CX(0,1), g1 CX(2,3), g2 CX(4,5); g3 CX(1,2) after g0
    # and g1; g4 CX(0,8) after g0, start lag 3 (U(8) three times); g5 CX(4,6) after g2 with lag 2 (U(4)
    # twice); g6 CX(5,7) after g2; g7 CX(6,7) after g5 and g6; g8 CX(3,9) after g1; g9 CX(8,10) after g4.
    # g4 and g8 share the pair (0, 3). Critical paths: g2 5, g0 3, g1 g4 g5 g6 2, the others 1.
    c = circuit(11, [(8,), (8,), (8,), (0, 1), (2, 3), (4, 5), (1, 2), (0, 8), (4,), (4,), (4, 6), (5, 7),
                     (6, 7), (3, 9), (8, 10)])
    config = circuit_config(dag_file(tmp_path, c, [0, 1, 2, 3, 4, 5, 6, 7, 3, 0, 6], 9, local_rounds=1), 9,
                            queue_capacity=3, request_slots=3, prefetch_slots=4, cache_capacity=8, **CERTAIN)
    core = HubCore(config, 1)
    assert core.dag.critical_path.tolist() == [3, 2, 5, 1, 2, 2, 2, 1, 1, 1] and core.dag.lower_bound == 5
    core.reset(np.ones(1, dtype=bool), keys_for_seeds([0], core.keys, None))
    state = core.snapshot()
    assert state.g_waiting[0].tolist() == [0, 0, 0, 2, 1, 1, 1, 2, 1, 1]
    assert state.g_served[0].tolist() == [-1] * 10 and state.latency_hist[0].tolist() == [0] * 5
    assert state.q_gate[0].tolist() == [0, 1, 2] and state.q_attempts[0].tolist() == [0, 0, 0]
    assert (state.q_a[0].tolist(), state.q_b[0].tolist()) == ([0, 2, 4], [1, 3, 5])
    # E = 0 + c(g2) = 5: deadlines 5 + 1 - c. Upcoming: path 2: g6 (ready 1), g4 (its start lag 3), g5
    # (ready 0 + 1 + 2); then g8 (path 1), with g4's pair; g3 waits for two gates, g9 for g4, not pending.
    # Codes a * 9 + b: (5,7) 52, (0,3) 3, (4,6) 42, (1,2) 11.
    assert state.q_deadline[0].tolist() == [3, 4, 1] and upcoming(core) == ([52, 3, 42, -1], [1, 3, 3, 0])
    policy = make_policy("critical-path", config)
    # One attempt serves a gate (p = 1); prefetch the candidate pending next round: g6.
    assert policy.predict(core.obs.copy())[0][0].tolist() == [1, 1, 1, 1, 0, 0, 0]
    tight = make_policy("critical-path", config.replace(max_attempts_per_round=2))
    assert tight.predict(core.obs.copy())[0][0].tolist() == [1, 0, 1, 0, 0, 0, 0]  # least slack: g2, then g0
    core.step(attempt_slots(core, [1, 2]))  # g1 and g2 served in round 0
    state = core.snapshot()
    assert state.latency_hist[0].tolist() == [2, 0, 0, 0, 0]
    assert state.g_served[0].tolist() == [-1, 0, 0] + [-1] * 7
    assert state.g_waiting[0].tolist() == [0, 0, 0, 1, 1, 0, 0, 2, 0, 1]
    # Round 1: g6 and g8 join behind g0 (ready 1, circuit order); g5 waits for its lag (ready 3).
    assert state.q_gate[0].tolist() == [0, 6, 8]
    assert (state.q_a[0].tolist(), state.q_b[0].tolist()) == ([0, 5, 0], [1, 7, 3])
    assert state.q_attempts[0].tolist() == [0, 0, 0]  # g0 had no attempt, g6 and g8 just joined
    # E = g5's 3 + 2 = 5. Upcoming: path 2: g0's successor g4 (start lag 3) and g5, then g3 (ready 2).
    assert state.q_deadline[0].tolist() == [3, 4, 5] and upcoming(core) == ([3, 42, 11, -1], [3, 3, 2, 0])
    core.step(attempt_slots(core, [0, 1]))  # g0 and g6 served in round 1
    state = core.snapshot()
    # Round 2: g3 joins (ready 2); g4 (start lag 3) and g5 (ready 3) wait; g7 and g9 wait for them, not
    # pending.
    assert state.q_gate[0].tolist() == [8, 3, -1]
    assert state.g_ready[0].tolist() == [0, 0, 0, 2, 3, 3, 1, 2, 1, 0]
    assert state.q_deadline[0, :2].tolist() == [5, 5] and upcoming(core) == ([3, 42, -1, -1], [3, 3, 0, 0])
    # The candidates may be pending next round; request slot 2 is empty.
    assert policy.predict(core.obs.copy())[0][0].tolist() == [1, 1, 0, 1, 1, 0, 0]



def test_circuit__successors_of_pending_gates_show_each_pair_once(tmp_path):
    # g0 CX(0,1) on QPUs (0, 1) and g1 CX(2,3) on QPUs (1, 2) are pending; their successors g2 CX(1,4)
    # and g3 CX(3,5) both need QPUs 1 and 2 (code 1 * 3 + 2 = 5), next round: one candidate.
    c = circuit(6, [(0, 1), (2, 3), (1, 4), (3, 5)])
    config = circuit_config(dag_file(tmp_path, c, [0, 1, 1, 2, 2, 1], 3), 3, queue_capacity=2, request_slots=2,
                            prefetch_slots=2)
    core = HubCore(config, 1)
    core.reset(np.ones(1, dtype=bool), keys_for_seeds([0], core.keys, None))
    assert core.snapshot().q_gate[0].tolist() == [0, 1] and upcoming(core) == ([5, -1], [1, 0])

def test_circuit__a_run_out_of_rounds_is_truncated_in_its_last_round_and_a_run_done_in_it_is_not(tmp_path):
    c = circuit(4, [(0, 1), (1, 2), (2, 3)])  # a chain of three gates: done after 3 rounds at best
    path = dag_file(tmp_path, c, [0, 1, 2, 3], 4)
    for rounds, act, ends in ((2, [], [(False, False), (False, True)]),
                              (3, [0], [(False, False), (False, False), (True, False)])):
        core = HubCore(circuit_config(path, 4, episode_rounds=rounds, **CERTAIN), 1)
        core.reset(np.ones(1, dtype=bool), keys_for_seeds([0], core.keys, None))
        results = [core.step(attempt_slots(core, act)) for _ in ends]
        assert [(bool(r.terminated[0]), bool(r.truncated[0])) for r in results] == ends


def test_circuit__a_gate_a_cached_ebit_serves_gets_no_attempt_and_its_lost_fidelity_costs_nothing(tmp_path):
    # Both gates on QPUs 0 and 1: an ebit prefetched in round 0 is reserved by gate 0 and serves it in
    # round 1.
    c = circuit(3, [(0, 1), (1, 2)])
    config = circuit_config(dag_file(tmp_path, c, [0, 1, 0], 2), 2, prefetch_slots=2, cache_capacity=4,
                            cache_per_pair=2, t_coh=10.0, w_fidelity=0.5, **CERTAIN)
    core = HubCore(config, 1)
    core.reset(np.ones(1, dtype=bool), keys_for_seeds([0], core.keys, None))
    prefetch = np.zeros((1, core.n_slots), dtype=np.int64)
    prefetch[0, config.request_slots] = 1
    first = core.step(prefetch)
    assert core.snapshot().q_reserved[0, 0] == 0
    # Gate 0 is served from the cache; gate 1, pending next round, has its pair's ebit cached (reserved).
    policy = make_policy("critical-path", config)
    assert policy.predict(core.obs.copy())[0][0].tolist() == [0] * 10
    # The scheduler itself wants nothing for the gate served from the cache, whatever limit it is given.
    limits, granted = np.full((1, 10), 3, dtype=np.int64), np.zeros((1, 10), dtype=np.int64)
    kernels.act_envs(policy.params, core.obs.copy(), limits, granted, np.zeros((1, 30), dtype=np.int64))
    assert granted[0].tolist() == [0] * 10
    second = core.step(np.zeros((1, core.n_slots), dtype=np.int64))
    assert core.snapshot().g_age[0].tolist() == [1, 0] and second.counts["cache_hits"][0] == 1
    for result in (first, second):
        assert result.counts["reward_fidelity"][0] == 0.0 and result.reward[0] == -1.0  # w_attempt = 0


def test_circuit__two_gates_served_from_the_cache_in_one_round_each_record_their_ebits_age(tmp_path):
    # g0 CX(0,1) and g1 CX(2,3), both on QPUs (0, 1) (code 1), pending in slots 0 and 1 from round 0.
    # Two cached ebits of (0, 1): entry 0 heralded in round -1, entry 1 in round -2. g0 reserves the
    # older, entry 1, g1 entry 0; both are served in round 0, at ages 2 and 1.
    c = circuit(4, [(0, 1), (2, 3)])
    core = HubCore(circuit_config(dag_file(tmp_path, c, [0, 1, 0, 1], 2), 2, cache_capacity=2, cache_per_pair=2,
                                   **CERTAIN), 1)
    core.reset(np.ones(1, dtype=bool), keys_for_seeds([0], core.keys, None))
    s = core.state
    assert s.q_gate[0, :2].tolist() == [0, 1]
    s.c_pair[0], s.c_birth[0] = [1, 1], [-1, -2]
    core.reset(np.zeros(1, dtype=bool), core.keys)  # reserve anew from the edited cache
    assert core.snapshot().q_reserved[0, :2].tolist() == [1, 0]
    result = core.step(np.zeros((1, core.n_slots), dtype=np.int64))
    state = core.snapshot()
    assert result.counts["cache_hits"][0] == 2
    assert state.g_age[0].tolist() == [2, 1] and state.g_served[0].tolist() == [0, 0]


# ---------------------------------------------------------------- every policy on random circuits


@st.composite
def random_circuits(draw):
    n_qubits = draw(st.integers(2, 6))
    n_qpus = draw(st.integers(1, 4))
    qubit = st.integers(0, n_qubits - 1)
    ops = []
    for _ in range(draw(st.integers(0, 24))):
        a = draw(qubit)
        two = draw(st.booleans())
        ops.append((a, draw(st.sampled_from([q for q in range(n_qubits) if q != a]))) if two else (a,))
    placement = draw(st.lists(st.integers(0, n_qpus - 1), min_size=n_qubits, max_size=n_qubits))
    return circuit(n_qubits, ops), placement, n_qpus, draw(st.integers(0, 2)), draw(st.integers(1, 4))


def model_timing(dag: RequestDag, served: np.ndarray) -> tuple[np.ndarray, int]:
    """The round each gate may be pending by the model (``docs/model.md#circuit-timing``),
    given the rounds its predecessors were served, and the makespan they give."""
    ready = dag.start_lag.copy()
    for g in range(dag.n_gates):
        for edge in range(dag.succ_ptr[g], dag.succ_ptr[g + 1]):
            h = dag.succ[edge]
            ready[h] = max(ready[h], served[g] + 1 + dag.succ_lag[edge])
    ends = served + 1 + dag.end_lag
    return ready, int(max(dag.local_depth, *ends.tolist()) if dag.n_gates else dag.local_depth)


POLICY_NAMES = sorted(name for name in POLICIES if name != "random")


@settings(max_examples=25, deadline=None, derandomize=True)
@given(case=random_circuits())
def test_circuit__every_policy_follows_the_model_timing_and_never_beats_the_bound(case):
    c, placement, n_qpus, local_rounds, queue = case
    dag = request_dag(c, placement, n_qpus, qpu_capacity=c.n_qubits, local_rounds=local_rounds)
    with tempfile.TemporaryDirectory() as folder:
        config = circuit_config(str(save_dag(dag, Path(folder) / "dag.npz")), n_qpus, queue_capacity=queue,
                                request_slots=min(queue, 3), prefetch_slots=2, cache_capacity=8, cache_per_pair=2,
                                max_attempts_per_round=6, episode_rounds=5000)
        check_every_policy(dag, config)


def check_every_policy(dag: RequestDag, config: HubConfig) -> None:
    for name in POLICY_NAMES:
        core = HubCore(config, 3)
        keys = keys_for_seeds([11, 12, 13], core.keys, None)
        core.play(make_policy(name, config).params, keys)
        state = core.snapshot()
        for row in range(3):
            served = state.g_served[row]
            assert (served >= 0).all() and state.issued[row] == dag.n_gates, name
            ready, makespan = model_timing(dag, served)
            assert (served >= ready).all(), name
            assert makespan >= dag.lower_bound, name
            assert state.round[row] == max(makespan, 1), name  # an episode lasts a round at least
    # Every ebit there at once and every gate visible: the makespan is the bound.
    certain = config.replace(queue_capacity=8, request_slots=8, max_attempts_per_round=None, **CERTAIN)
    core = HubCore(certain, 1)
    core.play(make_policy("log-parallel", certain).params, keys_for_seeds([0], core.keys, None))
    assert core.snapshot().round[0] == max(dag.lower_bound, 1)


# ---------------------------------------------------------------- determinism and faces


@pytest.fixture
def qaoa_like(tmp_path) -> HubConfig:
    c = circuit(8, [(q, (q + 3) % 8) for q in range(8)] + [(q,) for q in range(8)]
                + [(q, (q + 5) % 8) for q in range(0, 8, 2)] + [(1, 2), (3, 4), (5, 6)])
    return circuit_config(dag_file(tmp_path, c, [0, 0, 1, 1, 2, 2, 3, 3], 4, local_rounds=1), 4,
                          request_slots=3, queue_capacity=4, prefetch_slots=2, cache_capacity=6, cache_per_pair=2,
                          t_coh=12.0, f_min=0.6, max_attempts_per_round=5, w_attempt=0.01)


def test_circuit__same_seed_same_episode_and_single_env_equals_a_vector_row(qaoa_like):
    gen = np.random.default_rng(0)
    actions = gen.integers(0, 4, size=(300, 3, qaoa_like.request_slots + qaoa_like.prefetch_slots))
    vector = ModEnHubVectorEnv(3, config=qaoa_like)
    batch_obs, _ = vector.reset(seed=20)
    singles = [ModEnHubEnv(config=qaoa_like) for _ in range(3)]
    single_obs = [env.reset(seed=20 + i)[0] for i, env in enumerate(singles)]
    ended = 0
    for step in range(300):
        np.testing.assert_array_equal(batch_obs, np.stack(single_obs))
        batch_obs, rewards, terminated, truncated, _ = vector.step(actions[step])
        for i, env in enumerate(singles):
            obs, reward, term, trunc, _ = env.step(actions[step, i])
            assert reward == rewards[i] and term == terminated[i] and trunc == truncated[i]
            single_obs[i] = env.reset()[0] if term or trunc else obs
            ended += term or trunc
    assert ended >= 3  # episodes ended and restarted on the way
    again = ModEnHubEnv(config=qaoa_like)
    first = ModEnHubEnv(config=qaoa_like)
    for env in (again, first):
        env.reset(seed=7)
    for step in range(40):
        a, b = again.step(actions[step, 0]), first.step(actions[step, 0])
        np.testing.assert_array_equal(a[0], b[0])
        assert a[1:4] == b[1:4]


def test_circuit__play_equals_stepping_round_by_round(qaoa_like):
    policy = make_policy("critical-path", qaoa_like)
    core = HubCore(qaoa_like, 4)
    keys = keys_for_seeds([1, 2, 3, 4], core.keys, None)
    returns = core.play(policy.params, keys)
    fused = core.snapshot()
    stepped = HubCore(qaoa_like, 4)
    stepped.reset(np.ones(4, dtype=bool), keys)
    total, done = np.zeros(4), np.zeros(4, dtype=bool)
    while not done.all():
        result = stepped.step(policy.predict(stepped.obs.copy())[0])
        total += np.where(done, 0.0, result.reward)
        done |= result.terminated | result.truncated
        assert not result.truncated.any()
    # Episodes of different lengths: compare each row's own episode.
    np.testing.assert_array_equal(returns, total)
    np.testing.assert_array_equal(fused.g_served, stepped.snapshot().g_served)


def test_circuit__core_pickles_and_the_dag_is_built_once_per_config(qaoa_like):
    import pickle

    core = HubCore(qaoa_like, 2)
    assert circuit_dag(qaoa_like) is core.dag is HubCore(qaoa_like, 1).dag
    copy = pickle.loads(pickle.dumps(core))
    copy.reset(np.ones(2, dtype=bool), keys_for_seeds([0, 1], copy.keys, None))
    assert copy.snapshot().q_valid.any()


# ---------------------------------------------------------------- critical-path-first


def test_critical_path__deals_the_capacity_longest_path_first(tmp_path):
    # Gate 0, alone, comes first in the queue; gate 1 heads a chain of three.
    c = circuit(8, [(6, 7), (0, 1), (1, 2), (2, 3)])
    path = dag_file(tmp_path, c, [0, 1, 2, 3, 4, 5, 4, 5], 6)
    actions = {}
    for capacity in (1, 3, None):
        config = circuit_config(path, 6, request_slots=2, prefetch_slots=1, max_attempts_per_round=capacity,
                                cache_capacity=4)
        env = ModEnHubVectorEnv(1, config=config)
        obs, _ = env.reset(seed=0)
        assert env.core.snapshot().q_gate[0, :2].tolist() == [0, 1]
        critical = make_policy("critical-path", config, max_share=1.0).predict(obs)[0][0].tolist()
        oldest_first = make_policy("log-parallel", config).predict(obs)[0][0].tolist()
        actions[capacity] = critical, oldest_first
    # One attempt: the head of the chain gets it. Three: one each, the extra to the chain.
    assert actions[1] == ([0, 1, 0], [1, 0, 0])
    assert actions[3] == ([1, 2, 0], [3, 0, 0])  # k(6) = 3 for the oldest, nothing left
    # Unlimited: each its 90% chance this round, and one prefetch attempt for gate 2.
    p = float(config.p_pair(0, 1))  # every spoke alike
    needed = min(int(np.ceil(np.log(0.1) / np.log(1 - p))), config.k_max)
    assert actions[None][0] == [needed, needed, 1] and actions[None][1] == [3, 3, 0]


def test_critical_path__prefetches_only_imminent_gates_with_capacity_left(tmp_path):
    c = circuit(4, [(0, 1), (1, 2), (2, 3)])
    config = circuit_config(dag_file(tmp_path, c, [0, 1, 2, 3], 4), 4, request_slots=1, prefetch_slots=1,
                            cache_capacity=4)
    env = ModEnHubVectorEnv(1, config=config)
    obs, _ = env.reset(seed=0)
    near = make_policy("critical-path", config).predict(obs)[0]
    assert near[0, 1] == 1  # the next gate may be pending next round
    far = make_policy("critical-path", config, lookahead=0).predict(obs)[0]
    assert far[0, 1] == 0
    none = make_policy("critical-path", config, prefetch=False).predict(obs)[0]
    assert none[0, 1] == 0 and none[0, 0] == near[0, 0] > 0



def test_grant_round_robin__deals_requests_one_attempt_a_round_then_what_is_left_to_prefetch_in_order():
    # Two request slots (k = 2) and two prefetch slots, dealt in the order 1, 0, 2, 3.
    wanted, order = np.array([2, 1, 2, 3], dtype=np.int64), np.array([1, 0, 2, 3], dtype=np.int64)
    granted = {}
    for capacity in (-1, 0, 2, 6, 8):
        actions = np.full((1, 4), 9, dtype=np.int64)
        kernels._grant_round_robin(0, wanted, order, 2, capacity, actions)
        granted[capacity] = actions[0].tolist()
    # Unlimited (-1) and 8 grant every wish; none of 0; 2: one a request; 6: the 3 left after the requests go
    # to slot 2's 2, then slot 3's 1.
    assert granted == {-1: [2, 1, 2, 3], 0: [0, 0, 0, 0], 2: [1, 1, 0, 0], 6: [2, 1, 2, 1], 8: [2, 1, 2, 3]}

def test_critical_path__is_a_compiled_scheduler_and_checks_its_arguments():
    cfg = HubConfig.preset("hotspot")
    policy = make_policy("critical-path", cfg)
    assert isinstance(policy, KernelPolicy)
    for bad in ({"target": 0.0}, {"max_share": 2.0}, {"prefetch_attempts": 0}, {"lookahead": -1},
                {"lookahead": 1.5}):
        with pytest.raises(ValueError, match=next(iter(bad))):
            make_policy("critical-path", cfg, **bad)


def test_critical_path__writes_its_defaults_and_the_ends_of_lookahead_into_its_params():
    cfg = HubConfig.preset("hotspot")  # S = 16
    params = make_policy("critical-path", cfg).params
    # target 0.9, floor(0.5 * 16) = 8 attempts a request, prefetch on, 1 attempt a candidate, 1 round ahead
    names = (kernels.P_TARGET, kernels.P_REQUEST_CAP, kernels.P_PREFETCH, kernels.P_PREFETCH_ATTEMPTS,
             kernels.P_LOOKAHEAD)
    assert [params[i] for i in names] == [0.9, 8.0, 1.0, 1.0, 1.0]
    assert make_policy("critical-path", cfg, prefetch=False).params[kernels.P_PREFETCH] == 0.0
    for lookahead in (0, 1000):
        assert make_policy("critical-path", cfg, lookahead=lookahead).params[kernels.P_LOOKAHEAD] == lookahead
    for bad in (1001, -1, True, 2.0):
        with pytest.raises(ValueError, match=re.escape(f"lookahead must be an integer in [0, 1000], got {bad!r}")):
            make_policy("critical-path", cfg, lookahead=bad)


# ---------------------------------------------------------------- bad fields


@pytest.mark.parametrize(("fields", "message"), [
    ({"circuit": None}, "circuit must name the circuit for workload 'circuit'"),
    ({"episode_rounds": None}, "episode_rounds must be set .* for workload 'circuit'"),
    ({"circuit": "foo:8"}, "circuit: family must be one of"),
    ({"circuit": "qft"}, "circuit must be a .qasm file or family:n_qubits"),
    ({"circuit": "qft:x"}, "n_qubits must be a non-negative integer"),
    ({"circuit": "missing.qasm"}, "circuit: no such file 'missing.qasm'"),
    ({"circuit": "missing.json"}, "circuit: no such file 'missing.json'"),
    ({"circuit": 3}, "circuit must be a generator spec"),
    ({"placement": (0, 1, 4, 0)}, r"placement must list one QPU in \[0, 3\] per qubit, got 4 at index 2"),
    ({"placement": (0, 1, True, 0)}, "placement must list one QPU"),
    ({"placement": (0, 1, 2)}, r"placement must list one QPU per qubit of 'ghz:4' \(4\), got 3"),
    ({"placement": 5}, "placement must list one QPU"),
    ({"qpu_capacity": 0}, r"qpu_capacity must be in \[1, 100000\] or None"),
    ({"local_rounds": 1001}, r"local_rounds must be in \[0, 1000\] or None"),
    ({"placement_seed": -1}, "placement_seed must be in"),
])
def test_config__bad_circuit_fields_are_named(fields, message):
    base = {"n_qpus": 4, "workload": "circuit", "circuit": "ghz:4", "episode_rounds": 100}
    with pytest.raises(ValueError, match=message):
        HubConfig(**{**base, **fields})


def test_config__a_dag_file_fixes_placement_capacity_and_local_rounds(tmp_path):
    path = dag_file(tmp_path, circuit(2, [(0, 1)]), [0, 1], 2)
    for name, value in (("placement", (0, 1)), ("qpu_capacity", 2), ("local_rounds", 0)):
        with pytest.raises(ValueError, match=f"{name} must be None with a DAG file"):
            circuit_config(path, 2, **{name: value})
    with pytest.raises(ValueError, match=r"n_qpus must be 2, the QPUs of the DAG file .*dag.json', got 3"):
        HubCore(circuit_config(path, 3), 1)


def test_config__placement_lists_become_tuples_and_round_trip():
    cfg = HubConfig(n_qpus=2, workload="circuit", circuit="ghz:4", placement=[0, 1, 1, 0], episode_rounds=10)
    assert cfg.placement == (0, 1, 1, 0)
    assert HubConfig.from_dict(cfg.to_dict()) == cfg


def test_circuit_dag__a_hand_made_dag_with_unordered_gates_on_a_qubit_is_refused(tmp_path):
    dag = request_dag(circuit(3, [(0, 1), (1, 2)]), [0, 1, 2], 3)
    unordered = RequestDag(
        source="hand", n_qubits=3, n_qpus=3, qpu_capacity=1, local_rounds=0, placement=dag.placement,
        qubit_a=dag.qubit_a, qubit_b=dag.qubit_b, succ_ptr=np.zeros(3, dtype=np.int64),
        succ=np.zeros(0, dtype=np.int64), succ_lag=np.zeros(0, dtype=np.int64), start_lag=dag.start_lag,
        end_lag=dag.end_lag, local_depth=0, local_gates=0, local_two_qubit_gates=0)
    path = save_dag(unordered, tmp_path / "bad.json")
    with pytest.raises(ValueError, match="gates 0 and 1 both act on qubit 1 with no edge"):
        HubCore(circuit_config(str(path), 3), 1)


def test_circuit__qasm_placement_of_the_wrong_length_is_named_when_built(tmp_path, qiskit):
    path = tmp_path / "bell.qasm"
    path.write_text('OPENQASM 2.0;\ninclude "qelib1.inc";\nqreg q[2];\nh q[0];\ncx q[0],q[1];\n')
    config = HubConfig(n_qpus=2, workload="circuit", circuit=str(path), placement=(0, 1, 1), episode_rounds=10)
    with pytest.raises(ValueError, match="placement must give one QPU for each of the 2 qubits, got 3"):
        HubCore(config, 1)


# ---------------------------------------------------------------- the workload's circuit functions


def test_circuit_dag__refuses_a_workload_that_is_not_circuit():
    with pytest.raises(ValueError) as err:
        circuit_dag(HubConfig(n_qpus=2, workload="poisson", episode_rounds=10))
    assert str(err.value) == "workload must be 'circuit' to build a circuit's DAG, got 'poisson'"


def test_circuit_dag__builds_a_generated_circuit_with_the_configs_fields(qiskit):
    # ghz:4 is h q0; cx 0,1; cx 1,2; cx 2,3. With qubits 0 and 1 on QPU 0, cx 0,1 is local.
    config = HubConfig(n_qpus=3, workload="circuit", circuit="ghz:4", placement=(0, 0, 1, 2), qpu_capacity=3,
                       local_rounds=2, episode_rounds=100)
    dag = circuit_dag(config)
    assert (dag.n_qpus, dag.qpu_capacity, dag.local_rounds, dag.placement.tolist()) == (3, 3, 2, [0, 0, 1, 2])
    assert (dag.qubit_a.tolist(), dag.qubit_b.tolist()) == ([1, 2], [2, 3])
    # h and cx 0,1 (2 rounds each) before the first request, then the two gates: 2 + 2 + 1 + 1
    assert dag.start_lag.tolist() == [4, 0] and dag.lower_bound == 6
    assert max_budget(config) == 6
    assert circuit_dag(config) is dag


def test_circuit_dag__a_file_gone_after_the_config_is_named(tmp_path):
    json_path = dag_file(tmp_path, circuit(2, [(0, 1)]), [0, 1], 2)
    qasm_path = tmp_path / "bell.qasm"
    qasm_path.write_text('OPENQASM 2.0;\ninclude "qelib1.inc";\nqreg q[2];\nh q[0];\ncx q[0],q[1];\n')
    for path in (json_path, str(qasm_path)):
        config = circuit_config(path, 2)
        Path(path).unlink()
        with pytest.raises(ValueError) as err:
            circuit_dag(config)
        assert str(err.value) == f"circuit: cannot read {path!r} (No such file or directory)"


def test_circuit_dag__a_rewritten_dag_file_is_read_again(tmp_path):
    path = dag_file(tmp_path, circuit(3, [(0, 1)]), [0, 1, 2], 3)
    config = circuit_config(path, 3)
    first = circuit_dag(config)
    assert circuit_dag(config) is first
    dag_file(tmp_path, circuit(3, [(0, 1), (1, 2)]), [0, 1, 2], 3)
    assert (first.n_gates, circuit_dag(config).n_gates) == (1, 2)


def test_circuit_dag__a_dag_file_for_other_qpus_is_named(tmp_path):
    path = dag_file(tmp_path, circuit(2, [(0, 1)]), [0, 1], 2)
    with pytest.raises(ValueError) as err:
        circuit_dag(circuit_config(path, 3))
    assert str(err.value) == f"n_qpus must be 2, the QPUs of the DAG file {path!r}, got 3"


def test_check_gate_order__passes_consecutive_gates_on_each_qubit_joined_by_edges():
    # Qubit 1 carries gates 0, 1, 2, joined 0 -> 1 -> 2 with no edge 0 -> 2.
    dag = request_dag(circuit(4, [(0, 1), (1, 2), (1, 3), (2, 3)]), [0, 1, 2, 3], 4)
    assert (dag.succ_ptr.tolist(), dag.succ.tolist()) == ([0, 1, 3, 4, 4], [1, 2, 3, 3])
    assert check_gate_order(dag, "chain") is None


def test_check_gate_order__names_the_first_pair_with_no_edge_by_qubit():
    chain = request_dag(circuit(4, [(0, 1), (1, 2), (2, 3)]), [0, 1, 2, 3], 4)
    # Keep the edge 0 -> 1 (qubit 1), drop 1 -> 2 (qubit 2).
    dag = dataclasses.replace(chain, succ_ptr=np.array([0, 1, 1, 1]), succ=np.array([1]), succ_lag=np.array([0]))
    with pytest.raises(ValueError) as err:
        check_gate_order(dag, "hand.json")
    assert str(err.value) == ("hand.json: gates 1 and 2 both act on qubit 2 with no edge from the first to the "
                              "second; a request DAG orders the gates on each qubit")


def test_circuit_pool_size__is_the_gates_or_half_the_qubits_whichever_is_fewer():
    four_gates = request_dag(circuit(5, [(0, 1), (1, 2), (2, 3), (3, 4)]), [0, 1, 2, 3, 4], 5)
    assert circuit_pool_size(four_gates) == 2  # 5 // 2
    one_gate = request_dag(circuit(8, [(0, 1)]), list(range(8)), 8)
    assert circuit_pool_size(one_gate) == 1


def test_max_budget__of_a_circuit_is_its_lower_bound_and_at_least_one(tmp_path):
    chain = circuit(4, [(0, 1), (1, 2), (2, 3)])  # three gates in a row: 3 rounds
    config = circuit_config(dag_file(tmp_path, chain, [0, 1, 2, 3], 4), 4, round_budget=10)
    assert max_budget(config) == 3
    one_gate = request_dag(circuit(2, [(0, 1)]), [0, 1], 2)
    assert max_budget(config, dag=one_gate) == 1
    all_local = request_dag(circuit(2, [(0, 1)]), [0, 0], 1)
    assert all_local.lower_bound == 0 and max_budget(config, dag=all_local) == 1


def test_circuit__progress_is_the_share_of_gates_done(tmp_path):
    c = circuit(6, [(0, 1), (1, 2), (2, 3), (4, 5)])
    config = circuit_config(dag_file(tmp_path, c, [0, 1, 0, 1, 2, 3], 4), 4, request_slots=2, prefetch_slots=1,
                            cache_capacity=4)
    core = HubCore(config, 1)
    core.reset(np.ones(1, dtype=bool), keys_for_seeds([0], core.keys, None))
    assert core.obs[0, 0] == 0.0  # no gate done
    core.state.issued[0] = 1  # one of the 4 gates done, in round 0
    core.refresh()
    assert core.obs[0, 0] == pytest.approx(0.25)  # 1 / 4


def test_circuit__progress_of_a_single_gate_circuit(tmp_path):
    config = circuit_config(dag_file(tmp_path, circuit(2, [(0, 1)]), [0, 1], 2), 2, request_slots=1,
                            prefetch_slots=1, cache_capacity=2)
    core = HubCore(config, 1)
    core.reset(np.ones(1, dtype=bool), keys_for_seeds([0], core.keys, None))
    core.state.issued[0] = 1  # its one gate done
    core.refresh()
    assert core.obs[0, 0] == 1.0  # 1 / 1
