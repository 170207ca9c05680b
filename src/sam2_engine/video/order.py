"""Which frames a propagation visits, in which order: one rule for the engine and its callers.

A propagation starts at ``start`` (default: the earliest prompted frame, the latest one
for ``"backward"``) and runs in one or two *passes*: ``"forward"`` towards higher frame
indices, ``"backward"`` towards lower ones, ``"both"`` forward from ``start`` and then
backward from ``start - 1``. ``max_frames`` caps each pass. The video session follows
these passes; callers use :func:`propagation_order` to know ahead of time what it will
yield (e.g. for a progress bar) without repeating the rules.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

Direction = Literal["forward", "backward", "both"]
DIRECTIONS: tuple[str, ...] = ("forward", "backward", "both")

__all__ = [
    "DIRECTIONS",
    "Direction",
    "PropagationPass",
    "check_direction",
    "default_start",
    "propagation_order",
    "propagation_passes",
]


@dataclass(frozen=True)
class PropagationPass:
    """One sweep of a propagation: the frames in visiting order and their direction."""

    frames: range
    reverse: bool


def check_direction(direction: str, max_frames: int | None = None) -> None:
    """Raise ``ValueError`` for an unknown direction or a ``max_frames`` below 1."""
    if direction not in DIRECTIONS:
        raise ValueError(f"direction must be 'forward', 'backward' or 'both', got {direction!r}")
    if max_frames is not None and max_frames < 1:
        raise ValueError(f"max_frames must be at least 1, got {max_frames}")


def default_start(prompted_frames: Iterable[int], direction: str) -> int:
    """The first frame when none is given: the earliest prompted frame (latest for
    ``"backward"``).

    Raises
    ------
    ValueError
        If no frame is prompted.
    """
    frames = list(prompted_frames)
    if not frames:
        raise ValueError("no frame holds a prompt; add points, a box or a mask first")
    return max(frames) if direction == "backward" else min(frames)


def propagation_passes(
    num_frames: int, start: int, direction: str, max_frames: int | None = None
) -> list[PropagationPass]:
    """The passes of a propagation from ``start`` (a valid frame index)."""
    check_direction(direction, max_frames)

    def capped(frames: range) -> range:
        return frames if max_frames is None else frames[:max_frames]

    passes = []
    if direction in ("forward", "both"):
        passes.append(PropagationPass(capped(range(start, num_frames)), False))
    if direction == "backward":
        passes.append(PropagationPass(capped(range(start, -1, -1)), True))
    if direction == "both" and start > 0:
        passes.append(PropagationPass(capped(range(start - 1, -1, -1)), True))
    return passes


def propagation_order(
    num_frames: int,
    prompted_frames: Iterable[int],
    start: int | None = None,
    direction: str = "forward",
    max_frames: int | None = None,
) -> list[int]:
    """Every frame a propagation yields, in order (``TrackingSession.propagate`` rules).

    Parameters
    ----------
    num_frames
        Length of the stack.
    prompted_frames
        Frames holding prompts (used only when ``start`` is None).
    start, direction, max_frames
        As in :meth:`sam2_engine.TrackingSession.propagate`.

    Examples
    --------
    >>> propagation_order(6, [2], direction="both", max_frames=2)
    [2, 3, 1, 0]
    """
    first = default_start(prompted_frames, direction) if start is None else int(start)
    passes = propagation_passes(num_frames, first, direction, max_frames)
    return [t for p in passes for t in p.frames]
