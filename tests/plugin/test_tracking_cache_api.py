"""track_cells(cache=...) and the Track cells tab use the on-disk embedding cache: the
second run on the same movie encodes nothing."""

from __future__ import annotations

from sam2_cells import TrackerSettings
from sam2_synthetic import microscopy_timelapse
from tests.cells.test_tracking_cache import recording_caches


def test_tracking_the_same_movie_again_reads_the_embeddings(tiny_model, tmp_path, monkeypatch):
    from napari_sam2 import api

    made = recording_caches(monkeypatch)
    movie = microscopy_timelapse(5, (96, 96), seed=8, modality="nuclear", n_cells=6).movie
    # a wide reach makes most links ambiguous, so the SAM 2 cue runs on most frames
    settings = TrackerSettings(detection="classical", sam2_cue=True, max_speed=4.0)
    runs = [
        api.track_cells(movie, model=tiny_model, settings=settings, cache=tmp_path)
        for _ in range(2)
    ]
    assert [r.frames_done for r in runs] == [5, 5]
    assert len(made) == 2 and made[0].misses > 0 and made[0].hits == 0
    assert made[1].misses == 0 and made[1].hits == made[0].misses
