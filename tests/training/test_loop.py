"""End to end: fine-tune from a checkpoint, load the result in the predictors, logs,
progress reports, cancellation, in-process resume, the training CLI."""

from __future__ import annotations

import csv
import subprocess
from pathlib import Path

import numpy as np
import pytest
import torch

import sam2_engine
import sam2_training as st
from sam2_engine import register_model, unregister_model
from sam2_engine.weights.checkpoints import read_metadata, save_checkpoint

from .conftest import FAST, python, subprocess_env


@pytest.fixture(scope="module")
def base_checkpoint(tmp_path_factory) -> Path:
    """A test_tiny checkpoint file to fine-tune from (perturbed random weights)."""
    torch.manual_seed(5)
    model = sam2_engine.build_model("test_tiny", checkpoint=False)
    path = tmp_path_factory.mktemp("base") / "base.pt"
    save_checkpoint(model, path, {"note": "test base"})
    return path


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory, images_2d, timelapse, base_checkpoint):
    """A short run on 2D images + a time-lapse, validated on another time-lapse."""
    out = tmp_path_factory.mktemp("run") / "run"
    reports: list = []
    overrides = {
        **FAST,
        "model.checkpoint": str(base_checkpoint),
        "trainer.val_every": 3,
        "trainer.log_every": 2,
        "trainer.tensorboard": True,
        "data.clip_length": 3,
        "optim.lr": 1e-3,
        "trainer.checkpoint_every": 3,
    }
    images = [d.image for d in images_2d[:2]] + [timelapse.movie]
    labels = [d.labels for d in images_2d[:2]] + [timelapse.labels]
    result = st.finetune(
        images,
        labels,
        "test_tiny",
        output=out,
        max_steps=6,
        batch_size=2,
        overrides=overrides,
        val_images=timelapse.movie[::-1].copy(),
        val_labels=timelapse.labels[::-1].copy(),
        progress=reports.append,
        return_result=True,
    )
    return result, reports


def test_result_files_and_metadata(finished_run, base_checkpoint):
    result, _ = finished_run
    folder = result.run_folder
    assert result.checkpoint == folder / "last.pt" and result.steps == 6
    for name in ("last.pt", "best.pt", "training_state.pt", "config.yaml", "metrics.csv"):
        assert (folder / name).is_file(), name
    assert list((folder / "tensorboard").glob("events.out.tfevents.*"))
    meta = read_metadata(result.checkpoint)
    assert meta["base_model"] == "test_tiny"
    assert meta["base_checkpoint"] == str(base_checkpoint)
    assert meta["step"] == 6 and meta["config"]["image_size"] == 128
    assert meta["training"]["trainer"]["max_steps"] == 6
    assert len(meta["data_fingerprint"]) == 32
    assert meta["metrics"]["val_tracking_iou"] is not None
    raw = torch.load(result.checkpoint, weights_only=True)
    assert set(raw) == {"model", "sam2_engine"}  # official layout plus our metadata
    before = torch.load(base_checkpoint, weights_only=True)["model"]
    changed = [k for k in before if not torch.equal(before[k], raw["model"][k])]
    assert len(changed) > len(before) // 2  # training moved most tensors


