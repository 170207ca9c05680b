"""The "SAM 2 segment everything" dock widget (automatic mask generation).

Same setup panel and controller as the interactive widget; the key thresholds of the
automatic mask generator are exposed. The result goes into the target Labels layer
with fresh labels, under the overlap policy, as one undo step.
"""

from __future__ import annotations

from typing import Any

from magicgui.widgets import Container, FloatSpinBox, Label, PushButton, SpinBox

from napari_sam2._widgets.common import Connections, ProgressRow, viewer_bridge
from napari_sam2._widgets.setup_panel import SetupPanel


class AutomaticWidget(Container):
    """Segment every object of the current frame / plane.

    Parameters
    ----------
    napari_viewer
        The viewer (napari passes it).
    """

    def __init__(self, napari_viewer: Any) -> None:
        self.bridge = viewer_bridge(napari_viewer)
        c = self.controller = self.bridge.controller
        super().__init__(labels=False)
        self.connections = Connections(self, self.bridge)
        self.setup = SetupPanel(napari_viewer, self.bridge, self.connections)
        d = c.automatic  # the model's recommended generator settings
        self.points_per_side = SpinBox(
            label="Points per side",
            value=d.points_per_side,
            min=1,
            max=256,
            tooltip="grid of single-click prompts (points_per_side² in all): more finds "
            "smaller objects, costs more decoder passes",
        )
        self.pred_iou = FloatSpinBox(
            label="Predicted IoU ≥",
            value=d.pred_iou_thresh,
            min=0.0,
            max=1.0,
            step=0.01,
            tooltip="keep masks the model rates at least this good (0 keeps all)",
        )
        self.stability = FloatSpinBox(
            label="Stability ≥",
            value=d.stability_score_thresh,
            min=0.0,
            max=1.0,
            step=0.01,
            tooltip="keep masks that barely change when the logit threshold moves (0 keeps all)",
        )
        self.min_area = SpinBox(
            label="Min area (px)",
            value=d.min_mask_region_area,
            min=0,
            max=10**8,
            tooltip="drop smaller masks; fill holes and remove islands below this area",
        )
        self.crop_layers = SpinBox(
            label="Crop layers",
            value=d.crop_n_layers,
            min=0,
            max=3,
            tooltip="also segment overlapping zoomed crops (finer objects, slower)",
        )
        self.run_btn = PushButton(text="Segment everything", tooltip="on the current frame / plane")
        self.progress_row = ProgressRow()
        params = Container(
            widgets=[
                self.points_per_side,
                self.pred_iou,
                self.stability,
                self.min_area,
                self.crop_layers,
            ],
            labels=True,
        )
        self.extend(
            [self.setup, Label(value="<b>Automatic</b>"), params, self.run_btn, self.progress_row]
        )
        self.run_btn.changed.connect(self.segment)
        self.progress_row.cancel.changed.connect(lambda: c.cancel("automatic"))
        con = self.connections
        con.connect(c.events.jobs_changed, self._refresh)
        con.connect(c.events.status_changed, self.progress_row.show_status)
        con.connect(
            c.events.progress_changed,
            lambda kind, done, total: (
                self.progress_row.show_progress(done, total) if kind == "automatic" else None
            ),
        )
        self._refresh()
        self.setup.select_default_image()

    def settings(self) -> Any:
        """The generator settings as the controller takes them
        (``sam2_engine.MaskGeneratorSettings``)."""
        return self.controller.automatic.replace(
            points_per_side=int(self.points_per_side.value),
            pred_iou_thresh=float(self.pred_iou.value),
            stability_score_thresh=float(self.stability.value),
            min_mask_region_area=int(self.min_area.value),
            crop_n_layers=int(self.crop_layers.value),
        )

    def segment(self, _: Any = None) -> None:
        self.controller.segment_everything(self.settings())

    def _refresh(self, *_: Any) -> None:
        c = self.controller
        running = [k for k in ("model", "embed", "automatic") if c.is_running(k)]
        self.progress_row.show_jobs(running)
        self.run_btn.enabled = not c.is_running("automatic")
