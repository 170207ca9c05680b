"""The autosave folder and its files: where autosaves go, which exist, reading one back.

See :mod:`napari_sam2.core.autosave` for what is saved and when.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from sam2_engine import atomic_file

AUTOSAVE_ENV = "NAPARI_SAM2_AUTOSAVE_DIR"
KEEP = 20  # newest autosave files kept in the folder


def autosave_dir() -> Path:
    """The autosave folder: ``$NAPARI_SAM2_AUTOSAVE_DIR`` if set, else
    ``$XDG_CACHE_HOME/napari-sam2/autosave`` (``~/.cache/...``); not created here."""
    if os.environ.get(AUTOSAVE_ENV):
        return Path(os.environ[AUTOSAVE_ENV]).expanduser()
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return cache / "napari-sam2" / "autosave"


def autosave_files(folder: Path | None = None) -> list[Path]:
    """Autosaved labels in ``folder`` (default: :func:`autosave_dir`), newest first:
    ``.zarr`` arrays (and ``.npy`` files of earlier versions)."""
    folder = autosave_dir() if folder is None else Path(folder)
    if not folder.is_dir():
        return []
    found = [p for p in folder.glob("*.npy") if p.is_file()]
    found += [p for p in folder.glob("*.zarr") if p.is_dir()]
    return sorted(found, key=_saved_time, reverse=True)


def read_autosave(path: str | Path) -> np.ndarray:
    """The labels of one autosave (a ``.zarr`` array or an older ``.npy`` file).

    Returns
    -------
    numpy.ndarray
        The array as last saved, same shape and dtype as the layer (leading axes, then
        rows and columns).
    """
    import zarr

    path = Path(path)
    if path.is_dir():
        return np.asarray(zarr.open_array(str(path), mode="r")[...])
    return np.load(path, allow_pickle=False)


def _saved_time(path: Path) -> float:
    """When a save was last written: its ``.json`` is rewritten after every save (a zarr
    folder's own time changes only when chunk folders are added)."""
    sidecar = path.with_suffix(".json")
    return (sidecar if sidecar.is_file() else path).stat().st_mtime


def write_atomically(path: Path, write: Callable[[Any], None]) -> None:
    """Write ``path`` through ``write(file)`` into a temporary file that replaces it at
    the end (:func:`sam2_engine.atomic_file`, flushed to disk): readers (and a crash)
    see the old or the new content, never a part.

    Parameters
    ----------
    path
        The file to write.
    write
        Called with the open binary file handle of the temporary.
    """
    with atomic_file(path, fsync=True) as tmp, open(tmp, "wb") as handle:
        write(handle)


def prune(folder: Path, keep: int) -> None:
    """Delete all but the newest ``keep`` autosaves (and their ``.json``)."""
    for old in autosave_files(folder)[keep:]:
        with contextlib.suppress(OSError):
            if old.is_dir():
                shutil.rmtree(old)
            else:
                old.unlink()
            old.with_suffix(".json").unlink()
