"""The "Everything" tool of the SAM 2 dock (automatic mask generation).

Two methods: the model's instance head (one pass and a watershed, for models that have
one, such as the bundled microscopy model; the object diameter is given or estimated)
and a grid of click prompts (every model). The grid's key thresholds are exposed; they
start from what the model in use recommends and follow it when the model changes. After
a run the tool says which method ran and what it found (for the grid: how many
candidate masks, and which filter removed how many). The result goes into the target
Labels layer with fresh labels, under the overlap policy, as one undo step.
"""

from __future__ import annotations

from typing import Any

from magicgui.widgets import ComboBox, Container, FloatSpinBox, Label, PushButton, SpinBox

from napari_sam2._widgets.tools import ToolContext

#: what the tool's choices decide (their tooltips)
TIPS = {
    "method": "instance head: one pass of the model's instance head and a watershed "
    "(fast; models that have one); grid prompts: a grid of single clicks (any model)",
    "diameter": "typical object diameter in image pixels for the instance head; "
    "0 estimates it from the image",
    "points_per_side": "grid of single-click prompts (points_per_side² in all): more finds "
    "smaller objects, costs more decoder passes",
}


class AutomaticTool(Container):
    """Segment every object of the current frame / plane."""

    def __init__(self, context: ToolContext) -> None:
        c = self.controller = context.controller
        super().__init__(labels=False)
        self.margins = (2, 2, 2, 2)
        self.method = ComboBox(label="Method", choices=self._method_choices, tooltip=TIPS["method"])
        self.diameter = FloatSpinBox(
            label="Diameter (px)", min=0.0, max=2000.0, step=1.0, tooltip=TIPS["diameter"]
        )
        self.points_per_side = SpinBox(
            label="Points per side", min=1, max=256, tooltip=TIPS["points_per_side"]
        )
        self.pred_iou = _fraction_box(
            "Predicted IoU ≥", "keep masks the model rates at least this good (0 keeps all)"
        )
        self.stability = _fraction_box(
            "Stability ≥",
            "keep masks that barely change when the logit threshold moves (0 keeps all)",
        )
        self.min_area = SpinBox(
            label="Min area (px)",
            min=0,
            max=10**8,
            tooltip="drop smaller masks; fill holes and remove islands below this area",
        )
        self.crop_layers = SpinBox(
            label="Crop layers",
            min=0,
            max=3,
            tooltip="also segment overlapping zoomed crops (finer objects, slower)",
        )
        self.run_btn = PushButton(text="Segment everything", tooltip="on the current frame / plane")
        self.report_label = Label(value="")
        self.report_label.native.setWordWrap(True)
        params = Container(
            widgets=[
                self.method,
                self.diameter,
                self.points_per_side,
                self.pred_iou,
                self.stability,
                self.min_area,
                self.crop_layers,
            ],
            labels=True,
        )
        params.margins = (0, 0, 0, 0)
        self.extend([params, self.run_btn, self.report_label])
        self.run_btn.changed.connect(self.segment)
        self.method.changed.connect(self._method_shown)
        con = context.connections
        con.connect(c.events.jobs_changed, self._refresh)
        con.connect(c.events.model_changed, self.show_defaults)
        con.connect(c.events.automatic_finished, self._finished)
        self.show_defaults()
        self._refresh()

    def show_defaults(self, _: Any = None) -> None:
        """Show the settings the controller uses (the model's recommendation)."""
        feature = self.controller.automatic_segmentation
        self.method.reset_choices()
        self.method.value = feature.method
        self.diameter.value = feature.diameter or 0.0
        self._method_shown()
        d = self.controller.automatic
        self.points_per_side.value = d.points_per_side or 32
        self.pred_iou.value = d.pred_iou_thresh
        self.stability.value = d.stability_score_thresh
        self.min_area.value = d.min_mask_region_area
        self.crop_layers.value = d.crop_n_layers

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

    def _method_choices(self, _: Any = None) -> list[tuple[str, str]]:
        names = {"instances": "Instance head", "grid": "Grid prompts"}
        return [(names[m], m) for m in self.controller.automatic_segmentation.methods()]

    def _method_shown(self, _: Any = None) -> None:
        grid = self.method.value != "instances"
        self.diameter.visible = not grid
        for w in (self.points_per_side, self.pred_iou, self.stability, self.crop_layers):
            w.visible = grid

    def segment(self, _: Any = None) -> None:
        self.report_label.value = ""
        self.controller.segment_everything(
            self.settings(), method=self.method.value, diameter=self.diameter.value or None
        )

    def _finished(self, written: int) -> None:
        self.report_label.value = self.controller.automatic_segmentation.describe(written)

    def _refresh(self, *_: Any) -> None:
        self.run_btn.enabled = not self.controller.is_running("automatic")


def _fraction_box(label: str, tooltip: str) -> FloatSpinBox:
    """A spin box for a score threshold in [0, 1] (steps of 0.01)."""
    return FloatSpinBox(label=label, min=0.0, max=1.0, step=0.01, tooltip=tooltip)
