"""Where objects are written: the target Labels layer and the allocation of label ids.

:class:`LabelTarget` holds the Labels layer the controller writes into (created on the
first commit when there is none), routes every write through napari's undoable edit
path (inside an open :class:`~napari_sam2.core.labels_edit.EditGroup` when one is, e.g.
during a propagation) and owns the :class:`LabelIds` allocator, the one place that
decides which label a new object gets.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from napari_sam2.core.events import ControllerEvents
from napari_sam2.core.label_colours import contrast_colormap
from napari_sam2.core.label_ids import LabelIds
from napari_sam2.core.labels_edit import EditGroup, PlaneEdit, new_labels_data, write_plane
from napari_sam2.core.layout import ImageLayout, labels_transform

HELPER_KEY = "napari_sam2"  # layer.metadata key marking the plugin's own layers
LABELS_NAME = "SAM 2 labels"


class LabelTarget:
    """The target Labels layer of one controller (see module docstring)."""

    def __init__(self, events: ControllerEvents) -> None:
        self._events = events
        self.layer: Any = None
        self.group: EditGroup | None = None
        self.ids = LabelIds()

    def set(self, layer: Any, layout: ImageLayout | None) -> bool:
        """Write into ``layer`` (None: create one at the first commit); True if it changed.

        Raises
        ------
        ValueError
            The layer's shape does not fit the image.
        """
        if layer is not None and layout is not None:
            layout.check_labels_shape(tuple(layer.data.shape))
        if layer is self.layer:
            return False
        self.layer = layer
        self.ids.reset(layer)
        self._events.labels_changed.emit()
        return True

    def fits(self, layout: ImageLayout) -> bool:
        """Whether the current layer (if any) fits an image of this layout."""
        if self.layer is None:
            return True
        try:
            layout.check_labels_shape(tuple(self.layer.data.shape))
        except ValueError:
            return False
        return True

    def ensure(self, layout: ImageLayout | None, image_layer: Any) -> Any:
        """The target layer, created (and announced) if there is none."""
        if self.layer is not None:
            return self.layer
        if layout is None:
            raise RuntimeError("choose an image layer first")
        from napari.layers import Labels

        shape = layout.default_labels_shape()
        data = new_labels_data(shape)
        meta = {HELPER_KEY: "labels"}
        if not isinstance(data, np.ndarray):
            meta["zarr_path"] = str(data.store)
        layer = Labels(
            data,
            name=LABELS_NAME,
            metadata=meta,
            colormap=contrast_colormap(),
            **labels_transform(layout, image_layer, len(shape)),
        )
        self.layer = layer
        self.ids.reset(layer)
        self._events.labels_created.emit(layer)
        self._events.labels_changed.emit()
        return layer

    def write(self, index: tuple, edit: PlaneEdit, layer: Any = None) -> None:
        """Apply one plane edit (one undo step, or part of the open group)."""
        labels = self.layer if layer is None else layer
        if self.group is not None and self.group.layer is labels:
            self.group.write(index, edit)
        else:
            write_plane(labels, index, edit)

    def open_group(self) -> EditGroup:
        """Start collecting writes into one undo step (closed by :meth:`close_group`)."""
        self.group = EditGroup(self.layer).open()
        return self.group

    def close_group(self, group: EditGroup) -> None:
        group.close()
        if self.group is group:
            self.group = None

    def undo(self) -> None:
        """Undo the last edit of the target Labels layer (napari's history)."""
        if self.layer is not None:
            self.ids.history_step(self.layer)

    def redo(self) -> None:
        if self.layer is not None:
            self.ids.history_step(self.layer, redo=True)
