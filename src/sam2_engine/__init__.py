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

from typing import TYPE_CHECKING

import lazy_loader as lazy

__version__ = "0.1.0"

# module (below sam2_engine) -> the public names it defines, imported on first access
# (SPEC 1 lazy loading, ``lazy_loader``). This is the one surface the sibling packages
# (napari_sam2, sam2_training, sam2_cells) import; an import-linter contract keeps them
# out of the submodules.
_SURFACE = {
    # entry points: models by name, configs, devices
    "build": ["build_model", "list_models", "default_model_name"],
    "config": ["load_config", "ModelConfig", "config_to_dict", "builtin_config_names"],
    "device": ["resolve_device", "available_devices"],
    # errors callers catch
    "errors": ["CheckpointError", "CheckpointMismatchError", "DownloadError"],
    # weights: official files, the cache, our checkpoint files, names on this computer
    "weights.official": ["OfficialCheckpoint", "OFFICIAL_CHECKPOINTS"],
    "weights.download": ["DownloadCancelled", "ensure_checkpoint", "cached_path", "cache_dir"],
    "weights.checkpoints": [
        "save_checkpoint",
        "load_checkpoint_file",
        "read_metadata",
        "atomic_torch_save",
    ],
    "weights.local": ["register_model", "unregister_model", "bundled_models", "model_file"],
    # atomic files and folders (temporary sibling + rename), for every package
    "atomic": ["atomic_file", "atomic_dir", "is_writable"],
    # predictors
    "image": ["ImagePredictor", "ImagePrediction"],
    "image_prediction": ["MaskCrop"],
    "imaging.lazy_plane": ["LazyPlane"],
    "tiled.grid": ["TilingSettings", "TileGrid"],
    "tiled.automatic": ["generate_tiled", "generator_tile_masks"],
    "embedding_cache": ["EmbeddingCache"],
    "video.predictor": ["VideoPredictor"],
    "video.session": ["TrackingSession"],
    "video.frame_result": ["FrameResult"],
    "video.order": ["propagation_order", "DIRECTIONS"],
    "automatic.generator": ["AutomaticMaskGenerator"],
    "automatic.settings": ["MaskGeneratorSettings", "FilterReport"],
    "automatic.instances": ["InstanceSegmenter", "InstanceSettings", "has_instance_head"],
    "automatic.object_size": ["plateau_diameter", "touching_share"],
    # images and masks
    "focus.window": ["Window"],
    "focus.policy": ["WindowPolicy"],
    "imaging.intensity": ["Normalization", "NormalizedFrame", "intensity_range", "to_rgb"],
    "imaging.frames": ["FrameSource", "resize_batch"],
    "masks.label_image": ["masks_to_label_image"],
    "masks.postprocess": ["masks_to_boxes"],
    # progress and cancel callbacks (one protocol for the engine, cells and training)
    "progress": ["ProgressCallback", "CancelCallback"],
    # the model and an image's encoding (the track step for training code is in
    # sam2_engine.training_hooks)
    "model.sam2": ["SAM2Model"],
    "model.image_encoder": ["ImageFeatures"],
}

__getattr__, _lazy_dir, __all__ = lazy.attach(__name__, submod_attrs=_SURFACE)


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})


if TYPE_CHECKING:  # pragma: no cover - for type checkers and IDEs only
    from sam2_engine.atomic import atomic_dir, atomic_file, is_writable
    from sam2_engine.automatic.generator import AutomaticMaskGenerator
    from sam2_engine.automatic.instances import (
        InstanceSegmenter,
        InstanceSettings,
        has_instance_head,
    )
    from sam2_engine.automatic.object_size import plateau_diameter, touching_share
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
