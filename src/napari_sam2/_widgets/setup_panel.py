"""The shared setup of the SAM 2 dock: image, axes, intensity, model, device, labels.

Chosen once for every tool of the dock (segment, segment everything, fine-tune, ...): the
panel edits the viewer's controller and follows its changes. Laid out as a compact grid
(two fields a row) so that the tools below it keep most of the height.
"""

from __future__ import annotations

import contextlib
import os
from typing import Any

from magicgui.widgets import CheckBox, ComboBox, Container, PushButton

from napari_sam2._widgets.choices import (
    NO_AXIS,
    axis_choices,
    axis_value,
    layer_axes,
    model_choices,
)
from napari_sam2.controller import Sam2Controller
from napari_sam2.core.autosave import autosave_dir
from napari_sam2.core.models import (
    MODEL_LIST,
    available_devices,
    available_models,
    default_model_name,
)
from napari_sam2.viewer.bridge import ViewerBridge
from napari_sam2.viewer.helper_layers import layer_choices
from napari_sam2.viewer.registry import unwrap_viewer

STACK_KINDS = [("time", "time"), ("z (slices)", "z")]
INTENSITIES = [("auto (stack percentiles)", "auto"), ("layer contrast limits", "contrast_limits")]

#: what each choice of the panel decides (the widgets' tooltips)
TIPS = {
    "image": "the Image layer to segment (numpy, dask or zarr; 2D, stack, 3D+t)",
    "stack_axis": "the time or z axis that propagation follows; other leading axes stay "
    "at the slider position (e.g. z of a 3D+t movie tracked over time)",
    "stack_kind": "time: propagate forward by default; z: both ways from the prompted "
    "slice, each object ending where it ends in z (guessed from the layer's axis labels, "
    "name and scale)",
    "channel_axis": "axis holding channels of multichannel data (up to 3 are shown to the model)",
    "intensity": "how intensities are scaled for the model: robust percentiles over the "
    "stack, or the layer's contrast limits (what you see is what the model sees)",
    "model": "official SAM 2 sizes (downloaded once), fine-tuned and bundled models, "
    "random-weight test models; the fine-tuning tool starts from this model",
    "device": "where the model runs (and where fine-tuning trains)",
    "labels": "where objects are written; empty: a new 'SAM 2 labels' layer at the "
    "first commit (zarr on disk for very large stacks)",
}


