"""SAM 2 as the association cue: each detection carried one frame on by SAM 2.

For a pair of frames ``t - 1, t``, every detection of ``t - 1`` whose link is ambiguous
(two or more detections of ``t`` within reach: crowding, a division) becomes a SAM 2
object prompted with its mask, all of them are propagated one frame in one session call
(batched by the engine; each in its own window for window models, so the cost follows the
number of ambiguous cells), and the
propagated masks are compared with the detections of ``t``: the IoU with each, and the
share of each they cover (a mother's propagated mask covers both daughters). The
session is cleared after every pair, so each pair's evidence depends on those two frames
only (a resumed run equals an uninterrupted one). :class:`Sam2Cue` hides the engine; a
test can stand in for it with the same method. Given a ``sam2_engine.EmbeddingCache``,
the session reads the frames' embeddings from disk when the same movie is tracked again
(whole-frame and tiled models; window models encode per object and cache nothing).
"""

from __future__ import annotations

from typing import Any, Protocol

import numpy as np

from sam2_cells.linking import Cue

__all__ = ["ClickSegmenter", "CueSource", "Sam2Cue", "ambiguous", "overlap_cue"]


class CueSource(Protocol):
    """What gives the linker evidence between two consecutive frames."""

    def cue(self, movie: Any, t: int, before: np.ndarray, now: np.ndarray) -> Cue: ...


def overlap_cue(carried: np.ndarray, now: np.ndarray) -> Cue:
    """The :class:`~sam2_cells.linking.Cue` of ``carried`` (labels of frame ``t - 1``'s
    detections moved to ``t``, ids 1..N) against ``now`` (detections of ``t``)."""
    carried = np.asarray(carried, np.int64)
    now = np.asarray(now, np.int64)
    n_a, n_b = int(carried.max(initial=0)), int(now.max(initial=0))
    cue = Cue()
    if n_a == 0 or n_b == 0:
        return cue
    both = (carried > 0) & (now > 0)
    pair = carried[both] * (n_b + 1) + now[both]
    keys, inter = np.unique(pair, return_counts=True)
    area_a = np.bincount(carried.ravel(), minlength=n_a + 1)
    area_b = np.bincount(now.ravel(), minlength=n_b + 1)
    for key, k in zip(keys.tolist(), inter.tolist(), strict=True):
        a, b = divmod(key, n_b + 1)
        union = area_a[a] + area_b[b] - k
        cue.overlap[(a - 1, b - 1)] = k / union if union else 0.0
        cue.cover[(a - 1, b - 1)] = k / area_b[b] if area_b[b] else 0.0
    return cue


def ambiguous(before: np.ndarray, now: np.ndarray, reach: float) -> list[int]:
    """The ids of the detections of ``before`` (H, W labels 1..N of frame ``t - 1``) that
    have two or more detections of ``now`` (frame ``t``) within ``reach`` cell diameters
    of their centroid: the links distance alone may get wrong (crowding, divisions). The
    diameter is the median equivalent-disk diameter of ``before``'s detections."""
    from sam2_cells.linking import FrameCells

    a, b = FrameCells.from_labels(before), FrameCells.from_labels(now)
    if len(a) == 0 or len(b) == 0:
        return []
    present = a.areas > 0
    d = 2.0 * np.sqrt(np.median(a.areas[present]) / np.pi) if present.any() else 1.0
    gap = np.linalg.norm(a.centroids[:, None, :] - b.centroids[None, :, :], axis=-1)
    near = (gap <= reach * d).sum(axis=1)
    return [i + 1 for i in np.flatnonzero(present & (near >= 2)).tolist()]


class Sam2Cue:
    """Detections of frame ``t - 1`` propagated to ``t`` by a SAM 2 session.

    Parameters
    ----------
    model
        A ``sam2_engine.SAM2Model``.
    reach
        With ``ambiguous_only``, how far (cell diameters) a detection of ``t`` may lie
        to count as a candidate link (the linker's largest move).
    ambiguous_only
        Carry only the detections with two or more candidates (:func:`ambiguous`): the
        cost follows the number of ambiguous cells, not of all cells (for window models
        every object costs one window). The others get no evidence and are linked by
        distance alone.
    embedding_cache
        A ``sam2_engine.EmbeddingCache`` for the session's frames (None: none).
    """

    def __init__(
        self,
        model: Any,
        reach: float = 1.0,
        ambiguous_only: bool = True,
        embedding_cache: Any = None,
    ) -> None:
        self.model = model
        self.reach = reach
        self.ambiguous_only = ambiguous_only
        self.embedding_cache = embedding_cache
        self.carried = 0  # objects propagated so far (for reports)
        self._session: tuple[int, Any] | None = None

    def _start(self, movie: Any) -> Any:
        import sam2_engine as se

        if self._session is None or self._session[0] != id(movie):
            predictor = se.VideoPredictor(
                self.model, non_overlapping=True, embedding_cache=self.embedding_cache
            )
            session = predictor.start(se.FrameSource(movie))
            self._session = (id(movie), session)
        return self._session[1]

    def cue(self, movie: Any, t: int, before: np.ndarray, now: np.ndarray) -> Cue:
        """Evidence from ``t - 1`` (detections ``before``) to ``t`` (``now``)."""
        n = int(np.max(before, initial=0))
        if n == 0 or not np.any(now):
            return Cue()
        ids = ambiguous(before, now, self.reach) if self.ambiguous_only else range(1, n + 1)
        masks = [(i, before == i) for i in ids]
        masks = [(i, m) for i, m in masks if m.any()]
        if not masks:
            return Cue()
        session = self._start(movie)
        session.reset()
        for i, mask in masks:
            session.add_mask(t - 1, i, mask)
        self.carried += len(masks)
        result = next(session.propagate(start=t, direction="forward", max_frames=1))
        carried = result.label_image(list(result.obj_ids))
        session.reset()
        return overlap_cue(carried, now)


class ClickSegmenter:
    """The mask SAM 2 gives one click on a frame (point seeds: a cell no detector found).

    Parameters
    ----------
    model
        A ``sam2_engine.SAM2Model``.
    embedding_cache
        A ``sam2_engine.EmbeddingCache`` for the frames (None: none).
    """

    def __init__(self, model: Any, embedding_cache: Any = None) -> None:
        self._cue = Sam2Cue(model, embedding_cache=embedding_cache)

    def mask(self, movie: Any, t: int, row: float, col: float) -> np.ndarray:
        """(H, W) bool mask of the cell clicked at (row, col) on frame ``t``."""
        session = self._cue._start(movie)
        session.reset()
        res = session.add_points(t, 1, [[col, row]], [1])
        mask = np.asarray(res.mask_of(1), bool)
        session.reset()
        return mask
