"""Autosave of the target Labels layer: committed work survives a crash of napari.

Every edit that napari records in the target layer's undo history (a commit, a whole
propagation, "segment everything", a brush stroke) and every undo or redo made through
the plugin writes the layer to the autosave folder:

* ``$NAPARI_SAM2_AUTOSAVE_DIR`` if set, else ``$XDG_CACHE_HOME/napari-sam2/autosave``
  (``~/.cache/napari-sam2/autosave``);
* one NumPy file per Labels layer and session, ``<date>_<time>_<layer name>.npy``, with a
  ``.json`` beside it (layer name, image, shape, scale, translate, time);
* written atomically (a temporary file in the same folder, flushed, then renamed over the
  previous version): after a crash the file holds the last complete save, never half of
  one. The copy is taken on the GUI thread; the writing runs in a background thread.

Load a file back with :func:`napari_sam2.api.load_autosave` (the newest one by default),
``viewer.open(path, layer_type="labels")``, or ``numpy.load(path)``. The newest
:data:`KEEP` files are kept. Labels kept on disk as zarr (very large stacks) are not
copied: their folder (the layer's ``metadata["zarr_path"]``) survives a crash already.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from napari_sam2.core.events import ControllerEvents
from napari_sam2.core.label_target import LabelTarget
from sam2_engine import atomic_file

log = logging.getLogger(__name__)

AUTOSAVE_ENV = "NAPARI_SAM2_AUTOSAVE_DIR"
KEEP = 20  # newest autosave files kept in the folder


def autosave_dir() -> Path:
    """The autosave folder (see the module docstring); not created here."""
    if os.environ.get(AUTOSAVE_ENV):
        return Path(os.environ[AUTOSAVE_ENV]).expanduser()
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return cache / "napari-sam2" / "autosave"


def autosave_files(folder: Path | None = None) -> list[Path]:
    """Autosaved labels in ``folder`` (default: :func:`autosave_dir`), newest first."""
    folder = autosave_dir() if folder is None else Path(folder)
    files = [p for p in folder.glob("*.npy") if p.is_file()]
    return sorted(files, key=lambda p: p.stat().st_mtime, reverse=True)


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


class _Writer:
    """One background thread writing the latest snapshot (older pending ones are
    dropped: only the newest state matters)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pending: Callable[[], None] | None = None
        self._thread: threading.Thread | None = None
        self._idle = threading.Event()
        self._idle.set()

    def submit(self, job: Callable[[], None]) -> None:
        with self._lock:
            self._pending = job
            if self._thread is None:
                self._idle.clear()
                self._thread = threading.Thread(
                    target=self._run, name="napari-sam2-autosave", daemon=True
                )
                self._thread.start()

    def _run(self) -> None:
        while True:
            with self._lock:
                job, self._pending = self._pending, None
                if job is None:
                    self._thread = None
                    self._idle.set()
                    return
            job()

    def wait(self, timeout: float | None = None) -> bool:
        """Wait until every submitted write is done; False on timeout."""
        return self._idle.wait(timeout)


