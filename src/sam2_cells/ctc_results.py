"""Cell Tracking Challenge (CTC) tracking results and ground truth: write, read, validate.

A result folder (what a tracker hands in, ``01_RES/``)::

    mask000.tif ... maskNNN.tif   uint16 tracked labels of every frame, 0 background
    res_track.txt                 one "L B E P" line per track (see TrackRecord)

A ground-truth folder (``01_GT/``) has ``TRA/man_trackNNN.tif`` + ``TRA/man_track.txt`` and
``SEG/man_segNNN.tif`` (possibly for some frames only). ``NNN`` has 3 digits, more when
there are over 1000 frames.

Writers read the labels one frame at a time (numpy, dask, zarr, ...), check the lineage
against them on the way (:func:`~sam2_cells.lineage_checks.lineage_problems`) and write into a
temporary sibling folder that is renamed into place only when everything is written and
valid: a failure or Ctrl-C leaves nothing half-written and an earlier result intact.
Readers return a lazy label stack (one TIFF read per frame indexed).
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from sam2_cells._frames import LazyStack, frame_at, stack_shape
from sam2_cells.ctc import numbered_files
from sam2_cells.label_io import read_tiff_frames
from sam2_cells.lineage import LineageError, TrackRecord
from sam2_cells.lineage_checks import lineage_problems
from sam2_engine import ProgressCallback, atomic_dir

__all__ = [
    "UINT16_MAX",
    "check_results_target",
    "ctc_validate",
    "frame_digits",
    "read_ctc_ground_truth",
    "read_ctc_results",
    "read_track_file",
    "write_ctc_ground_truth",
    "write_ctc_results",
    "write_track_file",
]

UINT16_MAX = int(np.iinfo(np.uint16).max)


def frame_digits(n_frames: int) -> int:
    """Digits of the frame numbers in CTC file names: 3, or more for over 1000 frames."""
    return max(3, len(str(max(int(n_frames) - 1, 0))))


def write_track_file(tracks: Iterable[TrackRecord], path: str | os.PathLike[str]) -> Path:
    """Write ``L B E P`` lines (``res_track.txt`` / ``man_track.txt``), sorted by label."""
    path = Path(path)
    path.write_text("".join(TrackRecord(*map(int, r)).to_ctc() + "\n" for r in sorted(tracks)))
    return path


def read_track_file(path: str | os.PathLike[str]) -> list[TrackRecord]:
    """Read a CTC track file into :class:`TrackRecord` s (in file order).

    Raises
    ------
    FileNotFoundError
        If the file is missing.
    ValueError
        For a line that is not four integers ``L B E P``.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"track file {path} does not exist")
    records = []
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        if not line.strip():
            continue
        fields = line.split()
        try:
            values = [int(v) for v in fields]
        except ValueError:
            values = []
        if len(values) != 4:
            raise ValueError(f"{path}, line {number}: {line!r} is not four integers 'L B E P'")
        records.append(TrackRecord(*values))
    return records


def _uint16_frame(labels: Any, t: int, shape: tuple[int, int]) -> np.ndarray:
    frame = frame_at(labels, t)
    if frame.shape != shape:
        raise ValueError(f"frame {t} of the labels has shape {frame.shape}, not {shape}")
    if not (np.issubdtype(frame.dtype, np.integer) or frame.dtype == np.bool_):
        raise ValueError(f"labels must be integers, not {frame.dtype}")
    if frame.size:
        low, high = int(frame.min()), int(frame.max())
        if low < 0:
            raise ValueError(f"frame {t} holds negative labels (down to {low})")
        if high > UINT16_MAX:
            raise ValueError(
                f"frame {t} holds label {high}, above {UINT16_MAX}: the CTC format stores "
                "labels as uint16; relabel the tracks to 1..65535 (at most 65535 tracks)"
            )
    return frame.astype(np.uint16, copy=False)


def _write_frames(
    labels: Any,
    folder: Path,
    prefix: str,
    progress: ProgressCallback | None,
    frames: Sequence[int] | None = None,
) -> dict[int, list[int]]:
    """Write ``<prefix>NNN.tif`` frames; return label -> frames present (for checks)."""
    import tifffile

    n_frames, height, width = stack_shape(labels, "label stack")
    digits = frame_digits(n_frames)
    presence: dict[int, list[int]] = {}
    todo = range(n_frames) if frames is None else frames
    for done, t in enumerate(todo, start=1):
        frame = _uint16_frame(labels, t, (height, width))
        tifffile.imwrite(folder / f"{prefix}{t:0{digits}d}.tif", frame)
        for label in np.unique(frame):
            if label:
                presence.setdefault(int(label), []).append(t)
        if progress is not None:
            progress(done, len(todo))
    return presence


