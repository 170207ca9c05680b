"""The "Track cells" tool of the SAM 2 dock: every cell of a time-lapse, with lineage.

The image of the setup (with its time axis set) is tracked in a worker: every frame's
cells are detected (by the model, the classical nuclei detector, or a (time, row, col)
Labels layer of your own segmentation), then linked over the whole movie; seeds from a
Labels layer (its labels on the current frame) or the clicks of a Points layer add cells
the detections missed. The result is a Labels layer with one label per track and a
Tracks layer of the lineage, coloured alike, filled while it runs; Cancel keeps the
frames done and **Continue** carries on after them. The track table lists every track
(first and last frame, mother); clicking a row shows that cell. The lineage is corrected
on the selected track at the current frame (split, mark a division, set or clear the
mother, merge two pieces of one cell), each edit one undo step of the Labels layer,
and the result is saved as a Cell Tracking Challenge folder or a GEFF store.
"""

from __future__ import annotations

from typing import Any

from magicgui.widgets import (
    CheckBox,
    ComboBox,
    Container,
    Label,
    LineEdit,
    PushButton,
    SpinBox,
)

from napari_sam2._widgets.common import form, hbox
from napari_sam2._widgets.tools import ToolContext

AUTO_SEEDS = "none: the detections alone"
DETECTORS = (
    ("auto: the model's instance head if it recommends it, else classical", "auto"),
    ("model (SAM 2)", "model"),
    ("classical (fluorescent nuclei)", "classical"),
)
COLUMNS = ("Track", "First", "Last", "Mother")
#: what the tool's longer choices decide (their tooltips)
TIPS = {
    "seeds": "which cells to track: found automatically, the labels of a Labels "
    "layer on the current frame, or one click per cell in a Points layer",
    "detector": "where each frame's cells come from: the SAM 2 model, the classical "
    "nuclei detector (threshold + watershed), or a (time, row, col) Labels layer "
    "of your own segmentation (Cellpose, StarDist, ...), which is only linked",
    "textured": "classical detector: the nuclei are very textured (bright spots, "
    "condensed chromatin): fill each whole instead of following its texture; off: "
    "tighter masks of smooth nuclei and more divisions found",
    "merge": "another piece of the selected cell's track (one the tracker broke "
    "off): the later piece takes the earlier's label",
}


