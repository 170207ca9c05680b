"""The SAM 2 model: its modules, its learnt embeddings and its primitive operations.

This class holds weights and answers tensor questions: encode an image, decode prompts
into masks, encode a memory, condition features on memories. Which memories to use
for which frame is decided by :mod:`sam2_engine.model.track_step` (the track step) and
the video session; the predictors wrap the model, they never inherit from it.

Module and parameter names follow the official checkpoint layout, so an official file's
state dict loads unchanged (``strict=True``).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from sam2_engine.config import ModelConfig
from sam2_engine.model.attention import RopeAttention
from sam2_engine.model.common import MLP
from sam2_engine.model.image_encoder import ImageEncoder, ImageFeatures
from sam2_engine.model.instance_head import InstanceHead
from sam2_engine.model.mask_decoder import DecoderOutput, MaskDecoder
from sam2_engine.model.memory_attention import MemoryAttention
from sam2_engine.model.memory_encoder import MemoryEncoder
from sam2_engine.model.position import sine_1d
from sam2_engine.model.prompt_encoder import PromptEncoder, PromptLabel
from sam2_engine.model.prompt_maps import PromptMaps

NO_OBJECT_LOGIT = -1024.0  # mask logit written where the object is predicted absent
MASK_PROMPT_SCALE, MASK_PROMPT_BIAS = 20.0, -10.0  # binary mask -> logits of about +-10
LOGIT_CLAMP = 32.0  # mask logits fed back as a mask prompt are clamped to +-LOGIT_CLAMP


@dataclass
class HeadOutput:
    """Decoder result for B objects, with the best mask chosen.

    Attributes
    ----------
    multi_logits
        (B, M, 4h, 4w) all returned mask logits (object-absent rows set to -1024).
    multi_iou
        (B, M) their predicted IoU.
    logits
        (B, 1, 4h, 4w) logits of the chosen mask (highest IoU when M > 1).
    iou
        (B, 1) its predicted IoU.
    obj_ptr
        (B, C) object pointer for later frames.
    object_score
        (B, 1) object-presence logit (> 0: present).
    ungated_logits
        (B, M, 4h, 4w) the mask logits before the presence gating (what training
        supervises: a mask set to -1024 would pass no gradient to the mask decoder).
    """

    multi_logits: torch.Tensor
    multi_iou: torch.Tensor
    logits: torch.Tensor
    iou: torch.Tensor
    obj_ptr: torch.Tensor
    object_score: torch.Tensor
    ungated_logits: torch.Tensor


class SAM2Model(nn.Module):
    """SAM 2 / 2.1 built from a :class:`~sam2_engine.config.ModelConfig`."""

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        cfg.validate()
        self.cfg = cfg
        dim, mem_dim = cfg.neck.d_model, cfg.memory_encoder.out_dim
        self.hidden_dim, self.mem_dim = dim, mem_dim
        self.image_size = cfg.image_size
        #: inference autocast policy read by the predictors ("auto", "float32",
        #: "bfloat16"; see :func:`sam2_engine.device.autocast_dtype`)
        self.precision = "auto"
        # inference settings the weights were made for, e.g. {"automatic": {...}} (read
        # from our checkpoint metadata; empty for official weights)
        self.recommended: dict = {}

        self.image_encoder = ImageEncoder(cfg.trunk, cfg.neck)
        self.memory_attention = MemoryAttention(dim, mem_dim, cfg.memory_attention)
        self.memory_encoder = MemoryEncoder(dim, cfg.memory_encoder)
        self.sam_prompt_encoder = PromptEncoder(
            dim, cfg.embedding_size, cfg.image_size, cfg.decoder.mask_in_chans
        )
        self.sam_mask_decoder = MaskDecoder(dim, cfg.decoder)
        self.prompt_maps: PromptMaps | None = None
        if cfg.decoder.prompt_maps:
            self.prompt_maps = PromptMaps(dim, cfg.decoder.mask_in_chans, cfg.image_size)

        trk = cfg.tracking
        self.maskmem_tpos_enc = nn.Parameter(torch.zeros(trk.num_maskmem, 1, 1, mem_dim))
        self.no_mem_embed = nn.Parameter(torch.zeros(1, 1, dim))
        self.no_mem_pos_enc = nn.Parameter(torch.zeros(1, 1, dim))
        self.no_obj_ptr = nn.Parameter(torch.zeros(1, dim))
        learnt = [self.maskmem_tpos_enc, self.no_mem_embed, self.no_mem_pos_enc, self.no_obj_ptr]
        if trk.no_obj_embed_spatial:
            self.no_obj_embed_spatial = nn.Parameter(torch.zeros(1, mem_dim))
            learnt.append(self.no_obj_embed_spatial)
        for p in learnt:
            nn.init.trunc_normal_(p, std=0.02)
        # turns a full-resolution mask prompt into decoder-sized logits (mask prompts)
        self.mask_downsample = nn.Conv2d(1, 1, kernel_size=4, stride=4)
        self.obj_ptr_proj = MLP(dim, dim, dim, 3)
        if trk.obj_ptr_tpos != "none":
            self.obj_ptr_tpos_proj = nn.Linear(dim, mem_dim)
        self.instance_head: InstanceHead | None = None
        if cfg.instance_head.enabled:
            self.instance_head = InstanceHead(dim, cfg.instance_head)

    # ------------------------------------------------------------------ basics
    @property
    def device(self) -> torch.device:
        return self.no_mem_embed.device

    @property
    def dtype(self) -> torch.dtype:
        return self.no_mem_embed.dtype

    @property
    def embedding_size(self) -> int:
        return self.cfg.embedding_size

    # ------------------------------------------------------------------ image
    def encode_image(self, images: torch.Tensor, *, encoder_grad: bool = True) -> ImageFeatures:
        """Encode normalised images.

        Parameters
        ----------
        images
            (B, 3, S, S) float tensor, ImageNet-normalised, S = ``image_size``.
        encoder_grad
            False runs the trunk and neck without autograd (a frozen encoder when
            fine-tuning); the decoder's projections of the high-resolution maps still
            get gradients (they belong to the mask decoder).

        Returns
        -------
        ImageFeatures
            Stride-16 embedding, decoder-projected stride-4/8 maps, position encoding.
        """
        s = self.image_size
        if images.ndim != 4 or images.shape[1] != 3 or images.shape[-2:] != (s, s):
            raise ValueError(
                f"expected images of shape (B, 3, {s}, {s}), got {tuple(images.shape)}; "
                "use sam2_engine.imaging.frames to prepare images"
            )
        with torch.set_grad_enabled(encoder_grad and torch.is_grad_enabled()):
            features, pos = self.image_encoder(images)
        decoder = self.sam_mask_decoder
        high_res = (decoder.conv_s0(features[0]), decoder.conv_s1(features[1]))
        return ImageFeatures(features[-1], high_res, pos[-1][:1])

    def instance_maps(self, images: torch.Tensor) -> torch.Tensor:
        """Foreground and distance logits of the instance head.

        Parameters
        ----------
        images
            (B, 3, H, W) ImageNet-normalised images; H and W multiples of 32 (any size:
            the trunk, neck and head are convolutional).

        Returns
        -------
        Tensor
            (B, 2, H, W): foreground logit, then normalised-distance logit.

        Raises
        ------
        ValueError
            If the model has no instance head or the images have the wrong shape.
        """
        if self.instance_head is None:
            raise ValueError(
                f"model {self.cfg.name!r} has no instance head; use the grid-point "
                "AutomaticMaskGenerator, or a model trained with one (e.g. 'microscopy')"
            )
        if (
            images.ndim != 4
            or images.shape[1] != 3
            or images.shape[-1] % 32
            or images.shape[-2] % 32
        ):
            raise ValueError(
                f"expected images of shape (B, 3, H, W) with H, W multiples of 32, got "
                f"{tuple(images.shape)}"
            )
        features, _ = self.image_encoder(images)
        return self.instance_head(features)

    def embed_without_memory(self, features: ImageFeatures) -> torch.Tensor:
        """Stride-16 features with the learnt "no memory" embedding added (B, C, h, w).

        This is what the decoder sees for still images and for the first prompted frame
        of an object in a video.
        """
        return features.embed + self.no_mem_embed.view(1, -1, 1, 1)

    # ------------------------------------------------------------------ decoding
    def decode(
        self,
        embed: torch.Tensor,
        high_res: tuple[torch.Tensor, torch.Tensor],
        points: torch.Tensor | None,
        labels: torch.Tensor | None,
        mask_logits: torch.Tensor | None,
        multimask: bool,
    ) -> DecoderOutput:
        """Run the prompt encoder and the mask decoder.

        Parameters
        ----------
        embed
            (B or 1, C, h, w) image embedding to decode from (batch 1 is broadcast).
        high_res
            Decoder-projected high-resolution maps (B or 1 rows).
        points, labels
            (B, N, 2) prompt points as (x, y) pixels of the S x S model input, and
            (B, N) labels (1 positive, 0 negative, 2/3 box corners, -1 padding); or
            None for no point prompt.
        mask_logits
            (B, 1, 4h, 4w) mask prompt as logits, resized here if another size; or None.
        multimask
            Return three candidate masks instead of one.
        """
        pe = self.sam_prompt_encoder
        if points is None:
            batch = mask_logits.shape[0] if mask_logits is not None else embed.shape[0]
            points = torch.zeros(batch, 1, 2, device=embed.device)
            labels = torch.full((batch, 1), PromptLabel.PAD, dtype=torch.int32, device=embed.device)
        batch = points.shape[0]
        sparse = pe.embed_points(points, labels)
        if mask_logits is not None and mask_logits.shape[-2:] != pe.mask_input_size:
            mask_logits = F.interpolate(
                mask_logits.float(),
                size=pe.mask_input_size,
                mode="bilinear",
                align_corners=False,
                antialias=True,
            )
        dense = pe.embed_mask(mask_logits, batch)
        if self.prompt_maps is not None:
            dense = dense + self.prompt_maps(points, labels)
        return self.sam_mask_decoder(embed, pe.dense_pe(), sparse, dense, high_res, multimask)

    def heads(self, out: DecoderOutput) -> HeadOutput:
        """Object-presence gating, best-mask choice and pointer of one :meth:`decode`.

        The best mask is the one of highest predicted IoU (the only one of a single-mask
        decoding).
        """
        present = out.object_score > 0  # (B, 1)
        multi = torch.where(present[:, :, None, None], out.masks, NO_OBJECT_LOGIT).float()
        rows = torch.arange(multi.shape[0], device=multi.device)
        best = out.iou.argmax(dim=-1)
        logits = multi[rows, best].unsqueeze(1)
        iou = out.iou[rows, best].unsqueeze(1)
        token = out.tokens[rows, best] if out.tokens.shape[1] > 1 else out.tokens[:, 0]
        ptr = self.gate_pointer(self.obj_ptr_proj(token), present.to(token.dtype))
        return HeadOutput(multi, out.iou, logits, iou, ptr, out.object_score, out.masks)

    def gate_pointer(self, ptr: torch.Tensor, present: torch.Tensor) -> torch.Tensor:
        """Replace the pointer by the learnt "no object" pointer where ``present`` is 0."""
        return present * ptr + (1 - present) * self.no_obj_ptr

    def mask_as_output(self, features: ImageFeatures, mask: torch.Tensor) -> HeadOutput:
        """Use a binary mask prompt directly as the prediction (no decoding of the mask).

        The decoder still runs once on the downsampled mask to produce the object
        pointer; presence is "any pixel set".

        Parameters
        ----------
        mask
            (B, 1, S, S) float mask in {0, 1} at the model's input size.
        """
        hi = mask.float() * MASK_PROMPT_SCALE + MASK_PROMPT_BIAS
        size = (hi.shape[-2] // 4, hi.shape[-1] // 4)
        low = F.interpolate(hi, size=size, mode="bilinear", align_corners=False, antialias=True)
        ptr_out = self.heads(
            self.decode(
                features.embed,
                features.high_res,
                None,
                None,
                self.mask_downsample(mask.float()),
                multimask=False,
            )
        )
        present = (mask.flatten(1) > 0).any(dim=1, keepdim=True).float()
        score = MASK_PROMPT_SCALE * present + MASK_PROMPT_BIAS
        ptr = self.gate_pointer(ptr_out.obj_ptr, present)
        ones = torch.ones_like(present)
        return HeadOutput(low, ones, low, ones, ptr, score, low)

    def upsample_logits(self, logits: torch.Tensor) -> torch.Tensor:
        """(B, 1, 4h, 4w) logits -> (B, 1, S, S) logits at the model input size."""
        s = self.image_size
        return F.interpolate(logits.float(), size=(s, s), mode="bilinear", align_corners=False)

    # ------------------------------------------------------------------ memory
    def encode_memory(
        self,
        embed: torch.Tensor,
        logits_hi: torch.Tensor,
        object_score: torch.Tensor,
        binarize: bool,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Encode a frame's prediction into a memory.

        Parameters
        ----------
        embed
            (B, C, h, w) raw stride-16 image features (no memory, no embedding added).
        logits_hi
            (B, 1, S, S) mask logits at the model input size.
        object_score
            (B, 1) object-presence logits.
        binarize
            Threshold the mask at 0 instead of taking its sigmoid (prompted frames).

        Returns
        -------
        (B, mem_dim, h, w) memory features and their (B, mem_dim, h, w) position encoding.
        """
        trk = self.cfg.tracking
        mask = (logits_hi > 0).to(logits_hi.dtype) if binarize else torch.sigmoid(logits_hi)
        mask = mask * trk.sigmoid_scale_for_mem_enc + trk.sigmoid_bias_for_mem_enc
        feats, pos = self.memory_encoder(embed, mask)
        if trk.no_obj_embed_spatial:
            absent = 1.0 - (object_score > 0).to(feats.dtype)
            feats = feats + absent[:, :, None, None] * self.no_obj_embed_spatial[..., None, None]
        return feats, pos

    def pointer_position(self, offsets: torch.Tensor, max_offset: int) -> torch.Tensor:
        """Temporal encoding of object pointers, (P,) offsets -> (P, mem_dim)."""
        mode = self.cfg.tracking.obj_ptr_tpos
        if mode == "none":
            return offsets.new_zeros(offsets.shape[0], self.mem_dim, dtype=torch.float32)
        enc = sine_1d(offsets.float() / max(max_offset, 1), self.hidden_dim)
        return self.obj_ptr_tpos_proj(enc)

    def condition_on_memory(
        self,
        features: ImageFeatures,
        memory: torch.Tensor,
        memory_pos: torch.Tensor,
        num_ptr_tokens: int,
        key_mask: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Memory attention over prepared memory tokens; returns (B, C, h, w).

        ``memory``/``memory_pos`` are (B, M, mem_dim); see
        :func:`sam2_engine.model.track_step.memory_tokens`.
        """
        embed = features.embed
        b, c, h, w = embed.shape
        current = embed.flatten(2).transpose(1, 2)
        pos = features.pos.flatten(2).transpose(1, 2).expand(b, -1, -1)
        out = self.memory_attention(
            current, pos, memory, memory_pos, (h, w), num_ptr_tokens, key_mask
        )
        return out.transpose(1, 2).reshape(b, c, h, w)

    def set_memory_dropout(self, p: float) -> None:
        """Change the dropout probability of memory attention (used in training mode only).

        Raises
        ------
        ValueError
            If ``p`` is not in [0, 1).
        """
        if not 0.0 <= p < 1.0:
            raise ValueError(f"memory dropout p={p} must be in [0, 1)")
        for module in self.memory_attention.modules():
            if isinstance(module, nn.Dropout):
                module.p = p
            elif isinstance(module, RopeAttention):
                module.dropout = p

    def use_multimask(self, initial: bool, num_points: int) -> bool:
        """Whether the decoder returns three masks for a frame with ``num_points`` points.

        Box corners count as two points; propagated frames have zero points.
        """
        t = self.cfg.tracking
        return (
            t.multimask_output_in_sam
            and (initial or t.multimask_output_for_tracking)
            and t.multimask_min_pt_num <= num_points <= t.multimask_max_pt_num
        )
