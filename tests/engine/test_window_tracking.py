"""Tracking with one window per object: placement, memory alignment, results."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import sam2_engine as se
from sam2_engine import Window, WindowPolicy
from sam2_engine.focus.lattice_view import AlignedOutput, shift_map
from sam2_engine.focus.window_view import ObjectWindowView
from sam2_engine.video.memory_bank import FrameOutput, ObjectTrack


def test_shift_map_moves_cells_and_fills_zero():
    x = torch.arange(16.0).reshape(1, 4, 4)
    moved = shift_map(x, 1, -1)
    assert moved[0, 1, 0] == x[0, 0, 1] and moved[0, 0].abs().sum() == 0
    assert moved[0, :, 3].abs().sum() == 0
    assert torch.equal(shift_map(x, 0, 0), x)
    assert shift_map(x, 5, 0).abs().sum() == 0


def test_memories_are_shifted_into_the_current_window():
    memory = torch.zeros(2, 16, 16)
    memory[:, 8, 8] = 1.0  # a feature at token (8, 8) of its window
    out = FrameOutput(None, torch.zeros(4), torch.ones(1), torch.ones(1), memory, Window(0, 0, 64))
    aligned = AlignedOutput(out, Window(8, -4, 64), tokens=16)  # 4 px per token: 2 down, 1 left
    moved = aligned.memory
    assert moved[0, 6, 9] == 1.0 and moved.sum() == 2.0


@pytest.fixture()
def windowed_model():
    torch.manual_seed(0)
    model = se.build_model("test_tiny", checkpoint=False)
    model.recommended = {"windows": {"object_fraction": 0.25, "probe_sides": [32, 64]}}
    return model


def test_the_next_window_is_centred_on_the_object_and_on_the_lattice(windowed_model):
    view = ObjectWindowView(
        windowed_model, WindowPolicy(object_fraction=0.25), (400, 400), lambda f: None
    )
    side = view.side_for(20)
    assert side % view.tokens == 0 and side >= 80
    track = ObjectTrack(1, 5)
    track.window_side = side
    logits = torch.full((1, 32, 32), -5.0)
    logits[0, 4:8, 20:24] = 5.0  # object up and right of the window centre
    first = view.window_at(200, 200, side)
    track.recent[0] = FrameOutput(logits, torch.zeros(8), torch.ones(1), torch.ones(1), None, first)
    nxt = view.tracking_window(track, 1, reverse=False)
    step = side // view.tokens
    assert nxt.top % step == 0 and nxt.left % step == 0 and nxt.side == side
    scale = side / 32
    cy, cx = first.top + 6 * scale, first.left + 22 * scale
    assert abs(nxt.centre[0] - cy) <= step and abs(nxt.centre[1] - cx) <= step


def _movie(n=4, shape=(160, 240)) -> np.ndarray:
    movie = np.full((n, *shape), 100, np.uint16)
    rows, cols = np.ogrid[: shape[0], : shape[1]]
    for t in range(n):
        for cy, cx in ((40, 40 + 10 * t), (120, 200 - 10 * t)):
            movie[t][(rows - cy) ** 2 + (cols - cx) ** 2 <= 81] = 1000
    return movie


def test_a_windowed_session_tracks_each_object_in_its_own_window(windowed_model):
    movie = _movie()
    session = se.VideoPredictor(windowed_model, non_overlapping=True).start(movie)
    assert session.windowed
    first = session.add_box(0, 1, [31, 31, 49, 49])
    session.add_mask(0, 2, _disk(movie.shape[1:], 120, 200, 9))
    assert first.windows is not None and first.masks.shape == (1, 160, 240)
    results = list(session.propagate(start=0))
    assert [r.frame for r in results] == [0, 1, 2, 3]
    for r in results:
        assert r.obj_ids == [1, 2] and r.masks.shape == (2, 160, 240)
        assert len({w.side for w in r.windows[:1]}) == 1
        labels = r.label_image([1, 2])
        assert not (r.masks[0] & r.masks[1]).any(), "exclusive masks"
        np.testing.assert_array_equal(labels == 1, r.masks[0])
    sides = {r.windows[0].side for r in results}
    assert len(sides) == 1, "an object keeps its window side"
    assert session.memory_bytes() > 0


def _disk(shape, cy, cx, r) -> np.ndarray:
    rows, cols = np.ogrid[: shape[0], : shape[1]]
    return (rows - cy) ** 2 + (cols - cx) ** 2 <= r * r


def test_whole_frame_sessions_stay_whole_frame():
    model = se.build_model("test_tiny", checkpoint=False)
    session = se.VideoPredictor(model).start(_movie(2))
    assert not session.windowed
    res = session.add_points(0, 1, [[40, 40]], [1])
    assert res.windows is None and res.masks.shape == (1, 160, 240)
