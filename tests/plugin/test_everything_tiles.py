"""Segment everything with the real generator on a slide that the Segment tab would tile
(Qt-free): the plane is run tile by tile at full resolution, the report adds up the tiles,
and a small image is still decoded whole."""

import numpy as np
from napari.layers import Image


def _settings(c):
    return c.automatic.replace(points_per_side=2, pred_iou_thresh=0.0, stability_score_thresh=0.0)


def test_the_generator_runs_tile_by_tile_on_a_big_slide(make_controller, present_model, nuclei_2d):
    import sam2_engine as se

    c = make_controller(present_model)
    image = np.tile(nuclei_2d.image, (22, 1))[:2100]  # (2100, 96): 22 tiles of 128 px
    c.set_image(Image(image))
    progress = []
    c.events.progress_changed.connect(
        lambda kind, d, t: progress.append((d, t)) if kind == "automatic" else None
    )
    assert c.segment_everything(_settings(c), method="grid")
    labels = np.asarray(c.labels_layer.data)
    assert labels.shape == image.shape and labels.max() >= 1
    tiles = len(se.TileGrid(image.shape, 128, 16))
    assert progress[-1] == (tiles, tiles), "progress per tile"
    report = c.automatic_segmentation.report
    assert report.points == 4 * tiles, "every tile's grid was prompted"
    assert report.kept == len(np.unique(labels)) - 1
    assert "tile by tile" in report.notes[-1]


def test_a_small_image_is_still_segmented_whole(make_controller, present_model, nuclei_2d):
    c = make_controller(present_model)
    c.set_image(Image(nuclei_2d.image))
    progress = []
    c.events.progress_changed.connect(
        lambda kind, d, t: progress.append((d, t)) if kind == "automatic" else None
    )
    assert c.segment_everything(_settings(c), method="grid")
    assert c.automatic_segmentation.report.points == 4, "one grid on the whole image"
