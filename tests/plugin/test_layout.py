"""Axes of image layers, planes, and lazy frames that read one plane at a time."""

import dask.array as da
import numpy as np
import pytest
from napari.layers import Image

from napari_sam2.core.layout import ImageLayout, LazyFrames, labels_transform
from napari_sam2.core.state import PlaneKey


class CountingArray:
    """An array-like that counts how many planes are read (through dask chunks)."""

    def __init__(self, array):
        self.array, self.shape, self.dtype, self.ndim = array, array.shape, array.dtype, array.ndim
        self.reads = []

    def __getitem__(self, index):
        out = self.array[index]
        if out.size:  # dask also asks for empty slices to learn the dtype
            self.reads.append(index)
        return out


def counting_dask(array, chunks):
    source = CountingArray(array)
    return da.from_array(source, chunks=chunks, asarray=True, lock=False), source


def test_2d_layout():
    lay = ImageLayout.from_layer(Image(np.zeros((20, 30))))
    assert lay.stack_axis is None and lay.n_frames == 1 and not lay.is_stack
    assert lay.plane_shape == (20, 30)
    assert lay.plane_at([5.4, 7.6]) == PlaneKey(0, ())
    assert lay.default_labels_shape() == (20, 30)


def test_stack_and_3d_plus_t():
    lay = ImageLayout.from_layer(Image(np.zeros((5, 20, 30))))
    assert lay.stack_axis == 0 and lay.is_stack and lay.fixed_axes == ()
    assert lay.plane_at([3.6, 0, 0]) == PlaneKey(4, ())
    assert lay.plane_at([9, 0, 0]) == PlaneKey(4, ())  # clipped
    lay4 = ImageLayout.from_layer(Image(np.zeros((4, 3, 20, 30))), stack_axis=0)
    assert lay4.fixed_axes == (1,)
    plane = lay4.plane_at([2, 1.2, 5, 5])
    assert plane == PlaneKey(2, ((1, 1),))
    assert lay4.labels_index((4, 3, 20, 30), plane) == (2, 1, slice(None), slice(None))
    # tracking z instead: t stays at the slider
    lay_z = ImageLayout.from_layer(Image(np.zeros((4, 3, 20, 30))), stack_axis=1, stack_kind="z")
    assert lay_z.plane_at([2, 1, 5, 5]) == PlaneKey(1, ((0, 2),))


def test_rgb_and_channel_axes():
    rgb = ImageLayout.from_layer(Image(np.zeros((6, 20, 30, 3), np.uint8), rgb=True))
    assert rgb.shape == (6, 20, 30) and rgb.rgb and rgb.stack_axis == 0
    chan0 = ImageLayout.from_layer(Image(np.zeros((2, 5, 20, 30))), channel_axis=0)
    assert chan0.stack_axis == 1 and chan0.default_labels_shape() == (5, 20, 30)
    assert chan0.labels_index((5, 20, 30), PlaneKey(3, ())) == (3, slice(None), slice(None))
    mid = ImageLayout.from_layer(Image(np.zeros((5, 2, 20, 30))), channel_axis=1)
    assert mid.default_labels_shape() == (5, 1, 20, 30)
    assert mid.labels_index((5, 1, 20, 30), PlaneKey(3, ())) == (3, 0, slice(None), slice(None))
    tf = labels_transform(mid, Image(np.zeros((5, 2, 20, 30))), 4)
    assert tf["scale"][1] == 2 and tf["translate"][1] == 0.5  # spans both channels


@pytest.mark.parametrize(
    ("shape", "kwargs", "match"),
    [
        ((10,), {}, "at least 2 axes"),
        ((0, 5), {}, "empty"),
        ((3, 5, 6), {"channel_axis": 2}, "displayed axes"),
        ((3, 4, 5, 6), {"channel_axis": 0, "stack_axis": 0}, "both"),
    ],
)
def test_bad_layouts_are_explained(shape, kwargs, match):
    with pytest.raises(ValueError, match=match):
        ImageLayout(shape=shape, **kwargs)


def test_labels_shape_check_names_the_fix():
    lay = ImageLayout(shape=(5, 20, 30), stack_axis=0)
    with pytest.raises(ValueError, match=r"needs \(5, 20, 30\)"):
        lay.check_labels_shape((20, 30))


def test_lazy_frames_read_one_plane_and_move_channels_last():
    data = np.arange(2 * 4 * 3 * 5, dtype=np.uint16).reshape(2, 4, 3, 5)  # (C, T, H, W)
    lay = ImageLayout.from_layer(Image(data), channel_axis=0)
    frames = LazyFrames(data, lay, ())
    assert frames.shape == (4, 3, 5, 2) and frames.ndim == 4
    np.testing.assert_array_equal(frames[1], np.moveaxis(data[:, 1], 0, -1))
    with pytest.raises(TypeError):
        frames[0:2]


def test_lazy_frames_over_dask_compute_only_requested_planes():
    movie = np.random.default_rng(0).integers(0, 1000, (10, 3, 16, 16), dtype=np.uint16)
    arr, source = counting_dask(movie, chunks=(1, 1, 16, 16))
    lay = ImageLayout.from_layer(Image(arr), stack_axis=0)
    source.reads.clear()  # napari read a plane for its contrast limits
    frames = lay.frames(arr, PlaneKey(0, ((1, 2),)))
    np.testing.assert_array_equal(frames[7], movie[7, 2])
    assert len(source.reads) == 1
