"""Pictures of one hub of a batch: ``ansi`` text and an ``rgb_array`` image.

``render_ansi`` summarises the round in plain text: the pending requests (pair, ``p_ab``,
rounds left, attempts spent, reserved cached ebit), the cache (pairs, ages, fidelities)
and the last round's counters.

``render_rgb`` draws a ``HEIGHT x WIDTH`` RGB image with numpy alone (the package depends
on numpy and gymnasium only, so no matplotlib, pygame or PIL):

* the hub is the disc in the centre, QPU ``i`` sits on a ring around it at angle
  ``2 pi i / N`` clockwise from the top, joined to the hub by its spoke;
* each spoke is coloured by its loss ``-10 log10(eta_i)`` on a fixed scale, green at
  0 dB, yellow at ``LOSS_SCALE_DB / 2``, red at ``LOSS_SCALE_DB`` and beyond, so colours
  compare across scenarios; for ``N > MAX_SPOKES`` only ``MAX_SPOKES`` evenly spaced
  spokes are drawn (thin), and every QPU is a point of the coloured ring;
* a pending request is a magenta arc between its two QPUs, bent towards the hub it is
  routed through (cyan when a cached ebit is reserved for it); for ``N = 1`` the arc joins
  the QPU to the hub's memory; the QPUs of pending requests are enlarged and ringed;
* along the bottom, the queue load (pending / queue size) and the cache fill (cached
  ebits / ``HubConfig.cache_size``) as bars with their counts; the round and ``N`` on top;
* under them, when the last round's ``info`` is given (as ``env.render()`` does after a
  step), its attempts (prefetch included), served and failed requests.

All shapes are stamped with a small disc of pixel offsets at points sampled along them,
so a whole set of spokes or arcs is one vectorised numpy assignment.
"""

from __future__ import annotations

import functools
import math
from typing import Any

import numpy as np
from gymnasium import logger as gym_logger

from modenhub_env import physics
from modenhub_env.core import HubCore

WIDTH = 400  # [px]
HEIGHT = 400  # [px]
CENTRE = (200.0, 186.0)  # (x, y) [px] of the hub
RING_RADIUS = 140.0  # [px] distance of the QPUs from the hub centre
HUB_RADIUS = 20  # [px]
MAX_SPOKES = 64  # spokes drawn at most; larger N shows an evenly spaced sample
MAX_ARCS = 32  # pending requests drawn at most (oldest first)
LOSS_SCALE_DB = 15.0  # [dB] spoke loss drawn fully red
SAMPLE_STEP = 0.6  # [px] spacing of the points stamped along a line or arc

BACKGROUND = (16, 18, 26)
HUB_RIM = (210, 214, 228)
HUB_FILL = (58, 66, 92)
QPU_IDLE = (170, 176, 192)
QPU_BUSY = (255, 255, 255)
REQUEST = (236, 64, 200)  # magenta: a pending request
RESERVED = (60, 200, 240)  # cyan: a request a cached ebit will serve next round
CACHE = (60, 200, 240)
BAR_BACK = (48, 52, 66)
TEXT = (228, 230, 238)
DIM_TEXT = (130, 134, 150)

#: Green (lossless) -> yellow -> red (``LOSS_SCALE_DB``), sampled at loss fractions 0, 0.5, 1.
_LOSS_STOPS = np.array([[40, 190, 90], [240, 210, 60], [222, 52, 40]], dtype=np.float64)

ANSI_REQUESTS = 6  # pending requests listed at most
ANSI_CACHE = 6  # cached ebits listed at most
_COUNTERS = (
    "served", "failed", "rejected", "attempts", "prefetch_attempts", "clipped_attempts",
    "cache_hits", "cached", "wasted", "expired",
)


# ---------------------------------------------------------------------- text


RENDER_MODES = ("ansi", "rgb_array")


def check_render_mode(mode: str | None) -> str | None:
    """``mode`` if it is one of :data:`RENDER_MODES` or ``None``, else a ``ValueError``."""
    if mode is not None and mode not in RENDER_MODES:
        raise ValueError(f"render_mode must be one of {list(RENDER_MODES)} or None, got {mode!r}")
    return mode


