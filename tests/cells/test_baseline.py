"""The classical baseline (benchmarks/baseline_laptrack.py) gives CTC-valid, sane tracks."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest

from sam2_cells import check_lineage, ctc_validate, score_arrays, write_ctc_results
from sam2_synthetic import nuclei_timelapse

# laptrack's pydantic models use deprecated pydantic features
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning:pydantic.*")

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "baseline_laptrack.py"


@pytest.fixture(scope="module")
def baseline():
    spec = importlib.util.spec_from_file_location("baseline_laptrack", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while being built
    try:
        spec.loader.exec_module(module)
        yield module
    finally:
        sys.modules.pop(spec.name, None)


@pytest.fixture(scope="module")
def easy():
    return nuclei_timelapse(
        n_frames=20, shape=(128, 128), n_nuclei=8, seed=21, division_rate=1 / 15
    )


def test_segmentation_finds_each_nucleus_once(baseline, easy):
    labels = baseline.segment_frame(easy.movie[5])
    assert labels.dtype == np.int32 and labels.shape == easy.movie.shape[1:]
    assert labels.max() == len(np.unique(easy.labels[5])) - 1
    assert baseline.segment_frame(np.full((64, 64), 100, np.uint16)).max() == 0


def test_baseline_output_is_ctc_valid_and_tracks_well(tmp_path, baseline, easy):
    assert easy.n_divisions >= 2
    labels, tracks = baseline.track_classical(easy.movie)
    assert labels.shape == easy.labels.shape
    check_lineage(tracks, labels)
    out = write_ctc_results(labels, tracks, tmp_path / "01_RES")
    assert ctc_validate(out) == []
    scores = score_arrays(labels, tracks, easy.labels, easy.tracks)
    assert scores.det > 0.98 and scores.tra > 0.97 and scores.seg > 0.8
    assert scores.bc[1] is not None and scores.bc[1] > 0.5  # most divisions are found
