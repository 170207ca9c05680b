"""Shared data of the sam2_cells tests: small generated sequences with known lineage."""

from __future__ import annotations

import numpy as np
import pytest

from sam2_cells import TrackRecord
from sam2_synthetic import SyntheticTimelapse, nuclei_timelapse


@pytest.fixture(scope="session")
def sequence() -> SyntheticTimelapse:
    """16 frames of 96x96 with 5 nuclei and at least two divisions."""
    data = nuclei_timelapse(n_frames=16, shape=(96, 96), n_nuclei=5, seed=4, division_rate=1 / 12)
    assert data.n_divisions >= 2
    return data


@pytest.fixture()
def tiny() -> tuple[np.ndarray, list[TrackRecord]]:
    """A hand-made (6, 8, 8) stack: track 1 divides into 2 and 3 after frame 2; track 4
    runs through all frames."""
    labels = np.zeros((6, 8, 8), dtype=np.int32)
    labels[0:3, 1:3, 1:3] = 1
    labels[3:6, 1:3, 0:2] = 2
    labels[3:6, 1:3, 3:5] = 3
    labels[:, 5:7, 5:7] = 4
    tracks = [
        TrackRecord(1, 0, 2, 0),
        TrackRecord(2, 3, 5, 1),
        TrackRecord(3, 3, 5, 1),
        TrackRecord(4, 0, 5, 0),
    ]
    return labels, tracks


@pytest.fixture(scope="session")
def tiny_model():
    """A tiny SAM 2 model with random weights (fast; for plumbing, not quality)."""
    import sam2_engine as se

    return se.build_model("test_tiny", device="cpu")
