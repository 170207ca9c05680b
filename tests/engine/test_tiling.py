"""Multi-scale tiles of the automatic mask generator (for window models)."""

from __future__ import annotations

import itertools

import numpy as np
import torch

import sam2_engine as se
from sam2_engine.automatic.tiling import probe_sides, square_tiles, tile_scores


def test_square_tiles_cover_the_image_with_overlap():
    tiles = square_tiles((300, 500), 128, 0.25)
    assert all(x1 - x0 == 128 and y1 - y0 == 128 for x0, y0, x1, y1 in tiles)
    cover = np.zeros((300, 500), bool)
    for x0, y0, x1, y1 in tiles:
        cover[y0:y1, x0:x1] = True
    assert cover.all()
    xs = sorted({t[0] for t in tiles})
    assert all(b - a <= 128 * 0.75 + 1 for a, b in itertools.pairwise(xs))
    assert square_tiles((100, 80), 256, 0.25) == [[0, 0, 80, 80], [0, 20, 80, 100]]


def test_plausible_masks_win_across_tiles():
    boxes = torch.tensor([[0, 0, 29, 29], [0, 0, 29, 29]])
    crops = torch.tensor([[0, 0, 100, 100], [0, 0, 400, 400]])
    scores = tile_scores(boxes, crops, torch.tensor([0.5, 0.9]))
    assert scores[0] > scores[1], "30 % of a tile beats 7.5 % with a higher IoU"


def test_probe_keeps_the_sides_where_objects_look_plausible():
    def masks_at(tile, extents=(20,)):
        boxes = torch.tensor([[0, 0, e - 1, e - 1] for e in extents for _ in range(5)])
        return boxes, torch.tensor([tile] * len(boxes))

    assert probe_sides((512, 512), [32, 64, 128, 512], masks_at) == [64], "20 px: 64 px tiles"
    two = probe_sides((1024, 1024), [64, 128, 256, 512], lambda t: masks_at(t, (20, 80)))
    assert two == [64, 256], "two populations: two tile sides"
    assert probe_sides((512, 512), [512], lambda t: (torch.zeros(0, 4), torch.zeros(0, 4))) == [512]


def test_the_generator_prompts_tiles_and_reports_every_filter():
    torch.manual_seed(0)
    model = se.build_model("test_tiny", checkpoint=False)
    image = np.random.default_rng(0).integers(0, 4000, (200, 200)).astype(np.uint16)
    settings = se.MaskGeneratorSettings(
        points_per_side=4,
        pred_iou_thresh=0,
        stability_score_thresh=0,
        tile_sides=(100,),
        min_object_score=0.0,
    )
    gen = se.AutomaticMaskGenerator(model, settings)
    records = gen.generate(image)
    r = gen.report
    tiles = square_tiles((200, 200), 100, 0.25)
    assert r.points == 16 * len(tiles)
    assert r.decoded == 3 * r.points, "three candidates per point"
    removed = r.no_object + r.low_iou + r.unstable + r.at_crop_edge + r.duplicates
    assert r.kept == len(records) == r.decoded - removed
    assert all(rec.crop_box[2] == 100 for rec in records)
    assert "candidate masks kept" in r.summary()


def test_a_model_recommends_its_generator_settings():
    model = se.build_model("test_tiny", checkpoint=False)
    model.recommended = {"automatic": {"tile_sides": [64, 128], "pred_iou_thresh": 0.5}}
    s = se.MaskGeneratorSettings.for_model(model)
    assert s.tile_sides == (64, 128) and s.pred_iou_thresh == 0.5
    assert se.MaskGeneratorSettings.for_model(se.build_model("test_tiny")).tile_sides is None
