"""Bad input is refused before any training step, with a message naming the fix."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import tifffile

import sam2_training as st

from .conftest import FAST


def _finetune(images, labels, output, **kw):
    steps: list[int] = []
    with pytest.raises((ValueError, TypeError)) as info:
        st.finetune(
            images,
            labels,
            "test_tiny",
            output=output,
            max_steps=2,
            overrides=FAST,
            progress=lambda p: steps.append(p.step),
            **kw,
        )
    assert steps == []  # nothing trained
    return str(info.value)


def test_no_labels(images_2d, tmp_path):
    msg = _finetune(images_2d[0].image, None, tmp_path / "run")
    assert "no labels" in msg


def test_shape_mismatch(images_2d, tmp_path):
    msg = _finetune(images_2d[0].image, images_2d[0].labels[:100], tmp_path / "run")
    assert "(128, 128)" in msg and "(100, 128)" in msg


def test_stack_and_2d_labels(timelapse, tmp_path):
    msg = _finetune(timelapse.movie, timelapse.labels[0], tmp_path / "run")
    assert "does not match" in msg


def test_labels_without_any_object(images_2d, tmp_path):
    msg = _finetune(images_2d[0].image, np.zeros((128, 128), np.int32), tmp_path / "run")
    assert "no object" in msg
    images = [d.image for d in images_2d[:2]]
    labels = [images_2d[0].labels, np.zeros((128, 128), np.uint8)]
    assert "images[1]" in _finetune(images, labels, tmp_path / "run")


def test_float_labels_are_a_type_error(images_2d, tmp_path):
    with pytest.raises(TypeError, match="astype"):
        st.finetune(
            images_2d[0].image,
            images_2d[0].labels.astype(np.float32),
            "test_tiny",
            output=tmp_path / "run",
            max_steps=1,
            overrides=FAST,
        )


def test_empty_dataset(tmp_path):
    assert "empty" in _finetune([], [], tmp_path / "run")
    msg = _finetune([np.zeros((64, 64))], [], tmp_path / "run")
    assert "1 images but 0" in msg


def test_no_data_at_all(tmp_path):
    with pytest.raises(ValueError, match="no training data"):
        st.train(st.load_train_config("finetune", [f"output={tmp_path}"]))


def test_output_that_cannot_be_written(images_2d, tmp_path):
    blocker = tmp_path / "a_file"
    blocker.write_text("not a folder")
    msg = _finetune(images_2d[0].image, images_2d[0].labels, blocker / "run")
    assert "cannot write to the output folder" in msg


@pytest.mark.skipif(os.geteuid() == 0, reason="root ignores folder permissions")
def test_read_only_output_folder(images_2d, tmp_path):
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o500)
    try:
        msg = _finetune(images_2d[0].image, images_2d[0].labels, folder)
    finally:
        folder.chmod(0o700)
    assert "cannot write" in msg


def test_tiff_folder_with_a_missing_label_file(tiff_folder: Path, tmp_path):
    (tiff_folder / "labels" / "img1.tif").unlink()
    with pytest.raises(ValueError, match="no labels for 1 image"):
        st.train(
            st.load_train_config(
                "finetune", [f"data.folder={tiff_folder}", f"output={tmp_path / 'run'}"]
            )
        )


def test_folder_of_another_layout(tmp_path):
    (tmp_path / "stuff").mkdir()
    tifffile.imwrite(tmp_path / "stuff" / "a.tif", np.zeros((8, 8), np.uint8))
    with pytest.raises(ValueError, match="images/"):
        st.train(st.load_train_config("finetune", [f"data.folder={tmp_path / 'stuff'}"]))


def test_batch_not_divisible_is_caught_by_config_before_data(images_2d, tmp_path):
    with pytest.raises(ValueError, match="batch_size"):
        st.finetune(
            images_2d[0].image,
            images_2d[0].labels,
            "test_tiny",
            output=tmp_path,
            batch_size=0,
            overrides=FAST,
        )
