"""The "Fine-tune" tool of the SAM 2 dock: train the model on your Image + Labels layers.

A thin view of
:class:`~napari_sam2.features.finetuning.controller.FinetuneController`. The image, its
axes, the base model and the device are the dock's shared setup; this tool adds the
Labels layer to learn from, the list of pairs, the training settings and the result.
Start calls ``start()`` (which refuses bad input before anything runs), Cancel calls
``cancel()``; progress arrives on the GUI thread through the controller's signals and
updates the text, the plot and the progress bar. Training runs in a napari worker thread.
"""

from __future__ import annotations

import contextlib
import re
from typing import Any

from magicgui.widgets import (
    CheckBox,
    ComboBox,
    Container,
    FileEdit,
    Label,
    LineEdit,
    ProgressBar,
    PushButton,
    Select,
    SpinBox,
)

from napari_sam2._widgets.common import form, hbox
from napari_sam2._widgets.loss_plot import LossPlot
from napari_sam2._widgets.tools import ToolContext
from napari_sam2.features.finetuning.controller import FinetuneController
from napari_sam2.features.finetuning.data import LayerPair, pair_arrays
from napari_sam2.features.finetuning.presets import DEFAULT_FOLDER, FREEZE_GROUPS, FinetuneSettings
from napari_sam2.features.finetuning.progress_text import format_progress
from napari_sam2.viewer.helper_layers import layer_choices

IMAGE_SIZES = (256, 384, 512, 640, 768, 1024)
FREEZE_TIP = (
    "keep the image encoder (Hiera, ~80 % of the model's compute) fixed and train only the "
    "prompt encoder, mask decoder and memory modules: on a CPU this is several times faster "
    "and needs far less memory, and with a few annotated images it also overfits less. "
    "Untick on a GPU with enough data to adapt the features themselves"
)


