"""``modenhub render``: an animated GIF of one episode, from the env's ``rgb_array`` frames.

Each frame is ``ModEnHubEnv.render()`` in ``rgb_array`` mode (see
:mod:`modenhub_env.render`): the hub and its spokes coloured by loss, the pending
requests as arcs (cyan when a cached ebit will serve them), the QPUs they involve, the
last round's attempts, served and failed requests, and the queue and cache bars. The
first frame is the state after ``reset``, then one frame per round.

The GIF is written with Pillow (the ``render`` extra: ``pip install 'modenhub[render]'``),
through one shared palette, so the colours are exact and the file stays small.
"""

from __future__ import annotations

import argparse
import io
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from modenhub_env.config import HubConfig
from modenhub_env.env import ModEnHubEnv
from train.files import write_atomic
from train.options import add_config_options, config_from, positive_int
from train.progress import progress_bar

MAX_STEPS = 10_000  # [rounds] longest animation the command writes (a 400x400 frame each)
MAX_FPS = 50  # GIF frame delays are hundredths of a second: 50 fps is the shortest


@dataclass
class Episode:
    """The frames of one played episode and its totals."""

    frames: list[np.ndarray]  # each (HEIGHT, WIDTH, 3) uint8
    rounds: int = 0
    totals: dict[str, float] = field(default_factory=dict)  # counters summed over the rounds
    reward: float = 0.0
    ended: bool = False  # terminated or truncated within the rounds played


def record_episode(
    config: HubConfig, policy: Any, steps: int, seed: int, progress: bool = False
) -> Episode:
    """Play ``policy`` for at most ``steps`` rounds of one episode seeded ``seed`` and keep
    every frame (``steps + 1`` at most: the reset and each round).

    :param config: the scenario.
    :param policy: anything with SB3's ``predict`` on batched observations.
    :param steps: rounds to play at most; the episode may end before.
    :param seed: the episode's seed (the same seed gives the same frames).
    :param progress: show a progress bar on stderr.
    """
    if isinstance(steps, bool) or not isinstance(steps, int) or not 1 <= steps <= MAX_STEPS:
        raise ValueError(f"steps must be an integer in [1, {MAX_STEPS}], got {steps!r}")
    env = ModEnHubEnv(config=config, render_mode="rgb_array")
    obs, _ = env.reset(seed=seed)
    episode = Episode(frames=[env.render()])
    names = ("attempts", "prefetch_attempts", "served", "failed", "cache_hits", "wasted")
    episode.totals = {name: 0.0 for name in names}
    with progress_bar(steps, "render", enabled=progress) as bar:
        for _ in range(steps):
            action, _ = policy.predict(obs[None], deterministic=True)
            obs, reward, terminated, truncated, info = env.step(action[0])
            episode.frames.append(env.render())
            episode.rounds += 1
            episode.reward += reward
            for name in names:
                episode.totals[name] += float(info[name])
            bar.update(1)
            if terminated or truncated:
                episode.ended = True
                break
    env.close()
    return episode


def gif_bytes(frames: list[np.ndarray], fps: float) -> bytes:
    """An endlessly looping GIF of ``frames`` at ``fps`` frames per second.

    The frames share one palette built from all of them, so a frame with 256 colours or
    fewer keeps its exact colours.
    """
    from PIL import Image

    if not frames:
        raise ValueError("frames must hold at least one image")
    if not 0 < fps <= MAX_FPS:
        raise ValueError(f"fps must be in (0, {MAX_FPS}], got {fps!r}")
    strip = Image.fromarray(np.concatenate(frames, axis=0))  # one image: one palette for all frames
    palette = strip.quantize(colors=256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)
    height = frames[0].shape[0]
    images = [palette.crop((0, i * height, palette.width, (i + 1) * height)) for i in range(len(frames))]
    buffer = io.BytesIO()
    images[0].save(
        buffer, format="GIF", save_all=True, append_images=images[1:], loop=0,
        duration=max(20, round(1000 / fps)), optimize=False, disposal=1,
    )
    return buffer.getvalue()


def write_gif(frames: list[np.ndarray], path: Path, fps: float) -> int:
    """Write :func:`gif_bytes` to ``path`` atomically; returns its size [bytes]."""
    data = gif_bytes(frames, fps)
    write_atomic(path, data)
    return len(data)


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register ``render`` on the ``modenhub`` subcommands."""
    parser = subparsers.add_parser(
        "render", help="an animated GIF of one episode (hub, spokes, requests, cache, attempts)",
        description="Play one episode of a scenario with a policy and write it as an animated GIF: the "
        "hub, its spokes coloured by loss (green 0 dB to red 15 dB), pending requests as magenta arcs "
        "(cyan: a cached ebit serves it next round), the last round's attempts, served and failed "
        "requests, and the queue and cache bars. Needs Pillow: pip install 'modenhub[render]'.",
    )
    add_config_options(parser, "hotspot")
    parser.add_argument("--policy", default="deadline",
                        help="who schedules: sequential, log-parallel, deadline, random, single-request-dp, or the "
                        "path of a trained model.safetensors (default deadline)")
    parser.add_argument("--steps", type=positive_int, default=48,
                        help=f"rounds to play at most, one frame each plus the first (default 48, at most "
                        f"{MAX_STEPS}); the animation stops earlier if the episode ends")
    parser.add_argument("--seed", type=int, default=0, help="the episode's seed; the same seed gives the same GIF "
                        "(default 0)")
    parser.add_argument("--fps", type=float, default=4.0,
                        help=f"frames (rounds) per second of the animation, in (0, {MAX_FPS}] (default 4)")
    parser.add_argument("--out", type=Path, default=Path("hub.gif"), help="the GIF to write (default hub.gif)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.set_defaults(func=_run)
    return parser


def _run(args: argparse.Namespace) -> None:
    from train.evaluate import load_policy

    config = config_from(args)
    if args.steps > MAX_STEPS:
        raise SystemExit(f"error: --steps must be in [1, {MAX_STEPS}], got {args.steps}")
    if not 0 < args.fps <= MAX_FPS:
        raise SystemExit(f"error: --fps must be in (0, {MAX_FPS}], got {args.fps}")
    try:
        import PIL  # noqa: F401
    except ImportError:
        raise SystemExit("error: modenhub render needs Pillow: pip install 'modenhub[render]'") from None
    started = time.monotonic()
    try:
        policy = load_policy(args.policy, config, args.seed)
        episode = record_episode(config, policy, args.steps, args.seed, progress=not args.quiet)
    except (ValueError, FileNotFoundError) as err:
        raise SystemExit(f"error: {err}") from None
    size = write_gif(episode.frames, args.out, args.fps)
    print(summary(args, episode, size, time.monotonic() - started))


def summary(args: argparse.Namespace, episode: Episode, size: int, seconds: float) -> str:
    """The end-of-command summary: the episode's totals and the file written."""
    totals = episode.totals
    ended = "episode ended" if episode.ended else "episode goes on"
    return "\n".join([
        f"{args.policy} on {args.preset}, seed {args.seed}: {episode.rounds} rounds ({ended}), "
        f"reward {episode.reward:.2f}, served {totals['served']:.0f}, failed {totals['failed']:.0f}, "
        f"attempts {totals['attempts'] + totals['prefetch_attempts']:.0f}, cache hits {totals['cache_hits']:.0f}",
        f"wrote {args.out} ({len(episode.frames)} frames at {args.fps:g} fps, {size / 1024:.0f} KiB) "
        f"in {seconds:.1f} s",
    ])

