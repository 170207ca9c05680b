"""The loop can learn: overfit a few images until one click segments every nucleus.

``test_tiny`` starts from random weights, so the recipe differs from fine-tuning a
pretrained model: the (random) image encoder is frozen, which makes the decoder learn
much faster than training everything; the learning rate is high; Adam's second-moment
decay is shortened (beta2 = 0.99) and the IoU head uses the MSE loss, because while
every mask is still wrong the IoU head learns to predict ~0 and, with beta2 = 0.999 and
the L1 loss, it stays saturated long after the masks have become good. With these
settings six different seeds reached 0.97 - 0.99 after 500 steps (0.94 - 0.96 after 300).
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage as ndi

import sam2_engine
import sam2_training as st
from sam2_synthetic import fluorescence_image

from .conftest import FAST

RECIPE = {
    **FAST,
    "trainer.freeze": ["image_encoder"],
    "optim.lr": 2e-3,
    "optim.betas": [0.9, 0.99],
    "optim.grad_clip": 1.0,
    "optim.weight_decay": 0.1,
    "optim.warmup_fraction": 0.02,
    "loss.iou_l1": False,
    "prompts.num_correction_points": 0,
    "prompts.prob_box_input": 0.0,
    "data.max_objects": 6,
    "data.augment.enabled": False,
    "trainer.val_every": 100,
}


@pytest.mark.slow
def test_one_click_iou_exceeds_0_9_on_the_training_images(tmp_path):
    data = [fluorescence_image((128, 128), 4, seed=s, radius=(14, 20)) for s in range(2)]
    images, labels = [d.image for d in data], [d.labels for d in data]
    history: list[tuple[int, float]] = []

    def progress(p):
        if p.phase == "validate":
            history.append((p.step, p.validation.one_click_iou))

    path = st.finetune(
        images,
        labels,
        "test_tiny",
        output=tmp_path / "overfit",
        max_steps=500,
        batch_size=2,
        seed=123,
        overrides=RECIPE,
        val_images=images,
        val_labels=labels,
        progress=progress,
    )
    steps, ious = zip(*history, strict=True)
    assert steps == (100, 200, 300, 400, 500)
    assert ious[0] < 0.5 < 0.9 < ious[-1], history  # learnt, from a low start

    # the same through the user-facing predictor: one click at each nucleus's centre
    model = sam2_engine.build_model(path, device="cpu")
    predictor = sam2_engine.ImagePredictor(model)
    scores = []
    for image, lab in zip(images, labels, strict=True):
        predictor.set_image(image)
        for obj in np.unique(lab)[1:]:
            dist = ndi.distance_transform_edt(np.pad(lab == obj, 1))[1:-1, 1:-1]
            row, col = np.unravel_index(np.argmax(dist), dist.shape)
            out = predictor.predict(points=[[col, row]], labels=[1])
            mask = out.masks[int(np.argmax(out.scores))]
            gt = lab == obj
            scores.append((mask & gt).sum() / (mask | gt).sum())
    assert np.mean(scores) > 0.85, scores
