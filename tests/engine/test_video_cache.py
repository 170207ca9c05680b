"""The on-disk embedding cache in tracking sessions: reopening a time-lapse skips the
encoder, and a changed frame, model or a corrupt entry never gives stale features."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import sam2_engine as se
from sam2_engine.tiled.grid import TilingSettings


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return se.build_model("test_tiny", checkpoint=False, device="cpu")


def _movie(n=5, hw=(64, 80), seed=0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 4000, (n, *hw)).astype(np.uint16)


def _track(model, movie, cache=None, **kwargs) -> list[np.ndarray]:
    session = se.VideoPredictor(model, embedding_cache=cache, **kwargs).start(movie)
    session.add_points(0, 1, [[30, 30]], [1])
    return [r.logits for r in session.propagate(start=0)]


def _same(a: list[np.ndarray], b: list[np.ndarray]) -> bool:
    return len(a) == len(b) and all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))


def test_reopening_a_time_lapse_reads_every_frame_from_disk(model, tmp_path):
    movie = _movie()
    plain = _track(model, movie)
    cold = se.EmbeddingCache(tmp_path)
    assert _same(_track(model, movie, cold), plain), "the cache changes no result"
    assert (cold.misses, cold.hits) == (len(movie), 0)
    warm = se.EmbeddingCache(tmp_path)
    assert _same(_track(model, movie, warm), plain)
    assert (warm.misses, warm.hits) == (0, len(movie)), "no frame is encoded again"


def test_a_changed_frame_or_model_is_encoded_again(model, tmp_path):
    movie = _movie()
    _track(model, movie, se.EmbeddingCache(tmp_path))
    edited = movie.copy()
    edited[3, 10:20, 10:20] = 0
    cache = se.EmbeddingCache(tmp_path)
    assert _same(_track(model, edited, cache), _track(model, edited)), "never stale"
    assert cache.misses >= 1, "the edited frame is not reused"
    other = se.build_model("test_tiny", checkpoint=False, device="cpu")
    with torch.no_grad():
        for p in other.parameters():
            p.add_(0.01)
    fresh = se.EmbeddingCache(tmp_path)
    _track(other, movie, fresh)
    assert fresh.hits == 0 and fresh.misses == len(movie), "other weights, other entries"


def test_a_corrupt_entry_is_rebuilt(model, tmp_path):
    movie = _movie(3)
    plain = _track(model, movie)
    _track(model, movie, se.EmbeddingCache(tmp_path))
    chunks = sorted(p for p in tmp_path.rglob("*") if p.is_file() and "embed" in p.parts)
    victim = next(p for p in chunks if p.stat().st_size > 64)
    data = bytearray(victim.read_bytes())
    data[len(data) // 2] ^= 0xFF
    victim.write_bytes(bytes(data))
    cache = se.EmbeddingCache(tmp_path)
    assert _same(_track(model, movie, cache), plain)
    assert cache.rebuilt == 1 and cache.hits == len(movie) - 1


def test_tiles_of_big_frames_are_cached_too(model, tmp_path):
    movie = _movie(3, hw=(200, 300))
    tiling = TilingSettings("tile", tile=128, halo=32)
    plain = _track(model, movie, tiling=tiling)
    cold = se.EmbeddingCache(tmp_path)
    assert _same(_track(model, movie, cold, tiling=tiling), plain)
    warm = se.EmbeddingCache(tmp_path)
    assert _same(_track(model, movie, warm, tiling=tiling), plain)
    assert warm.misses == 0 and warm.hits == cold.misses > 0


def test_a_frame_embedded_for_clicks_is_read_by_a_tracking_session(model, tmp_path, monkeypatch):
    """One key scheme: the image predictor and a session store a frame under the same key
    (its encoder input), so a frame embedded for clicks is not encoded again to track."""
    movie = _movie(1)
    plain = se.VideoPredictor(model).start(movie).add_points(0, 1, [[30, 30]], [1])
    cache = se.EmbeddingCache(tmp_path)
    session = se.VideoPredictor(model, embedding_cache=cache).start(movie)
    se.ImagePredictor(model, embedding_cache=cache).set_image(session.source.normalized(0))
    assert (cache.hits, cache.misses) == (0, 1)
    calls = []
    monkeypatch.setattr(model, "encode_image", lambda *a: calls.append(1))
    tracked = session.add_points(0, 1, [[30, 30]], [1])
    assert not calls and (cache.hits, cache.misses) == (1, 1), "read, not encoded"
    np.testing.assert_array_equal(tracked.logits, plain.logits)
