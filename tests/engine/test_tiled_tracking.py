"""Tracking on frames larger than a whole-image model's input: full-resolution tiles.

The model's decoder is replaced by an oracle that segments the bright pixels of the
tile it is shown (random weights segment nothing in particular): whether an object
comes out whole then depends only on the tile the session chooses for it.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import sam2_engine as se
from sam2_engine.focus.window import Window
from sam2_engine.model.image_encoder import ImageFeatures
from sam2_engine.tiled.grid import TilingSettings
from sam2_engine.tiled.track_view import TiledTrackView, lattice_starts

HW = (200, 360)
TILING = TilingSettings("tile", tile=128, halo=32)


def _disc(cy: float, cx: float, r: float, hw=HW) -> np.ndarray:
    rows, cols = np.ogrid[: hw[0], : hw[1]]
    return (rows - cy) ** 2 + (cols - cx) ** 2 <= r * r


def _centres(n: int, step: float) -> list[tuple[float, float]]:
    return [(100.0, 40.0 + step * t) for t in range(n)]  # left to right, over tile borders


def _movie(n: int = 6, step: float = 52.0) -> np.ndarray:
    movie = np.full((n, *HW), 100, np.uint16)
    for t, (cy, cx) in enumerate(_centres(n, step)):
        movie[t][_disc(cy, cx, 14)] = 1000
    return movie


@pytest.fixture()
def oracle_model(monkeypatch):
    """test_tiny whose masks are the bright pixels of the tile it looks at."""
    torch.manual_seed(0)
    model = se.build_model("test_tiny", checkpoint=False, device="cpu")
    encode, decode = model.encode_image, model.decode

    def bright_encode(x: torch.Tensor) -> ImageFeatures:
        f = encode(x)
        hr0 = f.high_res[0].clone()
        hr0[:, :1] = F.avg_pool2d(x[:, :1], 4)  # brightness at the logits' resolution
        return ImageFeatures(f.embed, (hr0, f.high_res[1]), f.pos)

    def bright_decode(embed, high_res, points, labels, mask_logits, multimask):
        out = decode(embed, high_res, points, labels, mask_logits, multimask)
        logits = torch.where(high_res[0][:, :1] > 0, 10.0, -10.0)
        return dataclasses.replace(
            out,
            masks=logits.expand(out.masks.shape[0], out.masks.shape[1], -1, -1),
            object_score=torch.full_like(out.object_score, 5.0),
        )

    monkeypatch.setattr(model, "encode_image", bright_encode)
    monkeypatch.setattr(model, "decode", bright_decode)
    return model


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    return float((a & b).sum() / max(1, (a | b).sum()))


def test_lattice_starts_overlap_and_reach_the_end():
    for length in (130, 300, 1000, 4096, 5000):
        starts = lattice_starts(length, 128, 32, 16)
        assert starts[0] == 0 and all(s % 16 == 0 for s in starts)
        assert starts[-1] + 128 >= length > starts[-1] + 128 - 16
        assert max(np.diff(starts), default=0) <= 128 - 32, "neighbours share 2 x halo"


def test_the_tile_that_holds_an_object_best_is_chosen():
    view = TiledTrackView(se.build_model("test_tiny", checkpoint=False), HW, lambda t: None, TILING)
    assert all(isinstance(t, Window) and t.side == 128 for t in view.tiles)
    box = np.array([110.0, 80.0, 140.0, 110.0])  # x 110-140 crosses the border x = 128
    chosen = view.window_for(box)
    assert chosen in view.tiles
    assert view.margin(chosen, box) >= 16, "whole, away from the inner edges"
    huge = np.array([90.0, 40.0, 210.0, 160.0])  # wider than any overlap: cut everywhere
    centred = view.window_for(huge)
    assert centred not in view.tiles and centred.side == 128
    assert centred.left % 16 == 0 and centred.top % 16 == 0, "on the tiles' lattice"


@pytest.mark.parametrize("step", [12.0, 52.0])
def test_an_object_is_followed_across_tile_borders_at_full_resolution(oracle_model, step):
    n = 10 if step < 30 else 6
    movie = _movie(n, step)
    session = se.VideoPredictor(oracle_model, tiling=TILING).start(movie)
    assert session.tiled and not session.windowed
    first = session.add_points(0, 1, [[40, 100]], [1])
    assert first.masks.shape == (1, *HW)
    results = list(session.propagate(start=0))
    assert [r.frame for r in results] == list(range(n))
    windows = set()
    for r, (cy, cx) in zip(results, _centres(n, step), strict=True):
        truth = _disc(cy, cx, 14)
        mask = r.masks[0]
        assert mask.shape == HW, "masks at the frame's full size"
        assert _iou(mask, truth) > 0.85, f"frame {r.frame}: the object comes out whole"
        assert not mask[:, : max(0, int(cx) - 30)].any(), "nothing left behind"
        windows.add(r.windows[0])
    assert len(windows) >= 2, "the object moved through several tiles"
    assert all(w.top % 16 == 0 and w.left % 16 == 0 for w in windows), "one token lattice"
    if step < 30:
        assert windows <= set(session._view.tiles), "slow objects stay on grid tiles"


def test_a_box_across_a_tile_border_gives_the_whole_object(oracle_model):
    movie = _movie(2)
    movie[0] = 100
    movie[0][_disc(100, 128, 20)] = 1000  # centred on the border x = 128
    session = se.VideoPredictor(oracle_model, tiling=TILING).start(movie)
    res = session.add_box(0, 1, [108, 80, 148, 120])
    assert _iou(res.masks[0], _disc(100, 128, 20)) > 0.85


def test_small_frames_and_resize_stay_whole_frame():
    model = se.build_model("test_tiny", checkpoint=False)
    assert not se.VideoPredictor(model).start(_movie(2)).tiled, "auto: up to 2,048 px whole"
    resized = se.VideoPredictor(model, tiling=TilingSettings("resize")).start(_movie(2))
    assert not resized.tiled
    res = resized.add_points(0, 1, [[40, 100]], [1])
    assert res.windows is None and res.masks.shape == (1, *HW)


def test_settings_are_frozen_when_a_session_starts():
    model = se.build_model("test_tiny", checkpoint=False)
    pred = se.VideoPredictor(model, non_overlapping=True)
    session = pred.start(_movie(2))
    pred.non_overlapping = False
    assert session.settings.non_overlapping, "a running session keeps its settings"
    assert not pred.start(_movie(2)).settings.non_overlapping
    with pytest.raises(dataclasses.FrozenInstanceError):
        session.settings.fill_hole_area = 0  # type: ignore[misc]


def test_tiled_sessions_never_load_whole_frames_ahead():
    model = se.build_model("test_tiny", checkpoint=False)
    tiled = se.VideoPredictor(model, tiling=TILING, prefetch=True).start(_movie(2))
    whole = se.VideoPredictor(model, prefetch=True).start(_movie(2))
    assert tiled.tiled and not tiled._inputs.enabled, "tiles read only their regions"
    assert not whole.tiled and whole._inputs.enabled


def test_tile_features_of_old_frames_are_dropped(oracle_model):
    session = se.VideoPredictor(oracle_model, tiling=TILING, feature_cache_size=2).start(
        _movie(6, 12.0)
    )
    session.add_points(0, 1, [[40, 100]], [1])
    for _ in session.propagate(start=0):
        pass
    kept = session._view._features
    assert kept.images() == [4, 5], "tiles of the last two frames only"
    held = kept.nbytes()
    assert 0 < held <= session.memory_bytes(), "the memory report counts the tiles kept"
