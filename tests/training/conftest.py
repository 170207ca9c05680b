"""Shared fixtures of the training tests: small synthetic data, one CPU thread.

Everything here runs the ``test_tiny`` model (128 px, random weights) on the CPU.
Torch is limited to one thread per test: on a 2-core CI machine several threads per
process only fight each other (and the DDP test runs two processes).
"""

from __future__ import annotations

import os
import socket
import sys
from pathlib import Path

import numpy as np
import pytest
import tifffile
import torch

from sam2_cells import write_ctc_dataset
from sam2_synthetic import fluorescence_image, nuclei_timelapse

#: Overrides that make a run tiny and fast (random test_tiny weights, no TensorBoard).
FAST = {
    "model.checkpoint": "random",
    "trainer.tensorboard": False,
    "trainer.checkpoint_every": 0,
    "prompts.num_correction_points": 1,
    "data.augment.enabled": True,
}


@pytest.fixture(autouse=True)
def _one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="session")
def images_2d() -> list:
    """Three 128 x 128 uint16 nucleus images with instance labels."""
    return [fluorescence_image((128, 128), n_nuclei=5, seed=s, radius=(10, 16)) for s in range(3)]


@pytest.fixture(scope="session")
def timelapse():
    """A 6-frame 96 x 96 time-lapse of 4 nuclei with consistent ids."""
    return nuclei_timelapse(6, (96, 96), 4, seed=0, radius=(8, 10))


@pytest.fixture
def tiff_folder(tmp_path: Path, images_2d, timelapse) -> Path:
    """``images/`` + ``labels/``: two 2D images and one time-lapse stack."""
    root = tmp_path / "tiffs"
    (root / "images").mkdir(parents=True)
    (root / "labels").mkdir()
    for i, data in enumerate(images_2d[:2]):
        tifffile.imwrite(root / "images" / f"img{i}.tif", data.image)
        tifffile.imwrite(root / "labels" / f"img{i}.tif", data.labels.astype(np.uint16))
    tifffile.imwrite(root / "images" / "movie.tif", timelapse.movie)
    tifffile.imwrite(root / "labels" / "movie.tif", timelapse.labels.astype(np.uint16))
    return root


@pytest.fixture
def ctc_folder(tmp_path: Path, timelapse) -> Path:
    return write_ctc_dataset(
        timelapse.movie, timelapse.labels, timelapse.tracks, tmp_path / "ctc"
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def subprocess_env() -> dict[str, str]:
    """Environment for child Python processes (one thread each, unbuffered output)."""
    env = dict(os.environ)
    env.update(OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", PYTHONUNBUFFERED="1")
    return env


def python() -> str:
    return sys.executable
