"""The tiled image of an :class:`~sam2_engine.image.ImagePredictor`: cut it into tiles,
embed them, and answer ``predict`` with the predictor's own signature.

:func:`tile_image` builds the :class:`~.prompts.TiledPrompts` of one image (its tile
features kept on disk too when an embedding cache is given); :func:`predict_tiled` checks
the prompts as ``ImagePredictor.predict`` does and decodes each prompt set on the tile
that holds it best; :func:`embed_all_tiles` encodes every tile up front, with progress.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from sam2_engine.image_prediction import ImagePrediction
from sam2_engine.imaging.lazy_plane import LazyPlane
from sam2_engine.model.sam2 import SAM2Model
from sam2_engine.progress import CancelCallback, ProgressCallback
from sam2_engine.prompts import check_boxes, check_points
from sam2_engine.tiled.grid import TileGrid, TilingSettings
from sam2_engine.tiled.prompts import TiledPrompts

if TYPE_CHECKING:
    from sam2_engine.embedding_cache import EmbeddingCache

__all__ = ["embed_all_tiles", "predict_tiled", "tile_image"]


def tile_image(
    model: SAM2Model,
    plane: LazyPlane,
    hw: tuple[int, int],
    tiling: TilingSettings,
    cache: EmbeddingCache | None = None,
) -> TiledPrompts:
    """The tiles of one (H, W) image for ``model`` (nothing is encoded yet).

    Parameters
    ----------
    model
        A whole-image SAM 2 model; its input side sets the tile and halo sizes.
    plane
        The image, read one tile at a time; its intensity range is estimated here, once.
    hw
        (rows, cols) of the image.
    tiling
        Tile and halo settings.
    cache
        Optional on-disk cache of the tile features.
    """
    size = model.image_size
    grid = TileGrid(hw, tiling.tile_side(size), tiling.halo_px(size))
    _ = plane.stats
    return TiledPrompts(model, plane, grid, cache=cache)


def embed_all_tiles(
    tiled: TiledPrompts,
    progress: ProgressCallback | None = None,
    cancel: CancelCallback | None = None,
) -> bool:
    """Encode every tile now; ``progress(done, total)`` after each.

    ``cancel()`` is asked before each tile (e.g. a cancelled background job): True
    stops there. Tiles encoded meanwhile by another thread (a click) are not encoded
    again. Returns whether every tile was encoded.
    """
    total = len(tiled.grid)
    for i in range(total):
        if cancel is not None and cancel():
            return False
        tiled.encode(i)
        if progress is not None:
            progress(i + 1, total)
    return True


def predict_tiled(
    tiled: TiledPrompts,
    points: np.ndarray | Sequence | None,
    labels: np.ndarray | Sequence | None,
    box: np.ndarray | Sequence | None,
    mask_input: Any,
    multimask: bool,
    threshold: float,
) -> ImagePrediction:
    """``ImagePredictor.predict`` on a tiled image (same arguments and result; one
    prediction per prompt set, stacked when ``points`` is (K, N, 2) or ``box`` (K, 4)).

    Raises
    ------
    ValueError
        ``mask_input`` given (not supported on tiles), no prompt, or points without
        labels (and the checks of :func:`~sam2_engine.prompts.check_points`).
    """
    hw = tiled.grid.image_hw
    if mask_input is not None:
        raise ValueError(
            "mask_input is not supported on a tiled image; refine with more clicks, or "
            "pass tiling=TilingSettings('resize') to decode the whole image at once"
        )
    if points is None and box is None:
        raise ValueError("give at least one prompt: points (with labels) or a box")
    if (points is None) != (labels is None):
        raise ValueError("points and labels go together: give both or neither")
    pts = lab = b = None
    if points is not None:
        pts, lab = check_points(points, labels, hw)  # type: ignore[arg-type]
    if box is not None:
        b = check_boxes(box, hw)
    k = max(len(pts) if pts is not None else 1, len(b) if b is not None else 1)
    batched = (points is not None and np.asarray(points).ndim == 3) or (
        box is not None and np.asarray(box).ndim == 2
    )
    parts = [
        tiled.predict(
            None if pts is None else pts[min(i, len(pts) - 1)],
            None if lab is None else lab[min(i, len(lab) - 1)],
            None if b is None else b[min(i, len(b) - 1)],
            multimask,
            threshold,
        )
        for i in range(k)
    ]
    if not batched:
        return parts[0]
    return ImagePrediction(
        np.stack([p.masks for p in parts]),
        np.stack([p.scores for p in parts]),
        np.stack([p.logits for p in parts]),
        np.array([p.object_scores for p in parts], dtype=np.float32),
    )
