"""State dicts move both ways between the reference and our model, for every config."""

from __future__ import annotations

import pytest
import torch

import sam2_engine as se
from sam2_engine.config import builtin_config_names, load_config
from sam2_engine.weights.checkpoints import save_checkpoint, shape_signature
from tests.reference_oracle import build_reference

pytestmark = pytest.mark.reference

from sam2.build_sam import _load_checkpoint  # noqa: E402


def reference_shaped(name: str) -> bool:
    """Configs the reference can express: a Hiera trunk, no parts of our own (the conv
    trunk, the instance head and prompt maps exist only here)."""
    cfg = load_config(name)
    return cfg.trunk.kind == "hiera" and not (cfg.instance_head.enabled or cfg.decoder.prompt_maps)


REFERENCE_SHAPED = [n for n in builtin_config_names() if reference_shaped(n)]


def test_our_own_architectures_are_left_out_of_the_parity_matrix_only():
    assert "conv_micro" not in REFERENCE_SHAPED
    assert {"sam2.1_hiera_tiny", "sam2_hiera_large", "test_small"} <= set(REFERENCE_SHAPED)


@pytest.mark.parametrize("name", REFERENCE_SHAPED)
def test_same_tensor_names_and_shapes_as_the_reference(name):
    """Strict loading depends only on names and shapes: compare them for every config."""
    cfg = load_config(name)
    ref = build_reference(cfg)
    with torch.device("meta"):
        ours = se.SAM2Model(cfg)
    ours_sig, ref_sig = shape_signature(ours), shape_signature(ref)
    assert set(ours_sig) == set(ref_sig)
    free = decoder_widths_free(cfg)
    assert {k: v for k, v in ours_sig.items() if not free(k)} == {
        k: v for k, v in ref_sig.items() if not free(k)
    }


def decoder_widths_free(cfg):
    """Which tensors may differ in shape: the reference fixes the mask decoder's MLP widths
    (2048 and 256), our own configs (the micro model) may narrow them."""
    d = cfg.decoder
    if (d.transformer_mlp_dim, d.iou_head_hidden_dim) == (2048, 256):
        return lambda key: False
    narrowed = ("sam_mask_decoder.transformer.layers.", "sam_mask_decoder.iou_prediction_head.")
    return lambda key: key.startswith(narrowed) and (".mlp." in key or "iou_prediction" in key)


@pytest.mark.parametrize(
    "name", ["test_tiny", "test_small", "sam2.1_hiera_tiny", "sam2_hiera_tiny"]
)
def test_reference_file_loads_into_ours_and_ours_into_the_reference(name, tmp_path):
    cfg = load_config(name)
    torch.manual_seed(0)
    ref = build_reference(cfg)
    official = tmp_path / f"{name}.pt"
    torch.save({"model": ref.state_dict()}, official)
    ours = se.build_model(name, checkpoint=official, device="cpu")
    ref_state, ours_state = ref.state_dict(), ours.state_dict()
    assert set(ref_state) == set(ours_state)
    assert all(torch.equal(ref_state[k], ours_state[k]) for k in ref_state)

    with torch.no_grad():
        for p in ours.parameters():
            p.mul_(0.5)
    saved = save_checkpoint(ours, tmp_path / "ours.pt", {"note": "round trip"})
    back = build_reference(cfg)
    _load_checkpoint(back, str(saved))  # the reference's own strict loader
    back_state = back.state_dict()
    assert all(torch.equal(back_state[k], v) for k, v in ours.state_dict().items())
