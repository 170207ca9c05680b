"""Finding cells no track claims: SAM 2's automatic mask generator on unclaimed pixels.

For a model made for windows the generator prompts square tiles of one side, chosen so
that a typical cell fills ``detection_share`` of a tile (the side is learnt from the cells
already tracked, or probed on the first frame); grid points on pixels that already belong
to a track are skipped, so a frame full of tracked cells costs little. Masks that lie
mostly on claimed pixels, or are too small, are dropped.
"""

from __future__ import annotations

from typing import Any, Protocol

import numpy as np
from scipy import ndimage as ndi

import sam2_engine as se

__all__ = ["CellDetector", "Detector"]

PROBE_SIDES = (48, 96, 192, 384, 768)  # tile sides tried when the cell size is unknown


class CellDetector(Protocol):
    """What the tracker needs from whatever finds new cells."""

    cell_extent: float | None

    def learn_extent(self, labels: np.ndarray) -> None: ...

    def detect(self, frame: int, claimed: np.ndarray | None) -> np.ndarray: ...


class Detector:
    """New-cell detection on one frame (a :class:`CellDetector`).

    Parameters
    ----------
    model
        The SAM 2 model.
    source
        The movie as a ``sam2_engine.FrameSource``.
    share
        Share of a tile a typical cell fills.
    min_area
        Smallest mask kept (pixels).
    max_claimed_overlap
        Largest share of a mask on claimed pixels.
    """

    def __init__(
        self, model: Any, source: Any, share: float, min_area: int, max_claimed_overlap: float
    ) -> None:
        self.model = model
        self.source = source
        self.share = share
        self.min_area = min_area
        self.max_claimed_overlap = max_claimed_overlap
        self.windowed = se.WindowPolicy.from_model(model) is not None
        self.cell_extent: float | None = None  # typical cell extent (pixels), once known

    def learn_extent(self, labels: np.ndarray) -> None:
        """Take the typical cell extent (median box side) from a label image."""
        boxes = [s for s in ndi.find_objects(labels) if s is not None]
        if boxes:
            extents = [max(b[0].stop - b[0].start, b[1].stop - b[1].start) for b in boxes]
            self.cell_extent = float(np.median(extents))

    def _settings(self) -> Any:
        base = se.MaskGeneratorSettings.for_model(self.model)
        if not self.windowed:
            return base
        if self.cell_extent is None:
            sides: tuple[int, ...] = PROBE_SIDES
        else:
            sides = (max(32, round(self.cell_extent / self.share)),)
        floor = 0.0 if base.min_object_score is None else base.min_object_score
        return base.replace(tile_sides=sides, min_object_score=floor)

    def detect(self, frame: int, claimed: np.ndarray | None) -> np.ndarray:
        """(H, W) int32 labels 1..N of new cells on ``frame`` (0: nothing new).

        Parameters
        ----------
        frame
            Frame index in ``source``.
        claimed
            (H, W) bool pixels of existing tracks, or None.
        """
        gen = se.AutomaticMaskGenerator(self.model, self._settings())
        skip = None
        if claimed is not None and claimed.any():
            skip = ndi.binary_dilation(claimed, iterations=2)
        image = self.source.normalized(frame)
        found = gen.generate_labels(image, skip=skip, min_area=self.min_area)
        if self.cell_extent is None and found.any():
            self.learn_extent(found)
        if skip is None:
            return found.astype(np.int32)
        out = np.zeros(found.shape, np.int32)
        n = 0
        for index, box in enumerate(ndi.find_objects(found), start=1):
            if box is None:
                continue
            mask = found[box] == index
            area = int(mask.sum())
            on_claimed = int(claimed[box][mask].sum())  # type: ignore[index]
            if area < self.min_area or on_claimed > self.max_claimed_overlap * area:
                continue
            n += 1
            out[box][mask & (out[box] == 0)] = n
        return out
