"""Autosave of the target Labels layer: committed work survives a crash of napari.

Every edit that napari records in the target layer's undo history (a commit, a whole
propagation, "segment everything", a brush stroke) and every undo or redo made through
the plugin is written to the autosave folder:

* ``$NAPARI_SAM2_AUTOSAVE_DIR`` if set, else ``$XDG_CACHE_HOME/napari-sam2/autosave``
  (``~/.cache/napari-sam2/autosave``);
* one zarr array per Labels layer and session, ``<date>_<time>_<layer name>.zarr``, in
  chunks of one plane's 512 x 512 pixels, with a ``.json`` beside it (layer name, image,
  shape, scale, translate, time);
* **only the chunks an edit touched are written again**: the edit's pixels are read from
  napari's undo history (:mod:`napari_sam2.core.dirty_chunks`), so a click on a 16,384²
  slide saves the few chunks under its mask, not the slide. The whole layer is written
  once, at its first save (not even then for a layer the plugin created: it starts empty).
* every chunk is written atomically (zarr writes a temporary file and renames it): after
  a crash each chunk holds its last complete save, never half of one. A crash in the
  middle of a save can leave an edit that spans several chunks saved in some of them.
  The chunks are copied on the GUI thread; the writing runs in a background thread.

Load a file back with :func:`napari_sam2.api.load_autosave` (the newest one by default),
:func:`read_autosave`, or ``zarr.open_array(path)``; files of earlier versions (``.npy``)
load the same way. The newest :data:`KEEP` saves are kept. Labels kept on disk as zarr
(very large stacks) are not copied: their folder (the layer's ``metadata["zarr_path"]``)
survives a crash already.
"""

from __future__ import annotations

import contextlib
import json
import logging
import re
import shutil
import threading
import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from napari_sam2.core.autosave_files import (
    AUTOSAVE_ENV,
    KEEP,
    autosave_dir,
    autosave_files,
    prune,
    read_autosave,
    write_atomically,
)
from napari_sam2.core.dirty_chunks import (
    ChunkKey,
    all_chunks,
    chunk_shape,
    chunk_slices,
    item_chunks,
)
from napari_sam2.core.events import ControllerEvents
from napari_sam2.core.label_target import LabelTarget

log = logging.getLogger(__name__)

__all__ = [
    "AUTOSAVE_ENV",
    "KEEP",
    "LabelsAutosave",
    "autosave_dir",
    "autosave_files",
    "read_autosave",
    "write_atomically",
]


@dataclass
class _Save:
    """Chunks of one layer to write (copied on the GUI thread)."""

    path: Path
    shape: tuple[int, ...]
    dtype: str
    chunks: tuple[int, ...]
    create: bool  # a new (empty) store replaces whatever is at ``path``
    blocks: dict[ChunkKey, np.ndarray]
    meta: dict[str, Any]

    def then(self, newer: _Save) -> _Save:
        """This save followed by a newer one of the same file, as one save."""
        if newer.create:
            return newer
        self.blocks.update(newer.blocks)
        self.meta = newer.meta
        return self


class _Writer:
    """One background thread writing the saves submitted (saves of one file waiting
    together are merged: the newest copy of each chunk wins)."""

    def __init__(self, write: Callable[[_Save], None]) -> None:
        self._write = write
        self._lock = threading.Lock()
        self._pending: dict[Path, _Save] = {}
        self._thread: threading.Thread | None = None
        self._idle = threading.Event()
        self._idle.set()

    def submit(self, save: _Save) -> None:
        with self._lock:
            older = self._pending.pop(save.path, None)
            self._pending[save.path] = save if older is None else older.then(save)
            if self._thread is None:
                self._idle.clear()
                self._thread = threading.Thread(
                    target=self._run, name="napari-sam2-autosave", daemon=True
                )
                self._thread.start()

    def _run(self) -> None:
        while True:
            with self._lock:
                if not self._pending:
                    self._thread = None
                    self._idle.set()
                    return
                path = next(iter(self._pending))
                save = self._pending.pop(path)
            self._write(save)

    def wait(self, timeout: float | None = None) -> bool:
        """Wait until every submitted write is done; False on timeout."""
        return self._idle.wait(timeout)


