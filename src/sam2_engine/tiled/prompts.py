"""Clicks and boxes on a tiled image: decode on the tile that holds the prompt best,
complete a mask cut by a tile border on the neighbouring tiles.

Tiles are encoded once each, at full resolution (a tile of the model's input side is
seen 1:1), eagerly for a few tiles and on demand otherwise (a click on a 16,384 px slide
encodes the one to four tiles it needs, not 441); their features are kept in an LRU and,
with an :class:`~sam2_engine.embedding_cache.EmbeddingCache`, on disk.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import TYPE_CHECKING

import numpy as np
import torch
import torch.nn.functional as F

from sam2_engine.device import inference_context
from sam2_engine.image_prediction import ImagePrediction, MaskCrop
from sam2_engine.imaging.frames import imagenet_normalize
from sam2_engine.imaging.image_input import detach_float
from sam2_engine.imaging.lazy_plane import LazyPlane
from sam2_engine.model.image_encoder import ImageFeatures
from sam2_engine.model.sam2 import LOGIT_CLAMP, SAM2Model
from sam2_engine.prompts import corners_first
from sam2_engine.tiled.grid import TileGrid
from sam2_engine.tiled.merge import RegionMask, _overlap, _union

if TYPE_CHECKING:
    from sam2_engine.embedding_cache import EmbeddingCache

__all__ = ["TiledPrompts"]


class TiledPrompts:
    """Tile features and decoding for one image (see module docstring).

    Parameters
    ----------
    model
        A SAM 2 model made for whole images.
    plane
        The image (read one tile at a time).
    grid
        Its tiles.
    cache_size
        Tiles whose features are kept in memory.
    cache
        Optional on-disk embedding cache (keyed by each tile's encoder input).
    max_tiles
        Tiles one mask may be completed over.
    """

    def __init__(
        self,
        model: SAM2Model,
        plane: LazyPlane,
        grid: TileGrid,
        cache_size: int = 32,
        cache: EmbeddingCache | None = None,
        max_tiles: int = 9,
    ) -> None:
        self.model, self.plane, self.grid = model, plane, grid
        self.cache_size, self.max_tiles = int(cache_size), int(max_tiles)
        self._cache = cache
        self._features: OrderedDict[int, ImageFeatures] = OrderedDict()
        self._lock = threading.RLock()  # a click and a background embedding may meet

    # ------------------------------------------------------------------ features
    def is_encoded(self, index: int) -> bool:
        """Whether tile ``index``'s features are in memory now."""
        with self._lock:
            return index in self._features

    def encode(self, index: int) -> ImageFeatures:
        """Features of tile ``index`` (encoded once; LRU in memory). Thread-safe: a tile
        asked for by two threads is encoded once."""
        with self._lock:
            if index in self._features:
                self._features.move_to_end(index)
                return self._features[index]
            feats = self._encode(index)
            self._features[index] = feats
            while len(self._features) > self.cache_size:
                self._features.popitem(last=False)
            return feats

    def _encode(self, index: int) -> ImageFeatures:
        """Float32 features of tile ``index`` (the disk cache's if it holds them)."""
        tile, size = self.grid.tiles[index], self.model.image_size
        rgb = self.plane[tile.slices].permute(2, 0, 1)[None].float()
        if rgb.shape[-2:] != (size, size):
            rgb = F.interpolate(
                rgb, size=(size, size), mode="bilinear", align_corners=False, antialias=True
            )
        x = imagenet_normalize(rgb.to(self.model.device))
        with inference_context(self.model.device, self.model.precision):
            if self._cache is not None:
                return self._cache.encode(self.model, x)
            return detach_float(self.model.encode_image(x))

    # ------------------------------------------------------------------ decoding
    def _decode(
        self, index: int, points: np.ndarray, labels: np.ndarray, multimask: bool
    ) -> tuple[torch.Tensor, torch.Tensor, float, torch.Tensor]:
        """Decode (x, y) image points on a tile -> (masks (M, h, w) logits at tile
        resolution, iou (M,), object score, low-res logits (M, S/4, S/4))."""
        tile, size, dev = self.grid.tiles[index], self.model.image_size, self.model.device
        scale = np.array([size / tile.width, size / tile.height])
        xy = (points - np.array([tile.left, tile.top])) * scale
        feats = self.encode(index)
        pts = torch.as_tensor(xy[None], dtype=torch.float32, device=dev)
        lab = torch.as_tensor(labels[None], dtype=torch.int32, device=dev)
        with inference_context(dev, self.model.precision):
            out = self.model.decode(
                self.model.embed_without_memory(feats), feats.high_res, pts, lab, None, multimask
            )
        low = out.masks[0].float()
        up = F.interpolate(
            low[:, None], size=(tile.height, tile.width), mode="bilinear", align_corners=False
        )[:, 0]
        return up, out.iou[0].float(), float(out.object_score[0, 0]), low

    def predict(
        self,
        points: np.ndarray | None,
        labels: np.ndarray | None,
        box: np.ndarray | None,
        multimask: bool,
        threshold: float,
    ) -> ImagePrediction:
        """One prompt set -> masks of the whole object, cropped to their region."""
        pts, lab = corners_first(
            None if points is None else np.asarray(points, float).reshape(-1, 2),
            None if labels is None else np.asarray(labels).reshape(-1),
            box,
        )
        anchor = pts[lab != 0] if (lab != 0).any() else pts
        extent = np.concatenate([anchor.min(0), anchor.max(0)])
        first = self.grid.best_for(extent)
        up, iou, obj, low = self._decode(first, pts, lab.astype(np.int32), multimask)
        tile = self.grid.tiles[first]
        parts = [
            self._complete(
                RegionMask((up[m] > threshold).cpu().numpy(), tile.top, tile.left, cut=True),
                first,
                pts,
                lab,
                threshold,
            )
            for m in range(up.shape[0])
        ]
        top = min(p.top for p in parts)
        left = min(p.left for p in parts)
        bottom = max(p.bottom for p in parts)
        right = max(p.right for p in parts)
        masks = np.zeros((len(parts), bottom - top, right - left), dtype=bool)
        for i, p in enumerate(parts):
            masks[i, p.top - top : p.bottom - top, p.left - left : p.right - left] = p.mask
        crop = MaskCrop(masks, top, left, self.grid.image_hw)
        return ImagePrediction(
            None,
            iou.cpu().numpy(),
            low.clamp(-LOGIT_CLAMP, LOGIT_CLAMP).cpu().numpy(),
            np.float32(obj),
            None,
            crop,
        )

    def _complete(
        self, mask: RegionMask, first: int, pts: np.ndarray, lab: np.ndarray, threshold: float
    ) -> RegionMask:
        """Grow a mask over neighbouring tiles while it touches inner tile edges."""
        done, queue = {first}, [first]
        while queue and len(done) < self.max_tiles:
            index = queue.pop(0)
            for nb in self._touched_neighbours(mask, index):
                if nb in done or len(done) >= self.max_tiles:
                    continue
                done.add(nb)
                seed = self._seed(mask, nb)
                if seed is None:
                    continue
                inside = self._inside(pts, nb) & (lab == 0)  # negative clicks there
                p = np.concatenate([seed[None], pts[inside]])
                lb = np.concatenate([[1], lab[inside]]).astype(np.int32)
                up, _, obj, _ = self._decode(nb, p, lb, multimask=False)
                if obj <= 0:
                    continue
                t = self.grid.tiles[nb]
                found = RegionMask((up[0] > threshold).cpu().numpy(), t.top, t.left)
                if _overlap(found, mask) == 0:
                    continue
                mask = _union(mask, found)
                queue.append(nb)
        return mask.tight() if mask.mask.any() else mask

    def _inside(self, pts: np.ndarray, index: int) -> np.ndarray:
        t = self.grid.tiles[index]
        return (
            (pts[:, 0] >= t.left)
            & (pts[:, 0] < t.left + t.width)
            & (pts[:, 1] >= t.top)
            & (pts[:, 1] < t.top + t.height)
        )

    def _touched_neighbours(self, mask: RegionMask, index: int) -> list[int]:
        """Neighbours of tile ``index`` across the inner edges the mask touches."""
        t = self.grid.tiles[index]
        top, bottom, left, right = self.grid.inner_edges(t)
        m = mask.tight()
        if not m.mask.any():
            return []
        touches = (
            (top and m.top <= t.top),
            (bottom and m.bottom >= t.top + t.height),
            (left and m.left <= t.left),
            (right and m.right >= t.left + t.width),
        )
        if not any(touches):
            return []
        out = []
        for nb in self.grid.neighbours(index):
            n = self.grid.tiles[nb]
            beyond = (
                (touches[0] and n.top < t.top),
                (touches[1] and n.top + n.height > t.top + t.height),
                (touches[2] and n.left < t.left),
                (touches[3] and n.left + n.width > t.left + t.width),
            )
            if any(beyond):
                out.append(nb)
        return out

    def _seed(self, mask: RegionMask, index: int) -> np.ndarray | None:
        """An (x, y) mask pixel inside tile ``index``, away from its edges if possible:
        the positive click that finds the rest of the object there."""
        t = self.grid.tiles[index]
        r0, r1 = max(mask.top, t.top), min(mask.bottom, t.top + t.height)
        c0, c1 = max(mask.left, t.left), min(mask.right, t.left + t.width)
        if r1 <= r0 or c1 <= c0:
            return None
        part = mask.mask[r0 - mask.top : r1 - mask.top, c0 - mask.left : c1 - mask.left]
        rows, cols = np.nonzero(part)
        if rows.size == 0:
            return None
        rows, cols = rows + r0, cols + c0
        cy, cx = t.top + t.height / 2, t.left + t.width / 2
        i = int(np.argmin((rows - cy) ** 2 + (cols - cx) ** 2))
        return np.array([cols[i] + 0.5, rows[i] + 0.5])
