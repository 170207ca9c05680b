"""sam2_training: fine-tune SAM 2 models built by :mod:`sam2_engine` on lab data.

The Python API is :func:`finetune` (arrays in, a checkpoint path out); the command line
is ``python -m sam2_training key=value ...`` (Hydra, see :mod:`sam2_training.cli`).
Runs are described by :class:`TrainConfig` (YAML files in ``sam2_training/configs``).
Importing the package is cheap: torch is imported when a public name is first used.

Examples
--------
>>> import sam2_training as st
>>> cfg = st.load_train_config("finetune", ["model.base=test_tiny"])
>>> cfg.loss.mask, cfg.optim.layer_decay
(20.0, 0.9)
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

_LAZY = {
    "finetune": "sam2_training.api",
    "train": "sam2_training.loop",
    "TrainResult": "sam2_training.loop",
    "TrainingProgress": "sam2_training.progress",
    "LossComponents": "sam2_training.progress",
    "ValidationMetrics": "sam2_training.validation",
    "evaluate": "sam2_training.validation",
    "TrainConfig": "sam2_training.config",
    "load_train_config": "sam2_training.config",
    "builtin_train_configs": "sam2_training.config",
    "prepare_data": "sam2_training.data_setup",
    "TrainingData": "sam2_training.data_setup",
}

__all__ = [
    "LossComponents",
    "TrainConfig",
    "TrainResult",
    "TrainingData",
    "TrainingProgress",
    "ValidationMetrics",
    "builtin_train_configs",
    "evaluate",
    "finetune",
    "load_train_config",
    "prepare_data",
    "train",
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'sam2_training' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(list(globals()) + __all__)


if TYPE_CHECKING:  # pragma: no cover
    from sam2_training.api import finetune
    from sam2_training.config import TrainConfig, builtin_train_configs, load_train_config
    from sam2_training.data_setup import TrainingData, prepare_data
    from sam2_training.loop import TrainResult, train
    from sam2_training.progress import LossComponents, TrainingProgress
    from sam2_training.validation import ValidationMetrics, evaluate
