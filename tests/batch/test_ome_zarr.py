"""OME-Zarr: multiscale reading, level choice, coordinates back to level 0, labels groups."""

from __future__ import annotations

import numpy as np
import pytest

import sam2_batch as sb
from tests.batch.conftest import blobs, write_ome, write_plate


@pytest.mark.parametrize("version", ["0.4", "0.5"])
def test_levels_and_coordinates(tmp_path, version):
    data = np.stack([blobs(3, 64)], axis=1)  # (t, c, y, x)
    image = sb.open_ome_image(write_ome(tmp_path / "img.ome.zarr", data, "tcyx", version))
    assert image.axes == ("t", "c", "y", "x") and image.version == version
    assert [lv.shape for lv in image.levels] == [(3, 1, 64, 64), (3, 1, 32, 32), (3, 1, 16, 16)]
    assert [lv.factor for lv in image.levels] == [(1.0, 1.0), (2.0, 2.0), (4.0, 4.0)]
    np.testing.assert_array_equal(np.asarray(image.array(0)), data)
    assert image.array(2).shape == (3, 1, 16, 16)
    # objects of 80 px keep >= 20 px at factor 4; of 30 px only at level 0
    assert image.choose_level(80) == 2 and image.choose_level(50) == 1
    assert image.choose_level(30) == 0 and image.choose_level(None) == 0
    assert image.choose_level(80, min_side=32) == 1  # level 2 (16 px) is too small
    # level-2 pixel (row 2, col 5) covers level-0 rows 8..11, cols 20..23: centre 9.5, 21.5
    np.testing.assert_allclose(image.to_level0([[2, 5]], 2), [[9.5, 21.5]])
    small = np.zeros((3, 16, 16), np.int32)
    small[:, 2, 5] = 7
    full = np.asarray(image.labels_to_level0(small, 2))
    assert full.shape == (3, 64, 64)
    assert set(zip(*np.nonzero(full[0]), strict=True)) == {
        (r, c) for r in range(8, 12) for c in range(20, 24)
    }
    with pytest.raises(ValueError, match="level 3 does not exist"):
        image.array(3)


@pytest.mark.parametrize("version", ["0.4", "0.5"])
def test_labels_group_round_trip(tmp_path, version):
    from ome_zarr.io import parse_url
    from ome_zarr.reader import Label, Reader

    path = write_ome(tmp_path / "img.ome.zarr", np.stack([blobs(2, 64)], 1), "tcyx", version)
    image = sb.open_ome_image(path)
    labels = np.zeros((2, 64, 64), np.int32)  # no channel axis: it is added (size 1)
    labels[:, 10:20, 30:44] = 3
    props = [{"label-value": 3, "parent": 0, "first-frame": 0, "last-frame": 1}]
    written = sb.write_ome_labels(image, labels, "sam2", properties=props)
    sb.write_ome_labels(image, labels + (labels > 0), "sam2", properties=props)  # replaces
    assert written == path / "labels" / "sam2"

    nodes = list(Reader(parse_url(str(path)))())
    label_nodes = [n for n in nodes if any(isinstance(s, Label) for s in n.specs)]
    assert len(label_nodes) == 1
    node = label_nodes[0]
    assert [tuple(d.shape) for d in node.data] == [lv.shape for lv in image.levels]
    np.testing.assert_array_equal(np.asarray(node.data[0])[:, 0], labels + (labels > 0))
    # coarser levels: the nearest level-0 pixel to each pixel centre (no label invented)
    centres = (labels + (labels > 0))[..., 2::4, 2::4]
    np.testing.assert_array_equal(np.asarray(node.data[2])[:, 0], centres)
    assert node.metadata["properties"] == {3: {"parent": 0, "first-frame": 0, "last-frame": 1}}
    labels_group = sb.open_ome_image(written)
    assert labels_group.axes == image.axes
    # the labels list names the label image once, even after a rewrite
    import zarr

    attrs = zarr.open_group(str(path / "labels"), mode="r").attrs.asdict()
    assert attrs.get("ome", attrs)["labels"] == ["sam2"]
    assert not [p for p in (path / "labels").iterdir() if p.name.startswith(".sam2")]


def test_bad_labels_are_refused(tmp_path):
    image = sb.open_ome_image(write_ome(tmp_path / "i.zarr", blobs(2, 32), "tyx"))
    with pytest.raises(ValueError, match="do not fit image"):
        sb.write_ome_labels(image, np.zeros((2, 30, 32), np.int32), "x")
    with pytest.raises(ValueError, match="integers"):
        sb.write_ome_labels(image, np.zeros((2, 32, 32), np.float32), "x")
    with pytest.raises(ValueError, match="plain folder name"):
        sb.write_ome_labels(image, np.zeros((2, 32, 32), np.int32), "../x")
    assert not (tmp_path / "i.zarr" / "labels").exists()


def test_plate_is_listed_and_refused_as_image(tmp_path):
    path = write_plate(tmp_path / "plate.ome.zarr", {"A/1": blobs(2, 32), "B/3": blobs(2, 32)})
    assert sb.plate_images(path) == ["A/1/0", "B/3/0"]
    assert sb.plate_images(path / "A" / "1") == ["0"]
    with pytest.raises(ValueError, match="is an OME-Zarr plate, not an image"):
        sb.open_ome_image(path)
    from sam2_batch.inputs import expand_inputs

    items = expand_inputs([str(path), str(tmp_path / "nothing_*.tif")])
    assert [(i.name, i.ome, i.error) for i in items[:2]] == [
        ("plate_A_1_0", True, None),
        ("plate_B_3_0", True, None),
    ]
    assert items[2].error == f"{tmp_path / 'nothing_*.tif'} matches no file"
    assert sb.is_ome_zarr(path) and not sb.is_ome_zarr(tmp_path)
