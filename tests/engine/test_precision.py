"""Inference precision and the CUDA path.

The CPU tests run everywhere. The CUDA tests are skipped without a GPU (CI has none);
they were run on an H100/H200 while developing (see docs/engine.md, "Precision").
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

import sam2_engine as se
from sam2_engine.device import autocast_dtype
from sam2_synthetic import fluorescence_image, natural_rgb_image, nuclei_timelapse

cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")


def _twin(name: str, device: str, precision: str = "auto", seed: int = 0) -> se.SAM2Model:
    """The same perturbed random weights on any device (object head biased to 'present')."""
    torch.manual_seed(seed)
    model = se.build_model(name, checkpoint=False, device="cpu", precision=precision)
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn(p.shape, generator=gen) * 0.05)
        model.sam_mask_decoder.pred_obj_score_head.layers[-1].bias += 5.0
    return model.to(device)


def _agreement(a: np.ndarray, b: np.ndarray) -> float:
    return float((a == b).mean())


def test_unknown_precision_is_refused_before_anything_is_built():
    with pytest.raises(ValueError, match=r"unknown precision 'half'.*auto"):
        se.build_model("test_tiny", device="cpu", precision="half")


def test_auto_means_float32_on_cpu_and_bfloat16_on_cuda():
    assert autocast_dtype(torch.device("cpu")) is None
    assert autocast_dtype(torch.device("cpu"), "bfloat16") is torch.bfloat16
    assert autocast_dtype(torch.device("cpu"), "float32") is None
    if torch.cuda.is_available() and torch.cuda.is_bf16_supported():
        assert autocast_dtype(torch.device("cuda")) is torch.bfloat16


def test_bfloat16_on_cpu_is_close_to_float32_for_images_and_video():
    data = fluorescence_image((128, 128), 6, seed=3)
    fp32, bf16 = _twin("test_tiny", "cpu"), _twin("test_tiny", "cpu", "bfloat16")
    masks = []
    for model in (fp32, bf16):
        pred = se.ImagePredictor(model)
        pred.set_image(data.image)
        masks.append(pred.predict(points=[[64, 60]], labels=[1], multimask=False).mask)
    assert masks[0].any()
    assert _agreement(*masks) > 0.97

    movie = nuclei_timelapse(n_frames=5, shape=(96, 96), n_nuclei=4, seed=1).movie
    tracked = []
    for model in (fp32, bf16):
        session = se.VideoPredictor(model).start(movie)
        session.add_points(0, 1, [[40, 40]], [1])
        session.add_points(2, 2, [[60, 50]], [1])  # a later frame, then a reverse pass
        fwd = [out.masks for out in session.propagate(start=0)]
        bwd = [out.masks for out in session.propagate(start=4, direction="backward")]
        tracked.append(np.stack(fwd + bwd))
    assert tracked[0].shape == (10, 2, 96, 96)
    assert _agreement(*tracked) > 0.95


@cuda
@pytest.mark.parametrize("kind", ["uint16 fluorescence", "uint8 RGB"])
def test_cuda_float32_matches_the_cpu(kind):
    if kind == "uint8 RGB":  # scaled on the GPU, not by to_rgb on the CPU
        image = natural_rgb_image((300, 240), seed=4)
    else:
        image = fluorescence_image((256, 256), 12, seed=4).image
    results = []
    for device in ("cpu", "cuda"):
        pred = se.ImagePredictor(_twin("test_small", device, "float32"))
        pred.set_image(image)
        results.append(pred.predict(points=[[120, 130]], labels=[1]))
    cpu, gpu = results
    scale = np.abs(cpu.logits).max()
    assert np.abs(cpu.logits - gpu.logits).max() / scale < 5e-3  # cuDNN may use TF32
    assert _agreement(cpu.masks, gpu.masks) > 0.995
    np.testing.assert_allclose(cpu.scores, gpu.scores, atol=5e-3)


@cuda
def test_cuda_bfloat16_tracking_follows_the_cpu_result():
    movie = nuclei_timelapse(n_frames=6, shape=(256, 256), n_nuclei=8, seed=5).movie
    tracked = []
    for device, precision in (("cpu", "float32"), ("cuda", "auto")):
        session = se.VideoPredictor(_twin("test_small", device, precision)).start(movie)
        session.add_points(0, 1, [[100, 100]], [1])
        session.add_box(0, 2, [60, 140, 120, 200])
        session.add_points(3, 3, [[180, 70]], [1])
        fwd = [out.masks for out in session.propagate(start=0)]
        bwd = [out.masks for out in session.propagate(start=5, direction="backward")]
        assert session.memory_bytes() > 0
        tracked.append(np.stack(fwd + bwd))
    assert tracked[0].shape == tracked[1].shape == (12, 3, 256, 256)
    assert tracked[0].any()
    assert _agreement(*tracked) > 0.97


@cuda
def test_cuda_automatic_masks_and_image_batches():
    data = fluorescence_image((256, 256), 10, seed=6)
    model = _twin("test_small", "cuda")
    labels = se.AutomaticMaskGenerator(model, points_per_side=8).generate_labels(data.image)
    assert labels.shape == (256, 256) and labels.dtype.kind in "iu"
    pred = se.ImagePredictor(model)
    pred.set_images([data.image, data.image[::-1].copy()])
    flipped = [pred.predict(points=[[50, 60]], labels=[1], image_index=i) for i in (0, 1)]
    assert flipped[0].masks.shape == flipped[1].masks.shape == (3, 256, 256)
    boxes = pred.predict_boxes([[20, 20, 90, 90], [100, 120, 180, 200]])
    assert boxes.masks.shape[0] == 2


@cuda
def test_cuda_fine_tuning_writes_a_model_the_predictors_load(tmp_path):
    import sam2_training as st

    data = [fluorescence_image((128, 128), 5, seed=s) for s in range(4)]
    path = st.finetune(
        [d.image for d in data],
        [d.labels for d in data],
        "test_tiny",
        output=tmp_path / "run",
        max_steps=4,
        base_checkpoint="random",
        batch_size=2,
        device="cuda",
    )
    model = se.build_model(str(path), device="cuda")
    pred = se.ImagePredictor(model)
    pred.set_image(data[0].image)
    assert pred.predict(points=[[64, 64]], labels=[1]).masks.shape == (3, 128, 128)
