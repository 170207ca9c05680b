"""Typed model configurations, read from YAML with OmegaConf.

Every size of SAM 2 / 2.1 is described by one :class:`ModelConfig`. The YAML files in
``sam2_engine/configs/`` hold only the numbers that differ from the defaults below
(the defaults are the official SAM 2.1 hyper-parameters shared by all sizes). They are
merged into the dataclasses as OmegaConf *structured configs*, so a misspelt key or a
value of the wrong type fails loudly when the file is read.

Hydra's global state is never touched here: only a command that owns its process (the
training CLI) may use ``@hydra.main``. This matters because the reference ``sam2``
package initialises Hydra at import time, and both can live in one napari session.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from omegaconf import OmegaConf
from omegaconf.errors import OmegaConfBaseException


@dataclass
class TrunkConfig:
    """Image trunk: Hiera (hierarchical vision transformer, the official models) or a
    residual convolutional trunk (``kind: conv``, for models trained on a CPU).

    Both give four maps at strides 4, 8, 16, 32 with ``embed_dim * dim_mul**i``
    channels; the conv trunk uses ``embed_dim``, ``dim_mul`` and ``stages`` only.
    """

    kind: str = "hiera"  # "hiera" or "conv"
    embed_dim: int = 96  # channels of the first stage; doubled at each stage change
    num_heads: int = 1  # heads of the first stage; doubled at each stage change
    stages: list[int] = field(default_factory=lambda: [1, 2, 7, 2])  # blocks per stage
    global_att_blocks: list[int] = field(default_factory=lambda: [5, 7, 9])  # global attention
    window_spec: list[int] = field(default_factory=lambda: [8, 4, 14, 7])  # window per stage
    # spatial size of the background positional embedding, interpolated to the feature size
    window_pos_embed_bkg_spatial_size: list[int] = field(default_factory=lambda: [7, 7])
    q_pool: int = 3  # number of stage changes that pool the queries (downsample by q_stride)
    q_stride: list[int] = field(default_factory=lambda: [2, 2])
    dim_mul: float = 2.0
    head_mul: float = 2.0
    mlp_ratio: float = 4.0
    drop_path_rate: float = 0.0  # stochastic depth, used only when training
    patch_kernel: int = 7
    patch_stride: int = 4
    patch_padding: int = 3


@dataclass
class NeckConfig:
    """Feature pyramid neck on top of the trunk."""

    d_model: int = 256  # the model's hidden width (prompt, decoder, memory attention)
    fpn_top_down_levels: list[int] = field(default_factory=lambda: [2, 3])
    fpn_interp_mode: str = "nearest"
    scalp: int = 1  # number of lowest-resolution levels dropped after the neck


@dataclass
class MemoryAttentionConfig:
    """Transformer that conditions the current frame on the memory bank."""

    num_layers: int = 4
    dim_feedforward: int = 2048
    num_heads: int = 1
    dropout: float = 0.1  # active only in training mode
    rope_theta: float = 10000.0


@dataclass
class MemoryEncoderConfig:
    """Encoder that turns a frame's features and predicted mask into a memory."""

    out_dim: int = 64  # memory channels ("mem_dim")
    downsampler_kernel: int = 3
    downsampler_stride: int = 2
    downsampler_padding: int = 1
    downsampler_total_stride: int = 16
    fuser_layers: int = 2
    fuser_kernel: int = 7
    fuser_layer_scale_init: float = 1e-6


@dataclass
class DecoderConfig:
    """SAM prompt encoder and two-way transformer mask decoder."""

    transformer_depth: int = 2
    transformer_heads: int = 8
    transformer_mlp_dim: int = 2048
    attention_downsample_rate: int = 2
    num_multimask_outputs: int = 3
    iou_head_depth: int = 3
    iou_head_hidden_dim: int = 256
    mask_in_chans: int = 16
    # When a single mask is requested and its stability is below the threshold, fall back
    # to the best of the multimask outputs (the official builders enable this).
    dynamic_multimask_via_stability: bool = True
    dynamic_multimask_stability_delta: float = 0.05
    dynamic_multimask_stability_thresh: float = 0.98
    # also draw clicks and boxes as maps added to the dense prompt embedding (early fusion
    # of the prompt; see sam2_engine.model.prompt_maps); official models: false
    prompt_maps: bool = False


