"""Which model the front ends start with: an official file on disk, else the bundled one."""

from __future__ import annotations

import sam2_engine as se
from sam2_engine.weights import local as local_weights


def test_default_model_prefers_an_official_file_on_disk_then_the_bundled_model(
    tmp_path, monkeypatch
):
    monkeypatch.setenv("SAM2_ENGINE_CACHE", str(tmp_path / "cache"))
    bundled = tmp_path / "bundled"
    bundled.mkdir()
    monkeypatch.setattr(local_weights, "BUNDLED_DIR", bundled)
    assert se.default_model_name() == "sam2.1_hiera_tiny", "nothing at all: download Hiera-T"
    model = se.build_model("test_tiny", checkpoint=False)
    se.save_checkpoint(model, bundled / "other.pt")
    assert se.default_model_name() == "other"
    se.save_checkpoint(model, bundled / "microscopy.pt")
    assert se.default_model_name() == "microscopy", "the microscopy model before others"
    (tmp_path / "cache").mkdir()
    (tmp_path / "cache" / "sam2.1_hiera_small.pt").write_bytes(b"weights")
    assert se.default_model_name() == "sam2.1_hiera_small", "an official file on disk wins"
