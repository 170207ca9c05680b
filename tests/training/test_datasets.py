"""Data sources (arrays, TIFF folders, CTC sets), clips, augmentation, sampling order."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from sam2_training.augment import ClipTransform, apply_geometry, apply_intensity, draw_transform
from sam2_training.config import AugmentConfig, DataConfig, PromptConfig
from sam2_training.data_setup import build_datasets, prepare_data
from sam2_training.datasets import ClipDataset, SampleKey, clip_items
from sam2_training.folders import stacks_from_ctc_folder, stacks_from_folder
from sam2_training.sampling import ResumableSampler
from sam2_training.sources import Segment, check_stacks, split_segments, stacks_from_arrays

S = 128


def _dataset(stacks, data=None, train=True, **kw) -> ClipDataset:
    data = data or DataConfig()
    present = check_stacks(stacks)
    segments = [Segment(i, 0, s.num_frames) for i, s in enumerate(stacks)]
    items = clip_items(stacks, present, segments, data.clip_length)
    return ClipDataset(stacks, items, data, PromptConfig(), S, seed=0, train=train, **kw)


def test_arrays_2d_images_give_single_frame_samples(images_2d):
    stacks = stacks_from_arrays([d.image for d in images_2d], [d.labels for d in images_2d])
    ds = _dataset(stacks)
    assert len(ds) == 3
    sample = ds[SampleKey(0, 1)]
    assert sample.images.shape == (1, 3, S, S) and sample.images.dtype == torch.float32
    k = sample.num_objects
    assert 1 <= k <= 3 and sample.masks.shape == (k, 1, S, S) and sample.masks.dtype == torch.bool
    assert all(m[0].any() for m in sample.masks)  # every object visible on frame 0
    assert sample.plan.kind in ("point", "box")


def test_stack_samples_are_clips_of_consecutive_frames(timelapse):
    stacks = stacks_from_arrays(timelapse.movie, timelapse.labels)
    data = DataConfig(clip_length=4, augment=AugmentConfig(enabled=False))
    ds = _dataset(stacks, data)
    assert [(it.start, it.length) for it in ds.items] == [(0, 4), (1, 4), (2, 4)]
    sample = ds[SampleKey(0, 1)]
    assert sample.images.shape == (4, 3, S, S)
    # masks follow the ids through frames 1..4 of the movie
    for obj, obj_id in enumerate(sample.object_ids):
        for t in range(4):
            gt = torch.from_numpy(timelapse.labels[1 + t] == obj_id)[None, None].float()
            gt = torch.nn.functional.interpolate(gt, size=(S, S), mode="bilinear", antialias=True)
            assert torch.equal(sample.masks[obj, t], gt[0, 0] > 0.5)


def test_strided_clips_skip_frames_in_training_only(timelapse):
    """``data.clip_stride``: training clips take every s-th frame (s drawn per sample,
    never past the stack's end); validation clips stay consecutive."""
    stacks = stacks_from_arrays(timelapse.movie, timelapse.labels)
    read: list[int] = []
    plain = stacks[0].labels

    def labels(t: int) -> np.ndarray:
        read.append(t)
        return plain(t)

    stacks[0].labels = labels
    data = DataConfig(clip_length=3, clip_stride=3, augment=AugmentConfig(enabled=False))
    ds = _dataset(stacks, data)
    assert [it.max_stride(3) for it in ds.items] == [2, 2, 1, 1]  # 6 frames: 1, 3, 5 fits
    strides = set()
    for epoch in range(12):
        read.clear()
        ds[SampleKey(epoch, 0)]
        assert read[0] == 0 and len(read) == 3
        strides.add(read[1] - read[0])
        assert read == [0, read[1], 2 * read[1]] and read[-1] < 6
    assert strides == {1, 2}
    val = _dataset(stacks, data, train=False)
    read.clear()
    val[0]
    assert read == [0, 1, 2]


def test_zstack_with_channels_last(timelapse):
    rgb = np.stack([timelapse.movie] * 3, axis=-1)  # (Z, H, W, 3)
    stacks = stacks_from_arrays(rgb, timelapse.labels)
    assert stacks[0].has_channels and stacks[0].num_frames == 6
    sample = _dataset(stacks, DataConfig(clip_length=3))[0]
    assert sample.images.shape == (3, 3, S, S)
    chan_first = stacks_from_arrays(np.moveaxis(rgb, -1, 1), timelapse.labels)  # (Z, C, H, W)
    assert chan_first[0].image(2).shape == (96, 96, 3)


def test_samples_are_a_function_of_their_key(timelapse):
    stacks = stacks_from_arrays(timelapse.movie, timelapse.labels)
    ds = _dataset(stacks, DataConfig(clip_length=3))
    a, b, c = ds[SampleKey(2, 1)], ds[SampleKey(2, 1)], ds[SampleKey(3, 1)]
    assert torch.equal(a.images, b.images) and torch.equal(a.masks, b.masks)
    assert a.seed == b.seed and a.plan == b.plan
    assert a.seed != c.seed  # another epoch draws again


def test_geometry_is_identical_on_every_frame_of_a_clip(timelapse):
    """Flip / rotate each frame of a clip: labels must still overlay their images."""
    rng = np.random.default_rng(0)
    movie, labels = timelapse.movie.astype(np.float32), timelapse.labels
    for _ in range(8):
        t = draw_transform(AugmentConfig(), rng)
        m, lab = apply_geometry(movie, t), apply_geometry(labels, t)
        assert m.shape[:3] == lab.shape
        for frame in range(len(m)):  # nuclei are brighter than background in every frame
            assert m[frame][lab[frame] > 0].mean() > 1.5 * m[frame][lab[frame] == 0].mean()
    t = ClipTransform(flip_cols=True, rotations=1)
    expected = np.rot90(labels[:, :, ::-1], 1, axes=(1, 2))
    assert np.array_equal(apply_geometry(labels, t), expected)


def test_intensity_changes_stay_in_range_and_keep_order():
    frames = np.linspace(0, 1, 2 * 8 * 8 * 3, dtype=np.float32).reshape(2, 8, 8, 3)
    out = apply_intensity(frames, ClipTransform(scale=1.1, gamma=0.8), np.random.default_rng(0))
    assert out.min() >= 0 and out.max() <= 1
    assert np.all(np.diff(out.ravel()) >= 0)  # monotonic without noise
    noisy = apply_intensity(frames, ClipTransform(noise_std=0.05), np.random.default_rng(0))
    assert 0.02 < np.abs(noisy - frames).mean() < 0.06
    assert not np.array_equal(noisy[0], noisy[1] - frames[1] + frames[0])  # fresh noise per frame
    assert frames.max() == 1.0  # input untouched


def test_tiff_folder_pairs_images_and_labels(tiff_folder: Path):
    stacks = stacks_from_folder(tiff_folder)
    assert [s.name for s in stacks] == ["img0.tif", "img1.tif", "movie.tif"]
    assert [s.num_frames for s in stacks] == [1, 1, 6]
    assert stacks[2].image(3).shape == (96, 96)
    ds = _dataset(stacks, DataConfig(clip_length=2))
    assert {it.length for it in ds.items} == {1, 2}


def test_ctc_folder_gives_one_stack_per_sequence(ctc_folder: Path, timelapse):
    stacks = stacks_from_ctc_folder(ctc_folder)
    assert len(stacks) == 1 and stacks[0].num_frames == 6
    assert np.array_equal(stacks[0].labels(4), timelapse.labels[4])
    assert np.array_equal(stacks[0].image(4), timelapse.movie[4])
    assert stacks_from_folder(ctc_folder)[0].name == "01"  # format detected


def test_crops_keep_an_object_on_the_first_frame(images_2d):
    big = np.tile(images_2d[0].image, (3, 3))
    labels = np.zeros_like(big, dtype=np.int32)
    labels[128:256, 128:256] = images_2d[0].labels  # objects only in the middle tile
    stacks = stacks_from_arrays(big, labels)
    ds = _dataset(stacks, DataConfig(crop_size=96))
    for index in range(10):
        sample = ds[SampleKey(index, 0)]
        assert sample.masks[:, 0].flatten(1).any(dim=1).all()


def test_validation_samples_are_fixed(timelapse):
    stacks = stacks_from_arrays(timelapse.movie, timelapse.labels)
    ds = _dataset(stacks, DataConfig(clip_length=3), train=False, max_objects=8)
    a, b = ds[SampleKey(0, 0)], ds[SampleKey(5, 0)]
    assert torch.equal(a.images, b.images) and a.object_ids == b.object_ids
    assert a.num_objects == len(np.unique(timelapse.labels[0])) - 1
    assert a.plan.kind == "point"


def test_split_holds_out_whole_images_or_the_end_of_a_stack(images_2d, timelapse):
    stacks = stacks_from_arrays([d.image for d in images_2d], [d.labels for d in images_2d])
    train, val = split_segments(stacks, check_stacks(stacks), 0.2, seed=0)
    assert len(train) == 2 and len(val) == 1
    assert {s.stack for s in train} | {s.stack for s in val} == {0, 1, 2}
    one = stacks_from_arrays(timelapse.movie, timelapse.labels)
    train, val = split_segments(one, check_stacks(one), 0.2, seed=0, clip_length=3)
    assert train == [Segment(0, 0, 3)] and val == [Segment(0, 3, 6)]
    single = stacks_from_arrays(images_2d[0].image, images_2d[0].labels)
    assert split_segments(single, check_stacks(single), 0.2, seed=0)[1] == []


def test_prepare_and_build_with_explicit_validation(images_2d, timelapse):
    data = DataConfig(clip_length=3)
    td = prepare_data(
        data,
        0,
        [d.image for d in images_2d],
        [d.labels for d in images_2d],
        timelapse.movie,
        timelapse.labels,
    )
    assert len(td.stacks) == 4 and [s.stack for s in td.val] == [3]
    train, val = build_datasets(td, data, PromptConfig(), S, 0, global_batch=8)
    assert len(train) == 8  # repeated up to one global batch
    assert val is not None and val.items[0].length == 3
    assert len(td.fingerprint) == 32
    again = prepare_data(
        data,
        0,
        [d.image for d in images_2d],
        [d.labels for d in images_2d],
        timelapse.movie,
        timelapse.labels,
    )
    assert again.fingerprint == td.fingerprint
    other = prepare_data(
        data, 0, [d.image for d in images_2d[:2]], [d.labels for d in images_2d[:2]]
    )
    assert other.fingerprint != td.fingerprint


def test_sampler_splits_every_global_batch_between_processes():
    class Six(torch.utils.data.Dataset):
        def __len__(self):
            return 12

    single = ResumableSampler(Six(), global_batch=4, num_replicas=1, rank=0, seed=3)
    ranks = [
        ResumableSampler(Six(), global_batch=4, num_replicas=2, rank=r, seed=3) for r in (0, 1)
    ]
    single.set_position(1, 0)
    for r in ranks:
        r.set_position(1, 0)
    keys = list(single)
    parts = [list(r) for r in ranks]
    assert len(keys) == 12 and all(k.epoch == 1 for k in keys)
    for step in range(3):
        batch = keys[4 * step : 4 * step + 4]
        assert parts[0][2 * step : 2 * step + 2] + parts[1][2 * step : 2 * step + 2] == batch
    single.set_position(1, 2)  # resume after two steps of epoch 1
    assert list(single) == keys[8:]
    single.set_position(2, 0)
    assert [k.index for k in single] != [k.index for k in keys]


@pytest.mark.parametrize("crop", [None, 64])
def test_tiny_objects_survive_resizing(crop):
    image = np.zeros((512, 512), np.uint16)
    labels = np.zeros((512, 512), np.int32)
    labels[100:103, 200:203] = 1  # 3 x 3 pixels: under one pixel at 128
    image[labels > 0] = 1000
    ds = _dataset(stacks_from_arrays(image, labels), DataConfig(crop_size=crop))
    assert ds[0].masks.any()
