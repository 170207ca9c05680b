"""Prompt maps: where clicks and boxes are drawn, and that switching them on changes
nothing until they are trained."""

from __future__ import annotations

import torch

import sam2_engine as se
from sam2_engine.model.prompt_maps import render_prompt_maps


def test_clicks_become_spots_and_a_box_a_rectangle():
    points = torch.tensor([[[100.0, 60.0], [10.0, 10.0], [0.0, 0.0]]])
    labels = torch.tensor([[1, 0, -1]])
    maps = render_prompt_maps(points, labels, 64, 256)
    assert maps.shape == (1, 3, 64, 64)
    row, col = divmod(int(maps[0, 0].argmax()), 64)
    assert (row, col) == (15, 25)  # (y, x) / 4
    row, col = divmod(int(maps[0, 1].argmax()), 64)
    assert (row, col) == (2, 2)
    assert maps[0, 2].sum() == 0  # no box
    box = render_prompt_maps(
        torch.tensor([[[40.0, 50.0], [99.0, 119.0]]]), torch.tensor([[2, 3]]), 64, 256
    )
    rows, cols = box[0, 2].nonzero().T
    assert (rows.min(), rows.max(), cols.min(), cols.max()) == (13, 29, 10, 24)
    assert box[0, 0].sum() == 0 and box[0, 1].sum() == 0


def test_fresh_prompt_maps_leave_the_decoder_unchanged():
    cfg = se.load_config("test_tiny")
    torch.manual_seed(0)
    plain = se.SAM2Model(cfg).eval()
    cfg.decoder.prompt_maps = True
    torch.manual_seed(0)
    mapped = se.SAM2Model(cfg).eval()
    missing = mapped.load_state_dict(plain.state_dict(), strict=False).missing_keys
    assert missing and all(k.startswith("prompt_maps.") for k in missing)
    feats = plain.encode_image(torch.randn(1, 3, cfg.image_size, cfg.image_size))
    points, labels = torch.tensor([[[40.0, 30.0]]]), torch.tensor([[1]])
    a = plain.decode(feats.embed, feats.high_res, points, labels, None, True)
    b = mapped.decode(feats.embed, feats.high_res, points, labels, None, True)
    assert torch.equal(a.masks, b.masks)
    with torch.no_grad():
        mapped.prompt_maps.net[-1].weight.normal_()
    c = mapped.decode(feats.embed, feats.high_res, points, labels, None, True)
    assert not torch.equal(a.masks, c.masks)  # once trained, the maps do take part
