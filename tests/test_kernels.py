"""The compiled kernels themselves: serial equals parallel bit for bit, one signature per
kernel, one file for all jitted code, the on-disk cache (and that an edit invalidates it),
and the same numbers with numba's JIT disabled."""

from __future__ import annotations

import ast
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from agents import make_policy
from modenhub_env import HubConfig, kernels
from modenhub_env import core as core_module
from modenhub_env.circuits import Circuit, request_dag, save_dag
from modenhub_env.core import ActionRangeError, HubCore
from modenhub_env.interface import keys_for_seeds
from modenhub_env.vector_env import ModEnHubVectorEnv
from train.rollout import episode_seed, run_episodes

ROOT = Path(__file__).resolve().parents[1]
ENTRY_KERNELS = (
    "step_rows", "first_bad_action", "reset_envs", "observe_envs", "next_episode_keys", "act_envs",
    "play_rows", "single_request_dp_rows", "attempts_for_target",
)


def _started(config: HubConfig, batch: int, seed: int = 11) -> HubCore:
    core = HubCore(config, batch)
    core.reset(np.ones(batch, dtype=bool), keys_for_seeds([seed + i for i in range(batch)], core.keys, None))
    return core


def _buffers(core: HubCore) -> list[np.ndarray]:
    return [core._ints.copy(), core._valid.copy(), core._floats.copy(), core._obs.copy()]


@pytest.fixture
def threads():
    """Restores the core's thread count after a test changes it."""
    before = core_module.get_threads()
    yield core_module.set_threads
    core_module.set_threads(before)


@pytest.mark.parametrize("preset", ["paper", "contention", "decoherence", "hotspot"])
def test_step__one_thread_and_three_agree_bit_for_bit(preset: str, threads):
    config = HubConfig.preset(preset, episode_requests=20) if preset == "paper" else HubConfig.preset(preset)
    batch = core_module.PARALLEL_MIN_BATCH + 1  # big enough to be split, into blocks of unequal size
    cores = []
    for count in (1, 3):
        threads(count)
        core, gen = _started(config, batch), np.random.default_rng(3)
        for _ in range(300):  # long enough for autoresets in every preset
            core.advance(gen.integers(0, config.k_max + 1, size=(batch, core.n_slots)), autoreset=True)
        cores.append(core)
    for mine, theirs in zip(_buffers(cores[0]), _buffers(cores[1]), strict=True):
        np.testing.assert_array_equal(mine, theirs)
    assert cores[0].state.totals["arrived"].sum() > 0


def test_step__a_bad_action_in_any_block_moves_no_env(threads):
    threads(2)
    batch = core_module.PARALLEL_MIN_BATCH * 2
    core = _started(HubConfig.preset("contention"), batch)
    before = _buffers(core)
    actions = np.zeros((batch, core.n_slots), dtype=np.int64)
    actions[-1, 0] = core.config.k_max + 1  # in the last block only
    with pytest.raises(ActionRangeError, match=rf"action\[{batch - 1}, 0\]"):
        core.advance(actions)
    for mine, theirs in zip(before, _buffers(core), strict=True):
        np.testing.assert_array_equal(mine, theirs)


def test_play__one_thread_and_two_agree_bit_for_bit(threads):
    config = HubConfig.preset("contention")
    policy = make_policy("deadline", config)
    keys = keys_for_seeds(list(range(41)), np.zeros(41, dtype=np.uint64), None)
    results = []
    for count in (1, 2):
        threads(count)
        core = HubCore(config, 41)
        results.append((core.play(policy.params, keys), core._floats[:, : kernels.N_COUNTERS].copy()))
    np.testing.assert_array_equal(results[0][0], results[1][0])
    np.testing.assert_array_equal(results[0][1], results[1][1])


def test_set_threads__refuses_what_is_not_a_positive_count():
    for bad in (0, -1, 1.5, True, "2"):
        with pytest.raises(ValueError, match="threads must be a positive integer"):
            core_module.set_threads(bad)


def test_play__equals_stepping_the_vector_env_round_by_round():
    config = HubConfig.preset("hotspot")
    policy = make_policy("deadline", config)
    fused = run_episodes(config, policy, 6, seed=4)
    env = ModEnHubVectorEnv(6, config=config)
    obs, _ = env.reset(seed=[int(s) for s in _episode_seeds(4, 6)])
    done, returns = np.zeros(6, dtype=bool), np.zeros(6)
    served = np.zeros(6)
    while not done.all():
        actions, _ = policy.predict(obs, action_masks=env.action_masks())
        obs, reward, terminated, truncated, info = env.step(actions)
        returns += np.where(done, 0.0, reward)
        ended = (terminated | truncated) & ~done
        if ended.any():
            served[ended] = info["final_info"]["episode"]["served"][ended]
        done |= ended
    np.testing.assert_array_equal(fused.returns, returns)
    np.testing.assert_array_equal(fused["served"], served)


