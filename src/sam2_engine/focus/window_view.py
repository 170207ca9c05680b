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

import numpy as np

from sam2_engine.focus.image_prompts import WindowedPrompts
from sam2_engine.focus.lattice_view import LatticeView
from sam2_engine.focus.policy import WindowPolicy
from sam2_engine.focus.window import Window
from sam2_engine.focus.window_cache import WindowFeatureCache
from sam2_engine.masks.postprocess import masks_to_boxes
from sam2_engine.model.image_encoder import ImageFeatures
from sam2_engine.model.sam2 import SAM2Model
from sam2_engine.video.frame_view import FrameLoader, FramePrompt
from sam2_engine.video.memory_bank import FrameOutput, ObjectTrack

__all__ = ["ObjectWindowView"]


class ObjectWindowView(LatticeView):
    """One window per object (see module docstring).

    Parameters
    ----------
    model
        The SAM 2 model that tracks the objects.
    policy
        How large each object's window is, from its last mask.
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

    def place(self, track: ObjectTrack, frame: int, prompt: FramePrompt) -> Window:
        """A new object's window, centred on its prompt; sized from it for a new object."""
        points, labels, box, mask = prompt.points, prompt.labels, prompt.box, prompt.mask
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
