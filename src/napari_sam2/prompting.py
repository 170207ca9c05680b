"""Prompting, previews and commits: the interactive half of the controller.

Mixed into :class:`~napari_sam2.controller.Sam2Controller`; the state it uses (the
current object, its preview, the embedding cache) is created there. Positions are
image-layer data coordinates; (row, col) becomes the engine's (x, y) only in
:func:`napari_sam2.coords.prompts_to_engine`.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from napari_sam2.coords import prompts_to_engine
from napari_sam2.jobs import Job, JobContext
from napari_sam2.labels_edit import PlaneEdit, plan_plane, read_plane, write_plane
from napari_sam2.state import (
    CommitResult,
    CurrentObject,
    PlaneKey,
    PlanePrompts,
    PointPrompt,
    Preview,
    TrackedObject,
)

if TYPE_CHECKING:
    from napari_sam2.controller import Sam2Controller


class PromptingMixin:
    """Clicks, boxes, decoder previews and commits into the Labels layer."""

    def _full_position(self: Sam2Controller, position: Sequence[float]) -> np.ndarray:
        assert self.layout is not None
        pos = np.asarray(position, dtype=float).ravel()
        if pos.size == 2 and self.layout.ndim > 2:
            return self.layout.position_of(self.plane, pos[0], pos[1])
        if pos.size != self.layout.ndim:
            raise ValueError(
                f"a position needs {self.layout.ndim} coordinates (or (row, col)), "
                f"got {pos.tolist()}"
            )
        return pos

    def _ready_for_prompts(self: Sam2Controller) -> bool:
        if self.layout is None:
            self._notify("warning", "Choose an image layer in the SAM 2 widget first.")
            return False
        return True

    def _move_to_plane(self: Sam2Controller, plane: PlaneKey) -> None:
        if self.current.plane != plane:
            if not self.current.prompts.empty:
                self._set_status("Prompts of the other plane were dropped (not committed).")
            self.current.prompts = PlanePrompts()
            self.current.plane = plane
            self.preview = None

    def add_point(
        self: Sam2Controller, position: Sequence[float], positive: bool | None = None
    ) -> bool:
        """Add a click at a layer-data position (or (row, col) on the current plane).

        Parameters
        ----------
        position
            Image-layer data coordinates (all axes), or (row, col) on the current plane.
        positive
            True: object; False: background; None: the default polarity
            (``settings.negative_by_default``).

        Returns
        -------
        bool
            False when the click was refused (no image, outside the image).
        """
        if not self._ready_for_prompts():
            return False
        assert self.layout is not None
        pos = self._full_position(position)
        row, col = float(pos[-2]), float(pos[-1])
        if not self.layout.contains_rc(row, col):
            h, w = self.layout.plane_shape
            self._notify(
                "warning",
                f"The click (row {row:.0f}, col {col:.0f}) is outside the image "
                f"({h} rows x {w} columns); it was ignored.",
            )
            return False
        plane = self.layout.plane_at(pos)
        if positive is None:
            positive = not self.settings.negative_by_default
        self._move_to_plane(plane)
        if self.current.prompts.empty and self.current.obj_id is None and positive:
            self._maybe_select_clicked_object(plane, row, col)
        self.current.prompts.points.append(PointPrompt(row, col, bool(positive)))
        self._prompts_edited()
        return True

    def set_box(self: Sam2Controller, corner_a: Sequence[float], corner_b: Sequence[float]) -> bool:
        """Use the rectangle between two layer-data positions as the box prompt."""
        if not self._ready_for_prompts():
            return False
        assert self.layout is not None
        a, b = self._full_position(corner_a), self._full_position(corner_b)
        h, w = self.layout.plane_shape
        r0, r1 = sorted((float(a[-2]), float(b[-2])))
        c0, c1 = sorted((float(a[-1]), float(b[-1])))
        if r1 < -0.5 or c1 < -0.5 or r0 > h - 0.5 or c0 > w - 0.5 or r1 - r0 < 1 or c1 - c0 < 1:
            self._notify("warning", "The box is empty or outside the image; it was ignored.")
            return False
        r0, c0 = max(r0, -0.5), max(c0, -0.5)
        r1, c1 = min(r1, h - 0.5), min(c1, w - 0.5)
        self._move_to_plane(self.layout.plane_at(a))
        self.current.prompts.box = (r0, c0, r1, c1)
        self._prompts_edited()
        return True

    def set_prompts(self: Sam2Controller, plane: PlaneKey, prompts: PlanePrompts) -> None:
        """Replace the current object's prompts (e.g. after points were edited by hand)."""
        self._move_to_plane(plane)
        self.current.prompts = prompts
        self._prompts_edited()

    def _maybe_select_clicked_object(
        self: Sam2Controller, plane: PlaneKey, row: float, col: float
    ) -> None:
        if not self.settings.click_selects_object or self.labels_layer is None:
            return
        assert self.layout is not None
        index = self.layout.labels_index(tuple(self.labels_layer.data.shape), plane)
        r, c = round(row), round(col)
        value = int(np.asarray(self.labels_layer.data[(*index[:-2], r, c)]))
        if value > 0:
            self.current.obj_id = value
            self._set_status(f"Correcting object {value}: its mask on this plane will be replaced.")

    def _prompts_edited(self: Sam2Controller) -> None:
        self.current.version += 1
        self.prompts_changed.emit()
        self.request_preview()

    def clear_prompts(self: Sam2Controller) -> None:
        """Drop the current object's clicks, box and preview (labels are untouched)."""
        self.current.prompts = PlanePrompts()
        self.current.version += 1
        self.preview = None
        self._commit_pending = False
        self.prompts_changed.emit()
        self.preview_changed.emit()

    def new_object(self: Sam2Controller) -> None:
        """Start a new object (the next free label) and drop uncommitted prompts."""
        self.current.obj_id = None
        self.clear_prompts()
        self._set_status("New object: click on it.")

    def select_object(self: Sam2Controller, obj_id: int | None) -> None:
        """Prompt an existing object (to correct it); None or 0 means a new object."""
        self.current.obj_id = int(obj_id) if obj_id else None
        self.prompts_changed.emit()

    def toggle_polarity(self: Sam2Controller) -> bool:
        """Flip the default polarity of plain clicks; returns True if now negative."""
        self.settings.negative_by_default = not self.settings.negative_by_default
        mode = "negative (background)" if self.settings.negative_by_default else "positive"
        self._set_status(f"Clicks are now {mode}.")
        return self.settings.negative_by_default

    # ================================================================== preview
    def request_preview(self: Sam2Controller) -> None:
        """Decode the current prompts (decoder only) into :attr:`preview`."""
        cur = self.current
        if cur.prompts.empty or cur.plane is None:
            if self.preview is not None:
                self.preview = None
                self.preview_changed.emit()
            return
        if self.model is None:
            self._set_status("Load a model to see the mask.")
            return
        if self.is_running("preview"):
            self._preview_again = True
            return
        cached = self.cache.get(self._feature_key(cur.plane))
        if cached is None:
            self.ensure_embedding(cur.plane)
            return
        points, labels, box = prompts_to_engine(cur.prompts)
        multimask = (
            self.settings.multimask_single_click and box is None and len(cur.prompts.points) == 1
        )
        model, plane, version = self.model, cur.plane, cur.version

        def work(ctx: JobContext) -> Preview:
            from sam2_engine import ImagePredictor

            predictor = ImagePredictor(model)
            predictor.set_features(cached.features, [cached.plane_hw])
            result = predictor.predict(points, labels, box=box, multimask=multimask)
            best = int(np.argmax(result.scores))
            return Preview(plane, result.masks[best], float(result.scores[best]), version)

        def done(preview: Preview) -> None:
            if preview.version == self.current.version and preview.plane == self.current.plane:
                self.preview = preview
                self.preview_changed.emit()
                if self._commit_pending:
                    self.commit()

        def finish(cancelled: bool) -> None:
            if self._preview_again and not self._closed:
                self._preview_again = False
                self.request_preview()

        self._start(Job("preview", work, on_done=done, on_finish=finish))

    @property
    def preview_is_current(self: Sam2Controller) -> bool:
        p = self.preview
        return p is not None and p.version == self.current.version and p.plane == self.current.plane

    # ================================================================== commit
    def commit(self: Sam2Controller, obj_id: int | None = None) -> CommitResult | None:
        """Write the preview into the target Labels layer (one undo step).

        Parameters
        ----------
        obj_id
            Label to use; default: the object being corrected, else the next free label.

        Returns
        -------
        CommitResult or None
            None when there is nothing to commit yet (the commit then happens as soon as
            the pending preview arrives).
        """
        if self.current.prompts.empty:
            self._notify("info", "Nothing to commit: click on an object first.")
            return None
        if not self.preview_is_current:
            self._commit_pending = True
            self._set_status("Committing as soon as the mask is ready…")
            if not self.is_running("preview") and not self.is_running("embed"):
                self.request_preview()
            return None
        self._commit_pending = False
        assert self.preview is not None and self.layout is not None
        labels = self.ensure_labels()
        oid = int(obj_id or self.current.obj_id or self.next_label())
        plane, mask = self.preview.plane, self.preview.mask
        index = self.layout.labels_index(tuple(labels.data.shape), plane)
        before = read_plane(labels, index)
        edit = plan_plane(before, [(oid, mask)], self.settings.overlap)
        self._write(labels, index, edit)
        after = before.copy()
        after[edit.rows, edit.cols] = edit.values
        result = CommitResult(oid, plane, int(np.count_nonzero(after[mask] == oid)), edit.kept)
        self._max_id, self._peek = max(self._max_id, oid), None
        if self.layout.is_stack:
            self.objects.setdefault(oid, TrackedObject(oid)).conditioning.add(plane)
        self.current = CurrentObject(plane=plane, version=self.current.version + 1)
        self.preview = None
        with contextlib.suppress(Exception):
            labels.selected_label = self.next_label()
        self.prompts_changed.emit()
        self.preview_changed.emit()
        self.committed.emit(result)
        if result.written == 0:
            self._notify(
                "warning",
                f"Object {oid} was not written: its pixels belong to other objects "
                f"(overlap policy {self.settings.overlap.value!r}).",
            )
        else:
            kept = f", {result.kept} pixels of other objects kept" if result.kept else ""
            self._set_status(f"Committed object {oid} ({result.written} pixels{kept}).")
        return result

    def _write(self: Sam2Controller, labels: Any, index: tuple, edit: PlaneEdit) -> None:
        if self._group is not None and self._group.layer is labels:
            self._group.write(index, edit)
        else:
            write_plane(labels, index, edit)

    def track_labels_on_plane(self: Sam2Controller, ids: Sequence[int] | None = None) -> list[int]:
        """Track objects already in the Labels layer on the current plane (e.g. painted
        by hand or from another tool): their masks there become conditioning masks."""
        if self.layout is None or self.labels_layer is None or not self.layout.is_stack:
            self._notify("warning", "Needs a stack image and a Labels layer with objects.")
            return []
        index = self.layout.labels_index(tuple(self.labels_layer.data.shape), self.plane)
        present = [int(v) for v in np.unique(read_plane(self.labels_layer, index)) if v != 0]
        chosen = present if ids is None else [i for i in ids if i in present]
        for oid in chosen:
            self.objects.setdefault(oid, TrackedObject(oid)).conditioning.add(self.plane)
        self._set_status(
            f"{len(chosen)} object(s) on {self._plane_name(self.plane)} will be tracked."
        )
        return chosen
