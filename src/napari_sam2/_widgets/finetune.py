"""The "SAM 2 fine-tuning" dock widget: train a model on your Image + Labels layers.

A thin view of
:class:`~napari_sam2.features.finetuning.controller.FinetuneController`: the fields fill
its settings and pairs, Start calls ``start()`` (which refuses bad input before anything
runs), Cancel calls ``cancel()``; progress arrives on the GUI thread through the
controller's signals and updates the text, the plot and the progress bar. Training runs
in a napari worker thread (with napari's own progress bar in the activity dock).
"""

from __future__ import annotations

import contextlib
import re
import weakref
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

from napari_sam2._widgets.choices import NO_AXIS, axis_choices, axis_value, model_choices
from napari_sam2._widgets.loss_plot import LossPlot
from napari_sam2.core.models import (
    MODEL_LIST,
    available_devices,
    default_model_name,
)
from napari_sam2.core.state import StackKind
from napari_sam2.features.finetuning.controller import FinetuneController
from napari_sam2.features.finetuning.data import LayerPair, pair_arrays
from napari_sam2.features.finetuning.presets import DEFAULT_FOLDER, FREEZE_GROUPS, FinetuneSettings
from napari_sam2.features.finetuning.progress_text import format_progress
from napari_sam2.viewer.helper_layers import layer_choices
from napari_sam2.viewer.registry import unwrap_viewer

PLUGIN, SAM2_WIDGET = "napari-sam2", "SAM 2"
IMAGE_SIZES = (256, 384, 512, 640, 768, 1024)
FREEZE_TIP = (
    "keep the image encoder (Hiera, ~80 % of the model's compute) fixed and train only the "
    "prompt encoder, mask decoder and memory modules: on a CPU this is several times faster "
    "and needs far less memory, and with a few annotated images it also overfits less. "
    "Untick on a GPU with enough data to adapt the features themselves"
)


