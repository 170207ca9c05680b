"""Export of a synthetic time-lapse as a Cell Tracking Challenge data set (TIFF files)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from sam2_engine.synthetic.results import SyntheticTimelapse

__all__ = ["write_ctc_folder"]


def write_ctc_folder(timelapse: SyntheticTimelapse, root: Path | str, sequence: str = "01") -> Path:
    """Write a time-lapse as a Cell Tracking Challenge data set.

    Layout (``NNN`` is the frame number, zero-padded to at least 3 digits)::

        root/01/tNNN.tif                  the movie frames
        root/01_GT/TRA/man_trackNNN.tif   tracking labels (uint16)
        root/01_GT/TRA/man_track.txt      one "L B E P" line per track
        root/01_GT/SEG/man_segNNN.tif     segmentation labels of every frame (uint16)

    Parameters
    ----------
    timelapse : SyntheticTimelapse
        The data to write; labels must fit in ``uint16``.
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
    if int(timelapse.labels.max(initial=0)) > np.iinfo(np.uint16).max:
        raise ValueError("The labels do not fit in uint16, which the CTC format requires.")
    images = root / sequence
    tra = root / f"{sequence}_GT" / "TRA"
    seg = root / f"{sequence}_GT" / "SEG"
    for folder in (images, tra, seg):
        folder.mkdir(parents=True, exist_ok=True)
    digits = max(3, len(str(len(timelapse.movie) - 1)))
    for t, (frame, label) in enumerate(zip(timelapse.movie, timelapse.labels, strict=True)):
        label16 = label.astype(np.uint16)
        tifffile.imwrite(images / f"t{t:0{digits}d}.tif", frame)
        tifffile.imwrite(tra / f"man_track{t:0{digits}d}.tif", label16)
        tifffile.imwrite(seg / f"man_seg{t:0{digits}d}.tif", label16)
    lines = "".join(record.to_ctc() + "\n" for record in timelapse.tracks)
    (tra / "man_track.txt").write_text(lines)
    return root
