"""A run's data: read and check the sources, split off validation, build the datasets.

:func:`prepare_data` turns arrays, a folder or a generated-data recipe into checked
:class:`TrainingData`; :func:`build_datasets` cuts the training and validation
:class:`~sam2_training.datasets.ClipDataset` out of it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sam2_training import folders, sources
from sam2_training.config import DataConfig, PromptConfig
from sam2_training.datasets import ClipDataset, clip_items
from sam2_training.sources import LabelledStack, Segment


@dataclass
class TrainingData:
    """Checked data of a run: stacks, which frames hold objects, the split.

    Attributes
    ----------
    stacks
        Training and (explicit) validation stacks together.
    present
        Per stack, (T,) bool: frames holding at least one object.
    train, val
        Segments (frame ranges of stacks) used for training and validation.
    fingerprint
        Hash of all stacks (checkpoint metadata; a resume on other data is refused).
    """

    stacks: list[LabelledStack]
    present: list[np.ndarray]
    train: list[Segment]
    val: list[Segment]
    fingerprint: str


def prepare_data(
    data: DataConfig,
    seed: int,
    images: object = None,
    labels: object = None,
    val_images: object = None,
    val_labels: object = None,
) -> TrainingData:
    """Read and check the data of a run: arrays if given, else ``data.folder``.

    Validation data come from ``val_images``/``val_labels`` or ``data.val_folder`` if
    given, else from a split of the training data (see
    :func:`~sam2_training.sources.split_segments`).

    Raises
    ------
    ValueError
        No data, no labels, mismatched shapes, labels without any object.
    TypeError
        Labels that are not integers.
    """
    if images is not None or labels is not None:
        stacks = sources.stacks_from_arrays(images, labels, data.channel_axis)
    elif data.folder is not None:
        stacks = folders.stacks_from_folder(data.folder, data.format, data.channel_axis)
    elif _wants_synthetic(data):
        from sam2_training.synthetic_data import synthetic_stacks

        stacks = synthetic_stacks(data.synthetic)
    else:
        raise ValueError(
            "no training data: pass images and labels, set data.folder to a TIFF or "
            "Cell Tracking Challenge folder, or ask for generated data (data.synthetic)"
        )
    present = sources.check_stacks(stacks)
    if val_images is not None or val_labels is not None:
        val_stacks = sources.stacks_from_arrays(val_images, val_labels, data.channel_axis, "val")
    elif data.val_folder is not None:
        val_stacks = folders.stacks_from_folder(data.val_folder, data.format, data.channel_axis)
    else:
        val_stacks = []
    if val_stacks:
        val_present = sources.check_stacks(val_stacks)
        train = [Segment(i, 0, s.num_frames) for i, s in enumerate(stacks)]
        val = [Segment(len(stacks) + i, 0, s.num_frames) for i, s in enumerate(val_stacks)]
        all_stacks = stacks + val_stacks
        all_present = present + val_present
    else:
        train, val = sources.split_segments(
            stacks, present, data.val_fraction, seed, data.clip_length
        )
        all_stacks, all_present = list(stacks), present
    return TrainingData(all_stacks, all_present, train, val, sources.fingerprint(all_stacks))


def _wants_synthetic(data: DataConfig) -> bool:
    s = data.synthetic
    return s.images + s.timelapses + s.zstacks > 0


def build_datasets(
    training: TrainingData,
    data: DataConfig,
    prompts: PromptConfig,
    image_size: int,
    seed: int,
    global_batch: int,
    val_max_objects: int = 8,
    windows: bool = False,
) -> tuple[ClipDataset, ClipDataset | None]:
    """Training dataset (at least ``global_batch`` long) and validation dataset (or None);
    ``windows``: object-centred window samples (see :mod:`sam2_training.windows`)."""
    items = clip_items(training.stacks, training.present, training.train, data.clip_length)
    if not items:
        raise ValueError(
            "the training split has no frame with an object; annotate more data or lower "
            "data.val_fraction"
        )
    length = data.samples_per_epoch or max(len(items), global_batch)
    train = ClipDataset(
        training.stacks, items, data, prompts, image_size, seed, length=length, windows=windows
    )
    val_items = clip_items(training.stacks, training.present, training.val, data.clip_length)
    val = (
        ClipDataset(
            training.stacks,
            val_items,
            data,
            prompts,
            image_size,
            seed,
            train=False,
            max_objects=val_max_objects,
            windows=windows,
        )
        if val_items
        else None
    )
    return train, val
