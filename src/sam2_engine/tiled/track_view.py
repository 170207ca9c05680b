"""Tracking on frames much larger than a whole-image model's input, on full-resolution tiles.

An official SAM 2 model squashes a 4,096 px frame into its 1,024 px input: a 20 px cell
becomes 5 px. Here such a frame is covered by overlapping tiles of the model's input
side (:class:`~sam2_engine.tiled.grid.TilingSettings`: pixels seen 1:1), and every object
is tracked, frame after frame, on the tile that holds it best: the one where its box
(from its mask on the previous frame) lies farthest from the tile's inner edges. With a
halo of ``h`` pixels an object up to ``2 h`` across is whole in that tile, however it
moves; one larger than that, cut in every tile, gets a window of the same side centred
on it instead. Tiles and windows lie on one lattice of whole model tokens, so that the
memories of an object encoded in one tile are shifted by whole tokens into the next
(:func:`~sam2_engine.focus.lattice_view.shift_map`, as window mode does).

Why tiles rather than one window per object (window mode): objects in the same tile
share one encoder pass per frame (a field of 200 cells on 25 tiles costs at most 25
encodings a frame, not 200), and a tile's input does not depend on where the objects
are, so its features can be kept in the on-disk embedding cache and computed ahead.
Masks come back at full resolution (each object's low-resolution logits are upsampled to
its tile, 4x, as for a 1,024 px frame) through :class:`~sam2_engine.video.frame_result.FrameResult`.

Coordinates: frame points are (x, y) = (column, row); windows and masks are (row, col).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np
import torch

from sam2_engine.device import inference_context
from sam2_engine.focus.lattice_view import LatticeView
from sam2_engine.focus.window import Window
from sam2_engine.focus.window_cache import WindowFeatureCache
from sam2_engine.imaging.frames import imagenet_normalize
from sam2_engine.imaging.lazy_plane import LazyPlane
from sam2_engine.masks.postprocess import masks_to_boxes
from sam2_engine.model.image_encoder import ImageFeatures
from sam2_engine.model.sam2 import SAM2Model
from sam2_engine.tiled.grid import TilingSettings
from sam2_engine.video.frame_view import FramePrompt
from sam2_engine.video.memory_bank import FrameOutput, ObjectTrack

if TYPE_CHECKING:
    from sam2_engine.embedding_cache import EmbeddingCache

__all__ = ["TiledTrackView", "lattice_starts"]

PlaneLoader = Callable[[int], LazyPlane]  # frame -> the frame, read region by region


def lattice_starts(length: int, side: int, overlap: int, step: int) -> list[int]:
    """Tile starts along one axis: multiples of ``step``, neighbours overlapping by at
    least ``overlap`` pixels, the last tile reaching the end (it may overhang the frame
    by less than ``step`` pixels, which are padded with the edge pixels).

    Examples
    --------
    >>> lattice_starts(300, 128, 32, 16)
    [0, 96, 176]
    """
    if length <= side:
        return [0]
    last = -(-(length - side) // step) * step
    n = int(np.ceil(last / (side - overlap))) + 1
    while True:  # snapping to the lattice may widen a gap: add a tile until none is
        starts = sorted({round(float(v) / step) * step for v in np.linspace(0, last, n)})
        if max(np.diff(starts), default=0) <= side - overlap:
            return starts
        n += 1


class TiledTrackView(LatticeView):
    """Each object on the tile that holds it best (see module docstring).

    Parameters
    ----------
    model
        A whole-image SAM 2 model.
    frame_hw
        (H, W) of the frames.
    plane
        ``plane(frame)``: the frame as a :class:`LazyPlane` (tiles read only their pixels).
    tiling
        Tile side and halo.
    cache
        Optional on-disk embedding cache (keyed by each tile's encoder input).
    cache_frames
        Frames whose tiles' features are kept in memory (each frame keeps every tile
        its objects used; like the whole-frame view's ``feature_cache_size``).
    """

    windowed = False
    tiled = True

    def __init__(
        self,
        model: SAM2Model,
        frame_hw: tuple[int, int],
        plane: PlaneLoader,
        tiling: TilingSettings,
        cache: EmbeddingCache | None = None,
        cache_frames: int = 2,
    ) -> None:
        self.model, self.frame_hw = model, (int(frame_hw[0]), int(frame_hw[1]))
        self.tokens = model.embedding_size
        self.side = tiling.tile_side(model.image_size)
        self.halo = tiling.halo_px(model.image_size)
        self.step = max(1, self.side // self.tokens)
        rows = lattice_starts(self.frame_hw[0], self.side, 2 * self.halo, self.step)
        cols = lattice_starts(self.frame_hw[1], self.side, 2 * self.halo, self.step)
        #: the tiles, as windows of the frame
        self.tiles = [Window(r, c, self.side) for r in rows for c in cols]
        self._plane, self._cache = plane, cache
        self._features = WindowFeatureCache(
            model, 0, max_images=cache_frames, encode=self._encode_tiles
        )
        self._planes: OrderedDict[int, LazyPlane] = OrderedDict()

    # ------------------------------------------------------------------ windows
    def inner_edges(self, w: Window) -> tuple[bool, bool, bool, bool]:
        """(top, bottom, left, right): whether each edge of ``w`` lies inside the frame."""
        h, wd = self.frame_hw
        return w.top > 0, w.top + w.side < h, w.left > 0, w.left + w.side < wd

    def margin(self, w: Window, box: np.ndarray) -> float:
        """Distance from a box ``(x0, y0, x1, y1)`` to the nearest inner edge of ``w``
        (negative when the box crosses it; inf when ``w`` has no inner edge)."""
        x0, y0, x1, y1 = (float(v) for v in box)
        top, bottom, left, right = self.inner_edges(w)
        return min(
            y0 - w.top if top else np.inf,
            w.top + w.side - y1 if bottom else np.inf,
            x0 - w.left if left else np.inf,
            w.left + w.side - x1 if right else np.inf,
        )

    def window_for(self, box: np.ndarray) -> Window:
        """The window for an object with box ``(x0, y0, x1, y1)`` (frame pixels): the tile
        where it lies farthest from an inner edge; if it is cut in every tile (larger
        than the halo), a window of the tile side centred on it, on the same lattice."""
        margins = [self.margin(t, box) for t in self.tiles]
        best = int(np.argmax(margins))
        if margins[best] >= min(self.step, self.halo // 4):  # a token of context
            return self.tiles[best]
        x0, y0, x1, y1 = (float(v) for v in box)
        return Window.centred((y0 + y1) / 2, (x0 + x1) / 2, self.side, self.frame_hw, self.step)

    def place(self, track: ObjectTrack, frame: int, prompt: FramePrompt) -> Window:
        """The tile that holds the prompted object best (for clicks, found by decoding
        them once on the tile that holds the clicks best)."""
        return self.window_for(self._prompt_box(frame, prompt))

    def _prompt_box(self, frame: int, prompt: FramePrompt) -> np.ndarray:
        """(x0, y0, x1, y1) of the prompted object as far as the prompt tells."""
        points, labels, box, mask = prompt.points, prompt.labels, prompt.box, prompt.mask
        if mask is not None:
            if not np.any(mask):
                raise ValueError("the mask prompt is empty; give a mask with object pixels")
            return masks_to_boxes(np.asarray(mask), inclusive=False).astype(np.float64)
        if box is not None:
            return np.asarray(box, dtype=np.float64).reshape(4)
        assert points is not None and labels is not None
        positive = points[labels > 0] if (labels > 0).any() else points
        spot = np.concatenate([positive.min(0), positive.max(0)])
        return self._probe_box(frame, self.window_for(spot), points, labels, spot)

    def _probe_box(
        self,
        frame: int,
        window: Window,
        points: np.ndarray,
        labels: np.ndarray,
        fallback: np.ndarray,
    ) -> np.ndarray:
        """Decode clicks once (as an initial frame is decoded) to learn the object's box."""
        size, dev = self.model.image_size, self.model.device
        xy = torch.as_tensor(window.to_input(points, size), dtype=torch.float32, device=dev)
        lab = torch.as_tensor(labels, dtype=torch.int32, device=dev)
        multimask = self.model.use_multimask(True, len(labels))
        with inference_context(dev, self.model.precision):
            feats = self.features(frame, [window])
            out = self.model.decode(
                self.model.embed_without_memory(feats),
                feats.high_res,
                xy[None],
                lab[None],
                None,
                multimask,
            )
            head = self.model.heads(out)
        if float(head.object_score[0, 0]) <= 0:
            return fallback
        found = self._mask_box(head.logits[0], window)
        if found is None:
            return fallback
        return np.concatenate(
            [np.minimum(found[:2], fallback[:2]), np.maximum(found[2:], fallback[2:])]
        )

    @staticmethod
    def _mask_box(logits: torch.Tensor, window: Window) -> np.ndarray | None:
        """(x0, y0, x1, y1) frame box of (1, h, w) window logits > 0, or None if empty."""
        mask = (logits[0] > 0).cpu().numpy()
        if not mask.any():
            return None
        scale = window.side / mask.shape[0]
        corner = np.array([window.left, window.top, window.left, window.top])
        return corner + masks_to_boxes(mask, inclusive=False) * scale

    def tracking_window(self, track: ObjectTrack, frame: int, reverse: bool) -> Window:
        """The object's tile on ``frame``: the one that holds best the object's box on the
        frame before it in tracking direction together with where that box moves if the
        object keeps its last step's velocity (its last tile while it is absent)."""
        step = 1 if reverse else -1
        last = _nearest_output(track, frame, reverse)
        assert last is not None and last.window is not None
        box = self._output_box(last)
        if box is None:
            return last.window
        before = (
            track.output_at(frame + 2 * step) if 0 <= frame + 2 * step < track.num_frames else None
        )
        earlier = self._output_box(before) if before is not None else None
        if earlier is not None and track.output_at(frame + step) is last:
            ahead = box + (box - earlier)
            box = np.concatenate([np.minimum(box[:2], ahead[:2]), np.maximum(box[2:], ahead[2:])])
        return self.window_for(box)

    def _output_box(self, out: FrameOutput) -> np.ndarray | None:
        """Frame box of an output's mask, or None (no logits, absent or empty)."""
        if out.logits is None or out.window is None or float(out.object_score.max()) <= 0:
            return None
        return self._mask_box(out.logits, out.window)

    # ------------------------------------------------------------------ features
    def plane(self, frame: int) -> LazyPlane:
        """The frame, read region by region (the last two are kept)."""
        if frame not in self._planes:
            self._planes[frame] = self._plane(frame)
            while len(self._planes) > 2:
                self._planes.popitem(last=False)
        return self._planes[frame]

    def tile_input(self, frame: int, window: Window) -> torch.Tensor:
        """(1, 3, S, S) encoder input of ``window`` on ``frame`` (only its pixels read;
        beyond the frame the edge pixels repeat)."""
        rows, cols = window.inside(self.frame_hw)
        region = self.plane(frame)[rows, cols]
        local = window.shifted(-rows.start, -cols.start)
        x = local.crop(region, self.model.image_size)[None].to(self.model.device)
        return imagenet_normalize(x)

    def features(self, frame: int, windows: list[Window | None]) -> ImageFeatures:
        """Features of each object's tile on ``frame`` (batch in object order; a tile
        shared by several objects is encoded once; the tiles of the last
        ``cache_frames`` frames are kept)."""
        return self._features.get(frame, windows, lambda: frame)

    def _encode_tiles(self, frame: int, windows: list[Window | None]) -> ImageFeatures:
        """Encode tiles of ``frame`` one by one (each through the on-disk cache)."""
        feats = []
        for w in windows:
            assert w is not None
            x = self.tile_input(frame, w)
            feats.append(
                self._cache.encode(self.model, x)
                if self._cache is not None
                else self.model.encode_image(x)
            )
        return ImageFeatures.concat(feats)


def _nearest_output(track: ObjectTrack, frame: int, reverse: bool) -> FrameOutput | None:
    """The object's output nearest before ``frame`` in tracking direction, else its
    output on the nearest frame that has one."""
    step = 1 if reverse else -1
    for t in range(frame + step, -1 if step < 0 else track.num_frames, step):
        out = track.output_at(t)
        if out is not None and out.window is not None:
            return out
    frames = sorted((*track.cond, *track.recent, *track.pending), key=lambda f: abs(f - frame))
    for f in frames:
        out = track.output_at(f)
        if out is not None and out.window is not None:
            return out
    return None
