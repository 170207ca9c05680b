"""TrackingSession: prompts, the memory bank and propagation for one stack.

Create sessions with :meth:`sam2_engine.video.predictor.VideoPredictor.start`. Coordinates are
pixels of the original frames: points ``(x, y) = (column, row)``, boxes
``(x0, y0, x1, y1)``; masks are (row, col).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterator, Sequence

import numpy as np
import torch

from sam2_engine.device import inference_context
from sam2_engine.focus.window import Window
from sam2_engine.imaging.frames import FrameSource
from sam2_engine.masks.postprocess import fill_small_holes
from sam2_engine.model.sam2 import LOGIT_CLAMP, SAM2Model
from sam2_engine.model.track_step import ObjectMemory, StepOutput, track_step
from sam2_engine.prompts import check_boxes, check_points
from sam2_engine.video.frame_result import FrameResult
from sam2_engine.video.frame_view import FramePrompt
from sam2_engine.video.memory_bank import (
    TRACKED_BACKWARD,
    TRACKED_FORWARD,
    FrameOutput,
    ObjectTrack,
    Prompt,
    Retention,
    prune,
    select_memory,
)
from sam2_engine.video.object_end import ObjectEnds
from sam2_engine.video.order import (
    Direction,
    PropagationPass,
    check_direction,
    default_start,
    propagation_passes,
)
from sam2_engine.video.prefetch import FramePrefetcher
from sam2_engine.video.settings import SessionSettings
from sam2_engine.video.views import FrameView, choose_view


class TrackingSession:
    """Prompts, memory bank and propagation for one stack. Thread-safe.

    Create it with :meth:`VideoPredictor.start`.

    Parameters
    ----------
    model
        The SAM 2 model.
    source
        The frames.
    settings
        How the session works, frozen when it starts (the predictor's settings then).
    """

    def __init__(
        self, model: SAM2Model, source: FrameSource, settings: SessionSettings | None = None
    ) -> None:
        self.model = model
        self.settings = settings if settings is not None else SessionSettings()
        self.source = source
        self.num_frames = len(source)
        self.frame_hw: tuple[int, int] = tuple(source.shape_hw)  # type: ignore[assignment]
        self.tracks: OrderedDict[int, ObjectTrack] = OrderedDict()
        self._lock = threading.RLock()
        s, dev = self.settings, self.model.device
        self._retention = Retention.for_config(self.model.cfg.tracking, s.bounded_memory)
        self._storage = s.storage(dev)
        self._inputs = FramePrefetcher(self._load_input, enabled=s.prefetch_on(dev))
        self._view: FrameView = choose_view(self.model, s, source, self._inputs.get)
        if self.tiled:  # tiles read their own regions: never load whole big frames ahead
            self._inputs.enabled = False
        self._ends = _object_ends(s, model, self.windowed)

    @property
    def windowed(self) -> bool:
        """Whether every object is tracked in its own window (see :mod:`sam2_engine.focus`)."""
        return self._view.windowed

    @property
    def tiled(self) -> bool:
        """Whether objects are tracked on full-resolution tiles of big frames (see
        :mod:`sam2_engine.tiled.track_view`)."""
        return bool(getattr(self._view, "tiled", False))

    # ------------------------------------------------------------------ queries
    @property
    def obj_ids(self) -> list[int]:
        """Ids of the objects in this session, in the order they were added."""
        return list(self.tracks)

    def prompted_frames(self, obj_id: int | None = None) -> list[int]:
        """Frames holding prompts (of one object, or of any)."""
        tracks = [self._track(obj_id)] if obj_id is not None else self.tracks.values()
        return sorted({f for t in tracks for f in t.prompts})

    def memory_bytes(self) -> int:
        """Bytes held by the memory bank and the feature cache."""
        with self._lock:
            bank = sum(t.nbytes() for t in self.tracks.values())
            return bank + self._view.nbytes()

    # ------------------------------------------------------------------ prompts
    def add_points(
        self,
        frame: int,
        obj_id: int,
        points: np.ndarray | Sequence | None = None,
        labels: np.ndarray | Sequence | None = None,
        *,
        box: np.ndarray | Sequence | None = None,
        clear: bool = True,
    ) -> FrameResult:
        """Prompt an object on a frame with clicks and/or a box.

        Parameters
        ----------
        frame
            Frame index (negative counts from the end).
        obj_id
            Any integer; a new id starts a new object.
        points, labels
            (N, 2) (x, y) pixel coordinates and (N,) labels (1 positive, 0 negative).
        box
            (x0, y0, x1, y1) box; it replaces earlier prompts on this frame.
        clear
            Replace this object's earlier points on this frame (default) or add to them.

        Returns
        -------
        FrameResult
            Masks on ``frame`` of every object that has one there (the prompted object
            included).
        """
        if points is None and box is None:
            raise ValueError("give points (with labels) and/or a box")
        if (points is None) != (labels is None):
            raise ValueError("points and labels go together: give both or neither")
        if box is not None and not clear:
            raise ValueError(
                "a box replaces the frame's earlier prompts; use clear=True with a box"
            )
        frame = self._frame_index(frame)
        obj_id = _check_obj_id(obj_id)
        p = lab_np = b = None
        if points is not None:
            p, lab_np = check_points(points, labels, self.frame_hw)  # type: ignore[arg-type]
            if p.shape[0] != 1:
                raise ValueError("points for one object must have shape (N, 2)")
            p, lab_np = p[0], lab_np[0]
        if box is not None:
            b = check_boxes(box, self.frame_hw)
            if b.shape[0] != 1:
                raise ValueError("give one box per object, shape (4,)")
            b = b[0]
        with self._lock:
            track = self._get_or_create(obj_id)
            given = self._view.prompt_input(track, frame, FramePrompt(p, lab_np, b))
            pts, lab = given.points, given.labels
            old = track.prompts.get(frame)
            if not clear and old is not None and old.points is not None:
                pts = torch.cat([old.points, pts])  # type: ignore[list-item]
                lab = torch.cat([old.labels, lab])  # type: ignore[list-item]
            self._run_prompt(track, frame, Prompt(points=pts, labels=lab), given.window)
            return self.frame_result(frame)

    def add_box(self, frame: int, obj_id: int, box: np.ndarray | Sequence) -> FrameResult:
        """Prompt an object with a box (x0, y0, x1, y1); see :meth:`add_points`."""
        return self.add_points(frame, obj_id, box=box)

    def add_mask(self, frame: int, obj_id: int, mask: np.ndarray) -> FrameResult:
        """Prompt an object with a (H, W) boolean mask at the frame's size.

        The mask is used as the object's segmentation on this frame.
        """
        frame = self._frame_index(frame)
        obj_id = _check_obj_id(obj_id)
        m = np.asarray(mask)
        if m.shape != self.frame_hw:
            raise ValueError(
                f"mask has shape {m.shape} but frames are {self.frame_hw} (rows, columns)"
            )
        with self._lock:
            track = self._get_or_create(obj_id)
            given = self._view.prompt_input(track, frame, FramePrompt(mask=m.astype(bool)))
            self._run_prompt(track, frame, Prompt(mask=given.mask), given.window)
            return self.frame_result(frame)

    def clear_prompts(self, frame: int, obj_id: int | None = None) -> None:
        """Remove the prompts on ``frame`` (of one object, or of all).

        The frame's earlier result stays as an ordinary (non-prompted) memory.
        """
        frame = self._frame_index(frame)
        with self._lock:
            tracks = [self._track(obj_id)] if obj_id is not None else list(self.tracks.values())
            for track in tracks:
                track.prompts.pop(frame, None)
                track.pending.pop(frame, None)
                out = track.cond.pop(frame, None)
                if out is not None:
                    track.recent[frame] = out
                    track.tracked[frame] = 0

    def remove_object(self, obj_id: int) -> None:
        """Forget an object and all its prompts and memories."""
        with self._lock:
            self._track(obj_id)
            del self.tracks[obj_id]

    def reset(self) -> None:
        """Forget every object (the frames and the feature cache stay)."""
        with self._lock:
            self.tracks.clear()

    # ------------------------------------------------------------------ propagation
    def propagate(
        self,
        start: int | None = None,
        direction: Direction = "forward",
        max_frames: int | None = None,
    ) -> Iterator[FrameResult]:
        """Track every object frame by frame; yields one :class:`FrameResult` per frame.

        Parameters
        ----------
        start
            First frame. Default: the earliest prompted frame (the latest one for
            ``"backward"``).
        direction
            ``"forward"`` (increasing index), ``"backward"``, or ``"both"``: forward
            from ``start``, then backward from ``start - 1``.
        max_frames
            Process exactly this many frames per direction (default: to the end).

        Notes
        -----
        Stopping the iteration (``break``, ``close()``) keeps every finished frame in
        the session; a later call continues from wherever it is asked to start.
        """
        check_direction(direction, max_frames)
        with self._lock:
            self._prepare()
            first = (
                default_start(self.prompted_frames(), direction)
                if start is None
                else self._frame_index(start)
            )
        for sweep in propagation_passes(self.num_frames, first, direction, max_frames):
            yield from self._run(sweep)

    def frame_result(self, frame: int) -> FrameResult:
        """Current masks on ``frame`` of every object that has a result there."""
        frame = self._frame_index(frame)
        with self._lock:
            ids, outs = [], []
            for obj_id, track in self.tracks.items():
                out = track.output_at(frame)
                if out is not None and out.logits is not None:
                    ids.append(obj_id)
                    outs.append(out)
            return self._view.result(frame, ids, outs, self.settings.non_overlapping)

    # ------------------------------------------------------------------ internals
    def _frame_index(self, frame: int) -> int:
        if isinstance(frame, bool) or not isinstance(frame, (int, np.integer)):
            raise TypeError(f"frame must be an integer index, got {frame!r}")
        n = self.num_frames
        if not -n <= frame < n:
            raise IndexError(
                f"frame {frame} is out of range for a stack of {n} frames (0..{n - 1})"
            )
        return int(frame) % n

    def _track(self, obj_id: int | None) -> ObjectTrack:
        if obj_id not in self.tracks:
            raise KeyError(f"unknown object id {obj_id!r}; known ids: {self.obj_ids}")
        return self.tracks[obj_id]

    def _get_or_create(self, obj_id: int) -> ObjectTrack:
        if obj_id not in self.tracks:
            self.tracks[obj_id] = ObjectTrack(obj_id, self.num_frames)
        return self.tracks[obj_id]

    def _load_input(self, frame: int) -> torch.Tensor:
        """(H, W, 3) float32 RGB of a frame in [0, 1], on the CPU (pinned for a GPU);
        resizing and normalising happen on the model's device."""
        rgb = torch.from_numpy(self.source.frame(frame))
        return rgb.pin_memory() if self.model.device.type == "cuda" else rgb

    def _run_prompt(
        self, track: ObjectTrack, frame: int, prompt: Prompt, window: Window | None
    ) -> None:
        """Decode a prompt on one frame (no memory encoding yet) and keep it pending."""
        state = int(track.tracked[frame])
        initial = state == 0
        reverse = state == TRACKED_BACKWARD
        cfg = self.model.cfg.tracking
        with inference_context(self.model.device, self.model.precision):
            feats = self._view.features(frame, [window])
            memories, max_off = None, 0
            if not initial:
                cond, recent = self._view.memories(track, window)
                mem, max_off = select_memory(cond, recent, frame, reverse, self.num_frames, cfg)
                memories = [mem]
            prev = None
            if prompt.mask is None:
                earlier = track.output_at(frame)
                if earlier is not None and earlier.logits is not None:
                    prev = earlier.logits[None].to(self.model.device)
                    prev = prev.clamp(-LOGIT_CLAMP, LOGIT_CLAMP)
            step = track_step(
                self.model,
                feats,
                memories,
                points=None if prompt.points is None else prompt.points[None],
                labels=None if prompt.labels is None else prompt.labels[None],
                mask=None if prompt.mask is None else prompt.mask[None],
                prev_logits=prev,
                max_ptr_offset=max_off,
                encode_memory=False,
            )
        track.prompts[frame] = prompt
        track.pending[frame] = self._to_output(step, 0, with_memory=False, window=window)
        if self._ends is not None:
            self._ends.reset(track.obj_id)

    def _prepare(self) -> None:
        """Encode pending prompts into conditioning memories; check every object has one."""
        if not self.tracks:
            raise RuntimeError("no object has prompts; add points, a box or a mask first")
        for track in self.tracks.values():
            if track.pending:
                with inference_context(self.model.device, self.model.precision):
                    for frame, out in sorted(track.pending.items()):
                        out.memory = self._encode_prompt_memory(frame, out)
                        track.cond[frame] = out
                        track.recent.pop(frame, None)
                track.pending.clear()
            if not track.cond:
                raise RuntimeError(
                    f"object {track.obj_id} has no prompts left; add a prompt or remove_object"
                    f"({track.obj_id})"
                )

    def _encode_prompt_memory(self, frame: int, out: FrameOutput) -> torch.Tensor:
        feats = self._view.features(frame, [out.window])
        assert out.logits is not None
        logits_hi = self.model.upsample_logits(out.logits[None].to(self.model.device))
        binarize = self.model.cfg.tracking.binarize_mask_from_pts_for_mem_enc
        mem, _ = self.model.encode_memory(feats.embed, logits_hi, out.object_score[None], binarize)
        return mem[0].to(device=self._storage, dtype=self.settings.memory_dtype)

    def _run(self, sweep: PropagationPass) -> Iterator[FrameResult]:
        frames = sweep.frames
        if self._ends is not None:
            with self._lock:
                self._ends.reset()  # every pass starts with every object alive
        for position, frame in enumerate(frames):
            if position + 1 < len(frames):
                self._inputs.schedule(frames[position + 1])
            with self._lock:
                result = self._track_frame(frame, sweep.reverse)
            yield result

    def _track_frame(self, frame: int, reverse: bool) -> FrameResult:
        cfg = self.model.cfg.tracking
        ends = self._ends
        if ends is not None:
            for t in self.tracks.values():
                if frame in t.cond:  # a prompted frame starts an ended object again
                    ends.reset(t.obj_id)
        todo = [
            t
            for t in self.tracks.values()
            if frame not in t.cond and (ends is None or not ends.is_ended(t.obj_id))
        ]
        size = self._batch_size(len(todo))
        for first in range(0, len(todo), size):
            chunk = todo[first : first + size]
            windows = [self._view.tracking_window(t, frame, reverse) for t in chunk]
            with inference_context(self.model.device, self.model.precision):
                feats = self._view.features(frame, windows)
                selections = [
                    select_memory(*self._view.memories(t, w), frame, reverse, self.num_frames, cfg)
                    for t, w in zip(chunk, windows, strict=True)
                ]
                memories: list[ObjectMemory] = [m for m, _ in selections]
                step = track_step(
                    self.model,
                    feats,
                    memories,
                    max_ptr_offset=selections[0][1],
                    encode_memory=True,
                    binarize_memory=False,
                )
            for i, track in enumerate(chunk):
                track.recent[frame] = self._to_output(step, i, True, windows[i])
            if ends is not None:
                self._check_ends(ends, chunk, frame, reverse)
        mark = TRACKED_BACKWARD if reverse else TRACKED_FORWARD
        ids, outs = [], []
        for obj_id, track in self.tracks.items():
            track.tracked[frame] = mark
            if ends is not None and ends.is_ended(obj_id):
                track.recent.pop(frame, None)  # no memory of an ended object's frames
                out = ends.ended[obj_id]
            else:
                out = track.cond.get(frame) or track.recent[frame]
            ids.append(obj_id)
            outs.append(out)
            prune(track, frame, self._retention)
        return self._view.result(frame, ids, outs, self.settings.non_overlapping)

    def _check_ends(
        self, ends: ObjectEnds, chunk: list[ObjectTrack], frame: int, reverse: bool
    ) -> None:
        """End the objects of ``chunk`` that faded or left (see :mod:`.object_end`)."""
        policy = self.settings.windows
        fraction = policy.object_fraction if policy is not None else 0.3
        with inference_context(self.model.device, self.model.precision):
            ends.check(self.model, self._inputs.get, chunk, frame, reverse, fraction)

    def _batch_size(self, n_objects: int) -> int:
        """Objects per batch (see :meth:`SessionSettings.batch_size`)."""
        e = self.model.embedding_size
        per_object = self.model.cfg.tracking.num_maskmem * e * e * self.model.hidden_dim * 4
        return self.settings.batch_size(n_objects, self.model.device, per_object)

    def _to_output(
        self, step: StepOutput, i: int, with_memory: bool, window: Window | None
    ) -> FrameOutput:
        head = step.head
        logits = head.logits[i].float()
        if self.settings.fill_hole_area > 0:
            logits = fill_small_holes(logits, self.settings.fill_hole_area, fill_value=0.1)
        memory = None
        if with_memory and step.memory is not None:
            memory = step.memory[i].to(device=self._storage, dtype=self.settings.memory_dtype)
        store = self._storage
        return FrameOutput(
            logits=logits.to(store),
            obj_ptr=head.obj_ptr[i].float().to(store),
            object_score=head.object_score[i].float().to(store),
            iou=head.iou[i].float().to(store),
            memory=memory,
            window=window,
        )


def _object_ends(settings: SessionSettings, model: SAM2Model, windowed: bool) -> ObjectEnds | None:
    """The ending rules a session runs (None: none). The foreground rules need an
    instance head and windows; the object-score and z-continuity rules work with any
    model and view."""
    s = settings
    head = getattr(model, "instance_head", None) is not None and windowed
    absolute = s.end_below_foreground if head else None
    relative = s.end_below_prompt_foreground if head else None
    score, jump = s.end_below_object_score, s.end_on_jump
    if absolute is None and relative is None and jump is None and score is None:
        return None
    return ObjectEnds(absolute, s.end_after_frames, relative, jump, score)


def _check_obj_id(obj_id: int) -> int:
    if isinstance(obj_id, bool) or not isinstance(obj_id, (int, np.integer)):
        raise TypeError(f"obj_id must be an integer, got {obj_id!r}")
    return int(obj_id)
