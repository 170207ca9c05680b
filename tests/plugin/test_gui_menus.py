"""The menus as a user clicks them (issue 17): Plugins > SAM 2 and every Layers > Segment
entry open one and the same dock, in either order, and the canvas shows the whole image
once the dock has taken its room (also for a sample opened later)."""

from __future__ import annotations

import pytest
from qtpy.QtCore import Qt

from tests.plugin.qt_events import PLUGIN, canvas, canvas_xy

pytestmark = [pytest.mark.gui, pytest.mark.usefixtures("plugins_discovered")]


def menu_actions(viewer) -> dict[str, object]:
    """``{"Plugins > SAM 2 (napari-sam2)": QAction, ...}`` of the main window's menus."""
    out = {}

    def walk(menu, prefix):
        for act in menu.actions():
            text = act.text().replace("&", "")
            if act.menu() is not None:
                walk(act.menu(), [*prefix, text])
            elif text:
                out[" > ".join([*prefix, text])] = act

    for act in viewer.window._qt_window.menuBar().actions():
        if act.menu() is not None:
            act.menu().aboutToShow.emit()  # app-model menus fill themselves when shown
            walk(act.menu(), [act.text().replace("&", "")])
    return out


def sam2_docks(viewer) -> list[str]:
    from napari_sam2._widgets.dock import Sam2Dock

    return [
        name for name, w in viewer.window.dock_widgets.items() if isinstance(w, Sam2Dock)
    ]


@pytest.mark.parametrize("plugins_first", [True, False])
def test_every_menu_entry_opens_the_one_dock(make_napari_viewer, qtbot, plugins_first):
    viewer = make_napari_viewer(show=True)
    acts = menu_actions(viewer)
    plugins = [k for k in acts if k.startswith("Plugins") and "SAM 2" in k]
    segment = [k for k in acts if k.startswith("Layers > Segment") and "SAM 2" in k]
    assert plugins == ["Plugins > SAM 2 (napari-sam2)"] and len(segment) == 4, acts.keys()
    order = [*plugins, *segment] if plugins_first else [*segment, *plugins]
    for entry in order:
        acts[entry].trigger()
        qtbot.wait(50)
        assert len(sam2_docks(viewer)) == 1, (entry, sam2_docks(viewer))
    samples = [k for k in acts if k.startswith("File > Open Sample > napari-sam2")]
    assert len(samples) == 3, "the sample menu is named as the docs say"


def image_fits_the_canvas(viewer, shape) -> bool:
    width, height = canvas(viewer).native.width(), canvas(viewer).native.height()
    corners = [canvas_xy(viewer, (0, 0)), canvas_xy(viewer, (shape[0] - 1, shape[1] - 1))]
    return all(-2 <= x <= width + 2 and -2 <= y <= height + 2 for x, y in corners)


def test_the_canvas_shows_the_whole_image_after_docking(make_napari_viewer, qtbot):
    viewer = make_napari_viewer(show=True)
    viewer.window._qt_window.resize(1600, 1000)
    qtbot.wait(100)
    acts = menu_actions(viewer)
    acts[next(k for k in acts if "time-lapse" in k)].trigger()
    qtbot.wait(100)
    acts["Plugins > SAM 2 (napari-sam2)"].trigger()
    qtbot.wait(100)
    dock = viewer.window.dock_widgets["SAM 2 (napari-sam2)"]
    bar = dock.tabs.tabBar()
    qtbot.mouseClick(bar, Qt.LeftButton, pos=bar.tabRect(dock.tabs.count() - 2).center())
    assert dock.current_tool == "track"
    shape = viewer.layers["nuclei time-lapse"].data.shape[-2:]
    qtbot.waitUntil(lambda: image_fits_the_canvas(viewer, shape), timeout=3000)

    acts[next(k for k in acts if "z-stack" in k)].trigger()  # another sample, bigger
    shape = viewer.layers["nuclei z-stack"].data.shape[-2:]
    qtbot.waitUntil(lambda: image_fits_the_canvas(viewer, shape), timeout=3000)

    camera = viewer.scene.camera if hasattr(viewer, "scene") else viewer.camera
    camera.zoom *= 3  # the user zooms in: the view is theirs
    qtbot.mouseClick(bar, Qt.LeftButton, pos=bar.tabRect(0).center())
    qtbot.wait(200)
    assert not image_fits_the_canvas(viewer, shape)
    assert PLUGIN in str(acts.keys())
