"""Typed fine-tuning configuration, read from YAML with OmegaConf.

A run is described by one :class:`TrainConfig`; its sections mirror the YAML files in
``sam2_training/configs/`` (``finetune.yaml`` holds every default and a comment per
setting). The files are merged into the dataclasses as OmegaConf *structured configs*,
so a misspelt key or a value of the wrong type fails loudly.

Only the command line (:mod:`sam2_training.cli`) uses Hydra; the Python API reads the
same files with :func:`load_train_config`, which never touches Hydra's global state.

Examples
--------
>>> cfg = load_train_config("finetune", ["model.base=test_tiny", "trainer.max_steps=10"])
>>> cfg.trainer.max_steps
10
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

#: Name under which the CLI registers :class:`TrainConfig` in Hydra's ConfigStore.
SCHEMA_NAME = "sam2_training_schema"

#: Parts of a SAM 2 model that can be frozen (module names of ``SAM2Model``).
FREEZABLE = (
    "image_encoder",
    "image_encoder.trunk",
    "image_encoder.neck",
    "memory_attention",
    "memory_encoder",
    "sam_prompt_encoder",
    "sam_mask_decoder",
    "instance_head",
    "prompt_maps",
)


@dataclass
class BaseModelConfig:
    """Which model to start from."""

    base: str = "sam2.1_hiera_tiny"  # a name from sam2_engine.list_models() or a .pt of ours
    # weights to start from: null = the base model's own (official weights for official
    # names), a file path, or "random" for random weights (tests and benchmarks)
    checkpoint: str | None = None
    image_size: int | None = None  # train and run at this input side (multiple of 32)
    dropout: float | None = None  # memory-attention dropout while training (null: model's)
    # inference settings stored with the weights (e.g. {windows: {...}, automatic: {...}});
    # merged over the base model's own recommendations
    recommended: dict[str, Any] = field(default_factory=dict)


@dataclass
class AugmentConfig:
    """Augmentations suited to microscopy, identical on every frame of a clip."""

    enabled: bool = True
    flips: bool = True  # random horizontal and vertical flips
    rot90: bool = True  # random multiples of 90 degrees
    intensity_scale: list[float] = field(default_factory=lambda: [0.8, 1.2])  # x * s
    gamma: list[float] = field(default_factory=lambda: [0.8, 1.25])  # x ** g (x in [0, 1])
    noise_std: float = 0.03  # Gaussian noise, std drawn in [0, noise_std] (x in [0, 1])


@dataclass
class SyntheticDataConfig:
    """Generated data (``sam2_synthetic``) to train on instead of a folder or arrays."""

    images: int = 0  # still fields, each with its own random look
    image_sizes: list[int] = field(default_factory=lambda: [192, 256, 384, 512])  # sides
    timelapses: int = 0  # time-lapses (tracking clips)
    timelapse_frames: int = 8
    timelapse_size: int = 256
    zstacks: int = 0  # fluorescence z-stacks (propagation through planes)
    zstack_planes: int = 24
    zstack_size: int = 160
    nuclear_fraction: float = 0.5  # share forced to a nuclear stain (the rest: any modality)
    seed: int = 0
    cache: str | None = None  # folder that keeps the drawn data between runs (null: none)


@dataclass
class WindowCropConfig:
    """Object-centred windows: each sample is cut around one object so that the object
    fills a share of the window, as the engine's prompt-centred windows do at inference
    (``sam2_engine.focus``)."""

    enabled: str = "auto"  # "auto": when the base model recommends windows; "on"; "off"
    object_fraction: list[float] = field(default_factory=lambda: [0.12, 0.6])  # log-uniform
    jitter: float = 0.15  # offset of the window centre from the object, share of the side


@dataclass
class DataConfig:
    """Where the annotated images come from and how samples are cut from them."""

    # a folder: TIFF pairs (images/ + labels/) or a Cell Tracking Challenge data set;
    # null when arrays are passed to sam2_training.finetune
    folder: str | None = None
    format: str = "auto"  # "auto", "tiff" or "ctc"
    val_folder: str | None = None  # explicit validation data (same layout); else a split
    channel_axis: int | None = None  # channel axis of the images (null: grey or RGB last)
    clip_length: int = 4  # frames (time points or planes) per sample of a stack
    # training clips take every s-th frame, s drawn from 1..clip_stride per sample: faster
    # motion, and z clips that run past an object's last plane (the object score learns
    # to end it); validation clips keep s = 1
    clip_stride: int = 1
    max_objects: int = 3  # objects per sample, among those visible on its first frame
    crop_size: int | None = None  # random crop side in image pixels before resizing
    val_fraction: float = 0.2  # share held out for validation (0: no validation)
    samples_per_epoch: int | None = None  # null: one per clip position (>= batch size)
    num_workers: int = 0  # DataLoader worker processes
    percentiles: list[float] = field(default_factory=lambda: [1.0, 99.8])  # intensity range
    augment: AugmentConfig = field(default_factory=AugmentConfig)
    synthetic: SyntheticDataConfig = field(default_factory=SyntheticDataConfig)
    windows: WindowCropConfig = field(default_factory=WindowCropConfig)
    # share of samples with one extra click on the background whose target is "no
    # object" (teaches the object score to reject clicks on nothing: segment everything)
    background_clicks: float = 0.0


@dataclass
class PromptConfig:
    """How user prompts are simulated (the SAM 2.1 fine-tuning defaults)."""

    prob_point_input: float = 0.5  # clips of >1 frame: click/box prompts, else the mask
    prob_box_input: float = 0.5  # among click/box prompts: a box instead of one click
    num_correction_points: int = 7  # correction clicks per corrected frame
    prob_correction_from_gt: float = 0.1  # draw a correction click from the ground truth
    max_init_cond_frames: int = 2  # prompt 1..n frames up front (the first one always)
    max_frames_to_correct: int = 2  # frames with correction clicks (>= initial ones)
    box_noise: float = 0.1  # box corner jitter, fraction of the box side
    box_max_noise: float = 20.0  # largest jitter in model-input pixels


@dataclass
class LossConfig:
    """Loss weights and options (SAM 2.1: 20 / 1 / 1 / 1, L1 IoU loss on all masks)."""

    mask: float = 20.0  # sigmoid focal loss on the mask logits
    dice: float = 1.0
    iou: float = 1.0  # predicted IoU vs. the real IoU
    object: float = 1.0  # object-presence score (binary cross-entropy)
    focal_alpha: float = 0.25
    focal_gamma: float = 2.0
    iou_l1: bool = True  # L1 (SAM 2.1) instead of MSE
    supervise_all_iou: bool = True  # IoU loss on every candidate mask, not only the best


@dataclass
class OptimConfig:
    """AdamW with layer-wise learning-rate decay in the image encoder."""

    lr: float = 5.0e-6  # peak learning rate of everything but the image encoder
    encoder_lr: float = 3.0e-6  # peak learning rate of the image encoder (before decay)
    layer_decay: float = 0.9  # trunk block i of n gets encoder_lr * decay ** (n - i)
    weight_decay: float = 0.1  # not applied to biases and LayerNorm weights
    betas: list[float] = field(default_factory=lambda: [0.9, 0.999])
    grad_clip: float = 0.1  # max global gradient norm (0: no clipping)
    warmup_fraction: float = 0.05  # linear warm-up over this share of the steps
    final_lr_ratio: float = 0.1  # cosine decay down to lr * final_lr_ratio


@dataclass
class InstanceTaskConfig:
    """Training of the instance head (models that have one) on whole-field tiles, each
    rescaled so that its objects are about the head's diameter across."""

    weight: float = 1.0  # weight of the instance loss (0: the head is not trained)
    batch_size: int = 2  # field tiles per step, besides the prompted samples
    tile: int = 256  # tile side in model-input pixels (a multiple of 32)
    diameter_jitter: list[float] = field(default_factory=lambda: [0.7, 1.4])  # log-uniform


