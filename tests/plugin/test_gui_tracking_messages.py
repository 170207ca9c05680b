"""What the Track cells tab tells a user (issue 17): seeds offer no helper layers and an
empty one is refused in one sentence, a run whose layer or image goes away stops with a
warning and cannot be continued, input mistakes read as such, a refused save leaves no
"Saved" status, and the summary follows the progress bar frame by frame."""

from __future__ import annotations

import numpy as np
import pytest
from qtpy.QtCore import Qt

from tests.plugin.test_gui_tracking import movie, tab  # noqa: F401  (fixtures)

pytestmark = [pytest.mark.gui, pytest.mark.usefixtures("plugins_discovered")]


def press(qtbot, button) -> None:
    qtbot.mouseClick(button.native, Qt.LeftButton)
    qtbot.wait(20)


def test_seeds_offer_no_helper_layer_and_an_empty_one_is_refused(tab, qtbot, shown):  # noqa: F811
    viewer, dock, tool = tab
    texts = [tool.seeds_combo.native.itemText(i) for i in range(tool.seeds_combo.native.count())]
    assert not [t for t in texts if "SAM 2" in t], texts
    clicks = viewer.add_points(np.zeros((0, 3)), ndim=3, name="my clicks")
    empty = viewer.add_labels(np.zeros(viewer.layers["cells"].data.shape, np.int32), name="e")
    for layer, words in ((clicks, "has no points"), (empty, "has no cell")):
        tool.seeds_combo.value = layer
        press(qtbot, tool.track_btn)
        assert not dock.controller.is_running("track")
        assert words in shown["warning"][-1] and "axes" not in shown["warning"][-1]


@pytest.mark.parametrize("what", ["labels", "image"])
def test_a_run_whose_layer_goes_away_stops_and_says_so(tab, qtbot, shown, what):  # noqa: F811
    viewer, dock, tool = tab
    c, f = dock.controller, tool.feature

    def remove(kind, done, total):
        if kind == "track" and done == 3:
            layer = f.run_state.labels_layer if what == "labels" else viewer.layers["cells"]
            viewer.layers.remove(layer)

    c.events.progress_changed.connect(remove)
    press(qtbot, tool.track_btn)
    qtbot.waitUntil(lambda: not c.is_running("track"), timeout=60000)
    assert any("stopped" in t and "removed" in t for t in shown["warning"]), shown
    assert not tool.continue_btn.enabled and "Continue resumes" not in c.status


def test_input_mistakes_and_refused_saves_read_as_such(tab, qtbot, shown, tmp_path, monkeypatch):  # noqa: F811
    from qtpy.QtWidgets import QFileDialog

    _, dock, tool = tab
    c, f = dock.controller, tool.feature
    seen = []
    c.events.progress_changed.connect(
        lambda kind, done, total: seen.append((f.run_state.summary(), tool.summary.value))
    )
    press(qtbot, tool.track_btn)
    qtbot.waitUntil(lambda: not c.is_running("track"), timeout=60000)
    assert seen and all(now == shown_ for now, shown_ in seen), "the summary trails the bar"

    track = f.run_state.tracks[0]
    tool.select_track(track.label)
    tool.mother_spin.value = track.label
    press(qtbot, tool.mother_btn)
    assert "own mother" in shown["warning"][-1]
    tool.mother_spin.value = 9999
    press(qtbot, tool.mother_btn)
    assert "no track 9999" in shown["warning"][-1]
    assert "Challenge" not in shown["warning"][-1]

    good, mine = tmp_path / "01_RES", tmp_path / "my_data"
    mine.mkdir()
    (mine / "movie.tif").write_bytes(b"precious")
    for target in (good, mine):
        monkeypatch.setattr(QFileDialog, "getExistingDirectory", lambda *a, t=target, **k: str(t))
        press(qtbot, tool.save_ctc_btn)
        qtbot.waitUntil(lambda: not c.is_running("export"), timeout=30000)
        qtbot.wait(50)
    assert c.status.startswith("Not saved") and "Saved" not in c.status
    assert not shown["error"] and "not saved" in shown["warning"][-1]
    assert (mine / "movie.tif").read_bytes() == b"precious"


def test_removing_the_tracks_layer_mid_run_loses_nothing(tab, qtbot, shown, tmp_path, monkeypatch):  # noqa: F811
    """The tour's ``rm_tracks`` stage: the Tracks layer exists only once the frames carry
    track labels (the second pass); removing it then neither stops nor breaks the run."""
    from qtpy.QtWidgets import QFileDialog

    viewer, dock, tool = tab
    c, f = dock.controller, tool.feature
    removed = []

    def remove(kind, done, total):
        layer = dock.bridge.lineage.tracks_layer
        if kind == "track" and not removed and layer is not None and layer in viewer.layers:
            removed.append(f.run_state.frames_done)
            viewer.layers.remove(layer)

    c.events.progress_changed.connect(remove)
    press(qtbot, tool.track_btn)
    qtbot.waitUntil(lambda: not c.is_running("track"), timeout=60000)
    n_frames = len(f.run_state.labels_layer.data)
    assert removed and removed[0] < n_frames, "removed while the run went on"
    assert f.run_state.frames_done == n_frames
    assert "done" in c.status and tool.table.rowCount() == len(f.run_state.tracks) > 0
    monkeypatch.setattr(QFileDialog, "getExistingDirectory", lambda *a, **k: str(tmp_path / "r"))
    press(qtbot, tool.save_ctc_btn)
    qtbot.waitUntil(lambda: not c.is_running("export"), timeout=30000)
    assert (tmp_path / "r" / "res_track.txt").is_file()
    assert not shown["warning"] and not shown["error"], shown


def test_detect_with_and_cell_diameter_reach_the_tracker(tab, qtbot, movie):  # noqa: F811
    """The controls that replaced "Find new cells every" (the tours read the old one)."""
    viewer, dock, tool = tab
    c, f = dock.controller, tool.feature
    mine = viewer.add_labels(movie.labels, name="my segmentation")
    texts = combo_texts(tool.detector_combo)
    assert "labels: my segmentation" in texts and not any("SAM 2" in t for t in texts[3:])
    tool.detector_combo.native.setCurrentIndex(texts.index("classical (fluorescent nuclei)"))
    spin = tool.diameter_spin.native
    spin.selectAll()
    qtbot.keyClicks(spin, "14")
    qtbot.keyClick(spin, Qt.Key_Return)
    press(qtbot, tool.track_btn)
    qtbot.waitUntil(lambda: not c.is_running("track"), timeout=60000)
    assert f.settings.detection == "classical" and f.settings.diameter == 14
    texts = combo_texts(tool.detector_combo)
    assert "labels: SAM 2 cell tracks" not in texts, "the run's own result is no detection source"
    tool.detector_combo.value = mine
    press(qtbot, tool.track_btn)
    qtbot.waitUntil(lambda: not c.is_running("track"), timeout=60000)
    assert f._detector is not None and f.run_state.tracks


def combo_texts(combo) -> list[str]:
    return [combo.native.itemText(i) for i in range(combo.native.count())]
