"""The model's inside, for the bundled training loop (``sam2_training``) only.

The package's top level (``import sam2_engine``) is the surface for users: models by name,
predictors, masks, weights. Training needs more of the model than a user does: the one
track step that inference runs without gradients and training runs with them, the memory
it reads and writes, and the prompt label codes. They live here, imported by
``sam2_training``; the other packages use the top level. Importing this module imports
torch.

Examples
--------
>>> from sam2_engine.training_hooks import PromptLabel, track_step
>>> int(PromptLabel.POSITIVE)
1
"""

from __future__ import annotations

from sam2_engine.model.prompt_encoder import PromptLabel
from sam2_engine.model.sam2 import LOGIT_CLAMP, HeadOutput
from sam2_engine.model.track_step import ObjectMemory, StepOutput, step_memory, track_step
from sam2_engine.video.memory_bank import FrameOutput, select_memory

__all__ = [
    "LOGIT_CLAMP",
    "FrameOutput",
    "HeadOutput",
    "ObjectMemory",
    "PromptLabel",
    "StepOutput",
    "select_memory",
    "step_memory",
    "track_step",
]
