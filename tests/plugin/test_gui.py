"""The SAM 2 dock in a real napari viewer (pytest-qt, run under Xvfb)."""

import time

import numpy as np
import pytest

from tests.plugin.mouse import click
from tests.plugin.qt_events import open_dock

pytestmark = [pytest.mark.gui, pytest.mark.usefixtures("plugins_discovered")]
PLUGIN = "napari-sam2"


@pytest.fixture
def movie(timelapse):
    return timelapse.movie


def open_widget(viewer, tool="segment"):
    """The tool ``tool`` of the viewer's SAM 2 dock (opened on it)."""
    return open_dock(viewer, tool).tool(tool)


def ready(qtbot, widget, model):
    """Give the widget a model without a worker and wait for the first embedding."""
    c = widget.controller
    c.settings.click_selects_object = False
    c.set_model(model, "test_tiny")
    qtbot.waitUntil(lambda: c.has_embedding() and not c.is_running(), timeout=20000)
    return c


def go_to_frame(viewer, t):
    step = list(viewer.dims.current_step)
    step[0] = t
    viewer.dims.current_step = step


def slow_tracking(monkeypatch, seconds=0.15):
    from sam2_engine.video.predictor import TrackingSession

    original = TrackingSession._track_frame

    def slow(self, frame, reverse):
        time.sleep(seconds)
        return original(self, frame, reverse)

    monkeypatch.setattr(TrackingSession, "_track_frame", slow)


def helpers(viewer):
    from napari_sam2.viewer.helper_layers import is_helper

    return [layer.name for layer in viewer.layers if is_helper(layer)]


def test_one_dock_is_listed_and_every_menu_entry_opens_it(make_napari_viewer, movie):
    from napari._app_model import get_app_model
    from napari.plugins import _npe2

    listed = dict(w for _, w in _npe2.widget_iterator())[PLUGIN]
    assert list(listed) == ["SAM 2"]
    viewer = make_napari_viewer()
    viewer.add_image(movie, name="movie")
    first = open_dock(viewer)
    assert first.controller.image_layer is viewer.layers["movie"]
    names = helpers(viewer)
    assert sorted(names) == ["SAM 2 box", "SAM 2 preview", "SAM 2 prompts"]
    app = get_app_model()
    for command, tool in (
        ("napari-sam2.open_automatic", "automatic"),
        ("napari-sam2.open_finetune", "finetune"),
        ("napari-sam2.open_segment", "segment"),
    ):
        app.commands.execute_command(command).result()
        assert first.current_tool == tool
    again = open_dock(viewer, "automatic")
    assert again is first and first.current_tool == "automatic"
    assert helpers(viewer) == names, "no layer was cloned"
    other = make_napari_viewer()
    other.add_image(movie, name="movie")
    assert open_dock(other).controller is not first.controller


def test_click_preview_commit_undo(make_napari_viewer, qtbot, nuclei_2d, present_model):
    viewer = make_napari_viewer()
    viewer.add_image(nuclei_2d.image, name="nuclei")
    widget = open_widget(viewer)
    c = ready(qtbot, widget, present_model)
    prompts = widget.bridge.helper("prompts")
    assert viewer.layers.selection.active is prompts
    click(prompts, (40, 40))
    qtbot.waitUntil(lambda: c.preview_is_current, timeout=10000)
    assert widget.bridge.helper("preview").data.any()
    widget.commit_btn.native.click()
    labels = c.labels_layer
    assert labels is not None and (np.asarray(labels.data) == 1).any()
    assert labels.colormap.name == "sam2_contrast"
    assert not widget.bridge.helper("preview").data.any()
    widget.undo_btn.native.click()
    assert not np.asarray(labels.data).any()


def test_keyboard_shortcut_commits(make_napari_viewer, qtbot, nuclei_2d, present_model):
    from qtpy.QtCore import Qt

    viewer = make_napari_viewer(show=True)
    viewer.add_image(nuclei_2d.image, name="nuclei")
    widget = open_widget(viewer)
    c = ready(qtbot, widget, present_model)
    click(widget.bridge.helper("prompts"), (40, 40))
    qtbot.waitUntil(lambda: c.preview_is_current, timeout=10000)
    canvas = viewer.window._qt_viewer.canvas.native
    canvas.setFocus()
    qtbot.keyClick(canvas, Qt.Key_C)
    qtbot.waitUntil(lambda: c.labels_layer is not None, timeout=5000)
    assert "(C)" in widget.commit_btn.text and "shortcut: C" in widget.commit_btn.tooltip


