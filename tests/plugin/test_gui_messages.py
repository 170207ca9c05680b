"""What the plugin says when the input or the model gives nothing to work with: one clear
message, at the door, with what to do."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest

from tests.plugin.qt_events import click, open_dock

pytestmark = pytest.mark.usefixtures("plugins_discovered")


def nan_image() -> np.ndarray:
    image = np.random.default_rng(0).random((96, 96)).astype(np.float32)
    image[:20, :30] = np.nan
    image[50, 50] = np.inf
    return image


@pytest.mark.gui
def test_a_nan_image_gets_one_message_and_clicks_do_not_repeat_it(
    make_napari_viewer, qtbot, tiny_model, shown
):
    viewer = make_napari_viewer(show=True)
    viewer.add_image(nan_image(), name="broken")
    dock = open_dock(viewer)
    c = dock.controller
    c.set_model(tiny_model, "test_tiny")
    qtbot.waitUntil(lambda: bool(shown["error"]), timeout=10000)
    qtbot.wait(1500)  # nothing repeats meanwhile
    for _ in range(3):
        click(qtbot, viewer, (60, 60))
        qtbot.wait(100)
    assert len(shown["error"]) == 1, shown["error"]
    assert "601 NaN or infinite values" in shown["error"][0]
    assert "replace them" in shown["error"][0]
    assert "could not encode" in dock.progress_row.status_text


def test_the_api_raises_the_nan_error_itself(tiny_model):
    from napari_sam2 import api

    with pytest.raises(ValueError, match="NaN or infinite"):
        api.segment_from_points(nan_image(), np.array([[60.0, 60.0]]), model=tiny_model)


@pytest.mark.parametrize(
    "data",
    [np.full((32, 32), "a"), np.empty((32, 32), dtype=object), np.zeros((32, 32), "M8[s]")],
    ids=["strings", "objects", "dates"],
)
def test_the_api_refuses_non_numeric_arrays_at_the_door(tiny_model, data):
    from napari_sam2 import api

    with pytest.raises(ValueError, match="SAM 2 needs numbers"):
        api.segment_from_points(data, np.array([[10.0, 10.0]]), model=tiny_model)
    with pytest.raises(ValueError, match="the points holds"):
        api.segment_from_points(np.zeros((32, 32)), np.array([["a", "b"]]), model=tiny_model)


@pytest.mark.gui
def test_segment_everything_says_what_each_filter_removed_and_what_to_try(
    make_napari_viewer, qtbot, nuclei_2d, tiny_model, shown
):
    viewer = make_napari_viewer()
    viewer.add_image(nuclei_2d.image, name="nuclei")
    dock = open_dock(viewer, "automatic")
    tool = dock.tool("automatic")
    c = dock.controller
    c.set_model(tiny_model, "test_tiny")
    tool.points_per_side.value = 4
    tool.pred_iou.value, tool.stability.value = 0.99, 0.99  # nothing passes
    with qtbot.waitSignal(c.events.automatic_finished, timeout=30000):
        tool.run_btn.native.click()
    text = tool.report_label.value
    assert "0 object(s) written" in text and "candidate masks" in text
    assert "Lower" in text, "it says what to change"
    assert any("wrote nothing" in t for t in shown["warning"])


def test_models_without_a_recommendation_start_from_thresholds_that_find_objects(tiny_model):
    import sam2_engine as se
    from sam2_engine.automatic.settings import SMALL_MODEL_SETTINGS

    settings_for = se.MaskGeneratorSettings.for_model
    s = settings_for(tiny_model)
    assert s.pred_iou_thresh == SMALL_MODEL_SETTINGS["pred_iou_thresh"] < 0.8
    official = se.build_model("test_tiny")
    official.cfg = dataclasses.replace(official.cfg, name="sam2.1_hiera_tiny")
    assert settings_for(official) == se.MaskGeneratorSettings()
    tiny_model.recommended = {"automatic": {"pred_iou_thresh": 0.5}}
    try:
        assert settings_for(tiny_model).pred_iou_thresh == 0.5
    finally:
        tiny_model.recommended = {}


@pytest.mark.slow
def test_the_bundled_model_finds_objects_on_the_samples_with_its_defaults():
    import sam2_engine as se
    import sam2_engine.weights.local
    from napari_sam2.sample_data import nuclei_timelapse

    # the file itself: this folder's conftest hides the bundled models from the widgets
    shipped = Path(sam2_engine.weights.local.__file__).parent / "_bundled" / "microscopy.pt"
    model = se.build_model(str(shipped))
    frame = nuclei_timelapse()[0][0][0]
    if se.has_instance_head(model):  # what the Everything tab runs for such a model
        segmenter = se.InstanceSegmenter(model)
        labels = segmenter.segment(frame)
        assert labels.max() >= 10, f"{labels.max()} objects at {segmenter.last_diameter} px"
        return
    settings = se.MaskGeneratorSettings.for_model(model)
    gen = se.AutomaticMaskGenerator(model, settings)
    labels = gen.generate_labels(frame, min_area=settings.min_mask_region_area)
    assert labels.max() >= 10, gen.report.summary()