class TrackingTool(Container):
    """Segment and track every cell of the setup's time-lapse."""

    def __init__(self, context: ToolContext) -> None:
        self.controller = context.controller
        self.feature = context.controller.cell_tracking
        self._viewer = context.viewer
        super().__init__(labels=False)
        self.margins = (2, 2, 2, 2)
        self._build()
        self._wire(context)
        self.refresh()

    # ------------------------------------------------------------------ layout
    def _build(self) -> None:
        from qtpy.QtWidgets import QAbstractItemView, QTableWidget

        s = self.feature.settings
        self.seeds_combo = ComboBox(
            label="Seeds", choices=self._seed_choices, tooltip=TIPS["seeds"]
        )
        self.detector_combo = ComboBox(
            label="Detect with", choices=self._detector_choices, tooltip=TIPS["detector"]
        )
        self.diameter_spin = SpinBox(
            label="Cell diameter (px)",
            value=int(s.diameter or 0),
            min=0,
            max=10_000,
            tooltip="typical cell diameter; 0: estimated from the detections",
        )
        self.min_area_spin = SpinBox(
            label="Min cell area (px)",
            value=s.min_area,
            min=1,
            max=10**7,
            tooltip="a smaller mask counts as a lost cell",
        )
        self.textured_box = CheckBox(
            text="Textured nuclei", value=s.textured, tooltip=TIPS["textured"]
        )
        self.track_btn = PushButton(text="Track cells", tooltip="from the first frame")
        self.continue_btn = PushButton(
            text="Continue", tooltip="carry on a cancelled run after its last frame"
        )
        self.summary = Label(value="")
        self.summary.native.setWordWrap(True)
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.setSelectionBehavior(QAbstractItemView.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.NoEditTriggers)
        self.table.verticalHeader().setVisible(False)
        self.table.setMinimumHeight(140)
        self.split_btn = PushButton(
            text="Split here", tooltip="the selected track becomes a new track from this frame"
        )
        self.daughters_edit = LineEdit(
            label="Daughters",
            tooltip="the labels the selected track divides into on the "
            "current frame, e.g. '12, 13'",
        )
        self.divide_btn = PushButton(text="Mark division")
        self.mother_spin = SpinBox(
            label="Mother", min=0, max=2**31 - 1, tooltip="0: the selected track has none"
        )
        self.mother_btn = PushButton(text="Set mother")
        self.merge_spin = SpinBox(label="Merge with", min=0, max=2**31 - 1, tooltip=TIPS["merge"])
        self.merge_btn = PushButton(text="Merge")
        self.save_ctc_btn = PushButton(text="Save CTC…", tooltip="Cell Tracking Challenge folder")
        self.save_geff_btn = PushButton(text="Save GEFF…", tooltip="GEFF graph store (zarr)")
        self.open_ctc_btn = PushButton(
            text="Open CTC…", tooltip="a saved CTC result folder of this image, to correct it"
        )
        self.extend(
            [
                form(self.detector_combo, self.diameter_spin, self.seeds_combo, self.min_area_spin),
                self.textured_box,
                hbox(self.track_btn, self.continue_btn),
                self.summary,
                hbox(self.daughters_edit, self.divide_btn, labels=True),
                hbox(self.mother_spin, self.mother_btn, self.split_btn, labels=True),
                hbox(self.merge_spin, self.merge_btn, labels=True),
                hbox(self.save_ctc_btn, self.save_geff_btn, self.open_ctc_btn),
            ]
        )
        self.native.layout().insertWidget(4, self.table, 1)

    def _wire(self, context: ToolContext) -> None:
        con, c, f = context.connections, self.controller, self.feature
        self.track_btn.changed.connect(lambda: self.track())
        self.continue_btn.changed.connect(lambda: self.track(resume=True))
        self.split_btn.changed.connect(self._split)
        self.divide_btn.changed.connect(self._divide)
        self.mother_btn.changed.connect(self._set_mother)
        self.merge_btn.changed.connect(self._merge)
        self.save_ctc_btn.changed.connect(lambda: self._save("ctc"))
        self.save_geff_btn.changed.connect(lambda: self._save("geff"))
        self.open_ctc_btn.changed.connect(self._open_ctc)
        self.table.itemSelectionChanged.connect(self._selected)
        self.detector_combo.changed.connect(self._source_changed)
        con.connect(c.events.jobs_changed, self.refresh)
        con.connect(f.events.changed, self.refresh)
        con.connect(c.events.progress_changed, self._progress)
        con.connect(self._viewer.layers.events.inserted, self.seeds_combo.reset_choices)
        con.connect(self._viewer.layers.events.removed, self.seeds_combo.reset_choices)
        con.connect(self._viewer.layers.events.inserted, self.detector_combo.reset_choices)
        con.connect(self._viewer.layers.events.removed, self.detector_combo.reset_choices)

    def _source_changed(self, *_: Any) -> None:
        """The textured-nuclei box is the classical detector's: off for the model or a
        label stack."""
        from sam2_cells import textured_applies

        source = self.detector_combo.value  # a string, or a Labels layer
        self.textured_box.enabled = isinstance(source, str) and textured_applies(source)

    def _detector_choices(self, *_: Any) -> list[tuple[str, Any]]:
        from napari.layers import Labels

        from napari_sam2.viewer.helper_layers import is_helper

        out: list[tuple[str, Any]] = list(DETECTORS)
        for layer in self._viewer.layers:
            if (
                isinstance(layer, Labels)
                and layer.ndim == 3
                and layer is not self._result_layer()
                and not is_helper(layer)
            ):
                out.append((f"labels: {layer.name}", layer))
        return out

    def _seed_choices(self, *_: Any) -> list[tuple[str, Any]]:
        from napari.layers import Labels, Points

        from napari_sam2.viewer.helper_layers import is_helper

        out: list[tuple[str, Any]] = [(AUTO_SEEDS, None)]
        for layer in self._viewer.layers:
            if (
                isinstance(layer, Labels | Points)
                and layer is not self._result_layer()
                and not is_helper(layer)  # the plugin's prompts and preview are no seeds
            ):
                kind = "labels" if isinstance(layer, Labels) else "clicks"
                out.append((f"{kind}: {layer.name}", layer))
        return out

    # ------------------------------------------------------------------ actions
    def track(self, resume: bool = False) -> bool:
        """Start (or continue) tracking with the tool's settings."""
        import dataclasses

        f = self.feature
        source = self.detector_combo.value
        f.settings = dataclasses.replace(
            f.settings,
            diameter=float(self.diameter_spin.value) or None,
            min_area=int(self.min_area_spin.value),
            textured=bool(self.textured_box.value and self.textured_box.enabled),
            # a new run's source with it (textured goes with classical detections only)
            **({"detection": source} if isinstance(source, str) and not resume else {}),
        )
        try:
            started = f.run(
                seeds=None if resume else self.seeds_combo.value,
                resume=resume,
                detections=None if resume else self.detector_combo.value,
            )
        except (ValueError, TypeError) as err:
            text = str(err)
            self.controller.ws.notify("warning", text[:1].upper() + text[1:] + ".")
            return False
        self.refresh()
        return started

    def selected_track(self) -> int | None:
        """The label of the track selected in the table."""
        rows = self.table.selectionModel().selectedRows()
        if not rows:
            return None
        return int(self.table.item(rows[0].row(), 0).text())

    def select_track(self, label: int) -> None:
        """Select a track in the table (and show it)."""
        for row in range(self.table.rowCount()):
            if int(self.table.item(row, 0).text()) == label:
                self.table.selectRow(row)
                return

    def current_frame(self) -> int:
        """The frame the viewer shows (of the tracks layer)."""
        run = self.feature.run_state
        if run is None:
            return 0
        point = run.labels_layer.world_to_data(self._viewer.dims.point)
        return round(float(point[0]))

    def _split(self, *_: Any) -> None:
        label = self._need_selection()
        if label is not None:
            self.feature.split(label, self.current_frame())

    def _divide(self, *_: Any) -> None:
        label = self._need_selection()
        if label is None:
            return
        text = str(self.daughters_edit.value).replace(",", " ").split()
        try:
            daughters = [int(v) for v in text]
        except ValueError:
            self.controller.ws.notify(
                "warning",
                f"Daughters must be track numbers, e.g. '12, 13' (not "
                f"{self.daughters_edit.value!r}).",
            )
            return
        self.feature.mark_division(label, self.current_frame(), daughters)

    def _set_mother(self, *_: Any) -> None:
        label = self._need_selection()
        if label is None:
            return
        mother = int(self.mother_spin.value)
        if mother:
            self.feature.relink(label, mother)
        else:
            self.feature.unlink(label)

    def _merge(self, *_: Any) -> None:
        label = self._need_selection()
        if label is not None:
            self.feature.merge(label, int(self.merge_spin.value))

    def _need_selection(self) -> int | None:
        label = self.selected_track()
        if label is None:
            self.controller.ws.notify("warning", "Select a track in the table first.")
        return label

    def _save(self, kind: str) -> None:
        from qtpy.QtWidgets import QFileDialog

        if kind == "ctc":
            path = QFileDialog.getExistingDirectory(None, "CTC result folder (e.g. 01_RES)")
        else:
            path, _ = QFileDialog.getSaveFileName(None, "GEFF store", "tracks.geff")
        if path:
            self.feature.export(kind, path)

    def _open_ctc(self, *_: Any) -> None:
        from qtpy.QtWidgets import QFileDialog

        path = QFileDialog.getExistingDirectory(None, "CTC result folder to correct")
        if path:
            self.feature.open_ctc(path)

    def _selected(self) -> None:
        label = self.selected_track()
        run = self.feature.run_state
        if label is None or run is None:
            return
        track = next((t for t in run.tracks if t.label == label), None)
        self.mother_spin.value = track.parent if track else 0
        where = self.feature.where(label)
        layer = run.labels_layer
        layer.selected_label = label
        if where is None:
            return
        world = layer.data_to_world(where)
        axis = self._viewer.dims.ndim - layer.ndim
        self._viewer.dims.set_point(axis, world[0])
        scene = getattr(self._viewer, "scene", None)  # napari >= 0.9; before: viewer.camera
        camera = scene.camera if scene is not None else self._viewer.camera
        camera.center = tuple(world[-2:])

    # ------------------------------------------------------------------ state
    def _progress(self, kind: str, done: int, total: int) -> None:
        """The summary follows every frame, as the progress bar does (the table and the
        Tracks layer every few frames)."""
        run = self.feature.run_state
        if kind == "track" and run is not None:
            self.summary.value = run.summary()

    def _result_layer(self) -> Any:
        run = self.feature.run_state
        return None if run is None else run.labels_layer

    def refresh(self, *_: Any) -> None:
        """Buttons, summary and track table from the feature's state."""
        from qtpy.QtWidgets import QTableWidgetItem

        f, run = self.feature, self.feature.run_state
        running = self.controller.is_running("track")
        self.track_btn.enabled = not running
        self.open_ctc_btn.enabled = not running
        self.continue_btn.enabled = bool(not running and run is not None and run.state)
        idle_with_tracks = not running and run is not None and bool(run.tracks)
        edits = (self.split_btn, self.divide_btn, self.mother_btn, self.merge_btn)
        for button in (*edits, self.save_ctc_btn, self.save_geff_btn):
            button.enabled = idle_with_tracks
        problem = f.problem() if run is None and not running else None
        self.summary.value = problem or (run.summary() if run is not None else "")
        tracks = [] if run is None else sorted(run.tracks, key=lambda t: t.label)
        selected = self.selected_track()
        # the whole rebuild without signals: a selection handler run between setRowCount
        # and the last setItem would read (or re-enter) a half-built table
        blocked = self.table.blockSignals(True)
        try:
            self.table.setRowCount(len(tracks))
            for row, t in enumerate(tracks):
                values = (t.label, t.begin, t.end, t.parent or "")
                for col, value in enumerate(values):
                    self.table.setItem(row, col, QTableWidgetItem(str(value)))
            if selected is not None:
                self.select_track(selected)
        finally:
            self.table.blockSignals(blocked)
