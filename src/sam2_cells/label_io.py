"""Read and write (time, row, col) stacks: TIFF, zarr, folders of TIFF frames.

Readers are lazy: an uncompressed TIFF is memory-mapped, a compressed one and a zarr store
are read chunk by chunk, a folder of frames one file per frame, so a movie larger than
memory can be opened. Writers write one frame at a time into a temporary sibling and
rename it into place, so a failure leaves nothing half-written. Every problem with an input
raises ``ValueError`` (``FileNotFoundError`` for missing paths) with a message that names
the file and what is wrong with it.

Supported layouts
-----------------
* ``movie.tif`` / ``.tiff``: one series of shape (T, H, W); singleton axes (an ImageJ
  channel or z of size 1) are dropped.
* ``movie.zarr`` (or any zarr v2/v3 store): an array of shape (T, H, W), or a group holding
  one array or an OME-Zarr ``"0"`` level; singleton axes after time are dropped
  (OME-Zarr (T, 1, 1, H, W)).
* a folder of numbered TIFF frames (H, W), e.g. the CTC ``01/t000.tif ...``.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np

from sam2_cells._frames import LazyStack, frame_at, stack_shape
from sam2_cells.ctc import TIFF_SUFFIXES
from sam2_engine import ProgressCallback, atomic_dir, atomic_file

__all__ = [
    "IN_MEMORY_BYTES",
    "new_label_stack",
    "read_image_stack",
    "read_label_stack",
    "read_tiff_frames",
    "write_label_stack",
]

_ZARR_MARKERS = ("zarr.json", ".zarray", ".zgroup")
IN_MEMORY_BYTES = 1 << 30  # label stacks larger than this go to a zarr array on disk
LABELS_DTYPE = np.int32
_NUMBER = re.compile(r"(\d+)\D*$")


def new_label_stack(
    shape: tuple[int, ...],
    *,
    plane_axes: int = 2,
    in_memory_bytes: int = IN_MEMORY_BYTES,
) -> Any:
    """Zeros for a writable label stack: numpy, or an on-disk zarr array when big.

    The one "numpy or zarr in a temporary folder" rule of the tracker's output (command
    line) and the plugin's new Labels layers.

    Parameters
    ----------
    shape
        Shape of the labels, e.g. (time, row, col).
    plane_axes
        Trailing axes of one zarr chunk (2: one chunk per (row, col) plane).
    in_memory_bytes
        Above this many bytes of int32 the stack is a zarr array in a new temporary
        folder (chunks of one plane, compressed; only written planes take space; its
        ``store`` says where). The folder is left for the caller (or the system) to remove.

    Returns
    -------
    numpy.ndarray or zarr.Array
        int32 zeros of ``shape``.
    """
    nbytes = int(np.prod(shape)) * np.dtype(LABELS_DTYPE).itemsize
    if nbytes <= in_memory_bytes:
        return np.zeros(shape, dtype=LABELS_DTYPE)
    import tempfile

    import zarr

    folder = tempfile.mkdtemp(prefix="sam2-labels-")
    chunks = (1,) * (len(shape) - plane_axes) + tuple(shape[-plane_axes:])
    return zarr.create_array(
        store=folder, shape=shape, chunks=chunks, dtype=LABELS_DTYPE, fill_value=0
    )


def _is_zarr(path: Path) -> bool:
    return path.suffix.lower() == ".zarr" or (
        path.is_dir() and any((path / m).exists() for m in _ZARR_MARKERS)
    )


def _to_stack(array: Any, path: Path, what: str) -> Any:
    """Drop singleton axes after time; check (T, H, W) and that it is not empty."""
    shape = tuple(int(n) for n in array.shape)
    if len(shape) > 3:
        keep = [0, *[i for i in range(1, len(shape) - 2) if shape[i] != 1]]
        keep += [len(shape) - 2, len(shape) - 1]
        if len(keep) == 3:
            index = tuple(slice(None) if i in keep else 0 for i in range(len(shape)))
            array = _lazy_index(array, index)
            shape = tuple(int(n) for n in array.shape)
    if len(shape) != 3:
        hint = (
            " (a single frame; a movie needs a time axis)"
            if len(shape) == 2
            else " (colour or multi-channel data: keep one channel)"
            if len(shape) > 3
            else ""
        )
        raise ValueError(
            f"{path}: the {what} has shape {shape}, expected 3 dimensions (time, row, col){hint}"
        )
    if 0 in shape:
        raise ValueError(f"{path}: the {what} is empty (shape {shape})")
    return array


def _lazy_index(array: Any, index: tuple[Any, ...]) -> Any:
    if isinstance(array, np.ndarray):
        return array[index]
    import dask.array as da

    return da.from_array(array, chunks=(1, *array.shape[1:]))[index]


def _open_tiff(path: Path) -> Any:
    import tifffile

    try:
        with tifffile.TiffFile(path) as tif:
            shape = tuple(tif.series[0].shape) if tif.series else None
    except Exception as exc:  # tifffile raises many kinds for unreadable files
        raise ValueError(f"{path}: cannot read it as a TIFF file ({exc})") from exc
    if shape is None:
        raise ValueError(f"{path}: the TIFF file holds no image")
    if 0 in shape:
        raise ValueError(f"{path}: the TIFF image is empty (shape {shape})")
    try:
        return tifffile.memmap(path, mode="r")
    except Exception:  # compressed or tiled: read chunk by chunk through zarr
        import zarr

        try:
            return zarr.open(tifffile.imread(path, aszarr=True), mode="r")
        except Exception as exc:
            raise ValueError(f"{path}: cannot read the TIFF image data ({exc})") from exc


def _open_zarr(path: Path) -> Any:
    import zarr

    if not path.exists():
        raise FileNotFoundError(f"{path} does not exist")
    try:
        node = zarr.open(str(path), mode="r")
    except Exception as exc:
        raise ValueError(f"{path}: cannot open it as a zarr store ({exc})") from exc
    if isinstance(node, zarr.Array):
        return node
    arrays = dict(node.arrays())
    if "0" in arrays:  # OME-Zarr: the full-resolution level
        return arrays["0"]
    if len(arrays) == 1:
        return next(iter(arrays.values()))
    names = ", ".join(sorted(arrays)) or "none"
    raise ValueError(
        f"{path}: the zarr group holds {len(arrays)} arrays ({names}); open one of them "
        "(path/to/store.zarr/NAME) or store the stack as the only array"
    )


def _tiff_shape(path: Path) -> tuple[tuple[int, ...], np.dtype]:
    """(frame shape, dtype) of a TIFF file from its header (singleton axes dropped)."""
    import tifffile

    try:
        with tifffile.TiffFile(path) as tif:
            page = tif.series[0]
            shape, dtype = tuple(page.shape), page.dtype
    except Exception as exc:
        raise ValueError(f"{path}: cannot read it as a TIFF file ({exc})") from exc
    return (tuple(n for n in shape if n != 1) if len(shape) > 2 else shape), dtype


def read_tiff_frames(files: Sequence[str | os.PathLike[str]], what: str = "frames") -> LazyStack:
    """A lazy (T, H, W) stack of one (H, W) TIFF file per frame, in the given order.

    Every file's header is read here (not its pixels), so a frame of another shape is
    reported, by name, before any work; each frame is read when it is indexed.

    Raises
    ------
    ValueError
        If ``files`` is empty, a file is unreadable, not 2-dimensional, or its frame
        shape differs from the first file's.
    """
    import tifffile

    files = [Path(f) for f in files]
    if not files:
        raise ValueError(f"there are no {what} to read")
    shape, dtype = _tiff_shape(files[0])
    if len(shape) != 2:
        raise ValueError(f"{files[0]}: a frame must be 2-dimensional (row, col), not {shape}")
    for path in files[1:]:
        other, _ = _tiff_shape(path)
        if other != shape:
            raise ValueError(
                f"{path}: this frame is {'x'.join(map(str, other))} but {files[0].name} (and "
                f"the frames before it) are {shape[0]}x{shape[1]}: every frame of a movie "
                "must have the same size"
            )

    def read(t: int) -> np.ndarray:
        try:
            frame = tifffile.imread(files[t])
        except Exception as exc:
            raise ValueError(f"{files[t]}: cannot read it as a TIFF file ({exc})") from exc
        return frame.reshape(frame.shape[-2:]) if frame.ndim > 2 else frame

    return LazyStack(len(files), shape, dtype, read)  # type: ignore[arg-type]


def _frame_files(folder: Path) -> list[Path]:
    numbered = {}
    for p in folder.iterdir():
        if p.suffix.lower() in TIFF_SUFFIXES and not p.name.startswith("."):
            match = _NUMBER.search(p.stem)
            if match:
                numbered.setdefault(int(match.group(1)), []).append(p)
    if not numbered:
        raise ValueError(f"{folder}: the folder holds no numbered TIFF frames (e.g. t000.tif)")
    clash = {n: ps for n, ps in numbered.items() if len(ps) > 1}
    if clash:
        n, ps = next(iter(sorted(clash.items())))
        raise ValueError(f"{folder}: several files are frame {n}: {', '.join(p.name for p in ps)}")
    numbers = sorted(numbered)
    missing = sorted(set(range(numbers[0], numbers[-1] + 1)) - set(numbers))
    if missing:
        raise ValueError(
            f"{folder}: frame number(s) {', '.join(map(str, missing[:8]))} are missing "
            f"between {numbers[0]} and {numbers[-1]}"
        )
    return [numbered[n][0] for n in numbers]


def read_image_stack(path: str | os.PathLike[str]) -> Any:
    """Open a (T, H, W) image stack lazily.

    Parameters
    ----------
    path : path
        A TIFF file, a zarr store or a folder of numbered TIFF frames (see the module
        docstring).

    Returns
    -------
    array-like
        (T, H, W) with ``shape``, ``dtype`` and ``stack[t]`` reading frame ``t``: a
        ``numpy.memmap``, a zarr or dask array, or a :class:`~sam2_cells._frames.LazyStack`.

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    ValueError
        If it cannot be read, is not 3-dimensional (after dropping singleton axes) or is
        empty.
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path} does not exist")
    if _is_zarr(path):
        return _to_stack(_open_zarr(path), path, "stack")
    if path.is_dir():
        return read_tiff_frames(_frame_files(path), f"frames in {path}")
    if path.suffix.lower() in TIFF_SUFFIXES:
        return _to_stack(_open_tiff(path), path, "stack")
    raise ValueError(
        f"{path}: not a TIFF file (.tif, .tiff), a zarr store (.zarr) or a folder of TIFF frames"
    )