@dataclass
class _Tracked:
    """What the autosave knows of one layer: where it goes and which chunks changed."""

    path: Path
    data: Any  # weak reference to the layer's array (a new array: everything is dirty)
    chunks: tuple[int, ...]
    created: bool = False  # the store exists (or is about to be written)
    dirty: set[ChunkKey] = field(default_factory=set)
    everything: bool = True  # chunks unknown: save the whole layer
    again: set[ChunkKey] = field(default_factory=set)  # re-save at the next request


class LabelsAutosave:
    """Writes the controller's target Labels layer after every recorded edit, chunk by
    chunk (only the chunks the edit touched).

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
        The ``.zarr`` written last (None before the first save).
    last_chunks
        How many chunks the last save copied (what its cost follows).
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
        self.last_chunks = 0
        self._labels = labels
        self._image_name = image_name
        self._notify = notify
        self._folder = folder
        self._tracked: dict[int, _Tracked] = {}
        self._created: Any = None  # the layer the plugin just created (all zero)
        self._watched: Any = None
        self._writer = _Writer(self._write)
        self._error: str | None = None
        self._told_error = False
        events.labels_created.connect(self._on_created)
        events.labels_changed.connect(self._watch)
        # the plugin's own writes: these come after the pixels are written (napari's
        # ``paint`` event of a ``data_setitem`` comes before them; it serves strokes)
        events.committed.connect(self._on_written)
        events.propagation_finished.connect(self._on_written)
        events.automatic_finished.connect(self._on_written)

    @property
    def folder(self) -> Path:
        return autosave_dir() if self._folder is None else Path(self._folder)

    def _on_created(self, layer: Any) -> None:
        self._created = layer

    def _watch(self) -> None:
        """Follow the ``paint`` event (a new undo item) of the current target layer; a
        layer watched again may have changed meanwhile: it is saved whole next time."""
        layer = self._labels.layer
        if layer is self._watched:
            return
        if self._watched is not None:
            with contextlib.suppress(Exception):
                self._watched.events.paint.disconnect(self._on_paint)
        self._watched = layer
        if layer is None:
            return
        layer.events.paint.connect(self._on_paint)
        tracked = self._tracked.get(id(layer))
        if tracked is not None:
            tracked.everything = True
        elif layer is self._created and isinstance(layer.data, np.ndarray):
            # made empty by the plugin: the store starts as zeros, nothing to copy
            self._track(layer).everything = False
        self._created = None

    def _track(self, layer: Any) -> _Tracked:
        tracked = self._tracked.get(id(layer))
        if tracked is None:
            shape = tuple(int(n) for n in layer.data.shape)
            data = weakref.ref(layer.data)
            tracked = _Tracked(self._path_for(layer), data, chunk_shape(shape))
            self._tracked[id(layer)] = tracked
        return tracked

    def _on_paint(self, event: Any = None) -> None:
        """A new undo item on the target layer: note its chunks, then save. A single
        ``data_setitem`` or ``paint`` call announces itself before its pixels change
        (a mouse stroke after them), so its chunks are saved again at the next request
        (for the plugin's writes, its own event follows at once)."""
        layer = self._labels.layer
        if layer is None or not isinstance(layer.data, np.ndarray):
            return
        tracked = self._track(layer)
        item = getattr(event, "value", None)
        keys = None if item is None else item_chunks(item, tracked.chunks)
        if keys is None:
            tracked.everything = True
        else:
            tracked.dirty |= keys
            tracked.again |= keys
        self.request()

    def _on_written(self, *_: Any) -> None:
        self.request()

    def history_step(self, redo: bool = False) -> None:
        """Note the chunks that the next undo (or redo) of the target layer changes;
        call it just before ``layer.undo()`` (napari announces no event for them)."""
        layer = self._labels.layer
        if layer is None or not isinstance(layer.data, np.ndarray):
            return
        tracked = self._track(layer)
        stack = getattr(layer, "_redo_history" if redo else "_undo_history", None)
        if stack is None:
            tracked.everything = True
        elif len(stack):
            keys = item_chunks(stack[-1], tracked.chunks)
            if keys is None:
                tracked.everything = True
            else:
                tracked.dirty |= keys

    def request(self) -> Path | None:
        """Save what changed in the target layer now (in the background); returns the
        store it goes to, or None when nothing is saved (off, no layer, zarr labels)."""
        self._report_error()
        layer = self._labels.layer
        if not self.enabled or layer is None or not isinstance(layer.data, np.ndarray):
            return None
        tracked = self._track(layer)
        data = layer.data
        shape = tuple(int(n) for n in data.shape)
        create = not tracked.created
        if tracked.data() is not data or chunk_shape(shape) != tracked.chunks:
            # the layer got a new array: a new store, written whole
            tracked.data, tracked.chunks = weakref.ref(data), chunk_shape(shape)
            create, tracked.everything = True, True
        keys = all_chunks(shape, tracked.chunks) if tracked.everything else tracked.dirty
        blocks = {}
        for key in keys:
            block = data[chunk_slices(key, shape, tracked.chunks)]
            if create and not block.any():
                continue  # a new store reads zeros where nothing is written
            blocks[key] = np.array(block, copy=True)
        tracked.created, tracked.everything = True, False
        tracked.dirty, tracked.again = set(tracked.again), set()
        meta = {
            "layer": str(layer.name),
            "image": self._image_name(),
            "shape": list(shape),
            "dtype": str(data.dtype),
            "chunks": list(tracked.chunks),
            "scale": [float(v) for v in layer.scale],
            "translate": [float(v) for v in layer.translate],
            "saved": time.strftime("%Y-%m-%d %H:%M:%S"),
            "load": "napari_sam2.api.load_autosave(path) or zarr.open_array(path)",
        }
        save = _Save(tracked.path, shape, str(data.dtype), tracked.chunks, create, blocks, meta)
        self._writer.submit(save)
        self.last_path, self.last_chunks = tracked.path, len(blocks)
        return tracked.path

    def wait(self, timeout: float | None = 10.0) -> bool:
        """Wait for the writes in flight (tests, closing); False on timeout."""
        return self._writer.wait(timeout)

    def _path_for(self, layer: Any) -> Path:
        name = re.sub(r"[^A-Za-z0-9._-]+", "-", str(layer.name)).strip("-") or "labels"
        stamp = time.strftime("%Y-%m-%d_%H-%M-%S")
        taken = {t.path for t in self._tracked.values()}
        path = self.folder / f"{stamp}_{name}.zarr"
        n = 2
        while path.exists() or path in taken:
            path = self.folder / f"{stamp}_{name}-{n}.zarr"
            n += 1
        return path

    def _write(self, save: _Save) -> None:
        import zarr

        path = save.path
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            if save.create or not path.is_dir():
                if path.exists():
                    shutil.rmtree(path)
                array = zarr.open_array(
                    str(path),
                    mode="w",
                    shape=save.shape,
                    chunks=save.chunks,
                    dtype=save.dtype,
                    fill_value=0,
                )
            else:
                array = zarr.open_array(str(path), mode="r+")
            for key, block in save.blocks.items():
                array[chunk_slices(key, save.shape, save.chunks)] = block  # one chunk each
            text = json.dumps(save.meta, indent=1).encode()
            write_atomically(path.with_suffix(".json"), lambda f: f.write(text))
            prune(path.parent, keep=KEEP)
        except (OSError, ValueError) as err:
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