class FinetuneTool(Container):
    """Fine-tune the setup's model on pairs of Image and Labels layers."""

    fills_height = True  # the loss plot takes the spare height

    def __init__(self, context: ToolContext) -> None:
        from napari_sam2._widgets.qt_runner import QtRunner

        self._context = context
        self._setup = context.setup
        self._viewer = context.viewer
        self._steps_per_epoch: int | None = None
        self._auto_paired = False
        settings = self._preset()
        self.controller = FinetuneController(runner=QtRunner(), settings=settings)
        super().__init__(labels=False)
        self.margins = (2, 2, 2, 2)
        self._build(settings)
        self._wire(context.connections)
        self._apply_device_defaults(settings)
        self.refresh_summary()

    # ------------------------------------------------------------------ layout
    def _build(self, s: FinetuneSettings) -> None:
        self.labels_combo = ComboBox(
            label="Train on",
            choices=self._labels_choices,
            nullable=True,
            tooltip="instance labels of the setup's image (0 = background, 1, 2, ... = "
            "objects); in a stack an object keeps its id from frame to frame",
        )
        self.add_btn = PushButton(
            text="Add image + labels",
            tooltip="train on the setup's image (its axes as set there) and these labels",
        )
        self.remove_btn = PushButton(text="Remove selected")
        self.pairs_list = Select(label="Pairs", choices=self._pair_choices)
        self.pairs_list.native.setMaximumHeight(52)
        self.data_label = _wrapping_label()
        self.epochs_spin = SpinBox(label="Epochs", value=s.epochs, min=1, max=100_000)
        self.steps_label = Label(value="")
        self.lr_edit = LineEdit(
            label="Learning rate",
            value=f"{s.lr:g}",
            tooltip="peak learning rate of the decoder, prompt encoder and memory modules",
        )
        self.size_combo = ComboBox(
            label="Size",
            choices=[("model's own", 0)] + [(f"{n} px", n) for n in IMAGE_SIZES],
            tooltip="input side of the model while training and afterwards: 512 is about "
            "4x cheaper than 1024 and suits most microscopy images",
        )
        self.freeze_encoder_box = CheckBox(text="Freeze image encoder", tooltip=FREEZE_TIP)
        self.freeze_memory_box = CheckBox(
            text="Freeze memory",
            tooltip="keep memory attention and memory encoder fixed (tracking stays as it "
            "is); only useful for 2D images",
        )
        self.folder_edit = FileEdit(label="Output folder", mode="d", value=str(DEFAULT_FOLDER))
        self.name_edit = LineEdit(
            label="Model name",
            value=_free_name(),
            tooltip="the model is saved as <folder>/<name>.pt and listed under this name",
        )
        self.replace_box = CheckBox(text="Replace", tooltip="replace a model of that name")
        self.start_btn = PushButton(
            text="Start fine-tuning", tooltip="starts from the setup's model, on its device"
        )
        self.cancel_btn = PushButton(
            text="Cancel", tooltip="stop after the current step; the weights so far are kept"
        )
        self.cancel_btn.enabled = False
        self.use_btn = PushButton(
            text="Use in SAM 2", tooltip="load the new model in the setup and go to Segment"
        )
        self.use_btn.enabled = False
        self.bar = ProgressBar(value=0, min=0, max=1, label="")
        self.status_label = _wrapping_label()
        self.plot = LossPlot()
        self.extend(
            [
                hbox(self.labels_combo, self.add_btn, labels=True),
                hbox(self.pairs_list, self.remove_btn, labels=True),
                self.data_label,
                hbox(self.epochs_spin, self.steps_label, labels=True),
                hbox(self.lr_edit, self.size_combo, labels=True),
                hbox(self.freeze_encoder_box, self.freeze_memory_box),
                form(self.folder_edit),
                hbox(self.name_edit, self.replace_box, labels=True),
                hbox(self.start_btn, self.cancel_btn, self.use_btn),
                self.bar,
                self.status_label,
            ]
        )
        self.native.layout().addWidget(self.plot, 1)  # the plot takes the spare height

    def _wire(self, con: Any) -> None:
        c = self.controller
        self.add_btn.changed.connect(self.add_pair)
        self.remove_btn.changed.connect(self.remove_selected)
        self.epochs_spin.changed.connect(self._show_steps)
        self.start_btn.changed.connect(self.start)
        self.cancel_btn.changed.connect(c.cancel)
        self.use_btn.changed.connect(self.use_in_sam2)
        for signal, slot in (
            (c.started, self._started),
            (c.progressed, self._progressed),
            (c.finished, self._finished),
            (self._context.controller.events.image_changed, self._image_changed),
            (self._setup.device_combo.changed, self._device_chosen),
            (self._setup.model_combo.changed, self._device_chosen),
            (self._viewer.layers.events.removed, self._layer_removed),
            (self._viewer.layers.events.inserted, self._layer_added),
        ):
            con.connect(signal, slot)
        con.on_close(c.shutdown)

    # ------------------------------------------------------------------ choices
    def _labels_choices(self, _: Any = None) -> list[tuple[str, Any]]:
        return layer_choices(self._viewer, "Labels")

    def _pair_choices(self, _: Any = None) -> list[tuple[str, int]]:
        return [(p.describe(), i) for i, p in enumerate(self.controller.pairs)]

    # ------------------------------------------------------------------ pairs
    def current_pair(self) -> LayerPair:
        """The setup's image (with its axes) and the chosen labels."""
        c = self._context.controller
        lay = c.layout
        if lay is None:
            return LayerPair(c.image_layer, self.labels_combo.value)
        return LayerPair(
            c.image_layer,
            self.labels_combo.value,
            lay.stack_axis if lay.is_stack else None,
            lay.stack_kind,
            lay.channel_axis,
        )

    def add_pair(self, _: Any = None) -> None:
        pair = self.current_pair()
        if pair.image is None:
            self.controller.notify("warning", "Choose an Image layer in the setup first.")
            return
        if any(p.image is pair.image and p.labels is pair.labels for p in self.controller.pairs):
            self.controller.notify("info", "This pair is in the list already.")
            return
        self.controller.add_pair(pair)
        self._pairs_changed()

    def remove_selected(self, _: Any = None) -> None:
        for index in sorted(self.pairs_list.value or [], reverse=True):
            self.controller.remove_pair(index)
        self._pairs_changed()

    def _pairs_changed(self) -> None:
        self.pairs_list.reset_choices()
        self.refresh_summary()

    def _layer_removed(self, event: Any) -> None:
        self.labels_combo.reset_choices()
        if self.controller.drop_layer(event.value):
            self._pairs_changed()

    def _layer_added(self, _: Any = None) -> None:
        self.labels_combo.reset_choices()
        if self.labels_combo.value is None:
            self._image_changed()

    def _image_changed(self) -> None:
        """A new setup image: pick labels that fit it; the first time, pair them."""
        image = self._context.controller.image_layer
        if image is None:
            return
        self.labels_combo.reset_choices()
        labels = self.labels_combo.value
        if labels is None or not _fits(image, labels):
            fitting = [lab for _, lab in self._labels_choices() if _fits(image, lab)]
            self.labels_combo.value = fitting[0] if fitting else None
        if not self._auto_paired and self.labels_combo.value is not None:
            self._auto_paired = True
            self.add_pair()
        else:
            self.refresh_summary()

    # ------------------------------------------------------------------ settings
    def read_settings(self) -> FinetuneSettings:
        """The fields (and the setup's model and device) as controller settings.

        Raises
        ------
        ValueError
            An unreadable learning rate.
        """
        try:
            lr = float(str(self.lr_edit.value).strip())
        except ValueError as err:
            raise ValueError(
                f"the learning rate {self.lr_edit.value!r} is not a number (e.g. 5e-5)"
            ) from err
        freeze = (FREEZE_GROUPS["image_encoder"] if self.freeze_encoder_box.value else ()) + (
            FREEZE_GROUPS["memory"] if self.freeze_memory_box.value else ()
        )
        folder = self.folder_edit.value
        return FinetuneSettings(
            base_model=str(self._setup.model_combo.value or ""),
            device=str(self._setup.device_combo.value),
            epochs=int(self.epochs_spin.value),
            lr=lr,
            image_size=int(self.size_combo.value) or None,
            freeze=freeze,
            output_folder=None if folder in (None, "") else folder,
            name=str(self.name_edit.value),
            replace=bool(self.replace_box.value),
            overrides=dict(self.controller.settings.overrides),
        )

    def _apply_device_defaults(self, s: FinetuneSettings) -> None:
        self.lr_edit.value = f"{s.lr:g}"
        self.size_combo.value = s.image_size if s.image_size in IMAGE_SIZES else 0
        self.freeze_encoder_box.value = "image_encoder" in s.freeze
        self.freeze_memory_box.value = False

    def _preset(self) -> FinetuneSettings:
        return FinetuneSettings.for_device(
            str(self._setup.device_combo.value), str(self._setup.model_combo.value or "")
        )

    def _device_chosen(self, _: Any = None) -> None:
        """Another device or base model in the setup restores the training defaults of
        that device, under what the model recommends for fine-tuning itself."""
        self._apply_device_defaults(self._preset())
        self.refresh_summary()

    def refresh_summary(self) -> None:
        """Re-check the pairs and show what they give (clips, validation, steps)."""
        c = self.controller
        self._steps_per_epoch = None
        if not c.pairs:
            self.data_label.value = "Add a pair: the setup's image and the labels annotating it."
        else:
            with contextlib.suppress(ValueError):  # an unreadable rate is reported at Start
                c.settings = self.read_settings()
            try:
                summary = c.summary()
            except (ValueError, TypeError) as err:
                self.data_label.value = f"⚠ {err}"
            else:
                self._steps_per_epoch = summary.steps_per_epoch
                self.data_label.value = summary.describe()
        self._show_steps()

    def _show_steps(self, _: Any = None) -> None:
        spe = self._steps_per_epoch
        if spe is None:
            self.steps_label.value = "= ? steps"
        else:
            total = spe * int(self.epochs_spin.value)
            self.steps_label.value = f"= {total} steps ({spe} per epoch)"

    # ------------------------------------------------------------------ running
    def start(self, _: Any = None) -> None:
        c = self.controller
        try:
            c.settings = self.read_settings()
        except ValueError as err:
            c.notify("warning", f"Cannot start fine-tuning: {err}")
            return
        c.start()

    def use_in_sam2(self, _: Any = None) -> None:
        """Load the new model in the shared setup and go to the Segment tool."""
        outcome = self.controller.outcome
        if outcome is None:
            return
        self._setup.refresh_models()
        self._setup.model_combo.value = outcome.name
        self._context.dock.show_tool("segment")

    def _started(self, plan: Any) -> None:
        self.start_btn.enabled = False
        self.cancel_btn.enabled = True
        self.use_btn.enabled = False
        self.bar.min, self.bar.max, self.bar.value = 0, plan.max_steps, 0
        self.status_label.value = (
            f"Preparing {plan.max_steps} steps ({plan.epochs} epochs) of {plan.name}…"
        )
        self.plot.set_curves(self.controller.curves, plan.max_steps)

    def _progressed(self, report: Any) -> None:
        c = self.controller
        epochs = c.current.epochs if c.current is not None else None
        self.status_label.value = format_progress(report, epochs)
        self.bar.max = max(report.max_steps, 1)
        self.bar.value = min(report.step, report.max_steps)
        self.plot.set_curves(c.curves, report.max_steps)

    def _finished(self, outcome: Any) -> None:
        self.start_btn.enabled = True
        self.cancel_btn.enabled = False
        if outcome is None:
            self.status_label.value = "Fine-tuning failed (see the notification)."
            return
        self.use_btn.enabled = True
        last = self.controller.last
        head = format_progress(last, self.controller.current.epochs) + "\n" if last else ""
        self.status_label.value = f"{head}Saved {outcome.name!r} to {outcome.checkpoint}"
        self.name_edit.value = _free_name(outcome.name)


# --------------------------------------------------------------------------- helpers
def _fits(image: Any, labels: Any) -> bool:
    try:
        pair_arrays(LayerPair.guess(image, labels))
    except ValueError:
        return False
    return True


def _free_name(base: str = "sam2_finetuned") -> str:
    """``base``, or ``base_2``, ``base_3``, ... (counting on from a ``_N`` suffix): the
    first name no model uses yet."""
    from sam2_engine import list_models

    taken = set(list_models())
    match = re.fullmatch(r"(.*?)_(\d+)", base)
    stem, first = (match.group(1), int(match.group(2))) if match else (base, 1)
    for n in range(first, first + 10_000):
        name = base if n == first else f"{stem}_{n}"
        if name not in taken:
            return name
    return base


def _wrapping_label() -> Label:
    from qtpy.QtWidgets import QSizePolicy

    label = Label(value="")
    label.native.setWordWrap(True)
    label.native.setSizePolicy(QSizePolicy.Expanding, QSizePolicy.Preferred)
    return label