def _check_target(out_dir: Path, allowed: Callable[[Path], bool], what: str) -> None:
    if out_dir.exists() and not out_dir.is_dir():
        raise NotADirectoryError(f"{out_dir} exists and is a file; give a folder for the {what}")
    if out_dir.is_dir():
        others = sorted(p.name for p in out_dir.iterdir() if not allowed(p))
        if others:
            listed = ", ".join(others[:5]) + (" ..." if len(others) > 5 else "")
            raise FileExistsError(
                f"{out_dir} holds files that are not {what} ({listed}); it is not replaced. "
                "Choose a new or empty folder"
            )


def _is_result_file(p: Path) -> bool:
    name = p.name.lower()
    return p.is_file() and (
        name == "res_track.txt" or (name.startswith("mask") and name.endswith((".tif", ".tiff")))
    )


def check_results_target(out_dir: str | os.PathLike[str]) -> Path:
    """Check, before any work, that :func:`write_ctc_results` may write ``out_dir``.

    It may if ``out_dir`` does not exist yet (its first existing ancestor must be a
    writable folder), is an empty folder or holds only CTC result files (then it is
    replaced).

    Raises
    ------
    NotADirectoryError
        If ``out_dir`` (or an ancestor) is a file.
    FileExistsError
        If it is a folder with other files in it.
    PermissionError
        If the folder it would be created in is not writable.
    """
    out_dir = Path(out_dir)
    _check_target(out_dir, _is_result_file, "CTC results")
    parent = out_dir.absolute().parent
    while not parent.exists():
        parent = parent.parent
    if not parent.is_dir():
        raise NotADirectoryError(f"{parent} is a file; {out_dir} cannot be created in it")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise PermissionError(f"{parent} is not writable; cannot create {out_dir.name} in it")
    return out_dir


def write_ctc_results(
    labels: Any,
    tracks: Iterable[TrackRecord],
    out_dir: str | os.PathLike[str],
    *,
    progress: ProgressCallback | None = None,
) -> Path:
    """Write tracking results in the CTC format (``maskNNN.tif`` + ``res_track.txt``).

    Parameters
    ----------
    labels : array-like
        (T, H, W) tracked integer labels (numpy, dask, zarr, memory map, ...), read one
        frame at a time, never loaded whole. Labels must be 0..65535.
    tracks : iterable of TrackRecord
        The lineage; it must follow the CTC rules for these labels (use
        :func:`~sam2_cells.ctc_relabel.make_ctc_valid` to split tracks with gaps).
    out_dir : path
        The result folder (e.g. ``01_RES``). Written as a temporary sibling and renamed
        into place when complete; an existing result folder is replaced only then. A folder
        that holds anything other than CTC result files is never replaced.
    progress : callable, optional
        ``progress(done, total)`` after each frame.

    Returns
    -------
    pathlib.Path
        ``out_dir``.

    Raises
    ------
    ValueError
        If the labels are not (T, H, W) integers in 0..65535.
    LineageError
        If the tracks do not match the labels or break the CTC rules.
    NotADirectoryError, FileExistsError
        If ``out_dir`` is a file, or a folder with other files in it.
    """
    out_dir = Path(out_dir)
    tracks = [TrackRecord(*map(int, r)) for r in tracks]
    n_frames = stack_shape(labels, "label stack")[0]
    _check_target(out_dir, _is_result_file, "CTC results")
    with atomic_dir(out_dir) as tmp:
        presence = _write_frames(labels, tmp, "mask", progress)
        problems = lineage_problems(
            tracks, presence={k: np.asarray(v) for k, v in presence.items()}, n_frames=n_frames
        )
        if problems:
            raise LineageError(problems, "tracking result")
        write_track_file(tracks, tmp / "res_track.txt")
    return out_dir


def write_ctc_ground_truth(
    labels: Any,
    tracks: Iterable[TrackRecord],
    gt_dir: str | os.PathLike[str],
    *,
    seg: Any = None,
    seg_frames: Sequence[int] | None = None,
    progress: ProgressCallback | None = None,
) -> Path:
    """Write a CTC ground-truth folder: ``TRA/`` (tracking) and ``SEG/`` (segmentation).

    Parameters
    ----------
    labels : array-like
        (T, H, W) tracked labels, 0..65535, read frame by frame (``man_trackNNN.tif``).
    tracks : iterable of TrackRecord
        Their lineage (``man_track.txt``), checked as in :func:`write_ctc_results`.
    gt_dir : path
        The folder (e.g. ``01_GT``), written atomically like a result folder.
    seg : array-like, optional
        (T, H, W) segmentation ground truth (``man_segNNN.tif``); ``labels`` by default.
    seg_frames : sequence of int, optional
        Frames that have segmentation ground truth; all by default.
    progress : callable, optional
        ``progress(done, total)`` after each TRA frame.

    Returns
    -------
    pathlib.Path
        ``gt_dir``.
    """
    gt_dir = Path(gt_dir)
    tracks = [TrackRecord(*map(int, r)) for r in tracks]
    n_frames = stack_shape(labels, "label stack")[0]
    seg = labels if seg is None else seg
    if stack_shape(seg, "segmentation")[0] != n_frames:
        raise ValueError("the segmentation and the tracking labels have different frame counts")

    def allowed(p: Path) -> bool:
        return p.is_dir() and p.name in ("TRA", "SEG")

    _check_target(gt_dir, allowed, "CTC ground truth")
    with atomic_dir(gt_dir) as tmp:
        (tmp / "TRA").mkdir()
        (tmp / "SEG").mkdir()
        presence = _write_frames(labels, tmp / "TRA", "man_track", progress)
        problems = lineage_problems(
            tracks, presence={k: np.asarray(v) for k, v in presence.items()}, n_frames=n_frames
        )
        if problems:
            raise LineageError(problems, "ground truth")
        write_track_file(tracks, tmp / "TRA" / "man_track.txt")
        _write_frames(seg, tmp / "SEG", "man_seg", None, seg_frames)
    return gt_dir


