"""Propagation through stacks: track the committed objects through time or z.

Conditioning masks are read from the Labels layer on the planes where objects were
committed or corrected; the engine session tracks all objects at once; every frame it
yields is written on the GUI thread into the Labels layer inside one
:class:`~napari_sam2.core.labels_edit.EditGroup` (one undo step, closed on finish,
cancel or error). Which frames a propagation visits is the engine's rule
(``sam2_engine.propagation_order``), not repeated here.

Through z the session runs the engine's z profile (``VideoPredictor(model, axis="z")``:
an object ends where it fades or its mask jumps to another nucleus); through time the
defaults (no ending rule). Which one follows the image's stack kind, time or z (guessed
from the layer's axis labels, name and scale, and shown as a choice in the setup).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from napari_sam2.core.jobs import Job, JobContext
from napari_sam2.core.labels_edit import EditGroup, plan_plane, read_plane
from napari_sam2.core.state import PlaneKey, StackKind
from napari_sam2.core.workspace import Workspace
from napari_sam2.features.session_slot import Conditioning, SessionSlot


class Propagation:
    """Track every committed object through the stack axis, frame by frame."""

    def __init__(self, ws: Workspace) -> None:
        self._ws = ws
        self._slot: SessionSlot | None = None

    def reset_session(self) -> None:
        """Drop the engine session (new image or model): its memory no longer applies."""
        self._slot = None

    def conditioning(self, fixed: tuple = ()) -> list[Conditioning]:
        """Masks of the tracked objects on their prompted planes, read from the labels."""
        ws = self._ws
        labels, layout = ws.labels.layer, ws.image.layout
        out: list[Conditioning] = []
        if labels is None or layout is None:
            return out
        shape = tuple(labels.data.shape)
        for obj in ws.tracked:
            for plane in sorted(obj.conditioning, key=lambda p: p.frame):
                if plane.fixed != fixed:
                    continue
                mask = read_plane(labels, layout.labels_index(shape, plane)) == obj.obj_id
                if mask.any():
                    out.append(Conditioning(plane.frame, obj.obj_id, mask))
        return out

    def propagate(self, direction: str | None = None, max_frames: int | None = None) -> bool:
        """Track every committed object through the stack, writing frame by frame.

        Starts at the current frame when it holds a committed mask (a correction),
        otherwise at the earliest prompted frame (the latest for ``"backward"``).
        Results go into the Labels layer as they arrive, as ONE undo step; cancelling
        keeps every finished frame.

        Returns
        -------
        bool
            False when propagation could not start (the reason is notified).
        """
        import sam2_engine as se

        ws = self._ws
        direction = direction or ws.settings.direction
        max_frames = max_frames if max_frames is not None else ws.settings.max_frames
        if direction not in se.DIRECTIONS:
            raise ValueError(f"direction must be forward, backward or both, got {direction!r}")
        problem = self._problem()
        if problem:
            ws.notify("warning", problem)
            return False
        layout = ws.image.layout
        assert layout is not None
        plane = ws.image.plane
        cond = self.conditioning(plane.fixed)
        if not cond:
            ws.notify(
                "warning",
                "Nothing to propagate: commit at least one object on a frame of this stack.",
            )
            return False
        prompted = sorted({c.frame for c in cond})
        start = plane.frame if plane.frame in prompted else None
        order = se.propagation_order(layout.n_frames, prompted, start, direction, max_frames)
        slot = self._session_slot(plane.fixed)
        labels = ws.labels.layer
        group = ws.labels.open_group()
        token = ws.image.token
        prompted_by_object: dict[int, set[int]] = {}
        for c in cond:
            prompted_by_object.setdefault(c.obj_id, set()).add(c.frame)
        written = [0]

        def work(ctx: JobContext):
            slot.sync(cond)
            for result in slot.session.propagate(start, direction, max_frames):
                yield result
                if ctx.cancelled:
                    return

        def on_frame(result: Any) -> None:
            if token != ws.image.token or ws.labels.layer is not labels:
                return
            self._write_frame(result, plane.fixed, prompted_by_object, group)
            written[0] += 1
            ws.events.progress_changed.emit("propagate", written[0], len(order))

        def finish(cancelled: bool) -> None:
            ws.labels.close_group(group)
            ws.events.propagation_finished.emit(written[0], cancelled)
            verb = "cancelled after" if cancelled else "done:"
            ws.status.set(f"Propagation {verb} {written[0]} frame(s) written.")

        ws.status.set(f"Propagating {direction} from frame {order[0]}…")
        ws.jobs.start(
            Job(
                "propagate",
                work,
                on_yield=on_frame,
                on_finish=finish,
                total=len(order),
                description="SAM 2 propagation",
            )
        )
        return True

    def _problem(self) -> str | None:
        ws = self._ws
        if ws.image.layout is None:
            return "Choose an image layer first."
        if not ws.image.layout.is_stack:
            return "Propagation needs a stack: set the time or z axis of the image."
        if ws.models.model is None:
            return "Load a model first."
        if ws.labels.layer is None:
            return "Commit an object first (there is no Labels layer yet)."
        if ws.jobs.is_running("propagate"):
            return "A propagation is already running."
        return None

    def axis(self) -> str:
        """``"z"`` when the image's stack axis is z (the setup's "Track axis ... is"
        choice, guessed from the layer), else ``"time"``: the engine profile a
        propagation runs with (:meth:`sam2_engine.video.settings.SessionSettings.for_axis`)."""
        layout = self._ws.image.layout
        return "z" if layout is not None and layout.stack_kind is StackKind.Z else "time"

    def _session_slot(self, fixed: tuple) -> SessionSlot:
        import sam2_engine as se

        ws = self._ws
        axis = self.axis()
        key = (ws.image.token, id(ws.models.model), fixed, axis)
        if self._slot is None or self._slot.key != key:
            predictor = se.VideoPredictor(  # "Embeddings on disk" covers propagation too
                ws.models.model,
                non_overlapping=True,
                embedding_cache=ws.embeddings.disk,
                axis=axis,  # z: objects end where they end in z (the engine's z profile)
            )
            source = ws.image.source(PlaneKey(0, fixed))
            self._slot = SessionSlot(key, predictor.start(source))
        return self._slot

    def reset_tracking(self) -> None:
        """Forget tracked objects and the session's memory (labels are untouched)."""
        ws = self._ws
        ws.jobs.cancel("propagate")
        ws.tracked.clear()
        self._slot = None
        ws.status.set("Tracking reset: commit objects to track them again.")

    def track_labels_on_plane(self, ids: list[int] | None = None) -> list[int]:
        """Track objects already in the Labels layer on the current plane (e.g. painted
        by hand or from another tool): their masks there become conditioning masks."""
        ws = self._ws
        layout, labels = ws.image.layout, ws.labels.layer
        if layout is None or labels is None or not layout.is_stack:
            ws.notify("warning", "Needs a stack image and a Labels layer with objects.")
            return []
        plane = ws.image.plane
        index = layout.labels_index(tuple(labels.data.shape), plane)
        present = [int(v) for v in np.unique(read_plane(labels, index)) if v != 0]
        chosen = present if ids is None else [i for i in ids if i in present]
        for oid in chosen:
            ws.tracked.mark(oid, plane)
        ws.status.set(f"{len(chosen)} object(s) on {ws.image.plane_name(plane)} will be tracked.")
        return chosen

    def _write_frame(
        self,
        result: Any,
        fixed: tuple,
        prompted: dict[int, set[int]],
        group: EditGroup,
    ) -> None:
        layout = self._ws.image.layout
        assert layout is not None
        masks = [
            (oid, result.masks[i])
            for i, oid in enumerate(result.obj_ids)
            if result.frame not in prompted.get(oid, ())
        ]
        if not masks:
            return
        labels = group.layer
        index = layout.labels_index(tuple(labels.data.shape), PlaneKey(result.frame, fixed))
        edit = plan_plane(read_plane(labels, index), masks, self._ws.settings.overlap)
        group.write(index, edit)
