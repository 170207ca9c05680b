"""Tracking seeds: auto, a label image of frame 0 or points, checked against the movie."""

from __future__ import annotations

import numpy as np
import pytest
import tifffile

from sam2_cells import Seeds, read_seeds

SHAPE = (5, 24, 32)


def test_seeds_auto_labels_and_points(tmp_path):
    assert read_seeds("auto", SHAPE).kind == "auto" and read_seeds(None, SHAPE).kind == "auto"
    assert repr(Seeds("auto")) == "Seeds(auto)"
    seed = np.zeros(SHAPE[1:], np.uint16)
    seed[2:6, 3:7] = 1
    tifffile.imwrite(tmp_path / "s.tif", seed)
    got = read_seeds(tmp_path / "s.tif", SHAPE)
    assert got.kind == "labels" and got.source == tmp_path / "s.tif"
    np.testing.assert_array_equal(got.labels, seed)
    (tmp_path / "p.csv").write_text("t,y,x\n0,3,4\n4,23,31.0\n")
    np.testing.assert_array_equal(
        read_seeds(tmp_path / "p.csv", SHAPE).points, [[0, 3, 4], [4, 23, 31]]
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("y,x\n3,4\n", [[0, 3, 4]]),
        ("x,y,frame\n4,3,2\n", [[2, 3, 4]]),
        ("index,axis-0,axis-1,axis-2\n0,1.0,3.0,4.0\n", [[1, 3, 4]]),  # napari's export
        ("1,3,4\n2,5,6\n", [[1, 3, 4], [2, 5, 6]]),
        ("3,4\n", [[0, 3, 4]]),
    ],
)
def test_point_files_in_several_layouts(tmp_path, text, expected):
    (tmp_path / "p.csv").write_text(text)
    np.testing.assert_array_equal(read_seeds(tmp_path / "p.csv", SHAPE).points, expected)


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("t,y,x\n5,3,4\n", "line 2: frame t=5 is not a frame 0..4"),
        ("t,y,x\n0,24,4\n", "outside the 24x32 frame"),
        ("t,y,x\n0.5,3,4\n", "t=0.5"),
        ("a,b\n1,2\n", "no y and x columns"),
        ("t,y,x\n0,three,4\n", "line 2"),
        ("t,y,x\n", "no points"),
        ("1,2,3,4\n", "4 values without a header"),
    ],
)
def test_bad_point_files_name_the_problem(tmp_path, text, words):
    (tmp_path / "p.csv").write_text(text)
    with pytest.raises(ValueError, match=words):
        read_seeds(tmp_path / "p.csv", SHAPE)


def test_bad_seed_label_images_name_the_problem(tmp_path):
    tifffile.imwrite(tmp_path / "small.tif", np.ones((10, 10), np.uint16))
    with pytest.raises(ValueError, match="10x10 but the stack's frames are 24x32"):
        read_seeds(tmp_path / "small.tif", SHAPE)
    tifffile.imwrite(tmp_path / "empty.tif", np.zeros(SHAPE[1:], np.uint16))
    with pytest.raises(ValueError, match="empty"):
        read_seeds(tmp_path / "empty.tif", SHAPE)
    tifffile.imwrite(tmp_path / "stack.tif", np.ones((2, 24, 32), np.uint16))
    with pytest.raises(ValueError, match="one \\(H, W\\) frame"):
        read_seeds(tmp_path / "stack.tif", SHAPE)
    with pytest.raises(FileNotFoundError):
        read_seeds(tmp_path / "nope.tif", SHAPE)
    (tmp_path / "s.json").write_text("{}")
    with pytest.raises(ValueError, match="'auto', a label image"):
        read_seeds(tmp_path / "s.json", SHAPE)
