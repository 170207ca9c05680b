"""Run configs: bundled YAML files, overrides, typed validation."""

from __future__ import annotations

from pathlib import Path

import pytest
from omegaconf import OmegaConf

from sam2_engine import config_to_dict
from sam2_training.config import (
    TrainConfig,
    apply_dotlist,
    apply_overrides,
    builtin_train_configs,
    config_dir,
    load_train_config,
)


def test_bundled_configs_load_and_match_the_dataclass_defaults():
    assert {"finetune", "finetune_cpu"} <= set(builtin_train_configs())
    cfg = load_train_config("finetune")
    assert cfg == TrainConfig()  # the YAML spells out every default
    assert (cfg.loss.mask, cfg.loss.dice, cfg.loss.iou, cfg.loss.object) == (20, 1, 1, 1)
    assert cfg.optim.layer_decay == 0.9


def test_cpu_config_inherits_and_freezes_the_encoder():
    cfg = load_train_config("finetune_cpu")
    assert cfg.trainer.freeze == ["image_encoder"]
    assert cfg.model.image_size == 512
    assert cfg.loss == TrainConfig().loss  # inherited from finetune.yaml


def test_overrides_as_dotlist_and_mapping():
    cfg = load_train_config("finetune", ["trainer.max_steps=7", "trainer.freeze=[image_encoder]"])
    assert cfg.trainer.max_steps == 7 and cfg.trainer.freeze == ["image_encoder"]
    cfg = load_train_config("finetune", {"optim.lr": 1e-3, "data.folder": "/x/y's"})
    assert cfg.optim.lr == 1e-3 and cfg.data.folder == "/x/y's"
    cfg2 = apply_overrides(cfg, {"model.base": "test_tiny"})
    assert cfg2.model.base == "test_tiny" and cfg.model.base != "test_tiny"
    assert apply_dotlist(cfg, ["model.image_size=256"]).model.image_size == 256


@pytest.mark.parametrize(
    "override, words",
    [
        ("trainer.max_stepz=3", "max_stepz"),
        ("trainer.max_steps=many", "max_steps"),
        ("trainer.max_steps=0", "max_steps"),
        ("trainer.freeze=[decoder]", "freeze"),
        ("trainer.precision=fp16", "precision"),
        ("data.val_fraction=1.5", "val_fraction"),
        ("model.image_size=100", "image_size"),
        ("prompts.prob_box_input=2", "prob_box_input"),
    ],
)
def test_bad_values_fail_loudly_with_the_key_named(override, words):
    with pytest.raises(ValueError, match=words):
        load_train_config("finetune", [override])


def test_unknown_config_name_lists_the_bundled_ones():
    with pytest.raises(ValueError, match="finetune_cpu"):
        load_train_config("no_such_config")


def test_a_yaml_file_can_extend_a_bundled_config(tmp_path: Path):
    path = tmp_path / "mine.yaml"
    path.write_text("defaults:\n  - finetune_cpu\n  - _self_\ntrainer:\n  max_steps: 5\n")
    # a relative default resolves next to the file: copy the bundled ones there
    for name in ("finetune", "finetune_cpu"):
        (tmp_path / f"{name}.yaml").write_text((config_dir() / f"{name}.yaml").read_text())
    cfg = load_train_config(path)
    assert cfg.trainer.max_steps == 5 and cfg.trainer.freeze == ["image_encoder"]


def test_config_round_trips_through_a_plain_dict():
    cfg = load_train_config("finetune_cpu")
    data = config_to_dict(cfg)
    assert OmegaConf.to_object(OmegaConf.merge(OmegaConf.structured(TrainConfig), data)) == cfg
