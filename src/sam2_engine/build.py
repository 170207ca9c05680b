"""Building models by name: the registry of configs, official weights and local models.

Three kinds of names are known to :func:`list_models`:

* the official sizes (``sam2.1_hiera_tiny`` ... ``sam2_hiera_large``), whose weights are
  downloaded once, verified and cached;
* the test configs (``test_tiny``, ``test_small``): random weights, milliseconds on CPU;
* bundled models shipped in the package and local models registered with
  :func:`~sam2_engine.weights.local.register_model` (fine-tuned files).
"""

from __future__ import annotations

from pathlib import Path

import torch

from sam2_engine.config import ModelConfig, builtin_config_names, config_from_dict, load_config
from sam2_engine.device import autocast_dtype, resolve_device
from sam2_engine.model.sam2 import SAM2Model
from sam2_engine.progress import ProgressCallback
from sam2_engine.weights.checkpoints import (
    OFFICIAL_CHECKPOINTS,
    ensure_checkpoint,
    load_weights,
    read_checkpoint,
    read_metadata,
    shape_signature,
)
from sam2_engine.weights.local import bundled_models, local_models


def list_models(include_local: bool = True) -> list[str]:
    """Model names: official sizes, test configs, bundled models, then registered ones.

    ``include_local=False`` leaves out the models registered on this computer.
    """
    names = builtin_config_names()
    official = [n for n in names if n in OFFICIAL_CHECKPOINTS]
    others = [n for n in names if n not in OFFICIAL_CHECKPOINTS]
    local = sorted(local_models()) if include_local else []
    return official + others + list(bundled_models()) + local


PREFERRED_BUNDLED = "microscopy"  # the bundled model for microscopy (see docs/model_card.md)
FALLBACK_OFFICIAL = "sam2.1_hiera_tiny"
OFFICIAL_PREFERENCE = tuple(f"sam2.1_hiera_{s}" for s in ("tiny", "small", "base_plus", "large"))


def default_model_name() -> str:
    """The model every front end starts with.

    An official SAM 2.1 checkpoint already on disk (the smallest, fastest first: Hiera-T,
    -S, -B+, -L), else the bundled microscopy model (works offline), else another bundled
    model, else the official SAM 2.1 Hiera-T (downloaded on first use).
    """
    from sam2_engine.weights.cache import cached_path

    for name in OFFICIAL_PREFERENCE:
        if cached_path(name).exists():
            return name
    bundled = list(bundled_models())
    if PREFERRED_BUNDLED in bundled:
        return PREFERRED_BUNDLED
    return bundled[0] if bundled else FALLBACK_OFFICIAL


def _config_signatures(exclude: str) -> dict[str, dict[str, tuple]]:
    """Shape signatures of every built-in config (built on the meta device: no memory)."""
    out = {}
    for name in builtin_config_names():
        if name == exclude:
            continue
        with torch.device("meta"):
            out[name] = shape_signature(SAM2Model(load_config(name)))
    return out


def _resolve(
    name_or_config: str | Path | ModelConfig,
    checkpoint: str | Path | bool | None,
    progress: ProgressCallback | None,
) -> tuple[ModelConfig, Path | None]:
    """Config and weights file (or None for random weights) for the arguments."""
    if isinstance(name_or_config, ModelConfig):
        return name_or_config, None if checkpoint in (None, False) else Path(checkpoint)
    key = str(name_or_config)
    local = {**{k: str(v) for k, v in bundled_models().items()}, **local_models()}
    if key in local or (key.endswith(".pt") and Path(key).exists()):
        path = Path(local.get(key, key))
        meta = read_metadata(path)
        if "config" not in meta:
            raise ValueError(
                f"{path} carries no config; pass the config name too, e.g. "
                f"build_model('sam2.1_hiera_tiny', checkpoint={str(path)!r})"
            )
        cfg = config_from_dict(meta["config"])
        return cfg, path if checkpoint in (None, True) else (
            None if checkpoint is False else Path(checkpoint)
        )
    cfg = load_config(name_or_config)
    if checkpoint is False:
        return cfg, None
    if checkpoint is None or checkpoint is True:
        if cfg.name in OFFICIAL_CHECKPOINTS:
            return cfg, ensure_checkpoint(cfg.name, progress=progress)
        if checkpoint is True:
            raise ValueError(f"there are no published weights for {cfg.name!r}")
        return cfg, None
    return cfg, Path(checkpoint)


def build_model(
    name_or_config: str | Path | ModelConfig,
    checkpoint: str | Path | bool | None = None,
    device: str | torch.device | None = None,
    *,
    image_size: int | None = None,
    precision: str = "auto",
    progress: ProgressCallback | None = None,
) -> SAM2Model:
    """Build a SAM 2 model, load its weights and put it in eval mode on a device.

    Parameters
    ----------
    name_or_config
        A name from :func:`list_models`, a YAML config path, a :class:`ModelConfig`,
        or the path of a ``.pt`` file written by this package (its config is inside).
    checkpoint
        ``None`` (default): the official weights for official names (downloaded and
        verified on first use, then cached), random weights for test configs.
        A path: load that file (official layout ``{"model": state_dict}``), strictly.
        ``False``: random weights, never download.
    device
        ``None``/``"auto"`` (CUDA, then MPS, then CPU) or a device name.
    image_size
        Run the model at another square input size (a multiple of 32, e.g. 512 for
        small microscopy images: about 4x less encoder work, somewhat coarser masks).
        Position embeddings are interpolated; the weights are unchanged.
    precision
        Inference precision used by the predictors: ``"auto"`` (bfloat16 autocast on
        CUDA, float32 elsewhere), ``"float32"`` (also on CUDA: slower, matches the CPU
        closely) or ``"bfloat16"``. The weights stay float32 either way; the attribute
        ``model.precision`` can be changed later.
    progress
        Called with (bytes_done, bytes_total) while downloading official weights.

    Returns
    -------
    SAM2Model
        In eval mode, float32, on the chosen device.

    Raises
    ------
    ValueError
        Unknown name, bad config or unavailable device.
    CheckpointError
        Missing, corrupt or truncated file; failed download (nothing is cached then).
    CheckpointMismatchError
        The file belongs to another config (the message names the one that fits).

    Examples
    --------
    >>> import sam2_engine as se
    >>> model = se.build_model("test_tiny", device="cpu")
    >>> model.image_size
    128
    """
    dev = resolve_device(device)
    autocast_dtype(dev, precision)  # reject an unknown or unsupported precision early
    cfg, weights = _resolve(name_or_config, checkpoint, progress)
    if image_size is not None:
        cfg = config_from_dict({**_as_dict(cfg), "image_size": int(image_size)}, name=cfg.name)
    model = SAM2Model(cfg)
    if weights is not None:
        state, meta = read_checkpoint(weights)
        load_weights(
            model,
            state,
            source=str(weights),
            config_name=cfg.name,
            candidates=_LazySignatures(cfg.name),
        )
        model.recommended = dict(meta.get("recommended", {}))
    model.precision = precision
    return model.to(dev).eval()


def _as_dict(cfg: ModelConfig) -> dict:
    from sam2_engine.config import config_to_dict

    return config_to_dict(cfg)


class _LazySignatures(dict):
    """Signatures of the other configs, computed only when a mismatch is reported."""

    def __init__(self, exclude: str) -> None:
        super().__init__()
        self._exclude = exclude
        self._loaded = False

    def _load(self) -> None:
        if not self._loaded:
            self.update(_config_signatures(self._exclude))
            self._loaded = True

    def items(self):  # type: ignore[override]
        self._load()
        return super().items()