def _episode_seeds(seed: int, episodes: int) -> list[int]:
    return [episode_seed(seed, e) for e in range(episodes)]


def _step_episode(core: HubCore, policy, key: int, autoreset: bool = False) -> tuple[float, list]:
    """Env 0 of ``core`` started with ``key`` and stepped by the compiled scheduler of
    ``policy`` until its episode ends: its return, and copies of its last observation,
    ``out``, totals and latency histogram (before any autoreset)."""
    core.reset(np.ones(core.batch, dtype=bool), np.full(core.batch, key, dtype=np.uint64))
    s, total = core.n_slots, 0.0
    while True:
        last = [core.obs.copy(), core.out.copy()]
        actions = np.zeros((core.batch, s), dtype=np.int64)
        limits = np.ascontiguousarray(core.work[:, :s])
        kernels.act_envs(policy.params, core.obs, limits, actions, np.zeros((core.batch, 3 * s), dtype=np.int64))
        core.advance(actions, autoreset=autoreset)
        total += core.out[0, kernels.O_REWARD]
        if core.out[0, kernels.O_TERMINATED] > 0 or core.out[0, kernels.O_TRUNCATED] > 0:
            totals = core._floats[:, : kernels.N_COUNTERS].copy()
            return total, [core.obs.copy(), core.out.copy(), totals, core.state.latency_hist.copy(), last]


@pytest.mark.parametrize(
    "overrides",
    # the second draws its pairs from the popularity table (``itable``), the first uniformly
    [
        {"episode_requests": 3},
        {"workload": "poisson", "arrival_rate": 0.7, "zipf_exponent": 1.0, "episode_rounds": 5},
    ],
    ids=["terminated", "truncated"],
)
def test_play__one_short_episode_equals_stepping_it_round_by_round(overrides):
    """The fused Monte Carlo (``play_rows``) against the same scheduler stepped from Python,
    for an episode that ends by termination and one cut by truncation: the same return,
    totals, latency histogram and length."""
    config = HubConfig(n_qpus=8, prefetch_slots=2, k_max=4, **overrides)
    policy = make_policy("deadline", config)
    for key in (5, 6):
        stepped, (_, out, totals, latency, _) = _step_episode(HubCore(config, 1), policy, key)
        fused = HubCore(config, 1)
        returns = fused.play(policy.params, np.array([key], dtype=np.uint64))
        assert returns[0] == stepped and stepped != 0.0
        np.testing.assert_array_equal(fused._floats[:, : kernels.N_COUNTERS], totals)
        np.testing.assert_array_equal(fused.state.latency_hist, latency)
        assert fused.state.round[0] == out[0, kernels.O_ROUND] > 1


def test_play_rows__plays_only_the_rows_from_start_to_stop():
    """A thread's block of rows is ``start..stop-1``: rows outside it are left alone (another
    thread may be playing them)."""
    config = HubConfig(n_qpus=8, episode_requests=3)
    core = HubCore(config, 3)
    policy = make_policy("log-parallel", config).params
    s = core.n_slots
    returns = np.full(3, 7.0)
    kernels.play_rows(1, 2, np.array([4, 5, 6], dtype=np.uint64), core._ints, core._valid, core._floats,
                      core._obs, core._iconsts, core._fconsts, policy, np.zeros((3, s), dtype=np.int64),
                      np.zeros((3, 3 * s), dtype=np.int64), returns)
    assert returns[0] == returns[2] == 7.0 and returns[1] != 7.0
    assert core.state.round[0] == core.state.round[2] == 0 and core.state.round[1] > 0


def test_advance__autoreset_leaves_the_last_round_in_the_final_sections():
    """An env that ends and restarts keeps in ``final_*`` what the same env without autoreset
    shows after its last round: observation, ``out``, totals, length and latency histogram."""
    config = HubConfig(n_qpus=8, prefetch_slots=2, k_max=4, episode_requests=4)
    policy = make_policy("deadline", config)
    _, (obs, out, totals, latency, _) = _step_episode(HubCore(config, 1), policy, 9)
    assert latency[0, 1:].any()  # some request waited, so the histogram's order matters
    restarted = HubCore(config, 1)
    _step_episode(restarted, policy, 9, autoreset=True)
    assert restarted.state.round[0] == 0  # the next episode has begun
    np.testing.assert_array_equal(restarted.final_obs, obs)
    width, counters = kernels.OUT_WIDTH, kernels.N_COUNTERS
    np.testing.assert_array_equal(restarted.final_out[:, :width], out)
    np.testing.assert_array_equal(restarted.final_out[:, width : width + counters], totals)
    assert restarted.final_out[0, width + counters] == out[0, kernels.O_ROUND]
    np.testing.assert_array_equal(restarted.final_latency, latency)


