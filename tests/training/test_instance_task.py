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
