"""The one place where napari coordinates become engine coordinates.

napari (and this plugin's state) use **(row, col)** image-data pixels, pixel centres at
integers. The engine, like SAM, takes **(x, y) = (col, row)** pixels of the original
image and shifts them to pixel centres itself, so a click on the centre of pixel
(row=r, col=c) becomes the engine point (x=c, y=r). Boxes become ``(x0, y0, x1, y1)``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from napari_sam2.core.state import PlanePrompts, PointPrompt


def rc_to_xy(rc: np.ndarray | Sequence[Sequence[float]]) -> np.ndarray:
    """(N, 2) (row, col) napari pixels -> (N, 2) (x, y) engine pixels.

    Examples
    --------
    >>> rc_to_xy([[10, 20]]).tolist()
    [[20.0, 10.0]]
    """
    arr = np.asarray(rc, dtype=np.float64).reshape(-1, 2)
    return arr[:, ::-1].copy()


def xy_to_rc(xy: np.ndarray | Sequence[Sequence[float]]) -> np.ndarray:
    """(N, 2) (x, y) engine pixels -> (N, 2) (row, col) napari pixels."""
    arr = np.asarray(xy, dtype=np.float64).reshape(-1, 2)
    return arr[:, ::-1].copy()


def box_rc_to_xyxy(box: Sequence[float]) -> np.ndarray:
    """Corners ``(row0, col0, row1, col1)`` in any order -> ``(x0, y0, x1, y1)``.

    Examples
    --------
    >>> box_rc_to_xyxy((30, 5, 10, 25)).tolist()
    [5.0, 10.0, 25.0, 30.0]
    """
    r0, c0, r1, c1 = (float(v) for v in box)
    return np.array([min(c0, c1), min(r0, r1), max(c0, c1), max(r0, r1)])


def prompts_to_engine(
    prompts: PlanePrompts,
) -> tuple[np.ndarray | None, np.ndarray | None, np.ndarray | None]:
    """A plane's clicks and box as engine arguments.

    Returns
    -------
    points, labels, box
        (N, 2) (x, y) float points and (N,) int labels (1 positive, 0 negative), or
        None without clicks; ``(x0, y0, x1, y1)`` or None without a box.
    """
    points = labels = None
    if prompts.points:
        points = rc_to_xy([(p.row, p.col) for p in prompts.points])
        labels = np.array([1 if p.positive else 0 for p in prompts.points], dtype=np.int32)
    box = None if prompts.box is None else box_rc_to_xyxy(prompts.box)
    return points, labels, box


def points_from_rc(
    rc: np.ndarray | Sequence[Sequence[float]], positive: Sequence[bool] | None = None
) -> list[PointPrompt]:
    """(N, 2) (row, col) coordinates (and optional polarities) as :class:`PointPrompt`."""
    arr = np.asarray(rc, dtype=np.float64).reshape(-1, 2)
    pos = [True] * len(arr) if positive is None else [bool(p) for p in positive]
    if len(pos) != len(arr):
        raise ValueError(f"got {len(arr)} points but {len(pos)} polarities")
    return [PointPrompt(float(r), float(c), p) for (r, c), p in zip(arr, pos, strict=True)]
