"""The settings a tracking session runs with, frozen when the session starts.

:class:`~sam2_engine.video.predictor.VideoPredictor` collects them from its keyword
arguments; :meth:`~sam2_engine.video.predictor.VideoPredictor.start` hands each new
:class:`~sam2_engine.video.session.TrackingSession` one :class:`SessionSettings`. The
session reads only this object (never its predictor), so changing a predictor's
attributes later changes the sessions started later, not the running ones.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import torch

from sam2_engine.focus.policy import WindowPolicy
from sam2_engine.model.recommended import recommended_section
from sam2_engine.tiled.grid import TilingSettings
from sam2_engine.video.z_continuity import ZContinuity

if TYPE_CHECKING:
    from sam2_engine.embedding_cache import EmbeddingCache

__all__ = [
    "AXES",
    "GPU_BATCH_OBJECTS",
    "Z_PROFILE",
    "Z_RECOMMENDABLE",
    "SessionSettings",
    "StackAxis",
    "recommended_z_profile",
]

GPU_BATCH_OBJECTS = 32  # objects per batch on a GPU unless max_batch_objects says

StackAxis = Literal["time", "z"]
AXES: tuple[str, ...] = ("time", "z")

# How objects end when propagating through z (SessionSettings.for_z), for any model: the
# continuity rule is geometry, not a model's scale. Tuned on generated z-stacks far from
# the held-out seeds (docs/engine.md, "Ending objects"); time-lapses keep every rule off.
Z_PROFILE: dict[str, Any] = {
    "end_on_jump": ZContinuity(min_overlap=0.6, max_shift=0.25, max_growth=1.5),
    "end_after_frames": 3,
}
#: The z-profile fields a model may recommend (``model.recommended["z_profile"]``, stored
#: with its weights): thresholds on its own object score or instance head, whose scale is
#: the model's (the bundled model: an object-score margin of 2.0; official checkpoints
#: recommend none, so only the continuity rule ends their objects).
Z_RECOMMENDABLE: tuple[str, ...] = (
    "end_below_foreground",
    "end_below_prompt_foreground",
    "end_below_object_score",
    "end_after_frames",
)


def recommended_z_profile(model: Any) -> dict[str, Any]:
    """The z-profile values ``model`` recommends (``model.recommended["z_profile"]``).

    Parameters
    ----------
    model
        A SAM 2 model (anything with a ``recommended`` dict, or without one).

    Returns
    -------
    dict
        Fields of :data:`Z_RECOMMENDABLE` and their values; empty when it recommends none.

    Raises
    ------
    ValueError
        It recommends a field that is not one of :data:`Z_RECOMMENDABLE`.
    """
    return recommended_section(model, "z_profile", Z_RECOMMENDABLE)


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
    end_below_prompt_foreground : float or None
        As ``end_below_foreground``, relative: a frame is low when its mean foreground is
        below this fraction of the object's own mean foreground on its nearest prompted
        frame; None: off.
    end_below_object_score : float or None
        Any model: a frame also counts as low when the object score (a logit, > 0:
        present) is below this; None: off (SAM 2's own rule, a negative score, stays).
    end_after_frames : int
        Consecutive low frames (a foreground rule or the object score) that end an
        object.
    end_on_jump : ZContinuity or None
        The z-continuity rule (:mod:`sam2_engine.video.z_continuity`): an object whose
        mask jumps or grows abruptly from the previous plane ends there at once (any
        model, any view); None: off. For z-stacks only.

    Notes
    -----
    ``SessionSettings()`` is the time-lapse profile (no ending rule);
    :meth:`for_z` the z-stack profile (:data:`Z_PROFILE`).
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
    end_below_prompt_foreground: float | None = None
    end_on_jump: ZContinuity | None = None
    end_below_object_score: float | None = None

    def __post_init__(self) -> None:
        t = self.end_below_foreground
        if t is not None and not 0.0 < t < 1.0:
            raise ValueError(
                f"end_below_foreground={t} must be a probability in (0, 1), or None for off"
            )
        r = self.end_below_prompt_foreground
        if r is not None and not 0.0 < r <= 1.0:
            raise ValueError(
                f"end_below_prompt_foreground={r} must be a fraction in (0, 1] of the prompted "
                "frame's foreground, or None for off"
            )
        o = self.end_below_object_score
        if o is not None and not (isinstance(o, (int, float)) and math.isfinite(o)):
            raise ValueError(
                f"end_below_object_score={o!r} must be a finite object-score logit "
                "(e.g. 2.0), or None for off"
            )
        if isinstance(self.end_after_frames, bool) or not isinstance(self.end_after_frames, int):
            raise TypeError(f"end_after_frames must be an integer, got {self.end_after_frames!r}")
        if self.end_after_frames < 1:
            raise ValueError(f"end_after_frames={self.end_after_frames} must be at least 1")
        if self.end_on_jump is not None and not isinstance(self.end_on_jump, ZContinuity):
            raise TypeError(
                f"end_on_jump must be a ZContinuity or None, got {type(self.end_on_jump).__name__}"
            )

    @classmethod
    def for_z(cls, **changes: Any) -> SessionSettings:
        """The z-stack profile: :data:`Z_PROFILE`'s ending rules, then ``changes``.

        Examples
        --------
        >>> SessionSettings.for_z().end_on_jump is not None
        True
        >>> SessionSettings.for_z(end_below_object_score=2.0).end_below_object_score
        2.0
        """
        return cls(**{**Z_PROFILE, **changes})

    @classmethod
    def for_axis(cls, axis: str, **changes: Any) -> SessionSettings:
        """The profile for propagating through ``axis``: ``"time"`` (no ending rule, the
        defaults) or ``"z"`` (:meth:`for_z`), then ``changes``."""
        if axis == "z":
            return cls.for_z(**changes)
        if axis == "time":
            return cls(**changes)
        raise ValueError(f"axis must be 'time' or 'z', got {axis!r}")

    @property
    def ends_objects(self) -> bool:
        """Whether any ending rule is on."""
        return (
            self.end_below_foreground is not None
            or self.end_below_prompt_foreground is not None
            or self.end_on_jump is not None
            or self.end_below_object_score is not None
        )

    def replace(self, **changes: Any) -> SessionSettings:
        """A copy with ``changes`` (validated again)."""
        return dataclasses.replace(self, **changes)

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
