"""Tiles for whole-image models: the grid, the tile-or-resize rule, completing a clicked
object across tile borders, and tile-by-tile segment-everything without duplicates."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import sam2_engine as se
from sam2_engine.imaging.lazy_plane import LazyPlane
from sam2_engine.tiled.automatic import generate_tiled
from sam2_engine.tiled.grid import TileGrid, TilingSettings
from sam2_engine.tiled.merge import RegionMask, merge_tile_masks
from sam2_engine.tiled.prompts import TiledPrompts


def _disc(hw, cy, cx, r):
    rows, cols = np.ogrid[: hw[0], : hw[1]]
    return (rows - cy) ** 2 + (cols - cx) ** 2 <= r * r


def test_tiles_cover_the_image_and_neighbours_share_twice_the_halo():
    grid = TileGrid((500, 700), side=128, halo=16)
    cover = np.zeros((500, 700), int)
    for t in grid.tiles:
        cover[t.slices] += 1
        assert (t.height, t.width) == (128, 128)
    assert cover.min() >= 1
    starts = sorted({t.left for t in grid.tiles})
    assert max(np.diff(starts)) <= 128 - 32


def test_auto_tiles_only_images_much_larger_than_the_model_input():
    s = TilingSettings()
    assert not s.should_tile((1024, 1024), 1024) and not s.should_tile((2048, 1500), 1024)
    assert s.should_tile((4096, 4096), 1024)
    assert not TilingSettings("resize").should_tile((16384, 16384), 1024)
    assert TilingSettings("tile").should_tile((1500, 1500), 1024)
    with pytest.raises(ValueError, match="halo"):
        TilingSettings(halo=600).halo_px(1024)


def _tile_detections(hw, discs, grid):
    """What a perfect detector finds tile by tile: each disc clipped to the tile."""

    def run(rgb):
        (tile,) = [
            t
            for t in grid.tiles
            if (t.height, t.width) == rgb.shape[:2] and np.array_equal(rgb, _rgb[t.slices])
        ]
        out = []
        for d in discs:
            part = d[tile.slices]
            if part.any():
                out.append((part, 0.9))
        return out

    _rgb = np.random.default_rng(0).random((*hw, 3)).astype(np.float32)
    return _rgb, run


def test_an_object_across_a_tile_corner_comes_out_whole_and_once():
    hw = (300, 300)
    grid = TileGrid(hw, side=128, halo=24)
    corner = (grid.tiles[0].top + 128 - 24, grid.tiles[0].left + 128 - 24)  # 4 tiles meet
    small = _disc(hw, *corner, 15)  # fits the overlap: whole in one tile
    big = _disc(hw, 200, 90, 70)  # larger than any overlap: cut everywhere
    rgb, detector = _tile_detections(hw, [small, big], grid)
    masks, labels = generate_tiled(LazyPlane(se.NormalizedFrame(rgb)), grid, detector)
    assert len(masks) == 2, "no duplicates"
    ids = sorted(np.unique(labels[small]))
    assert len(ids) == 1 and ids[0] > 0
    np.testing.assert_array_equal(labels == ids[0], small)
    (big_id,) = [i for i in np.unique(labels[big]) if i != ids[0]]
    assert np.count_nonzero(labels == big_id) == np.count_nonzero(big & ~small), "no seams"


def test_merging_keeps_separate_objects_apart():
    a = RegionMask(np.ones((10, 10), bool), 0, 0, 0.9)
    b = RegionMask(np.ones((10, 10), bool), 0, 12, 0.8)
    assert len(merge_tile_masks([a, b])) == 2


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return se.build_model("test_tiny", device="cpu")


def test_a_click_is_completed_across_tile_borders(model, monkeypatch):
    hw = (260, 260)
    obj = _disc(hw, 130, 130, 60)  # crosses the borders of all tiles around the centre
    grid = TileGrid(hw, side=100, halo=10)
    tiled = TiledPrompts(model, LazyPlane(np.zeros(hw, np.uint16)), grid)

    def decode(index, points, labels, multimask):
        t = grid.tiles[index]
        logits = torch.as_tensor(np.where(obj[t.slices], 10.0, -10.0), dtype=torch.float32)
        return logits[None], torch.ones(1), 5.0, torch.zeros(1, 8, 8)

    monkeypatch.setattr(tiled, "_decode", decode)
    res = tiled.predict(np.array([[130.0, 130.0]]), np.array([1]), None, False, 0.0)
    np.testing.assert_array_equal(res.masks[0], obj)


def test_the_predictor_tiles_a_big_image_and_keeps_its_signature(model):
    pred = se.ImagePredictor(model, tiling=TilingSettings("tile", tile=64, halo=8))
    image = np.random.default_rng(1).integers(0, 4000, (200, 330)).astype(np.uint16)
    pred.set_image(image)
    assert pred.tiled and not pred._tiled._features, "tiles are encoded on demand"
    res = pred.predict(points=[[300, 20]], labels=[1])
    assert res.masks.shape == (3, 200, 330) and res.scores.shape == (3,)
    batched = pred.predict(box=[[0, 0, 50, 50], [100, 100, 160, 190]], multimask=False)
    assert batched.masks.shape == (2, 1, 200, 330)
    with pytest.raises(ValueError, match="mask_input"):
        pred.predict(points=[[3, 3]], labels=[1], mask_input=res.logits[0])
    small = se.ImagePredictor(model)
    small.set_image(image)
    assert not small.tiled, "auto decodes images up to 2,048 px whole"
    assert TilingSettings().should_tile((2100, 300), 128)


def test_tiles_embedded_in_a_thread_meet_clicks_without_encoding_twice(model, monkeypatch):
    import threading

    from sam2_engine.tiled.prompts import TiledPrompts as Tiles

    calls: list[int] = []
    encode = Tiles._encode

    def counted(self, index):
        calls.append(index)
        return encode(self, index)

    monkeypatch.setattr(Tiles, "_encode", counted)
    pred = se.ImagePredictor(model, tiling=TilingSettings("tile", tile=64, halo=8))
    pred.set_image(np.random.default_rng(2).integers(0, 4000, (150, 200)).astype(np.uint16))
    seen: list[tuple[int, int]] = []
    assert not pred.embed_tiles(lambda d, t: seen.append((d, t)), cancel=lambda: len(seen) >= 3)
    assert seen == [(1, pred.tile_count), (2, pred.tile_count), (3, pred.tile_count)]
    worker = threading.Thread(target=pred.embed_tiles)
    worker.start()
    for x, y in ((20, 20), (180, 130), (100, 75)):
        pred.predict(points=[[x, y]], labels=[1])
    worker.join()
    assert sorted(calls) == list(range(pred.tile_count)), "each tile encoded once"


def test_a_cancelled_tiled_run_keeps_the_objects_of_the_tiles_done():
    hw = (300, 300)
    grid = TileGrid(hw, side=128, halo=16)
    first, last = _disc(hw, 40, 40, 12), _disc(hw, 260, 260, 12)  # first and last tile
    rgb, detector = _tile_detections(hw, [first, last], grid)
    seen: list[tuple[int, int]] = []
    masks, labels = generate_tiled(
        LazyPlane(se.NormalizedFrame(rgb)),
        grid,
        detector,
        progress=lambda d, t: seen.append((d, t)),
        cancel=lambda: len(seen) >= 2,
    )
    assert seen == [(1, len(grid)), (2, len(grid))], "stops before the third tile"
    assert len(masks) == 1
    np.testing.assert_array_equal(labels > 0, first)
