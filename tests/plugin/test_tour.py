"""A user's tour of the SAM 2 dock, end to end, with real Qt events on a shown window.

2D nuclei (click, Shift-click, Shift-drag, commit with C and with the button, undo and
redo), segment everything, fine-tuning started and cancelled, a time-lapse (clicks on
frame 0, propagation), then a z-stack chosen while a propagation still runs (the moment
napari used to crash in Mesa's OpenGL), clicks and a propagation both ways there. The
model is the random-weight ``test_tiny`` picked in the setup as a user picks it (with its
object-presence head biased, so that tracking keeps the objects); masks are not
meaningful, the plugin's behaviour is. Nothing may crash, nothing may raise, no
error may be shown, and the committed labels are autosaved.
"""

from __future__ import annotations

import time

import numpy as np
import pytest
from qtpy.QtCore import Qt

from napari_sam2.core.autosave import read_autosave
from tests.plugin.qt_events import PLUGIN, centres, click, drag, key

pytestmark = [pytest.mark.gui, pytest.mark.slow, pytest.mark.usefixtures("plugins_discovered")]
QUICK = {"trainer.tensorboard": False, "trainer.checkpoint_every": 0}


def draw(qtbot, viewer, ms=100):
    """Let Qt paint the window (the OpenGL canvas included) for a while."""
    viewer.window._qt_viewer.canvas.native.update()
    qtbot.wait(ms)


def screenshot(qtbot, viewer):
    """File > Save Screenshot (with the viewer): the whole window, rendered again."""
    image = viewer.screenshot(canvas_only=False, flash=False)
    assert image.shape[0] > 500 and image[..., :3].any()
    qtbot.wait(50)


def stage_2d(qtbot, viewer, dock, c):
    truth = np.asarray(viewer.layers["nuclei 2D ground truth"].data)
    nuclei = centres(truth, 4)
    _, r, col = nuclei[0]
    click(qtbot, viewer, (r, col))
    qtbot.waitUntil(lambda: c.preview_is_current, timeout=20000)
    click(qtbot, viewer, (r + 25, col + 25), modifier=Qt.ShiftModifier)
    qtbot.waitUntil(lambda: c.preview_is_current, timeout=20000)
    assert [p.positive for p in c.current.prompts.points] == [True, False]
    key(qtbot, viewer, Qt.Key_C)
    labels = c.labels_layer
    assert labels is not None and (np.asarray(labels.data) == 1).any()
    screenshot(qtbot, viewer)
    _, r, col = nuclei[1]
    drag(qtbot, viewer, (r - 12, col - 12), (r + 12, col + 12), modifier=Qt.ShiftModifier)
    qtbot.waitUntil(lambda: c.preview_is_current and bool(c.current.prompts.box), timeout=20000)
    segment = dock.tool("segment")
    segment.commit_btn.native.click()
    assert (np.asarray(labels.data) == 2).any()
    segment.undo_btn.native.click()
    assert not (np.asarray(labels.data) == 2).any()
    segment.redo_btn.native.click()
    assert (np.asarray(labels.data) == 2).any()
    draw(qtbot, viewer)


def stage_automatic(qtbot, viewer, dock, c):
    dock.show_tool("automatic")
    tool = dock.tool("automatic")
    tool.points_per_side.value = 6
    with qtbot.waitSignal(c.events.automatic_finished, timeout=60000):
        tool.run_btn.native.click()
    assert "candidate masks" in tool.report_label.value
    draw(qtbot, viewer)


def stage_finetune(qtbot, viewer, dock, tmp_path):
    dock.show_tool("finetune")
    tool = dock.tool("finetune")
    ft = tool.controller
    assert ft.pairs and ft.pairs[0].labels is viewer.layers["nuclei 2D ground truth"]
    tool.size_combo.value = 0
    tool.epochs_spin.value = 500
    tool.folder_edit.value = str(tmp_path / "models")
    ft.settings.overrides = dict(QUICK)
    with qtbot.waitSignal(ft.finished, timeout=120000) as finished:
        tool.start_btn.native.click()
        qtbot.waitUntil(lambda: ft.last is not None, timeout=60000)
        draw(qtbot, viewer, 300)
        tool.cancel_btn.native.click()
    outcome = finished.args[0]
    assert outcome is not None and outcome.cancelled and outcome.checkpoint.exists()
    draw(qtbot, viewer)


