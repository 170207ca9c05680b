"""The Qt-free controller: napari layers in, engine calls, Labels edits out.

:class:`Sam2Controller` is a thin front over parts that each hold one kind of state:

* :class:`~napari_sam2.core.image_context.ImageContext`: the image layer, its axes and
  normalisation, the current plane, frame sources;
* :class:`~napari_sam2.core.model_slot.ModelSlot`: the model in use, loading;
* :class:`~napari_sam2.core.embeddings.Embeddings`: cached plane embeddings;
* :class:`~napari_sam2.core.label_target.LabelTarget`: the target Labels layer and the
  label-id allocator;
* one object per feature: :class:`~napari_sam2.features.interactive.InteractivePrompting`,
  :class:`~napari_sam2.features.propagation.Propagation`,
  :class:`~napari_sam2.features.automatic.AutomaticSegmentation`,
  :class:`~napari_sam2.features.cell_tracking.CellTracking`.

Model work runs in jobs (:class:`~napari_sam2.core.job_board.JobBoard`), off the GUI
thread; results come back through callbacks on the GUI thread, where layers are edited.
It imports neither Qt nor a viewer: the dock widgets, the console API and the tests drive
the same object (the tests with a :class:`~napari_sam2.core.jobs.SyncRunner`). The
controller's only own work is to keep the parts consistent when the model, the image or
the target layer changes. Signals are in :attr:`Sam2Controller.events`.

Coordinates: positions are napari layer-data coordinates of the image layer
(``layer.world_to_data``); planes are (row, col); the engine's (x, y) appears only
inside :mod:`napari_sam2.core.coords`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from napari_sam2.core.autosave import LabelsAutosave
from napari_sam2.core.embeddings import Embeddings
from napari_sam2.core.events import ControllerEvents, StatusLine
from napari_sam2.core.features_cache import FeatureCache
from napari_sam2.core.image_context import ImageContext, ImageOptions
from napari_sam2.core.job_board import JobBoard
from napari_sam2.core.jobs import JobHandle, Runner, SyncRunner
from napari_sam2.core.label_target import LabelTarget
from napari_sam2.core.layout import ImageLayout
from napari_sam2.core.model_slot import ModelSlot
from napari_sam2.core.notify import notify
from napari_sam2.core.state import (
    CommitResult,
    CurrentObject,
    InteractiveSettings,
    PlaneKey,
    PlanePrompts,
    Preview,
    StackKind,
    TrackedObject,
)
from napari_sam2.core.tracked_objects import TrackedObjects
from napari_sam2.core.workspace import Workspace
from napari_sam2.features.automatic import AutomaticSegmentation
from napari_sam2.features.cell_tracking import CellTracking
from napari_sam2.features.interactive import InteractivePrompting
from napari_sam2.features.propagation import Propagation

MODEL_JOBS = ("embed", "preview", "propagate", "automatic", "track")  # work that needs the model


class Sam2Controller:
    """State and actions of SAM 2 segmentation and tracking on napari layers.

    Parameters
    ----------
    runner
        Where model work runs (default: inline, :class:`~napari_sam2.core.jobs.SyncRunner`).
    notify_fn
        ``notify_fn(level, message)`` for user-facing messages (default: napari
        notifications).
    cache
        Embedding cache (default: 1 GiB).

    Attributes
    ----------
    events
        The signals (:class:`~napari_sam2.core.events.ControllerEvents`), emitted on the
        GUI thread only.
    interactive, propagation, automatic_segmentation, cell_tracking
        The features.
    """

    def __init__(
        self,
        runner: Runner | None = None,
        notify_fn: Callable[[str, str], None] | None = None,
        cache: FeatureCache | None = None,
    ) -> None:
        self.events = ControllerEvents()
        self._notify = notify_fn or notify
        self._status = StatusLine(self.events, "Choose an image layer and a model.")
        jobs = JobBoard(runner or SyncRunner(), self._notify, self.events, self._status)
        image = ImageContext()
        models = ModelSlot(jobs, self._status, self._use_model)
        self.ws = Workspace(
            events=self.events,
            status=self._status,
            jobs=jobs,
            image=image,
            models=models,
            embeddings=Embeddings(image, models, jobs, self._status, cache),
            labels=LabelTarget(self.events),
            tracked=TrackedObjects(),
            settings=InteractiveSettings(),
            notify=self._notify,
        )
        self.autosave = LabelsAutosave(
            self.events, self.ws.labels, lambda: getattr(image.layer, "name", None), self._notify
        )
        self.interactive = InteractivePrompting(self.ws)
        self.propagation = Propagation(self.ws)
        self.automatic_segmentation = AutomaticSegmentation(self.ws)
        self.cell_tracking = CellTracking(self.ws)
        self.ws.embeddings.on_ready = self.interactive.embedding_ready
        self.ws.embeddings.waiting_plane = self.interactive.waiting_plane
        self.events.jobs_changed.connect(self._resume_embedding)

    # ================================================================== state (read)
    @property
    def runner(self) -> Runner:
        return self.ws.jobs.runner

    @runner.setter
    def runner(self, runner: Runner) -> None:
        self.ws.jobs.runner = runner

    @property
    def settings(self) -> InteractiveSettings:
        return self.ws.settings

    @property
    def automatic(self) -> Any:
        """Settings of "segment everything" (``sam2_engine.MaskGeneratorSettings``)."""
        return self.automatic_segmentation.settings

    @automatic.setter
    def automatic(self, settings: Any) -> None:
        self.automatic_segmentation.settings = settings

    @property
    def status(self) -> str:
        return self._status.text

    @property
    def model(self) -> Any:
        return self.ws.models.model

    @property
    def model_name(self) -> str | None:
        return self.ws.models.name

    @property
    def image_layer(self) -> Any:
        return self.ws.image.layer

    @property
    def layout(self) -> ImageLayout | None:
        return self.ws.image.layout

    @property
    def normalization(self) -> Any:
        return self.ws.image.normalization

    @property
    def plane(self) -> PlaneKey:
        return self.ws.image.plane

    @property
    def labels_layer(self) -> Any:
        return self.ws.labels.layer

    @property
    def cache(self) -> FeatureCache:
        return self.ws.embeddings.cache

    @property
    def current(self) -> CurrentObject:
        return self.interactive.current

    @property
    def preview(self) -> Preview | None:
        return self.interactive.preview

    @property
    def preview_is_current(self) -> bool:
        return self.interactive.preview_is_current

    @property
    def objects(self) -> dict[int, TrackedObject]:
        return self.ws.tracked.objects

    # ================================================================== jobs
    def is_running(self, kind: str | None = None) -> bool:
        """Whether a job (of ``kind``, or any) is running."""
        return self.ws.jobs.is_running(kind)

    def cancel(self, kind: str | None = None) -> None:
        """Cancel running jobs (all, or one kind). Finished work is kept."""
        self.ws.jobs.cancel(kind)

    def shutdown(self) -> None:
        """Stop everything (viewer or widget closing): cancel jobs, drop late results."""
        group = self.ws.labels.group
        self.ws.jobs.shutdown()
        if group is not None:
            self.ws.labels.close_group(group)

    def notify(self, level: str, message: str) -> None:
        """Show a user-facing message ("info", "warning" or "error")."""
        self._notify(level, message)

    # ================================================================== model
    def set_model(self, model: Any, name: str | None = None) -> None:
        """Use an already built ``SAM2Model`` (drops embeddings and tracking sessions).

        A model still loading in the background (e.g. the bundled model that the widget
        loads when it opens) is cancelled: the explicit choice wins.
        """
        self.ws.models.use(model, name)

    def load_model(self, name: str, device: str | None = None) -> JobHandle | None:
        """Build or download a model in a worker, then use it (one load at a time: see
        :class:`~napari_sam2.core.model_slot.ModelSlot`)."""
        return self.ws.models.load(name, device)

    def _use_model(self, model: Any, name: str) -> None:
        for kind in MODEL_JOBS:
            self.cancel(kind)
        self.ws.embeddings.clear()
        self.propagation.reset_session()
        self.interactive.preview = None
        self.automatic_segmentation.model_changed(model)
        self.events.model_changed.emit(name)
        self._status.set(f"Model {name} ready.")
        self._auto_embed()
        if not self.current.prompts.empty:
            self.interactive.request_preview()

    # ================================================================== image
    def set_image(
        self,
        layer: Any,
        *,
        stack_axis: int | str | None = "auto",
        channel_axis: int | None = None,
        stack_kind: StackKind | str = "auto",
        normalization: str = "auto",
    ) -> None:
        """Segment ``layer`` (a napari Image layer); resets prompts and tracking.

        Parameters
        ----------
        layer
            The Image layer, or None to forget the current one.
        stack_axis
            Tracked axis (time or z), None, or "auto" (the first leading axis).
        channel_axis
            Layer axis holding channels of multichannel data, or None.
        stack_kind
            "time" (propagate forward by default), "z" (both directions) or "auto"
            (guessed from the layer's axis labels, name and scale; see
            :mod:`napari_sam2.core.stack_kind`).
        normalization
            "auto" (8-bit / 255, other dtypes by stack-wide percentiles) or
            "contrast_limits" (the layer's contrast limits: what you see is what the
            model sees).

        Raises
        ------
        ValueError
            The layer cannot be segmented (1D, empty, bad axes, non-numeric data).
        """
        options = ImageOptions(stack_axis, channel_axis, stack_kind, normalization)
        layout = self.ws.image.set(layer, options)  # raises before anything changes
        self._image_changed()
        if layout is None:
            self.events.image_changed.emit()
            return
        self.settings.direction = "both" if layout.stack_kind is StackKind.Z else "forward"
        if not self.ws.labels.fits(layout):
            self.ws.labels.set(None, None)
        self.events.image_changed.emit()
        kind = f", {layout.n_frames} {layout.stack_kind.value} planes" if layout.is_stack else ""
        self._status.set(f"Image {layer.name!r}{kind}.")
        self._auto_embed()

    def _image_changed(self) -> None:
        """Drop what belonged to the previous image: its jobs, queued embeddings,
        tracking session, tracked objects and prompts."""
        for kind in MODEL_JOBS:
            self.cancel(kind)
        self.ws.embeddings.drop_queue()
        self.propagation.reset_session()
        self.ws.tracked.clear()
        self.interactive.reset()
        self.events.prompts_changed.emit()
        self.events.preview_changed.emit()

    def set_position(self, position: Sequence[float]) -> None:
        """The viewer's slider position, in the image layer's data coordinates.

        The status line then speaks of the plane shown (its embedding is ready, being
        computed, or waiting), unless a propagation or "segment everything" runs.
        """
        if self.ws.image.move_to(position):
            self.events.plane_changed.emit()
            self._auto_embed()
            if not self.is_running("propagate") and not self.is_running("automatic"):
                self.ws.embeddings.show_status(self.plane)

    # ================================================================== labels
    def set_labels(self, layer: Any) -> None:
        """Write into this Labels layer (None: create one at the first commit).

        Raises
        ------
        ValueError
            The layer's shape does not fit the image.
        """
        if layer is not self.labels_layer and self.ws.labels.group is not None:
            self.cancel("propagate")
        self.ws.labels.set(layer, self.layout)

    def ensure_labels(self) -> Any:
        """The target Labels layer, created (and announced) if there is none."""
        return self.ws.labels.ensure(self.layout, self.image_layer)

    def next_label(self) -> int:
        """The smallest label above every label in the target layer and every tracked id."""
        return self.ws.next_label()

    def peek_next_label(self) -> int:
        """The label a new object would get, without scanning the Labels layer again."""
        return self.ws.peek_next_label()

    def undo(self) -> None:
        """Undo the last edit of the target Labels layer (napari's history); the
        autosave follows."""
        self.autosave.history_step()
        self.ws.labels.undo()
        self.autosave.request()

    def redo(self) -> None:
        self.autosave.history_step(redo=True)
        self.ws.labels.redo()
        self.autosave.request()

    # ================================================================== embeddings
    def has_embedding(self, plane: PlaneKey | None = None) -> bool:
        return self.ws.embeddings.has(plane or self.plane)

    def ensure_embedding(self, plane: PlaneKey | None = None) -> bool:
        """Make sure ``plane`` (default: current) is encoded; True if it already is."""
        return self.ws.embeddings.ensure(plane or self.plane)

    def _resume_embedding(self) -> None:
        """A job ended: encode the plane shown if a propagation or "segment everything"
        kept it from being encoded (e.g. the image changed while one ran)."""
        if self.ws.jobs.closed or self.is_running("embed"):
            return
        if self.model is not None and self.layout is not None and not self.has_embedding():
            self._auto_embed()

    def _auto_embed(self) -> None:
        if (
            self.settings.auto_embed
            and not self.is_running("propagate")
            and not self.is_running("automatic")
        ):
            self.ws.embeddings.ensure(self.plane)

    # ================================================================== interactive
    def add_point(self, position: Sequence[float], positive: bool | None = None) -> bool:
        """See :meth:`InteractivePrompting.add_point`."""
        return self.interactive.add_point(position, positive)

    def set_box(self, corner_a: Sequence[float], corner_b: Sequence[float]) -> bool:
        """See :meth:`InteractivePrompting.set_box`."""
        return self.interactive.set_box(corner_a, corner_b)

    def set_prompts(self, plane: PlaneKey, prompts: PlanePrompts) -> None:
        self.interactive.set_prompts(plane, prompts)

    def clear_prompts(self) -> None:
        self.interactive.clear_prompts()

    def new_object(self) -> None:
        self.interactive.new_object()

    def select_object(self, obj_id: int | None) -> None:
        self.interactive.select_object(obj_id)

    def toggle_polarity(self) -> bool:
        return self.interactive.toggle_polarity()

    def request_preview(self) -> None:
        self.interactive.request_preview()

    def commit(self, obj_id: int | None = None) -> CommitResult | None:
        """See :meth:`InteractivePrompting.commit`."""
        return self.interactive.commit(obj_id)

    # ================================================================== propagation
    def propagate(self, direction: str | None = None, max_frames: int | None = None) -> bool:
        """See :meth:`Propagation.propagate`."""
        return self.propagation.propagate(direction, max_frames)

    def reset_tracking(self) -> None:
        self.propagation.reset_tracking()

    def track_labels_on_plane(self, ids: list[int] | None = None) -> list[int]:
        """See :meth:`Propagation.track_labels_on_plane`."""
        return self.propagation.track_labels_on_plane(ids)

    # ================================================================== automatic
    def segment_everything(
        self, settings: Any = None, *, method: str | None = None, diameter: float | None = None
    ) -> bool:
        """See :meth:`AutomaticSegmentation.segment_everything`."""
        return self.automatic_segmentation.segment_everything(
            settings, method=method, diameter=diameter
        )
