"""Segment everything: the automatic mask generator on the current plane.

The generator runs in a worker with progress and cancel; its label image is merged into
the target Labels layer with fresh labels, under the overlap policy, as one undo step.
Its settings are the engine's :class:`sam2_engine.MaskGeneratorSettings`, starting from
what the model in use recommends; the user's changes are kept until the model changes.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from napari_sam2.core.jobs import Job, JobContext
from napari_sam2.core.labels_edit import PlaneEdit, read_plane
from napari_sam2.core.state import OverlapPolicy, PlaneKey
from napari_sam2.core.workspace import Workspace


class AutomaticSegmentation:
    """Automatic segmentation of one plane.

    Attributes
    ----------
    settings
        ``sam2_engine.MaskGeneratorSettings`` used by :meth:`segment_everything` when it
        is given none; reset to the model's recommendation when the model changes.
    report
        ``sam2_engine.FilterReport`` of the last run (None before the first).
    """

    def __init__(self, ws: Workspace) -> None:
        import sam2_engine as se

        self._ws = ws
        self.settings: Any = se.MaskGeneratorSettings()
        self.report: Any = None

    def model_changed(self, model: Any) -> None:
        import sam2_engine as se

        self.settings = se.MaskGeneratorSettings.for_model(model)

    def segment_everything(self, settings: Any = None) -> bool:
        """Segment every object of the current plane into the target Labels layer.

        New objects get fresh labels; the overlap policy protects existing ones; the
        result is one undo step.

        Parameters
        ----------
        settings
            ``sam2_engine.MaskGeneratorSettings`` (default: :attr:`settings`); its
            ``min_mask_region_area`` also drops smaller masks from the result.
        """
        ws = self._ws
        settings = settings or self.settings
        if ws.image.layout is None or ws.models.model is None:
            ws.notify("warning", "Choose an image layer and load a model first.")
            return False
        if ws.jobs.is_running("automatic"):
            ws.notify("warning", "Automatic segmentation is already running.")
            return False
        plane, model, token = ws.image.plane, ws.models.model, ws.image.token
        source = ws.image.source(plane)

        def work(ctx: JobContext) -> tuple[np.ndarray, Any]:
            import sam2_engine as se

            gen = se.AutomaticMaskGenerator(model, settings)
            labels = gen.generate_labels(
                source.normalized(plane.frame),
                progress=ctx.report,
                cancel=lambda: ctx.cancelled,
                min_area=settings.min_mask_region_area,
            )
            return labels, gen.report

        def done(found: tuple[np.ndarray, Any]) -> None:
            if token != ws.image.token:
                return
            labels, self.report = found
            n = self._write(plane, np.asarray(labels))
            ws.events.automatic_finished.emit(n)
            ws.status.set(f"Automatic segmentation: {n} object(s) written.")

        ws.status.set(f"Segmenting everything on {ws.image.plane_name(plane)}…")
        ws.jobs.start(
            Job(
                "automatic",
                work,
                on_done=done,
                on_progress=ws.jobs.progress_fn("automatic"),
                description="SAM 2 segment everything",
            )
        )
        return True

    def _write(self, plane: PlaneKey, found: np.ndarray) -> int:
        ws = self._ws
        layout = ws.image.layout
        assert layout is not None
        labels = ws.labels.ensure(layout, ws.image.layer)
        index = layout.labels_index(tuple(labels.data.shape), plane)
        before = read_plane(labels, index)
        offset = ws.next_label() - 1
        fg = found > 0
        if ws.settings.overlap is not OverlapPolicy.OVERWRITE:
            fg &= before == 0
        new = before.copy()
        new[fg] = found[fg].astype(before.dtype) + offset
        rows, cols = np.nonzero(new != before)
        ws.labels.write(index, PlaneEdit(rows, cols, new[rows, cols]), labels)
        ids = np.unique(new[fg])
        ws.labels.ids.written(int(ids.max(initial=0)))
        return int(ids.size)
