"""Track cells: segment and track every cell of a time-lapse, with divisions and lineage.

The tracker of :mod:`sam2_cells` runs in a worker on the image of the SAM 2 setup (a
(time, row, col) stack), seeded automatically, from a Labels layer of one frame, or from
the clicks of a Points layer. Every finished frame comes back to the GUI thread, where it
is copied into a new Labels layer ("SAM 2 cell tracks") and its centroids into the data of
a Tracks layer ("SAM 2 lineage"); cancelling keeps the frames done, and **Continue**
resumes after the last one. Lineage edits (mark or unlink a division, split a track,
re-link a daughter) go through :mod:`sam2_cells.lineage_edits`; each is one undo step of
the Labels layer, pixels and lineage together (:mod:`.lineage_curation`). The layers are
created here but added to the viewer by the viewer bridge (signal ``layers_ready``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
from psygnal import Signal

from napari_sam2.core.jobs import Job, JobContext
from napari_sam2.core.labels_edit import new_labels_data
from napari_sam2.core.layout import labels_transform, layer_data
from napari_sam2.core.workspace import Workspace
from napari_sam2.features.lineage_curation import centroids as _centroids

TRACKS_LABELS_NAME, LINEAGE_NAME = "SAM 2 cell tracks", "SAM 2 lineage"
LINEAGE_REFRESH_FRAMES = 5  # while tracking, the lineage (Tracks layer, table) follows


@dataclass
class TrackingRun:
    """The result of tracking, growing frame by frame.

    Attributes
    ----------
    labels_layer
        Labels layer of the tracks (one label per track).
    tracks
        The lineage (``sam2_cells.TrackRecord`` list) of the frames done.
    frames_done
        Frames written (``0 .. frames_done - 1``).
    state
        What :meth:`CellTracking.run` with ``resume=True`` continues from.
    points
        Per frame, ``{label: (row, col)}`` centroids (the Tracks layer's data).
    work
        The worker's own label array (frames are copied from it to the layer).
    stage
        ``"detected"`` while the cells of each frame are being found (no tracks yet),
        ``"tracked"`` once the frames carry track labels (``sam2_cells.FrameDone.stage``).
    """

    labels_layer: Any
    tracks: list = field(default_factory=list)
    frames_done: int = 0
    state: dict | None = None
    points: dict[int, dict[int, tuple[float, float]]] = field(default_factory=dict)
    work: Any = None
    stage: str = "tracked"

    def tracks_data(self) -> tuple[np.ndarray, dict[int, list[int]]]:
        """(N, 4) ``[track_id, t, row, col]`` rows and the ``{daughter: [mother]}`` graph
        of napari's Tracks layer."""
        rows = [
            (label, t, r, c)
            for t, found in sorted(self.points.items())
            for label, (r, c) in found.items()
        ]
        from sam2_cells import Lineage

        data = np.array(sorted(rows), dtype=float) if rows else np.zeros((0, 4))
        drawn = {int(label) for label in data[:, 0]}
        graph = {  # napari refuses a graph with a track it has no point of
            daughter: mother
            for daughter, mother in Lineage(self.tracks).napari_graph().items()
            if daughter in drawn and mother[0] in drawn
        }
        return data, graph

    def summary(self) -> str:
        """``"12 frame(s) tracked: 30 tracks, 4 divisions."``, or while the cells are
        still being detected (before any linking) ``"6 of 40 frames detected (no tracks
        yet: they are linked once every frame is)."``"""
        if self.stage == "detected":
            total = len(self.labels_layer.data)
            return (
                f"{self.frames_done} of {total} frames detected (no tracks yet: they are "
                "linked once every frame is)."
            )
        divisions = len({t.parent for t in self.tracks if t.parent})
        return (
            f"{self.frames_done} frame(s) tracked: {len(self.tracks)} tracks, "
            f"{divisions} divisions."
        )


class TrackingEvents:
    """``layers_ready(labels_layer)``: add the new layers; ``changed()``: the lineage or
    the frames changed (refresh the Tracks layer and the table)."""

    layers_ready = Signal(object)
    changed = Signal()


class CellTracking:
    """The "Track cells" feature of the controller (see module docstring)."""

    def __init__(self, ws: Workspace) -> None:
        from sam2_cells import TrackerSettings

        self._ws = ws
        self.events = TrackingEvents()
        self.settings = TrackerSettings()
        self._detector: Any = None  # the run's own detector (a Labels layer's stack)
        self.run_state: TrackingRun | None = None
        self._stop_reason: str | None = None  # why a run was stopped, for its finish

    def stop(self, reason: str) -> None:
        """Stop a running tracking job because of ``reason`` (e.g. its layer was removed);
        it finishes with a warning that says so and cannot be continued."""
        if self._ws.jobs.is_running("track"):
            self._stop_reason = reason
            self._ws.jobs.cancel("track")

    # ------------------------------------------------------------------ checks
    def problem(self) -> str | None:
        """Why tracking cannot start now (None: it can)."""
        ws = self._ws
        layout = ws.image.layout
        if layout is None:
            return "Choose a time-lapse in the SAM 2 setup first."
        if not layout.is_stack or layout.fixed_axes:
            return (
                "Track cells needs a (time, rows, columns) image: set its time axis in the "
                "setup (other leading axes are not supported for cell tracking)."
            )
        if ws.models.model is None:
            return "Load a model first."
        if ws.jobs.is_running("track"):
            return "Cell tracking is already running."
        return None

    # ------------------------------------------------------------------ running
    def run(self, seeds: Any = None, resume: bool = False, detections: Any = None) -> bool:
        """Track every cell of the image, in a worker.

        Parameters
        ----------
        seeds
            None (automatic), a napari Labels layer (its labels on the current frame, or a
            2D Labels layer: the cells to track) or a Points layer (one click per cell, on
            the frame it lies on).
        detections
            Where each frame's cells come from: None (``settings.detection``), ``"auto"``,
            ``"model"``, ``"classical"``, or a (time, row, col) Labels layer of your own
            segmentation (only linked). A resumed run keeps the run's source.
        resume
            Continue the last (cancelled) run after its last frame.

        Returns
        -------
        bool
            False when it could not start (the reason is notified).
        """
        from sam2_cells import CellTracker, describe_cell_size

        ws = self._ws
        problem = self.problem()
        last = self.run_state
        if problem is None and resume and (last is None or not last.state or last.work is None):
            problem = "There is no cancelled run to continue."
        if problem:
            ws.notify("warning", problem)
            return False
        layout = ws.image.layout
        assert layout is not None
        movie = layout.frames(layer_data(ws.image.layer), ws.image.plane)
        shape = (layout.n_frames, *layout.plane_shape)
        if not resume:
            seed_spec = self._seeds(seeds, shape)
            self._detector = self._detections(detections, shape)
            self.run_state = TrackingRun(
                self._new_layer(shape), work=new_labels_data(shape), stage="detected"
            )
            self.run_state.labels_layer.lineage_replayed = partial(self._replayed, self.run_state)
            self.events.layers_ready.emit(self.run_state.labels_layer)
        run = self.run_state
        assert run is not None
        tracker = CellTracker(
            ws.models.model,
            self.settings,
            detector=self._detector,
            embedding_cache=ws.embeddings.disk,  # the dock's "Embeddings on disk"
        )
        state = run.state if resume else None
        token, n_frames = ws.image.token, layout.n_frames

        def work(ctx: JobContext):
            steps = tracker.steps(movie, None if resume else seed_spec, run.work, resume=state)
            for done in steps:
                yield done
                if ctx.cancelled:
                    steps.close()
                    return

        def on_frame(done: Any) -> None:
            if token != ws.image.token:
                return
            self._show_frame(run, done)
            ws.events.progress_changed.emit("track", *done.progress)
            if (done.frame + 1) % LINEAGE_REFRESH_FRAMES == 0:
                self.events.changed.emit()

        def finish(cancelled: bool) -> None:
            reason, self._stop_reason = self._stop_reason, None
            if reason is None and token != ws.image.token:
                reason = "the image of the setup was removed or changed"
            if run.frames_done >= n_frames or reason is not None:
                run.state = None  # finished, or its image or layer gone: nothing to continue
                run.work = None  # nor a second (T, H, W) stack to keep for it
            self.events.changed.emit()
            if reason is not None:
                text = (
                    f"Cell tracking stopped: {reason}. {run.summary()} The frames done are "
                    "kept; Track cells starts again."
                )
                ws.status.set(text)
                if not ws.jobs.closed:  # the viewer closing removes every layer: no news
                    ws.notify("warning", text)
                return
            more = " Continue resumes it." if cancelled else ""
            verb = "cancelled" if cancelled else "done"
            size = describe_cell_size(tracker.detector, self.settings.diameter)
            size = f" {size}" if size else ""
            ws.status.set(f"Cell tracking {verb}: {run.summary()}{size}{more}")

        ws.jobs.start(
            Job(
                "track",
                work,
                on_yield=on_frame,
                on_finish=finish,
                total=layout.n_frames,
                description="SAM 2 cell tracking",
            ),
            announce="Tracking cells…" if not resume else "Continuing cell tracking…",
        )
        return True

    def _seeds(self, seeds: Any, shape: tuple[int, int, int]) -> Any:
        from sam2_cells import Seeds

        if seeds is None:
            return Seeds("auto")
        kinds = {c.__name__ for c in type(seeds).__mro__}
        kind = "Labels" if "Labels" in kinds else "Points" if "Points" in kinds else ""
        name = getattr(seeds, "name", "")
        if kind == "Labels":
            data = seeds.data  # one frame is read, not the whole stack
            frame = np.asarray(data if data.ndim == 2 else data[self._ws.image.plane.frame])
            if frame.shape != shape[1:]:
                raise ValueError(
                    f"the seed labels are {frame.shape} but the frames are {shape[1:]} "
                    "(rows, columns): pick a Labels layer of this image"
                )
            if not frame.any():
                raise ValueError(
                    f"the Labels layer {name!r} has no cell on this frame: paint the cells "
                    "to track, go to a frame that has them, or choose automatic seeds"
                )
            return Seeds("labels", labels=frame.astype(np.int32))
        if kind == "Points":
            data = np.asarray(seeds.data, float)
            if len(data) == 0:
                raise ValueError(
                    f"the Points layer {name!r} has no points: click once on each cell to "
                    "track (on the frame it is in), or choose automatic seeds"
                )
            if data.ndim != 2 or data.shape[1] not in (2, 3):
                raise ValueError(
                    f"the Points layer {name!r} has {data.shape[-1]} axes; seed clicks need "
                    "(time, row, column) or (row, column)"
                )
            if data.shape[1] == 2:
                data = np.column_stack([np.zeros(len(data)), data])
            return Seeds("points", points=data)
        raise TypeError(f"seeds must be a Labels or Points layer, got {type(seeds).__name__}")

    def _detections(self, detections: Any, shape: tuple[int, int, int]) -> Any:
        """The detector of a new run (None: the settings' source)."""
        import dataclasses

        from sam2_cells import LabelStackDetector

        if detections is None:
            return None
        if isinstance(detections, str):
            self.settings = dataclasses.replace(self.settings, detection=detections)
            return None
        is_layer = type(detections).__name__ == "Labels"
        data = detections.data if is_layer else detections  # read a frame at a time
        detector = LabelStackDetector(data)
        detector.check(shape)
        return detector

    def _new_layer(self, shape: tuple[int, int, int]) -> Any:
        from napari_sam2.features.track_labels import TrackLabels

        ws = self._ws
        assert ws.image.layout is not None
        layer = TrackLabels(
            new_labels_data(shape),
            name=TRACKS_LABELS_NAME,
            **labels_transform(ws.image.layout, ws.image.layer, len(shape)),
        )
        return layer

    def _show_frame(self, run: TrackingRun, done: Any) -> None:
        layer = run.labels_layer
        layer.data[done.frame] = done.labels  # detections first, then the tracks
        if done.stage == "tracked":
            run.points[done.frame] = _centroids(done.labels)
        run.tracks, run.state, run.frames_done = done.tracks, done.state, done.frame + 1
        run.stage = done.stage
        layer.refresh()

    # ------------------------------------------------------------------ lineage edits
    def mark_division(self, mother: int, frame: int, daughters: list[int]) -> None:
        """``mother`` divides on ``frame`` into ``daughters`` (labels present there)."""
        from sam2_cells import mark_division

        self._edit(lambda tracks: mark_division(tracks, mother, frame, daughters))

    def unlink(self, daughter: int) -> None:
        """Remove the division link of ``daughter``."""
        from sam2_cells import unlink

        self._edit(lambda tracks: (unlink(tracks, daughter), []))

    def relink(self, daughter: int, parent: int) -> None:
        """Make ``parent`` the mother of ``daughter``."""
        from sam2_cells import relink

        if parent == daughter:
            self._ws.notify(
                "warning",
                f"Track {daughter} cannot be its own mother: give the track it divided "
                "from, or 0 for none.",
            )
            return
        self._edit(lambda tracks: (relink(tracks, daughter, parent), []))

    def merge(self, label: int, other: int) -> None:
        """Tracks ``label`` and ``other`` are one cell: the later piece takes the earlier's
        label (see :func:`~.lineage_merge.merge_tracks`)."""
        from napari_sam2.features.lineage_merge import merge_tracks

        self._edit(lambda tracks: merge_tracks(tracks, label, other))

    def split(self, label: int, frame: int) -> None:
        """From ``frame`` on, track ``label`` is a new track."""
        from sam2_cells import split_track

        def edit(tracks: list) -> tuple[list, list]:
            out, steps, _ = split_track(tracks, label, frame)
            return out, steps

        self._edit(edit)

    def _edit(self, edit: Any) -> None:
        from napari_sam2.features.lineage_curation import apply_lineage_edit
        from sam2_cells import LineageError

        run = self.run_state
        if run is None or not run.tracks:
            self._ws.notify("warning", "Track cells first: there is no lineage to edit.")
            return
        if self._ws.jobs.is_running("track"):
            self._ws.notify("warning", "Wait for cell tracking to finish (or cancel it).")
            return
        try:
            apply_lineage_edit(run, edit)
        except LineageError as err:
            self._ws.notify("warning", f"Lineage not changed: {'; '.join(err.problems)}.")
            return
        self.events.changed.emit()
        self._ws.status.set(
            f"Lineage edited: Ctrl-Z on {TRACKS_LABELS_NAME!r} or {LINEAGE_NAME!r} undoes it."
        )

    def _replayed(self, run: TrackingRun, snapshot: Any, undoing: bool) -> None:
        """An undo or redo of ``run``'s Labels layer took back or replayed a lineage edit."""
        from napari_sam2.features.lineage_curation import restore_lineage

        restore_lineage(run, snapshot)
        if run is self.run_state:
            self.events.changed.emit()
        self._ws.status.set("Lineage edit undone." if undoing else "Lineage edit redone.")

    # ------------------------------------------------------------------ saving
    def export(self, kind: str, path: str | Path) -> bool:
        """Save the tracks as a CTC result folder (``"ctc"``) or a GEFF store
        (``"geff"``), in a worker; what the Labels layer shows now is saved."""
        from napari_sam2.features.tracking_export import export_tracks

        ws, run = self._ws, self.run_state
        if run is None or not run.tracks:
            ws.notify("warning", "Track cells first: there is nothing to save.")
            return False
        if ws.jobs.is_running("track"):
            ws.notify("warning", "Wait for cell tracking to finish (or cancel it).")
            return False
        labels = _first_frames(run.labels_layer.data, run.frames_done)  # no 2nd copy
        tracks = list(run.tracks)

        def work(ctx: JobContext) -> Path | str:
            try:
                return export_tracks(labels, tracks, path, kind, progress=ctx.report)
            except (FileExistsError, NotADirectoryError, IsADirectoryError) as err:
                return str(err)  # a refused place: the user's to fix, not a failure

        def done(written: Path | str) -> None:
            if isinstance(written, str):
                ws.status.set(f"Not saved: {written}")
                ws.notify("warning", f"Tracks not saved: {written}")
            else:
                ws.status.set(f"Saved {len(tracks)} tracks to {written}.")

        def failed(err: BaseException) -> None:
            ws.status.set(f"Not saved: {err}")

        ws.jobs.start(
            Job(
                "export",
                work,
                on_done=done,
                on_error=failed,
                total=len(labels),
                description="Saving tracks",
            ),
            announce=f"Saving {len(tracks)} tracks to {path}…",
        )
        return True

    def open_ctc(self, path: str | Path) -> bool:
        """Open a saved CTC result folder of this image as the current run, to go on
        correcting it (its edits undo as those of a run; save it again when done).

        Returns
        -------
        bool
            False when it could not be opened (the reason is notified).
        """
        from sam2_cells import read_ctc_results

        ws = self._ws
        problem = self.problem()
        layout = ws.image.layout
        if problem is None and layout is not None:
            try:
                labels, tracks = read_ctc_results(path)
            except (OSError, ValueError) as err:
                problem = f"{path} is not a CTC result folder ({err})"
            else:
                shape = (layout.n_frames, *layout.plane_shape)
                if tuple(labels.shape) != shape:
                    problem = (
                        f"the result in {path} is {tuple(labels.shape)} (frames, rows, "
                        f"columns) but the image is {shape}: open the result of this image"
                    )
        if problem:
            ws.notify("warning", f"Not opened: {problem}.")
            return False
        run = TrackingRun(self._new_layer(shape), tracks=list(tracks), frames_done=shape[0])
        run.labels_layer.lineage_replayed = partial(self._replayed, run)
        for t in range(shape[0]):
            frame = np.asarray(labels[t], dtype=np.int32)
            run.labels_layer.data[t] = frame
            run.points[t] = _centroids(frame)
        self.run_state = run
        self.events.layers_ready.emit(run.labels_layer)
        self.events.changed.emit()
        ws.status.set(f"Opened {len(tracks)} tracks from {path}: correct them and save again.")
        return True

    # ------------------------------------------------------------------ queries
    def where(self, label: int) -> tuple[int, float, float] | None:
        """(first frame, row, col) of a track, to jump to it."""
        run = self.run_state
        if run is None:
            return None
        for t in sorted(run.points):
            if label in run.points[t]:
                return (t, *run.points[t][label])
        return None


def _first_frames(data: Any, n: int) -> Any:
    """Frames ``0 .. n - 1`` of a (T, H, W) Labels array without reading them: a view of
    a numpy array, else a ``sam2_cells.LazyStack`` that reads a frame when indexed."""
    if isinstance(data, np.ndarray):
        return data[:n]
    if n == len(data):
        return data
    from sam2_cells import LazyStack

    return LazyStack(n, tuple(data.shape[1:3]), data.dtype, lambda t: np.asarray(data[t]))
