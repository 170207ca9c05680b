"""Which frame view a tracking session uses: whole frames, object windows or tiles.

* :class:`~sam2_engine.video.frame_view.WholeFrameView`: the frame squashed into the
  model input, as SAM 2 does (official models on frames up to about twice their input);
* :class:`~sam2_engine.focus.window_view.ObjectWindowView`: one window per object, for
  models that recommend windows (the bundled microscopy model);
* :class:`~sam2_engine.tiled.track_view.TiledTrackView`: each object on the
  full-resolution tile that holds it best, for whole-image models on frames that
  :class:`~sam2_engine.tiled.grid.TilingSettings` tiles.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Protocol

import torch

from sam2_engine.focus.window import Window
from sam2_engine.focus.window_view import ObjectWindowView
from sam2_engine.imaging.frames import FrameSource
from sam2_engine.model.image_encoder import ImageFeatures
from sam2_engine.model.sam2 import SAM2Model
from sam2_engine.tiled.track_view import TiledTrackView
from sam2_engine.video.frame_result import FrameResult
from sam2_engine.video.frame_view import FramePrompt, PromptInput, WholeFrameView
from sam2_engine.video.memory_bank import FrameOutput, ObjectTrack
from sam2_engine.video.settings import SessionSettings

__all__ = ["FrameView", "choose_view"]


class FrameView(Protocol):
    """How a session looks at frames (see :mod:`sam2_engine.video.frame_view`)."""

    windowed: bool

    def prompt_input(self, track: ObjectTrack, frame: int, prompt: FramePrompt) -> PromptInput: ...

    def tracking_window(self, track: ObjectTrack, frame: int, reverse: bool) -> Window | None: ...

    def features(self, frame: int, windows: list[Window | None]) -> ImageFeatures: ...

    def memories(
        self, track: ObjectTrack, window: Window | None
    ) -> tuple[Mapping[int, FrameOutput], Mapping[int, FrameOutput]]: ...

    def nbytes(self) -> int: ...

    def result(
        self, frame: int, ids: list[int], outs: list[FrameOutput], exclusive: bool
    ) -> FrameResult: ...


def choose_view(
    model: SAM2Model,
    settings: SessionSettings,
    source: FrameSource,
    load: Callable[[int], torch.Tensor],
) -> FrameView:
    """The frame view for ``model`` on ``source`` under ``settings``.

    Parameters
    ----------
    model
        The SAM 2 model.
    settings
        The session's settings (``windows``, ``tiling``, ``embedding_cache``, ...).
    source
        The frames.
    load
        ``load(frame) -> (H, W, 3)`` float32 RGB tensor in [0, 1] (the session's
        prefetching loader; tiles read their own regions instead).
    """
    hw: tuple[int, int] = tuple(source.shape_hw)  # type: ignore[assignment]
    if settings.windows is not None:
        return ObjectWindowView(model, settings.windows, hw, load)  # type: ignore[return-value]
    if settings.tiling.should_tile(hw, model.image_size):
        return TiledTrackView(
            model,
            hw,
            source.lazy,
            settings.tiling,
            settings.embedding_cache,
            settings.feature_cache_size,
        )
    return WholeFrameView(model, hw, load, settings.feature_cache_size, settings.embedding_cache)