def render_frame(core: HubCore, mode: str | None, info: dict) -> str | np.ndarray | None:
    """Env 0's frame in ``mode`` (``None`` warns and returns nothing, as Gymnasium does)."""
    if mode == "ansi":
        return render_ansi(core, 0, info)
    if mode == "rgb_array":
        return render_rgb(core, 0, info)
    gym_logger.warn("render() needs render_mode 'ansi' or 'rgb_array' at construction")
    return None


def render_ansi(core: HubCore, row: int, info: dict[str, Any]) -> str:
    """A plain-text summary of env ``row``'s round; ``info`` is that env's last info dict
    (empty or without counters right after reset)."""
    cfg, state = core.config, core.snapshot()
    now = int(state.round[row])
    pending = np.flatnonzero(state.q_valid[row])
    cached = np.flatnonzero(state.c_pair[row] >= 0)
    lines = [
        f"ModEn-Hub  round {now}  N={cfg.n_qpus}  workload {cfg.workload}  "
        f"queue {pending.size}/{cfg.queue_size}  cache {cached.size}/{cfg.cache_size}",
    ]
    lines += _ansi_requests(core, row, pending)
    lines += _ansi_cache(core, row, cached)
    lines.append(_ansi_counters(info))
    return "\n".join(lines) + "\n"


def _pair_label(a: int, b: int) -> str:
    """``(a, b)``; for ``N = 1`` the one pair joins the QPU to the hub memory."""
    return f"({a}, hub)" if a == b else f"({a}, {b})"


def _ansi_requests(core: HubCore, row: int, pending: np.ndarray) -> list[str]:
    cfg, state = core.config, core.snapshot()
    if pending.size == 0:
        return ["pending: none"]
    lines = ["pending (oldest first):"]
    now = int(state.round[row])
    for slot in pending[:ANSI_REQUESTS]:
        a, b = int(state.q_a[row, slot]), int(state.q_b[row, slot])
        p_ab = float(cfg.p_bsm * core.eta[a] * core.eta[b])
        left = int(state.q_deadline[row, slot]) - now  # rounds left, this one included
        spent = int(state.q_attempts[row, slot])
        reserved = "cached ebit reserved" if state.q_reserved[row, slot] >= 0 else "no cached ebit"
        lines.append(
            f"  {_pair_label(a, b):<12} p_ab={p_ab:.4f}  rounds left {left}  "
            f"attempts {spent}  {reserved}"
        )
    if pending.size > ANSI_REQUESTS:
        lines.append(f"  ... and {pending.size - ANSI_REQUESTS} more")
    return lines


def _ansi_cache(core: HubCore, row: int, cached: np.ndarray) -> list[str]:
    cfg, state = core.config, core.snapshot()
    if cfg.cache_size == 0:
        return ["cache: disabled"]
    if cached.size == 0:
        return [f"cache 0/{cfg.cache_size}: empty"]
    lines = [f"cache {cached.size}/{cfg.cache_size} (oldest first):"]
    order = cached[np.argsort(state.c_birth[row, cached], kind="stable")]
    ages = int(state.round[row]) - state.c_birth[row, order]  # [rounds]
    fidelities = physics.werner_fidelity(ages, cfg.f0, cfg.t_coh)
    for entry, age, fidelity in list(zip(order, ages, fidelities, strict=True))[:ANSI_CACHE]:
        code = int(state.c_pair[row, entry])
        a, b = divmod(code, cfg.n_qpus)
        lines.append(f"  {_pair_label(a, b):<12} age {int(age)}  F={float(fidelity):.3f}")
    if cached.size > ANSI_CACHE:
        lines.append(f"  ... and {cached.size - ANSI_CACHE} more")
    return lines


def _ansi_counters(info: dict[str, Any]) -> str:
    shown = [f"{key} {float(info[key]):g}" for key in _COUNTERS if key in info]
    if not shown:
        return "last round: no step yet"
    if float(info.get("served", 0.0)) > 0 and "gate_fidelity" in info:
        shown.append(f"gate_fidelity {float(info['gate_fidelity']):.4f}")
    return "last round: " + "  ".join(shown)


# ---------------------------------------------------------------------- image


