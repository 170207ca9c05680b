"""Which autosave chunks an edit touched, from napari's undo history atoms."""

from collections import namedtuple

import numpy as np

from napari_sam2.core.dirty_chunks import (
    all_chunks,
    atom_chunks,
    box_chunks,
    chunk_shape,
    chunk_slices,
    index_chunks,
)


def test_the_chunks_of_scattered_pixels_are_exactly_theirs():
    rng = np.random.default_rng(0)
    idx = (rng.integers(0, 5, 500), rng.integers(0, 3000, 500), rng.integers(0, 2000, 500))
    expected = {(t, r // 512, c // 512) for t, r, c in np.stack(idx, 1).tolist()}
    assert index_chunks(idx, (1, 512, 512)) == expected
    assert index_chunks((np.zeros(0, int), np.zeros(0, int)), (512, 512)) == set()


def test_boxes_masks_and_unknown_atoms():
    assert box_chunks([(0, 1), (500, 530), (10, 20)], (1, 512, 512)) == {(0, 0, 0), (0, 1, 0)}
    atom = namedtuple("Atom", "slice_key mask old_values new_value")
    mask_atom = atom((slice(2, 3), slice(0, 600), slice(0, 10)), None, None, 1)
    assert atom_chunks(mask_atom, (1, 512, 512)) == {(2, 0, 0), (2, 1, 0)}
    rows, cols = np.array([0, 1000]), np.array([0, 5])
    assert atom_chunks(((rows, cols), None, None), (512, 512)) == {(0, 0), (1, 0)}
    assert atom_chunks("something else", (512, 512)) is None


def test_chunks_cover_an_array_once():
    shape = (2, 700, 1100)
    chunks = chunk_shape(shape)
    assert chunks == (1, 512, 512)
    cover = np.zeros(shape, int)
    for key in all_chunks(shape, chunks):
        cover[chunk_slices(key, shape, chunks)] += 1
    assert (cover == 1).all()
