"""Merging two pieces of one cell's track in the Track cells tab (issue 17), with real
clicks and keys: one undo step for pixels and lineage; refusals in one sentence; and the
summary while cells are still being detected says so (not "0 tracks")."""

from __future__ import annotations

import numpy as np
import pytest
from qtpy.QtCore import Qt

from napari_sam2.features.lineage_merge import merge_tracks
from sam2_cells import LineageError, TrackRecord
from tests.plugin.qt_events import key
from tests.plugin.test_gui_lineage_undo import press, rows, split_long_track, tracked  # noqa: F401
from tests.plugin.test_gui_tracking import movie, tab  # noqa: F401  (fixtures)

pytestmark = [pytest.mark.gui, pytest.mark.usefixtures("plugins_discovered")]


def test_merge_gives_the_later_piece_the_earlier_label_in_one_undo_step(tracked, qtbot, shown):  # noqa: F811
    viewer, _, tool, run = tracked
    before_split, table = np.asarray(run.labels_layer.data).copy(), rows(tool)
    label, new = split_long_track(viewer, qtbot, tool, run)
    split, split_rows = np.asarray(run.labels_layer.data).copy(), rows(tool)
    assert (split == new).any()

    tool.select_track(new)  # the later piece selected, the earlier one named: order is free
    tool.merge_spin.value = label
    press(qtbot, tool.merge_btn)
    np.testing.assert_array_equal(np.asarray(run.labels_layer.data), before_split)
    assert rows(tool) == table and all(t.label != new for t in run.tracks)
    assert not shown["warning"] and not shown["error"], shown

    viewer.layers.selection.active = run.labels_layer
    key(qtbot, viewer, Qt.Key_Z, Qt.ControlModifier)
    np.testing.assert_array_equal(np.asarray(run.labels_layer.data), split)
    assert rows(tool) == split_rows


def test_a_merge_that_cannot_be_is_refused_in_one_sentence(tracked, qtbot, shown):  # noqa: F811
    _, _, tool, run = tracked
    pixels = np.asarray(run.labels_layer.data).copy()
    a, b = sorted(run.tracks, key=lambda t: t.end - t.begin)[-2:]  # long tracks: overlapping
    tool.select_track(a.label)
    tool.merge_spin.value = b.label
    press(qtbot, tool.merge_btn)
    assert "overlap" in shown["warning"][-1] and "Challenge" not in shown["warning"][-1]
    np.testing.assert_array_equal(np.asarray(run.labels_layer.data), pixels)


def test_merge_rules():
    t = [TrackRecord(1, 0, 4, 0), TrackRecord(2, 5, 9, 0), TrackRecord(3, 10, 12, 2),
         TrackRecord(4, 7, 12, 0), TrackRecord(5, 10, 12, 1)]
    out, steps = merge_tracks(t[:4], 1, 2)
    assert [(r.label, r.begin, r.end, r.parent) for r in out] == [
        (1, 0, 9, 0), (3, 10, 12, 1), (4, 7, 12, 0)]  # 2's daughter now 1's
    assert (steps[0].first, steps[0].last, steps[0].old, steps[0].new) == (5, 9, 2, 1)
    for a, b, words in [(1, 1, "itself"), (2, 4, "overlap"), (1, 4, "gap"), (1, 9, "no track 9")]:
        with pytest.raises(LineageError) as err:
            merge_tracks(t[:4], a, b)
        assert words in err.value.problems[0]
    with pytest.raises(LineageError, match="divides"):
        merge_tracks([*t[:2], TrackRecord(5, 5, 6, 1)], 1, 2)


def test_the_summary_says_cells_are_detected_before_tracks_exist(tab, qtbot):  # noqa: F811
    _, dock, tool = tab
    seen = []
    dock.controller.events.progress_changed.connect(
        lambda kind, done, total: seen.append((tool.feature.run_state.stage, tool.summary.value))
    )
    press(qtbot, tool.track_btn)
    qtbot.waitUntil(lambda: not dock.controller.is_running("track"), timeout=60000)
    detecting = [text for stage, text in seen if stage == "detected"]
    assert detecting and all("detected" in s and "0 tracks" not in s for s in detecting), seen
    assert "frame(s) tracked" in tool.summary.value
