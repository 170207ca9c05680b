"""The signals of the SAM 2 controller and its status line (emitted on the GUI thread).

One :class:`ControllerEvents` object is shared by the controller's parts: each part
emits what it changed, the widgets and the viewer bridge connect to what they show.
"""

from __future__ import annotations

from psygnal import Signal


class ControllerEvents:
    """psygnal signals of one controller.

    Attributes
    ----------
    status_changed(str)
        The one-line status text changed.
    jobs_changed()
        A job started or finished.
    progress_changed(str, int, int)
        ``(job kind, done, total)`` of a running job.
    model_changed(str), image_changed(), labels_changed(), labels_created(layer)
        The model, the image layer or the target Labels layer changed (a Labels layer was
        created by the plugin).
    plane_changed()
        The sliders moved to another plane.
    prompts_changed(), preview_changed()
        The current object's prompts or its preview mask changed.
    committed(CommitResult)
        A preview was written into the Labels layer.
    propagation_finished(int, bool)
        ``(frames written, cancelled)``.
    automatic_finished(int)
        Objects written by "segment everything".
    """

    status_changed = Signal(str)
    jobs_changed = Signal()
    progress_changed = Signal(str, int, int)
    model_changed = Signal(str)
    image_changed = Signal()
    labels_changed = Signal()
    labels_created = Signal(object)
    plane_changed = Signal()
    prompts_changed = Signal()
    preview_changed = Signal()
    committed = Signal(object)
    propagation_finished = Signal(int, bool)
    automatic_finished = Signal(int)


class StatusLine:
    """The controller's status text: what just happened or is happening."""

    def __init__(self, events: ControllerEvents, text: str = "") -> None:
        self._events = events
        self.text = text

    def set(self, text: str) -> None:
        self.text = text
        self._events.status_changed.emit(text)
