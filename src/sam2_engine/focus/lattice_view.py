"""What the window and tile views of a tracking session share: windows on one token lattice.

Both views segment every object in a window of the frame whose side is a whole number of
model tokens, on a lattice of whole-token steps
(:class:`~sam2_engine.focus.window_view.ObjectWindowView`: a window per object;
:class:`~sam2_engine.tiled.track_view.TiledTrackView`: the tile that holds the object
best). An object's memories were encoded in the window of their frame: before memory
attention they are shifted by whole tokens into the current window
(:func:`shift_map`; what slides in from outside is zero). Masks come back in their
windows and are pasted into the frame on demand
(:meth:`~sam2_engine.video.frame_result.FrameResult.from_windows`).

Coordinates: frame points are (x, y) = (column, row); windows and masks are (row, col).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import torch

from sam2_engine.focus.window import Window
from sam2_engine.focus.window_cache import WindowFeatureCache
from sam2_engine.model.sam2 import SAM2Model
from sam2_engine.prompts import corners_first
from sam2_engine.video.frame_result import FrameResult
from sam2_engine.video.frame_view import FramePrompt, PromptInput
from sam2_engine.video.memory_bank import FrameOutput, ObjectTrack

__all__ = ["AlignedOutput", "LatticeView", "shift_map"]


def shift_map(x: torch.Tensor, rows: int, cols: int) -> torch.Tensor:
    """(..., h, w) map moved by ``rows`` / ``cols`` cells (positive: down / right);
    cells that come in from outside are zero."""
    if rows == 0 and cols == 0:
        return x
    h, w = x.shape[-2:]
    out = torch.zeros_like(x)
    if abs(rows) >= h or abs(cols) >= w:
        return out
    src_r = slice(max(0, -rows), h - max(0, rows))
    dst_r = slice(max(0, rows), h - max(0, -rows))
    src_c = slice(max(0, -cols), w - max(0, cols))
    dst_c = slice(max(0, cols), w - max(0, -cols))
    out[..., dst_r, dst_c] = x[..., src_r, src_c]
    return out


class AlignedOutput:
    """A stored output seen from another window of the same lattice: its memory is
    shifted lazily by whole tokens into ``target``."""

    def __init__(self, out: FrameOutput, target: Window, tokens: int) -> None:
        self._out, self._target, self._tokens = out, target, tokens
        self.obj_ptr = out.obj_ptr

    @property
    def memory(self) -> torch.Tensor | None:
        out, target = self._out, self._target
        if out.memory is None or out.window is None or out.window == target:
            return out.memory
        step = target.side / self._tokens
        rows = round((out.window.top - target.top) / step)
        cols = round((out.window.left - target.left) / step)
        return shift_map(out.memory, rows, cols)


class LatticeView:
    """Prompts, memories and results of a view that segments each object in its own
    lattice window (module docstring). A subclass sets ``model``, ``frame_hw``,
    ``tokens`` (the model's embedding side) and ``_features``, and places new objects
    (:meth:`place`)."""

    model: SAM2Model
    frame_hw: tuple[int, int]
    tokens: int
    _features: WindowFeatureCache

    def place(self, track: ObjectTrack, frame: int, prompt: FramePrompt) -> Window:
        """The window of an object prompted on ``frame`` that has none there yet."""
        raise NotImplementedError

    def prompt_input(self, track: ObjectTrack, frame: int, prompt: FramePrompt) -> PromptInput:
        """The prompt in its window's model-input pixels: the object's earlier window on
        ``frame`` if it has one (a correction), else :meth:`place`'s. A mask is cropped
        and thresholded; a box becomes two corner points ahead of the clicks."""
        earlier = track.output_at(frame)
        window = earlier.window if earlier is not None else None
        if window is None:
            window = self.place(track, frame, prompt)
        size, dev = self.model.image_size, self.model.device
        if prompt.mask is not None:
            mask = torch.as_tensor(np.asarray(prompt.mask, np.float32))[..., None]
            crop = window.crop(mask, size)
            return PromptInput(window, mask=(crop[:1] >= 0.5).float().to(dev))
        pts, lab = corners_first(prompt.points, prompt.labels, prompt.box)
        xy = torch.as_tensor(window.to_input(pts, size), dtype=torch.float32, device=dev)
        return PromptInput(window, xy, torch.as_tensor(lab, device=dev))

    def memories(
        self, track: ObjectTrack, window: Window | None
    ) -> tuple[Mapping[int, FrameOutput], Mapping[int, FrameOutput]]:
        """The object's conditioning and recent outputs, their memories shifted into
        ``window``."""
        assert window is not None
        cond = {f: AlignedOutput(o, window, self.tokens) for f, o in track.cond.items()}
        recent = {f: AlignedOutput(o, window, self.tokens) for f, o in track.recent.items()}
        return cond, recent  # type: ignore[return-value]

    def nbytes(self) -> int:
        """Bytes of the window features kept."""
        return self._features.nbytes()

    def result(
        self, frame: int, ids: list[int], outs: list[FrameOutput], exclusive: bool
    ) -> FrameResult:
        """The frame's result with each object's window (masks pasted on demand; with
        ``exclusive`` each pixel goes to one object)."""
        return FrameResult.from_windows(frame, ids, outs, self.frame_hw, self.tokens * 4, exclusive)
