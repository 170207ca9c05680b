"""Cell tracking with the on-disk embedding cache: tracking the same movie again reads
the SAM 2 sessions' embeddings from disk (no encoder call), a changed movie does not."""

from __future__ import annotations

import numpy as np
import pytest
import tifffile

import sam2_engine as se
from sam2_cells import CellTracker, TrackerSettings
from tests.plugin.test_controller_image import count_encodes

FRAMES = 6


@pytest.fixture()
def encodes(tiny_model, monkeypatch):
    """Counts the model's encoder passes."""
    return count_encodes(tiny_model, monkeypatch)


def recording_caches(monkeypatch) -> list[se.EmbeddingCache]:
    """Every ``sam2_engine.EmbeddingCache`` made from now on (to read its hits)."""
    made: list[se.EmbeddingCache] = []

    class Recording(se.EmbeddingCache):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            made.append(self)

    monkeypatch.setattr(se, "EmbeddingCache", Recording)
    return made


def _track(model, movie, cache):
    # a wide reach makes most links ambiguous, so the SAM 2 cue runs on most frames
    settings = TrackerSettings(detection="classical", sam2_cue=True, max_speed=4.0)
    outcome = CellTracker(model, settings, embedding_cache=cache).track(movie)
    return np.asarray(outcome.labels), list(outcome.tracks)


def test_tracking_the_same_movie_again_reads_every_embedding_from_disk(
    tiny_model, sequence, encodes, tmp_path
):
    movie = sequence.movie[:FRAMES]
    cold = se.EmbeddingCache(tmp_path)
    labels, tracks = _track(tiny_model, movie, cold)
    first = len(encodes)
    assert first > 0 and cold.misses == first and cold.hits == 0
    warm = se.EmbeddingCache(tmp_path)
    again, again_tracks = _track(tiny_model, movie, warm)
    assert len(encodes) == first, "no frame is encoded again"
    assert warm.misses == 0 and warm.hits == first
    np.testing.assert_array_equal(again, labels)
    assert again_tracks == tracks


def test_a_changed_movie_is_encoded_again(tiny_model, sequence, encodes, tmp_path):
    movie = sequence.movie[:FRAMES]
    _track(tiny_model, movie, se.EmbeddingCache(tmp_path))
    first = len(encodes)
    changed = movie.copy()
    changed[:, :4, :4] += 7  # a few background pixels of every frame
    cache = se.EmbeddingCache(tmp_path)
    _track(tiny_model, changed, cache)
    assert len(encodes) - first == cache.misses > 0 and cache.hits == 0


def test_the_track_command_takes_the_cache_folder(tiny_model, sequence, tmp_path, monkeypatch):
    from sam2_cli import main  # napari-sam2: through the batch parser to the movie command

    made = recording_caches(monkeypatch)
    monkeypatch.setattr(se, "build_model", lambda *a, **k: tiny_model)
    movie = tmp_path / "movie.tif"
    tifffile.imwrite(movie, sequence.movie[:FRAMES])
    for run in ("a", "b"):
        argv = ["track", str(movie), "--out", str(tmp_path / run), "--detector", "classical"]
        argv += ["--sam2-cue", "--cache", str(tmp_path / "cache"), "--model", "test_tiny"]
        assert main(argv) == 0
    assert len(made) == 2 and made[0].misses > 0
    assert made[1].misses == 0 and made[1].hits == made[0].misses
