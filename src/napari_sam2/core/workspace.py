"""What the controller's features share: one typed bundle of the controller's parts.

A feature (interactive prompting, propagation, automatic segmentation, ...) is built
with a :class:`Workspace` and uses only what it names, never another feature's state.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from napari_sam2.core.embeddings import Embeddings
from napari_sam2.core.events import ControllerEvents, StatusLine
from napari_sam2.core.image_context import ImageContext
from napari_sam2.core.job_board import JobBoard
from napari_sam2.core.label_target import LabelTarget
from napari_sam2.core.model_slot import ModelSlot
from napari_sam2.core.state import InteractiveSettings
from napari_sam2.core.tracked_objects import TrackedObjects


@dataclass
class Workspace:
    """The parts of one controller.

    Attributes
    ----------
    events, status
        Signals and the status line.
    jobs
        Runs model work off the GUI thread.
    image
        The image layer, its layout and current plane, frame sources.
    models
        The model in use.
    embeddings
        Cached plane embeddings.
    labels
        The target Labels layer and the label-id allocator.
    tracked
        Objects taking part in propagation.
    settings
        The user's interactive settings (overlap policy, direction, ...).
    notify
        ``notify(level, message)`` for user-facing messages.
    """

    events: ControllerEvents
    status: StatusLine
    jobs: JobBoard
    image: ImageContext
    models: ModelSlot
    embeddings: Embeddings
    labels: LabelTarget
    tracked: TrackedObjects
    settings: InteractiveSettings
    notify: Callable[[str, str], None]

    def next_label(self) -> int:
        """The label a new object gets (above the layer's labels and tracked ids)."""
        return self.labels.ids.next(self.labels.layer, self.tracked.ids())

    def peek_next_label(self) -> int:
        return self.labels.ids.peek(self.labels.layer, self.tracked.ids())