def test_propagate_writes_every_frame(make_napari_viewer, qtbot, movie, present_model):
    viewer = make_napari_viewer()
    viewer.add_image(movie, name="movie")
    widget = open_widget(viewer)
    go_to_frame(viewer, 0)
    c = ready(qtbot, widget, present_model)
    for point in ((0, 20, 20), (0, 50, 50)):
        click(widget.bridge.helper("prompts"), point)
        qtbot.waitUntil(lambda: c.preview_is_current, timeout=10000)
        c.commit()
    labels = c.labels_layer
    steps = len(labels._undo_history)
    with qtbot.waitSignal(c.events.propagation_finished, timeout=30000) as blocker:
        widget.propagate_btn.native.click()
    assert blocker.args == [6, False]
    data = np.asarray(labels.data)
    assert all({1, 2} <= set(np.unique(data[t])) for t in range(6))
    assert len(labels._undo_history) == steps + 1
    labels.undo()
    assert not np.asarray(labels.data)[1:].any()


def test_cancel_keeps_finished_frames(make_napari_viewer, qtbot, present_model, monkeypatch):
    from sam2_synthetic import nuclei_timelapse

    slow_tracking(monkeypatch)
    movie = nuclei_timelapse(n_frames=12, shape=(64, 64), n_nuclei=3, seed=2).movie
    viewer = make_napari_viewer()
    viewer.add_image(movie, name="movie")
    widget = open_widget(viewer)
    go_to_frame(viewer, 0)
    c = ready(qtbot, widget, present_model)
    click(widget.bridge.helper("prompts"), (0, 30, 30))
    qtbot.waitUntil(lambda: c.preview_is_current, timeout=10000)
    c.commit()
    progress = []
    c.events.progress_changed.connect(lambda kind, done, total: progress.append(done))
    with qtbot.waitSignal(c.events.propagation_finished, timeout=30000) as blocker:
        widget.propagate_btn.native.click()
        qtbot.waitUntil(lambda: len(progress) >= 3, timeout=20000)
        open_dock(viewer).progress_row.cancel.native.click()
    written, cancelled = blocker.args
    assert cancelled and 3 <= written < 12
    data = np.asarray(c.labels_layer.data)
    assert all(data[t].any() for t in range(written))
    assert not data[written:].any()
    assert not c.labels_layer._block_history and not c.is_running()
    c.labels_layer.undo()
    assert not np.asarray(c.labels_layer.data)[1:].any(), "one undo step takes it all back"


def test_worker_error_is_a_notification_and_the_gui_stays_usable(
    make_napari_viewer, qtbot, nuclei_2d, present_model, monkeypatch
):
    import napari.utils.notifications as notifications

    import sam2_engine as se

    errors = []
    monkeypatch.setattr(notifications, "show_error", lambda msg: errors.append(msg))
    broken = se.build_model("test_tiny")
    monkeypatch.setattr(
        broken, "encode_image", lambda *a, **k: (_ for _ in ()).throw(RuntimeError("boom"))
    )
    viewer = make_napari_viewer()
    viewer.add_image(nuclei_2d.image, name="nuclei")
    widget = open_widget(viewer)
    c = widget.controller
    c.set_model(broken, "broken")
    qtbot.waitUntil(lambda: bool(errors), timeout=10000)
    assert "boom" in errors[0]
    qtbot.waitUntil(lambda: not c.is_running(), timeout=5000)
    assert widget.commit_btn.native.isVisible() is not None  # the widget still answers
    c.set_model(present_model, "test_tiny")
    qtbot.waitUntil(lambda: c.has_embedding(), timeout=10000)
    click(widget.bridge.helper("prompts"), (40, 40))
    qtbot.waitUntil(lambda: c.preview_is_current, timeout=10000)