@dataclass
class TrackingConfig:
    """How memories and object pointers are used when tracking through a video."""

    num_maskmem: int = 7  # memory slots: 1 conditioning + (num_maskmem - 1) recent frames
    max_obj_ptrs: int = 16  # object pointers attended to (further capped by the video length)
    max_cond_frames_in_attn: int = -1  # -1: attend to every conditioning frame
    memory_temporal_stride: int = 1  # "r" in XMem/Cutie; 1 takes consecutive frames
    sigmoid_scale_for_mem_enc: float = 20.0
    sigmoid_bias_for_mem_enc: float = -10.0
    # binarise the mask of frames prompted with points/boxes before encoding it as memory
    binarize_mask_from_pts_for_mem_enc: bool = True
    multimask_output_in_sam: bool = True
    multimask_min_pt_num: int = 0
    multimask_max_pt_num: int = 1
    multimask_output_for_tracking: bool = True
    only_obj_ptrs_in_the_past: bool = True
    # SAM 2.1: a learnt embedding added to the memory of frames where the object is absent
    no_obj_embed_spatial: bool = True
    # temporal encoding of object pointers: "none" (SAM 2.0) or "projected_signed" (SAM 2.1)
    obj_ptr_tpos: str = "projected_signed"


@dataclass
class InstanceHeadConfig:
    """Per-pixel instance head on the neck (foreground + distance-to-boundary maps, turned
    into objects by seeded watershed): segment-everything and detection without prompts."""

    enabled: bool = False  # official models have none
    hidden: int = 32  # channels of the head's convolutions
    # object diameter (pixels of the model input) the head was trained at; an image is
    # rescaled so that its objects have about this size before the head runs
    diameter: float = 24.0


@dataclass
class ModelConfig:
    """The whole SAM 2 model. ``image_size`` is the square input side in pixels."""

    name: str = "custom"
    image_size: int = 1024
    trunk: TrunkConfig = field(default_factory=TrunkConfig)
    neck: NeckConfig = field(default_factory=NeckConfig)
    memory_attention: MemoryAttentionConfig = field(default_factory=MemoryAttentionConfig)
    memory_encoder: MemoryEncoderConfig = field(default_factory=MemoryEncoderConfig)
    decoder: DecoderConfig = field(default_factory=DecoderConfig)
    tracking: TrackingConfig = field(default_factory=TrackingConfig)
    instance_head: InstanceHeadConfig = field(default_factory=InstanceHeadConfig)

    backbone_stride: int = 16  # stride of the lowest-resolution feature map used

    @property
    def embedding_size(self) -> int:
        """Side of the image embedding (``image_size // 16``)."""
        return self.image_size // self.backbone_stride

    @property
    def trunk_channels(self) -> list[int]:
        """Channels of the trunk's stages, from the last (coarsest) to the first."""
        t = self.trunk
        return [int(t.embed_dim * t.dim_mul**i) for i in range(len(t.stages))][::-1]

    def validate(self) -> ModelConfig:
        """Check the numbers that must agree with each other; return ``self``."""
        t = self.trunk
        problems: list[str] = []
        if t.kind not in ("hiera", "conv"):
            problems.append(f"trunk.kind={t.kind!r} must be 'hiera' or 'conv'")
        if t.kind == "hiera" and len(t.window_spec) != len(t.stages):
            problems.append(
                f"trunk.window_spec has {len(t.window_spec)} entries but trunk.stages has "
                f"{len(t.stages)}; give one window size per stage"
            )
        if t.kind == "conv" and len(t.stages) != 4:
            problems.append(
                f"trunk.stages={list(t.stages)}: the conv trunk needs 4 stages "
                "(strides 4, 8, 16, 32)"
            )
        if t.kind == "hiera" and not 0 <= t.q_pool <= len(t.stages) - 1:
            problems.append(f"trunk.q_pool={t.q_pool} must be between 0 and len(stages) - 1")
        if self.image_size % 32 != 0 or self.image_size <= 0:
            problems.append(
                f"image_size={self.image_size} must be a positive multiple of 32 (e.g. 512 or 1024)"
            )
        if self.tracking.obj_ptr_tpos not in ("none", "projected_signed", "projected"):
            problems.append(
                f"tracking.obj_ptr_tpos={self.tracking.obj_ptr_tpos!r} must be 'none', "
                "'projected' or 'projected_signed'"
            )
        if self.neck.d_model % self.memory_encoder.out_dim != 0:
            problems.append(
                f"neck.d_model={self.neck.d_model} must be a multiple of "
                f"memory_encoder.out_dim={self.memory_encoder.out_dim}"
            )
        if self.tracking.num_maskmem < 1:
            problems.append("tracking.num_maskmem must be at least 1")
        if problems:
            raise ValueError(f"invalid model config {self.name!r}: " + "; ".join(problems))
        return self


