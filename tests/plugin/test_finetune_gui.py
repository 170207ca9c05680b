"""The Fine-tune tool of the SAM 2 dock in a real napari viewer (pytest-qt, under Xvfb)."""

from __future__ import annotations

import pytest

pytestmark = [pytest.mark.gui, pytest.mark.usefixtures("plugins_discovered")]
PLUGIN = "napari-sam2"
QUICK = {"trainer.tensorboard": False, "trainer.checkpoint_every": 0}


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("SAM2_ENGINE_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


def open_finetune(viewer, tmp_path, epochs=2, name="gui_nuclei"):
    """The Fine-tune tool of the viewer's dock, set up for a quick run on ``test_tiny``
    (the base model is the dock's shared model)."""
    from napari_sam2._widgets.dock import open_dock

    dock = open_dock(viewer, "finetune")
    dock.setup.refresh_models()
    dock.setup.model_combo.value = "test_tiny"
    widget = dock.tool("finetune")
    widget.size_combo.value = 0  # the model's own 128 px
    widget.epochs_spin.value = epochs
    widget.folder_edit.value = str(tmp_path / "models")
    widget.name_edit.value = name
    widget.controller.settings.overrides = dict(QUICK)
    widget.dock = dock
    return widget


def nuclei_viewer(make_napari_viewer, nuclei_2d):
    viewer = make_napari_viewer()
    viewer.add_image(nuclei_2d.image, name="nuclei")
    viewer.add_labels(nuclei_2d.labels, name="nuclei labels")
    return viewer


def test_training_from_the_widget_updates_progress_and_lists_the_model(
    make_napari_viewer, qtbot, nuclei_2d, tmp_path, cache, shown
):
    viewer = nuclei_viewer(make_napari_viewer, nuclei_2d)
    widget = open_finetune(viewer, tmp_path, epochs=3)
    sam2 = widget.dock
    c = widget.controller
    assert widget.read_settings().base_model == "test_tiny", "the setup's model is the base"
    assert len(c.pairs) == 1, "the image and its labels were paired on opening"
    assert c.pairs[0].labels is viewer.layers["nuclei labels"]
    widget.refresh_summary()
    assert widget.steps_label.value == "= 3 steps (1 per epoch)"
    reports = []
    c.progressed.connect(reports.append)
    with qtbot.waitSignal(c.finished, timeout=60000) as blocker:
        widget.start_btn.native.click()
        assert widget.cancel_btn.enabled and not widget.start_btn.enabled
    outcome = blocker.args[0]
    assert outcome is not None and not outcome.cancelled and outcome.steps == 3
    assert [r.step for r in reports if r.phase == "train"] == [1, 2, 3]
    status = widget.status_label.value
    assert "step 3 / 3" in status and "gui_nuclei.pt" in status
    assert widget.plot.curves.loss and widget.plot.max_steps == 3
    assert widget.bar.value == 3 and widget.start_btn.enabled and not widget.cancel_btn.enabled
    listed = list(sam2.setup.model_combo.choices)
    assert "gui_nuclei" in listed, "the SAM 2 widget lists the new model at once"
    assert any("saved to" in text for text in shown["info"])
    widget.use_btn.native.click()
    qtbot.waitUntil(lambda: sam2.controller.model_name == "gui_nuclei", timeout=20000)
    assert sam2.current_tool == "segment"
    assert widget.name_edit.value != "gui_nuclei", "the next run gets a fresh name"


def test_cancel_button_stops_and_keeps_the_model(
    make_napari_viewer, qtbot, nuclei_2d, tmp_path, cache, shown
):
    viewer = nuclei_viewer(make_napari_viewer, nuclei_2d)
    widget = open_finetune(viewer, tmp_path, epochs=500, name="stopped_early")
    c = widget.controller
    with qtbot.waitSignal(c.finished, timeout=60000) as blocker:
        widget.start_btn.native.click()
        qtbot.waitUntil(lambda: c.last is not None, timeout=30000)
        widget.cancel_btn.native.click()
    outcome = blocker.args[0]
    assert outcome.cancelled and 1 <= outcome.steps < 500 and outcome.checkpoint.exists()
    assert "Cancelled" in widget.status_label.value
    assert any("cancelled" in text for text in shown["info"])


def test_bad_input_shows_a_notification_and_starts_nothing(
    make_napari_viewer, qtbot, nuclei_2d, tmp_path, cache, shown
):
    viewer = make_napari_viewer()
    viewer.add_image(nuclei_2d.image, name="nuclei")  # no Labels layer at all
    widget = open_finetune(viewer, tmp_path)
    assert widget.controller.pairs == [] and "Add a pair" in widget.data_label.value
    widget.start_btn.native.click()
    assert any("add at least one pair" in text for text in shown["warning"])
    assert not widget.controller.is_running and widget.controller.runner.active == 0
    widget.add_btn.native.click()  # image without labels: refused at Start with its reason
    widget.start_btn.native.click()
    assert any("has no Labels layer" in text for text in shown["warning"])
    assert widget.controller.runner.active == 0 and not (tmp_path / "models").exists()


def test_closing_the_viewer_during_training_cancels_it(
    make_napari_viewer, qtbot, nuclei_2d, tmp_path, cache, shown
):
    viewer = nuclei_viewer(make_napari_viewer, nuclei_2d)
    widget = open_finetune(viewer, tmp_path, epochs=500, name="closed")
    c = widget.controller
    runner = c.runner
    widget.start_btn.native.click()
    qtbot.waitUntil(lambda: c.last is not None, timeout=30000)
    viewer.close()
    qtbot.waitUntil(lambda: runner.active == 0, timeout=30000)
    assert c.outcome is not None and c.outcome.cancelled and c.outcome.steps < 500


def test_closing_the_widget_during_training_cancels_it(
    make_napari_viewer, qtbot, nuclei_2d, tmp_path, cache, shown
):
    viewer = nuclei_viewer(make_napari_viewer, nuclei_2d)
    widget = open_finetune(viewer, tmp_path, epochs=500, name="undocked")
    c = widget.controller
    widget.start_btn.native.click()
    qtbot.waitUntil(lambda: c.last is not None, timeout=30000)
    dock_widget, _ = viewer.window.add_plugin_dock_widget(PLUGIN, "SAM 2")
    viewer.window.remove_dock_widget(dock_widget)
    qtbot.waitUntil(lambda: c.runner.active == 0, timeout=30000)
    assert c.outcome is not None and c.outcome.cancelled and c.outcome.steps < 500