def render_rgb(core: HubCore, row: int, info: dict[str, Any] | None = None) -> np.ndarray:
    """An image of env ``row``'s hub, ``(HEIGHT, WIDTH, 3)`` uint8 (see the module docstring).

    :param core: the batch of hubs.
    :param row: which env of the batch to draw.
    :param info: that env's last info dict; its round counters (``attempts``,
        ``prefetch_attempts``, ``served``, ``failed``) are drawn when present.
    """
    cfg, state = core.config, core.snapshot()
    n = cfg.n_qpus
    image = np.empty((HEIGHT, WIDTH, 3), dtype=np.uint8)
    image[:] = BACKGROUND
    qpus = qpu_positions(n)
    colours = link_colours(core.eta)
    shown = shown_spokes(n)
    _draw_spokes(image, qpus[shown], colours[shown], thin=n > MAX_SPOKES)
    if n > MAX_SPOKES:
        _stamp(image, qpus, colours, radius=1.0)

    slots = np.flatnonzero(state.q_valid[row])[:MAX_ARCS]
    a, b = state.q_a[row, slots], state.q_b[row, slots]
    reserved = state.q_reserved[row, slots] >= 0
    _draw_requests(image, qpus, a, b, reserved)
    _stamp(image, np.array([CENTRE]), HUB_RIM, HUB_RADIUS + 2)
    _stamp(image, np.array([CENTRE]), HUB_FILL, HUB_RADIUS)
    _draw_qpus(image, qpus[shown], np.unique(np.concatenate([a, b])), qpus, n)

    pending = int(state.q_valid[row].sum())
    filled = int((state.c_pair[row] >= 0).sum())
    _draw_header(image, int(state.round[row]), n)
    if info is not None and "attempts" in info:
        _draw_last_round(image, info)
    _draw_bar(image, 348, "QUEUE", pending, cfg.queue_size, REQUEST)
    _draw_bar(image, 372, "CACHE", filled, cfg.cache_size, CACHE)
    return image


def qpu_positions(n_qpus: int) -> np.ndarray:
    """Pixel position ``(x, y)`` of each QPU, ``(N, 2)``: on the ring, QPU 0 at the top,
    then clockwise."""
    angle = -math.pi / 2 + 2 * math.pi * np.arange(n_qpus) / n_qpus
    return np.stack([CENTRE[0] + RING_RADIUS * np.cos(angle), CENTRE[1] + RING_RADIUS * np.sin(angle)], axis=1)


def shown_spokes(n_qpus: int) -> np.ndarray:
    """Indices of the QPUs whose spokes are drawn: all, or ``MAX_SPOKES`` evenly spaced."""
    if n_qpus <= MAX_SPOKES:
        return np.arange(n_qpus)
    return np.unique(np.linspace(0, n_qpus, MAX_SPOKES, endpoint=False).astype(np.int64))


def link_colours(eta: np.ndarray) -> np.ndarray:
    """Colour of each spoke from its transmission, ``(N, 3)`` uint8: green at 0 dB loss,
    red at ``LOSS_SCALE_DB`` and beyond."""
    loss_db = -10.0 * np.log10(np.maximum(np.asarray(eta, dtype=np.float64), 1e-30))
    fraction = np.clip(loss_db / LOSS_SCALE_DB, 0.0, 1.0)
    stops = np.linspace(0.0, 1.0, len(_LOSS_STOPS))
    channels = [np.interp(fraction, stops, _LOSS_STOPS[:, c]) for c in range(3)]
    return np.rint(np.stack(channels, axis=-1)).astype(np.uint8)


def _draw_spokes(image: np.ndarray, ends: np.ndarray, colours: np.ndarray, thin: bool) -> None:
    centre = np.asarray(CENTRE)
    direction = (ends - centre) / RING_RADIUS
    starts = centre + direction * HUB_RADIUS
    n = len(ends)
    radius = 0.0 if thin else (1.0 if n <= 16 else 0.5)
    t = _samples(RING_RADIUS - HUB_RADIUS)
    points = starts[:, None, :] + t[None, :, None] * (ends - starts)[:, None, :]
    _stamp(image, points.reshape(-1, 2), np.repeat(colours, t.size, axis=0), radius)