@dataclass
class TrainerConfig:
    """Length, batching, precision, freezing, validation, logging and checkpoints."""

    max_steps: int = 1000
    batch_size: int = 1  # samples per step over all processes together
    seed: int = 123
    device: str = "auto"  # "auto", "cpu", "cuda", "cuda:1", "mps"
    precision: str = "auto"  # "auto" (bf16 autocast on CUDA, else fp32), "fp32", "bf16"
    freeze: list[str] = field(default_factory=list)  # e.g. [image_encoder] on a CPU
    val_every: int = 0  # validate every N steps (0: once per epoch, at most ~20 times a run)
    val_max_samples: int = 32  # validation samples (clips or images) per validation
    val_max_objects: int = 8  # objects per validation sample
    log_every: int = 10  # steps between CSV / TensorBoard rows
    checkpoint_every: int = 100  # steps between last.pt + training_state.pt (0: end only)
    tensorboard: bool = True
    backend: str = "auto"  # torch.distributed backend under torchrun: nccl on CUDA, else gloo


@dataclass
class TrainConfig:
    """A whole fine-tuning run."""

    output: str = "sam2_finetune"  # run folder, or a .pt path for the final weights
    resume: bool = False  # continue from the run folder's training_state.pt if present
    model: BaseModelConfig = field(default_factory=BaseModelConfig)
    data: DataConfig = field(default_factory=DataConfig)
    prompts: PromptConfig = field(default_factory=PromptConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    instance: InstanceTaskConfig = field(default_factory=InstanceTaskConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    trainer: TrainerConfig = field(default_factory=TrainerConfig)

    def validate(self) -> TrainConfig:
        """Check values that OmegaConf's type checks cannot; return ``self``."""
        problems = _problems(self)
        if problems:
            raise ValueError("invalid training config: " + "; ".join(problems))
        return self


def _range_ok(pair: Sequence[float], low: float | None = None) -> bool:
    return len(pair) == 2 and pair[0] <= pair[1] and (low is None or pair[0] > low)


def _problems(cfg: TrainConfig) -> list[str]:
    t, d, o, p, a = cfg.trainer, cfg.data, cfg.optim, cfg.prompts, cfg.data.augment
    out: list[str] = []
    if t.max_steps < 1:
        out.append(f"trainer.max_steps={t.max_steps} must be at least 1")
    if t.batch_size < 1:
        out.append(f"trainer.batch_size={t.batch_size} must be at least 1")
    if t.precision not in ("auto", "fp32", "bf16"):
        out.append(f"trainer.precision={t.precision!r} must be 'auto', 'fp32' or 'bf16'")
    if t.backend not in ("auto", "gloo", "nccl"):
        out.append(f"trainer.backend={t.backend!r} must be 'auto', 'gloo' or 'nccl'")
    bad = [name for name in t.freeze if name not in FREEZABLE]
    if bad:
        out.append(f"trainer.freeze has unknown parts {bad}; choose among {list(FREEZABLE)}")
    for name in ("val_every", "log_every", "checkpoint_every"):
        if getattr(t, name) < 0:
            out.append(f"trainer.{name}={getattr(t, name)} must be >= 0")
    if d.format not in ("auto", "tiff", "ctc"):
        out.append(f"data.format={d.format!r} must be 'auto', 'tiff' or 'ctc'")
    if d.clip_length < 1:
        out.append(f"data.clip_length={d.clip_length} must be at least 1")
    if d.clip_stride < 1:
        out.append(f"data.clip_stride={d.clip_stride} must be at least 1")
    if d.max_objects < 1:
        out.append(f"data.max_objects={d.max_objects} must be at least 1")
    if d.crop_size is not None and d.crop_size < 16:
        out.append(f"data.crop_size={d.crop_size} must be null or at least 16 pixels")
    if not 0.0 <= d.val_fraction < 1.0:
        out.append(f"data.val_fraction={d.val_fraction} must be in [0, 1)")
    if not (len(d.percentiles) == 2 and 0 <= d.percentiles[0] < d.percentiles[1] <= 100):
        out.append(f"data.percentiles={list(d.percentiles)} must be [low, high] within 0..100")
    if not _range_ok(a.intensity_scale, 0.0):
        out.append(f"data.augment.intensity_scale={list(a.intensity_scale)} must be [lo, hi], 0<lo")
    if not _range_ok(a.gamma, 0.0):
        out.append(f"data.augment.gamma={list(a.gamma)} must be [lo, hi] with 0 < lo <= hi")
    inst = cfg.instance
    if inst.weight < 0 or inst.batch_size < 1 or inst.tile < 32 or inst.tile % 32:
        out.append(
            f"instance: weight={inst.weight} must be >= 0, batch_size={inst.batch_size} >= 1 "
            f"and tile={inst.tile} a multiple of 32"
        )
    if not _range_ok(inst.diameter_jitter, 0.0):
        out.append(f"instance.diameter_jitter={list(inst.diameter_jitter)} must be [lo, hi], 0<lo")
    w = d.windows
    if w.enabled not in ("auto", "on", "off"):
        out.append(f"data.windows.enabled={w.enabled!r} must be 'auto', 'on' or 'off'")
    if not (_range_ok(w.object_fraction, 0.0) and w.object_fraction[1] <= 1.0):
        out.append(
            f"data.windows.object_fraction={list(w.object_fraction)} must be [lo, hi] "
            "with 0 < lo <= hi <= 1"
        )
    if not 0.0 <= d.background_clicks <= 1.0:
        out.append(f"data.background_clicks={d.background_clicks} must be in [0, 1]")
    s = d.synthetic
    if min(s.images, s.timelapses, s.zstacks) < 0 or not s.image_sizes or min(s.image_sizes) < 32:
        out.append("data.synthetic counts must be >= 0 and image_sizes at least 32 pixels")
    if a.noise_std < 0:
        out.append(f"data.augment.noise_std={a.noise_std} must be >= 0")
    for name in ("prob_point_input", "prob_box_input", "prob_correction_from_gt"):
        if not 0.0 <= getattr(p, name) <= 1.0:
            out.append(f"prompts.{name}={getattr(p, name)} must be a probability in [0, 1]")
    if p.max_init_cond_frames < 1:
        out.append("prompts.max_init_cond_frames must be at least 1")
    if p.max_frames_to_correct < p.max_init_cond_frames:
        out.append(
            f"prompts.max_frames_to_correct={p.max_frames_to_correct} must be >= "
            f"prompts.max_init_cond_frames={p.max_init_cond_frames}"
        )
    if o.lr < 0 or o.encoder_lr < 0:
        out.append("optim.lr and optim.encoder_lr must be >= 0")
    if not 0.0 < o.layer_decay <= 1.0:
        out.append(f"optim.layer_decay={o.layer_decay} must be in (0, 1]")
    if not 0.0 <= o.warmup_fraction < 1.0:
        out.append(f"optim.warmup_fraction={o.warmup_fraction} must be in [0, 1)")
    if len(o.betas) != 2:
        out.append(f"optim.betas={list(o.betas)} must hold two numbers")
    if cfg.model.image_size is not None and (
        cfg.model.image_size <= 0 or cfg.model.image_size % 32
    ):
        out.append(f"model.image_size={cfg.model.image_size} must be a positive multiple of 32")
    return out


# --------------------------------------------------------------------------- reading


def config_dir() -> Path:
    """The folder of the bundled YAML configs (``sam2_training/configs``)."""
    return Path(str(resources.files("sam2_training") / "configs"))


def builtin_train_configs() -> list[str]:
    """Names of the bundled run configs (without ``.yaml``)."""
    return sorted(p.stem for p in config_dir().glob("*.yaml"))


def _read_yaml(name_or_path: str | Path, seen: tuple[str, ...] = ()) -> DictConfig:
    """A YAML run config with its ``defaults`` list resolved (OmegaConf only, no Hydra)."""
    path = Path(name_or_path)
    if not (path.suffix in (".yaml", ".yml") and path.exists()):
        path = config_dir() / f"{name_or_path}.yaml"
        if not path.exists():
            raise ValueError(
                f"unknown training config {str(name_or_path)!r}; bundled configs: "
                f"{', '.join(builtin_train_configs())} (or pass the path of a YAML file)"
            )
    if str(path) in seen:
        raise ValueError(f"training config {path} includes itself through its defaults list")
    node = OmegaConf.load(path)
    if not isinstance(node, DictConfig):
        raise ValueError(f"training config {path} must be a YAML mapping")
    defaults = node.pop("defaults", [])
    node.pop("hydra", None)
    merged = OmegaConf.create()
    self_seen = False
    for entry in defaults:
        if entry == "_self_":
            merged = OmegaConf.merge(merged, node)
            self_seen = True
        elif isinstance(entry, str) and entry != SCHEMA_NAME:
            parent = path.parent / f"{entry}.yaml"
            merged = OmegaConf.merge(merged, _read_yaml(parent, (*seen, str(path))))
    if not self_seen:
        merged = OmegaConf.merge(merged, node)
    return merged  # type: ignore[return-value]


def config_from_container(data: Mapping[str, Any] | DictConfig) -> TrainConfig:
    """Validate a nested mapping (e.g. a Hydra config or a checkpoint's metadata).

    Raises
    ------
    ValueError
        If a key is unknown, a value has the wrong type or values do not agree.
    """
    try:
        merged = OmegaConf.merge(OmegaConf.structured(TrainConfig), data)
    except OmegaConfBaseException as err:
        raise ValueError(f"invalid training config: {err}") from err
    cfg: TrainConfig = OmegaConf.to_object(merged)  # type: ignore[assignment]
    return cfg.validate()


def load_train_config(
    name_or_path: str | Path = "finetune",
    overrides: Sequence[str] | Mapping[str, Any] = (),
) -> TrainConfig:
    """Read a run config and apply overrides.

    Parameters
    ----------
    name_or_path
        A bundled config name (``"finetune"``, ``"finetune_cpu"``, ...) or a YAML path.
    overrides
        Hydra-style ``"key.sub=value"`` strings, or a mapping of dotted keys to values
        (e.g. ``{"trainer.max_steps": 100}``).

    Returns
    -------
    TrainConfig
        The validated configuration.

    Raises
    ------
    ValueError
        Unknown config name, misspelt key, value of the wrong type.
    """
    node = _read_yaml(name_or_path)
    try:
        merged = OmegaConf.merge(OmegaConf.structured(TrainConfig), node)
    except OmegaConfBaseException as err:
        raise ValueError(f"invalid training config {str(name_or_path)!r}: {err}") from err
    cfg = config_from_container(merged)
    if isinstance(overrides, Mapping):
        return apply_overrides(cfg, overrides)
    return apply_dotlist(cfg, overrides)


def apply_dotlist(cfg: TrainConfig, dotlist: Sequence[str]) -> TrainConfig:
    """A copy of ``cfg`` with Hydra-style ``"key.sub=value"`` overrides, validated again."""
    items = [str(o) for o in dotlist]
    for item in items:
        if "=" not in item:
            raise ValueError(f"override {item!r} must look like 'key.sub=value'")
    try:
        merged = OmegaConf.merge(OmegaConf.structured(cfg), OmegaConf.from_dotlist(items))
    except OmegaConfBaseException as err:
        raise ValueError(f"invalid override in {items}: {err}") from err
    return config_from_container(merged)


def apply_overrides(cfg: TrainConfig, overrides: Mapping[str, Any]) -> TrainConfig:
    """A copy of ``cfg`` with dotted keys replaced, validated again."""
    node = OmegaConf.structured(cfg)
    for key, value in overrides.items():
        try:
            OmegaConf.update(node, key, value, merge=False)
        except OmegaConfBaseException as err:
            raise ValueError(f"cannot set {key}={value!r}: {err}") from err
    return config_from_container(node)