def test_kernels__each_entry_kernel_keeps_one_signature(tmp_path):
    """Every face, scheduler, workload and study calls the kernels with the same argument types."""
    config = HubConfig.preset("decoherence")
    env = ModEnHubVectorEnv(300, config=config)  # >= PARALLEL_MIN_BATCH: split over threads
    obs, _ = env.reset(seed=0)
    for name in ("log-parallel", "sequential", "deadline", "single-request-dp", "critical-path"):
        actions, _ = make_policy(name, config).predict(obs)
        obs, *_ = env.step(actions)
        run_episodes(config, make_policy(name, config), 2, seed=1)
    gates = Circuit(4, [0, 1, 2, 0], [1, 2, 3, 3])
    dag_path = save_dag(request_dag(gates, [0, 1, 2, 3], 4), tmp_path / "dag.json")
    circuit = config.replace(n_qpus=4, workload="circuit", circuit=str(dag_path), episode_rounds=100)
    run_episodes(circuit, make_policy("critical-path", circuit), 2, seed=1)
    ModEnHubVectorEnv(2, config=circuit).reset(seed=0)
    small = ModEnHubVectorEnv(2, config=config)
    small.reset(seed=0)
    small.step(np.zeros((2, small.single_action_space.shape[0]), dtype=np.int32))
    small.action_masks()
    make_policy("single-request-dp", config).predict(obs[0].astype(np.float64))
    # Read-only and strided arrays are copied, not compiled for.
    frozen = np.zeros((300, env.single_action_space.shape[0]), dtype=np.int64)
    frozen.flags.writeable = False
    env.step(frozen)
    env.step(np.zeros((300, 2 * frozen.shape[1]), dtype=np.int64)[:, ::2])
    frozen_obs = obs.copy()
    frozen_obs.flags.writeable = False
    make_policy("deadline", config).predict(frozen_obs)
    for name in ENTRY_KERNELS:
        dispatcher = getattr(kernels, name)
        assert len(dispatcher.signatures) <= 1, (name, dispatcher.signatures)


def test_kernels__all_jitted_code_lives_in_the_kernels_file():
    """A kernel embeds the helpers it calls in its cache, and numba checks only the
    kernel's own file for changes: jitted code elsewhere could be loaded stale."""
    offenders = []
    for folder in ("modenhub_env", "agents", "train"):
        for path in (ROOT / folder).rglob("*.py"):
            if path.name == "kernels.py" and folder == "modenhub_env":
                continue
            tree = ast.parse(path.read_text())
            for node in ast.walk(tree):
                if isinstance(node, (ast.Name, ast.Attribute)) and getattr(node, "id", getattr(node, "attr", "")) in (
                    "njit", "jit", "vectorize", "guvectorize"
                ):
                    offenders.append(str(path.relative_to(ROOT)))
    assert offenders == []


def test_cache_writable__finds_a_writable_folder_and_refuses_an_impossible_one(tmp_path):
    assert kernels.cache_writable([str(tmp_path / "cache")])
    assert (tmp_path / "cache").is_dir()
    assert kernels.cache_writable([str(tmp_path / "cache")])  # a folder that exists already
    assert not kernels.cache_writable(["/dev/null/cache"])  # under a file: not even root can
    assert kernels.cache_writable(["/dev/null/cache", str(tmp_path / "second")])


def test_cache_writable__probes_the_folder_itself_not_the_temporary_folder(monkeypatch, tmp_path):
    """The probe file goes into the folder: a folder that exists but refuses files is not
    writable, though the system's temporary folder is."""
    made = []
    real = kernels.tempfile.TemporaryFile

    def refusing(*args, dir=None, **kwargs):
        made.append(dir)
        if dir == str(tmp_path):
            raise PermissionError(13, "refused", dir)
        return real(*args, dir=dir, **kwargs)

    monkeypatch.setattr(kernels.tempfile, "TemporaryFile", refusing)
    assert not kernels.cache_writable([str(tmp_path)])
    assert made == [str(tmp_path)]


def test_cache_folders__numba_cache_dir_beside_the_package_then_the_users_cache(monkeypatch, tmp_path):
    package = os.path.join(os.path.dirname(kernels.__file__), "__pycache__")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("NUMBA_CACHE_DIR", str(tmp_path / "numba"))
    user = str(tmp_path / "home" / ".cache" / "numba")
    assert kernels.cache_folders() == [str(tmp_path / "numba"), package, user]
    monkeypatch.delenv("NUMBA_CACHE_DIR")
    assert kernels.cache_folders() == [package, user]


