"""Training data stored as TIFF files: image/label folders and Cell Tracking Challenge sets.

Layouts (see also :mod:`sam2_training.sources`)::

    folder/images/<name>.tif     one image or stack per file (2D, 2D + channels, 3D)
    folder/labels/<name>.tif     its instance labels, same file name, same (T, H, W)

    folder/01/t000.tif ...                  frames of sequence 01 (and 02, ...)
    folder/01_GT/TRA/man_track000.tif ...   tracking labels with consistent ids

Files are opened lazily, when a sample needs them (memory-mapped where possible).
Note that in some published Cell Tracking Challenge sets the ``TRA`` annotations are
markers (small blobs inside each cell), not full masks; train on full instance masks.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from sam2_cells.ctc import TIFF_SUFFIXES, find_ctc_sequences, is_ctc_folder
from sam2_training.sources import (
    LabelledStack,
    PairedStack,
    channel_axis_of,
    check_label_dtype,
)


class _LazyTiff:
    """A TIFF file opened on first use: memory-mapped when possible, else read once."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._data: np.ndarray | None = None

    def data(self) -> np.ndarray:
        if self._data is None:
            import tifffile

            try:
                self._data = tifffile.memmap(self.path, mode="r")
            except (ValueError, OSError):  # compressed or tiled: read it whole
                self._data = tifffile.imread(self.path)
        return self._data

    def __getstate__(self) -> dict:  # DataLoader workers reopen the file
        return {"path": self.path, "_data": None}


def _tiff_shape(path: Path) -> tuple[tuple[int, ...], np.dtype]:
    import tifffile

    with tifffile.TiffFile(path) as tif:
        series = tif.series[0]
        return tuple(int(s) for s in series.shape), np.dtype(series.dtype)


class TiffPairStack(PairedStack):
    """An image file and its label file (2D, 2D + channels, or a stack)."""

    def __init__(self, image_path: Path, label_path: Path, channel_axis: int | None) -> None:
        self.name = image_path.name
        ishape, _ = _tiff_shape(image_path)
        lshape, ldtype = _tiff_shape(label_path)
        check_label_dtype(ldtype, str(label_path))
        if len(lshape) not in (2, 3):
            raise ValueError(f"{label_path}: labels of shape {lshape} must be (H, W) or (T, H, W)")
        axis = channel_axis_of(ishape, lshape, channel_axis, str(image_path))
        self._image, self._label = _LazyTiff(image_path), _LazyTiff(label_path)
        self._paths = (image_path, label_path)
        self._set_layout(lshape, axis)

    def image(self, t: int) -> np.ndarray:
        return self._channels_last(self._frame_of(self._image.data(), t))

    def labels(self, t: int) -> np.ndarray:
        return self._frame_of(self._label.data(), t)

    def fingerprint(self, digest: Any) -> None:
        for p in self._paths:
            digest.update(f"{p.name}:{p.stat().st_size}".encode())


class FrameFilesStack(LabelledStack):
    """A stack stored as one TIFF per frame (Cell Tracking Challenge layout)."""

    def __init__(self, name: str, image_files: list[Path], label_files: list[Path]) -> None:
        self.name = name
        self._images, self._labels = image_files, label_files
        ishape, _ = _tiff_shape(image_files[0])
        lshape, ldtype = _tiff_shape(label_files[0])
        check_label_dtype(ldtype, str(label_files[0]))
        channel_axis_of(ishape, lshape, None, str(image_files[0]))
        self.num_frames = len(image_files)
        self.frame_shape = (lshape[-2], lshape[-1])
        self.has_channels = len(ishape) == 3

    def image(self, t: int) -> np.ndarray:
        import tifffile

        return tifffile.imread(self._images[t])

    def labels(self, t: int) -> np.ndarray:
        import tifffile

        return tifffile.imread(self._labels[t])

    def fingerprint(self, digest: Any) -> None:
        for p in (*self._images, *self._labels):
            digest.update(f"{p.parent.name}/{p.name}:{p.stat().st_size}".encode())


def _tiff_files(folder: Path) -> dict[str, Path]:
    return {
        p.stem: p
        for p in sorted(folder.iterdir())
        if p.is_file() and p.suffix.lower() in TIFF_SUFFIXES and not p.name.startswith(".")
    }


def stacks_from_tiff_folder(
    folder: str | Path, channel_axis: int | None = None
) -> list[LabelledStack]:
    """Pairs ``folder/images/<name>.tif`` + ``folder/labels/<name>.tif`` (see module doc)."""
    folder = Path(folder)
    img_dir, lab_dir = folder / "images", folder / "labels"
    if not img_dir.is_dir() or not lab_dir.is_dir():
        raise ValueError(
            f"{folder} is not a TIFF training folder: it needs an 'images/' and a 'labels/' "
            "sub-folder with files of the same names"
        )
    images, labels = _tiff_files(img_dir), _tiff_files(lab_dir)
    if not images:
        raise ValueError(f"{img_dir} holds no .tif/.tiff files")
    missing = sorted(set(images) - set(labels))
    if missing:
        raise ValueError(
            f"no labels for {len(missing)} image(s) in {img_dir} (e.g. {missing[:3]}); put "
            f"a label file of the same name in {lab_dir}"
        )
    return [TiffPairStack(images[k], labels[k], channel_axis) for k in sorted(images)]


def stacks_from_ctc_folder(folder: str | Path) -> list[LabelledStack]:
    """One stack per CTC sequence with tracking labels (see module doc).

    Frames without a ``man_trackNNN.tif`` file are skipped; labels come from ``TRA``
    because its ids are consistent in time (``SEG`` annotates only some frames).
    """
    return [
        FrameFilesStack(
            seq.name,
            [seq.frames[t] for t in seq.common_frames],
            [seq.tracking[t] for t in seq.common_frames],
        )
        for seq in find_ctc_sequences(folder)
    ]


def stacks_from_folder(
    folder: str | Path, fmt: str = "auto", channel_axis: int | None = None
) -> list[LabelledStack]:
    """Read a training folder; ``fmt`` is ``"auto"``, ``"tiff"`` or ``"ctc"``."""
    folder = Path(folder)
    if not folder.is_dir():
        raise ValueError(f"data folder {folder} does not exist or is not a folder")
    if fmt == "ctc" or (fmt == "auto" and is_ctc_folder(folder)):
        return stacks_from_ctc_folder(folder)
    if fmt in ("tiff", "auto"):
        return stacks_from_tiff_folder(folder, channel_axis)
    raise ValueError(f"unknown data format {fmt!r}; use 'auto', 'tiff' or 'ctc'")
