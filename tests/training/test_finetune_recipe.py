"""The fine-tuning recipe: how often a short run validates, and the settings the bundled
model carries for its own fine-tuning (scripts/bundle_model.py ``FINETUNE``)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

import sam2_training as st
from sam2_training import loop
from sam2_training.config import apply_overrides, load_train_config

from .conftest import FAST

ROOT = Path(__file__).resolve().parents[2]


def test_validation_interval_is_per_epoch_but_capped():
    assert loop.validation_interval(50, 300) == 50  # long epochs: once per epoch
    assert loop.validation_interval(3, 300) == 15  # 3-step epochs: 20 times, not 100
    assert loop.validation_interval(1, 10) == 1
    assert loop.validation_interval(0, 0) == 1


def test_a_few_images_do_not_validate_after_every_step(images_2d, tmp_path, monkeypatch):
    # two images: one trains (one-step epochs), one validates; val_every 0 = per epoch
    monkeypatch.setattr(loop, "MAX_EPOCH_VALIDATIONS", 2)
    reports: list = []
    st.finetune(
        [d.image for d in images_2d[:2]],
        [d.labels for d in images_2d[:2]],
        "test_tiny",
        output=tmp_path / "run",
        max_steps=6,
        overrides={**FAST, "data.val_fraction": 0.5, "trainer.val_every": 0},
        progress=reports.append,
    )
    validated = [r.step for r in reports if r.phase == "validate"]
    assert validated == [3, 6]  # after every one of the 6 steps before


def _bundle_script():
    spec = importlib.util.spec_from_file_location(
        "bundle_model", ROOT / "scripts" / "bundle_model.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


#: what a training sample of the bundled model is made of: fine-tuning it must cut and
#: prompt its samples the same way (it was trained with one correction click, the
#: official recipe's defaults have seven and gave the one-click prediction 1/8 of the loss)
SAMPLE_KEYS = (
    "prompts.num_correction_points",
    "prompts.max_init_cond_frames",
    "prompts.max_frames_to_correct",
    "prompts.prob_point_input",
    "prompts.prob_box_input",
    "data.max_objects",
    "data.background_clicks",
    "data.windows.object_fraction",
    "data.windows.jitter",
    "data.augment.intensity_scale",
    "data.augment.gamma",
    "loss.iou_l1",
    "optim.weight_decay",
    "optim.betas",
    "optim.grad_clip",
)


def _value(cfg, key: str):
    node = cfg
    for part in key.split("."):
        node = getattr(node, part)
    return list(node) if isinstance(node, (list, tuple)) else node


def test_bundled_fine_tuning_samples_match_the_bundled_training():
    tuned = apply_overrides(load_train_config("finetune"), _bundle_script().FINETUNE)
    trained = load_train_config("microscopy_conv")
    differ = {
        key: (_value(tuned, key), _value(trained, key))
        for key in SAMPLE_KEYS
        if _value(tuned, key) != _value(trained, key)
    }
    assert not differ, differ
    assert tuned.model.image_size is None  # the model's own 256 px windows
    assert tuned.trainer.batch_size == 2


@pytest.mark.parametrize("config", ["finetune", "finetune_cpu"])
def test_the_bundled_defaults_are_valid_settings_of_every_preset(config):
    apply_overrides(load_train_config(config), _bundle_script().FINETUNE)  # no typo
