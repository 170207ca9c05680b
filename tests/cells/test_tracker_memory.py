"""A long movie costs the tracker no more memory per frame than its cells' bookkeeping:
no frame-sized array is kept (frames are read, detected and written one at a time)."""

from __future__ import annotations

import tracemalloc

import numpy as np

from sam2_cells import CellTracker, TrackerSettings


def drifting_discs(n_frames: int, size: int = 128) -> np.ndarray:
    """Three bright discs of 16 px drifting slowly on a dark, slightly noisy field."""
    rng = np.random.default_rng(0)
    rows, cols = np.mgrid[:size, :size]
    movie = rng.normal(10.0, 1.0, (n_frames, size, size)).astype(np.float32)
    for t in range(n_frames):
        for k, (r, c) in enumerate([(30, 30), (90, 40), (60, 95)]):
            dc = 8 * np.sin(0.1 * t + k)
            movie[t][(rows - r) ** 2 + (cols - c - dc) ** 2 < 64] += 100.0
    return movie


def run_peak(n_frames: int) -> int:
    """Peak bytes the run itself allocates (movie and output allocated before)."""
    movie = drifting_discs(n_frames)
    out = np.zeros(movie.shape, np.int32)
    tracker = CellTracker(None, TrackerSettings(detection="classical", diameter=16.0))
    tracemalloc.start()
    try:
        outcome = tracker.track(movie, None, out)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert len(outcome.tracks) >= 3 and outcome.frames_done == n_frames
    return peak


def test_peak_memory_does_not_grow_by_a_frame_per_frame():
    import laptrack  # noqa: F401  (the linking step's imports are not the run's memory)
    import networkx  # noqa: F401

    run_peak(6)  # warm-up: lazy imports and caches of the first run
    short, long = run_peak(20), run_peak(80)
    frame_bytes = 128 * 128 * 4  # one int32 label frame
    # 60 more frames: keeping any frame-sized array per frame would add >= 60 frames' worth
    assert long - short < 0.25 * 60 * frame_bytes, (short, long)
