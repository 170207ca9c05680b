"""Segment everything: the automatic mask generator on the current plane.

Mixed into :class:`~napari_sam2.controller.Sam2Controller`. The generator runs in a
worker with progress and cancel; its label image is merged into the target Labels layer
with fresh labels, under the overlap policy, as one undo step.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from napari_sam2.jobs import Job, JobContext
from napari_sam2.labels_edit import PlaneEdit, read_plane
from napari_sam2.state import AutomaticSettings, OverlapPolicy, PlaneKey

if TYPE_CHECKING:
    from napari_sam2.controller import Sam2Controller


class AutomaticMixin:
    """Automatic segmentation of one plane."""

    def segment_everything(self: Sam2Controller, settings: AutomaticSettings | None = None) -> bool:
        """Segment every object of the current plane into the target Labels layer.

        New objects get fresh labels; the overlap policy protects existing ones; the
        result is one undo step.
        """
        settings = settings or self.automatic
        if self.layout is None or self.model is None:
            self._notify("warning", "Choose an image layer and load a model first.")
            return False
        if self.is_running("automatic"):
            self._notify("warning", "Automatic segmentation is already running.")
            return False
        plane, source, model, token = self.plane, self._source(self.plane), self.model, self._token

        def work(ctx: JobContext) -> np.ndarray:
            from sam2_engine import AutomaticMaskGenerator, Normalization

            rgb = source.frame(plane.frame)
            gen = AutomaticMaskGenerator(
                model,
                points_per_side=settings.points_per_side,
                points_per_batch=settings.points_per_batch,
                pred_iou_thresh=settings.pred_iou_thresh,
                stability_score_thresh=settings.stability_score_thresh,
                box_nms_thresh=settings.box_nms_thresh,
                crop_n_layers=settings.crop_n_layers,
                min_mask_region_area=settings.min_area,
                normalization=Normalization("none", clip=False),
            )
            return gen.generate_labels(
                rgb,
                channel_axis=-1,
                progress=ctx.report,
                cancel=lambda: ctx.cancelled,
                min_area=settings.min_area,
            )

        def done(found: np.ndarray) -> None:
            if token != self._token:
                return
            n = self._write_automatic(plane, np.asarray(found))
            self.automatic_finished.emit(n)
            self._set_status(f"Automatic segmentation: {n} object(s) written.")

        self._set_status(f"Segmenting everything on {self._plane_name(plane)}…")
        self._start(
            Job(
                "automatic",
                work,
                on_done=done,
                on_progress=self._progress_fn("automatic"),
                description="SAM 2 segment everything",
            )
        )
        return True

    def _write_automatic(self: Sam2Controller, plane: PlaneKey, found: np.ndarray) -> int:
        assert self.layout is not None
        labels = self.ensure_labels()
        index = self.layout.labels_index(tuple(labels.data.shape), plane)
        before = read_plane(labels, index)
        offset = self.next_label() - 1
        fg = found > 0
        if self.settings.overlap is not OverlapPolicy.OVERWRITE:
            fg &= before == 0
        new = before.copy()
        new[fg] = found[fg].astype(before.dtype) + offset
        rows, cols = np.nonzero(new != before)
        self._write(labels, index, PlaneEdit(rows, cols, new[rows, cols]))
        ids = np.unique(new[fg])
        self._max_id, self._peek = max(self._max_id, int(ids.max(initial=0))), None
        return int(ids.size)
