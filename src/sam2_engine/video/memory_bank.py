"""Per-object memory bank: typed state, memory selection and bounded retention.

For every tracked object the bank keeps what memory attention can read:

* ``cond``: outputs of the *conditioning* frames, those the user prompted (points,
  box or mask); always kept;
* ``recent``: outputs of propagated frames near the frames still likely to be read:
  within ``spatial_window`` frames (memory features + logits) or ``pointer_window``
  frames (object pointer only) of the last tracked frame or of a conditioning frame;
* ``pending``: prompted outputs whose memory is not encoded yet (encoded once, when
  propagation starts, so that a burst of clicks costs decoder time only).

Everything else is dropped, so memory does not grow with the length of the video. The
selection rules reproduce the official SAM 2 video predictor: all conditioning frames
(or the closest ``max_cond_frames_in_attn``), the ``num_maskmem - 1`` previous frames in
tracking direction, and object pointers of past conditioning frames plus up to
``max_obj_ptrs - 1`` previous frames.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np
import torch

from sam2_engine.config import TrackingConfig
from sam2_engine.focus.window import Window
from sam2_engine.model.track_step import ObjectMemory

NOT_TRACKED, TRACKED_FORWARD, TRACKED_BACKWARD = 0, 1, 2


@dataclass
class FrameOutput:
    """One object's result on one frame, as kept in the bank.

    Attributes
    ----------
    logits
        (1, S/4, S/4) float32 low-resolution mask logits, or None once dropped.
    obj_ptr
        (C,) object pointer.
    object_score
        (1,) object-presence logit.
    iou
        (1,) predicted IoU of the mask.
    memory
        (mem_dim, h, w) encoded memory (stored in the bank's dtype), or None if not
        encoded yet (pending) or dropped.
    window
        Window mode: the window of the frame the output was computed in (its logits and
        memory are in that window's coordinates); None for whole frames.
    """

    logits: torch.Tensor | None
    obj_ptr: torch.Tensor
    object_score: torch.Tensor
    iou: torch.Tensor
    memory: torch.Tensor | None = None
    window: Window | None = None


@dataclass
class Prompt:
    """A user prompt of one object on one frame, in model-input pixels.

    ``points`` (N, 2) float32 (x, y) and ``labels`` (N,) int32 (box corners come first
    with labels 2 and 3), or ``mask`` (1, S, S) float32 in {0, 1}.
    """

    points: torch.Tensor | None = None
    labels: torch.Tensor | None = None
    mask: torch.Tensor | None = None


@dataclass
class ObjectTrack:
    """Typed state of one tracked object."""

    obj_id: int
    num_frames: int
    prompts: dict[int, Prompt] = field(default_factory=dict)
    cond: dict[int, FrameOutput] = field(default_factory=dict)
    recent: dict[int, FrameOutput] = field(default_factory=dict)
    pending: dict[int, FrameOutput] = field(default_factory=dict)
    tracked: np.ndarray = field(init=False)  # (T,) int8: NOT_TRACKED / FORWARD / BACKWARD
    window_side: int | None = None  # window mode: the object's window side (fixed)

    def __post_init__(self) -> None:
        self.tracked = np.zeros(self.num_frames, dtype=np.int8)

    def output_at(self, frame: int) -> FrameOutput | None:
        """The most current output on ``frame`` (pending, conditioning, then recent)."""
        for store in (self.pending, self.cond, self.recent):
            if frame in store:
                return store[frame]
        return None

    def nbytes(self) -> int:
        """Bytes held by tensors in this track (for memory reports and tests)."""
        total = self.tracked.nbytes
        for store in (self.cond, self.recent, self.pending):
            for out in store.values():
                for t in (out.logits, out.obj_ptr, out.object_score, out.iou, out.memory):
                    if t is not None:
                        total += t.numel() * t.element_size()
        return total


def closest_cond_frames(
    frame: int, cond: Mapping[int, MemoryEntry], limit: int
) -> tuple[dict[int, MemoryEntry], dict[int, MemoryEntry]]:
    """Split conditioning frames into those attended to on ``frame`` and the rest.

    With ``limit == -1`` (or enough room) all are selected. Otherwise the closest one
    before, the closest one at/after, then the temporally closest others.
    """
    if limit == -1 or len(cond) <= limit:
        return dict(cond), {}
    if limit < 2:
        raise ValueError("max_cond_frames_in_attn must be -1 or at least 2")
    chosen: list[int] = []
    before = [t for t in cond if t < frame]
    after = [t for t in cond if t >= frame]
    if before:
        chosen.append(max(before))
    if after:
        chosen.append(min(after))
    rest = sorted((t for t in cond if t not in chosen), key=lambda t: abs(t - frame))
    chosen += rest[: limit - len(chosen)]
    selected = {t: cond[t] for t in chosen}
    return selected, {t: v for t, v in cond.items() if t not in selected}


def previous_frames(
    frame: int, reverse: bool, num_maskmem: int, stride: int
) -> list[tuple[int, int]]:
    """(slot, frame index) of the non-conditioning memories read on ``frame``.

    Slot ``k - 1`` holds the memory ``k`` steps back in tracking direction; with
    ``stride`` r > 1 the older ones are taken among every r-th frame.
    """
    out = []
    for back in range(num_maskmem - 1, 0, -1):  # oldest first
        if back == 1:
            t = frame + 1 if reverse else frame - 1
        elif not reverse:
            t = ((frame - 2) // stride) * stride - (back - 2) * stride
        else:
            t = -(-(frame + 2) // stride) * stride + (back - 2) * stride
        out.append((back - 1, t))
    return out


class MemoryEntry(Protocol):
    """What :func:`select_memory` reads from a stored output (e.g. :class:`FrameOutput`)."""

    memory: torch.Tensor | None
    obj_ptr: torch.Tensor


def select_memory(
    cond: Mapping[int, MemoryEntry],
    recent: Mapping[int, MemoryEntry],
    frame: int,
    reverse: bool,
    num_frames: int,
    cfg: TrackingConfig,
    only_past_pointers: bool | None = None,
) -> tuple[ObjectMemory, int]:
    """Memories and pointers read on ``frame``, from conditioning and recent outputs.

    Parameters
    ----------
    cond, recent
        Outputs of the conditioning (prompted) frames and of other tracked frames, by
        frame index. Their tensors may carry a leading object axis (training batches);
        they are passed through unchanged.
    reverse
        Tracking towards lower frame indices.
    num_frames
        Length of the video (caps the number of object pointers).
    only_past_pointers
        Skip pointers of conditioning frames ahead in tracking direction (default: the
        config's ``only_obj_ptrs_in_the_past``, the inference behaviour; training uses
        all of them).

    Returns
    -------
    The :class:`ObjectMemory` and the pointer-offset normaliser.
    """
    if only_past_pointers is None:
        only_past_pointers = cfg.only_obj_ptrs_in_the_past
    selected, unselected = closest_cond_frames(frame, cond, cfg.max_cond_frames_in_attn)
    mem = ObjectMemory()
    cond_slot = cfg.num_maskmem - 1
    for t in sorted(selected):
        if selected[t].memory is not None:
            mem.spatial.append((cond_slot, selected[t].memory))  # type: ignore[arg-type]
    for slot, t in previous_frames(frame, reverse, cfg.num_maskmem, cfg.memory_temporal_stride):
        out = recent.get(t) or unselected.get(t)
        if out is not None and out.memory is not None:
            mem.spatial.append((slot, out.memory))

    n_ptrs = min(num_frames, cfg.max_obj_ptrs)
    sign = -1 if reverse else 1
    signed = cfg.obj_ptr_tpos == "projected_signed"
    for t in sorted(selected):
        if only_past_pointers and (t < frame if reverse else t > frame):
            continue
        offset = (frame - t) * sign if signed else abs(frame - t)
        mem.pointers.append((offset, selected[t].obj_ptr))
    for back in range(1, n_ptrs):
        t = frame + back if reverse else frame - back
        if t < 0 or t >= num_frames:
            break
        out = recent.get(t) or unselected.get(t)
        if out is not None:
            mem.pointers.append((back, out.obj_ptr))
    return mem, n_ptrs - 1


@dataclass(frozen=True)
class Retention:
    """How far (in frames) the bank keeps non-conditioning outputs.

    ``None`` windows keep everything (unbounded, like the official predictor).
    """

    spatial_window: int | None
    pointer_window: int | None

    @classmethod
    def for_config(cls, cfg: TrackingConfig, bounded: bool = True) -> Retention:
        if not bounded:
            return cls(None, None)
        spatial = cfg.memory_temporal_stride * (cfg.num_maskmem - 1) + 1
        return cls(spatial, max(spatial, cfg.max_obj_ptrs))


def prune(track: ObjectTrack, frame: int, retention: Retention) -> None:
    """Drop what can no longer be read once tracking is at ``frame``.

    Outputs near ``frame`` or near a conditioning frame stay (a later propagation most
    likely restarts at a prompted frame); farther ones lose their memory and logits,
    and beyond the pointer window they are deleted.
    """
    if retention.pointer_window is None:
        return
    anchors = np.fromiter([frame, *track.cond], dtype=np.int64)
    for t in list(track.recent):
        dist = int(np.abs(anchors - t).min())
        if dist > retention.pointer_window:
            del track.recent[t]
        elif retention.spatial_window is not None and dist > retention.spatial_window:
            out = track.recent[t]
            out.memory, out.logits = None, None
