"""The on-disk embedding cache: hits, invalidation on changed data or model, corrupt and
half-written entries, the size limit."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import sam2_engine as se
from sam2_engine.embedding_cache import EmbeddingCache


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return se.build_model("test_tiny", device="cpu")


def _image(seed=0):
    return np.random.default_rng(seed).integers(0, 4000, (90, 120)).astype(np.uint16)


def _features(pred):
    return pred.features.embed.clone()


def test_a_reopened_image_is_read_not_encoded(model, tmp_path, monkeypatch):
    cache = EmbeddingCache(tmp_path)
    first = se.ImagePredictor(model, embedding_cache=cache)
    first.set_image(_image())
    assert (cache.hits, cache.misses) == (0, 1)
    calls = []
    monkeypatch.setattr(model, "encode_image", lambda *a: calls.append(1))
    second = se.ImagePredictor(model, embedding_cache=cache)
    second.set_image(_image())
    assert cache.hits == 1 and not calls
    torch.testing.assert_close(_features(second), _features(first), rtol=0, atol=0)
    assert second.original_sizes == [(90, 120)]
    a = first.predict(points=[[50, 40]], labels=[1])
    b = second.predict(points=[[50, 40]], labels=[1])
    np.testing.assert_array_equal(a.masks, b.masks)


def test_changed_data_settings_or_weights_miss(model, tmp_path):
    cache = EmbeddingCache(tmp_path)
    pred = se.ImagePredictor(model, embedding_cache=cache)
    pred.set_image(_image())
    changed = _image()
    changed[3, 4] += 1  # one pixel
    pred.set_image(changed)
    pred.set_image(_image(), normalization=se.Normalization("minmax"))
    other = se.build_model("test_tiny", device="cpu")
    with torch.no_grad():
        next(other.parameters()).add_(1e-3)
    se.ImagePredictor(other, embedding_cache=cache).set_image(_image())
    assert (cache.hits, cache.misses) == (0, 4)


def test_a_corrupt_entry_is_rebuilt(model, tmp_path):
    cache = EmbeddingCache(tmp_path)
    pred = se.ImagePredictor(model, embedding_cache=cache)
    pred.set_image(_image())
    good = _features(pred)
    (entry,) = list(tmp_path.glob("??/*.zarr"))
    chunk = max(
        (f for f in (entry / "embed").rglob("*") if f.is_file()), key=lambda f: f.stat().st_size
    )
    data = bytearray(chunk.read_bytes())
    data[len(data) // 2] ^= 0xFF
    chunk.write_bytes(bytes(data))
    pred.set_image(_image())
    assert cache.rebuilt == 1 and cache.hits == 0
    torch.testing.assert_close(_features(pred), good, rtol=0, atol=0)
    pred.set_image(_image())
    assert cache.hits == 1, "the rebuilt entry is used again"


def test_half_written_entries_are_invisible_and_the_limit_holds(model, tmp_path):
    cache = EmbeddingCache(tmp_path)
    pred = se.ImagePredictor(model, embedding_cache=cache)
    pred.set_image(_image(0))
    size = cache.nbytes()
    (tmp_path / "ab").mkdir(exist_ok=True)
    (tmp_path / "ab" / ".tmp-deadbeef.zarr").mkdir()  # a writer that died
    assert len(cache._entries()) == 1
    small = EmbeddingCache(tmp_path, max_bytes=int(size * 2.5))
    pred = se.ImagePredictor(model, embedding_cache=small)
    for seed in (1, 2, 3):
        pred.set_image(_image(seed))
    assert small.nbytes() <= small.max_bytes and len(small._entries()) == 2
    pred.set_image(_image(3))
    assert small.hits == 1, "the most recent entries are kept"
