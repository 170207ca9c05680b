"""The convolutional trunk and the instance head: shapes, any input size, checkpoints."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import sam2_engine as se


@pytest.fixture(scope="module")
def conv_model():
    torch.manual_seed(0)
    return se.build_model("conv_micro", checkpoint=False, device="cpu")


def test_conv_trunk_gives_hiera_shaped_stages(conv_model):
    trunk = conv_model.image_encoder.trunk
    stages = trunk(torch.randn(2, 3, 256, 256))
    assert [tuple(s.shape) for s in stages] == [
        (2, 32, 64, 64),
        (2, 64, 32, 32),
        (2, 128, 16, 16),
        (2, 256, 8, 8),
    ]
    assert trunk.channel_list == [256, 128, 64, 32]


def test_encode_image_feeds_the_decoder(conv_model):
    feats = conv_model.encode_image(torch.randn(1, 3, 256, 256))
    assert tuple(feats.embed.shape) == (1, 128, 16, 16)
    assert tuple(feats.high_res[0].shape) == (1, 16, 64, 64)
    assert tuple(feats.high_res[1].shape) == (1, 32, 32, 32)


def test_predictor_runs_on_the_conv_model(conv_model):
    pred = se.ImagePredictor(conv_model)
    rng = np.random.default_rng(0)
    pred.set_image(rng.random((80, 96)).astype(np.float32))
    res = pred.predict(points=[[40, 30]], labels=[1])
    assert res.masks.shape[1:] == (80, 96)


def test_instance_maps_any_multiple_of_32(conv_model):
    out = conv_model.instance_maps(torch.randn(1, 3, 96, 160))
    assert tuple(out.shape) == (1, 2, 96, 160)
    with pytest.raises(ValueError, match="multiples of 32"):
        conv_model.instance_maps(torch.randn(1, 3, 100, 160))


def test_hiera_models_have_no_instance_head():
    model = se.build_model("test_tiny", checkpoint=False, device="cpu")
    assert not se.has_instance_head(model)
    with pytest.raises(ValueError, match="no instance head"):
        model.instance_maps(torch.randn(1, 3, 64, 64))
    with pytest.raises(ValueError, match="no instance head"):
        se.InstanceSegmenter(model)


def test_unknown_trunk_kind_is_refused():
    with pytest.raises(ValueError, match=r"trunk\.kind"):
        se.load_config("conv_micro", trunk={"kind": "vit", "stages": [1, 1, 1, 1]})


def test_conv_checkpoint_round_trip(conv_model, tmp_path):
    path = tmp_path / "conv.pt"
    se.save_checkpoint(conv_model, path)
    again = se.build_model(str(path), device="cpu")
    for (name, a), b in zip(
        conv_model.state_dict().items(), again.state_dict().values(), strict=True
    ):
        assert torch.equal(a, b), name
    assert se.has_instance_head(again)


def test_a_half_precision_file_loads_into_a_float32_model(conv_model, tmp_path):
    path = tmp_path / "half.pt"
    se.save_checkpoint(conv_model, path, dtype=torch.float16)
    raw = torch.load(path, weights_only=True)["model"]
    assert all(v.dtype == torch.float16 for v in raw.values() if v.is_floating_point())
    again = se.build_model(str(path), device="cpu")
    for (name, a), b in zip(
        conv_model.state_dict().items(), again.state_dict().values(), strict=True
    ):
        assert b.dtype == torch.float32, name
        torch.testing.assert_close(b, a.half().float())
