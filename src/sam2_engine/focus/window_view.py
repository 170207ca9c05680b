"""A tracking session that looks at every object through its own window.

Each tracked object gets a window side once, from its first prompt (the object fills
``object_fraction`` of it; the side is a multiple of the model's token grid). On every
frame its window is centred on where the object was on the previous frame, snapped to a
lattice of whole tokens. Memories of earlier frames were encoded in other windows of the
same lattice: before memory attention they are shifted by whole tokens so that they line
up with the current window (what slides in from outside is zero). The object therefore
stays near the middle of its window however far it moves, and the cost of a frame follows
the number of objects, not the frame size.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import torch

from sam2_engine.focus.image_prompts import WindowedPrompts
from sam2_engine.focus.policy import WindowPolicy
from sam2_engine.focus.window import Window
from sam2_engine.focus.window_cache import WindowFeatureCache
from sam2_engine.masks.postprocess import masks_to_boxes
from sam2_engine.model.image_encoder import ImageFeatures
from sam2_engine.model.sam2 import SAM2Model
from sam2_engine.prompts import corners_first
from sam2_engine.video.frame_result import FrameResult
from sam2_engine.video.frame_view import FrameLoader, PromptInput
from sam2_engine.video.memory_bank import FrameOutput, ObjectTrack

__all__ = ["ObjectWindowView", "shift_map"]


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


class _Aligned:
    """A stored output seen from another window of the object's lattice (lazy shift)."""

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


