"""Interactive prompting: clicks and boxes, decoder previews, commits into the Labels layer.

Positions are image-layer data coordinates; (row, col) becomes the engine's (x, y) only
in :func:`napari_sam2.core.coords.prompts_to_engine`. The decoder runs on the plane's
cached embedding (see :class:`~napari_sam2.core.embeddings.Embeddings`), so a click
costs a decoder pass only.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence

import numpy as np

from napari_sam2.core.coords import prompts_to_engine
from napari_sam2.core.jobs import Job, JobContext
from napari_sam2.core.labels_edit import offset_edit, plan_plane, read_plane, region_index
from napari_sam2.core.state import (
    CommitResult,
    CurrentObject,
    PlaneKey,
    PlanePrompts,
    PointPrompt,
    Preview,
)
from napari_sam2.core.workspace import Workspace

NOTHING_FOUND = (
    "The model found no object at this click (its mask is empty), so nothing was "
    "written. Click nearer the object's centre, add a box (Shift-drag) or more clicks, or "
    "try another model."
)


class InteractivePrompting:
    """The object being prompted, its preview, and commits.

    Attributes
    ----------
    current
        The object being prompted (its id, plane and prompts).
    preview
        The latest decoded mask of the current prompts, or None.
    """

    def __init__(self, ws: Workspace) -> None:
        self._ws = ws
        self.current = CurrentObject()
        self.preview: Preview | None = None
        self._commit_pending = False
        self._preview_again = False

    # ------------------------------------------------------------------ state
    def reset(self) -> None:
        """Forget the object and its preview (a new image)."""
        self.current = CurrentObject()
        self.preview = None
        self._commit_pending = False

    def waiting_plane(self) -> PlaneKey | None:
        """The plane whose prompts wait for an embedding, if any."""
        cur = self.current
        return cur.plane if cur.plane is not None and not cur.prompts.empty else None

    def _ready(self) -> bool:
        if self._ws.image.layout is None:
            self._ws.notify("warning", "Choose an image layer in the SAM 2 widget first.")
            return False
        return True

    def _move_to_plane(self, plane: PlaneKey) -> None:
        if self.current.plane != plane:
            if not self.current.prompts.empty:
                self._ws.status.set("Prompts of the other plane were dropped (not committed).")
            self.current.prompts = PlanePrompts()
            self.current.plane = plane
            self.preview = None

    # ------------------------------------------------------------------ prompts
    def add_point(self, position: Sequence[float], positive: bool | None = None) -> bool:
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
        if not self._ready():
            return False
        ws = self._ws
        layout = ws.image.layout
        assert layout is not None
        pos = ws.image.full_position(position)
        row, col = float(pos[-2]), float(pos[-1])
        if not layout.contains_rc(row, col):
            h, w = layout.plane_shape
            ws.notify(
                "warning",
                f"The click (row {row:.0f}, col {col:.0f}) is outside the image "
                f"({h} rows x {w} columns); it was ignored.",
            )
            return False
        plane = layout.plane_at(pos)
        if positive is None:
            positive = not ws.settings.negative_by_default
        self._move_to_plane(plane)
        if self.current.prompts.empty and self.current.obj_id is None and positive:
            self._maybe_select_clicked_object(plane, row, col)
        self.current.prompts.points.append(PointPrompt(row, col, bool(positive)))
        self._edited()
        return True

    def set_box(self, corner_a: Sequence[float], corner_b: Sequence[float]) -> bool:
        """Use the rectangle between two layer-data positions as the box prompt."""
        if not self._ready():
            return False
        image = self._ws.image
        assert image.layout is not None
        a, b = image.full_position(corner_a), image.full_position(corner_b)
        h, w = image.layout.plane_shape
        r0, r1 = sorted((float(a[-2]), float(b[-2])))
        c0, c1 = sorted((float(a[-1]), float(b[-1])))
        if r1 < -0.5 or c1 < -0.5 or r0 > h - 0.5 or c0 > w - 0.5 or r1 - r0 < 1 or c1 - c0 < 1:
            self._ws.notify("warning", "The box is empty or outside the image; it was ignored.")
            return False
        r0, c0 = max(r0, -0.5), max(c0, -0.5)
        r1, c1 = min(r1, h - 0.5), min(c1, w - 0.5)
        self._move_to_plane(image.layout.plane_at(a))
        self.current.prompts.box = (r0, c0, r1, c1)
        self._edited()
        return True

    def set_prompts(self, plane: PlaneKey, prompts: PlanePrompts) -> None:
        """Replace the current object's prompts (e.g. after points were edited by hand)."""
        self._move_to_plane(plane)
        self.current.prompts = prompts
        self._edited()

    def _maybe_select_clicked_object(self, plane: PlaneKey, row: float, col: float) -> None:
        ws = self._ws
        labels = ws.labels.layer
        if not ws.settings.click_selects_object or labels is None:
            return
        assert ws.image.layout is not None
        index = ws.image.layout.labels_index(tuple(labels.data.shape), plane)
        value = int(np.asarray(labels.data[(*index[:-2], round(row), round(col))]))
        if value > 0:
            self.current.obj_id = value
            ws.notify(
                "info",
                f"Correcting object {value} (you clicked on it): Commit replaces its mask on "
                "this plane. Clear (Esc) or New object (N) leaves it as it is.",
            )
            ws.status.set(f"Correcting object {value}: its mask on this plane will be replaced.")

    def _edited(self) -> None:
        self.current.version += 1
        self._ws.events.prompts_changed.emit()
        self.request_preview()

    def clear_prompts(self) -> None:
        """Drop the current object's clicks, box and preview (labels are untouched).

        This also ends a correction: the next click starts a new object (correcting
        an existing one again takes a click on it or its id in "Object id").
        """
        corrected = self.current.obj_id
        self.current.obj_id = None
        self.current.prompts = PlanePrompts()
        self.current.version += 1
        self.preview = None
        self._commit_pending = False
        if corrected is not None:
            self._ws.status.set(f"Object {corrected} is left as it is; the next click starts a "
                                "new object.")
        self._ws.events.prompts_changed.emit()
        self._ws.events.preview_changed.emit()

    def new_object(self) -> None:
        """Start a new object (the next free label) and drop uncommitted prompts."""
        self.current.obj_id = None
        self.clear_prompts()
        self._ws.status.set("New object: click on it.")

    def select_object(self, obj_id: int | None) -> None:
        """Prompt an existing object (to correct it); None or 0 means a new object."""
        self.current.obj_id = int(obj_id) if obj_id else None
        self._ws.events.prompts_changed.emit()

    def toggle_polarity(self) -> bool:
        """Flip the default polarity of plain clicks; returns True if now negative."""
        s = self._ws.settings
        s.negative_by_default = not s.negative_by_default
        mode = "negative (background)" if s.negative_by_default else "positive"
        self._ws.status.set(f"Clicks are now {mode}.")
        return s.negative_by_default

    # ------------------------------------------------------------------ preview
    def request_preview(self) -> None:
        """Decode the current prompts (decoder only) into :attr:`preview`."""
        ws, cur = self._ws, self.current
        if cur.prompts.empty or cur.plane is None:
            if self.preview is not None:
                self.preview = None
                ws.events.preview_changed.emit()
            return
        if ws.models.model is None:
            ws.status.set("Load a model to see the mask.")
            return
        if ws.jobs.is_running("preview"):
            self._preview_again = True
            return
        cached = ws.embeddings.get(cur.plane)
        if cached is None:
            if ws.embeddings.failed():
                ws.status.set(
                    "SAM 2 could not encode this image (see the message): fix its data, then "
                    "choose the image again."
                )
                return
            ws.embeddings.ensure(cur.plane)
            return
        points, labels, box = prompts_to_engine(cur.prompts)
        multimask = (
            ws.settings.multimask_single_click and box is None and len(cur.prompts.points) == 1
        )
        model, plane, version = ws.models.model, cur.plane, cur.version

        def work(ctx: JobContext) -> Preview:
            result = cached.predictor_for(model).predict(
                points, labels, box=box, multimask=multimask
            )
            best = int(np.argmax(result.scores))
            score = float(result.scores[best])
            crop = result.crop
            if crop is None:  # whole-image decoding: the mask is the plane
                return Preview(plane, result.masks[best], score, version)
            # window mode: keep the window's pixels only (big images: no full-size mask)
            return Preview(plane, crop.masks[best], score, version, crop.top, crop.left,
                           crop.frame_hw)

        def done(preview: Preview) -> None:
            if preview.version == self.current.version and preview.plane == self.current.plane:
                self.preview = preview
                if not preview.any():
                    ws.status.set("The model found no object at this point: click nearer its "
                                  "centre or draw a box.")
                ws.events.preview_changed.emit()
                if self._commit_pending:
                    self.commit()

        def finish(cancelled: bool) -> None:
            if self._preview_again and not ws.jobs.closed:
                self._preview_again = False
                self.request_preview()

        ws.jobs.start(Job("preview", work, on_done=done, on_finish=finish))

    def embedding_ready(self, plane: PlaneKey) -> None:
        """A plane's embedding arrived: decode prompts that wait for it."""
        if self.current.plane == plane and not self.current.prompts.empty:
            self.request_preview()

    @property
    def preview_is_current(self) -> bool:
        p = self.preview
        return p is not None and p.version == self.current.version and p.plane == self.current.plane

    # ------------------------------------------------------------------ commit
    def commit(self, obj_id: int | None = None) -> CommitResult | None:
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
        ws = self._ws
        if self.current.prompts.empty:
            ws.notify("info", "Nothing to commit: click on an object first.")
            return None
        if not self.preview_is_current:
            self._commit_pending = True
            ws.status.set("Committing as soon as the mask is ready…")
            if not ws.jobs.is_running("preview") and not ws.jobs.is_running("embed"):
                self.request_preview()
            return None
        self._commit_pending = False
        layout = ws.image.layout
        assert self.preview is not None and layout is not None
        preview = self.preview
        plane = preview.plane
        if not preview.any():
            ws.notify("warning", NOTHING_FOUND)
            return None
        labels = ws.labels.ensure(layout, ws.image.layer)
        correcting = bool(obj_id or self.current.obj_id)
        oid = int(obj_id or self.current.obj_id or ws.next_label())
        index = layout.labels_index(tuple(labels.data.shape), plane)
        # a new object has no earlier pixels: only the preview's region is read and
        # written (a window of a big slide); a corrected one may have pixels anywhere
        region = None if correcting else preview.region
        top, left = (0, 0) if region is None else (region[0].start, region[1].start)
        mask = preview.mask if region is None else preview.region_mask
        before = read_plane(labels, region_index(index, region))
        edit = plan_plane(before, [(oid, mask)], ws.settings.overlap)
        ws.labels.write(index, offset_edit(edit, top, left), labels)
        after = before.copy()
        after[edit.rows, edit.cols] = edit.values
        result = CommitResult(
            oid,
            plane,
            int(np.count_nonzero(after[mask] == oid)),
            edit.kept,
            removed=int(np.count_nonzero((before == oid) & (after != oid))),
            overwritten=int(np.count_nonzero((before > 0) & (before != oid) & (after == oid))),
        )
        ws.labels.ids.written(oid)
        if layout.is_stack:
            ws.tracked.mark(oid, plane)
        self.current = CurrentObject(plane=plane, version=self.current.version + 1)
        self.preview = None
        with contextlib.suppress(Exception):
            labels.selected_label = ws.next_label()
        ws.events.prompts_changed.emit()
        ws.events.preview_changed.emit()
        ws.events.committed.emit(result)
        self._tell(result, moved=not np.any((before == oid) & mask))
        return result

    def _tell(self, result: CommitResult, moved: bool) -> None:
        """Say what a commit did, with a warning when committed pixels were lost."""
        ws, oid = self._ws, result.obj_id
        if result.written == 0:
            ws.notify(
                "warning",
                f"Object {oid} was not written: every pixel of its mask belongs to other "
                f"objects (overlap policy {ws.settings.overlap.value!r}). Choose 'overwrite "
                "others' under Overlap, or click on a free part of the object.",
            )
            return
        if result.removed and moved:
            ws.notify(
                "warning",
                f"Object {oid} moved: its earlier mask on this plane ({result.removed} pixels) "
                "was replaced by the new one. Undo (Ctrl-Z) brings it back; to add a new "
                "object instead, press New object (N) before clicking.",
            )
        notes = [f"{result.written} pixels"]
        if result.removed:
            notes.append(f"{result.removed} earlier pixels replaced")
        if result.kept:
            notes.append(f"{result.kept} pixels of other objects kept")
        if result.overwritten:
            notes.append(f"{result.overwritten} pixels of other objects overwritten")
        verb = "Corrected" if result.removed else "Committed"
        ws.status.set(f"{verb} object {oid} ({', '.join(notes)}).")
