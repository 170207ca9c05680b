"""The SAM 2 cue carries only the detections whose link is ambiguous."""

from __future__ import annotations

import numpy as np

from sam2_cells.evidence import Sam2Cue, ambiguous


def disks(shape: tuple[int, int], centres: list[tuple[int, int]], r: int = 4) -> np.ndarray:
    rows, cols = np.mgrid[: shape[0], : shape[1]]
    out = np.zeros(shape, np.int32)
    for i, (y, x) in enumerate(centres, start=1):
        out[(rows - y) ** 2 + (cols - x) ** 2 <= r * r] = i
    return out


def test_only_detections_with_two_candidates_are_ambiguous():
    before = disks((80, 80), [(10, 10), (60, 60)])
    now = disks((80, 80), [(11, 11), (56, 60), (64, 60)])  # cell 2 may have divided
    assert ambiguous(before, now, reach=1.0) == [2]
    assert ambiguous(before, now, reach=0.2) == []
    assert ambiguous(before, np.zeros_like(now), reach=1.0) == []


def test_the_cue_asks_the_engine_nothing_when_no_link_is_ambiguous():
    class NoModel:  # any engine call would fail on it
        pass

    cue = Sam2Cue(NoModel(), reach=1.0)
    before = disks((80, 80), [(10, 10), (60, 60)])
    now = disks((80, 80), [(11, 11), (61, 60)])
    assert cue.cue(np.zeros((2, 80, 80)), 1, before, now).overlap == {}
    assert cue.carried == 0