def test_logs_and_progress_reports(finished_run):
    result, reports = finished_run
    with (result.run_folder / "metrics.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    train_rows = [r for r in rows if r["loss"]]
    val_rows = [r for r in rows if r["val_tracking_iou"]]
    assert [int(r["step"]) for r in train_rows] == [2, 4, 6]
    assert [int(r["step"]) for r in val_rows] == [3, 6]
    assert all(0 <= float(r["val_one_click_iou"]) <= 1 for r in val_rows)
    steps = [p.step for p in reports if p.phase == "train"]
    assert steps == list(range(1, 7))
    last = reports[-1]
    assert last.phase == "done" and last.fraction == 1.0 and last.checkpoint
    assert last.components is not None and np.isfinite(last.loss)
    assert any(p.phase == "validate" and p.validation.num_samples > 0 for p in reports)
    assert all(p.lr > 0 and p.max_steps == 6 for p in reports)


def test_fine_tuned_model_runs_in_the_predictors(finished_run, timelapse, images_2d):
    result, _ = finished_run
    model = sam2_engine.build_model(result.checkpoint, device="cpu")
    pred = sam2_engine.ImagePredictor(model)
    pred.set_image(images_2d[0].image)
    out = pred.predict(points=[[60, 60]], labels=[1])
    assert out.masks.shape == (3, 128, 128) and out.masks.dtype == bool
    session = sam2_engine.VideoPredictor(model).start(timelapse.movie)
    session.add_points(frame=0, obj_id=1, points=[[48, 48]], labels=[1])
    frames = [r.frame for r in session.propagate(start=0, direction="forward")]
    assert frames == list(range(6))
    best = sam2_engine.build_model(result.best_checkpoint)
    assert best.image_size == 128


def test_a_fine_tuned_file_can_be_registered_by_name(finished_run, monkeypatch, tmp_path):
    monkeypatch.setenv("SAM2_ENGINE_CACHE", str(tmp_path))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    result, _ = finished_run
    register_model("my_nuclei_test", result.checkpoint)
    try:
        assert sam2_engine.build_model("my_nuclei_test").image_size == 128
    finally:
        unregister_model("my_nuclei_test")


def test_cancel_stops_and_still_writes_usable_weights(images_2d, tmp_path):
    calls = {"n": 0}

    def cancel() -> bool:
        calls["n"] += 1
        return calls["n"] >= 3

    reports: list = []
    result = st.finetune(
        images_2d[0].image,
        images_2d[0].labels,
        "test_tiny",
        output=tmp_path / "w.pt",
        max_steps=50,
        overrides=FAST,
        cancel=cancel,
        progress=reports.append,
        return_result=True,
    )
    assert result.cancelled and result.steps == 3
    assert result.checkpoint == tmp_path / "w.pt" and result.checkpoint.is_file()
    assert (tmp_path / "w_run" / "training_state.pt").is_file()
    assert reports[-1].phase == "cancelled"
    model = sam2_engine.build_model(result.checkpoint)
    assert read_metadata(result.checkpoint)["step"] == 3 and model.image_size == 128


def test_resume_continues_exactly_in_process(images_2d, tmp_path):
    images, labels = [d.image for d in images_2d], [d.labels for d in images_2d]
    over = {**FAST, "optim.lr": 1e-3, "trainer.checkpoint_every": 2, "data.val_fraction": 0.0}
    full = st.finetune(
        images,
        labels,
        "test_tiny",
        output=tmp_path / "full",
        max_steps=4,
        batch_size=2,
        overrides=over,
    )
    calls = {"n": 0}

    def stop_at_two() -> bool:
        calls["n"] += 1
        return calls["n"] == 2

    st.finetune(
        images,
        labels,
        "test_tiny",
        output=tmp_path / "part",
        max_steps=4,
        batch_size=2,
        overrides=over,
        cancel=stop_at_two,
    )
    resumed = st.finetune(
        images,
        labels,
        "test_tiny",
        output=tmp_path / "part",
        max_steps=4,
        batch_size=2,
        overrides=over,
        resume=True,
    )
    a = torch.load(full, weights_only=True)["model"]
    b = torch.load(resumed, weights_only=True)["model"]
    assert all(torch.equal(a[k], b[k]) for k in a)
    with pytest.raises(ValueError, match="other data"):
        st.finetune(
            images[:2],
            labels[:2],
            "test_tiny",
            output=tmp_path / "part",
            max_steps=4,
            batch_size=2,
            overrides=over,
            resume=True,
        )
    # a curriculum step: strided clips may start mid-run
    st.finetune(
        images,
        labels,
        "test_tiny",
        output=tmp_path / "part",
        max_steps=5,
        batch_size=2,
        overrides={**over, "data.clip_stride": 2},
        resume=True,
    )
    with pytest.raises(ValueError, match=r"optim\.lr"):
        st.finetune(
            images,
            labels,
            "test_tiny",
            output=tmp_path / "part",
            max_steps=4,
            batch_size=2,
            overrides={**over, "optim.lr": 5e-4},
            resume=True,
        )


def test_cli_trains_on_a_tiff_folder(tiff_folder, tmp_path):
    out = tmp_path / "cli_run"
    cmd = [
        python(),
        "-m",
        "sam2_training",
        f"data.folder={tiff_folder}",
        "model.base=test_tiny",
        "model.checkpoint=random",
        "trainer.max_steps=3",
        "trainer.log_every=1",
        "trainer.tensorboard=false",
        "data.clip_length=2",
        f"output={out}",
    ]
    proc = subprocess.run(
        cmd, env=subprocess_env(), capture_output=True, text=True, timeout=180, cwd=tmp_path
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "step 3/3" in proc.stdout and (out / "last.pt").is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cli_run", "tiffs"]  # no stray files
    bad = subprocess.run(
        [*cmd[:3], "data.folder=/no/such/folder", f"output={out}"],
        env=subprocess_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert bad.returncode == 2 and "does not exist" in bad.stdout + bad.stderr
