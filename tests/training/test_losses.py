"""Loss definitions: normalisations, perfect predictions, the best-of-multimask rule."""

from __future__ import annotations

import pytest
import torch

from sam2_training.config import LossConfig
from sam2_training.losses import (
    best_candidate,
    dice_loss,
    iou_prediction_loss,
    mask_iou,
    object_score_loss,
    sigmoid_focal_loss,
    step_loss,
)


def _disk(size: int = 32, radius: float = 8.0, shift: int = 0) -> torch.Tensor:
    yy, xx = torch.meshgrid(torch.arange(size), torch.arange(size), indexing="ij")
    return ((yy - size / 2) ** 2 + (xx - size / 2 - shift) ** 2) < radius**2


def test_perfect_prediction_gives_near_zero_focal_and_dice():
    gt = _disk()[None, None].float()
    logits = (gt * 2 - 1) * 30  # confidently right everywhere
    assert sigmoid_focal_loss(logits, gt).item() < 1e-10
    assert dice_loss(logits, gt).item() < 1e-6
    assert mask_iou(logits, gt).item() == 1.0


def test_wrong_prediction_costs_more_than_a_right_one():
    gt = _disk()[None, None].float()
    right, wrong = (gt * 2 - 1) * 5, (1 - 2 * gt) * 5
    assert sigmoid_focal_loss(wrong, gt) > 100 * sigmoid_focal_loss(right, gt)
    assert dice_loss(wrong, gt).item() > 0.99


def test_focal_loss_matches_its_definition():
    torch.manual_seed(0)
    logits = torch.randn(2, 3, 8, 8)
    targets = (torch.rand(2, 3, 8, 8) > 0.5).float()
    p = logits.sigmoid()
    ce = -(targets * p.log() + (1 - targets) * (1 - p).log())
    p_t = p * targets + (1 - p) * (1 - targets)
    alpha_t = 0.25 * targets + 0.75 * (1 - targets)
    expected = (alpha_t * ce * (1 - p_t) ** 2).mean(dim=(2, 3))
    torch.testing.assert_close(sigmoid_focal_loss(logits, targets, 0.25, 2.0), expected)
    # gamma 0 and no alpha: plain binary cross-entropy
    torch.testing.assert_close(sigmoid_focal_loss(logits, targets, -1, 0.0), ce.mean(dim=(2, 3)))


def test_dice_uses_plus_one_smoothing():
    empty = torch.full((1, 1, 4, 4), -50.0)
    assert dice_loss(empty, torch.zeros(1, 1, 4, 4)).item() == pytest.approx(0.0, abs=1e-6)
    logits = torch.zeros(1, 1, 2, 2)  # p = 0.5 everywhere
    gt = torch.tensor([[[[1.0, 0.0], [0.0, 0.0]]]])
    assert dice_loss(logits, gt).item() == pytest.approx(1 - (2 * 0.5 + 1) / (2.0 + 1 + 1))


def test_iou_target_and_l1_or_mse():
    gt = torch.zeros(1, 1, 4, 4)
    gt[..., :2, :] = 1  # 8 pixels
    logits = torch.full((1, 1, 4, 4), -5.0)
    logits[..., :1, :] = 5  # 4 of them predicted
    assert mask_iou(logits, gt).item() == pytest.approx(0.5)
    pred = torch.tensor([[0.8]])
    assert iou_prediction_loss(pred, logits, gt, l1=True).item() == pytest.approx(0.3)
    assert iou_prediction_loss(pred, logits, gt, l1=False).item() == pytest.approx(0.09)


def test_object_score_loss_is_bce():
    logits = torch.tensor([[2.0], [-1.0]])
    present = torch.tensor([[1.0], [0.0]])
    expected = torch.nn.functional.softplus(torch.tensor([-2.0, -1.0]))
    torch.testing.assert_close(object_score_loss(logits, present), expected)


def test_best_of_multimask_gets_the_mask_gradient_only():
    gt = _disk()[None, None]
    good = (gt.float() * 2 - 1) * 10
    bad = torch.full_like(good, -10.0)
    logits = torch.cat([bad, good, bad.clone()], dim=1).requires_grad_(True)
    cfg = LossConfig(iou=0.0, object=0.0)  # only focal + dice
    terms = step_loss(logits, torch.full((1, 3), 0.5), torch.tensor([[5.0]]), gt, 1.0, cfg)
    terms.total.backward()
    grads = logits.grad.abs().flatten(2).sum(-1)[0]
    assert grads[1] > 0 and grads[0] == 0 and grads[2] == 0
    focal = sigmoid_focal_loss(logits.detach(), gt.float().expand(1, 3, -1, -1))
    dice = dice_loss(logits.detach(), gt.float().expand(1, 3, -1, -1))
    assert best_candidate(focal, dice, cfg).item() == 1
    assert terms.mask.item() == pytest.approx(focal[0, 1].item())


