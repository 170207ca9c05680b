"""The track step: one frame, a batch of objects, their memories and prompts.

This is the only implementation of a SAM 2 frame step; inference (the video session)
and training (``sam2_training``'s clip rollout) both call :func:`track_step`.

The video session decides *which* memories each object reads on a frame (conditioning
frames, recent frames, object pointers) and hands them over as :class:`ObjectMemory`.
This module turns them into attention tokens, conditions the frame's features, decodes
masks and (optionally) encodes the new memory, for all objects in one batch.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from sam2_engine.model.image_encoder import ImageFeatures
from sam2_engine.model.sam2 import HeadOutput, SAM2Model


@dataclass
class ObjectMemory:
    """What memory attention reads for one object on one frame.

    Attributes
    ----------
    spatial
        ``(slot, features)`` pairs: ``features`` is a (mem_dim, h, w) memory (any float
        dtype; stored memories are usually bfloat16) and ``slot`` indexes the learnt
        temporal encoding: ``num_maskmem - 1`` for conditioning (prompted) frames,
        ``k - 1`` for the frame ``k`` steps back.
    pointers
        ``(offset, pointer)`` pairs: a (C,) object pointer and its temporal offset from
        the current frame (signed for conditioning frames, positive for recent ones).
    """

    spatial: list[tuple[int, torch.Tensor]] = field(default_factory=list)
    pointers: list[tuple[int, torch.Tensor]] = field(default_factory=list)


@dataclass
class MemoryTokens:
    """Attention-ready memory for a batch of B objects (see :func:`memory_tokens`)."""

    tokens: torch.Tensor  # (B, M, mem_dim)
    pos: torch.Tensor  # (B or 1, M, mem_dim)
    num_ptr_tokens: int
    key_mask: torch.Tensor | None  # (B, M) bool, None when no row is padded


def memory_tokens(
    model: SAM2Model,
    memories: list[ObjectMemory],
    memory_pos: torch.Tensor,
    max_ptr_offset: int,
    dtype: torch.dtype,
) -> MemoryTokens:
    """Stack the memories of B objects into padded token tensors.

    Parameters
    ----------
    memories
        One :class:`ObjectMemory` per object; objects may hold different numbers of
        spatial memories and pointers (shorter rows are padded and masked out).
    memory_pos
        (1, mem_dim, h, w) spatial position encoding of a memory (same for all).
    max_ptr_offset
        Normaliser of pointer offsets (``min(num_frames, max_obj_ptrs) - 1``).
    dtype
        Compute dtype of the tokens (stored memories are cast to it).
    """
    device = memory_pos.device
    mem_dim = model.mem_dim
    split = model.hidden_dim // mem_dim  # tokens per object pointer
    spatial_pos = memory_pos.flatten(2).transpose(1, 2)[0].to(dtype)  # (hw, mem_dim)
    tpos = model.maskmem_tpos_enc.view(-1, mem_dim).to(dtype)  # one row per slot

    def layout(mem: ObjectMemory) -> tuple:
        return tuple(s for s, _ in mem.spatial), tuple(o for o, _ in mem.pointers)

    def positions(mem: ObjectMemory) -> torch.Tensor:
        parts = [spatial_pos + tpos[slot] for slot, _ in mem.spatial]
        if mem.pointers:
            offsets = torch.tensor([o for o, _ in mem.pointers], device=device)
            ptr_pos = model.pointer_position(offsets, max_ptr_offset).to(dtype)
            parts.append(ptr_pos.repeat_interleave(split, dim=0))
        return torch.cat(parts)

    def tokens_of(mems: list[ObjectMemory], index: int) -> torch.Tensor:
        feats = torch.stack([m.spatial[index][1] for m in mems]).to(device=device, dtype=dtype)
        return feats.flatten(2).transpose(1, 2)  # (B, hw, mem_dim)

    def pointer_tokens(mems: list[ObjectMemory]) -> torch.Tensor:
        ptrs = torch.stack([torch.stack([p for _, p in m.pointers]) for m in mems])
        return ptrs.to(device=device, dtype=dtype).reshape(len(mems), -1, mem_dim)

    first = memories[0]
    if all(layout(m) == layout(first) for m in memories):  # the usual case: no padding
        parts = [tokens_of(memories, i) for i in range(len(first.spatial))]
        if first.pointers:
            parts.append(pointer_tokens(memories))
        n_ptr_tokens = len(first.pointers) * split
        return MemoryTokens(torch.cat(parts, dim=1), positions(first)[None], n_ptr_tokens, None)

    # objects with different memories: pad every row to the longest and mask the padding
    hw = spatial_pos.shape[0]
    n_spatial = max(len(m.spatial) for m in memories)
    n_ptr = max(len(m.pointers) for m in memories)
    total = n_spatial * hw + n_ptr * split
    batch = len(memories)
    tokens = torch.zeros(batch, total, mem_dim, dtype=dtype, device=device)
    pos = torch.zeros(batch, total, mem_dim, dtype=dtype, device=device)
    valid = torch.zeros(batch, total, dtype=torch.bool, device=device)
    for row, mem in enumerate(memories):
        n_sp = len(mem.spatial) * hw
        row_pos = positions(mem)
        pos[row, :n_sp] = row_pos[:n_sp]
        valid[row, :n_sp] = True
        for i in range(len(mem.spatial)):
            tokens[row, i * hw : (i + 1) * hw] = tokens_of([mem], i)[0]
        if mem.pointers:
            start, n_pt = n_spatial * hw, len(mem.pointers) * split
            tokens[row, start : start + n_pt] = pointer_tokens([mem])[0]
            pos[row, start : start + n_pt] = row_pos[n_sp:]
            valid[row, start : start + n_pt] = True
    return MemoryTokens(tokens, pos, n_ptr * split, valid)


@dataclass
class StepOutput:
    """Track-step result for B objects on one frame.

    Attributes
    ----------
    head
        Decoder output (:class:`~sam2_engine.model.sam2.HeadOutput`), low-resolution
        logits (B, 1, S/4, S/4).
    embed
        (B, C, h, w) the frame embedding the decoder read (memory-conditioned, or with
        the no-memory embedding); None when a mask prompt was used as the prediction.
        Pass it back as ``embed=`` to decode more prompts on the same frame without
        running memory attention again (correction clicks).
    memory
        (B, mem_dim, h, w) new memory features, or None when not encoded.
    memory_pos
        (1, mem_dim, h, w) their position encoding, or None.
    """

    head: HeadOutput
    embed: torch.Tensor | None = None
    memory: torch.Tensor | None = None
    memory_pos: torch.Tensor | None = None


def track_step(
    model: SAM2Model,
    features: ImageFeatures,
    memories: list[ObjectMemory] | None,
    *,
    points: torch.Tensor | None = None,
    labels: torch.Tensor | None = None,
    mask: torch.Tensor | None = None,
    prev_logits: torch.Tensor | None = None,
    embed: torch.Tensor | None = None,
    max_ptr_offset: int = 15,
    encode_memory: bool = True,
    binarize_memory: bool = False,
) -> StepOutput:
    """Segment B objects on one frame: the one track step of inference and training.

    The video session calls it without gradients; the training loop calls it with
    gradients on (memories and object pointers included), so both run the same code.

    Parameters
    ----------
    model
        The SAM 2 model.
    features
        Features of the frame, batch 1 or B.
    memories
        One :class:`ObjectMemory` per object, or None for an *initial* frame (the
        first prompt of the objects: no memory is read, the no-memory embedding is
        added instead).
    points, labels
        (B, N, 2) prompt points (x, y) in model-input pixels and (B, N) labels (see
        :class:`~sam2_engine.model.prompt_encoder.PromptLabel`); None on propagated
        frames.
    mask
        (B, 1, S, S) binary mask prompt; used directly as the prediction.
    prev_logits
        (B, 1, S/4, S/4) earlier logits of the objects on this frame, fed to the decoder
        as a mask prompt together with new points (interactive refinement).
    embed
        The :attr:`StepOutput.embed` of an earlier step on this frame with the same
        memories: reused instead of conditioning the frame again.
    max_ptr_offset
        Normaliser of object-pointer offsets (see :func:`memory_tokens`).
    encode_memory
        Also encode the prediction into a new memory (see :func:`step_memory`).
    binarize_memory
        Threshold the mask (instead of a sigmoid) before memory encoding.
    """
    batch = len(memories) if memories is not None else _batch_of(points, mask, features)
    feats = features.expand(batch)
    if mask is not None:
        head = model.mask_as_output(feats, mask)
    else:
        if embed is None:
            embed = condition_frame(model, feats, memories, max_ptr_offset)
        n_points = 0 if labels is None else labels.shape[1]
        multimask = model.use_multimask(memories is None, n_points)
        head = model.heads(
            model.decode(embed, feats.high_res, points, labels, prev_logits, multimask)
        )
    out = StepOutput(head, embed)
    if encode_memory:
        out.memory, out.memory_pos = step_memory(model, feats, head, binarize_memory)
    return out


def condition_frame(
    model: SAM2Model,
    features: ImageFeatures,
    memories: list[ObjectMemory] | None,
    max_ptr_offset: int,
) -> torch.Tensor:
    """(B, C, h, w) frame embedding for the decoder: memory attention over the objects'
    memories, or the no-memory embedding when ``memories`` is None (initial frames)."""
    if memories is None:
        return model.embed_without_memory(features)
    mt = memory_tokens(
        model, memories, memory_position(model, features), max_ptr_offset, features.embed.dtype
    )
    return model.condition_on_memory(features, mt.tokens, mt.pos, mt.num_ptr_tokens, mt.key_mask)


def step_memory(
    model: SAM2Model, features: ImageFeatures, head: HeadOutput, binarize: bool
) -> tuple[torch.Tensor, torch.Tensor]:
    """Encode a step's chosen mask into (B, mem_dim, h, w) memories and their
    (1, mem_dim, h, w) position encoding."""
    logits_hi = model.upsample_logits(head.logits)
    memory, pos = model.encode_memory(features.embed, logits_hi, head.object_score, binarize)
    return memory, pos[:1]


def _batch_of(points, mask, features: ImageFeatures) -> int:
    if points is not None:
        return points.shape[0]
    if mask is not None:
        return mask.shape[0]
    return features.batch_size


def memory_position(model: SAM2Model, features: ImageFeatures) -> torch.Tensor:
    """(1, mem_dim, h, w) spatial position encoding of a memory of this frame size."""
    h, w = features.embed.shape[-2:]
    enc = model.memory_encoder.position_encoding.encode(h, w, features.embed.device)
    return enc.unsqueeze(0)
