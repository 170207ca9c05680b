"""The settings a tracking session runs with, frozen when the session starts.

:class:`~sam2_engine.video.predictor.VideoPredictor` collects them from its keyword
arguments; :meth:`~sam2_engine.video.predictor.VideoPredictor.start` hands each new
:class:`~sam2_engine.video.session.TrackingSession` one :class:`SessionSettings`. The
session reads only this object (never its predictor), so changing a predictor's
attributes later changes the sessions started later, not the running ones.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import torch

from sam2_engine.focus.policy import WindowPolicy
from sam2_engine.tiled.grid import TilingSettings

if TYPE_CHECKING:
    from sam2_engine.embedding_cache import EmbeddingCache

__all__ = ["GPU_BATCH_OBJECTS", "SessionSettings"]

GPU_BATCH_OBJECTS = 32  # objects per batch on a GPU unless max_batch_objects says


@dataclass(frozen=True)
class SessionSettings:
    """How one tracking session works (see ``VideoPredictor`` for each meaning).

    Attributes
    ----------
    fill_hole_area : int
        Holes up to this area (low-resolution pixels) are filled in every mask; 0: off.
    memory_dtype : torch.dtype
        dtype of stored memory features.
    bounded_memory : bool
        Drop memories that can no longer be read.
    feature_cache_size : int
        Frames whose image features are kept (whole-frame sessions).
    max_batch_objects : int or None
        Most objects in one batch; None: chosen for the device (:meth:`batch_size`).
    offload_to_cpu : bool
        Keep the memory bank in CPU RAM when running on a GPU.
    non_overlapping : bool
        Give each pixel to at most one object in results.
    prefetch : bool or None
        Load the next frame in a background thread; None: on GPUs and MPS only.
    windows : WindowPolicy or None
        One window per object (models that recommend windows); None: whole frames or
        tiles.
    tiling : TilingSettings
        When frames larger than a whole-image model's input are tracked on full-resolution
        tiles instead of being squashed (see :mod:`sam2_engine.tiled.track_view`).
    embedding_cache : EmbeddingCache or None
        On-disk cache of frame and tile features (reopening a time-lapse skips the
        encoder); None: off.
    end_below_foreground : float or None
        Models with an instance head, window sessions: an object whose mask holds a mean
        head foreground probability below this on ``end_after_frames`` consecutive
        tracked frames ends for the rest of the propagation pass (empty masks, no longer
        tracked); None: off (see :mod:`sam2_engine.video.object_end`).
    end_after_frames : int
        Consecutive frames below ``end_below_foreground`` that end an object.
    """

    fill_hole_area: int = 8
    memory_dtype: torch.dtype = torch.bfloat16
    bounded_memory: bool = True
    feature_cache_size: int = 2
    max_batch_objects: int | None = None
    offload_to_cpu: bool = False
    non_overlapping: bool = False
    prefetch: bool | None = None
    windows: WindowPolicy | None = None
    tiling: TilingSettings = field(default_factory=TilingSettings)
    embedding_cache: EmbeddingCache | None = None
    end_below_foreground: float | None = None
    end_after_frames: int = 2

    def __post_init__(self) -> None:
        t = self.end_below_foreground
        if t is not None and not 0.0 < t < 1.0:
            raise ValueError(
                f"end_below_foreground={t} must be a probability in (0, 1), or None for off"
            )
        if self.end_after_frames < 1:
            raise ValueError(f"end_after_frames={self.end_after_frames} must be at least 1")

    def prefetch_on(self, device: torch.device) -> bool:
        """Whether the next frame is loaded in the background on ``device``."""
        return self.prefetch if self.prefetch is not None else device.type != "cpu"

    def storage(self, device: torch.device) -> torch.device:
        """Where the memory bank lives for a model on ``device``."""
        return torch.device("cpu") if self.offload_to_cpu else device

    def batch_size(self, n_objects: int, device: torch.device, per_object_bytes: int) -> int:
        """Objects per batch.

        On GPUs up to 32 (memory encoding works at full input resolution: about 170 MB
        per object for Hiera-T at 1024 px, measured on an H200, so 32 objects peak near
        6 GB). On a CPU, batches whose memory tokens stay around 16 MB (larger batches
        are slower there: their temporaries no longer fit in the caches, and each fresh
        large allocation costs page faults).

        Parameters
        ----------
        n_objects
            Objects to track on the frame.
        device
            The model's device.
        per_object_bytes
            Bytes of one object's memory tokens (CPU rule).
        """
        if self.max_batch_objects is not None:
            return max(1, self.max_batch_objects)
        if device.type != "cpu":
            return max(1, min(n_objects, GPU_BATCH_OBJECTS))
        return max(1, min(n_objects, (16 << 20) // max(1, per_object_bytes)))
