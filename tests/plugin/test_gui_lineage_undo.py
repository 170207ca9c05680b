"""Correcting a lineage in the Track cells tab with real clicks and keys (issue 17):
one edit is one undo step for pixels, track table, summary and Tracks layer, whichever
tracking layer is selected; undo followed by another edit does not crash."""

from __future__ import annotations

import numpy as np
import pytest
from qtpy.QtCore import Qt

from tests.plugin.qt_events import key
from tests.plugin.test_gui_tracking import movie, tab  # noqa: F401  (fixtures)

pytestmark = [pytest.mark.gui, pytest.mark.usefixtures("plugins_discovered")]


def press(qtbot, button) -> None:
    """A real mouse click on a magicgui button."""
    qtbot.mouseClick(button.native, Qt.LeftButton)
    qtbot.wait(20)


def rows(tool) -> list[tuple[str, ...]]:
    t = tool.table
    return [tuple(t.item(r, c).text() for c in range(t.columnCount())) for r in range(t.rowCount())]


def track_ids(layer) -> set[int]:
    return {int(v) for v in np.asarray(layer.data)[:, 0]}


@pytest.fixture
def tracked(tab, qtbot):  # noqa: F811  (the fixture imported above)
    viewer, dock, tool = tab
    press(qtbot, tool.track_btn)
    qtbot.waitUntil(lambda: not dock.controller.is_running("track"), timeout=60000)
    return viewer, dock, tool, tool.feature.run_state


def split_long_track(viewer, qtbot, tool, run) -> tuple[int, int]:
    long = max(run.tracks, key=lambda t: t.end - t.begin)
    tool.select_track(long.label)
    viewer.dims.set_point(0, long.begin + 2)
    press(qtbot, tool.split_btn)
    return long.label, max(t.label for t in run.tracks)


@pytest.mark.parametrize("selected", ["labels", "tracks"])
def test_ctrl_z_takes_back_pixels_table_summary_and_tracks_layer(tracked, qtbot, selected):
    viewer, dock, tool, run = tracked
    tracks_layer = dock.bridge.lineage.tracks_layer
    pixels = np.asarray(run.labels_layer.data).copy()
    table, summary = rows(tool), tool.summary.value
    ids = track_ids(tracks_layer)
    _, new = split_long_track(viewer, qtbot, tool, run)
    split = rows(tool)
    assert len(split) == len(table) + 1 and new in track_ids(dock.bridge.lineage.tracks_layer)

    viewer.layers.selection.active = run.labels_layer if selected == "labels" else tracks_layer
    key(qtbot, viewer, Qt.Key_Z, Qt.ControlModifier)
    np.testing.assert_array_equal(np.asarray(run.labels_layer.data), pixels)
    assert rows(tool) == table and tool.summary.value == summary
    assert track_ids(dock.bridge.lineage.tracks_layer) == ids
    assert all(t.label != new for t in run.tracks), "a save writes the lineage undone"

    key(qtbot, viewer, Qt.Key_Z, Qt.ControlModifier | Qt.ShiftModifier)
    assert rows(tool) == split and new in track_ids(dock.bridge.lineage.tracks_layer)


def test_a_mother_change_without_pixels_is_an_undo_step(tracked, qtbot):
    viewer, _, tool, run = tracked
    daughter = next(t for t in run.tracks if t.parent)
    tool.select_track(daughter.label)
    tool.mother_spin.value = 0
    press(qtbot, tool.mother_btn)
    assert next(t for t in run.tracks if t.label == daughter.label).parent == 0
    viewer.layers.selection.active = run.labels_layer
    key(qtbot, viewer, Qt.Key_Z, Qt.ControlModifier)
    assert next(t for t in run.tracks if t.label == daughter.label).parent == daughter.parent


def test_mark_division_after_undoing_a_split_does_not_crash(tracked, qtbot, shown):
    from sam2_cells import check_lineage

    viewer, _, tool, run = tracked
    label, new = split_long_track(viewer, qtbot, tool, run)
    frame = tool.current_frame()
    viewer.layers.selection.active = run.labels_layer
    key(qtbot, viewer, Qt.Key_Z, Qt.ControlModifier)
    assert str(new) not in [r[0] for r in rows(tool)], "the table lists no undone track"

    other = next(t for t in run.tracks if t.label != label and t.begin < frame <= t.end)
    tool.select_track(other.label)
    viewer.dims.set_point(0, frame)
    tool.daughters_edit.value = f"{other.label}, {new}"  # what the stale table offered
    press(qtbot, tool.divide_btn)
    assert not shown["error"], shown
    check_lineage(run.tracks, np.asarray(run.labels_layer.data))
    assert rows(tool) == [
        (str(t.label), str(t.begin), str(t.end), str(t.parent or ""))
        for t in sorted(run.tracks, key=lambda t: t.label)
    ]


def test_the_tracks_layer_never_gets_a_graph_node_it_has_no_point_of(tracked):
    _, _, _, run = tracked
    daughter = next(t for t in run.tracks if t.parent)
    for found in run.points.values():  # the mother painted away by hand
        found.pop(daughter.parent, None)
    data, graph = run.tracks_data()
    drawn = set(data[:, 0].astype(int))
    assert all(k in drawn and v[0] in drawn for k, v in graph.items())


def test_a_saved_ctc_folder_opens_again_for_more_corrections(tracked, qtbot, tmp_path, monkeypatch):
    from qtpy.QtWidgets import QFileDialog

    viewer, dock, tool, run = tracked
    out = tmp_path / "01_RES"
    monkeypatch.setattr(QFileDialog, "getExistingDirectory", lambda *a, **k: str(out))
    press(qtbot, tool.save_ctc_btn)
    c = dock.controller
    qtbot.waitUntil(lambda: not c.is_running("export") and out.exists(), timeout=30000)
    saved = rows(tool)
    press(qtbot, tool.open_ctc_btn)
    opened = tool.feature.run_state
    assert opened is not run and opened.labels_layer in viewer.layers
    assert rows(tool) == saved and dock.bridge.lineage.tracks_layer in viewer.layers
    _, new = split_long_track(viewer, qtbot, tool, opened)
    viewer.layers.selection.active = opened.labels_layer
    key(qtbot, viewer, Qt.Key_Z, Qt.ControlModifier)
    assert rows(tool) == saved and all(t.label != new for t in opened.tracks)
