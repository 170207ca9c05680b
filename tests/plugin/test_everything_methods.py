"""Segment everything picks the model's instance head when it has one, and says so."""

from __future__ import annotations

import numpy as np
import pytest
from napari.layers import Image, Labels

import sam2_engine as se


@pytest.fixture(scope="module")
def head_model():
    return se.build_model("conv_micro", checkpoint=False, device="cpu")


def test_instance_head_is_the_default_and_is_reported(
    make_controller, head_model, nuclei_2d, monkeypatch
):
    found = np.zeros(nuclei_2d.image.shape[:2], np.int32)
    found[10:20, 10:20], found[40:50, 40:50] = 1, 2
    calls = []

    def fake_segment(self, image, **kwargs):
        calls.append(self.diameter)
        self.last_diameter = self.diameter or 17.0
        return found

    monkeypatch.setattr(se.InstanceSegmenter, "segment", fake_segment)
    c = make_controller(head_model)
    feature = c.automatic_segmentation
    assert feature.methods() == ["instances", "grid"] and feature.method == "instances"
    c.set_image(Image(nuclei_2d.image))
    painted = np.zeros(found.shape, np.int32)
    painted[0:5, 0:5] = 3
    labels = Labels(painted.copy())
    c.set_labels(labels)
    assert c.segment_everything()
    out = np.asarray(labels.data)
    assert calls == [None]  # diameter estimated
    assert len(set(np.unique(out)) - {0, 3}) == 2 and (out[0:5, 0:5] == 3).all()
    assert "instance head" in feature.describe(2) and "estimated" in feature.describe(2)
    assert c.segment_everything(diameter=12)
    assert calls[-1] == 12 and "given" in feature.describe(2)


def test_models_without_a_head_refuse_the_instance_method(
    make_controller, tiny_model, nuclei_2d, messages
):
    c = make_controller(tiny_model)
    c.set_image(Image(nuclei_2d.image))
    assert c.automatic_segmentation.methods() == ["grid"]
    assert not c.segment_everything(method="instances")
    assert any("cannot segment everything" in m for _, m in messages)