def _draw_requests(
    image: np.ndarray, qpus: np.ndarray, a: np.ndarray, b: np.ndarray, reserved: np.ndarray
) -> None:
    """Quadratic Bezier arcs from QPU ``a`` to QPU ``b`` (to the hub memory if ``a == b``)."""
    if a.size == 0:
        return
    centre = np.asarray(CENTRE)
    start = qpus[a]
    end = np.where((a == b)[:, None], centre, qpus[b])
    middle = (start + end) / 2
    chord = end - start
    normal = np.stack([-chord[:, 1], chord[:, 0]], axis=1) / np.maximum(np.linalg.norm(chord, axis=1), 1e-9)[:, None]
    inward = centre - middle
    distance = np.linalg.norm(inward, axis=1)
    # Bend towards the hub the pair is routed through, gently for short chords; a chord
    # through the hub (antipodal pairs, N = 2) or along a spoke (the N = 1 memory link)
    # bends sideways instead, so that it does not hide the spokes.
    sideways = (distance < 0.3 * RING_RADIUS) | (a == b)
    bend = np.minimum(0.5 * distance, 0.4 * np.linalg.norm(chord, axis=1))  # [px]
    towards_hub = inward / np.maximum(distance, 1e-9)[:, None]
    control = np.where(
        sideways[:, None],
        middle + normal * 0.35 * RING_RADIUS,
        middle + towards_hub * bend[:, None],
    )
    t = _samples(2.2 * RING_RADIUS)[None, :, None]
    points = (1 - t) ** 2 * start[:, None] + 2 * t * (1 - t) * control[:, None] + t**2 * end[:, None]
    colours = np.where(reserved[:, None], np.array(RESERVED), np.array(REQUEST)).astype(np.uint8)
    _stamp(image, points.reshape(-1, 2), np.repeat(colours, t.size, axis=0), 1.0)


def _draw_qpus(
    image: np.ndarray, shown: np.ndarray, busy: np.ndarray, qpus: np.ndarray, n_qpus: int
) -> None:
    radius = 5.0 if n_qpus <= 16 else (3.0 if n_qpus <= MAX_SPOKES else 1.5)
    _stamp(image, shown, QPU_IDLE, radius)
    if busy.size:
        _stamp(image, qpus[busy], REQUEST, max(radius, 3.0) + 2)
        _stamp(image, qpus[busy], QPU_BUSY, max(radius, 3.0))


def _draw_header(image: np.ndarray, round_: int, n_qpus: int) -> None:
    _draw_text(image, 8, 8, f"ROUND {round_}", TEXT, 2)
    label = f"N {n_qpus}"
    _draw_text(image, WIDTH - 8 - _text_width(label, 2), 8, label, TEXT, 2)


def _draw_last_round(image: np.ndarray, info: dict[str, Any]) -> None:
    """The last round's attempts (prefetch included), served and failed requests."""
    attempts = int(info["attempts"]) + int(info.get("prefetch_attempts", 0))
    served, failed = int(info.get("served", 0)), int(info.get("failed", 0))
    _draw_text(image, 8, 26, f"ATTEMPTS {attempts}  SERVED {served}  FAILED {failed}", DIM_TEXT, 2)


def _draw_bar(image: np.ndarray, top: int, label: str, count: int, capacity: int, colour) -> None:
    """A labelled bar ``count / capacity`` filled, 12 px high, ``top`` its first row."""
    left, right, height = 60, 300, 12
    _draw_text(image, 8, top + 1, label, DIM_TEXT, 2)
    _fill_rect(image, left, top, right, top + height, BAR_BACK)
    if capacity > 0:
        filled = left + int(round((right - left) * min(count, capacity) / capacity))
        _fill_rect(image, left, top, filled, top + height, colour)
    _draw_text(image, right + 8, top + 1, f"{count}/{capacity}", TEXT, 2)


# ---------------------------------------------------------------------- rasterisation


def _samples(length: float) -> np.ndarray:
    """Parameters in [0, 1] spaced ``SAMPLE_STEP`` px apart along a curve of ``length`` px."""
    return np.linspace(0.0, 1.0, max(2, int(math.ceil(length / SAMPLE_STEP)) + 1))


@functools.lru_cache(maxsize=32)
def _disc_offsets(radius: float) -> np.ndarray:
    """Pixel offsets ``(dy, dx)`` of a filled disc, ``(K, 2)``; radius 0 is one pixel."""
    reach = int(math.ceil(radius))
    dy, dx = np.mgrid[-reach : reach + 1, -reach : reach + 1]
    inside = dy**2 + dx**2 <= (radius + 0.5) ** 2
    return np.stack([dy[inside], dx[inside]], axis=1)


