"""Propagation through stacks: the tracking half of the controller.

Mixed into :class:`~napari_sam2.controller.Sam2Controller`. Conditioning masks are read
from the Labels layer on the planes where objects were committed or corrected; the
engine session tracks all objects at once; every frame it yields is written on the GUI
thread into the Labels layer inside one :class:`~napari_sam2.labels_edit.EditGroup`
(one undo step, closed on finish, cancel or error).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from napari_sam2.jobs import Job, JobContext
from napari_sam2.labels_edit import EditGroup, plan_plane, read_plane
from napari_sam2.state import PlaneKey
from napari_sam2.tracking import Conditioning, SessionSlot, default_start, propagation_frames

if TYPE_CHECKING:
    from napari_sam2.controller import Sam2Controller


class PropagationMixin:
    """Track committed objects through the stack axis, frame by frame."""

    def conditioning(self: Sam2Controller, fixed: tuple = ()) -> list[Conditioning]:
        """Masks of the tracked objects on their prompted planes, read from the labels."""
        labels = self.labels_layer
        out: list[Conditioning] = []
        if labels is None or self.layout is None:
            return out
        shape = tuple(labels.data.shape)
        for obj in self.objects.values():
            for plane in sorted(obj.conditioning, key=lambda p: p.frame):
                if plane.fixed != fixed:
                    continue
                mask = read_plane(labels, self.layout.labels_index(shape, plane)) == obj.obj_id
                if mask.any():
                    out.append(Conditioning(plane.frame, obj.obj_id, mask))
        return out

    def propagate(
        self: Sam2Controller, direction: str | None = None, max_frames: int | None = None
    ) -> bool:
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
        direction = direction or self.settings.direction
        max_frames = max_frames if max_frames is not None else self.settings.max_frames
        if direction not in ("forward", "backward", "both"):
            raise ValueError(f"direction must be forward, backward or both, got {direction!r}")
        problem = self._propagation_problem()
        if problem:
            self._notify("warning", problem)
            return False
        assert self.layout is not None
        fixed = self.plane.fixed
        cond = self.conditioning(fixed)
        if not cond:
            self._notify(
                "warning",
                "Nothing to propagate: commit at least one object on a frame of this stack.",
            )
            return False
        frames = sorted({c.frame for c in cond})
        start = self.plane.frame if self.plane.frame in frames else None
        first = start if start is not None else default_start(frames, direction)
        total = propagation_frames(self.layout.n_frames, first, direction, max_frames)
        slot = self._session_slot(fixed)
        labels = self.labels_layer
        group = EditGroup(labels).open()
        self._group = group
        token = self._token
        prompted = {}
        for c in cond:
            prompted.setdefault(c.obj_id, set()).add(c.frame)
        state = {"frames": 0}

        def work(ctx: JobContext):
            slot.sync(cond)
            for result in slot.session.propagate(start, direction, max_frames):
                yield result
                if ctx.cancelled:
                    return

        def on_frame(result: Any) -> None:
            if token != self._token or self.labels_layer is not labels:
                return
            self._write_frame(result, fixed, prompted, group)
            state["frames"] += 1
            self.progress_changed.emit("propagate", state["frames"], total)

        def finish(cancelled: bool) -> None:
            group.close()
            if self._group is group:
                self._group = None
            self.propagation_finished.emit(state["frames"], cancelled)
            verb = "cancelled after" if cancelled else "done:"
            self._set_status(f"Propagation {verb} {state['frames']} frame(s) written.")

        self._set_status(f"Propagating {direction} from frame {first}…")
        self._start(
            Job(
                "propagate",
                work,
                on_yield=on_frame,
                on_finish=finish,
                total=total,
                description="SAM 2 propagation",
            )
        )
        return True

    def _propagation_problem(self: Sam2Controller) -> str | None:
        if self.layout is None:
            return "Choose an image layer first."
        if not self.layout.is_stack:
            return "Propagation needs a stack: set the time or z axis of the image."
        if self.model is None:
            return "Load a model first."
        if self.labels_layer is None:
            return "Commit an object first (there is no Labels layer yet)."
        if self.is_running("propagate"):
            return "A propagation is already running."
        return None

    def _session_slot(self: Sam2Controller, fixed: tuple) -> SessionSlot:
        from sam2_engine import VideoPredictor

        key = (self._token, id(self.model), fixed)
        if self._slot is None or self._slot.key != key:
            predictor = VideoPredictor(self.model, non_overlapping=True)
            self._slot = SessionSlot(key, predictor.start(self._source(PlaneKey(0, fixed))))
        return self._slot

    def reset_tracking(self: Sam2Controller) -> None:
        """Forget tracked objects and the session's memory (labels are untouched)."""
        self.cancel("propagate")
        self.objects.clear()
        self._slot = None
        self._set_status("Tracking reset: commit objects to track them again.")

    def _write_frame(
        self: Sam2Controller,
        result: Any,
        fixed: tuple,
        prompted: dict[int, set[int]],
        group: EditGroup,
    ) -> None:
        assert self.layout is not None
        masks = [
            (oid, result.masks[i])
            for i, oid in enumerate(result.obj_ids)
            if result.frame not in prompted.get(oid, ())
        ]
        if not masks:
            return
        labels = group.layer
        index = self.layout.labels_index(tuple(labels.data.shape), PlaneKey(result.frame, fixed))
        edit = plan_plane(read_plane(labels, index), masks, self.settings.overlap)
        group.write(index, edit)
