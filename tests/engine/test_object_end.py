"""Objects end where the instance head sees no foreground under their masks
(``SessionSettings.end_below_foreground``, :mod:`sam2_engine.video.object_end`)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

import sam2_engine as se
from sam2_engine.focus.policy import WindowPolicy
from sam2_engine.imaging.frames import FrameSource
from sam2_engine.imaging.intensity import Normalization
from sam2_engine.model.sam2 import LOGIT_CLAMP
from sam2_engine.video import object_end
from sam2_engine.video.session import TrackingSession
from sam2_engine.video.settings import SessionSettings

N_FRAMES, BRIGHT = 12, range(3, 8)  # the head sees foreground on frames 3..7 only
PROMPT = 5
BOX = [40.0, 40.0, 88.0, 88.0]


def _frames() -> np.ndarray:
    frames = np.full((N_FRAMES, 128, 128), 0.1, np.float32)
    frames[list(BRIGHT)] = 0.8
    frames[:, 50:78, 50:78] += 0.1  # an object on every frame, for the tracker
    return frames


class _Head:
    """A stub instance head: foreground where the image is bright; counts its calls."""

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, images: torch.Tensor) -> torch.Tensor:
        self.calls += 1
        fg = torch.where(images.mean(1, keepdim=True) > 0, 8.0, -8.0)
        return torch.cat([fg, torch.zeros_like(fg)], 1)


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return se.build_model("conv_micro", checkpoint=False, device="cpu")


@pytest.fixture
def head(model, monkeypatch):
    stub = _Head()
    monkeypatch.setattr(model, "instance_maps", stub)
    # the random model's masks may be empty: measure the whole window instead, so that
    # the frames' brightness alone decides (mean_foreground has its own test)
    monkeypatch.setattr(object_end, "mean_foreground", lambda fg, logits: float(fg.mean()))
    return stub


def _session(model, threshold: float | None, after: int = 1) -> TrackingSession:
    source = FrameSource(_frames(), normalization=Normalization("fixed", vmin=0.0, vmax=1.0))
    settings = SessionSettings(
        windows=WindowPolicy(), end_below_foreground=threshold, end_after_frames=after
    )
    session = TrackingSession(model, source, settings)
    session.add_box(PROMPT, 1, BOX)
    return session


def _run(session: TrackingSession, direction: str = "both") -> dict[int, tuple[float, np.ndarray]]:
    return {
        r.frame: (float(r.object_scores[0]), r.logits[0].copy())
        for r in session.propagate(start=PROMPT, direction=direction)
    }


def _ended(result: tuple[float, np.ndarray]) -> bool:
    score, logits = result
    return score < 0 and bool(np.all(logits == -LOGIT_CLAMP))


def test_the_object_ends_at_the_first_low_frame_in_each_direction(model, head):
    base = _run(_session(model, None))
    assert head.calls == 0  # off: the head is never run
    session = _session(model, 0.5)
    gated = _run(session)
    assert head.calls > 0
    for f in range(N_FRAMES):
        if f in BRIGHT and f >= PROMPT:  # forward, before the end: as without the gate
            assert np.array_equal(gated[f][1], base[f][1]), f
            assert gated[f][0] == base[f][0]
        elif f in BRIGHT:  # backward (the forward pass's ended frames left no memory)
            assert not _ended(gated[f]), f
        else:  # from the first dark frame on, both ways: empty, and stays so
            assert _ended(gated[f]), f
            assert not _ended(base[f]), f
    track = session.tracks[1]
    ended_frames = [f for f in range(N_FRAMES) if f not in BRIGHT]
    assert not any(f in track.recent for f in ended_frames)  # nothing there to pull it back
    assert session.frame_result(0).obj_ids == []
    again = _run(session, "forward")  # a new pass starts the object again
    assert np.array_equal(again[BRIGHT[-1]][1], gated[BRIGHT[-1]][1])
    assert _ended(again[BRIGHT[-1] + 1])


def test_two_low_frames_end_it_one_frame_later(model, head):
    base = _run(_session(model, None), "forward")
    gated = _run(_session(model, 0.5, after=2), "forward")
    first_dark = BRIGHT[-1] + 1
    assert np.array_equal(gated[first_dark][1], base[first_dark][1])  # one low frame kept
    for f in range(first_dark + 1, N_FRAMES):
        assert _ended(gated[f]), f


def test_a_prompted_frame_after_the_end_starts_the_object_again(model, head):
    session = _session(model, 0.5)
    session.add_box(10, 1, BOX)
    out = _run(session, "forward")
    assert _ended(out[8]) and _ended(out[9])
    assert not _ended(out[10])  # dark, but the prompt says it is there
    assert _ended(out[11])  # and it ends again on the next dark frame


def test_models_without_a_head_and_whole_frame_sessions_are_never_gated():
    tiny = se.build_model("test_tiny", checkpoint=False, device="cpu")
    source = FrameSource(np.zeros((3, 64, 64), np.float32))
    assert TrackingSession(tiny, source, SessionSettings(end_below_foreground=0.5))._ends is None


def test_mean_foreground_inside_the_mask():
    fg = torch.zeros(64, 64)
    fg[:, :32] = 1.0
    logits = torch.full((1, 16, 16), -1.0)
    logits[0, 4:12, 2:6] = 1.0  # inside the foreground half
    assert object_end.mean_foreground(fg, logits) == pytest.approx(1.0)
    logits[0, 4:12, 10:14] = 1.0  # as much again in the background half
    assert object_end.mean_foreground(fg, logits) == pytest.approx(0.5, abs=0.05)
    assert object_end.mean_foreground(fg, torch.full((1, 16, 16), -1.0)) == 0.0


def test_settings_reject_bad_thresholds():
    with pytest.raises(ValueError, match="end_below_foreground"):
        SessionSettings(end_below_foreground=1.5)
    with pytest.raises(ValueError, match="end_after_frames"):
        SessionSettings(end_after_frames=0)
    assert dataclasses.replace(SessionSettings(), end_below_foreground=0.3).end_after_frames == 2


def test_the_video_predictor_passes_the_setting_to_its_sessions():
    tiny = se.build_model("test_tiny", checkpoint=False, device="cpu")
    predictor = se.VideoPredictor(tiny, end_below_foreground=0.5, end_after_frames=3)
    assert predictor.settings.end_below_foreground == 0.5
    assert predictor.settings.end_after_frames == 3
    assert se.VideoPredictor(tiny).settings.end_below_foreground is None
    with pytest.raises(ValueError, match="end_below_foreground"):
        se.VideoPredictor(tiny, end_below_foreground=2.0).settings  # noqa: B018