def _numbered_stack(folder: Path, prefix: str, what: str) -> LazyStack:
    if not folder.is_dir():
        raise FileNotFoundError(f"{folder} is not a folder")
    files = numbered_files(folder, prefix)
    if not files:
        raise ValueError(f"{folder} holds no {prefix}NNN.tif files ({what})")
    numbers = sorted(files)
    if numbers != list(range(len(numbers))):
        missing = sorted(set(range(numbers[-1] + 1)) - set(numbers))
        raise ValueError(
            f"{folder}: {prefix}NNN.tif must be numbered 0..T-1; missing frame(s) "
            f"{', '.join(map(str, missing[:8]))}"
        )
    return read_tiff_frames([files[n] for n in numbers], what)


def read_ctc_results(res_dir: str | os.PathLike[str]) -> tuple[LazyStack, list[TrackRecord]]:
    """Read a CTC result folder.

    Parameters
    ----------
    res_dir : path
        Folder with ``maskNNN.tif`` and ``res_track.txt``.

    Returns
    -------
    labels : LazyStack
        (T, H, W) ``uint16`` labels; a frame is read from disk when indexed.
    tracks : list of TrackRecord
        The lines of ``res_track.txt``, in file order.

    Raises
    ------
    FileNotFoundError, ValueError
        If the folder, the masks or the track file are missing or malformed.
    """
    res_dir = Path(res_dir)
    labels = _numbered_stack(res_dir, "mask", f"result masks in {res_dir}")
    return labels, read_track_file(res_dir / "res_track.txt")


def read_ctc_ground_truth(
    gt_dir: str | os.PathLike[str],
) -> tuple[LazyStack, list[TrackRecord]]:
    """Read the tracking ground truth (``TRA``) of a CTC ground-truth folder.

    Parameters
    ----------
    gt_dir : path
        The ``NN_GT`` folder, or its ``TRA`` folder.

    Returns
    -------
    labels : LazyStack
        (T, H, W) ``man_trackNNN.tif`` labels, read frame by frame.
    tracks : list of TrackRecord
        The lines of ``man_track.txt``.
    """
    gt_dir = Path(gt_dir)
    tra = gt_dir if gt_dir.name == "TRA" else gt_dir / "TRA"
    labels = _numbered_stack(tra, "man_track", f"tracking ground truth in {tra}")
    return labels, read_track_file(tra / "man_track.txt")


def ctc_validate(res_dir: str | os.PathLike[str]) -> list[str]:
    """Check a result folder with the CTC organisers' validator and with our own rules.

    Runs ``ctc_metrics``' ``valid`` (py-ctcmetrics, the organisers' implementation) on the
    folder's masks and track file, and :func:`~sam2_cells.lineage_checks.lineage_problems`, which
    says in words what is wrong.

    Parameters
    ----------
    res_dir : path
        A CTC result folder.

    Returns
    -------
    list of str
        Problems found; empty when both validators accept the folder.
    """
    from ctc_metrics.metrics import valid
    from ctc_metrics.utils.filesystem import parse_masks, read_tracking_file

    res_dir = Path(res_dir)
    labels, tracks = read_ctc_results(res_dir)
    problems = lineage_problems(tracks, labels)
    masks = parse_masks(str(res_dir))
    ctc_tracks = read_tracking_file(str(res_dir / "res_track.txt"))
    if ctc_tracks is None or len(ctc_tracks) == 0:
        return [*problems, "ctc_metrics: the track file lists no track"]
    present = [np.unique(frame_at(labels, t)) for t in range(len(labels))]
    present = [p[p != 0] for p in present]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            ok = bool(valid(masks, ctc_tracks, present))
        except Exception as exc:  # the validator asserts on some malformed inputs
            ok, caught = False, [*caught, warnings.WarningMessage(str(exc), UserWarning, "", 0)]
    if not ok:
        detail = "; ".join(str(w.message) for w in caught[:5]) or "no detail given"
        problems.append(f"ctc_metrics: the result is not valid ({detail})")
    return problems