def test_closing_the_viewer_during_propagation_stops_the_worker(
    make_napari_viewer, qtbot, present_model, monkeypatch
):
    from sam2_synthetic import nuclei_timelapse

    slow_tracking(monkeypatch, 0.2)
    movie = nuclei_timelapse(n_frames=20, shape=(64, 64), n_nuclei=3, seed=2).movie
    viewer = make_napari_viewer()
    viewer.add_image(movie, name="movie")
    widget = open_widget(viewer)
    go_to_frame(viewer, 0)
    c = ready(qtbot, widget, present_model)
    runner = c.runner
    click(widget.bridge.helper("prompts"), (0, 30, 30))
    qtbot.waitUntil(lambda: c.preview_is_current, timeout=10000)
    c.commit()
    c.propagate()
    qtbot.waitUntil(lambda: c.is_running("propagate"), timeout=5000)
    viewer.close()
    qtbot.waitUntil(lambda: runner.active == 0, timeout=20000)
    assert widget.bridge.closed and c.ws.jobs.closed


def test_segment_everything_widget(make_napari_viewer, qtbot, nuclei_2d, tiny_model):
    pytest.importorskip("sam2_engine.automatic.generator")
    viewer = make_napari_viewer()
    viewer.add_image(nuclei_2d.image, name="nuclei")
    widget = open_widget(viewer, "automatic")
    c = widget.controller
    c.set_model(tiny_model, "test_tiny")
    widget.points_per_side.value = 4
    widget.pred_iou.value = 0.0
    widget.stability.value = 0.0
    with qtbot.waitSignal(c.events.automatic_finished, timeout=30000):
        widget.run_btn.native.click()
    assert c.labels_layer is not None and c.labels_layer.data.max() >= 1
    assert c.labels_layer in viewer.layers


def test_demo_headless_check(make_napari_viewer, monkeypatch):
    import napari

    from napari_sam2 import demo

    monkeypatch.setattr(napari, "Viewer", lambda **kw: make_napari_viewer(**kw))
    assert demo.main(["--headless-check", "--model", "test_tiny", "--sample", "2d"]) == 0


def test_closing_the_widget_cancels_work_and_reopening_keeps_state(
    make_napari_viewer, qtbot, present_model, monkeypatch
):
    from sam2_synthetic import nuclei_timelapse

    slow_tracking(monkeypatch, 0.2)
    movie = nuclei_timelapse(n_frames=20, shape=(64, 64), n_nuclei=3, seed=2).movie
    viewer = make_napari_viewer()
    viewer.add_image(movie, name="movie")
    dock, widget = viewer.window.add_plugin_dock_widget(PLUGIN, "SAM 2")
    widget = widget.tool("segment")
    go_to_frame(viewer, 0)
    c = ready(qtbot, widget, present_model)
    click(widget.bridge.helper("prompts"), (0, 30, 30))
    qtbot.waitUntil(lambda: c.preview_is_current, timeout=10000)
    c.commit()
    with qtbot.waitSignal(c.events.propagation_finished, timeout=30000) as blocker:
        c.propagate()
        qtbot.waitUntil(lambda: c.is_running("propagate"), timeout=5000)
        viewer.window.remove_dock_widget(dock)
    written, cancelled = blocker.args
    assert cancelled and written < 20
    reopened = open_widget(viewer)
    assert reopened.controller is c and c.labels_layer is not None
    assert helpers(viewer) == ["SAM 2 preview", "SAM 2 box", "SAM 2 prompts"]


def test_opening_the_widget_loads_a_bundled_model(
    make_napari_viewer, qtbot, nuclei_2d, tiny_model, tmp_path, monkeypatch
):
    from sam2_engine import save_checkpoint
    from sam2_engine.weights import local as local_weights

    save_checkpoint(tiny_model, tmp_path / "microscopy.pt")
    monkeypatch.setattr(local_weights, "BUNDLED_DIR", tmp_path)
    viewer = make_napari_viewer()
    viewer.add_image(nuclei_2d.image, name="nuclei")
    c = open_widget(viewer).controller
    qtbot.waitUntil(lambda: c.model is not None and not c.is_running(), timeout=20000)
    assert c.model_name == "microscopy"
    assert c.model.image_size == tiny_model.image_size
