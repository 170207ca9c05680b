"""The dock on a 1600 x 1000 screen, and what a user sees of it: shared setup, tabs that
fit, defaults guessed from the image, a status line that follows the sliders."""

from __future__ import annotations

import numpy as np
import pytest

from tests.plugin.qt_events import PLUGIN, canvas, canvas_xy, open_dock

pytestmark = [pytest.mark.gui, pytest.mark.usefixtures("plugins_discovered")]


def screen_viewer(make_napari_viewer):
    viewer = make_napari_viewer(show=True)
    viewer.window._qt_window.resize(1600, 1000)
    return viewer


def timelapse_dock(make_napari_viewer, tiny_model):
    """A 1600 x 1000 viewer showing the time-lapse sample, the dock open on it."""
    viewer = screen_viewer(make_napari_viewer)
    viewer.open_sample(PLUGIN, "nuclei_timelapse")
    dock = open_dock(viewer)
    dock.controller.set_model(tiny_model, "test_tiny")
    return viewer, dock


def test_every_tool_fits_a_1600x1000_screen_and_switching_keeps_the_choices(
    make_napari_viewer, qtbot, tiny_model
):
    viewer, dock = timelapse_dock(make_napari_viewer, tiny_model)
    truth = viewer.layers["nuclei time-lapse ground truth"]
    dock.setup.labels_combo.value = truth
    dock.setup.intensity_combo.value = "contrast_limits"
    chosen = (dock.controller.image_layer, dock.controller.labels_layer, dock.controller.layout)
    heights = {}
    for tool in ("segment", "automatic", "track", "finetune", "segment"):
        dock.show_tool(tool)
        qtbot.wait(150)
        window = viewer.window._qt_window
        heights[tool] = window.height()
        area = dock.tabs.currentWidget()
        assert window.height() <= 1000, f"{tool}: the window grew to {window.height()} px"
        assert area.verticalScrollBar().maximum() == 0, f"{tool} does not fit: it scrolls"
        assert dock.setup.image_combo.value is chosen[0]
        assert dock.setup.labels_combo.value is truth
        assert dock.setup.intensity_combo.value == "contrast_limits"
        assert (c := dock.controller).labels_layer is chosen[1] and c.layout == chosen[2]
    assert dock.tool("finetune").read_settings().base_model == dock.setup.model_combo.value


def test_a_z_stack_chosen_after_a_time_lapse_is_tracked_as_z_both_ways(
    make_napari_viewer, qtbot, tiny_model
):
    viewer, dock = timelapse_dock(make_napari_viewer, tiny_model)
    segment = dock.tool("segment")
    assert dock.setup.stack_kind_combo.value == "time"
    assert segment.direction_combo.value == "forward"
    viewer.open_sample(PLUGIN, "nuclei_zstack")
    dock.setup.image_combo.value = viewer.layers["nuclei z-stack"]
    qtbot.wait(100)
    assert dock.setup.stack_kind_combo.value == "z"
    assert segment.direction_combo.value == "both" and dock.controller.settings.direction == "both"


def test_the_status_line_follows_the_plane_and_stays_one_line(
    make_napari_viewer, qtbot, tiny_model
):
    viewer = screen_viewer(make_napari_viewer)
    viewer.open_sample(PLUGIN, "nuclei_timelapse")
    dock = open_dock(viewer)
    c = dock.controller
    c.set_model(tiny_model, "test_tiny")
    qtbot.waitUntil(lambda: c.has_embedding() and not c.is_running(), timeout=20000)
    viewer.dims.set_point(0, 7)
    qtbot.waitUntil(lambda: c.has_embedding() and not c.is_running(), timeout=20000)
    assert "time 7" in dock.progress_row.status_text
    viewer.dims.set_point(0, 0)  # cached: no job runs, the line must still follow
    qtbot.wait(50)
    assert "time 0" in dock.progress_row.status_text
    label = dock.progress_row.status
    assert not label.wordWrap()
    assert label.height() < 2 * label.fontMetrics().lineSpacing()


def test_a_sample_stack_opens_on_its_first_frame(make_napari_viewer, qtbot):
    viewer = screen_viewer(make_napari_viewer)
    viewer.open_sample(PLUGIN, "nuclei_timelapse")
    assert viewer.dims.current_step[0] > 0, "napari starts in the middle"
    open_dock(viewer)
    assert viewer.dims.current_step[0] == 0
    viewer.open_sample(PLUGIN, "nuclei_zstack")  # opened while the dock is open
    z = viewer.layers["nuclei z-stack"]
    assert z.world_to_data(viewer.dims.point)[0] == pytest.approx(0)


def test_docking_shows_the_whole_image(make_napari_viewer, qtbot):
    viewer = screen_viewer(make_napari_viewer)
    viewer.open_sample(PLUGIN, "nuclei_2d")
    qtbot.wait(100)
    open_dock(viewer)
    qtbot.wait(300)
    size = canvas(viewer).native.size()
    h, w = viewer.layers["nuclei 2D"].data.shape
    for corner in ((-0.5, -0.5), (h - 0.5, w - 0.5)):
        x, y = canvas_xy(viewer, corner)
        assert 0 <= x <= size.width() and 0 <= y <= size.height(), (corner, (x, y), size)


def test_consecutive_labels_have_clearly_different_colours(make_napari_viewer, qtbot, tiny_model):
    from napari_sam2.viewer.helper_layers import find_helper

    viewer = make_napari_viewer()
    viewer.add_image(np.zeros((64, 64), np.uint8), name="plain")
    dock = open_dock(viewer)
    labels = dock.controller.ensure_labels()
    preview = find_helper(viewer, "preview")
    for layer in (labels, preview):
        colours = layer.colormap.map(np.arange(1, 100))[:, :3]
        for gap in (1, 2):
            closest = np.linalg.norm(colours[gap:] - colours[:-gap], axis=1).min()
            assert closest > 0.4, f"{layer.name}: ids {gap} apart look alike ({closest:.2f})"


def test_an_image_opened_later_gets_the_helpers_and_its_labels_above_it(
    make_napari_viewer, qtbot, present_model, disc_masks
):
    viewer = screen_viewer(make_napari_viewer)
    viewer.open_sample(PLUGIN, "nuclei_2d")
    dock = open_dock(viewer)
    c = dock.controller
    c.set_model(present_model, "test_tiny")
    viewer.open_sample(PLUGIN, "nuclei_timelapse")
    movie = viewer.layers["nuclei time-lapse"]
    dock.setup.image_combo.value = movie
    qtbot.waitUntil(lambda: c.has_embedding() and not c.is_running(), timeout=20000)
    c.add_point((0, 100, 100))
    qtbot.waitUntil(lambda: c.preview_is_current, timeout=10000)
    c.commit()
    order = [layer.name for layer in viewer.layers]
    above = order[order.index(movie.name) + 1 :]
    for name in ("SAM 2 preview", "SAM 2 box", "SAM 2 prompts", c.labels_layer.name):
        assert name in above, f"{name} is under the image: {order}"
