"""Tests for sam2_engine.imaging.frames: dtypes, layouts, normalisation, lazy stacks, resizing."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from sam2_engine.imaging.frames import (
    IMAGENET_MEAN,
    IMAGENET_STD,
    FrameSource,
    Normalization,
    intensity_range,
    resize_batch,
    resize_to_model,
    to_rgb,
)

DTYPES = [np.uint8, np.uint16, np.int32, np.float32, np.float64, np.bool_]


def _random_image(rng: np.random.Generator, dtype, shape=(40, 50)) -> np.ndarray:
    if dtype == np.bool_:
        return rng.random(shape) > 0.5
    if np.issubdtype(dtype, np.floating):
        return (rng.normal(size=shape) * 100 + 10).astype(dtype)
    info = np.iinfo(dtype)
    return rng.integers(max(info.min, -1000), min(info.max, 5000), shape, endpoint=True).astype(
        dtype
    )


def _assert_unit_rgb(rgb: np.ndarray, hw: tuple[int, int]) -> None:
    assert rgb.shape == (*hw, 3)
    assert rgb.dtype == np.float32
    assert rgb.min() >= 0.0
    assert rgb.max() <= 1.0


class CountingArray:
    """A minimal array-like that records which frames were read."""

    def __init__(self, data: np.ndarray) -> None:
        self.data = data
        self.shape = data.shape
        self.dtype = data.dtype
        self.ndim = data.ndim
        self.reads: list[int] = []

    def __getitem__(self, index):
        self.reads.append(int(index))
        return self.data[index]


# ----------------------------------------------------------------------------- to_rgb


@pytest.mark.parametrize("dtype", DTYPES)
def test_every_dtype_gives_unit_float_rgb(dtype):
    rng = np.random.default_rng(0)
    image = _random_image(rng, dtype)
    rgb = to_rgb(image)
    _assert_unit_rgb(rgb, image.shape)
    assert rgb.max() > rgb.min()  # contrast survives
    np.testing.assert_array_equal(rgb[..., 0], rgb[..., 1])  # grey replicated
    np.testing.assert_array_equal(rgb[..., 0], rgb[..., 2])


@pytest.mark.parametrize("dtype", DTYPES)
def test_inputs_are_not_modified(dtype):
    rng = np.random.default_rng(1)
    for image in (_random_image(rng, dtype), _random_image(rng, dtype, (30, 20, 3))):
        before = image.copy()
        to_rgb(image)
        to_rgb(image, normalization=Normalization("none", clip=True))
        intensity_range(image)
        np.testing.assert_array_equal(image, before)


def test_uint8_is_scaled_by_exactly_one_over_255():
    rng = np.random.default_rng(2)
    image = rng.integers(0, 256, (30, 40, 3), dtype=np.uint8)
    expected = image.astype(np.float32) / np.float32(255)
    np.testing.assert_array_equal(to_rgb(image), expected)
    # even a dim, low-contrast 8-bit image is not stretched in "auto" mode
    dim = np.full((10, 10), 7, dtype=np.uint8)
    np.testing.assert_array_equal(to_rgb(dim), np.full((10, 10, 3), 7 / 255, np.float32))


def test_uint16_hot_pixel_keeps_contrast():
    rng = np.random.default_rng(3)
    image = rng.integers(100, 400, (64, 64)).astype(np.uint16)
    image[5, 7] = 65535
    grey = to_rgb(image)[..., 0]
    spread = np.percentile(grey, 95) - np.percentile(grey, 5)
    assert spread > 0.7
    assert grey[5, 7] == 1.0
    minmax = to_rgb(image, normalization=Normalization("minmax"))[..., 0]
    assert np.percentile(minmax, 95) - np.percentile(minmax, 5) < 0.01  # what "auto" avoids


@pytest.mark.parametrize("dtype", [np.uint16, np.float32, np.int32])
@pytest.mark.parametrize("mode", ["auto", "percentile", "minmax"])
def test_constant_image_maps_to_zero_without_warnings(dtype, mode):
    image = np.full((16, 16), 42, dtype=dtype)
    with np.errstate(all="raise"):
        rgb = to_rgb(image, normalization=Normalization(mode))
    np.testing.assert_array_equal(rgb, 0)


def test_sparse_bright_spots_fall_back_to_min_max():
    image = np.zeros((100, 100), dtype=np.uint16)
    image[10, 10] = image[50, 60] = 1000  # fewer than 0.2 % of the pixels
    grey = to_rgb(image)[..., 0]
    assert grey[10, 10] == 1.0
    assert grey[50, 60] == 1.0
    assert grey.sum() == 2.0


def test_fixed_none_and_clip_modes():
    image = np.array([[0, 100, 200], [300, 400, 500]], dtype=np.uint16)
    fixed = to_rgb(image, normalization=Normalization("fixed", vmin=100, vmax=300))[..., 0]
    np.testing.assert_allclose(fixed, [[0, 0, 0.5], [1, 1, 1]])
    unclipped = Normalization("fixed", vmin=100, vmax=300, clip=False)
    np.testing.assert_allclose(to_rgb(image, normalization=unclipped)[0, :, 0], [-0.5, 0, 0.5])
    unit = np.linspace(0, 1, 12, dtype=np.float64).reshape(3, 4)
    none = to_rgb(unit, normalization=Normalization("none"))
    np.testing.assert_allclose(none[..., 1], unit, atol=1e-7)


def test_rgb_uint8_uses_a_common_range_but_fluorescence_one_per_channel():
    rng = np.random.default_rng(4)
    rgb8 = np.stack([rng.integers(0, 50, (20, 20)), rng.integers(100, 250, (20, 20))], -1)
    rgb8 = np.concatenate([rgb8, np.zeros((20, 20, 1))], -1).astype(np.uint8)
    out = to_rgb(rgb8, normalization=Normalization("minmax"))
    assert out[..., 0].max() < out[..., 1].max()  # colours are not shifted
    fluo = rgb8.astype(np.uint16)
    out16 = to_rgb(fluo, normalization=Normalization("minmax"))
    assert out16[..., 0].max() == out16[..., 1].max() == 1.0  # each channel stretched


def test_channel_axis_first_matches_channels_last():
    rng = np.random.default_rng(5)
    chw = rng.integers(0, 3000, (3, 24, 32)).astype(np.uint16)
    np.testing.assert_array_equal(
        to_rgb(chw, channel_axis=0), to_rgb(np.moveaxis(chw, 0, -1), channel_axis=-1)
    )
    assert to_rgb(chw, channel_axis=0).shape == (24, 32, 3)


def test_two_channels_go_to_red_and_green_each_normalised():
    rng = np.random.default_rng(6)
    a = rng.integers(0, 100, (20, 30)).astype(np.uint16)
    image = np.stack([a, a * 10], axis=0)
    rgb = to_rgb(image, channel_axis=0)
    np.testing.assert_allclose(rgb[..., 0], rgb[..., 1], atol=1e-6)  # per-channel ranges
    np.testing.assert_array_equal(rgb[..., 2], 0)


def test_channels_pick_and_place():
    rng = np.random.default_rng(7)
    image = rng.random((5, 16, 16)).astype(np.float32)  # 5 fluorescence channels
    default = to_rgb(image, channel_axis=0)
    for slot in range(3):
        np.testing.assert_array_equal(default[..., slot], to_rgb(image[slot])[..., 0])
    picked = to_rgb(image, channel_axis=0, channels=(4, None, 1))
    np.testing.assert_array_equal(picked[..., 0], to_rgb(image[4])[..., 0])
    np.testing.assert_array_equal(picked[..., 1], 0)
    np.testing.assert_array_equal(picked[..., 2], to_rgb(image[1])[..., 0])
    grey = to_rgb(image, channel_axis=0, channels=3)
    np.testing.assert_array_equal(grey, to_rgb(image[3]))
    assert to_rgb(image, channel_axis=0, channels=[-1]).shape == (16, 16, 3)


def test_rgba_uint8_drops_alpha_and_single_channel_is_grey():
    rng = np.random.default_rng(8)
    rgba = rng.integers(0, 256, (10, 12, 4), dtype=np.uint8)
    np.testing.assert_array_equal(to_rgb(rgba), to_rgb(rgba[..., :3]))
    single = rng.random((10, 12, 1))
    np.testing.assert_array_equal(to_rgb(single), to_rgb(single[..., 0]))


def test_stats_reuse_a_range():
    rng = np.random.default_rng(9)
    a = rng.integers(0, 1000, (20, 20)).astype(np.uint16)
    b = a // 2
    stats = intensity_range(a)
    assert stats.shape == (1, 2)
    # with a shared range the darker image stays darker
    assert to_rgb(b, stats=stats).mean() < to_rgb(a, stats=stats).mean()
    np.testing.assert_array_equal(to_rgb(a, stats=stats), to_rgb(a, stats=stats[0]))
    assert intensity_range(a, normalization=Normalization("none")) is None


@pytest.mark.parametrize(
    ("image", "kwargs", "match"),
    [
        (np.zeros(10), {}, r"shape \(10,\)"),
        (np.zeros((2, 3, 4, 5)), {}, "FrameSource"),
        (np.zeros((5, 64, 64), np.uint16), {}, r"channel_axis.*z-stack or time series"),
        (np.zeros((8, 8, 4), np.uint16), {}, "RGBA only for uint8"),
        (np.zeros((0, 8)), {}, "empty"),
        (np.zeros((8, 8)), {"channel_axis": 0}, "is 2D"),
        (np.zeros((8, 8, 3)), {"channel_axis": 5}, "out of range"),
        (np.zeros((8, 8, 3)), {"channels": (0, 3)}, "out of range for 3 channels"),
        (np.zeros((8, 8, 3)), {"channels": (0, 1, 2, 0)}, "1 to 3"),
        (np.zeros((8, 8)), {"channels": 0}, "no channel axis"),
        (np.zeros((8, 8, 1)), {"channels": 1}, "out of range for 1 channels"),
        (np.zeros((8, 8)), {"stats": np.zeros((2, 2))}, r"shape \(1, 2\)"),
    ],
)
def test_to_rgb_rejects_bad_input(image, kwargs, match):
    with pytest.raises(ValueError, match=match):
        to_rgb(image, **kwargs)


def test_to_rgb_rejects_non_finite_values_and_counts_them():
    image = np.ones((10, 10), np.float32)
    image[0, :3] = np.nan
    image[1, 0] = np.inf
    with pytest.raises(ValueError, match="contains 4 NaN or infinite"):
        to_rgb(image)


def test_to_rgb_rejects_complex_and_object_dtypes():
    with pytest.raises(TypeError, match="Complex"):
        to_rgb(np.ones((4, 4), np.complex64))
    with pytest.raises(TypeError, match="dtype"):
        to_rgb(np.array([["a", "b"], ["c", "d"]]))


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"mode": "gamma"}, "unknown"),
        ({"mode": "fixed", "vmin": 1.0}, "vmin and vmax"),
        ({"mode": "fixed", "vmin": 5.0, "vmax": 5.0}, "vmin < vmax"),
        ({"low": 50.0, "high": 10.0}, "low < high"),
    ],
)
def test_normalization_validates(kwargs, match):
    with pytest.raises(ValueError, match=match):
        Normalization(**kwargs)


# ----------------------------------------------------------------------------- FrameSource


def _stack(seed=10, shape=(12, 24, 32), dtype=np.uint16) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.integers(0, 4000, shape).astype(dtype)


def test_frame_source_over_numpy():
    data = _stack()
    src = FrameSource(data)
    assert len(src) == 12
    assert src.shape_hw == (24, 32)
    assert src.dtype == np.uint16
    _assert_unit_rgb(src.frame(0), (24, 32))
    np.testing.assert_array_equal(src.frame(-1), src.frame(11))
    np.testing.assert_array_equal(src.raw(3), data[3])
    with pytest.raises(IndexError, match=r"-12 to 11"):
        src.frame(12)
    with pytest.raises(IndexError, match="out of range"):
        src.raw(-13)
    with pytest.raises(TypeError, match="integer"):
        src.frame(1.0)


def test_frame_source_normalises_consistently_across_frames():
    base = _stack(shape=(1, 20, 20))[0]
    data = np.stack([base * (k + 1) // 4 for k in range(4)]).astype(np.uint16)
    src = FrameSource(data)
    means = [src.frame(t).mean() for t in range(4)]
    assert means == sorted(means)
    assert means[0] < 0.5 * means[3]
    # each frame uses the same stack-wide range
    for t in range(4):
        np.testing.assert_array_equal(src.frame(t), to_rgb(data[t], stats=src.stats))


def test_frame_source_construction_reads_nothing_and_frames_read_one():
    data = CountingArray(_stack(dtype=np.uint8))
    src = FrameSource(data)
    assert data.reads == []
    src.frame(5)
    assert data.reads == [5]  # uint8 "auto" needs no statistics


def test_frame_source_samples_few_frames_once():
    data = CountingArray(_stack(shape=(100, 16, 16)))
    src = FrameSource(data, sample_frames=5)
    src.frame(40)
    assert data.reads[0] == 40  # the frame asked for, then the samples
    sampled = data.reads[1:]
    assert len(sampled) == 5
    assert sampled == sorted(sampled)
    assert sampled[0] == 0
    assert sampled[-1] == 99
    data.reads.clear()
    src.frame(41)
    src.frame(-1)
    assert data.reads == [41, 99]  # statistics are cached


def test_frame_source_with_given_stats_never_samples():
    data = CountingArray(_stack())
    src = FrameSource(data, stats=(0, 4000))
    src.frame(2)
    assert data.reads == [2]


def test_frame_source_over_dask_computes_only_one_frame():
    da = pytest.importorskip("dask.array")
    dask = pytest.importorskip("dask")
    data = _stack(shape=(6, 16, 20))
    calls: list[int] = []

    def load(t: int) -> np.ndarray:
        calls.append(t)
        return data[t]

    frames = [
        da.from_delayed(dask.delayed(load)(t), shape=data.shape[1:], dtype=data.dtype)
        for t in range(len(data))
    ]
    stack = da.stack(frames)
    src = FrameSource(stack, normalization=Normalization("fixed", vmin=0, vmax=4000))
    assert calls == []
    frame = src.frame(4)
    assert calls == [4]
    np.testing.assert_array_equal(frame, FrameSource(data, stats=(0, 4000)).frame(4))


def test_frame_source_over_zarr(tmp_path):
    zarr = pytest.importorskip("zarr")
    data = _stack(shape=(5, 16, 16, 2))
    store = str(tmp_path / "stack.zarr")
    z = zarr.create_array(store=store, shape=data.shape, chunks=(1, 16, 16, 2), dtype=data.dtype)
    z[:] = data
    src = FrameSource(zarr.open_array(store, mode="r"))
    ref = FrameSource(data)
    assert len(src) == 5
    assert src.shape_hw == (16, 16)
    for t in range(5):
        np.testing.assert_array_equal(src.frame(t), ref.frame(t))
    np.testing.assert_array_equal(src.frame(0)[..., 2], 0)  # two channels -> R, G


def test_frame_source_opens_a_long_zarr_without_reading(tmp_path):
    zarr = pytest.importorskip("zarr")
    z = zarr.create_array(
        store=str(tmp_path / "long.zarr"), shape=(2000, 64, 64), chunks=(1, 64, 64), dtype="uint16"
    )
    proxy = CountingArray(np.empty((0,), np.uint16))
    proxy.shape, proxy.dtype, proxy.ndim, proxy.data = z.shape, z.dtype, z.ndim, z
    src = FrameSource(proxy)
    assert len(src) == 2000
    assert proxy.reads == []
    np.testing.assert_array_equal(src.frame(1999), 0)  # unwritten chunks are fill value
    assert len(proxy.reads) <= 9


def test_frame_source_over_tifffile_memmap(tmp_path):
    tifffile = pytest.importorskip("tifffile")
    data = _stack(shape=(4, 20, 24))
    path = tmp_path / "stack.tif"
    tifffile.imwrite(path, data, imagej=True, metadata={"axes": "TYX"})
    mm = tifffile.memmap(path)
    src = FrameSource(mm)
    assert len(src) == 4
    assert src.shape_hw == (20, 24)
    ref = FrameSource(data)
    for t in range(4):
        np.testing.assert_array_equal(src.frame(t), ref.frame(t))
    np.testing.assert_array_equal(mm, data)  # not modified
    del mm


def test_frame_source_channel_axis_and_channels():
    data = _stack(shape=(3, 4, 16, 16))  # (T, C, H, W)
    src = FrameSource(data, channel_axis=1, channels=(3, 0))
    ref = FrameSource(np.moveaxis(data, 1, -1), channels=(3, 0), channel_axis=-1)
    assert src.shape_hw == (16, 16)
    assert src.raw(0).shape == (16, 16, 4)
    np.testing.assert_array_equal(src.frame(1), ref.frame(1))
    np.testing.assert_array_equal(src.frame(1)[..., 2], 0)
    grey = FrameSource(data, channel_axis=1, channels=2).frame(0)
    np.testing.assert_array_equal(grey[..., 0], grey[..., 1])


def test_frame_source_rgb_uint8_matches_to_rgb():
    rng = np.random.default_rng(11)
    video = rng.integers(0, 256, (3, 10, 12, 3), dtype=np.uint8)
    src = FrameSource(video)
    for t in range(3):
        np.testing.assert_array_equal(src.frame(t), to_rgb(video[t]))


@pytest.mark.parametrize(
    ("array", "kwargs", "error", "match"),
    [
        (np.zeros((8, 8)), {}, ValueError, r"image\[np.newaxis\]"),
        (np.zeros((2, 8, 8)), {"channel_axis": 1}, ValueError, "no channel axis"),
        (np.zeros((2, 3, 8, 8)), {}, ValueError, "last axis has 8"),
        (np.zeros((2, 8, 8, 3)), {"channel_axis": 0}, ValueError, "axis 0 is time"),
        (np.zeros((0, 8, 8)), {}, ValueError, "empty"),
        (np.zeros((2, 8, 8), np.complex64), {}, TypeError, "Complex"),
        ([[1, 2]], {}, TypeError, "no 'shape'"),
        (np.zeros((2, 8, 8)), {"sample_frames": 0}, ValueError, "sample_frames"),
        (np.zeros((2, 8, 8, 3)), {"channels": (0, 5)}, ValueError, "out of range"),
    ],
)
def test_frame_source_rejects_bad_input(array, kwargs, error, match):
    with pytest.raises(error, match=match):
        FrameSource(array, **kwargs)


def test_frame_source_reports_nan_frames():
    data = np.ones((3, 8, 8), np.float32)
    data[2, 0, 0] = np.nan
    src = FrameSource(data, stats=(0, 1))
    src.frame(0)
    with pytest.raises(ValueError, match="1 NaN"):
        src.frame(2)


# ----------------------------------------------------------------------------- resizing


def test_resize_matches_the_torchvision_pipeline_exactly():
    transforms = pytest.importorskip("torchvision.transforms")
    rng = np.random.default_rng(12)
    image = rng.integers(0, 256, (300, 200, 3), dtype=np.uint8)
    reference = transforms.Compose(
        [
            transforms.ToTensor(),
            transforms.Resize((128, 128)),
            transforms.Normalize(IMAGENET_MEAN, IMAGENET_STD),
        ]
    )(image)
    ours = resize_to_model(to_rgb(image), 128)
    assert ours.shape == (1, 3, 128, 128)
    assert ours.dtype == torch.float32
    assert (ours[0] - reference).abs().max().item() < 1e-5


def test_resize_skips_interpolation_at_model_size_and_keeps_input():
    rng = np.random.default_rng(13)
    rgb = rng.random((64, 64, 3)).astype(np.float32)
    before = rgb.copy()
    out = resize_to_model(rgb, 64)
    np.testing.assert_array_equal(rgb, before)
    mean = np.asarray(IMAGENET_MEAN, np.float32)
    std = np.asarray(IMAGENET_STD, np.float32)
    expected = ((rgb - mean) / std).transpose(2, 0, 1)
    np.testing.assert_allclose(out[0].numpy(), expected, atol=1e-6)
    tensor = torch.from_numpy(rgb.astype(np.float64))
    np.testing.assert_allclose(resize_to_model(tensor, 64).numpy(), out.numpy(), atol=1e-6)


def test_resize_batch_stacks_frames_of_any_size():
    rng = np.random.default_rng(14)
    frames = [rng.random((30, 50, 3)), rng.random((70, 20, 3)).astype(np.float32)]
    batch = resize_batch(frames, 32)
    assert batch.shape == (2, 3, 32, 32)
    assert batch.dtype == torch.float32
    torch.testing.assert_close(batch[1:], resize_to_model(frames[1], 32))
    with pytest.raises(ValueError, match="at least one"):
        resize_batch([], 32)


@pytest.mark.parametrize(
    "bad", [np.zeros((8, 8)), np.zeros((3, 8, 8)), np.zeros((8, 8, 3), np.uint8)]
)
def test_resize_rejects_wrong_layouts(bad):
    with pytest.raises(ValueError, match=r"\(H, W, 3\)"):
        resize_to_model(bad, 16)
