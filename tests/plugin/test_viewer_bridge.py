"""One controller per viewer, helper layers, mouse gestures and shortcuts (no Qt)."""

import numpy as np
import pytest
from napari.components import ViewerModel
from napari.layers import Image

from napari_sam2.viewer.helper_layers import is_helper
from napari_sam2.viewer.keys import SHORTCUTS
from napari_sam2.viewer.registry import bridge_for
from tests.plugin.mouse import click, gesture


@pytest.fixture
def viewer_with_movie(timelapse):
    viewer = ViewerModel()
    viewer.add_image(timelapse.movie, name="movie")
    viewer.dims.current_step = (0, 0, 0)  # napari opens stacks on the middle frame
    return viewer


@pytest.fixture
def bridge(viewer_with_movie, present_model):
    b = bridge_for(viewer_with_movie)
    b.controller.settings.click_selects_object = False
    b.controller.set_model(present_model, "test_tiny")
    b.controller.set_image(viewer_with_movie.layers["movie"])
    yield b
    b.close()


def helper_names(viewer):
    return sorted(layer.name for layer in viewer.layers if is_helper(layer))


def test_one_bridge_per_viewer_and_independent_viewers(viewer_with_movie):
    a = bridge_for(viewer_with_movie)
    assert bridge_for(viewer_with_movie) is a
    other = ViewerModel()
    assert bridge_for(other) is not a
    assert bridge_for(other).controller is not a.controller
    a.close()
    assert bridge_for(viewer_with_movie) is not a, "a closed bridge is replaced"


def test_helper_layers_are_created_once_and_found_again(bridge, viewer_with_movie):
    viewer = viewer_with_movie
    assert helper_names(viewer) == ["SAM 2 box", "SAM 2 preview", "SAM 2 prompts"]
    assert viewer.layers.selection.active is bridge.helper("prompts")
    bridge.ensure_helpers()
    bridge.controller.set_image(viewer.layers["movie"])
    assert helper_names(viewer) == ["SAM 2 box", "SAM 2 preview", "SAM 2 prompts"]
    bridge.close()
    again = bridge_for(viewer)
    again.controller.set_image(viewer.layers["movie"])
    assert helper_names(viewer) == ["SAM 2 box", "SAM 2 preview", "SAM 2 prompts"]
    assert again.helper("prompts") is bridge.helper("prompts")
    again.close()


def test_click_shift_click_and_shift_drag(bridge, viewer_with_movie):
    c, prompts = bridge.controller, bridge.helper("prompts")
    viewer_with_movie.dims.current_step = (2, 0, 0)
    click(prompts, (2, 20, 30))
    assert c.current.plane.frame == 2
    assert [(p.row, p.col, p.positive) for p in c.current.prompts.points] == [(20, 30, True)]
    click(prompts, (2, 25, 35), modifiers=("Shift",))
    click(prompts, (2, 26, 36), button=2)
    assert [p.positive for p in c.current.prompts.points] == [True, False, False]
    np.testing.assert_array_equal(prompts.data[:, 0], [2, 2, 2])
    gesture(prompts, [(2, 10, 10), (2, 20, 25), (2, 40, 45)], modifiers=("Shift",))
    assert c.current.prompts.box == (10.0, 10.0, 40.0, 45.0)
    assert len(bridge.helper("box").data) == 1
    preview = bridge.helper("preview")
    assert preview.data.any() and c.preview_is_current
    gesture(prompts, [(2, 10, 10), (2, 30, 30)])  # a plain drag pans: no prompt
    assert len(c.current.prompts.points) == 3


def test_editing_the_prompts_layer_updates_the_prompts(bridge):
    c, prompts = bridge.controller, bridge.helper("prompts")
    click(prompts, (0, 20, 30))
    click(prompts, (0, 40, 40))
    prompts.selected_data = {0}
    prompts.remove_selected()
    assert [(p.row, p.col) for p in c.current.prompts.points] == [(40, 40)]


def test_shortcuts_are_bound_and_act(bridge, viewer_with_movie):
    c, prompts = bridge.controller, bridge.helper("prompts")
    keymap = viewer_with_movie.keymap
    assert {str(k) for k in keymap} >= {"C", "Escape", "N", "T", "G"}
    click(prompts, (0, 20, 30))
    _press(viewer_with_movie, "C")
    assert c.labels_layer is not None and c.current.prompts.empty
    _press(viewer_with_movie, "T")
    assert c.settings.negative_by_default
    _press(viewer_with_movie, "T")
    _press(viewer_with_movie, "G")
    assert all(np.asarray(c.labels_layer.data)[t].any() for t in range(6))
    _press(prompts, "Control-Z")  # undo the propagation from the prompts layer
    assert not np.asarray(c.labels_layer.data)[1:].any()
    _press(prompts, "Control-Shift-Z")
    assert np.asarray(c.labels_layer.data)[1:].any()
    assert all(key.split("-")[-1] for key, _ in SHORTCUTS.values())


def _press(owner, key):
    from napari.utils.key_bindings import coerce_keybinding

    binding = coerce_keybinding(key)
    owner.keymap[binding](owner)


def test_sliders_choose_the_plane_and_the_preview_hides_elsewhere(bridge, viewer_with_movie):
    c = bridge.controller
    click(bridge.helper("prompts"), (0, 20, 30))
    assert bridge.helper("preview").data.any()
    viewer_with_movie.dims.current_step = (4, 0, 0)
    assert c.plane.frame == 4
    assert not bridge.helper("preview").data.any()


def test_removing_layers_is_handled(bridge, viewer_with_movie):
    c = bridge.controller
    click(bridge.helper("prompts"), (0, 20, 30))
    c.commit()
    viewer_with_movie.layers.remove(c.labels_layer)
    assert c.labels_layer is None
    viewer_with_movie.layers.remove("movie")
    assert c.image_layer is None and c.layout is None


def test_labels_layer_is_added_under_the_helpers(bridge, viewer_with_movie):
    click(bridge.helper("prompts"), (0, 20, 30))
    bridge.controller.commit()
    names = [layer.name for layer in viewer_with_movie.layers]
    assert names.index("SAM 2 labels") < names.index("SAM 2 preview")
    assert viewer_with_movie.layers.selection.active is bridge.helper("prompts")


def test_rgb_images_work(present_model):
    viewer = ViewerModel()
    rgb = np.random.default_rng(0).integers(0, 255, (40, 50, 3), dtype=np.uint8)
    viewer.add_image(rgb, rgb=True, name="rgb")
    b = bridge_for(viewer)
    b.controller.set_model(present_model, "test_tiny")
    b.controller.set_image(viewer.layers["rgb"])
    click(b.helper("prompts"), (20, 25))
    assert b.controller.commit().written > 0
    assert b.controller.labels_layer.data.shape == (40, 50)
    b.close()


def test_image_layer_with_scale_maps_clicks_through_world(present_model):
    viewer = ViewerModel()
    layer = viewer.add_image(np.zeros((40, 50), np.uint16), scale=(2.0, 0.5), translate=(10, 0))
    b = bridge_for(viewer)
    b.controller.set_model(present_model, "test_tiny")
    b.controller.set_image(layer)
    click(b.helper("prompts"), (10 + 2 * 12, 0.5 * 30))
    p = b.controller.current.prompts.points[0]
    assert (p.row, p.col) == pytest.approx((12, 30))
    assert isinstance(viewer.layers[0], Image)
    b.close()
