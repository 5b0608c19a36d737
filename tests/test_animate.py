"""``train.animate``: the frames of an episode, the GIF and ``modenhub render``."""

from __future__ import annotations

import io

import gymnasium as gym
import numpy as np
import pytest

import modenhub_env  # noqa: F401  (registers ModEnHub-v0)
from agents import make_policy
from modenhub_env import render
from modenhub_env.config import HubConfig
from train import animate
from train.cli import main

Image = pytest.importorskip("PIL.Image")

HOTSPOT = HubConfig.preset("hotspot")


def decoded_frames(data: bytes) -> list[np.ndarray]:
    image = Image.open(io.BytesIO(data))
    frames = []
    for index in range(image.n_frames):
        image.seek(index)
        frames.append(np.asarray(image.convert("RGB")))
    return frames


def test_record_episode__one_frame_for_reset_and_each_round():
    episode = animate.record_episode(HOTSPOT, make_policy("deadline", HOTSPOT), steps=5, seed=0)
    assert len(episode.frames) == 6 and episode.rounds == 5 and not episode.ended
    for frame in episode.frames:
        assert frame.shape == (render.HEIGHT, render.WIDTH, 3) and frame.dtype == np.uint8
    assert not all(np.array_equal(episode.frames[0], f) for f in episode.frames[1:])


def test_record_episode__frames_are_the_envs_render():
    policy = make_policy("log-parallel", HOTSPOT)
    episode = animate.record_episode(HOTSPOT, policy, steps=4, seed=3)
    env = gym.make("modenhub_env:ModEnHub-v0", config=HOTSPOT, render_mode="rgb_array")
    obs, _ = env.reset(seed=3)
    expected = [env.render()]
    for _ in range(4):
        action, _ = policy.predict(obs[None])
        obs, *_ = env.step(action[0])
        expected.append(env.render())
    for got, want in zip(episode.frames, expected, strict=True):
        np.testing.assert_array_equal(got, want)


def test_record_episode__same_seed_same_frames_other_seed_differs():
    policy = make_policy("deadline", HOTSPOT)
    first = animate.record_episode(HOTSPOT, policy, steps=8, seed=1)
    again = animate.record_episode(HOTSPOT, policy, steps=8, seed=1)
    other = animate.record_episode(HOTSPOT, policy, steps=8, seed=2)
    assert all(np.array_equal(a, b) for a, b in zip(first.frames, again.frames, strict=True))
    assert not all(np.array_equal(a, b) for a, b in zip(first.frames, other.frames, strict=True))


def test_record_episode__stops_when_the_episode_ends():
    config = HubConfig(n_qpus=4, episode_requests=2)
    episode = animate.record_episode(config, make_policy("sequential", config), steps=50, seed=0)
    assert episode.ended
    assert episode.rounds < 50 and len(episode.frames) == episode.rounds + 1
    assert episode.totals["served"] + episode.totals["failed"] == 2


@pytest.mark.parametrize("steps", [0, -1, animate.MAX_STEPS + 1, 2.5, True])
def test_record_episode__bad_steps_named_in_error(steps):
    with pytest.raises(ValueError, match="steps must be an integer"):
        animate.record_episode(HOTSPOT, make_policy("deadline", HOTSPOT), steps=steps, seed=0)


def test_gif_bytes__keeps_every_frame_and_its_exact_colours():
    episode = animate.record_episode(HOTSPOT, make_policy("deadline", HOTSPOT), steps=6, seed=0)
    data = animate.gif_bytes(episode.frames, fps=5)
    frames = decoded_frames(data)
    assert len(frames) == len(episode.frames)
    for got, want in zip(frames, episode.frames, strict=True):
        np.testing.assert_array_equal(got, want)
    image = Image.open(io.BytesIO(data))
    assert image.info["duration"] == 200 and image.info["loop"] == 0


@pytest.mark.parametrize("fps", [0, -1, animate.MAX_FPS * 2])
def test_gif_bytes__bad_fps_named_in_error(fps):
    with pytest.raises(ValueError, match="fps must be in"):
        animate.gif_bytes([np.zeros((4, 4, 3), dtype=np.uint8)], fps=fps)


def test_cli_render__writes_the_gif_and_a_summary(tmp_path, capsys):
    out = tmp_path / "sub" / "hub.gif"
    main(["render", "--preset", "hotspot", "--policy", "deadline", "--steps", "6", "--seed", "4",
          "--fps", "8", "--out", str(out), "--quiet"])
    text = capsys.readouterr().out
    assert len(decoded_frames(out.read_bytes())) == 7
    assert f"wrote {out} (7 frames at 8 fps" in text
    assert "deadline on hotspot, seed 4: 6 rounds" in text and "served" in text


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--policy", "nobody"], "unknown policy 'nobody'"),
        (["--fps", "0"], "--fps must be in (0, 50]"),
        (["--steps", str(animate.MAX_STEPS + 1)], "--steps must be in [1, 10000]"),
        (["--set", "n_qpus=0"], "n_qpus must be in"),
    ],
)
def test_cli_render__bad_input_is_a_one_line_error(argv, message, tmp_path):
    with pytest.raises(SystemExit) as excinfo:
        main(["render", "--out", str(tmp_path / "x.gif"), "--quiet", *argv])
    assert message in str(excinfo.value) and "\n" not in str(excinfo.value)
    assert not (tmp_path / "x.gif").exists()


def test_record_video__writes_an_mp4_of_the_rgb_frames(tmp_path):
    """Gymnasium's RecordVideo wrapper works on the env (it needs moviepy, the render extra)."""
    pytest.importorskip("moviepy")
    env = gym.make("modenhub_env:ModEnHub-v0", preset="hotspot", render_mode="rgb_array")
    env = gym.wrappers.RecordVideo(env, str(tmp_path / "videos"), episode_trigger=lambda _: True, video_length=10,
                                   disable_logger=True)
    policy = make_policy("deadline", HOTSPOT)
    obs, _ = env.reset(seed=0)
    for _ in range(12):
        action, _ = policy.predict(obs[None])
        obs, *_ = env.step(action[0])
    env.close()
    videos = list((tmp_path / "videos").glob("*.mp4"))
    assert len(videos) == 1 and videos[0].stat().st_size > 1000
