"""Clicks, Shift-clicks, Shift-drags, Escape and corrections as a user makes them: Qt
events on the real canvas (vispy hands the modifiers over as ``Key`` objects)."""

from __future__ import annotations

import numpy as np
import pytest
from qtpy.QtCore import Qt

from tests.plugin.qt_events import centres, click, drag, key, open_dock, ready

pytestmark = [pytest.mark.gui, pytest.mark.usefixtures("plugins_discovered")]


def nuclei_dock(make_napari_viewer, qtbot, data, model):
    viewer = make_napari_viewer(show=True)
    viewer.add_image(data.image, name="nuclei")
    dock = open_dock(viewer)
    c = ready(qtbot, dock, model)
    viewer.reset_view()
    qtbot.wait(50)
    return viewer, dock, c


def test_shift_click_is_negative_and_shift_drag_draws_a_box_without_panning(
    make_napari_viewer, qtbot, nuclei_2d, present_model
):
    viewer, dock, c = nuclei_dock(make_napari_viewer, qtbot, nuclei_2d, present_model)
    click(qtbot, viewer, (40, 40))
    click(qtbot, viewer, (60, 60), modifier=Qt.ShiftModifier)
    qtbot.waitUntil(lambda: len(c.current.prompts.points) == 2, timeout=5000)
    assert [p.positive for p in c.current.prompts.points] == [True, False]
    prompts = dock.bridge.helper("prompts")
    assert list(prompts.features["positive"]) == [True, False]
    c.clear_prompts()
    centre = tuple(viewer.camera.center)
    drag(qtbot, viewer, (20, 20), (60, 70), modifier=Qt.ShiftModifier)
    qtbot.waitUntil(lambda: c.current.prompts.box is not None, timeout=5000)
    r0, c0, r1, c1 = c.current.prompts.box
    assert abs(r0 - 20) < 2 and abs(c0 - 20) < 2 and abs(r1 - 60) < 2 and abs(c1 - 70) < 2
    assert tuple(viewer.camera.center) == pytest.approx(centre), "the view did not pan"
    assert prompts.mouse_pan, "panning is back after the box"
    qtbot.waitUntil(lambda: c.preview_is_current, timeout=10000)
    drag(qtbot, viewer, (30, 30), (50, 50))  # a plain drag pans and adds nothing
    assert tuple(viewer.camera.center) != pytest.approx(centre)
    assert c.current.prompts.points == [] and c.current.prompts.box == (r0, c0, r1, c1)


def test_clear_ends_a_correction_and_the_next_click_is_a_new_object(
    make_napari_viewer, qtbot, nuclei_2d, present_model, shown, disc_masks
):
    viewer, dock, c = nuclei_dock(make_napari_viewer, qtbot, nuclei_2d, present_model)
    c.settings.click_selects_object = True
    (_, ra, ca), (_, rb, cb) = centres(nuclei_2d.labels, 2)
    click(qtbot, viewer, (ra, ca))
    qtbot.waitUntil(lambda: c.preview_is_current, timeout=10000)
    key(qtbot, viewer, Qt.Key_C)
    qtbot.waitUntil(lambda: c.labels_layer is not None, timeout=5000)
    first = np.asarray(c.labels_layer.data) == 1
    assert first.any()
    click(qtbot, viewer, (ra, ca))  # on the committed object: it becomes the target
    tool = dock.tool("segment")
    qtbot.waitUntil(lambda: c.current.obj_id == 1, timeout=5000)
    assert tool.object_id_spin.value == 1, "re-targeting is visible in Object id"
    assert any("Correcting object 1" in text for text in shown["info"]), "and said"
    key(qtbot, viewer, Qt.Key_Escape)
    assert c.current.obj_id is None and tool.object_id_spin.value == 0
    click(qtbot, viewer, (rb, cb))
    qtbot.waitUntil(lambda: c.preview_is_current, timeout=10000)
    key(qtbot, viewer, Qt.Key_C)
    data = np.asarray(c.labels_layer.data)
    assert (data == 1).sum() == first.sum(), "the first nucleus kept its pixels"
    assert (data == 2).any(), "the second nucleus is a new object"


def test_moving_an_object_by_a_correction_warns_and_undo_brings_it_back(
    make_napari_viewer, qtbot, nuclei_2d, present_model, shown, disc_masks
):
    viewer, dock, c = nuclei_dock(make_napari_viewer, qtbot, nuclei_2d, present_model)
    (_, ra, ca), (_, rb, cb) = centres(nuclei_2d.labels, 2)
    click(qtbot, viewer, (ra, ca))
    qtbot.waitUntil(lambda: c.preview_is_current, timeout=10000)
    c.commit()
    before = np.asarray(c.labels_layer.data).copy()
    dock.tool("segment").object_id_spin.value = 1  # explicit: correct object 1 ...
    click(qtbot, viewer, (rb, cb))  # ... with a click on another nucleus
    qtbot.waitUntil(lambda: c.preview_is_current, timeout=10000)
    result = c.commit()
    assert result.obj_id == 1 and result.removed > 0
    assert any("Object 1 moved" in text and "Undo" in text for text in shown["warning"])
    dock.tool("segment").undo_btn.native.click()
    np.testing.assert_array_equal(np.asarray(c.labels_layer.data), before)


def test_an_empty_mask_says_the_model_found_nothing(
    make_napari_viewer, qtbot, nuclei_2d, present_model, shown, monkeypatch
):
    import sam2_engine as se

    original = se.ImagePredictor.predict

    def nothing(self, *args, **kwargs):
        result = original(self, *args, **kwargs)
        return se.ImagePrediction(
            np.zeros_like(result.masks), result.scores, result.logits, result.object_scores
        )

    monkeypatch.setattr(se.ImagePredictor, "predict", nothing)
    viewer, _, c = nuclei_dock(make_napari_viewer, qtbot, nuclei_2d, present_model)
    click(qtbot, viewer, (40, 40))
    qtbot.waitUntil(lambda: c.preview_is_current, timeout=10000)
    key(qtbot, viewer, Qt.Key_C)
    text = " ".join(shown["warning"])
    assert "found no object" in text and "other objects" not in text
    assert c.labels_layer is None or not np.asarray(c.labels_layer.data).any()
    assert not c.current.prompts.empty, "the click stays, to add more"
