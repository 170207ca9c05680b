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

from typing import TYPE_CHECKING

import lazy_loader as lazy

# module (below sam2_training) -> the public names it defines, imported on first access
# (SPEC 1 lazy loading, ``lazy_loader``, as in sam2_engine)
_SURFACE = {
    "api": ["finetune"],
    "loop": ["train", "TrainResult"],
    "progress": ["TrainingProgress", "LossComponents"],
    "validation": ["ValidationMetrics", "evaluate"],
    "config": ["TrainConfig", "load_train_config", "builtin_train_configs"],
    "data_setup": ["prepare_data", "TrainingData"],
}

__getattr__, __dir__, __all__ = lazy.attach(__name__, submod_attrs=_SURFACE)

if TYPE_CHECKING:  # pragma: no cover
    from sam2_training.api import finetune
    from sam2_training.config import TrainConfig, builtin_train_configs, load_train_config
    from sam2_training.data_setup import TrainingData, prepare_data
    from sam2_training.loop import TrainResult, train
    from sam2_training.progress import LossComponents, TrainingProgress
    from sam2_training.validation import ValidationMetrics, evaluate
