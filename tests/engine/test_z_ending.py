"""Ending objects in z: the z-continuity rule, the relative foreground rule and the z
profile (``SessionSettings.for_z``, ``VideoPredictor(axis="z")``); time-lapses untouched."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

import sam2_engine as se
from sam2_engine.focus.policy import WindowPolicy
from sam2_engine.focus.window import Window
from sam2_engine.imaging.frames import FrameSource
from sam2_engine.imaging.intensity import Normalization
from sam2_engine.model.sam2 import LOGIT_CLAMP
from sam2_engine.video import object_end
from sam2_engine.video.session import TrackingSession
from sam2_engine.video.settings import Z_PROFILE, SessionSettings, recommended_z_profile
from sam2_engine.video.z_continuity import PlaneStep, ZContinuity, plane_step

N_PLANES, PROMPT = 12, 5
BOX = [40.0, 40.0, 88.0, 88.0]
FIXED = Normalization("fixed", vmin=0.0, vmax=1.0)


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return se.build_model("conv_micro", checkpoint=False, device="cpu")


def _disc(window: Window, side: int, centre: tuple[float, float], radius: float) -> torch.Tensor:
    """(1, side, side) logits over ``window`` of a disc at frame (row, col) ``centre``."""
    pix = (torch.arange(side, dtype=torch.float32) + 0.5) * window.side / side
    rows, cols = window.top + pix[:, None], window.left + pix[None, :]
    inside = (rows - centre[0]) ** 2 + (cols - centre[1]) ** 2 <= radius**2
    return torch.where(inside, 5.0, -5.0)[None]


class _Planes:
    """Replaces every mask a session computes by a disc chosen per plane: the object
    sits at the frame centre on planes ``stay``, elsewhere it jumps (or grows)."""

    def __init__(
        self,
        monkeypatch,
        stay: range,
        jump: tuple[float, float],
        grow: float = 1.0,
        scores: tuple[float, float] | None = None,
    ):
        self.frame = PROMPT
        self.stay, self.jump, self.grow, self.scores = stay, jump, grow, scores
        track_frame, to_output = TrackingSession._track_frame, TrackingSession._to_output

        def tracking(session, frame, reverse):
            self.frame = frame
            return track_frame(session, frame, reverse)

        def output(session, step, i, with_memory, window):
            out = to_output(session, step, i, with_memory, window)
            out.logits = self.logits(window, out.logits.shape[-1])
            if self.scores is not None:  # (on the object's planes, elsewhere)
                value = self.scores[0] if self.frame in self.stay else self.scores[1]
                out.object_score = torch.full_like(out.object_score, value)
            return out

        monkeypatch.setattr(TrackingSession, "_track_frame", tracking)
        monkeypatch.setattr(TrackingSession, "_to_output", output)

    def logits(self, window: Window, side: int) -> torch.Tensor:
        if self.frame in self.stay:
            return _disc(window, side, (64.0, 64.0), 12.0)
        return _disc(window, side, self.jump, 12.0 * self.grow)


def _session(model, settings: SessionSettings, frames: np.ndarray | None = None):
    frames = np.full((N_PLANES, 128, 128), 0.3, np.float32) if frames is None else frames
    session = TrackingSession(model, FrameSource(frames, normalization=FIXED), settings)
    session.add_box(PROMPT, 1, BOX)
    return session


def _ended_frames(session) -> set[int]:
    ended = set()
    for r in session.propagate(start=PROMPT, direction="both"):
        if r.object_scores[0] < 0 and np.all(r.logits[0] == -LOGIT_CLAMP):
            ended.add(r.frame)
    return ended


JUMP_ONLY = dict(windows=WindowPolicy(), end_on_jump=ZContinuity())


def test_a_mask_that_jumps_to_another_object_ends_on_that_plane(model, monkeypatch):
    _Planes(monkeypatch, stay=range(3, 8), jump=(64.0, 100.0))  # jumps on planes 8 and 2
    assert _ended_frames(_session(model, SessionSettings(**JUMP_ONLY))) == {0, 1, 2, 8, 9, 10, 11}
    assert _ended_frames(_session(model, SessionSettings(windows=WindowPolicy()))) == set()


def test_a_mask_that_grows_abruptly_ends_on_that_plane(model, monkeypatch):
    _Planes(monkeypatch, stay=range(0, 9), jump=(64.0, 64.0), grow=2.0)  # 4x the area on 9
    assert _ended_frames(_session(model, SessionSettings(**JUMP_ONLY))) == {9, 10, 11}


def test_a_steady_object_is_never_ended_by_continuity(model, monkeypatch):
    _Planes(monkeypatch, stay=range(N_PLANES), jump=(0.0, 0.0))
    assert _ended_frames(_session(model, SessionSettings(**JUMP_ONLY))) == set()


def test_a_weak_object_score_ends_the_object_after_the_lag(model, monkeypatch):
    # the mask stays put (out-of-focus blur), but the object is only weakly present
    _Planes(monkeypatch, stay=range(3, 8), jump=(64.0, 64.0), scores=(6.0, 0.5))
    rule = SessionSettings(windows=WindowPolicy(), end_below_object_score=2.0, end_after_frames=3)
    assert _ended_frames(_session(model, rule)) == {0, 10, 11}  # the third weak plane on
    assert _ended_frames(_session(model, SessionSettings(windows=WindowPolicy()))) == set()


def test_the_z_profile_ends_an_object_that_leaves_or_fades(model, monkeypatch):
    _Planes(monkeypatch, stay=range(3, 8), jump=(64.0, 100.0), scores=(6.0, 0.5))
    z = SessionSettings.for_z(windows=WindowPolicy())
    assert _ended_frames(_session(model, z)) == {0, 1, 2, 8, 9, 10, 11}
    time = SessionSettings.for_axis("time", windows=WindowPolicy())
    assert _ended_frames(_session(model, time)) == set()


def _brightness(fg, logits):  # the stub head's map is constant: its mean is the value
    return float(fg.mean())


def test_the_relative_rule_judges_a_dim_object_against_its_prompted_plane(model, monkeypatch):
    # the "head" sees the plane's brightness: 0.3 on the object's planes 3..7, 0.02 elsewhere
    monkeypatch.setattr(
        object_end, "window_foreground", lambda m, rgb, w, d: torch.full((32, 32), rgb.mean())
    )
    monkeypatch.setattr(object_end, "mean_foreground", _brightness)
    frames = np.full((N_PLANES, 128, 128), 0.02, np.float32)
    frames[3:8] = 0.3
    outside = {0, 1, 2, 8, 9, 10, 11}
    windows = WindowPolicy()
    relative = SessionSettings(windows=windows, end_below_prompt_foreground=0.5, end_after_frames=1)
    assert _ended_frames(_session(model, relative, frames)) == outside
    lag = SessionSettings(windows=windows, end_below_prompt_foreground=0.5, end_after_frames=2)
    assert _ended_frames(_session(model, lag, frames)) == outside - {2, 8}  # one frame later
    absolute = SessionSettings(windows=windows, end_below_foreground=0.5, end_after_frames=1)
    assert _ended_frames(_session(model, absolute, frames)) == set(range(N_PLANES)) - {PROMPT}


def test_plane_step_measures_overlap_shift_and_growth():
    disc = _disc(Window(0, 0, 64), 32, (32.0, 32.0), 10.0)
    same = plane_step(disc, Window(0, 0, 64), disc, Window(0, 0, 64))
    assert (same.overlap, same.shift, same.growth) == (1.0, 0.0, 1.0)
    # the same disc seen through a window moved by 8 px: nothing moved in the frame
    moved = _disc(Window(8, 8, 64), 32, (32.0, 32.0), 10.0)
    still = plane_step(disc, Window(0, 0, 64), moved, Window(8, 8, 64))
    assert still.overlap > 0.9 and still.shift < 0.05 and 0.9 < still.growth < 1.1
    far = _disc(Window(0, 0, 64), 32, (32.0, 52.0), 10.0)  # 20 px right: one diameter
    step = plane_step(disc, Window(0, 0, 64), far, Window(0, 0, 64))
    assert step.overlap < 0.1 and step.shift == pytest.approx(20 / (2 * 10), rel=0.1)
    big = _disc(Window(0, 0, 64), 32, (32.0, 32.0), 20.0)
    assert plane_step(disc, Window(0, 0, 64), big, Window(0, 0, 64)).growth > 3.5
    empty = torch.full((1, 32, 32), -1.0)
    assert plane_step(disc, Window(0, 0, 64), empty, Window(0, 0, 64)) is None
    back = plane_step(empty, Window(0, 0, 64), disc, Window(0, 0, 64))  # reappears
    assert back.overlap == 0.0 and math.isinf(back.shift) and math.isinf(back.growth)


def test_the_continuity_rule_breaks_on_any_limit_and_never_on_an_empty_mask():
    rule = ZContinuity(min_overlap=0.5, max_shift=0.5, max_growth=1.6)
    assert not rule.breaks(PlaneStep(overlap=0.9, shift=0.1, growth=0.8))
    assert rule.breaks(PlaneStep(overlap=0.4, shift=0.1, growth=0.8))
    assert rule.breaks(PlaneStep(overlap=0.9, shift=0.6, growth=0.8))
    assert rule.breaks(PlaneStep(overlap=0.9, shift=0.1, growth=1.7))
    assert not rule.breaks(None)
    off = ZContinuity(min_overlap=None, max_shift=None, max_growth=None)
    assert not off.breaks(PlaneStep(overlap=0.0, shift=9.0, growth=9.0))


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        (dict(min_overlap=0.0), "min_overlap=0.0 must be a fraction in"),
        (dict(min_overlap=1.5), "min_overlap=1.5"),
        (dict(max_shift=-0.1), "max_shift=-0.1 must be a positive fraction"),
        (dict(max_growth=0.9), "max_growth=0.9 must be an area factor above 1"),
    ],
)
def test_continuity_limits_are_validated(kwargs, match):
    with pytest.raises(ValueError, match=match):
        ZContinuity(**kwargs)


def test_settings_validate_the_z_rules_with_clear_errors():
    with pytest.raises(ValueError, match=r"end_below_prompt_foreground=1.5 must be a fraction"):
        SessionSettings(end_below_prompt_foreground=1.5)
    with pytest.raises(ValueError, match="end_below_prompt_foreground=0"):
        SessionSettings(end_below_prompt_foreground=0)
    with pytest.raises(TypeError, match="end_on_jump must be a ZContinuity or None, got dict"):
        SessionSettings(end_on_jump={"min_overlap": 0.5})  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="end_below_object_score=nan must be a finite"):
        SessionSettings(end_below_object_score=float("nan"))
    with pytest.raises(TypeError, match="end_after_frames must be an integer"):
        SessionSettings(end_after_frames=1.5)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="axis must be 'time' or 'z', got 'depth'"):
        SessionSettings.for_axis("depth")


def test_the_z_profile_and_the_time_profile():
    time, z = SessionSettings.for_axis("time"), SessionSettings.for_axis("z")
    assert time == SessionSettings() and not time.ends_objects  # time-lapses: as before
    assert z == SessionSettings.for_z() and z.ends_objects
    for name, value in Z_PROFILE.items():
        assert getattr(z, name) == value
    assert z.end_on_jump is not None
    assert SessionSettings.for_z(end_on_jump=None, fill_hole_area=0).end_on_jump is None


def test_the_video_predictor_takes_the_axis_and_overrides():
    tiny = se.build_model("test_tiny", checkpoint=False, device="cpu")
    assert se.VideoPredictor(tiny).settings == SessionSettings(windows=None)
    z = se.VideoPredictor(tiny, axis="z", non_overlapping=True).settings
    assert z == SessionSettings.for_z(windows=None, non_overlapping=True)
    tuned = se.VideoPredictor(tiny, axis="z", end_after_frames=3, end_below_foreground=0.4)
    assert tuned.settings.end_after_frames == 3 and tuned.settings.end_below_foreground == 0.4
    assert tuned.settings.end_on_jump == Z_PROFILE["end_on_jump"]
    with pytest.raises(ValueError, match="axis must be 'time' or 'z'"):
        se.VideoPredictor(tiny, axis="t")  # type: ignore[arg-type]


def test_continuity_runs_for_any_model_and_the_head_rules_only_with_a_head():
    tiny = se.build_model("test_tiny", checkpoint=False, device="cpu")
    source = FrameSource(np.zeros((3, 64, 64), np.float32))
    ends = TrackingSession(tiny, source, SessionSettings.for_z())._ends
    assert ends is not None and not ends.uses_foreground and ends.continuity is not None
    assert TrackingSession(tiny, source, SessionSettings())._ends is None


def test_a_model_carries_its_own_z_thresholds():
    tiny = se.build_model("test_tiny", checkpoint=False, device="cpu")
    assert recommended_z_profile(tiny) == {}
    assert se.VideoPredictor(tiny, axis="z").settings.end_below_object_score is None
    tiny.recommended = {"z_profile": {"end_below_object_score": 2.0, "end_after_frames": 4}}
    z = se.VideoPredictor(tiny, axis="z").settings
    assert z.end_below_object_score == 2.0 and z.end_after_frames == 4
    assert z.end_on_jump == Z_PROFILE["end_on_jump"]
    assert not se.VideoPredictor(tiny).settings.ends_objects, "time-lapses ignore it"
    mine = se.VideoPredictor(tiny, axis="z", end_below_object_score=1.0).settings
    assert mine.end_below_object_score == 1.0, "the caller's value wins"
    tiny.recommended = {"z_profile": {"end_on_jump": 0.5}}
    with pytest.raises(ValueError, match=r"unknown z_profile settings \['end_on_jump'\]"):
        _ = se.VideoPredictor(tiny, axis="z").settings
