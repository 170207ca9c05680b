"""Tracking seeds: where the tracker starts, read from a file and checked against the movie.

A seed is ``auto`` (the tracker finds the cells), a label image of frame 0 (one label per
cell to track) or a CSV of points (one click per cell, in any frame). :func:`read_seeds`
reads them and checks them against the (T, H, W) shape of the movie, raising
``ValueError`` with a message that names the file, the line and what does not match.
"""

from __future__ import annotations

import csv
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np

from sam2_cells.ctc import TIFF_SUFFIXES

__all__ = ["Seeds", "read_seeds"]


@dataclass(frozen=True, eq=False)  # arrays inside: compare fields, not instances
class Seeds:
    """Where the tracker starts: automatically, from a label image or from points.

    Attributes
    ----------
    kind : {"auto", "labels", "points"}
        ``"auto"``: the tracker finds the cells itself.
    labels : numpy.ndarray or None
        (H, W) integer labels of the cells to track in frame 0 (``kind == "labels"``).
    points : numpy.ndarray or None
        (N, 3) ``float64`` rows ``[t, y, x]``: one click per cell (``kind == "points"``).
    source : pathlib.Path or None
        The file they were read from.
    """

    kind: Literal["auto", "labels", "points"]
    labels: np.ndarray | None = None
    points: np.ndarray | None = None
    source: Path | None = None

    def __repr__(self) -> str:
        if self.kind == "labels" and self.labels is not None:
            n = len(np.unique(self.labels[self.labels != 0]))
            return f"Seeds(labels: {n} cells in frame 0, from {self.source})"
        if self.kind == "points" and self.points is not None:
            return f"Seeds(points: {len(self.points)}, from {self.source})"
        return "Seeds(auto)"


_T_NAMES = ("t", "frame", "time", "axis-0")
_Y_NAMES = ("y", "row")
_X_NAMES = ("x", "col", "column")


def _csv_columns(header: list[str], path: Path) -> tuple[int | None, int, int]:
    names = [h.strip().lower() for h in header]
    if names and all(n.startswith("axis-") or n == "index" for n in names):  # napari export
        axes = [i for i, n in enumerate(names) if n.startswith("axis-")]
        if len(axes) == 3:
            return axes[0], axes[1], axes[2]
        if len(axes) == 2:
            return None, axes[0], axes[1]
        raise ValueError(f"{path}: the points have {len(axes)} axes; expected t,y,x or y,x")

    def find(options: tuple[str, ...]) -> int | None:
        hits = [i for i, n in enumerate(names) if n in options]
        return hits[0] if hits else None

    t, y, x = find(_T_NAMES), find(_Y_NAMES), find(_X_NAMES)
    if y is None or x is None:
        raise ValueError(
            f"{path}: the header {', '.join(header)} has no y and x columns; expected "
            "columns t,y,x (or y,x for points in frame 0)"
        )
    return t, y, x


def _read_points(path: Path, shape: tuple[int, int, int]) -> np.ndarray:
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            rows = [r for r in csv.reader(f) if r and any(c.strip() for c in r)]
    except (OSError, UnicodeDecodeError) as exc:
        raise ValueError(f"{path}: cannot read it as a CSV text file ({exc})") from exc
    if not rows:
        raise ValueError(f"{path}: the CSV file holds no points")

    def numeric(row: list[str]) -> bool:
        try:
            [float(c) for c in row]
        except ValueError:
            return False
        return True

    first_line = 1
    if numeric(rows[0]):
        width = len(rows[0])
        if width not in (2, 3):
            raise ValueError(
                f"{path}: rows have {width} values without a header; expected t,y,x or y,x"
            )
        cols: tuple[int | None, int, int] = (0, 1, 2) if width == 3 else (None, 0, 1)
    else:
        cols = _csv_columns(rows[0], path)
        rows, first_line = rows[1:], 2
    if not rows:
        raise ValueError(f"{path}: the CSV file has a header but no points")
    t_col, y_col, x_col = cols
    points = []
    for line, row in enumerate(rows, start=first_line):
        try:
            t = float(row[t_col]) if t_col is not None else 0.0
            points.append((t, float(row[y_col]), float(row[x_col])))
        except (ValueError, IndexError):
            raise ValueError(f"{path}, line {line}: {','.join(row)!r} is not a point") from None
    pts = np.asarray(points, dtype=np.float64)
    n_frames, height, width = shape
    bad = []
    for line, (t, y, x) in enumerate(pts, start=first_line):
        if not np.isfinite([t, y, x]).all():
            bad.append(f"line {line}: not a finite number")
        elif abs(t - round(t)) > 1e-6 or not 0 <= round(t) < n_frames:
            bad.append(f"line {line}: frame t={t:g} is not a frame 0..{n_frames - 1}")
        elif not (0 <= y <= height - 1 and 0 <= x <= width - 1):
            bad.append(f"line {line}: (y={y:g}, x={x:g}) is outside the {height}x{width} frame")
    if bad:
        more = f" (+{len(bad) - 5} more)" if len(bad) > 5 else ""
        raise ValueError(
            f"{path}: points outside the stack of shape {shape}: " + "; ".join(bad[:5]) + more
        )
    pts[:, 0] = np.round(pts[:, 0])
    _refuse_overlapping(pts, path, first_line)
    return pts


