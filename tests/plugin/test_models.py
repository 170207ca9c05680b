"""The model list: official, test, fine-tuned and bundled models; refreshed at runtime."""

import pytest

from napari_sam2.core import models
from sam2_engine.weights import local as local_weights


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("SAM2_ENGINE_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


def test_lists_official_and_test_models(cache, tmp_path, monkeypatch):
    monkeypatch.setattr(local_weights, "BUNDLED_DIR", tmp_path / "no_bundled_models")
    choices = {m.name: m for m in models.available_models()}
    assert choices["sam2.1_hiera_tiny"].kind == "official"
    assert not choices["sam2.1_hiera_tiny"].ready, "nothing is downloaded in this cache"
    assert "download" in choices["sam2.1_hiera_tiny"].label
    assert choices["test_tiny"].kind == "test"
    assert models.usable_default_model() == "test_small", "no bundled model, no download"
    assert models.available_devices()[:1] == ["auto"] and "cpu" in models.available_devices()


def test_registered_and_bundled_models_appear_after_a_refresh(
    cache, tmp_path, monkeypatch, tiny_model
):
    from sam2_engine import register_model, save_checkpoint

    path = tmp_path / "finetuned.pt"
    save_checkpoint(tiny_model, path)
    register_model("my_nuclei", path)
    choices = {m.name: m for m in models.available_models()}
    assert choices["my_nuclei"].kind == "local"
    bundled = tmp_path / "_models"
    bundled.mkdir()
    save_checkpoint(tiny_model, bundled / "microscopy.pt")
    monkeypatch.setattr(local_weights, "BUNDLED_DIR", bundled)
    first = models.available_models()[0]
    assert first.kind == "bundled" and first.name == "microscopy", "buildable by name"
    assert models.default_model_name() == first.name
    model = models.load_model(first.name, "cpu")
    assert model is models.load_model(first.name, "cpu"), "loaded once, then shared"
    extra = models.available_models(extra_files=(str(path),))[-1]
    assert extra.kind == "file"
