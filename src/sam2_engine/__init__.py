"""sam2_engine: a clean implementation of SAM 2 / SAM 2.1 for scientific imaging.

It loads the official checkpoints unchanged and reproduces the reference numbers.
Importing the package is cheap: torch is imported only when a public name below is
first used (PEP 562 lazy attributes), so napari can read the plugin manifest fast.

Examples
--------
>>> import sam2_engine as se
>>> model = se.build_model("test_tiny")          # random weights, runs in milliseconds
>>> "sam2.1_hiera_tiny" in se.list_models()
True
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

# public name -> module that defines it (imported on first access). This is the one
# surface the sibling packages (napari_sam2, sam2_training, sam2_cells) import; an
# import-linter contract keeps them out of the submodules.
_LAZY = {
    # entry points: models by name, configs, devices
    "build_model": "sam2_engine.build",
    "list_models": "sam2_engine.build",
    "default_model_name": "sam2_engine.build",
    "load_config": "sam2_engine.config",
    "ModelConfig": "sam2_engine.config",
    "config_to_dict": "sam2_engine.config",
    "builtin_config_names": "sam2_engine.config",
    "resolve_device": "sam2_engine.device",
    "available_devices": "sam2_engine.device",
    # errors callers catch
    "CheckpointError": "sam2_engine.errors",
    "CheckpointMismatchError": "sam2_engine.errors",
    "DownloadError": "sam2_engine.errors",
    "DownloadCancelled": "sam2_engine.weights.download",
    # weights: official files, the cache, our checkpoint files, names on this computer
    "OfficialCheckpoint": "sam2_engine.weights.official",
    "OFFICIAL_CHECKPOINTS": "sam2_engine.weights.official",
    "ensure_checkpoint": "sam2_engine.weights.download",
    "cached_path": "sam2_engine.weights.download",
    "cache_dir": "sam2_engine.weights.download",
    "save_checkpoint": "sam2_engine.weights.checkpoints",
    "load_checkpoint_file": "sam2_engine.weights.checkpoints",
    "read_metadata": "sam2_engine.weights.checkpoints",
    "atomic_torch_save": "sam2_engine.weights.checkpoints",
    # atomic files and folders (temporary sibling + rename), for every package
    "atomic_file": "sam2_engine.atomic",
    "atomic_dir": "sam2_engine.atomic",
    "is_writable": "sam2_engine.atomic",
    "register_model": "sam2_engine.weights.local",
    "unregister_model": "sam2_engine.weights.local",
    "bundled_models": "sam2_engine.weights.local",
    "model_file": "sam2_engine.weights.local",
    # predictors
    "ImagePredictor": "sam2_engine.image",
    "ImagePrediction": "sam2_engine.image",
    "MaskCrop": "sam2_engine.image_prediction",
    "LazyPlane": "sam2_engine.imaging.lazy_plane",
    "TilingSettings": "sam2_engine.tiled.grid",
    "TileGrid": "sam2_engine.tiled.grid",
    "generate_tiled": "sam2_engine.tiled.automatic",
    "generator_tile_masks": "sam2_engine.tiled.automatic",
    "EmbeddingCache": "sam2_engine.embedding_cache",
    "VideoPredictor": "sam2_engine.video.predictor",
    "TrackingSession": "sam2_engine.video.session",
    "FrameResult": "sam2_engine.video.frame_result",
    "AutomaticMaskGenerator": "sam2_engine.automatic.generator",
    "MaskGeneratorSettings": "sam2_engine.automatic.settings",
    "InstanceSegmenter": "sam2_engine.automatic.instances",
    "InstanceSettings": "sam2_engine.automatic.instances",
    "has_instance_head": "sam2_engine.automatic.instances",
    "FilterReport": "sam2_engine.automatic.settings",
    "propagation_order": "sam2_engine.video.order",
    "DIRECTIONS": "sam2_engine.video.order",
    # images and masks
    "Window": "sam2_engine.focus.window",
    "WindowPolicy": "sam2_engine.focus.policy",
    "Normalization": "sam2_engine.imaging.intensity",
    "NormalizedFrame": "sam2_engine.imaging.intensity",
    "intensity_range": "sam2_engine.imaging.intensity",
    "to_rgb": "sam2_engine.imaging.intensity",
    "FrameSource": "sam2_engine.imaging.frames",
    "resize_batch": "sam2_engine.imaging.frames",
    "masks_to_label_image": "sam2_engine.masks.label_image",
    "masks_to_boxes": "sam2_engine.masks.postprocess",
    # progress and cancel callbacks (one protocol for the engine, cells and training)
    "ProgressCallback": "sam2_engine.progress",
    "CancelCallback": "sam2_engine.progress",
    # the model and an image's encoding (the track step for training code is in
    # sam2_engine.training_hooks)
    "SAM2Model": "sam2_engine.model.sam2",
    "ImageFeatures": "sam2_engine.model.image_encoder",
}

__all__ = sorted(_LAZY)


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'sam2_engine' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(list(globals()) + __all__)


if TYPE_CHECKING:  # pragma: no cover - for type checkers and IDEs only
    from sam2_engine.atomic import atomic_dir, atomic_file, is_writable
    from sam2_engine.automatic.generator import AutomaticMaskGenerator
    from sam2_engine.automatic.instances import (
        InstanceSegmenter,
        InstanceSettings,
        has_instance_head,
    )
    from sam2_engine.automatic.settings import FilterReport, MaskGeneratorSettings
    from sam2_engine.build import build_model, default_model_name, list_models
    from sam2_engine.config import ModelConfig, builtin_config_names, config_to_dict, load_config
    from sam2_engine.device import available_devices, resolve_device
    from sam2_engine.errors import CheckpointError, CheckpointMismatchError, DownloadError
    from sam2_engine.focus.policy import WindowPolicy
    from sam2_engine.focus.window import Window
    from sam2_engine.image import ImagePrediction, ImagePredictor
    from sam2_engine.imaging.frames import FrameSource, resize_batch
    from sam2_engine.imaging.intensity import (
        Normalization,
        NormalizedFrame,
        intensity_range,
        to_rgb,
    )
    from sam2_engine.masks.label_image import masks_to_label_image
    from sam2_engine.masks.postprocess import masks_to_boxes
    from sam2_engine.model.image_encoder import ImageFeatures
    from sam2_engine.model.sam2 import SAM2Model
    from sam2_engine.progress import CancelCallback, ProgressCallback
    from sam2_engine.video.frame_result import FrameResult
    from sam2_engine.video.order import DIRECTIONS, propagation_order
    from sam2_engine.video.predictor import VideoPredictor
    from sam2_engine.video.session import TrackingSession
    from sam2_engine.weights.checkpoints import (
        atomic_torch_save,
        load_checkpoint_file,
        read_metadata,
        save_checkpoint,
    )
    from sam2_engine.weights.download import (
        DownloadCancelled,
        cache_dir,
        cached_path,
        ensure_checkpoint,
    )
    from sam2_engine.weights.local import (
        bundled_models,
        model_file,
        register_model,
        unregister_model,
    )
    from sam2_engine.weights.official import OFFICIAL_CHECKPOINTS, OfficialCheckpoint
