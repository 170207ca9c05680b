"""``napari-sam2 segment --cache DIR``: the embeddings of a batch run go to an on-disk
cache, and running again (other outputs, other generator settings) skips the encoder."""

from __future__ import annotations

import numpy as np
import tifffile

import sam2_batch as sb
from sam2_batch.cli import _parser, _settings
from sam2_engine.model.sam2 import SAM2Model
from tests.batch.conftest import blobs


def test_cache_flag_reaches_the_settings(tmp_path):
    args = ["segment", "x.tif", "--out", str(tmp_path), "--model", "test_tiny", "--device",
            "cpu", "--cache", str(tmp_path / "emb")]
    assert _settings(_parser().parse_args(args)).cache == str(tmp_path / "emb")
    assert _settings(_parser().parse_args(args[:-2])).cache is None


def test_a_second_run_reads_the_embeddings_from_the_cache(tmp_path, monkeypatch):
    tifffile.imwrite(tmp_path / "a.tif", blobs(2))
    item = sb.expand_inputs([str(tmp_path / "a.tif")])[0]
    encoded = []
    encode = SAM2Model.encode_image
    monkeypatch.setattr(
        SAM2Model, "encode_image", lambda self, x: encoded.append(1) or encode(self, x)
    )
    model, cache = sb.ModelSpec("test_tiny", False, "cpu"), tmp_path / "emb"

    def run(out: str) -> np.ndarray:
        settings = sb.BatchSettings("segment", str(tmp_path / out), model, points_per_side=4,
                                    cache=str(cache))
        result = sb.run_item(item, settings)
        assert result.status == "done", result.error
        return tifffile.imread(result.outputs[0])

    first, cold = run("one"), len(encoded)
    entries = sorted(p.name for p in cache.rglob("*.zarr"))
    assert cold >= 2 and len(entries) >= 2  # one or more crops per plane
    again = run("two")
    assert len(encoded) == cold, "the second run encoded again"
    np.testing.assert_array_equal(first, again)
    assert sorted(p.name for p in cache.rglob("*.zarr")) == entries
