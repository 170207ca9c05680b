"""Object-centred training windows, "no object" clicks and generated training data."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import sam2_training as st
from sam2_training.config import SyntheticDataConfig, WindowCropConfig
from sam2_training.synthetic_data import synthetic_stacks
from sam2_training.windows import add_background_object, window_crop


def _disk_stack(shape=(200, 300), centre=(100, 150), radius=10, frames=2):
    rows, cols = np.ogrid[: shape[0], : shape[1]]
    inside = (rows - centre[0]) ** 2 + (cols - centre[1]) ** 2 <= radius**2
    labels = np.repeat(inside[None].astype(np.int32), frames, axis=0)
    images = (labels * 500 + 100).astype(np.uint16)
    return images, labels


def test_the_object_fills_the_asked_share_of_its_window():
    images, labels = _disk_stack()
    cfg = WindowCropConfig(object_fraction=[0.25, 0.25], jitter=0.0)
    frames, cut, target = window_crop(images, labels, cfg, np.random.default_rng(0), True)
    assert target == 1 and frames.shape[1] == frames.shape[2] == cut.shape[1]
    rows, cols = np.nonzero(cut[0])
    extent = max(np.ptp(rows), np.ptp(cols)) + 1
    assert abs(extent / cut.shape[1] - 0.25) < 0.02
    assert abs(rows.mean() - cut.shape[1] / 2) < 1.5, "centred without jitter"


def test_windows_stay_inside_the_frame_like_the_engine_places_them():
    images, labels = _disk_stack(centre=(12, 12), radius=8)
    cfg = WindowCropConfig(object_fraction=[0.2, 0.2], jitter=0.0)
    frames, cut, _ = window_crop(images, labels, cfg, np.random.default_rng(0), False)
    side = cut.shape[1]
    np.testing.assert_array_equal(frames[0], images[0, :side, :side]), "no padding needed"


def test_a_window_larger_than_the_frame_repeats_the_edges():
    images, labels = _disk_stack(shape=(40, 40), centre=(20, 20), radius=15)
    cfg = WindowCropConfig(object_fraction=[0.2, 0.2], jitter=0.0)
    frames, cut, _ = window_crop(images, labels, cfg, np.random.default_rng(0), False)
    assert frames.shape[1] > 40
    assert frames[0, 0, 0] == images[0, 0, 0] and cut[0, 0, 0] == 0


def test_background_object_is_empty_and_clicked_away_from_objects():
    masks = torch.zeros(2, 1, 64, 64, dtype=torch.bool)
    masks[0, 0, 10:20, 10:20] = True
    labels0 = np.zeros((128, 128), np.int32)
    labels0[20:40, 20:40] = 1
    out, ids, points = add_background_object(masks, [1, 2], labels0, np.random.default_rng(1))
    assert out.shape[0] == 3 and ids == [1, 2, 0] and not out[2].any()
    assert torch.isnan(points[:2]).all()
    x, y = points[2].tolist()
    assert not (5 <= x <= 24 and 5 <= y <= 24), "not on (or right next to) the object"
    full = np.ones((128, 128), np.int32)
    same, same_ids, none = add_background_object(masks, [1, 2], full, np.random.default_rng(1))
    assert none is None and same is masks and same_ids == [1, 2]


def test_the_background_click_replaces_the_first_click_of_its_object():
    from sam2_training.prompt_simulation import PromptPlan
    from sam2_training.rollout import _initial_prompt

    gt = torch.zeros(2, 1, 32, 32, dtype=torch.bool)
    gt[0, 0, 5:10, 5:10] = True
    bg = torch.tensor([[float("nan"), float("nan")], [25.0, 26.0]])
    points, labels = _initial_prompt(
        PromptPlan("point", [0], num_frames=1),
        gt,
        st.TrainConfig().prompts,
        torch.Generator().manual_seed(0),
        True,
        bg,
    )
    assert points[1, 0].tolist() == [25.0, 26.0] and labels[1, 0] == 1
    x, y = points[0, 0].tolist()
    assert gt[0, 0, int(y), int(x)], "the real object is still clicked inside"


def test_generated_data_is_seeded_cached_and_identified_by_its_recipe(tmp_path):
    cfg = SyntheticDataConfig(
        images=2,
        image_sizes=[64],
        timelapses=1,
        timelapse_frames=3,
        timelapse_size=64,
        seed=5,
        cache=str(tmp_path),
    )
    first = synthetic_stacks(cfg, workers=1)
    assert [s.num_frames for s in first] == [1, 1, 3]
    cached = sorted(p.name for p in next(tmp_path.iterdir()).iterdir())
    assert cached == ["image_00000.npz", "image_00001.npz", "timelapse_00000.npz"]
    again = synthetic_stacks(cfg, workers=1)  # read from the cache
    np.testing.assert_array_equal(first[2].image(1), again[2].image(1))
    other = synthetic_stacks(SyntheticDataConfig(images=1, image_sizes=[64], seed=6), workers=1)
    assert not np.array_equal(first[0].image(0), other[0].image(0))
    with pytest.raises(ValueError, match="no data"):
        synthetic_stacks(SyntheticDataConfig())


def test_a_run_can_train_on_generated_windows(tmp_path):
    cfg = st.load_train_config(
        "bundled_microscopy",
        {
            "model.base": "test_tiny",
            "model.checkpoint": "random",
            "output": str(tmp_path / "run"),
            "data.synthetic.images": 4,
            "data.synthetic.image_sizes": [96],
            "data.synthetic.timelapses": 1,
            "data.synthetic.timelapse_size": 96,
            "data.synthetic.zstacks": 0,
            "data.synthetic.cache": None,
            "data.samples_per_epoch": None,
            "data.val_fraction": 0.2,
            "trainer.max_steps": 2,
            "trainer.batch_size": 2,
            "trainer.val_every": 2,
            "trainer.val_max_samples": 2,
        },
    )
    result = st.train(cfg)
    assert result.steps == 2 and result.checkpoint.exists()
    import sam2_engine as se

    model = se.build_model(str(result.checkpoint))
    assert model.recommended["windows"]["object_fraction"] == 0.3, "stored with the weights"
    assert se.ImagePredictor(model).windowed


def test_a_window_model_keeps_its_input_size(tmp_path):
    import sam2_engine as se
    from sam2_training.base_model import build_base_model

    model = se.build_model("test_tiny", checkpoint=False)
    model.recommended = {"windows": {"object_fraction": 0.3}}
    path = se.save_checkpoint(model, tmp_path / "windowed.pt")
    cfg = st.load_train_config("finetune_cpu", {"model.base": str(path)})
    assert cfg.model.image_size == 512, "the CPU preset shrinks official models to 512 px"
    built = build_base_model(cfg, torch.device("cpu"))
    assert built.image_size == model.image_size == 128, "a window model keeps its own"
    plain = se.save_checkpoint(se.build_model("test_tiny", checkpoint=False), tmp_path / "p.pt")
    cfg = st.load_train_config("finetune_cpu", {"model.base": str(plain)})
    assert build_base_model(cfg, torch.device("cpu")).image_size == 512


def test_fine_tuning_uses_what_the_base_model_recommends(tmp_path, monkeypatch):
    import sam2_engine as se
    from sam2_training import api

    model = se.build_model("test_tiny", checkpoint=False)
    model.recommended = {"finetune": {"optim.lr": 3e-4, "trainer.freeze": []}}
    path = se.save_checkpoint(model, tmp_path / "ours.pt")
    monkeypatch.setattr(api, "prepare_data", lambda *a, **k: None)
    monkeypatch.setattr(api, "train", lambda cfg, data, **k: cfg)  # the run's config

    def config_of(base, **settings):
        return api.finetune(
            None,
            None,
            base,
            tmp_path / "run",
            return_result=True,
            **{"config": "finetune_cpu", **settings},
        )

    cfg = config_of(str(path))
    assert cfg.optim.lr == 3e-4 and cfg.trainer.freeze == []
    assert config_of(str(path), lr=1e-5).optim.lr == 1e-5, "the caller's own setting wins"
    cfg = config_of("test_tiny")
    assert cfg.optim.lr == 5e-5 and cfg.trainer.freeze == ["image_encoder"]
    given = api.load_train_config("finetune_cpu", {"optim.lr": 1e-3})
    assert config_of(str(path), config=given).optim.lr == 1e-3, "a TrainConfig runs as given"
