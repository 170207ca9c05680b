"""DistributedDataParallel through torchrun (2 CPU processes, gloo) equals one process
with the same global batch: data, augmentation, prompts and dropout are drawn per
global sample index, and the loss is normalised by the objects of the whole batch."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import torch

import sam2_engine
import sam2_training as st

from .conftest import python, subprocess_env


def _overrides(tiff_folder: Path, output: Path) -> list[str]:
    return [
        f"data.folder={tiff_folder}",
        "model.base=test_tiny",
        "model.checkpoint=random",
        "trainer.max_steps=4",
        "trainer.batch_size=4",
        "trainer.checkpoint_every=0",
        "trainer.val_every=4",
        "trainer.tensorboard=false",
        "data.clip_length=3",
        "data.val_fraction=0.0",
        "data.samples_per_epoch=8",
        "prompts.num_correction_points=2",
        "optim.lr=1e-3",
        "optim.encoder_lr=1e-3",
        f"output={output}",
    ]


@pytest.mark.slow
def test_two_processes_equal_one(tiff_folder, tmp_path):
    ddp_out = tmp_path / "ddp"
    cmd = [
        python(),
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc_per_node=2",
        "-m",
        "sam2_training",
        "trainer.backend=gloo",
        "trainer.device=cpu",
        *_overrides(tiff_folder, ddp_out),
    ]
    proc = subprocess.run(
        cmd, env=subprocess_env(), capture_output=True, text=True, timeout=300, cwd=tmp_path
    )
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-4000:]

    single = st.train(st.load_train_config("finetune", _overrides(tiff_folder, tmp_path / "one")))
    a = torch.load(single.checkpoint, weights_only=True)["model"]
    b = torch.load(ddp_out / "last.pt", weights_only=True)["model"]
    torch.manual_seed(123)  # the seeded random initialisation of both runs
    init = sam2_engine.build_model("test_tiny", checkpoint=False).state_dict()
    moved = max((a[k] - init[k]).abs().max().item() for k in a)
    assert moved > 1e-3
    worst = max((a[k] - b[k]).abs().max().item() for k in a)
    print(f"DDP vs one process: max |diff| {worst:.2e}, weights moved by up to {moved:.2e}")
    assert worst < 1e-5, f"DDP differs from one process by {worst} (weights moved by {moved})"
