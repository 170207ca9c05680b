"""The object size estimate: plateaus of found sizes, and fragments told from objects."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import sam2_engine as se
from sam2_engine.automatic.object_size import (
    PROBE_DIAMETERS,
    larger_plateau,
    plateau_scores,
    prefer_larger,
    touching_share,
)


def test_touching_share_counts_objects_against_another():
    labels = np.zeros((20, 20), np.int32)
    labels[2:6, 2:6], labels[2:6, 6:9] = 1, 2  # side by side
    labels[10:14, 10:14] = 3
    labels[14:16, 14:16] = 4  # corner to corner with 3 (8-connected)
    labels[2:4, 15:18] = 5  # alone
    assert touching_share(labels) == pytest.approx(4 / 5)
    assert touching_share(np.zeros((5, 5), np.int32)) == 0.0


def test_plateaus_are_ranked_and_a_larger_one_is_found():
    probes = [6.0, 8.0, 10.0, 14.0, 20.0, 24.0, 30.0]
    found = [8.0, 8.0, 8.0, 11.0, 20.0, 20.0, 20.0]  # fragments at 8, objects at 20
    ranked = plateau_scores(probes, found)
    assert [round(size) for _, size in ranked][:2] == [8, 20]
    assert [score for score, _ in ranked] == sorted(score for score, _ in ranked)
    assert larger_plateau(probes, found, 8.0) == pytest.approx(20.0)
    assert larger_plateau(probes, found, 8.0, jump=3.0) is None
    with pytest.raises(ValueError, match="3 probes but 2 found sizes"):
        plateau_scores([1.0, 2.0, 3.0], [1.0, 2.0])


def _fragments(shape, side=7):
    rows, cols = np.indices(shape)
    return ((rows // side) * (shape[1] // side + 1) + cols // side + 1).astype(np.int32)


def _sparse_discs(shape, diameter=24, spacing=48):
    rows, cols = np.indices(shape)
    labels = np.zeros(shape, np.int32)
    k = 0
    for cy in range(spacing // 2, shape[0], spacing):
        for cx in range(spacing // 2, shape[1], spacing):
            k += 1
            labels[(rows - cy) ** 2 + (cols - cx) ** 2 <= (diameter / 2) ** 2] = k
    return labels


def test_fragments_of_a_sparse_field_lose_to_the_objects(monkeypatch):
    """A head that cuts objects into touching fragments of 8 px at small probes and finds
    the 24 px objects at larger ones: the fragments' plateau is the better-scored one,
    and the check takes the objects' size."""
    torch.manual_seed(0)
    model = se.build_model("conv_micro", checkpoint=False, device="cpu")

    def maps(self, rgb, diameter):
        return np.zeros(rgb.shape[:2], np.float32), np.zeros(rgb.shape[:2], np.float32)

    def labels_from_maps(self, fg, dist, diameter):
        return _fragments(fg.shape) if diameter < 12 else _sparse_discs(fg.shape)

    monkeypatch.setattr(se.InstanceSegmenter, "maps", maps)
    monkeypatch.setattr(se.InstanceSegmenter, "labels_from_maps", labels_from_maps)
    image = np.zeros((600, 600), np.uint8)
    plain = se.InstanceSettings(check_fragments=False)
    assert se.InstanceSegmenter(model, settings=plain).size_of(image) < 9
    assert se.InstanceSegmenter(model).size_of(image) == pytest.approx(24, rel=0.1)
    assert min(PROBE_DIAMETERS) < 8 < 24 < max(PROBE_DIAMETERS)


def test_the_larger_size_needs_objects_that_touch_less():
    fragments = _fragments((96, 96))
    discs = _sparse_discs((96, 96))
    assert prefer_larger(fragments, discs)
    assert not prefer_larger(discs, fragments)
    assert not prefer_larger(fragments, np.zeros((96, 96), np.int32)), "needs two objects"
    assert not prefer_larger(fragments, discs, margin=1.1)
    assert not prefer_larger(fragments, discs, ratio=float("inf"))