def _config_dir():  # a Traversable: works from a wheel, an editable install or a zip
    return resources.files("sam2_engine") / "configs"


def builtin_config_names() -> list[str]:
    """Names of the YAML configs shipped in ``sam2_engine/configs`` (without ``.yaml``)."""
    files = _config_dir()
    return sorted(p.name[: -len(".yaml")] for p in files.iterdir() if p.name.endswith(".yaml"))


def config_from_dict(data: dict[str, Any], name: str | None = None) -> ModelConfig:
    """Build a validated :class:`ModelConfig` from a nested mapping (e.g. checkpoint metadata).

    Raises
    ------
    ValueError
        If a key is unknown or a value has the wrong type.
    """
    base = OmegaConf.structured(ModelConfig)
    try:
        merged = OmegaConf.merge(base, OmegaConf.create(data))
    except OmegaConfBaseException as err:
        label = name or data.get("name", "<dict>")
        raise ValueError(f"invalid model config {label!r}: {err}") from err
    cfg: ModelConfig = OmegaConf.to_object(merged)  # type: ignore[assignment]
    if name is not None:
        cfg.name = name
    return cfg.validate()


def load_config(name_or_path: str | Path, **overrides: Any) -> ModelConfig:
    """Read a model config by registered name or from a YAML file.

    Parameters
    ----------
    name_or_path
        A built-in name such as ``"sam2.1_hiera_tiny"`` or ``"test_tiny"``, or the path
        of a YAML file in the same format.
    **overrides
        Top-level fields to replace, e.g. ``image_size=512``.

    Returns
    -------
    ModelConfig
        The validated configuration.

    Raises
    ------
    ValueError
        If the name is unknown, a key is misspelt or a value has the wrong type.
    """
    path = Path(name_or_path)
    if path.suffix in (".yaml", ".yml") and path.exists():
        text = path.read_text()
        default_name = path.stem
    else:
        name = str(name_or_path)
        if name not in builtin_config_names():
            raise ValueError(
                f"unknown model config {name!r}; known configs: "
                f"{', '.join(builtin_config_names())} (or pass the path of a YAML file)"
            )
        text = (_config_dir() / f"{name}.yaml").read_text()
        default_name = name
    data = OmegaConf.to_container(OmegaConf.create(text), resolve=True)
    if not isinstance(data, dict):
        raise ValueError(f"model config {name_or_path!r} must be a YAML mapping")
    data.setdefault("name", default_name)
    data.update(overrides)
    return config_from_dict(data)


def config_to_dict(cfg: Any) -> dict[str, Any]:
    """Plain nested dict of a structured (dataclass) config.

    The one rule for every typed config of the project: a :class:`ModelConfig` (stored in
    our checkpoints' metadata), the training package's ``TrainConfig`` (stored in its
    checkpoints and ``config.yaml``).

    Parameters
    ----------
    cfg
        A dataclass instance whose fields OmegaConf can read.

    Returns
    -------
    dict
        Nested plain Python values (interpolations resolved).
    """
    return OmegaConf.to_container(OmegaConf.structured(cfg), resolve=True)  # type: ignore[return-value]
