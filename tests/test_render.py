"""Tests of ``modenhub_env.render``: the ``ansi`` text and the ``rgb_array`` image."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

import modenhub_env  # noqa: F401  (registers ModEnHub-v0)
from modenhub_env import render
from modenhub_env.config import HubConfig
from modenhub_env.core import HubCore
from modenhub_env.workload import pair_code

GRAPH_BOTTOM = 340  # [px] rows above this hold the hub, spokes and arcs; below, the bars


def make_core(config: HubConfig, batch: int = 1, seed: int = 7) -> HubCore:
    core = HubCore(config, batch)
    core.reset(np.ones(batch, dtype=bool), np.full(batch, seed, dtype=np.uint64))
    return core


def idle_step(core: HubCore) -> None:
    core.step(np.zeros((core.batch, core.n_slots), dtype=np.int64))


def count_colour(image: np.ndarray, colour: tuple[int, int, int]) -> int:
    return int(np.all(image == np.array(colour, dtype=np.uint8), axis=-1).sum())


def pixel_at(image: np.ndarray, xy: np.ndarray) -> np.ndarray:
    x, y = np.rint(xy).astype(int)
    return image[y, x].astype(int)


# ---------------------------------------------------------------------- rgb


def test_render_rgb__is_uint8_rgb_image():
    image = render.render_rgb(make_core(HubConfig()), 0)
    assert image.shape == (render.HEIGHT, render.WIDTH, 3)
    assert image.dtype == np.uint8
    assert len(np.unique(image.reshape(-1, 3), axis=0)) > 5


def test_render_rgb__pending_request_drawn_and_gone_once_resolved():
    core = make_core(HubConfig(n_qpus=8, episode_requests=1, round_budget=1, cache_capacity=0))
    assert core.state.q_valid[0, 0]
    a = int(core.state.q_a[0, 0])
    with_request = render.render_rgb(core, 0)
    idle_step(core)  # the budget of one round ends: the request fails, none follows
    assert not core.state.q_valid.any()
    without = render.render_rgb(core, 0)

    assert not np.array_equal(with_request, without)
    graph_with, graph_without = with_request[:GRAPH_BOTTOM], without[:GRAPH_BOTTOM]
    assert count_colour(graph_with, render.REQUEST) > 50
    assert count_colour(graph_without, render.REQUEST) == 0
    qpu_a = render.qpu_positions(8)[a]
    assert tuple(pixel_at(with_request, qpu_a)) == render.QPU_BUSY
    assert tuple(pixel_at(without, qpu_a)) == render.QPU_IDLE


def test_render_rgb__good_links_greener_than_bad():
    n = 16
    core = make_core(HubConfig(n_qpus=n, fibre_km=1.0, fibre_km_max=50.0))
    core.state.q_valid[:] = False  # no arcs over the spokes
    image = render.render_rgb(core, 0)
    centre, ends = np.asarray(render.CENTRE), render.qpu_positions(n)
    for fraction in (0.3, 0.5, 0.7, 0.9):
        good = pixel_at(image, centre + fraction * (ends[0] - centre))
        bad = pixel_at(image, centre + fraction * (ends[n - 1] - centre))
        assert good[1] > good[0], f"1 km spoke not green at {fraction}: {good}"
        assert bad[0] > bad[1], f"50 km spoke not red at {fraction}: {bad}"
        assert good[1] - good[0] > bad[1] - bad[0]


def test_link_colours__greener_as_transmission_rises():
    raw = render.link_colours(np.array([1.0, 0.5, 0.2, 0.1, 0.05]))  # 0 to 13 dB
    assert raw.dtype == np.uint8 and raw.shape == (5, 3)
    colours = raw.astype(int)
    greenness = colours[:, 1] - colours[:, 0]
    assert np.all(np.diff(greenness) < 0)
    beyond = render.link_colours(np.array([10 ** (-render.LOSS_SCALE_DB / 10), 1e-9, 0.0]))
    assert (beyond == beyond[0]).all()  # fully red from the end of the scale on


def test_render_rgb__reserved_request_drawn_in_cache_colour():
    core = make_core(HubConfig(n_qpus=8))
    plain = render.render_rgb(core, 0)
    state = core.state
    code = pair_code(state.q_a[0, 0], state.q_b[0, 0], 8)
    state.c_pair[0, 0], state.c_birth[0, 0], state.q_reserved[0, 0] = code, 0, 0
    reserved = render.render_rgb(core, 0)
    assert count_colour(plain[:GRAPH_BOTTOM], render.RESERVED) == 0
    assert count_colour(reserved[:GRAPH_BOTTOM], render.RESERVED) > 50
    assert count_colour(reserved[:GRAPH_BOTTOM], render.REQUEST) < count_colour(plain[:GRAPH_BOTTOM], render.REQUEST)


def test_render_rgb__cache_bar_grows_with_fill():
    core = make_core(HubConfig(n_qpus=8, cache_capacity=4))
    bars = slice(GRAPH_BOTTOM, render.HEIGHT)
    empty = count_colour(render.render_rgb(core, 0)[bars], render.CACHE)
    core.state.c_pair[0, :2] = [1, 2]
    half = count_colour(render.render_rgb(core, 0)[bars], render.CACHE)
    core.state.c_pair[0, :] = [1, 2, 3, 4]
    full = count_colour(render.render_rgb(core, 0)[bars], render.CACHE)
    assert empty == 0 < half < full
    assert full == pytest.approx(2 * half, rel=0.05)


def test_render_rgb__queue_bar_full_for_sequential_request():
    core = make_core(HubConfig(n_qpus=8))
    bars = render.render_rgb(core, 0)[GRAPH_BOTTOM:]
    core.state.q_valid[:] = False
    idle_bars = render.render_rgb(core, 0)[GRAPH_BOTTOM:]
    assert count_colour(bars, render.REQUEST) > count_colour(idle_bars, render.REQUEST) == 0


def test_render_rgb__last_round_counters_drawn_only_with_info():
    core = make_core(HubConfig(n_qpus=8))
    counters_band = slice(26, 36)  # [px] rows of the last round's line, under the header
    plain = render.render_rgb(core, 0)
    few = render.render_rgb(core, 0, {"attempts": 1, "prefetch_attempts": 0, "served": 0, "failed": 0})
    many = render.render_rgb(core, 0, {"attempts": 3, "prefetch_attempts": 5, "served": 1, "failed": 0})
    assert count_colour(plain[counters_band], render.DIM_TEXT) == 0
    assert count_colour(few[counters_band], render.DIM_TEXT) > 50
    assert not np.array_equal(few[counters_band], many[counters_band])
    np.testing.assert_array_equal(few[40:], plain[40:])  # the rest of the picture is unchanged


def test_env__render_rgb_array_shows_the_last_rounds_attempts():
    env = gym.make("modenhub_env:ModEnHub-v0", preset="hotspot", render_mode="rgb_array")
    env.reset(seed=0)
    after_reset = env.render()
    env.step(np.ones(env.action_space.shape, dtype=np.int64))
    after_step = env.render()
    assert count_colour(after_reset[26:36], render.DIM_TEXT) == 0
    assert count_colour(after_step[26:36], render.DIM_TEXT) > 50


def test_render_rgb__draws_the_requested_row_of_a_batch():
    core = make_core(HubConfig(n_qpus=8, episode_requests=1, round_budget=1), batch=2)
    core.state.q_valid[1] = False
    busy, idle = render.render_rgb(core, 0), render.render_rgb(core, 1)
    assert count_colour(busy[:GRAPH_BOTTOM], render.REQUEST) > 0
    assert count_colour(idle[:GRAPH_BOTTOM], render.REQUEST) == 0


@pytest.mark.parametrize("n_qpus", [1, 2, 3, 64, 65, 1024])
@pytest.mark.parametrize("cache_capacity", [0, 8])
def test_render_rgb__any_size_renders(n_qpus, cache_capacity):
    core = make_core(HubConfig(n_qpus=n_qpus, cache_capacity=cache_capacity))
    image = render.render_rgb(core, 0)
    assert image.shape == (render.HEIGHT, render.WIDTH, 3)
    a = int(core.state.q_a[0, 0])
    assert tuple(pixel_at(image, render.qpu_positions(n_qpus)[a])) == render.QPU_BUSY
    assert count_colour(image[:GRAPH_BOTTOM], render.REQUEST) > 0


def test_render_rgb__hub_memory_link_for_one_qpu():
    core = make_core(HubConfig(n_qpus=1))
    image = render.render_rgb(core, 0)
    spoke_middle = (np.asarray(render.CENTRE) + render.qpu_positions(1)[0]) / 2
    # The arc to the hub memory bends aside: the spoke itself stays visible.
    assert tuple(pixel_at(image, spoke_middle)) == tuple(render.link_colours(core.eta)[0])


def test_shown_spokes__at_most_max_and_spread():
    assert np.array_equal(render.shown_spokes(5), np.arange(5))
    many = render.shown_spokes(1024)
    assert many.size == render.MAX_SPOKES
    assert many[0] == 0 and many[-1] > 1024 - 2 * 1024 // render.MAX_SPOKES


# ---------------------------------------------------------------------- ansi


def test_render_ansi__shows_round_and_pending_pair():
    core = make_core(HubConfig(n_qpus=8, round_budget=5))
    idle_step(core)
    idle_step(core)
    a, b = int(core.state.q_a[0, 0]), int(core.state.q_b[0, 0])
    text = render.render_ansi(core, 0, {})
    assert text.splitlines()[0].startswith("ModEn-Hub  round 2  N=8")
    assert f"({a}, {b})" in text
    assert "rounds left 3" in text  # deadline 5, two rounds spent
    p_ab = core.config.p_bsm * core.eta[a] * core.eta[b]
    assert f"p_ab={p_ab:.4f}" in text


def test_render_ansi__lists_last_round_counters():
    core = make_core(HubConfig(n_qpus=8))
    assert "no step yet" in render.render_ansi(core, 0, {"round": 0.0, "pending": 1.0})
    info = {"served": 1.0, "failed": 0.0, "attempts": 4.0, "cache_hits": 0.0, "wasted": 2.0,
            "gate_fidelity": 0.98, "latency_hist": np.zeros(3)}
    text = render.render_ansi(core, 0, info)
    assert "served 1  failed 0  attempts 4  cache_hits 0  wasted 2" in text
    assert "gate_fidelity 0.9800" in text


def test_render_ansi__shows_cache_entries_and_reservation():
    core = make_core(HubConfig(n_qpus=8, t_coh=10.0, f_min=0.3))
    for _ in range(2):
        idle_step(core)
    state = core.state
    a, b = int(state.q_a[0, 0]), int(state.q_b[0, 0])
    state.c_pair[0, 0], state.c_birth[0, 0], state.q_reserved[0, 0] = a * 8 + b, 0, 0
    text = render.render_ansi(core, 0, {})
    assert "cache 1/" in text and "cached ebit reserved" in text
    fidelity = 0.25 + (0.97 - 0.25) * np.exp(-2 / 10.0)
    assert f"({a}, {b})       age 2  F={fidelity:.3f}" in text


def test_render_ansi__is_deterministic_and_handles_extremes():
    for config in (HubConfig(n_qpus=1), HubConfig(n_qpus=1024, cache_capacity=0)):
        core = make_core(config)
        text = render.render_ansi(core, 0, {})
        assert text == render.render_ansi(core, 0, {})
        assert "\x1b[" not in text
    assert "(0, hub)" in render.render_ansi(make_core(HubConfig(n_qpus=1)), 0, {})
    assert "cache: disabled" in text


# ---------------------------------------------------------------------- through gymnasium


def test_env__render_rgb_array_after_reset():
    env = gym.make("modenhub_env:ModEnHub-v0", render_mode="rgb_array")
    env.reset(seed=3)
    image = env.render()
    assert isinstance(image, np.ndarray) and image.shape == (render.HEIGHT, render.WIDTH, 3)
    assert image.dtype == np.uint8
    env.close()


def test_env__render_ansi_after_reset_and_step():
    env = gym.make("modenhub_env:ModEnHub-v0", render_mode="ansi")
    env.reset(seed=3)
    text = env.render()
    assert isinstance(text, str) and "round 0" in text and "no step yet" in text
    env.step(env.action_space.sample() * 0)
    text = env.render()
    assert "round 1" in text and "attempts 0" in text
    env.close()


def test_vector_env__renders_env_zero():
    envs = gym.make_vec("modenhub_env:ModEnHub-v0", num_envs=2, vectorization_mode="vector_entry_point",
                        render_mode="ansi")
    envs.reset(seed=1)
    envs.step(np.zeros(envs.action_space.shape, dtype=np.int64))
    text = envs.render()
    assert isinstance(text, str) and "round 1" in text and "served" in text
    envs.close()