def test_iou_loss_on_all_candidates_or_only_the_best():
    gt = _disk()[None, None]
    good = (gt.float() * 2 - 1) * 10
    logits = torch.cat([torch.full_like(good, -10.0), good], dim=1)
    pred_iou = torch.tensor([[0.5, 0.5]])  # real IoUs: 0 and 1
    score = torch.tensor([[5.0]])
    all_iou = step_loss(logits, pred_iou, score, gt, 1.0, LossConfig(supervise_all_iou=True))
    best_iou = step_loss(logits, pred_iou, score, gt, 1.0, LossConfig(supervise_all_iou=False))
    assert all_iou.iou.item() == pytest.approx(0.5)  # mean of |0.5 - 0| and |0.5 - 1|
    assert best_iou.iou.item() == pytest.approx(0.5)
    pred_iou = torch.tensor([[0.0, 0.9]])
    best_iou = step_loss(logits, pred_iou, score, gt, 1.0, LossConfig(supervise_all_iou=False))
    all_iou = step_loss(logits, pred_iou, score, gt, 1.0, LossConfig(supervise_all_iou=True))
    assert best_iou.iou.item() == pytest.approx(0.1)
    assert all_iou.iou.item() == pytest.approx(0.05)


def test_absent_objects_train_only_the_presence_score():
    gt = torch.zeros(2, 1, 16, 16, dtype=torch.bool)
    gt[0, 0, 4:8, 4:8] = True  # object 0 present, object 1 absent
    logits = torch.zeros(2, 1, 16, 16, requires_grad=True)
    score = torch.zeros(2, 1, requires_grad=True)
    terms = step_loss(logits, torch.full((2, 1), 0.5), score, gt, 1.0, LossConfig())
    terms.total.backward()
    assert logits.grad[0].abs().sum() > 0
    assert logits.grad[1].abs().sum() == 0  # no mask loss where the object is absent
    assert (score.grad != 0).all()


def test_terms_are_divided_by_the_number_of_objects_and_weighted():
    gt = _disk()[None, None].expand(2, 1, -1, -1)
    logits = torch.zeros(2, 3, 32, 32)
    pred_iou, score = torch.full((2, 3), 0.3), torch.zeros(2, 1)
    one = step_loss(logits, pred_iou, score, gt, 1.0, LossConfig())
    four = step_loss(logits, pred_iou, score, gt, 4.0, LossConfig())
    assert four.dice.item() == pytest.approx(one.dice.item() / 4)
    expected = 20 * one.mask + one.dice + one.iou + one.object  # default weights 20/1/1/1
    assert one.total.item() == pytest.approx(expected.item())
    custom = step_loss(
        logits, pred_iou, score, gt, 1.0, LossConfig(mask=2, dice=3, iou=0.5, object=0)
    )
    expected = 2 * custom.mask + 3 * custom.dice + 0.5 * custom.iou
    assert custom.total.item() == pytest.approx(expected.item())
    assert one.components().shape == (4,)


def test_checkpointed_full_resolution_loss_gives_the_same_gradients():
    import sam2_engine
    from sam2_training.config import PromptConfig
    from sam2_training.prompt_simulation import PromptPlan
    from sam2_training.rollout import clip_loss, run_clip

    torch.manual_seed(0)
    model = sam2_engine.build_model("test_tiny", checkpoint=False).train()
    images = torch.randn(2, 3, 128, 128)
    masks = torch.zeros(2, 2, 128, 128, dtype=torch.bool)
    masks[0, :, 20:50, 30:60] = True
    masks[1, :, 70:110, 60:90] = True
    plan = PromptPlan("point", [0], [0], 2, [[False, True]], num_frames=2)
    grads = []
    for checkpoint in (False, True):
        model.zero_grad()
        torch.manual_seed(1)
        preds = run_clip(
            model, images, masks, plan, PromptConfig(), torch.Generator().manual_seed(0)
        )
        loss = clip_loss(model, preds, masks, 2.0, LossConfig(), checkpoint=checkpoint)
        loss.total.backward()
        grads.append({n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None})
    assert grads[0].keys() == grads[1].keys()
    for name in grads[0]:
        torch.testing.assert_close(grads[0][name], grads[1][name], msg=name)
