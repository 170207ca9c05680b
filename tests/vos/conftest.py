"""Shared fixtures: a small generated DAVIS-layout dataset and a tiny random-weight model."""

from __future__ import annotations

import pytest

from sam2_vos.synthetic import write_moving_shapes

FRAMES = 7


@pytest.fixture(scope="session")
def shapes(tmp_path_factory):
    """Two videos of 7 frames, 48x64, objects 1 and 2 from frame 0, object 3 from frame 2."""
    return write_moving_shapes(
        tmp_path_factory.mktemp("shapes"), videos=2, frames=FRAMES, size=(48, 64), seed=1
    )


@pytest.fixture(scope="session")
def predictor():
    import sam2_engine as se

    model = se.build_model("test_tiny", checkpoint=False, device="cpu")
    return se.VideoPredictor(model, non_overlapping=True)