class FinetuneWidget(Container):
    """Fine-tune SAM 2 on pairs of Image and Labels layers of one viewer.

    Parameters
    ----------
    napari_viewer
        The viewer (napari passes it).
    """

    def __init__(self, napari_viewer: Any) -> None:
        from napari_sam2._widgets.qt_runner import QtRunner

        self._viewer = unwrap_viewer(napari_viewer)
        self._extra_files: tuple[str, ...] = ()
        self._steps_per_epoch: int | None = None
        settings = FinetuneSettings.for_device("auto", base_model=default_model_name())
        self.controller = FinetuneController(runner=QtRunner(), settings=settings)
        super().__init__(labels=False)
        self._build(settings)
        self._wire()
        self._apply_device_defaults(settings)
        with contextlib.suppress(ValueError):
            self.model_combo.value = settings.base_model
        self._choose_defaults()

    # ------------------------------------------------------------------ layout
    def _build(self, s: FinetuneSettings) -> None:
        from qtpy.QtWidgets import QSizePolicy

        self.image_combo = ComboBox(label="Image", choices=self._image_choices)
        self.labels_combo = ComboBox(
            label="Labels",
            choices=self._labels_choices,
            nullable=True,
            tooltip="instance labels of the image (0 = background, 1, 2, ... = objects); in "
            "a stack an object keeps its id from frame to frame",
        )
        self.stack_axis_combo = ComboBox(
            label="Stack axis",
            choices=self._stack_choices,
            tooltip="the z or time axis: consecutive planes / frames are trained as clips, "
            "which also trains tracking. none: every plane is an independent 2D image",
        )
        self.stack_kind_combo = ComboBox(
            label="Axis is", choices=[("time", "time"), ("z (slices)", "z")], value="time"
        )
        self.channel_axis_combo = ComboBox(
            label="Channel axis",
            choices=self._channel_choices,
            tooltip="axis holding channels of multichannel data (RGB layers: implied)",
        )
        self.add_btn = PushButton(text="Add pair", tooltip="train on this image and labels")
        self.remove_btn = PushButton(text="Remove selected")
        self.pairs_list = Select(label="Pairs", choices=self._pair_choices)
        self.pairs_list.native.setMaximumHeight(64)
        self.data_label = _wrapping_label()
        self.model_combo = ComboBox(
            label="Base model",
            choices=self._model_choices,
            tooltip="the model to start from: same list as the SAM 2 widget",
        )
        self.refresh_btn = PushButton(text="⟳", tooltip="refresh the model list")
        self.file_btn = PushButton(text="File…", tooltip="start from a checkpoint file (.pt)")
        self.device_combo = ComboBox(
            label="Device",
            choices=available_devices(),
            value=s.device,
            tooltip="changing it restores that device's defaults (learning rate, size, freeze)",
        )
        self.epochs_spin = SpinBox(label="Epochs", value=s.epochs, min=1, max=100_000)
        self.steps_label = Label(value="")
        self.lr_edit = LineEdit(
            label="Learning rate",
            value=f"{s.lr:g}",
            tooltip="peak learning rate of the decoder, prompt encoder and memory modules",
        )
        self.size_combo = ComboBox(
            label="Image size",
            choices=[("model's own", 0)] + [(f"{n} px", n) for n in IMAGE_SIZES],
            tooltip="input side of the model while training and afterwards: 512 is about "
            "4x cheaper than 1024 and suits most microscopy images",
        )
        self.freeze_encoder_box = CheckBox(text="Freeze image encoder", tooltip=FREEZE_TIP)
        self.freeze_memory_box = CheckBox(
            text="Freeze memory modules",
            tooltip="keep memory attention and memory encoder fixed (tracking stays as it "
            "is); only useful for 2D images",
        )
        self.folder_edit = FileEdit(label="Output folder", mode="d", value=str(DEFAULT_FOLDER))
        self.name_edit = LineEdit(
            label="Model name",
            value=_free_name(),
            tooltip="the model is saved as <folder>/<name>.pt and listed under this name",
        )
        self.replace_box = CheckBox(text="Replace a model of that name")
        self.start_btn = PushButton(text="Start fine-tuning")
        self.cancel_btn = PushButton(
            text="Cancel", tooltip="stop after the current step; the weights so far are kept"
        )
        self.cancel_btn.enabled = False
        self.use_btn = PushButton(
            text="Use in SAM 2", tooltip="open the SAM 2 widget with the new model"
        )
        self.use_btn.enabled = False
        self.bar = ProgressBar(value=0, min=0, max=1, label="")
        self.status_label = _wrapping_label()
        self.plot = LossPlot()

        pairs_form = _form(self.pairs_list)
        pairs_form.native.setSizePolicy(QSizePolicy.Preferred, QSizePolicy.Maximum)
        model_row = _row(self.model_combo, self.refresh_btn, self.file_btn)
        model_row.label = "Base model"
        epochs_row = _row(self.epochs_spin, self.steps_label)
        epochs_row.label = "Epochs"
        self.extend(
            [
                _heading("Training data"),
                _form(
                    self.image_combo,
                    self.labels_combo,
                    self.stack_axis_combo,
                    self.stack_kind_combo,
                    self.channel_axis_combo,
                ),
                _row(self.add_btn, self.remove_btn),
                pairs_form,
                self.data_label,
                _heading("Training"),
                _form(model_row, self.device_combo, epochs_row, self.lr_edit, self.size_combo),
                self.freeze_encoder_box,
                self.freeze_memory_box,
                _heading("Result"),
                _form(self.folder_edit, self.name_edit),
                self.replace_box,
                _row(self.start_btn, self.cancel_btn, self.use_btn),
                self.bar,
                self.status_label,
            ]
        )
        self.native.layout().addWidget(self.plot, 1)  # the plot takes the spare height

    def _wire(self) -> None:
        c = self.controller
        self.image_combo.changed.connect(self._image_chosen)
        self.labels_combo.changed.connect(self._labels_chosen)
        self.add_btn.changed.connect(self.add_pair)
        self.remove_btn.changed.connect(self.remove_selected)
        self.device_combo.changed.connect(self._device_chosen)
        self.epochs_spin.changed.connect(self._show_steps)
        self.refresh_btn.changed.connect(self.refresh_models)
        self.file_btn.changed.connect(self._choose_file)
        self.start_btn.changed.connect(self.start)
        self.cancel_btn.changed.connect(c.cancel)
        self.use_btn.changed.connect(self.use_in_sam2)
        self._connections = [
            (c.started, self._started),
            (c.progressed, self._progressed),
            (c.finished, self._finished),
            (MODEL_LIST.changed, self._models_changed),
            (self._viewer.layers.events.removed, self._layer_removed),
            (self._viewer.layers.events.inserted, self._layer_added),
        ]
        for signal, slot in self._connections:
            signal.connect(slot)
        _on_close(self, self._viewer, c, self._connections)

    # ------------------------------------------------------------------ choices
    def _image_choices(self, _: Any = None) -> list[tuple[str, Any]]:
        return layer_choices(self._viewer, "Image")

    def _labels_choices(self, _: Any = None) -> list[tuple[str, Any]]:
        return layer_choices(self._viewer, "Labels")

    def _layer(self) -> Any:
        combo = self.__dict__.get("image_combo")  # None while the fields are being built
        return None if combo is None else combo.value

    def _stack_choices(self, _: Any = None) -> list[tuple[str, int]]:
        return axis_choices(self._layer(), "none (2D images)")

    def _channel_choices(self, _: Any = None) -> list[tuple[str, int]]:
        return axis_choices(self._layer(), "none")

    def _pair_choices(self, _: Any = None) -> list[tuple[str, int]]:
        return [(p.describe(), i) for i, p in enumerate(self.controller.pairs)]

    def _model_choices(self, _: Any = None) -> list[tuple[str, str]]:
        return model_choices(self._extra_files)

    # ------------------------------------------------------------------ pairs
    def current_pair(self) -> LayerPair:
        """The pair described by the data fields."""
        return LayerPair(
            self.image_combo.value,
            self.labels_combo.value,
            axis_value(self.stack_axis_combo.value),
            StackKind(self.stack_kind_combo.value),
            axis_value(self.channel_axis_combo.value),
        )

    def add_pair(self, _: Any = None) -> None:
        pair = self.current_pair()
        if pair.image is None:
            self.controller.notify("warning", "Open an Image layer and its Labels layer first.")
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
        if self.controller.drop_layer(event.value):
            self._pairs_changed()

    def _layer_added(self, _: Any = None) -> None:
        """A new layer may be the missing image or labels: propose a fitting pair."""
        if self.image_combo.value is None or self.labels_combo.value is None:
            self._choose_defaults(add=False)

    def _image_chosen(self, _: Any = None) -> None:
        image = self.image_combo.value
        if image is None:
            return
        labels = self.labels_combo.value
        if labels is None or not _fits(image, labels):
            fitting = [lab for _, lab in self._labels_choices() if _fits(image, lab)]
            if fitting:
                with self.labels_combo.changed.blocked():
                    self.labels_combo.value = fitting[0]
        self._labels_chosen()

    def _labels_chosen(self, _: Any = None) -> None:
        image = self.image_combo.value
        if image is None:
            return
        guess = LayerPair.guess(image, self.labels_combo.value)
        self.stack_axis_combo.reset_choices()
        self.channel_axis_combo.reset_choices()
        self.stack_axis_combo.value = NO_AXIS if guess.stack_axis is None else guess.stack_axis
        self.channel_axis_combo.value = (
            NO_AXIS if guess.channel_axis is None else guess.channel_axis
        )

    def _choose_defaults(self, add: bool = True) -> None:
        """Select the active (else first) image and a fitting Labels layer; on opening,
        add that pair when the two fit together."""
        self.image_combo.reset_choices()
        self.labels_combo.reset_choices()
        images = [layer for _, layer in self._image_choices()]
        if images:
            active = self._viewer.layers.selection.active
            image = active if any(active is i for i in images) else images[0]
            if self.image_combo.value is not image:
                self.image_combo.value = image  # picks fitting labels
            else:
                self._image_chosen()
        labels = self.labels_combo.value
        if add and labels is not None and _fits(self.image_combo.value, labels):
            self.add_pair()
        else:
            self.refresh_summary()

    # ------------------------------------------------------------------ settings
    def read_settings(self) -> FinetuneSettings:
        """The fields as controller settings (raises ValueError for an unreadable rate)."""
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
            base_model=str(self.model_combo.value or ""),
            device=str(self.device_combo.value),
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

    def _device_chosen(self, device: str) -> None:
        self._apply_device_defaults(FinetuneSettings.for_device(device))
        self.refresh_summary()

    def refresh_summary(self) -> None:
        """Re-check the pairs and show what they give (clips, validation, steps)."""
        c = self.controller
        self._steps_per_epoch = None
        if not c.pairs:
            self.data_label.value = "Add a pair: an Image layer and the Labels layer annotating it."
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

    # ------------------------------------------------------------------ models
    def refresh_models(self, _: Any = None) -> None:
        current = self.model_combo.value
        self.model_combo.reset_choices()
        with contextlib.suppress(ValueError):
            self.model_combo.value = current

    def _choose_file(self, _: Any = None) -> None:
        from qtpy.QtWidgets import QFileDialog

        path, _filter = QFileDialog.getOpenFileName(
            self.native, "SAM 2 checkpoint", "", "PyTorch checkpoints (*.pt *.pth)"
        )
        if path:
            self._extra_files = (*self._extra_files, path)
            self.refresh_models()
            self.model_combo.value = path

    def _models_changed(self, _: str = "") -> None:
        """A model was registered: refresh this list (the SAM 2 widgets of every viewer
        listen to the same signal)."""
        self.refresh_models()

    def use_in_sam2(self, _: Any = None) -> None:
        """Open (or show) the SAM 2 widget and load the new model there."""
        outcome = self.controller.outcome
        if outcome is None:
            return
        _, widget = self._viewer.window.add_plugin_dock_widget(PLUGIN, SAM2_WIDGET)
        widget.setup.refresh_models()
        widget.setup.model_combo.value = outcome.name

    # ------------------------------------------------------------------ running
    def start(self, _: Any = None) -> None:
        c = self.controller
        try:
            c.settings = self.read_settings()
        except ValueError as err:
            c.notify("warning", f"Cannot start fine-tuning: {err}")
            return
        c.start()

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


