"""SAM 2 following the tracked cells: one engine session object per track.

:class:`SessionFollower` is what the tracker asks of SAM 2: start following a cell from
its mask (or a click), stop following it, and move every followed cell to the next frame
at once. It hides the engine session; a test (or another segmenter) can stand in for it
with the same four methods.
"""

from __future__ import annotations

from typing import Any, Protocol

import numpy as np

import sam2_engine as se

__all__ = ["Follower", "SessionFollower"]


class Follower(Protocol):
    """What the tracker needs from whatever follows the cells."""

    def add(self, frame: int, obj_id: int, mask: np.ndarray) -> None: ...

    def remove(self, obj_id: int) -> None: ...

    def click(self, frame: int, obj_id: int, row: float, col: float) -> np.ndarray: ...

    def step(self, frame: int, labels: dict[int, int]) -> tuple[np.ndarray, dict[int, float]]: ...


class SessionFollower:
    """Follow cells with a ``sam2_engine`` tracking session (windowed for window models).

    Parameters
    ----------
    model
        The SAM 2 model.
    source
        The movie as a ``sam2_engine.FrameSource``.
    """

    def __init__(self, model: Any, source: Any) -> None:
        self.session = se.VideoPredictor(model, non_overlapping=True).start(source)

    def add(self, frame: int, obj_id: int, mask: np.ndarray) -> None:
        """Follow ``obj_id`` from ``frame``, where it is ``mask`` ((H, W) bool)."""
        self.session.add_mask(frame, obj_id, mask)

    def remove(self, obj_id: int) -> None:
        self.session.remove_object(obj_id)

    def click(self, frame: int, obj_id: int, row: float, col: float) -> np.ndarray:
        """The (H, W) mask SAM 2 gives a click at (row, col) (nothing is followed)."""
        res = self.session.add_points(frame, obj_id, [[col, row]], [1])
        mask = res.mask_of(obj_id)
        self.session.remove_object(obj_id)
        return mask

    def step(self, frame: int, labels: dict[int, int]) -> tuple[np.ndarray, dict[int, float]]:
        """Move every followed cell to ``frame``.

        Parameters
        ----------
        frame
            The next frame.
        labels
            ``{obj_id: label}`` written for each followed object.

        Returns
        -------
        label_image, presence
            (H, W) int32 labels (each pixel to the surest object) and each object's
            presence logit (> 0: the cell is there).
        """
        result = next(self.session.propagate(start=frame, direction="forward", max_frames=1))
        ids = [labels.get(o, 0) for o in result.obj_ids]
        scores = dict(zip(result.obj_ids, result.object_scores.tolist(), strict=True))
        return result.label_image(ids), scores
