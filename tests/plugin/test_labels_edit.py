"""Overlap policies, napari's undo history, grouped edits and zarr-backed labels."""

import numpy as np
import pytest
from napari.layers import Labels

from napari_sam2.core import labels_edit
from napari_sam2.core.labels_edit import (
    EditGroup,
    max_label,
    new_labels_data,
    plan_plane,
    write_plane,
)
from napari_sam2.core.state import OverlapPolicy


@pytest.fixture
def plane():
    p = np.zeros((6, 6), np.int32)
    p[0:2, 0:2] = 7  # painted by hand
    p[4:6, 4:6] = 3  # object 3, earlier mask
    return p


def square(r0, r1, c0, c1, shape=(6, 6)):
    m = np.zeros(shape, bool)
    m[r0:r1, c0:c1] = True
    return m


def apply(plane, edit):
    out = plane.copy()
    out[edit.rows, edit.cols] = edit.values
    return out


def test_keep_protects_other_objects_and_replaces_own(plane):
    edit = plan_plane(plane, [(3, square(0, 4, 0, 4))], OverlapPolicy.KEEP)
    out = apply(plane, edit)
    assert (out[0:2, 0:2] == 7).all(), "hand-painted pixels survive"
    assert (out[4:6, 4:6] == 0).all(), "the object's old pixels are replaced"
    assert (out == 3).sum() == 16 - 4 and edit.kept == 4


def test_overwrite_wins_everywhere(plane):
    out = apply(plane, plan_plane(plane, [(3, square(0, 4, 0, 4))], "overwrite"))
    assert (out[0:4, 0:4] == 3).all() and (out[4:6, 4:6] == 0).all()


def test_only_empty_is_additive(plane):
    out = apply(plane, plan_plane(plane, [(3, square(0, 4, 0, 4))], "only_empty"))
    assert (out[0:2, 0:2] == 7).all() and (out[4:6, 4:6] == 3).all()
    assert (out == 3).sum() == 12 + 4


def test_only_changed_pixels_are_listed(plane):
    edit = plan_plane(plane, [(3, plane == 3)], OverlapPolicy.KEEP)
    assert edit.size == 0


def test_write_goes_through_napari_history(plane):
    layer = Labels(plane.copy())
    write_plane(layer, (slice(None), slice(None)), plan_plane(plane, [(9, square(2, 4, 2, 4))]))
    assert (layer.data[2:4, 2:4] == 9).all()
    (indices, _, _) = layer._undo_history[-1][0]
    assert all(ix.dtype.itemsize == 1 for ix in indices), "compact indices in the history"
    layer.undo()
    np.testing.assert_array_equal(layer.data, plane)
    layer.redo()
    assert (layer.data[2:4, 2:4] == 9).all()


def test_edit_group_is_one_undo_step_across_writes():
    layer = Labels(np.zeros((4, 6, 6), np.int32))
    before = len(layer._undo_history)
    group = EditGroup(layer).open()
    for t in range(4):
        current = np.asarray(layer.data[t])
        group.write(
            (t, slice(None), slice(None)), plan_plane(current, [(1, square(t, t + 2, 0, 3))])
        )
    group.close()
    assert len(layer._undo_history) == before + 1
    assert all((layer.data[t] == 1).any() for t in range(4))
    layer.undo()
    assert not layer.data.any()
    with pytest.raises(RuntimeError):
        group.write(
            (0, slice(None), slice(None)),
            plan_plane(np.zeros((6, 6), np.int32), [(1, square(0, 1, 0, 1))]),
        )


def test_edit_group_survives_a_paint_stroke_in_between():
    """A brush stroke (napari's _commit_stroke) in the middle loses nothing."""
    layer = Labels(np.zeros((3, 6, 6), np.int32))
    group = EditGroup(layer).open()
    group.write(
        (0, slice(None), slice(None)),
        plan_plane(np.asarray(layer.data[0]), [(1, square(0, 2, 0, 2))]),
    )
    layer._block_history = False  # what a finished brush stroke does
    layer._commit_staged_history()
    group.write(
        (1, slice(None), slice(None)),
        plan_plane(np.asarray(layer.data[1]), [(1, square(0, 2, 0, 2))]),
    )
    group.close()
    assert (layer.data[0:2, 0:2, 0:2] == 1).all()
    assert not layer._block_history
    layer.undo()
    layer.undo()
    assert not layer.data.any()


def test_big_labels_are_zarr_on_disk_and_undoable(monkeypatch):
    data = new_labels_data((3, 8, 8), threshold_bytes=10)
    assert not isinstance(data, np.ndarray) and data.chunks == (1, 8, 8)
    layer = Labels(data)
    write_plane(
        layer,
        (1, slice(None), slice(None)),
        plan_plane(np.asarray(data[1]), [(5, square(1, 3, 1, 3, (8, 8)))]),
    )
    assert max_label(layer.data) == 5
    layer.undo()
    assert max_label(layer.data) == 0
    assert isinstance(new_labels_data((3, 8, 8)), np.ndarray)
    assert labels_edit.ZARR_THRESHOLD_BYTES >= 1 << 20
