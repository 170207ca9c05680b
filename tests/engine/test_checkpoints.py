"""Loading and saving checkpoints: official layout, strictness, clear errors."""

from __future__ import annotations

import pytest
import torch

import sam2_engine as se
from sam2_engine import register_model, unregister_model
from sam2_engine.errors import CheckpointError, CheckpointMismatchError
from sam2_engine.weights.checkpoints import (
    load_checkpoint_file,
    read_metadata,
    save_checkpoint,
)


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("SAM2_ENGINE_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


def _official_file(model: torch.nn.Module, path) -> None:
    torch.save({"model": model.state_dict()}, path)


def test_list_models_has_every_official_size_and_the_test_configs(cache):
    names = se.list_models()
    for size in ("tiny", "small", "base_plus", "large"):
        assert f"sam2.1_hiera_{size}" in names
        assert f"sam2_hiera_{size}" in names
    assert {"test_tiny", "test_small"} <= set(names)


def test_official_layout_file_loads_unchanged(tmp_path):
    src = se.build_model("test_tiny", device="cpu")
    with torch.no_grad():
        src.no_mem_embed.add_(1.0)
    path = tmp_path / "official.pt"
    _official_file(src, path)
    loaded = se.build_model("test_tiny", checkpoint=path, device="cpu")
    for (k, a), (_, b) in zip(src.state_dict().items(), loaded.state_dict().items(), strict=True):
        assert torch.equal(a, b), k
    assert not loaded.training


def test_saved_file_keeps_metadata_and_rebuilds_from_its_path(tmp_path):
    model = se.build_model("test_small", device="cpu")
    path = save_checkpoint(model, tmp_path / "ft.pt", {"base_model": "test_small", "steps": 3})
    meta = read_metadata(path)
    assert meta["base_model"] == "test_small" and meta["config"]["image_size"] == 256
    rebuilt = se.build_model(str(path), device="cpu")
    assert rebuilt.cfg.trunk.embed_dim == 16
    assert torch.equal(rebuilt.no_mem_embed, model.no_mem_embed)
    assert not list(tmp_path.glob(".*.tmp")), "atomic write left a temporary file"


def test_checkpoint_of_another_size_names_the_config_that_fits(tmp_path):
    path = tmp_path / "small.pt"
    _official_file(se.build_model("test_small", device="cpu"), path)
    with pytest.raises(CheckpointMismatchError, match="fits the config 'test_small'") as err:
        se.build_model("test_tiny", checkpoint=path)
    assert "another shape" in str(err.value)


def test_foreign_state_dict_lists_what_is_missing(tmp_path):
    path = tmp_path / "foreign.pt"
    torch.save({"model": {"encoder.weight": torch.zeros(3, 3)}}, path)
    with pytest.raises(CheckpointMismatchError, match=r"missing .*unexpected"):
        se.build_model("test_tiny", checkpoint=path)


@pytest.mark.parametrize(
    "content, message",
    [
        (b"", "empty"),
        (b"this is not a checkpoint", "truncated, corrupt"),
    ],
)
def test_corrupt_files_raise_checkpoint_error(tmp_path, content, message):
    path = tmp_path / "bad.pt"
    path.write_bytes(content)
    with pytest.raises(CheckpointError, match=message):
        se.build_model("test_tiny", checkpoint=path)


def test_truncated_file_raises_checkpoint_error(tmp_path):
    good = tmp_path / "good.pt"
    _official_file(se.build_model("test_tiny", device="cpu"), good)
    data = good.read_bytes()
    bad = tmp_path / "truncated.pt"
    bad.write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match="truncated"):
        load_checkpoint_file(bad)


def test_missing_file(tmp_path):
    with pytest.raises(CheckpointError, match="does not exist"):
        se.build_model("test_tiny", checkpoint=tmp_path / "nope.pt")


def test_pickled_code_is_never_executed(tmp_path):
    class Evil:
        def __reduce__(self):
            return (exec, ("raise SystemExit('pwned')",))

    path = tmp_path / "evil.pt"
    torch.save({"model": {"x": Evil()}}, path)
    with pytest.raises(CheckpointError):
        load_checkpoint_file(path)


def test_unknown_name_lists_the_known_ones():
    with pytest.raises(ValueError, match=r"sam2\.1_hiera_tiny"):
        se.build_model("sam3_hiera_giant")


def test_official_name_offline_says_where_to_put_the_file(cache, monkeypatch):
    from sam2_engine.weights import download

    entry = download.OFFICIAL_CHECKPOINTS["sam2.1_hiera_tiny"]
    broken = download.OfficialCheckpoint(
        entry.name, entry.filename, "http://127.0.0.1:9/unreachable.pt", entry.sha256, entry.size
    )
    monkeypatch.setitem(download.OFFICIAL_CHECKPOINTS, "sam2.1_hiera_tiny", broken)
    with pytest.raises(CheckpointError, match=str(cache)):
        se.build_model("sam2.1_hiera_tiny")
    assert not cache.exists() or not any(cache.iterdir())


def test_random_weights_on_request_never_download(cache):
    model = se.build_model("sam2.1_hiera_tiny", checkpoint=False, device="cpu", image_size=256)
    assert model.image_size == 256 and model.cfg.name == "sam2.1_hiera_tiny"


def test_image_size_override_keeps_weights_loadable(tmp_path):
    path = tmp_path / "tiny.pt"
    _official_file(se.build_model("test_small", device="cpu"), path)
    model = se.build_model("test_small", checkpoint=path, image_size=128, device="cpu")
    feats = model.encode_image(torch.zeros(1, 3, 128, 128))
    assert feats.embed.shape[-2:] == (8, 8)
    with pytest.raises(ValueError, match="multiple of 32"):
        se.build_model("test_small", image_size=100)


def test_unavailable_device_is_refused():
    with pytest.raises(ValueError, match=r"not available|unknown device"):
        se.build_model("test_tiny", device="cuda:7" if torch.cuda.is_available() else "cuda")


def test_registered_local_model_is_listed_and_buildable(cache, tmp_path):
    path = save_checkpoint(se.build_model("test_tiny", device="cpu"), tmp_path / "mine.pt")
    register_model("my_nuclei", path)
    assert "my_nuclei" in se.list_models()
    assert se.build_model("my_nuclei", device="cpu").cfg.image_size == 128
    unregister_model("my_nuclei")
    assert "my_nuclei" not in se.list_models()
    with pytest.raises(ValueError, match="built-in"):
        register_model("test_tiny", path)
