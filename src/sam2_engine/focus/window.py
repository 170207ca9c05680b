"""A square window of a frame: geometry, cropping to the model input, pasting masks back.

Coordinates follow the engine: points are ``(x, y) = (column, row)`` frame pixels, masks
and frames are (row, col). A window is ``rows top .. top + side - 1`` and ``columns
left .. left + side - 1``; it may reach outside the frame, where the frame's edge pixels
are repeated (the same padding is used when training).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

__all__ = ["Window", "encode_windows"]


@dataclass(frozen=True)
class Window:
    """A square region of a frame, in frame pixels.

    Attributes
    ----------
    top, left : int
        Frame row and column of the window's first pixel (may be negative).
    side : int
        Side in frame pixels (>= 1).
    """

    top: int
    left: int
    side: int

    def __post_init__(self) -> None:
        if self.side < 1:
            raise ValueError(f"a window needs a side of at least 1 pixel, got {self.side}")

    @classmethod
    def centred(
        cls, cy: float, cx: float, side: float, frame_hw: tuple[int, int], step: int = 1
    ) -> Window:
        """The window of ``side`` centred on (row ``cy``, col ``cx``).

        It is shifted to lie inside the frame where the frame is larger than the window
        (and centred on the frame where it is smaller); with ``step`` > 1 its corner is
        snapped to multiples of ``step`` (a lattice: windows of one object then differ by
        whole model tokens).
        """
        side_i = max(1, round(side))
        h, w = frame_hw

        def start(centre: float, extent: int) -> int:
            s = round(centre - side_i / 2)
            if extent >= side_i:
                s = min(max(s, 0), extent - side_i)
            else:
                s = (extent - side_i) // 2
            if step > 1:
                s = int(np.floor(s / step + 0.5)) * step
            return s

        return cls(start(cy, h), start(cx, w), side_i)

    @property
    def centre(self) -> tuple[float, float]:
        """(row, col) of the window's centre."""
        return self.top + self.side / 2, self.left + self.side / 2

    def bbox_xyxy(self) -> tuple[int, int, int, int]:
        """``(x0, y0, x1, y1)`` frame pixels, end exclusive."""
        return self.left, self.top, self.left + self.side, self.top + self.side

    def shifted(self, rows: int, cols: int) -> Window:
        return Window(self.top + rows, self.left + cols, self.side)

    # ------------------------------------------------------------------ pixels
    def crop(self, rgb: torch.Tensor, size: int) -> torch.Tensor:
        """The window of an (H, W, 3) float frame as a (3, size, size) tensor.

        Pixels outside the frame repeat the nearest edge pixel; the crop is resampled to
        ``size`` with antialiased bilinear interpolation.
        """
        h, w = rgb.shape[:2]
        y0, x0 = max(self.top, 0), max(self.left, 0)
        y1, x1 = min(self.top + self.side, h), min(self.left + self.side, w)
        if y1 <= y0 or x1 <= x0:  # entirely outside: the nearest edge pixel everywhere
            cy = min(max(self.top, 0), h - 1)
            cx = min(max(self.left, 0), w - 1)
            y0, y1, x0, x1 = cy, cy + 1, cx, cx + 1
        patch = rgb[y0:y1, x0:x1].permute(2, 0, 1)[None].float()
        pad = (
            x0 - self.left,
            self.left + self.side - x1,
            y0 - self.top,
            self.top + self.side - y1,
        )
        if any(pad):
            patch = F.pad(patch, pad, mode="replicate")
        if patch.shape[-1] != size:
            patch = F.interpolate(
                patch, size=(size, size), mode="bilinear", align_corners=False, antialias=True
            )
        return patch[0]

    def to_input(self, xy: np.ndarray, size: int) -> np.ndarray:
        """(..., 2) frame (x, y) pixels -> the same points in model-input pixels."""
        xy = np.asarray(xy, dtype=np.float64)
        return (xy - np.array([self.left, self.top])) * (size / self.side)

    def cuts(self, bounds: tuple[int, int, int, int], n: int, frame_hw: tuple[int, int]) -> bool:
        """Whether a mask of this window, with bounds ``(r0, r1, c0, c1)`` (exclusive
        ends) in an (n, n) grid over the window, touches a window edge that is not also
        the frame's edge (the object may go on outside the window)."""
        r0, r1, c0, c1 = bounds
        h, w = frame_hw
        return bool(
            (r0 == 0 and self.top > 0)
            or (c0 == 0 and self.left > 0)
            or (r1 == n and self.top + self.side < h)
            or (c1 == n and self.left + self.side < w)
        )

    def contains(self, xy: np.ndarray, margin: float = 0.0) -> np.ndarray:
        """(...,) whether frame points (x, y) lie inside the window (shrunk by ``margin``)."""
        xy = np.asarray(xy, dtype=np.float64)
        lo = np.array([self.left, self.top]) + margin
        hi = lo + self.side - 2 * margin
        return ((xy >= lo) & (xy <= hi)).all(axis=-1)

    def inside(self, frame_hw: tuple[int, int]) -> tuple[slice, slice]:
        """(rows, cols) frame slices of the part of the window inside the frame (may be
        empty)."""
        h, w = frame_hw
        y0, x0 = max(self.top, 0), max(self.left, 0)
        y1, x1 = max(min(self.top + self.side, h), y0), max(min(self.left + self.side, w), x0)
        return slice(y0, y1), slice(x0, x1)

    def paste_inside(self, logits: torch.Tensor, frame_hw: tuple[int, int]) -> torch.Tensor:
        """(K, h, w) window logits -> (K, r, c) logits of the window's part inside the frame
        (:meth:`inside`); equal to ``paste(logits, frame_hw)[:, *inside(frame_hw)]``
        without allocating a frame."""
        up = F.interpolate(
            logits[:, None].float(),
            size=(self.side, self.side),
            mode="bilinear",
            align_corners=False,
        )[:, 0]
        rows, cols = self.inside(frame_hw)
        return up[
            :,
            rows.start - self.top : rows.stop - self.top,
            cols.start - self.left : cols.stop - self.left,
        ]

    def paste(
        self, logits: torch.Tensor, frame_hw: tuple[int, int], fill: float = -1024.0
    ) -> torch.Tensor:
        """(K, h, w) window logits -> (K, H, W) frame logits (``fill`` outside the window)."""
        h, w = frame_hw
        up = F.interpolate(
            logits[:, None].float(),
            size=(self.side, self.side),
            mode="bilinear",
            align_corners=False,
        )[:, 0]
        out = torch.full((logits.shape[0], h, w), fill, dtype=up.dtype, device=up.device)
        y0, x0 = max(self.top, 0), max(self.left, 0)
        y1, x1 = min(self.top + self.side, h), min(self.left + self.side, w)
        if y1 > y0 and x1 > x0:
            rows = slice(y0 - self.top, y1 - self.top)
            out[:, y0:y1, x0:x1] = up[:, rows, x0 - self.left : x1 - self.left]
        return out


def encode_windows(model: Any, rgb: np.ndarray, windows: list[Window]) -> Any:
    """Encode each window of a frame in one batched call (the one windowed encoder of
    the image and video predictors).

    Parameters
    ----------
    model : SAM2Model
        The model (its ``image_size``, ``device``, ``precision``, ``encode_image``).
    rgb : numpy.ndarray, shape (H, W, 3)
        The frame, RGB in [0, 1].
    windows : list of Window
        The windows to encode, in batch order.

    Returns
    -------
    ImageFeatures
        Batch ``i`` is window ``i``.
    """
    from sam2_engine.device import inference_context
    from sam2_engine.imaging.frames import imagenet_normalize

    size = model.image_size
    batch = torch.stack([w.crop(rgb, size) for w in windows]).to(model.device)
    with inference_context(model.device, model.precision):
        return model.encode_image(imagenet_normalize(batch))