class ObjectWindowView:
    """One window per object (see module docstring).

    Parameters
    ----------
    model
        The SAM 2 model.
    policy
        Window sizes.
    frame_hw
        (H, W) of the frames.
    load
        Reads a frame's RGB.
    cache_size
        Windows whose features are kept (per session).
    """

    windowed = True

    def __init__(
        self,
        model: SAM2Model,
        policy: WindowPolicy,
        frame_hw: tuple[int, int],
        load: FrameLoader,
        cache_size: int = 256,
    ) -> None:
        self.model = model
        self.policy = policy
        self.frame_hw = frame_hw
        self.tokens = model.embedding_size
        self._load = load
        self._features = WindowFeatureCache(model, max(8, cache_size))
        self._probe = WindowedPrompts(model, policy, cache_size=8)
        self._probe_frame: int | None = None

    # ------------------------------------------------------------------ windows
    def side_for(self, extent: float) -> int:
        """The policy's side for an object of ``extent`` pixels, a multiple of the grid."""
        side = self.policy.side_for(extent)
        return int(-(-side // self.tokens) * self.tokens)

    def window_at(self, cy: float, cx: float, side: int) -> Window:
        """The lattice window of ``side`` around (row, col)."""
        return Window.centred(cy, cx, side, self.frame_hw, step=max(1, side // self.tokens))

    def prompt_input(
        self,
        track: ObjectTrack,
        frame: int,
        points: np.ndarray | None,
        labels: np.ndarray | None,
        box: np.ndarray | None,
        mask: np.ndarray | None,
    ) -> PromptInput:
        """The prompt in its window: the frame's earlier window of the object if it has
        one (a correction), else one placed (and, for a new object, sized) from it."""
        earlier = track.output_at(frame)
        window = earlier.window if earlier is not None else None
        if window is None:
            window = self._place(track, frame, points, labels, box, mask)
        size, dev = self.model.image_size, self.model.device
        if mask is not None:
            crop = window.crop(torch.as_tensor(np.asarray(mask, np.float32))[..., None], size)
            return PromptInput(window, mask=(crop[:1] >= 0.5).float().to(dev))
        pts, lab = corners_first(points, labels, box)
        xy = torch.as_tensor(window.to_input(pts, size), dtype=torch.float32, device=dev)
        return PromptInput(window, xy, torch.as_tensor(lab, device=dev))

    def _place(
        self,
        track: ObjectTrack,
        frame: int,
        points: np.ndarray | None,
        labels: np.ndarray | None,
        box: np.ndarray | None,
        mask: np.ndarray | None,
    ) -> Window:
        if mask is not None:
            if not np.any(mask):
                raise ValueError("the mask prompt is empty; give a mask with object pixels")
            x0, y0, x1, y1 = masks_to_boxes(np.asarray(mask), inclusive=False).tolist()
        elif box is not None:
            x0, y0, x1, y1 = (float(v) for v in np.asarray(box).reshape(4))
        else:
            assert points is not None and labels is not None
            if track.window_side is not None:
                positive = points[labels > 0]
                cx, cy = (positive if len(positive) else points).mean(axis=0)
                return self.window_at(cy, cx, track.window_side)
            located = self._locate(frame, points, labels)
            cy, cx = located.centre
            if track.window_side is None:
                track.window_side = self.side_for(located.side * self.policy.object_fraction)
            return self.window_at(cy, cx, track.window_side)
        if track.window_side is None:
            track.window_side = self.side_for(max(x1 - x0, y1 - y0, 1))
        return self.window_at((y0 + y1) / 2, (x0 + x1) / 2, track.window_side)

    def _locate(self, frame: int, points: np.ndarray, labels: np.ndarray) -> Window:
        if self._probe_frame != frame:
            self._probe.set_images([self._load(frame)])
            self._probe_frame = frame
        return self._probe.locate(0, points, labels)

    def tracking_window(self, track: ObjectTrack, frame: int, reverse: bool) -> Window:
        """The object's window on ``frame``: centred where it was on the nearest frame
        before it in tracking direction (or on its nearest prompted frame)."""
        out = self._nearest_output(track, frame, reverse)
        assert out is not None and out.window is not None and track.window_side is not None
        cy, cx = out.window.centre
        if out.logits is not None and float(out.object_score.max()) > 0:
            mask = (out.logits[0] > 0).cpu().numpy()
            if mask.any():
                rows, cols = np.nonzero(mask)
                scale = out.window.side / mask.shape[0]
                cy = out.window.top + (rows.mean() + 0.5) * scale
                cx = out.window.left + (cols.mean() + 0.5) * scale
        return self.window_at(cy, cx, track.window_side)

    @staticmethod
    def _nearest_output(track: ObjectTrack, frame: int, reverse: bool) -> FrameOutput | None:
        step = 1 if reverse else -1
        for t in range(frame + step, -1 if step < 0 else track.num_frames, step):
            out = track.output_at(t)
            if out is not None and out.window is not None:
                return out
        frames = sorted(
            (f for f in (*track.cond, *track.recent) if track.output_at(f).window is not None),
            key=lambda f: abs(f - frame),
        )
        return track.output_at(frames[0]) if frames else None

    # ------------------------------------------------------------------ features
    def features(self, frame: int, windows: list[Window | None]) -> ImageFeatures:
        """Features of each object's window on ``frame`` (batch in window order)."""
        return self._features.get(frame, windows, lambda: self._load(frame))

    def memories(
        self, track: ObjectTrack, window: Window | None
    ) -> tuple[Mapping[int, FrameOutput], Mapping[int, FrameOutput]]:
        """The object's outputs, their memories shifted into ``window``."""
        assert window is not None
        cond = {f: _Aligned(o, window, self.tokens) for f, o in track.cond.items()}
        recent = {f: _Aligned(o, window, self.tokens) for f, o in track.recent.items()}
        return cond, recent  # type: ignore[return-value]

    def nbytes(self) -> int:
        return self._features.nbytes()

    def result(
        self, frame: int, ids: list[int], outs: list[FrameOutput], exclusive: bool
    ) -> FrameResult:
        """The frame's result with each object's window (masks pasted on demand)."""
        side = self.tokens * 4
        if not outs:
            z = np.zeros(0, dtype=np.float32)
            return FrameResult(
                frame,
                [],
                np.zeros((0, *self.frame_hw), bool),
                z,
                z,
                np.zeros((0, side, side), np.float32),
            )
        return FrameResult(
            frame,
            ids,
            None,
            torch.cat([o.iou for o in outs]).cpu().numpy(),
            torch.cat([o.object_score for o in outs]).cpu().numpy(),
            torch.stack([o.logits[0] for o in outs]).float().cpu().numpy(),  # type: ignore[index]
            windows=[o.window for o in outs],  # type: ignore[misc]
            frame_hw=self.frame_hw,
            exclusive=exclusive,
        )