def _refuse_overlapping(pts: np.ndarray, path: Path, first_line: int) -> None:
    """Two clicks on the same pixel of the same frame are one cell clicked twice."""
    seen: dict[tuple[int, int, int], int] = {}
    for line, (t, y, x) in enumerate(pts, start=first_line):
        key = (round(t), round(y), round(x))
        if key in seen:
            raise ValueError(
                f"{path}: lines {seen[key]} and {line} are the same point (t={key[0]}, "
                f"y={key[1]}, x={key[2]}): seeds overlap; give one click per cell"
            )
        seen[key] = line


def _read_seed_labels(path: Path, shape: tuple[int, int, int]) -> np.ndarray:
    import tifffile

    try:
        labels = tifffile.imread(path)
    except Exception as exc:
        raise ValueError(f"{path}: cannot read it as a TIFF file ({exc})") from exc
    if labels.ndim > 2:
        labels = labels.reshape([n for n in labels.shape if n != 1] or [1])
    if labels.ndim != 2:
        raise ValueError(f"{path}: seed labels must be one (H, W) frame, not shape {labels.shape}")
    if labels.shape != shape[1:]:
        raise ValueError(
            f"{path}: seed labels are {labels.shape[0]}x{labels.shape[1]} but the stack's "
            f"frames are {shape[1]}x{shape[2]}"
        )
    if not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(f"{path}: seed labels must be integers, not {labels.dtype}")
    if labels.min() < 0:
        raise ValueError(f"{path}: seed labels must not be negative")
    if not labels.any():
        raise ValueError(f"{path}: the seed label image is empty (all 0): no cell to track")
    return labels


def read_seeds(spec: str | os.PathLike[str] | None, shape: Sequence[int]) -> Seeds:
    """Read and check the seeds of a tracking run against the stack they belong to.

    Parameters
    ----------
    spec : path, ``"auto"`` or None
        ``"auto"``/None, a TIFF of (H, W) labels of the cells in frame 0, or a CSV of
        points with a header naming columns ``t,y,x`` (or ``y,x``: frame 0; ``frame``,
        ``row``, ``col`` and napari's ``axis-0,axis-1,axis-2`` export work too) or no header
        and 3 (t,y,x) or 2 (y,x) values per row.
    shape : (int, int, int)
        (T, H, W) of the stack.

    Returns
    -------
    Seeds

    Raises
    ------
    FileNotFoundError
        If the file does not exist.
    ValueError
        If it is unreadable, of the wrong kind, or does not match the stack (label image of
        another frame shape, points outside the frames or the field of view).
    """
    if spec is None or str(spec).strip().lower() == "auto":
        return Seeds("auto")
    path = Path(spec)
    t, h, w = (int(n) for n in shape)
    if not path.exists():
        raise FileNotFoundError(f"seed file {path} does not exist")
    if path.is_dir():
        raise ValueError(f"{path}: seeds must be a file (labels .tif or points .csv)")
    suffix = path.suffix.lower()
    if suffix in TIFF_SUFFIXES:
        return Seeds("labels", labels=_read_seed_labels(path, (t, h, w)), source=path)
    if suffix in (".csv", ".txt"):
        return Seeds("points", points=_read_points(path, (t, h, w)), source=path)
    raise ValueError(
        f"{path}: seeds must be 'auto', a label image (.tif) or a CSV of points (.csv)"
    )
