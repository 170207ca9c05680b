"""VideoPredictor and TrackingSession: track objects through time-lapses and z-stacks.

A session reads frames lazily (one at a time) from any (T, H, W[, C]) array-like:
numpy, dask, zarr or a tifffile memmap. Prompts can be added on any frame, for any
object id, at any time (also after propagation: corrections and new objects). All
objects of a frame are tracked in one batch; memory stays bounded by design (see
:mod:`sam2_engine.video.memory_bank`). A z-stack is tracked like a video, usually with
``direction="both"`` from the prompted slice, with ``VideoPredictor(model, axis="z")``
so that objects end where they end in z.

Coordinates are pixels of the original frames: points ``(x, y) = (column, row)``,
boxes ``(x0, y0, x1, y1)``.

Examples
--------
>>> import numpy as np, sam2_engine as se
>>> movie = np.random.default_rng(0).integers(0, 255, (4, 64, 64), dtype=np.uint8)
>>> session = se.VideoPredictor(se.build_model("test_tiny")).start(movie)
>>> _ = session.add_points(frame=0, obj_id=1, points=[[32, 32]], labels=[1])
>>> [out.frame for out in session.propagate(start=0, direction="forward")]
[0, 1, 2, 3]
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import torch

from sam2_engine.focus.policy import WindowPolicy
from sam2_engine.imaging.frames import FrameSource
from sam2_engine.imaging.intensity import Normalization
from sam2_engine.model.sam2 import SAM2Model
from sam2_engine.tiled.grid import TilingSettings
from sam2_engine.video.frame_result import FrameResult
from sam2_engine.video.order import Direction
from sam2_engine.video.session import TrackingSession
from sam2_engine.video.settings import (
    AXES,
    SessionSettings,
    StackAxis,
    recommended_z_profile,
)
from sam2_engine.video.z_continuity import ZContinuity

if TYPE_CHECKING:
    from sam2_engine.embedding_cache import EmbeddingCache

__all__ = ["Direction", "FrameResult", "SessionSettings", "TrackingSession", "VideoPredictor"]


class VideoPredictor:
    """Factory of :class:`TrackingSession` objects for one model.

    Parameters
    ----------
    model
        The SAM 2 model.
    fill_hole_area
        Fill holes up to this area (low-resolution pixels) in every output mask, on CPU
        too (the official predictor silently skips this without its CUDA extension).
        0 disables.
    memory_dtype
        dtype of stored memory features; bfloat16 (default) halves their memory, as
        the official predictor does; they are cast back to the compute dtype on use.
    bounded_memory
        Drop memories that can no longer be read (default). ``False`` keeps every
        frame's memory, as the official predictor does (grows with the video).
    feature_cache_size
        How many frames' image features to keep (each is computed once per frame for
        all objects).
    max_batch_objects
        Most objects tracked in one batch. None (default): up to 32 on a GPU (Hiera-T
        at 1024 px needs about 170 MB of GPU memory per object in a batch); on a CPU,
        as many as keep the attention inputs around 16 MB (e.g. 2 objects at 512 px, 1
        at 1024 px, 8 at 256 px), which measured fastest there.
    offload_to_cpu
        Keep the memory bank in CPU RAM when running on a GPU.
    non_overlapping
        Give each pixel to at most one object in the returned masks.
    prefetch
        Read and prepare the next frame in a background thread while the model works
        on the current one. None (default): on GPUs and MPS, not on CPU-only machines
        (where the model already keeps every core busy).
    windows
        ``"auto"`` (default): track every object in its own window that follows it (see
        :mod:`sam2_engine.focus.window_view`) when the model recommends windows, whole
        frames otherwise (the official models). A
        :class:`~sam2_engine.focus.policy.WindowPolicy` forces windows, None whole frames.
    tiling
        Whole-image models (no windows): when frames much larger than the model input
        are tracked on overlapping full-resolution tiles instead of being squashed
        (:class:`~sam2_engine.tiled.grid.TilingSettings`; default ``"auto"``: frames
        whose longer side exceeds twice the input and 2,048 px). Each object is tracked
        on the tile that holds it best; masks come back at full resolution. See
        :mod:`sam2_engine.tiled.track_view`.
    embedding_cache
        Optional :class:`~sam2_engine.embedding_cache.EmbeddingCache`: frame and tile
        features are read from / written to it, so reopening a time-lapse skips the
        encoder (entries are keyed by the encoder input and the model's weights).
    axis
        What the stack's first axis is: ``"time"`` (default; a time-lapse: objects end
        only when SAM 2's object score says so) or ``"z"`` (a z-stack: the z profile,
        :meth:`SessionSettings.for_z`, ends an object where it fades or its mask jumps
        to another object; see :mod:`sam2_engine.video.object_end`). The ``end_*``
        arguments below override the profile's values when given.
    end_below_foreground, end_below_prompt_foreground, end_below_object_score
        Ending rules (:class:`SessionSettings`): a frame is *low* when the instance
        head's mean foreground inside the mask (models with a head, windows) is below
        ``end_below_foreground`` (absolute) or below ``end_below_prompt_foreground``
        times its value on the prompted frame (relative), or when the object score is
        below ``end_below_object_score`` (any model).
    end_after_frames
        Consecutive low frames that end an object for the rest of the pass.
    end_on_jump
        A :class:`~sam2_engine.video.z_continuity.ZContinuity`: end an object on the
        plane where its mask jumps or grows abruptly.

        For every ``end_*`` argument, None means the ``axis`` profile's value (time:
        every rule off; z: :data:`~sam2_engine.video.settings.Z_PROFILE` under what the
        model recommends, :func:`~sam2_engine.video.settings.recommended_z_profile`).

    Notes
    -----
    Each session takes a frozen copy of these settings when it starts
    (:attr:`settings`); changing an attribute later affects later sessions only.
    """

    def __init__(
        self,
        model: SAM2Model,
        *,
        fill_hole_area: int = 8,
        memory_dtype: torch.dtype = torch.bfloat16,
        bounded_memory: bool = True,
        feature_cache_size: int = 2,
        max_batch_objects: int | None = None,
        offload_to_cpu: bool = False,
        non_overlapping: bool = False,
        prefetch: bool | None = None,
        windows: WindowPolicy | str | None = "auto",
        tiling: TilingSettings | None = None,
        embedding_cache: EmbeddingCache | None = None,
        axis: StackAxis = "time",
        end_below_foreground: float | None = None,
        end_after_frames: int | None = None,
        end_below_prompt_foreground: float | None = None,
        end_on_jump: ZContinuity | None = None,
        end_below_object_score: float | None = None,
    ) -> None:
        self.model = model
        self.fill_hole_area = fill_hole_area
        self.memory_dtype = memory_dtype
        self.bounded_memory = bounded_memory
        self.feature_cache_size = max(1, feature_cache_size)
        self.offload_to_cpu = offload_to_cpu
        self.non_overlapping = non_overlapping
        self.max_batch_objects = max_batch_objects
        self.prefetch = prefetch
        policy = WindowPolicy.from_model(model) if windows == "auto" else windows
        if policy is not None and not isinstance(policy, WindowPolicy):
            raise TypeError(f"windows must be 'auto', a WindowPolicy or None, got {windows!r}")
        self.windows: WindowPolicy | None = policy
        self.tiling = tiling or TilingSettings()
        self.embedding_cache = embedding_cache
        if axis not in AXES:
            raise ValueError(f"axis must be 'time' or 'z' (the stack's first axis), got {axis!r}")
        self.axis = axis
        self.end_below_foreground = end_below_foreground
        self.end_after_frames = end_after_frames
        self.end_below_prompt_foreground = end_below_prompt_foreground
        self.end_on_jump = end_on_jump
        self.end_below_object_score = end_below_object_score

    @property
    def settings(self) -> SessionSettings:
        """The settings a session started now runs with (a frozen snapshot)."""
        ending = {
            k: v
            for k, v in (
                ("end_below_foreground", self.end_below_foreground),
                ("end_after_frames", self.end_after_frames),
                ("end_below_prompt_foreground", self.end_below_prompt_foreground),
                ("end_on_jump", self.end_on_jump),
                ("end_below_object_score", self.end_below_object_score),
            )
            if v is not None
        }
        if self.axis == "z":  # the model's own thresholds, under the caller's
            ending = {**recommended_z_profile(self.model), **ending}
        return SessionSettings.for_axis(
            self.axis,
            **ending,
            fill_hole_area=self.fill_hole_area,
            memory_dtype=self.memory_dtype,
            bounded_memory=self.bounded_memory,
            feature_cache_size=max(1, self.feature_cache_size),
            max_batch_objects=self.max_batch_objects,
            offload_to_cpu=self.offload_to_cpu,
            non_overlapping=self.non_overlapping,
            prefetch=self.prefetch,
            windows=self.windows,
            tiling=self.tiling,
            embedding_cache=self.embedding_cache,
        )

    def start(
        self,
        frames,
        *,
        channel_axis: int | None = None,
        channels: Sequence[int] | None = None,
        normalization: Normalization | None = None,
    ) -> TrackingSession:
        """Open a tracking session on a stack of frames (nothing is read yet).

        Parameters
        ----------
        frames
            (T, H, W) or (T, H, W, C) array-like (numpy, dask, zarr, tifffile memmap),
            time or z first; or a :class:`~sam2_engine.imaging.frames.FrameSource`.
        channel_axis, channels, normalization
            As in :class:`~sam2_engine.imaging.frames.FrameSource` (``channel_axis`` counts
            axes of the whole stack).
        """
        if isinstance(frames, FrameSource):
            source = frames
        else:
            source = FrameSource(
                frames,
                channel_axis=channel_axis,
                channels=channels,
                normalization=normalization or Normalization(),
            )
        if len(source) == 0:
            raise ValueError(
                "the stack has no frames; pass an array of shape (T, H, W) with T >= 1"
            )
        return TrackingSession(self.model, source, self.settings)