def test_bisect_right__counts_the_entries_at_most_u_from_start():
    table = np.array([9.0, 0.1, 0.2, 0.2, 0.5])  # the sorted part starts at 1
    assert [kernels.bisect_right(table, 1, 4, u) for u in (0.0, 0.1, 0.15, 0.2, 0.5, 0.7)] == [0, 1, 1, 3, 4, 4]


_PROBE = """
import sys, numpy as np
sys.path.insert(0, sys.argv[1])
import kernels_copy as k
print(repr(k.uniform(np.uint64(12345), 7, 1, 3)))
"""


def test_cache__an_edit_of_the_kernels_file_invalidates_its_compiled_kernels(tmp_path):
    """``uniform`` calls ``splitmix64``; editing the helper must change what a second
    process gets, not load the first process's cached machine code."""
    source = (ROOT / "modenhub_env" / "kernels.py").read_text()
    copy = tmp_path / "kernels_copy.py"
    copy.write_text(source)
    env = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path / "cache")}

    def probe() -> str:
        done = subprocess.run([sys.executable, "-c", _PROBE, str(tmp_path)], env=env, capture_output=True,
                              text=True, check=True, timeout=300)
        return done.stdout.strip()

    first = probe()
    assert probe() == first and any((tmp_path / "cache").rglob("*.nbi"))  # cached and reused
    edited = source.replace("return z ^ (z >> _SHIFT_31)", "return z ^ (z >> _SHIFT_30)", 1)
    assert edited != source
    copy.write_text(edited)
    assert probe() != first


_PYTHON_MODE = """
import hashlib, json, numpy as np
from modenhub_env.vector_env import ModEnHubVectorEnv
env = ModEnHubVectorEnv(2, preset="decoherence")
obs, _ = env.reset(seed=5)
digest = hashlib.sha256(obs.tobytes())
gen = np.random.default_rng(0)
for _ in range(12):
    obs, reward, *_ = env.step(gen.integers(0, 13, size=(2, 10)))
    digest.update(obs.tobytes() + reward.tobytes())
print(json.dumps(digest.hexdigest()))
"""


def test_kernels__run_warning_free_as_plain_python_with_the_same_numbers():
    def run(disable: str) -> str:
        env = {**os.environ, "NUMBA_DISABLE_JIT": disable}
        done = subprocess.run([sys.executable, "-W", "error", "-c", _PYTHON_MODE], env=env, cwd=ROOT,
                              capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, done.stderr[-2000:]
        return json.loads(done.stdout)

    assert run("1") == run("0")


def test_core__memory_stays_linear_in_the_batch_at_1024_qpus():
    """N = 1,024 with B = 1,024 fits in far less than a GiB: no (B, N^2) arrays."""
    core = HubCore(HubConfig.preset("paper", n_qpus=1024), 1024)
    held = sum(array.nbytes for array in (core._ints, core._valid, core._floats, core._obs))
    assert held < 64 * 2**20
    assert core._fconsts.nbytes + core._iconsts.nbytes < 2**20  # no per-pair table either


def test_core__a_storage_limit_beyond_any_episode_never_binds():
    """A coherence time of 1e300 rounds (found by the soak's fuzz) is no limit at all."""
    config = HubConfig.preset("decoherence", t_coh=1e300, cutoff=None)
    assert config.storage_limit > 2**63  # too large for the kernels' integers
    core = _started(config, 4)
    for _ in range(40):
        core.advance(np.full((4, core.n_slots), 2, dtype=np.int64))
    assert core.state.totals["expired"].sum() == 0 and core.state.totals["cached"].sum() > 0


def test_core__a_forked_child_steps_large_batches_too(threads):
    """The thread pool does not survive a fork (as SubprocVecEnv and Ray do): the child
    makes its own instead of waiting forever on the parent's threads."""
    threads(2)
    config = HubConfig.preset("paper")
    batch = core_module.PARALLEL_MIN_BATCH
    core = _started(config, batch)
    core.advance(np.zeros((batch, core.n_slots), dtype=np.int64))  # the parent's pool exists now
    read, write = os.pipe()
    child = os.fork()
    if child == 0:  # pragma: no cover - runs in the child
        try:
            core.advance(np.ones((batch, core.n_slots), dtype=np.int64))
            os.write(write, b"ok")
        finally:
            os._exit(0)
    os.close(write)
    deadline = time.monotonic() + 60
    while (done := os.waitpid(child, os.WNOHANG))[0] == 0 and time.monotonic() < deadline:
        time.sleep(0.05)
    if done[0] == 0:
        os.kill(child, signal.SIGKILL)
        os.waitpid(child, 0)
        pytest.fail("the forked child hung on the parent's thread pool")
    assert os.read(read, 2) == b"ok" and done[1] == 0
