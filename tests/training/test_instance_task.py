"""The instance head's training task: targets, tiles, determinism."""

from __future__ import annotations

import numpy as np
import torch

import sam2_synthetic as syn
from sam2_training.config import InstanceTaskConfig
from sam2_training.instance_task import (
    FieldTiles,
    boundary_distance,
    instance_loss,
    median_diameter,
)
from sam2_training.object_match import object_f1
from sam2_training.sources import ArrayStack, Segment


def test_boundary_distance_is_one_at_each_centre_and_zero_outside():
    labels = np.zeros((30, 50), np.int32)
    labels[5:16, 5:16] = 1
    labels[5:16, 16:27] = 2  # touching
    dist = boundary_distance(labels)
    assert dist[labels == 0].max() == 0
    assert np.isclose(dist[labels == 1].max(), 1) and np.isclose(dist[labels == 2].max(), 1)
    assert dist[10, 15] < 0.3 and dist[10, 16] < 0.3  # low along the shared border


def test_median_diameter_of_discs():
    yy, xx = np.mgrid[:100, :100]
    labels = ((yy - 50) ** 2 + (xx - 50) ** 2 <= 10**2).astype(np.int32)
    assert abs(median_diameter(labels) - 20) < 1.5
    assert median_diameter(np.zeros((5, 5), np.int32)) is None


def _tiles(seed=0):
    field = syn.microscopy_image((160, 160), seed=5, modality="nuclear")
    stack = ArrayStack(field.image[None], field.labels[None], None, "field")
    return FieldTiles(
        [stack], [Segment(0, 0, 1)], InstanceTaskConfig(tile=96), 24.0, [1, 99.8], seed
    )


def test_tiles_are_seeded_by_step_and_scaled_to_the_head_diameter():
    a, b = _tiles(), _tiles()
    x1, fg1, _ = a.batch(3)
    x2, fg2, _ = b.batch(3)
    assert torch.equal(x1, x2) and torch.equal(fg1, fg2)
    assert x1.shape == (2, 3, 96, 96) and fg1.shape == (2, 96, 96)
    assert not torch.equal(a.batch(4)[1], fg1)
    sizes = [median_diameter(_components(f.numpy())) for f in fg1 if f.any()]
    assert sizes and all(8 < s < 60 for s in sizes if s)


def _components(mask):
    from scipy import ndimage as ndi

    return ndi.label(mask)[0]


def test_instance_loss_falls_when_the_maps_match():
    fg = torch.zeros(1, 32, 32)
    fg[:, 8:24, 8:24] = 1
    dist = fg * 0.5
    good = torch.stack([(fg * 2 - 1) * 10, torch.logit(dist.clamp(1e-3, 1 - 1e-3))], 1)
    bad = -good
    assert instance_loss(good, fg, dist) < instance_loss(bad, fg, dist)


def test_object_f1_matches_objects_one_to_one():
    truth = np.zeros((20, 30), np.int32)
    truth[2:8, 2:8], truth[10:18, 10:18] = 1, 2
    assert object_f1(truth, truth) == 1.0
    shifted = np.roll(truth, 1, axis=1) * 7  # other ids, small shift: still matched
    assert object_f1(shifted, truth) == 1.0
    one = np.where(truth == 1, 5, 0)
    assert object_f1(one, truth) == 2 / 3  # 1 match, 1 predicted, 2 true
    assert object_f1(np.zeros_like(truth), np.zeros_like(truth)) == 1.0
    assert object_f1(np.zeros_like(truth), truth) == 0.0


def test_a_run_trains_and_validates_the_instance_head(images_2d, tmp_path):
    import csv

    import sam2_engine
    import sam2_training as st

    torch.manual_seed(0)
    before = {
        k: v.clone()
        for k, v in sam2_engine.build_model("conv_micro", checkpoint=False)
        .instance_head.state_dict()
        .items()
    }
    result = st.finetune(
        [d.image for d in images_2d[:2]],
        [d.labels for d in images_2d[:2]],
        "conv_micro",
        output=tmp_path / "run",
        max_steps=2,
        batch_size=1,
        overrides={
            "model.checkpoint": "random",
            "trainer.tensorboard": False,
            "trainer.val_every": 2,
            "trainer.log_every": 1,
            "trainer.val_max_samples": 2,
            "instance.batch_size": 1,
            "instance.tile": 128,
            "optim.lr": 1e-3,
        },
        val_images=images_2d[2].image,
        val_labels=images_2d[2].labels,
        return_result=True,
    )
    with (result.run_folder / "metrics.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    assert all(float(r["loss_instance"]) > 0 for r in rows if r["loss"])
    f1 = [float(r["val_instance_f1"]) for r in rows if r["val_instance_f1"]]
    assert len(f1) == 1 and 0.0 <= f1[0] <= 1.0
    after = sam2_engine.build_model(result.checkpoint).instance_head.state_dict()
    assert any(not torch.equal(before[k], after[k]) for k in before)