class SetupPanel(Container):
    """Image layer, its axes, normalisation, model, device, target Labels, autosave."""

    def __init__(self, viewer: Any, bridge: ViewerBridge, connections: Any) -> None:
        self._viewer = unwrap_viewer(viewer)
        self.controller: Sam2Controller = bridge.controller
        self._updating = False
        self._ready = False  # set at the end of __init__
        self._extra_files: tuple[str, ...] = ()
        self._build()
        super().__init__(labels=False)
        self.margins = (0, 0, 0, 0)
        self.native.layout().addWidget(self._grid())
        with contextlib.suppress(ValueError):
            self.model_combo.value = self.controller.model_name or default_model_name()
        self._wire(connections)
        self._follow_image()
        self._follow_labels()
        self._ready = True

    # ------------------------------------------------------------------ layout
    def _build(self) -> None:
        self.image_combo = ComboBox(choices=self._image_choices, tooltip=TIPS["image"])
        self.stack_axis_combo = ComboBox(choices=self._stack_choices, tooltip=TIPS["stack_axis"])
        self.stack_kind_combo = ComboBox(
            choices=STACK_KINDS, value="time", tooltip=TIPS["stack_kind"]
        )
        self.channel_axis_combo = ComboBox(
            choices=self._channel_choices, tooltip=TIPS["channel_axis"]
        )
        self.intensity_combo = ComboBox(
            choices=INTENSITIES, value="auto", tooltip=TIPS["intensity"]
        )
        self.model_combo = ComboBox(choices=self._model_choices, tooltip=TIPS["model"])
        self.refresh_btn = PushButton(text="⟳", tooltip="refresh the model list")
        self.file_btn = PushButton(text="File…", tooltip="use a checkpoint file (.pt)")
        self.load_btn = PushButton(text="Load", tooltip="build / download the chosen model")
        self.device_combo = ComboBox(
            choices=available_devices(), value="auto", tooltip=TIPS["device"]
        )
        self.labels_combo = ComboBox(
            choices=self._labels_choices, nullable=True, tooltip=TIPS["labels"]
        )
        self.autosave_box = CheckBox(
            text="Autosave labels",
            value=self.controller.autosave.enabled,
            tooltip="after every commit, propagation or undo the labels are also written to "
            f"{autosave_dir()} (recover them after a crash with "
            "napari_sam2.api.load_autosave())",
        )
        import sam2_engine as se

        env = se.EmbeddingCache.ENV
        disk_env = os.environ.get(env, "")
        self.disk_cache_box = CheckBox(
            text="Embeddings on disk",
            value=bool(disk_env),
            tooltip="keep the embeddings of the images you open in "
            f"{disk_env or '~/.cache/napari-sam2/embeddings'} (about 15 MB per plane for a "
            f"1024-px model; set ${env} for another folder): opening the same image or "
            "time-lapse again skips the encoder. Models that encode a window per click "
            "(the bundled one) have no plane embeddings to keep",
        )
        if disk_env:
            self.controller.ws.embeddings.use_disk(True)

    def _grid(self) -> Any:
        from qtpy.QtWidgets import QGridLayout, QHBoxLayout, QLabel, QWidget

        box = QWidget()
        grid = QGridLayout(box)
        grid.setContentsMargins(0, 0, 0, 0)
        grid.setVerticalSpacing(2)

        def row(r: int, *cells: tuple[str, Any]) -> None:
            for i, (text, widget) in enumerate(cells):
                grid.addWidget(QLabel(text), r, 2 * i)
                span = 3 if len(cells) == 1 else 1
                grid.addWidget(widget.native, r, 2 * i + 1, 1, span)

        row(0, ("Image", self.image_combo))
        row(1, ("Track axis", self.stack_axis_combo), ("is", self.stack_kind_combo))
        row(2, ("Channels", self.channel_axis_combo), ("Intensity", self.intensity_combo))
        models = QWidget()
        line = QHBoxLayout(models)
        line.setContentsMargins(0, 0, 0, 0)
        line.addWidget(self.model_combo.native, 1)
        for button in (self.refresh_btn, self.file_btn, self.load_btn):
            line.addWidget(button.native)
        grid.addWidget(QLabel("Model"), 3, 0)
        grid.addWidget(models, 3, 1, 1, 3)
        row(4, ("Device", self.device_combo), ("Labels", self.labels_combo))
        grid.addWidget(self.autosave_box.native, 5, 1)
        grid.addWidget(self.disk_cache_box.native, 5, 3)
        grid.setColumnStretch(1, 1)
        grid.setColumnStretch(3, 1)
        return box

    def _wire(self, connections: Any) -> None:
        self.image_combo.changed.connect(self._image_chosen)
        for w in (
            self.stack_axis_combo,
            self.stack_kind_combo,
            self.channel_axis_combo,
            self.intensity_combo,
        ):
            w.changed.connect(self._apply_image)
        self.model_combo.changed.connect(self._model_chosen)
        self.labels_combo.changed.connect(self._apply_labels)
        self.refresh_btn.changed.connect(self.refresh_models)
        self.file_btn.changed.connect(self._choose_file)
        self.load_btn.changed.connect(self.load_model)
        self.autosave_box.changed.connect(self._autosave_chosen)
        self.disk_cache_box.changed.connect(
            lambda on: self.controller.ws.embeddings.use_disk(bool(on))
        )
        c = self.controller
        connections.connect(c.events.image_changed, self._follow_image)
        connections.connect(c.events.labels_changed, self._follow_labels)
        connections.connect(c.events.model_changed, self._follow_model)
        connections.connect(self._viewer.layers.events.inserted, self._layers_changed)
        connections.connect(self._viewer.layers.events.removed, self._layers_changed)
        connections.connect(MODEL_LIST.changed, self.refresh_models)

    # ------------------------------------------------------------------ choices
    @property
    def viewer(self) -> Any:
        return self._viewer

    def _image_choices(self, _: Any = None) -> list[tuple[str, Any]]:
        return layer_choices(self.viewer, "Image")

    def _labels_choices(self, _: Any = None) -> list[tuple[str, Any]]:
        return layer_choices(self.viewer, "Labels")

    def _layer(self) -> Any:
        combo = self.__dict__.get("image_combo")  # None while the fields are being built
        return None if combo is None else combo.value

    def _stack_choices(self, _: Any = None) -> list[tuple[str, int]]:
        return axis_choices(self._layer(), "none (2D)")

    def _channel_choices(self, _: Any = None) -> list[tuple[str, int]]:
        return axis_choices(self._layer(), "none")

    def _model_choices(self, _: Any = None) -> list[tuple[str, str]]:
        return model_choices(self._extra_files)

    def _layers_changed(self, _: Any = None) -> None:
        self.reset_choices()

    def reset_choices(self, *_: Any) -> None:
        """Re-read the layer lists (napari calls this when layers change) without
        treating the refresh as a user choice, then show the controller's state."""
        with self._quiet():
            for combo in (self.image_combo, self.labels_combo):
                combo.reset_choices()
        self._follow_image()
        self._follow_labels()
        if self.controller.image_layer is None and self._ready:
            self.select_default_image()  # e.g. the segmented image was deleted

    def refresh_models(self, _: Any = None) -> None:
        """Re-read the model list (fine-tuned models registered meanwhile appear)."""
        current = self.model_combo.value
        with self._quiet():
            self.model_combo.reset_choices()
            with contextlib.suppress(ValueError):
                self.model_combo.value = current

    # ------------------------------------------------------------------ actions
    @contextlib.contextmanager
    def _quiet(self):
        prev, self._updating = self._updating, True
        try:
            yield
        finally:
            self._updating = prev

    def select_default_image(self) -> None:
        """Pick the selected (else the first) Image layer when nothing is chosen yet."""
        if self.controller.image_layer is not None:
            return
        choices = [layer for _, layer in self._image_choices()]
        if not choices:
            return
        viewer = self.viewer
        active = viewer.layers.selection.active if viewer is not None else None
        self.image_combo.value = active if any(active is c for c in choices) else choices[0]
        if self.controller.image_layer is None:
            self._image_chosen()

    def _image_chosen(self, _: Any = None) -> None:
        """A new image: default axes (first leading axis tracked, time or z guessed from
        the layer, no channels), then apply."""
        if self._updating or self.image_combo.value is None:
            return
        with self._quiet():
            self.stack_axis_combo.reset_choices()
            self.channel_axis_combo.reset_choices()
            axes = layer_axes(self.image_combo.value)
            self.stack_axis_combo.value = axes[0][0] if axes else NO_AXIS
            self.channel_axis_combo.value = NO_AXIS
        self._apply_image(stack_kind="auto")

    def _apply_image(self, _: Any = None, stack_kind: str | None = None) -> None:
        if self._updating:
            return
        try:
            self.controller.set_image(
                self.image_combo.value,
                stack_axis=axis_value(self.stack_axis_combo.value),
                channel_axis=axis_value(self.channel_axis_combo.value),
                stack_kind=stack_kind or self.stack_kind_combo.value,
                normalization=self.intensity_combo.value,
            )
        except ValueError as err:
            self.controller.notify("warning", f"SAM 2 cannot use this image: {err}")

    def _apply_labels(self, _: Any = None) -> None:
        if self._updating:
            return
        try:
            self.controller.set_labels(self.labels_combo.value)
        except ValueError as err:
            self.controller.notify("warning", str(err))
            with self._quiet():
                self.labels_combo.value = self.controller.labels_layer

    def _autosave_chosen(self, value: bool) -> None:
        self.controller.autosave.enabled = bool(value)
        if value:
            self.controller.autosave.request()

    def load_model(self, _: Any = None) -> None:
        name = self.model_combo.value
        if name:
            self.controller.load_model(name, self.device_combo.value)

    def _model_chosen(self, _: Any = None) -> None:
        """Load a model as soon as it is picked when that needs no download."""
        if self._updating:
            return
        ready = {m.name: m.ready for m in available_models(self._extra_files)}
        if ready.get(self.model_combo.value, False):
            self.load_model()

    def _choose_file(self, _: Any = None) -> None:
        from qtpy.QtWidgets import QFileDialog

        path, _filter = QFileDialog.getOpenFileName(
            self.native, "SAM 2 checkpoint", "", "PyTorch checkpoints (*.pt *.pth)"
        )
        if path:
            self._extra_files = (*self._extra_files, path)
            self.refresh_models()
            self.model_combo.value = path
            self.load_model()

    # ------------------------------------------------------------------ follow the controller
    def _follow_image(self) -> None:
        c = self.controller
        with self._quiet():
            self.image_combo.reset_choices()
            known = any(c.image_layer is layer for _, layer in self._image_choices())
            if known and c.layout is not None:
                self.image_combo.value = c.image_layer
                self.stack_axis_combo.reset_choices()
                self.channel_axis_combo.reset_choices()
                lay = c.layout
                self.stack_axis_combo.value = NO_AXIS if lay.stack_axis is None else lay.stack_axis
                self.channel_axis_combo.value = (
                    NO_AXIS if lay.channel_axis is None else lay.channel_axis
                )
                self.stack_kind_combo.value = lay.stack_kind.value
                self.stack_kind_combo.enabled = lay.stack_axis is not None

    def _follow_labels(self) -> None:
        with self._quiet():
            self.labels_combo.reset_choices()
            layer = self.controller.labels_layer
            if layer is None or any(layer is v for _, v in self._labels_choices()):
                self.labels_combo.value = layer

    def _follow_model(self, name: str) -> None:
        with self._quiet(), contextlib.suppress(ValueError):
            self.model_combo.value = name
