"""Choosing a model's instance thresholds on generated tuning fields."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import sam2_engine as se
from sam2_engine.automatic.object_size import PROBE_DIAMETERS
from sam2_training.instance_tuning import TUNING_SEED, tune_instance_thresholds, tuning_fields
from sam2_training.quality import HELD_OUT_SEED


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return se.build_model("conv_micro", checkpoint=False, device="cpu")


def test_tuning_fields_are_varied_and_far_from_the_held_out_seeds():
    fields = tuning_fields(4, shape=(96, 96))
    assert abs(TUNING_SEED - HELD_OUT_SEED) >= 100_000
    assert all(f.image.shape[:2] == (96, 96) and np.asarray(f.labels).max() > 0 for f in fields)
    assert len({float(np.asarray(f.image, np.float64).mean()) for f in fields}) == 4


def test_the_best_pair_of_the_grid_is_chosen_and_the_head_runs_once_per_scale(model, monkeypatch):
    fields = tuning_fields(2, shape=(96, 96))
    calls = []
    real = se.InstanceSegmenter.maps

    def counted(self, rgb, diameter):
        calls.append(float(diameter))
        return real(self, rgb, diameter)

    monkeypatch.setattr(se.InstanceSegmenter, "maps", counted)
    result = tune_instance_thresholds(model, fields, foreground=(0.3, 0.6), seed_share=(0.5, 0.8))
    assert len(result.grid) == 4
    assert result.f1 == max(row[2] for row in result.grid)
    assert (result.foreground_threshold, result.seed_threshold, result.f1) in result.grid
    assert result.recommendation() == {
        "foreground_threshold": result.foreground_threshold,
        "seed_threshold": result.seed_threshold,
    }
    # 5 settings (4 pairs + the defaults) on 2 fields, but the maps of one image at one
    # scale are computed once: at most the probes plus a handful of final passes a field
    assert len(calls) <= 2 * (len(PROBE_DIAMETERS) + 5)


def test_a_model_without_an_instance_head_or_without_fields_is_refused(model):
    hiera = se.build_model("sam2.1_hiera_micro", checkpoint=False, device="cpu")
    with pytest.raises(ValueError, match="no instance head"):
        tune_instance_thresholds(hiera, [])
    with pytest.raises(ValueError, match="no tuning field"):
        tune_instance_thresholds(model, [])