def stage_timelapse(qtbot, viewer, dock, c):
    dock.show_tool("segment")
    for layer in viewer.layers:
        layer.visible = False
    viewer.open_sample(PLUGIN, "nuclei_timelapse")
    dock.setup.image_combo.value = viewer.layers["nuclei time-lapse"]
    assert viewer.dims.current_step[0] == 0 and dock.setup.stack_kind_combo.value == "time"
    qtbot.waitUntil(lambda: c.has_embedding() and not c.is_running(), timeout=20000)
    truth = np.asarray(viewer.layers["nuclei time-lapse ground truth"].data[0])
    for _, r, col in centres(truth, 2):
        click(qtbot, viewer, (0, r, col))
        qtbot.waitUntil(lambda: c.preview_is_current, timeout=20000)
        key(qtbot, viewer, Qt.Key_C)
    labels = c.labels_layer
    with qtbot.waitSignal(c.events.propagation_finished, timeout=120000) as finished:
        dock.tool("segment").propagate_btn.native.click()
        draw(qtbot, viewer, 200)
    written, cancelled = finished.args
    assert not cancelled and written == 40
    propagated = np.asarray(labels.data).copy()
    assert propagated[1:].any()
    for frame in (0, 13, 26, 39):  # look at the result, take screenshots
        viewer.dims.set_point(0, frame)
        screenshot(qtbot, viewer)
    segment = dock.tool("segment")
    segment.undo_btn.native.click()  # the whole propagation is one step
    assert not np.asarray(labels.data)[1:].any()
    draw(qtbot, viewer)
    segment.redo_btn.native.click()
    np.testing.assert_array_equal(np.asarray(labels.data), propagated)
    draw(qtbot, viewer)


def stage_zstack_while_propagating(qtbot, viewer, dock, c):
    viewer.open_sample(PLUGIN, "nuclei_zstack")
    c.propagate()  # again through the time-lapse: still running when the user switches
    qtbot.waitUntil(lambda: c.is_running("propagate"), timeout=10000)
    dock.setup.image_combo.value = viewer.layers["nuclei z-stack"]
    for _ in range(10):  # paint while the new plane is encoded
        draw(qtbot, viewer, 50)
    assert dock.setup.stack_kind_combo.value == "z" and c.settings.direction == "both"
    qtbot.waitUntil(lambda: c.has_embedding() and not c.is_running(), timeout=30000)
    z = viewer.layers["nuclei z-stack"]
    middle = z.data.shape[0] // 2
    viewer.dims.set_point(0, z.data_to_world((middle, 0, 0))[0])
    qtbot.waitUntil(lambda: c.has_embedding() and not c.is_running(), timeout=30000)
    truth = np.asarray(viewer.layers["nuclei z-stack ground truth"].data[middle])
    ((_, r, col),) = centres(truth, 1)
    click(qtbot, viewer, z.data_to_world((middle, r, col)))
    qtbot.waitUntil(lambda: c.preview_is_current, timeout=20000)
    key(qtbot, viewer, Qt.Key_C)
    with qtbot.waitSignal(c.events.propagation_finished, timeout=120000) as finished:
        key(qtbot, viewer, Qt.Key_G)
    assert finished.args == [z.data.shape[0], False]
    data = np.asarray(c.labels_layer.data)
    assert c.labels_layer.data.shape == z.data.shape and data[middle].any()
    draw(qtbot, viewer, 300)


def test_a_users_tour_of_every_tool(
    make_napari_viewer, qtbot, tmp_path, shown, present_model, monkeypatch
):
    from napari_sam2._widgets.dock import open_dock
    from napari_sam2.core.models import MODEL_STORE

    # "test_tiny" picked in the setup loads this copy (one whose tracking keeps objects)
    monkeypatch.setitem(MODEL_STORE._models, ("test_tiny", "cpu"), present_model)

    timings: dict[str, float] = {}
    viewer = make_napari_viewer(show=True)
    viewer.window._qt_window.resize(1600, 1000)
    viewer.open_sample(PLUGIN, "nuclei_2d")
    dock = open_dock(viewer)
    c = dock.controller
    dock.setup.model_combo.value = "test_tiny"  # loads in a worker, as for a user
    qtbot.waitUntil(lambda: c.model is not None and c.has_embedding(), timeout=60000)
    c.settings.click_selects_object = False
    stages = (
        ("2d", lambda: stage_2d(qtbot, viewer, dock, c)),
        ("automatic", lambda: stage_automatic(qtbot, viewer, dock, c)),
        ("finetune", lambda: stage_finetune(qtbot, viewer, dock, tmp_path)),
        ("timelapse", lambda: stage_timelapse(qtbot, viewer, dock, c)),
        ("zstack", lambda: stage_zstack_while_propagating(qtbot, viewer, dock, c)),
    )
    for name, stage in stages:
        start = time.monotonic()
        stage()
        timings[name] = round(time.monotonic() - start, 1)
        assert viewer.window._qt_window.height() <= 1000
    print("tour stage seconds:", timings)
    assert shown["error"] == [], shown["error"]
    assert c.autosave.wait() and c.autosave.last_path.exists()
    saved = read_autosave(c.autosave.last_path)
    np.testing.assert_array_equal(saved, np.asarray(c.labels_layer.data))
