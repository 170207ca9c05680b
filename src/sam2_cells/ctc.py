"""Cell Tracking Challenge (CTC) data sets on disk: the layout, a writer and a finder.

A CTC data set (ground truth, as the challenge distributes it)::

    root/01/tNNN.tif                  the movie frames
    root/01_GT/TRA/man_trackNNN.tif   tracking labels (uint16), ids consistent in time
    root/01_GT/TRA/man_track.txt      one "L B E P" line per track
    root/01_GT/SEG/man_segNNN.tif     segmentation labels (here: of every frame)

``NNN`` is the frame number, zero-padded to at least 3 digits. Frames are (row, col).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from sam2_cells.lineage import TrackRecord

__all__ = [
    "TIFF_SUFFIXES",
    "CtcSequence",
    "find_ctc_sequences",
    "is_ctc_folder",
    "numbered_files",
    "write_ctc_dataset",
]

TIFF_SUFFIXES = (".tif", ".tiff")
_SEQUENCE = re.compile(r"^\d+$")
_NUMBER = re.compile(r"(\d+)\D*$")


@dataclass(frozen=True)
class CtcSequence:
    """One sequence of a CTC data set with tracking ground truth.

    Attributes
    ----------
    name : str
        Sequence folder name, e.g. ``"01"``.
    frames : dict of int to Path
        Frame number -> ``tNNN.tif``.
    tracking : dict of int to Path
        Frame number -> ``man_trackNNN.tif``.
    track_file : Path
        ``man_track.txt`` (may be missing on disk for incomplete sets).
    """

    name: str
    frames: dict[int, Path]
    tracking: dict[int, Path]
    track_file: Path

    @property
    def common_frames(self) -> list[int]:
        """Frame numbers that have both an image and tracking labels, in order."""
        return sorted(set(self.frames) & set(self.tracking))


def numbered_files(folder: Path, prefix: str) -> dict[int, Path]:
    """TIFF files ``<prefix>NNN.tif`` of ``folder`` by their number ``NNN``."""
    out = {}
    for p in Path(folder).iterdir():
        if p.name.startswith(prefix) and p.suffix.lower() in TIFF_SUFFIXES:
            match = _NUMBER.search(p.stem)
            if match:
                out[int(match.group(1))] = p
    return out


def is_ctc_folder(folder: str | Path) -> bool:
    """True when ``folder`` holds at least one ``NN/`` + ``NN_GT/TRA/`` pair."""
    folder = Path(folder)
    return folder.is_dir() and any(
        p.is_dir() and _SEQUENCE.match(p.name) and (folder / f"{p.name}_GT" / "TRA").is_dir()
        for p in folder.iterdir()
    )


def find_ctc_sequences(folder: str | Path) -> list[CtcSequence]:
    """Every sequence of a CTC data set that has a ``TRA`` folder, sorted by name.

    Raises
    ------
    ValueError
        If the folder holds no such sequence, or a sequence's frames and tracking labels
        share no frame number.
    """
    folder = Path(folder)
    found: list[CtcSequence] = []
    for seq in sorted(p for p in folder.iterdir() if p.is_dir() and _SEQUENCE.match(p.name)):
        tra = folder / f"{seq.name}_GT" / "TRA"
        if not tra.is_dir():
            continue
        entry = CtcSequence(
            seq.name,
            numbered_files(seq, "t"),
            numbered_files(tra, "man_track"),
            tra / "man_track.txt",
        )
        if not entry.common_frames:
            raise ValueError(
                f"{seq} and {tra} share no frame numbers; expected tNNN.tif frames and "
                "man_trackNNN.tif labels with the same NNN"
            )
        found.append(entry)
    if not found:
        raise ValueError(
            f"{folder} holds no Cell Tracking Challenge sequence (NN/ with NN_GT/TRA/)"
        )
    return found


def write_ctc_dataset(
    movie: np.ndarray,
    labels: np.ndarray,
    tracks: Sequence[TrackRecord],
    root: Path | str,
    sequence: str = "01",
) -> Path:
    """Write a movie and its tracked labels as a CTC ground-truth data set.

    Parameters
    ----------
    movie : numpy.ndarray
        (T, H, W) frames (any dtype TIFF can hold).
    labels : numpy.ndarray
        (T, H, W) tracked labels; must fit in ``uint16``. Written as ``TRA`` and ``SEG``.
    tracks : sequence of TrackRecord
        The lineage, one record per label.
    root : path
        Data set folder; created if missing. Existing files of the same names are replaced.
    sequence : str
        Sequence name, ``"01"`` by default.

    Returns
    -------
    pathlib.Path
        ``root`` (the folder that holds ``<sequence>/`` and ``<sequence>_GT/``).
    """
    import tifffile

    root = Path(root)
    if int(np.max(labels, initial=0)) > np.iinfo(np.uint16).max:
        raise ValueError("The labels do not fit in uint16, which the CTC format requires.")
    if len(movie) != len(labels):
        raise ValueError(
            f"movie has {len(movie)} frames but labels have {len(labels)}; give one label "
            "image per frame"
        )
    images = root / sequence
    tra = root / f"{sequence}_GT" / "TRA"
    seg = root / f"{sequence}_GT" / "SEG"
    for folder in (images, tra, seg):
        folder.mkdir(parents=True, exist_ok=True)
    digits = max(3, len(str(len(movie) - 1)))
    for t, (frame, label) in enumerate(zip(movie, labels, strict=True)):
        label16 = np.asarray(label).astype(np.uint16)
        tifffile.imwrite(images / f"t{t:0{digits}d}.tif", np.asarray(frame))
        tifffile.imwrite(tra / f"man_track{t:0{digits}d}.tif", label16)
        tifffile.imwrite(seg / f"man_seg{t:0{digits}d}.tif", label16)
    lines = "".join(record.to_ctc() + "\n" for record in tracks)
    (tra / "man_track.txt").write_text(lines)
    return root
