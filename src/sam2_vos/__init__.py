"""sam2_vos: video object segmentation over DAVIS-layout datasets, and its J&F scores.

The SAM 2 counterpart of the official ``tools/vos_inference.py`` and the DAVIS / SA-V
evaluator, GUI-free and driven through ``sam2_engine``'s public surface:

* :func:`~sam2_vos.inference.infer_dataset` segments every video from its annotated
  masks and writes palette PNGs (``napari-sam2 vos-infer``);
* :func:`~sam2_vos.scoring.score_dataset` scores predictions with J, F and J&F under the
  DAVIS protocol (``napari-sam2 vos-score``).

Importing this package is cheap (numpy and Pillow; torch only once a model is built).
"""

from sam2_vos.dataset import FrameStack, Layout, VideoFolder, find_layout, open_video, read_split
from sam2_vos.inference import VideoOutcome, infer_dataset, make_predictor, segment_video
from sam2_vos.metrics import boundary_f, boundary_map, jaccard
from sam2_vos.palette import davis_palette, read_label_png, write_label_png
from sam2_vos.prompts import PromptPlan, PromptStep, plan_prompts
from sam2_vos.scoring import ObjectScore, VosScores, score_dataset, score_video
from sam2_vos.synthetic import write_moving_shapes

__all__ = [
    "FrameStack",
    "Layout",
    "ObjectScore",
    "PromptPlan",
    "PromptStep",
    "VideoFolder",
    "VideoOutcome",
    "VosScores",
    "boundary_f",
    "boundary_map",
    "davis_palette",
    "find_layout",
    "infer_dataset",
    "jaccard",
    "make_predictor",
    "open_video",
    "plan_prompts",
    "read_label_png",
    "read_split",
    "score_dataset",
    "score_video",
    "segment_video",
    "write_label_png",
    "write_moving_shapes",
]
