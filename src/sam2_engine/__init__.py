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

# public name -> module that defines it (imported on first access)
_LAZY = {
    "build_model": "sam2_engine.build",
    "list_models": "sam2_engine.build",
    "load_config": "sam2_engine.config",
    "ModelConfig": "sam2_engine.config",
    "CheckpointError": "sam2_engine.checkpoints",
    "CheckpointMismatchError": "sam2_engine.checkpoints",
    "OfficialCheckpoint": "sam2_engine.checkpoints",
    "OFFICIAL_CHECKPOINTS": "sam2_engine.checkpoints",
    "ensure_checkpoint": "sam2_engine.checkpoints",
    "cache_dir": "sam2_engine.checkpoints",
    "save_checkpoint": "sam2_engine.checkpoints",
    "load_checkpoint_file": "sam2_engine.checkpoints",
    "resolve_device": "sam2_engine.device",
    "SAM2Model": "sam2_engine.model.sam2",
    "ImagePredictor": "sam2_engine.image",
    "ImagePrediction": "sam2_engine.image",
    "VideoPredictor": "sam2_engine.video",
    "TrackingSession": "sam2_engine.session",
    "FrameResult": "sam2_engine.session",
    "AutomaticMaskGenerator": "sam2_engine.automatic",
    "masks_to_label_image": "sam2_engine.label_image",
    "Normalization": "sam2_engine.intensity",
    "FrameSource": "sam2_engine.frames",
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
    from sam2_engine.automatic import AutomaticMaskGenerator
    from sam2_engine.build import build_model, list_models
    from sam2_engine.checkpoints import (
        OFFICIAL_CHECKPOINTS,
        CheckpointError,
        CheckpointMismatchError,
        OfficialCheckpoint,
        cache_dir,
        ensure_checkpoint,
        load_checkpoint_file,
        save_checkpoint,
    )
    from sam2_engine.config import ModelConfig, load_config
    from sam2_engine.device import resolve_device
    from sam2_engine.frames import FrameSource
    from sam2_engine.image import ImagePrediction, ImagePredictor
    from sam2_engine.intensity import Normalization
    from sam2_engine.label_image import masks_to_label_image
    from sam2_engine.model.sam2 import SAM2Model
    from sam2_engine.session import FrameResult, TrackingSession
    from sam2_engine.video import VideoPredictor