def _on_close(
    widget: Container, viewer: Any, controller: FinetuneController, connections: list
) -> None:
    """Cancel training and disconnect when the widget leaves its dock, or when Qt
    destroys it or the viewer's window (the viewer closes)."""
    state = {"docked": False, "gone": False}
    ref = weakref.ref(controller)

    def gone(*_: Any) -> None:
        if state["gone"]:
            return
        state["gone"] = True
        c = ref()
        if c is not None:
            c.shutdown()
        for signal, slot in connections:
            with contextlib.suppress(Exception):
                signal.disconnect(slot)

    def parent_changed(parent: Any) -> None:
        if parent is not None:
            state["docked"] = True
        elif state["docked"]:
            gone()

    widget.native_parent_changed.connect(parent_changed)
    widget.native.destroyed.connect(gone)
    window = getattr(getattr(viewer, "window", None), "_qt_window", None)
    if window is not None:
        window.destroyed.connect(gone)


def _wrapping_label() -> Label:
    from qtpy.QtWidgets import QSizePolicy

    label = Label(value="")
    label.native.setWordWrap(True)
    label.native.setSizePolicy(QSizePolicy.Expanding, QSizePolicy.Preferred)
    return label


def _row(*widgets: Any) -> Container:
    row = Container(widgets=list(widgets), layout="horizontal", labels=False)
    row.margins = (0, 0, 0, 0)
    return row


def _form(*widgets: Any) -> Container:
    form = Container(widgets=list(widgets), labels=True)
    form.margins = (0, 0, 0, 0)
    return form


def _heading(text: str) -> Label:
    return Label(value=f"<b>{text}</b>")