def read_label_stack(path: str | os.PathLike[str]) -> Any:
    """Open a (T, H, W) integer label stack lazily, as :func:`read_image_stack` does.

    Raises
    ------
    ValueError
        As :func:`read_image_stack`, and if the data are not integers.
    """
    stack = read_image_stack(path)
    if not (np.issubdtype(stack.dtype, np.integer) or stack.dtype == np.bool_):
        raise ValueError(f"{path}: labels must be integers, not {stack.dtype}")
    return stack


def _check_labels_dtype(labels: Any) -> np.dtype:
    dtype = np.dtype(getattr(labels, "dtype", np.asarray(labels[0]).dtype))
    if not (np.issubdtype(dtype, np.integer) or dtype == np.bool_):
        raise ValueError(f"labels must be integers, not {dtype}")
    return dtype


def write_label_stack(
    labels: Any,
    path: str | os.PathLike[str],
    *,
    format: Literal["tiff", "zarr"] | None = None,
    zarr_format: Literal[2, 3] = 2,
    progress: ProgressCallback | None = None,
) -> Path:
    """Write a (T, H, W) label stack as TIFF or zarr, one frame at a time, atomically.

    Parameters
    ----------
    labels : array-like
        (T, H, W) integer labels (numpy, dask, zarr, ...), read frame by frame.
    path : path
        Target file (``.tif``/``.tiff``) or store (``.zarr``); an existing one is replaced
        once the new one is complete.
    format : {"tiff", "zarr"}, optional
        Overrides the choice by suffix.
    zarr_format : {2, 3}
        zarr specification version; 2 is readable by the most tools.
    progress : callable, optional
        ``progress(done, total)`` after each frame.

    Returns
    -------
    pathlib.Path
        ``path``.

    Notes
    -----
    TIFF: one contiguous, uncompressed series (memory-mappable), BigTIFF when over 4 GB.
    zarr: chunks of one frame, ``(1, H, W)``.
    """
    path = Path(path)
    n_frames, height, width = stack_shape(labels, "label stack")
    dtype = _check_labels_dtype(labels)
    if format is None:
        if path.suffix.lower() in TIFF_SUFFIXES:
            format = "tiff"
        elif path.suffix.lower() == ".zarr":
            format = "zarr"
        else:
            raise ValueError(f"{path}: give a .tif, .tiff or .zarr path (or format=...)")

    def frames() -> Any:
        for t in range(n_frames):
            frame = frame_at(labels, t)
            if frame.shape != (height, width):
                raise ValueError(f"frame {t} has shape {frame.shape}, not {(height, width)}")
            yield frame.astype(dtype, copy=False)
            if progress is not None:
                progress(t + 1, n_frames)

    if format == "tiff":
        import tifffile

        big = n_frames * height * width * dtype.itemsize > 2**32 - 2**25
        with atomic_file(path) as tmp:
            tifffile.imwrite(
                tmp,
                frames(),
                shape=(n_frames, height, width),
                dtype=dtype,
                bigtiff=big,
                photometric="minisblack",
                metadata={"axes": "TYX"},
            )
    elif format == "zarr":
        import zarr

        with atomic_dir(path) as tmp:
            out = zarr.create_array(
                store=str(tmp),
                shape=(n_frames, height, width),
                chunks=(1, height, width),
                dtype=dtype,
                zarr_format=zarr_format,
                fill_value=0,
            )
            for t, frame in enumerate(frames()):
                out[t] = frame
    else:
        raise ValueError(f"unknown format {format!r}; use 'tiff' or 'zarr'")
    return path
