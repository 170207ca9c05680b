"""The Qt-free controller: napari layers in, engine calls, Labels edits out.

:class:`Sam2Controller` holds the plugin's state (model, image layout, the object being
prompted, its preview, the tracked objects) and turns user actions into
:class:`~napari_sam2.jobs.Job` objects. Model work runs in the job's ``work`` function,
off the GUI thread; results come back through callbacks on the GUI thread, where the
controller edits layers. It imports neither Qt nor a viewer: the dock widget, the
console API and the tests drive the same object (the tests with a
:class:`~napari_sam2.jobs.SyncRunner`).

Coordinates: positions are napari layer-data coordinates of the image layer
(``layer.world_to_data``); planes are (row, col); the engine's (x, y) appears only
inside :mod:`napari_sam2.coords`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from psygnal import Signal

from napari_sam2.automatic_segmentation import AutomaticMixin
from napari_sam2.features_cache import CachedFeatures, FeatureCache
from napari_sam2.jobs import Job, JobContext, JobHandle, Runner, SyncRunner
from napari_sam2.labels_edit import (
    EditGroup,
    max_label,
    new_labels_data,
)
from napari_sam2.layout import ImageLayout, labels_transform, layer_data
from napari_sam2.notify import notify
from napari_sam2.prompting import PromptingMixin
from napari_sam2.propagation import PropagationMixin
from napari_sam2.state import (
    AutomaticSettings,
    CurrentObject,
    InteractiveSettings,
    PlaneKey,
    Preview,
    StackKind,
    TrackedObject,
)
from napari_sam2.torch_guard import guard_triton_import
from napari_sam2.tracking import SessionSlot

log = logging.getLogger(__name__)

HELPER_KEY = "napari_sam2"  # layer.metadata key marking the plugin's own layers
LABELS_NAME = "SAM 2 labels"


class Sam2Controller(PromptingMixin, PropagationMixin, AutomaticMixin):
    """State and actions of SAM 2 segmentation and tracking on napari layers.

    Parameters
    ----------
    runner
        Where model work runs (default: inline, :class:`~napari_sam2.jobs.SyncRunner`).
    notify_fn
        ``notify_fn(level, message)`` for user-facing messages (default: napari
        notifications).
    cache
        Embedding cache (default: 1 GiB).

    Notes
    -----
    Signals (psygnal) are emitted on the GUI thread only.
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

    def __init__(
        self,
        runner: Runner | None = None,
        notify_fn: Callable[[str, str], None] | None = None,
        cache: FeatureCache | None = None,
    ) -> None:
        self.runner: Runner = runner or SyncRunner()
        self._notify = notify_fn or notify
        self.settings = InteractiveSettings()
        self.automatic = AutomaticSettings()
        self.cache = cache or FeatureCache()
        self.model: Any = None
        self.model_name: str | None = None
        self.image_layer: Any = None
        self.layout: ImageLayout | None = None
        self.normalization: Any = None
        self.labels_layer: Any = None
        self.plane = PlaneKey()
        self.current = CurrentObject()
        self.preview: Preview | None = None
        self.objects: dict[int, TrackedObject] = {}
        self.status = "Choose an image layer and a model."
        self._token = 0
        self._sources: dict[tuple, Any] = {}
        self._slot: SessionSlot | None = None
        self._jobs: dict[str, JobHandle] = {}
        self._queued_model: tuple[str, str | None] | None = None
        self._embedding: PlaneKey | None = None
        self._embed_next: PlaneKey | None = None
        self._preview_again = False
        self._commit_pending = False
        self._group: EditGroup | None = None
        self._max_id = 0
        self._max_scanned = False
        self._peek: int | None = None
        self._closed = False

    # ================================================================== jobs
    def is_running(self, kind: str | None = None) -> bool:
        """Whether a job (of ``kind``, or any) is running."""
        if kind is None:
            return any(h.running for h in self._jobs.values())
        handle = self._jobs.get(kind)
        return handle is not None and handle.running

    def cancel(self, kind: str | None = None) -> None:
        """Cancel running jobs (all, or one kind). Finished work is kept."""
        for name, handle in list(self._jobs.items()):
            if (kind is None or name == kind) and handle.running:
                handle.cancel()

    def shutdown(self) -> None:
        """Stop everything (viewer or widget closing): cancel jobs, drop late results."""
        self._closed = True
        self.cancel()
        if self._group is not None:
            self._group.close()
            self._group = None
        self.runner.shutdown()

    def _start(self, job: Job) -> JobHandle:
        """Register and start a job; its callbacks are guarded against late calls."""
        handle = JobHandle(job, JobContext())
        finish, user_error = job.on_finish, job.on_error

        def on_finish(cancelled: bool) -> None:
            self._guard(finish, cancelled)
            self.jobs_changed.emit()

        def on_error(err: BaseException) -> None:
            log.error("%s job failed", job.kind, exc_info=err)
            if not self._closed:
                self._notify("error", f"SAM 2 {job.kind} failed: {err}")
                self._guard(user_error, err)

        job.on_finish = on_finish
        job.on_error = on_error
        job.on_yield = self._guarded(job.on_yield)
        job.on_done = self._guarded(job.on_done)
        job.on_progress = self._guarded(job.on_progress)
        self._jobs[job.kind] = handle
        self.jobs_changed.emit()
        guard_triton_import()
        return self.runner.start(job, handle)

    def _guarded(self, fn: Callable | None) -> Callable | None:
        if fn is None:
            return None

        def call(*args: Any) -> None:
            if not self._closed:
                self._guard(fn, *args)

        return call

    def _guard(self, fn: Callable | None, *args: Any) -> None:
        if fn is None:
            return
        try:
            fn(*args)
        except Exception as err:  # never let a late callback break the GUI thread
            log.exception("SAM 2 callback failed")
            self._notify("error", f"SAM 2: {err}")
            if isinstance(self.runner, SyncRunner) and self.runner.raise_errors:
                raise

    def _set_status(self, text: str) -> None:
        self.status = text
        self.status_changed.emit(text)

    # ================================================================== model
    def set_model(self, model: Any, name: str | None = None) -> None:
        """Use an already built ``SAM2Model`` (drops embeddings and tracking sessions).

        A model still loading in the background (e.g. the bundled demo model that the
        widget loads when it opens) is cancelled: the explicit choice wins.
        """
        self._queued_model = None
        self.cancel("model")
        self._use_model(model, name)

    def _use_model(self, model: Any, name: str | None) -> None:
        for kind in ("embed", "preview", "propagate", "automatic"):
            self.cancel(kind)
        self.model = model
        self.model_name = name or getattr(getattr(model, "cfg", None), "name", "model")
        self.cache.clear()
        self._slot = None
        self.preview = None
        self.model_changed.emit(self.model_name)
        self._set_status(f"Model {self.model_name} ready.")
        self._auto_embed()
        if not self.current.prompts.empty:
            self.request_preview()

    def load_model(self, name: str, device: str | None = None) -> JobHandle | None:
        """Build or download a model in a worker, then :meth:`set_model` it.

        One model loads at a time: while another is loading it is cancelled (its result
        is dropped) and this one starts when that worker has returned. Returns the job
        handle, or None when the load is queued behind the running one. (Two loads in
        two napari workers at once were seen to hang, one of them inside torch.load.)
        """
        running = self._jobs.get("model")
        if running is not None and running.running:
            running.cancel()
            self._queued_model = (name, device)
            self._set_status(f"Loading model {name} after the current one…")
            return None
        self._queued_model = None
        return self._start_model_job(name, device)

    def _start_queued_model(self, _cancelled: bool) -> None:
        queued, self._queued_model = self._queued_model, None
        if queued is not None and not self._closed:
            self._start_model_job(*queued)

    def _start_model_job(self, name: str, device: str | None) -> JobHandle:
        from napari_sam2.models import load_model

        def work(ctx: JobContext) -> Any:
            return load_model(
                name, device, progress=_bytes_reporter(ctx), cancel=lambda: ctx.cancelled
            )

        self._set_status(f"Loading model {name}…")
        return self._start(
            Job(
                "model",
                work,
                on_done=lambda model: self._use_model(model, name),
                on_error=lambda err: self._set_status(f"Could not load {name}."),
                on_finish=self._start_queued_model,
                on_progress=self._progress_fn("model"),
                description=f"Loading {name}",
            )
        )

    # ================================================================== image
    def set_image(
        self,
        layer: Any,
        *,
        stack_axis: int | str | None = "auto",
        channel_axis: int | None = None,
        stack_kind: StackKind | str = StackKind.TIME,
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
            "time" (propagate forward by default) or "z" (both directions).
        normalization
            "auto" (8-bit / 255, other dtypes by stack-wide percentiles) or
            "contrast_limits" (the layer's contrast limits: what you see is what the
            model sees).

        Raises
        ------
        ValueError
            The layer cannot be segmented (1D, empty, bad axes, non-numeric data).
        """
        from sam2_engine import Normalization

        if layer is None:
            self._reset_image(None, None, None)
            self.image_changed.emit()
            return
        data = layer_data(layer)
        dtype = np.dtype(data.dtype)
        if dtype.kind not in "biuf":
            raise ValueError(f"layer {layer.name!r} holds {dtype} data; SAM 2 needs numbers")
        layout = ImageLayout.from_layer(
            layer, stack_axis=stack_axis, channel_axis=channel_axis, stack_kind=stack_kind
        )
        if normalization == "contrast_limits":
            lo, hi = (float(v) for v in layer.contrast_limits)
            norm = Normalization("fixed", vmin=lo, vmax=hi if hi > lo else lo + 1)
        elif normalization == "auto":
            norm = Normalization()
        else:
            raise ValueError(
                f"normalization must be 'auto' or 'contrast_limits', got {normalization!r}"
            )
        self._reset_image(layer, layout, norm)
        self.settings.direction = "both" if layout.stack_kind is StackKind.Z else "forward"
        if self.labels_layer is not None:
            try:
                layout.check_labels_shape(tuple(self.labels_layer.data.shape))
            except ValueError:
                self.labels_layer = None
                self.labels_changed.emit()
        self.image_changed.emit()
        kind = f", {layout.n_frames} {layout.stack_kind.value} planes" if layout.is_stack else ""
        self._set_status(f"Image {layer.name!r}{kind}.")
        self._auto_embed()

    def _reset_image(self, layer: Any, layout: ImageLayout | None, norm: Any) -> None:
        for kind in ("embed", "preview", "propagate", "automatic"):
            self.cancel(kind)
        self.image_layer, self.layout, self.normalization = layer, layout, norm
        self._token += 1
        self._sources.clear()
        self._slot = None
        self.objects.clear()
        self.current = CurrentObject()
        self.preview = None
        self._embed_next = None
        self.plane = PlaneKey() if layout is None else layout.plane_at(np.zeros(layout.ndim))
        self.prompts_changed.emit()
        self.preview_changed.emit()

    def set_position(self, position: Sequence[float]) -> None:
        """The viewer's slider position, in the image layer's data coordinates."""
        if self.layout is None:
            return
        plane = self.layout.plane_at(np.asarray(position, dtype=float))
        if plane != self.plane:
            self.plane = plane
            self.plane_changed.emit()
            self._auto_embed()

    def _source(self, plane: PlaneKey) -> Any:
        """The lazy, normalised frame source through ``plane`` (one per fixed position)."""
        from sam2_engine import FrameSource

        assert self.layout is not None
        src = self._sources.get(plane.fixed)
        if src is None:
            frames = self.layout.frames(layer_data(self.image_layer), plane)
            src = FrameSource(
                frames,
                channel_axis=3 if frames.ndim == 4 else None,
                normalization=self.normalization,
            )
            self._sources[plane.fixed] = src
        return src

    # ================================================================== labels
    def set_labels(self, layer: Any) -> None:
        """Write into this Labels layer (None: create one at the first commit)."""
        if layer is not None and self.layout is not None:
            self.layout.check_labels_shape(tuple(layer.data.shape))
        if layer is not self.labels_layer:
            if self._group is not None:
                self.cancel("propagate")
            self.labels_layer = layer
            self._max_id, self._max_scanned, self._peek = 0, False, None
            self.labels_changed.emit()

    def ensure_labels(self) -> Any:
        """The target Labels layer, created (and announced) if there is none."""
        if self.labels_layer is not None:
            return self.labels_layer
        if self.layout is None:
            raise RuntimeError("choose an image layer first")
        from napari.layers import Labels

        shape = self.layout.default_labels_shape()
        data = new_labels_data(shape)
        meta = {HELPER_KEY: "labels"}
        if not isinstance(data, np.ndarray):
            meta["zarr_path"] = str(data.store)
        layer = Labels(
            data,
            name=LABELS_NAME,
            metadata=meta,
            **labels_transform(self.layout, self.image_layer, len(shape)),
        )
        self.labels_layer = layer
        self._max_id, self._max_scanned, self._peek = 0, False, None
        self.labels_created.emit(layer)
        self.labels_changed.emit()
        return layer

    def next_label(self) -> int:
        """The smallest label above every label in the target layer and every tracked id.

        numpy labels are scanned each time (ids freed by an undo are reused); lazy
        (zarr) labels are scanned once, then followed through the plugin's own writes.
        """
        layer = self.labels_layer
        used = 0
        if layer is not None:
            if isinstance(layer.data, np.ndarray):
                used = max_label(layer.data)
            else:
                if not self._max_scanned:
                    self._max_id = max(self._max_id, max_label(layer.data))
                    self._max_scanned = True
                used = self._max_id
        return max(used, max(self.objects, default=0)) + 1

    def peek_next_label(self) -> int:
        """The label a new object would get, without scanning the Labels layer again."""
        if self._peek is None:
            self._peek = self.next_label()
        return self._peek

    def notify(self, level: str, message: str) -> None:
        """Show a user-facing message ("info", "warning" or "error")."""
        self._notify(level, message)

    def undo(self) -> None:
        """Undo the last edit of the target Labels layer (napari's history)."""
        if self.labels_layer is not None:
            self.labels_layer.undo()

    def redo(self) -> None:
        if self.labels_layer is not None:
            self.labels_layer.redo()

    # ================================================================== embedding
    def _feature_key(self, plane: PlaneKey) -> tuple:
        return (self._token, id(self.model), plane)

    def has_embedding(self, plane: PlaneKey | None = None) -> bool:
        return self._feature_key(plane or self.plane) in self.cache

    def _auto_embed(self) -> None:
        if (
            self.settings.auto_embed
            and not self.is_running("propagate")
            and not self.is_running("automatic")
        ):
            self.ensure_embedding(self.plane)

    def ensure_embedding(self, plane: PlaneKey | None = None) -> bool:
        """Make sure ``plane`` (default: current) is encoded; True if it already is.

        Otherwise an embedding job starts, or ``plane`` is queued behind the running one
        (only the latest request waits: scrubbing a slider encodes one plane at a time).
        """
        plane = plane or self.plane
        if self.model is None or self.layout is None:
            return False
        key = self._feature_key(plane)
        if key in self.cache:
            return True
        if self.is_running("embed"):
            if self._embedding != plane:
                self._embed_next = plane
            return False
        source, model, token = self._source(plane), self.model, self._token

        def work(ctx: JobContext) -> CachedFeatures:
            from sam2_engine import ImagePredictor, Normalization

            rgb = source.frame(plane.frame)
            predictor = ImagePredictor(model, normalization=Normalization("none", clip=False))
            predictor.set_image(rgb, channel_axis=-1)
            feats = predictor.features
            return CachedFeatures(feats, tuple(rgb.shape[:2]), feats.nbytes())

        def done(item: CachedFeatures) -> None:
            if token == self._token and model is self.model:
                self.cache.put(key, item)
                self._set_status(f"Embedding of {self._plane_name(plane)} ready: click to segment.")
                if self.current.plane == plane and not self.current.prompts.empty:
                    self.request_preview()

        def finish(cancelled: bool) -> None:
            self._embedding = None
            nxt, self._embed_next = self._embed_next, None
            if self._closed:
                return
            if nxt is not None:
                self.ensure_embedding(nxt)
            cur = self.current  # prompts waiting on a plane that a newer request displaced
            if cur.plane is not None and not cur.prompts.empty and not self.is_running("embed"):
                self.ensure_embedding(cur.plane)

        self._embedding = plane
        self._set_status(f"Computing the embedding of {self._plane_name(plane)}…")
        self._start(
            Job(
                "embed",
                work,
                on_done=done,
                on_finish=finish,
                description=f"SAM 2 embedding ({self._plane_name(plane)})",
            )
        )
        return False

    def _plane_name(self, plane: PlaneKey) -> str:
        if self.layout is None or not self.layout.is_stack:
            return "the image"
        return f"{self.layout.stack_kind.value} {plane.frame}"

    # ================================================================== helpers
    def _progress_fn(self, kind: str) -> Callable[[int, int], None]:
        return lambda done, total: self.progress_changed.emit(kind, done, total)


def _bytes_reporter(ctx: JobContext) -> Callable[[int, int | None], None]:
    def report(done: int, total: int | None) -> None:
        ctx.report(done // (1 << 20), (total or 0) // (1 << 20))

    return report