class LabelsAutosave:
    """Writes the controller's target Labels layer after every recorded edit.

    Parameters
    ----------
    events
        The controller's signals (the target layer changes through them).
    labels
        The controller's label target.
    image_name
        Returns the name of the image being segmented (kept in the ``.json``).
    notify
        ``notify(level, message)``; a failing save is reported once.
    folder
        Where to write (default: :func:`autosave_dir`, read when a layer is first saved).

    Attributes
    ----------
    enabled
        Turn autosaving on or off (the widget's *Autosave labels* box).
    last_path
        The file written last (None before the first save).
    """

    def __init__(
        self,
        events: ControllerEvents,
        labels: LabelTarget,
        image_name: Callable[[], str | None],
        notify: Callable[[str, str], None],
        folder: Path | None = None,
    ) -> None:
        self.enabled = True
        self.last_path: Path | None = None
        self._labels = labels
        self._image_name = image_name
        self._notify = notify
        self._folder = folder
        self._paths: dict[int, Path] = {}
        self._watched: Any = None
        self._writer = _Writer()
        self._error: str | None = None
        self._told_error = False
        events.labels_changed.connect(self._watch)
        # the plugin's own writes: these come after the pixels are written (napari's
        # ``paint`` event of a write comes before them; it serves hand-painted strokes)
        events.committed.connect(self._on_paint)
        events.propagation_finished.connect(self._on_paint)
        events.automatic_finished.connect(self._on_paint)

    @property
    def folder(self) -> Path:
        return autosave_dir() if self._folder is None else Path(self._folder)

    def _watch(self) -> None:
        """Follow the ``paint`` event (a new undo item) of the current target layer."""
        layer = self._labels.layer
        if layer is self._watched:
            return
        if self._watched is not None:
            with contextlib.suppress(Exception):
                self._watched.events.paint.disconnect(self._on_paint)
        self._watched = layer
        if layer is not None:
            layer.events.paint.connect(self._on_paint)

    def _on_paint(self, *_: Any) -> None:
        self.request()

    def request(self) -> Path | None:
        """Save the target layer now (in the background); returns the file it goes to,
        or None when nothing is saved (off, no layer, zarr labels)."""
        self._report_error()
        layer = self._labels.layer
        if not self.enabled or layer is None or not isinstance(layer.data, np.ndarray):
            return None
        path = self._path_for(layer)
        snapshot = np.array(layer.data, copy=True)
        meta = {
            "layer": str(layer.name),
            "image": self._image_name(),
            "shape": list(snapshot.shape),
            "dtype": str(snapshot.dtype),
            "scale": [float(v) for v in layer.scale],
            "translate": [float(v) for v in layer.translate],
            "saved": time.strftime("%Y-%m-%d %H:%M:%S"),
            "load": "napari_sam2.api.load_autosave(path) or numpy.load(path)",
        }
        self._writer.submit(lambda: self._write(path, snapshot, meta))
        self.last_path = path
        return path

    def wait(self, timeout: float | None = 10.0) -> bool:
        """Wait for the writes in flight (tests, closing); False on timeout."""
        return self._writer.wait(timeout)

    def _path_for(self, layer: Any) -> Path:
        path = self._paths.get(id(layer))
        if path is None:
            name = re.sub(r"[^A-Za-z0-9._-]+", "-", str(layer.name)).strip("-") or "labels"
            stamp = time.strftime("%Y-%m-%d_%H-%M-%S")
            path = self.folder / f"{stamp}_{name}.npy"
            n = 2
            while path.exists() or path in self._paths.values():
                path = self.folder / f"{stamp}_{name}-{n}.npy"
                n += 1
            self._paths[id(layer)] = path
        return path

    def _write(self, path: Path, data: np.ndarray, meta: dict[str, Any]) -> None:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            write_atomically(path, lambda f: np.save(f, data, allow_pickle=False))
            text = json.dumps(meta, indent=1).encode()
            write_atomically(path.with_suffix(".json"), lambda f: f.write(text))
            _prune(path.parent, keep=KEEP)
        except OSError as err:
            log.warning("autosave to %s failed: %s", path, err)
            self._error = f"{path.parent}: {err}"

    def _report_error(self) -> None:
        if self._error is not None and not self._told_error:
            self._told_error = True
            self._notify(
                "warning",
                f"SAM 2 could not autosave the labels ({self._error}). Free some disk space or "
                f"set ${AUTOSAVE_ENV} to a writable folder; save the layer yourself meanwhile "
                "(File > Save Selected Layers).",
            )


def _prune(folder: Path, keep: int) -> None:
    """Delete all but the newest ``keep`` autosave files (and their ``.json``)."""
    for old in autosave_files(folder)[keep:]:
        with contextlib.suppress(OSError):
            old.unlink()
            old.with_suffix(".json").unlink()