def _stamp(image: np.ndarray, points: np.ndarray, colours: Any, radius: float) -> None:
    """Paint a filled disc of ``radius`` px at each ``(x, y)`` of ``points`` ((P, 2));
    ``colours`` is one RGB triple or one per point ((P, 3)). Later points paint over."""
    offsets = _disc_offsets(float(radius))
    centres = np.rint(points).astype(np.int64)
    y = centres[:, 1:2] + offsets[None, :, 0]
    x = centres[:, 0:1] + offsets[None, :, 1]
    inside = (y >= 0) & (y < image.shape[0]) & (x >= 0) & (x < image.shape[1])
    colours = np.asarray(colours, dtype=np.uint8)
    if colours.ndim == 1:
        image[y[inside], x[inside]] = colours
    else:
        image[y[inside], x[inside]] = np.broadcast_to(colours[:, None, :], (*y.shape, 3))[inside]


def _fill_rect(image: np.ndarray, x0: int, y0: int, x1: int, y1: int, colour) -> None:
    """Paint pixels ``x0 <= x < x1``, ``y0 <= y < y1`` (clipped to the image)."""
    image[max(y0, 0) : max(y1, 0), max(x0, 0) : max(x1, 0)] = colour


#: A 3x5 pixel font for the labels: each glyph is five rows of three bits.
_FONT = {
    "0": ("111", "101", "101", "101", "111"),
    "1": ("010", "110", "010", "010", "111"),
    "2": ("111", "001", "111", "100", "111"),
    "3": ("111", "001", "111", "001", "111"),
    "4": ("101", "101", "111", "001", "001"),
    "5": ("111", "100", "111", "001", "111"),
    "6": ("111", "100", "111", "101", "111"),
    "7": ("111", "001", "010", "010", "010"),
    "8": ("111", "101", "111", "101", "111"),
    "9": ("111", "101", "111", "001", "111"),
    "/": ("001", "001", "010", "100", "100"),
    " ": ("000", "000", "000", "000", "000"),
    "A": ("010", "101", "111", "101", "101"),
    "C": ("011", "100", "100", "100", "011"),
    "D": ("110", "101", "101", "101", "110"),
    "E": ("111", "100", "110", "100", "111"),
    "F": ("111", "100", "110", "100", "100"),
    "H": ("101", "101", "111", "101", "101"),
    "I": ("111", "010", "010", "010", "111"),
    "L": ("100", "100", "100", "100", "111"),
    "M": ("101", "111", "111", "101", "101"),
    "N": ("110", "101", "101", "101", "101"),
    "O": ("010", "101", "101", "101", "010"),
    "P": ("110", "101", "110", "100", "100"),
    "Q": ("010", "101", "101", "110", "011"),
    "R": ("110", "101", "110", "101", "101"),
    "S": ("011", "100", "010", "001", "110"),
    "T": ("111", "010", "010", "010", "010"),
    "U": ("101", "101", "101", "101", "111"),
    "V": ("101", "101", "101", "101", "010"),
}
_GLYPHS = {
    char: np.array([[bit == "1" for bit in line] for line in rows], dtype=bool)
    for char, rows in _FONT.items()
}


def _text_width(text: str, scale: int) -> int:
    """Width [px] of ``text`` drawn at ``scale``: 3 columns and 1 of spacing per glyph."""
    return max(0, 4 * scale * len(text) - scale)


def _draw_text(image: np.ndarray, x: int, y: int, text: str, colour, scale: int) -> None:
    """Draw ``text`` (digits, ``/``, space and the letters of ``_FONT``) from its top-left
    corner ``(x, y)``, each font pixel ``scale`` px square; other characters are skipped."""
    for char in text:
        glyph = _GLYPHS.get(char.upper())
        if glyph is not None:
            mask = np.kron(glyph, np.ones((scale, scale), dtype=bool))
            patch = image[y : y + mask.shape[0], x : x + mask.shape[1]]
            patch[mask[: patch.shape[0], : patch.shape[1]]] = colour
        x += 4 * scale
