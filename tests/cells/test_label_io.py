"""(T, H, W) stacks on disk: lazy readers, atomic writers, clear errors."""

from __future__ import annotations

import numpy as np
import pytest
import tifffile
import zarr

from sam2_cells import read_image_stack, read_label_stack, write_label_stack


@pytest.fixture()
def labels() -> np.ndarray:
    rng = np.random.default_rng(0)
    return rng.integers(0, 40, size=(5, 24, 32)).astype(np.uint16)


@pytest.mark.parametrize("name", ["labels.tif", "labels.zarr"])
def test_label_stacks_round_trip(tmp_path, labels, name):
    path = write_label_stack(labels, tmp_path / name)
    back = read_label_stack(path)
    assert back.shape == labels.shape and back.dtype == labels.dtype
    np.testing.assert_array_equal(np.asarray(back[:]), labels)
    assert sorted(p.name for p in tmp_path.iterdir()) == [name]  # no temporary left


def test_tiff_is_memory_mapped_and_zarr_chunked_per_frame(tmp_path, labels):
    write_label_stack(labels, tmp_path / "l.tif")
    assert isinstance(read_label_stack(tmp_path / "l.tif"), np.memmap)
    write_label_stack(labels, tmp_path / "l.zarr")
    z = read_label_stack(tmp_path / "l.zarr")
    assert isinstance(z, zarr.Array) and z.chunks == (1, 24, 32)


def test_writing_replaces_only_on_success(tmp_path, labels):
    path = write_label_stack(labels, tmp_path / "l.tif")
    before = path.read_bytes()

    class Broken:
        shape, dtype = labels.shape, labels.dtype

        def __getitem__(self, t):
            if t == 2:
                raise RuntimeError("read error")
            return labels[t]

    for target in ("l.tif", "new.zarr"):
        with pytest.raises(RuntimeError):
            write_label_stack(Broken(), tmp_path / target)
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["l.tif"]
    with pytest.raises(ValueError, match="integers"):
        write_label_stack(labels.astype(np.float32), tmp_path / "f.tif")
    with pytest.raises(ValueError, match=r"\.tif, \.tiff or \.zarr"):
        write_label_stack(labels, tmp_path / "l.png")


def test_compressed_tiff_and_frame_folders_are_read_lazily(tmp_path, labels):
    tifffile.imwrite(tmp_path / "c.tif", labels, compression="zlib")
    stack = read_image_stack(tmp_path / "c.tif")
    assert not isinstance(stack, np.ndarray) and stack.shape == labels.shape
    np.testing.assert_array_equal(np.asarray(stack[3]), labels[3])
    folder = tmp_path / "01"
    folder.mkdir()
    for t, frame in enumerate(labels):
        tifffile.imwrite(folder / f"t{t:03d}.tif", frame)
    frames = read_image_stack(folder)
    assert frames.shape == labels.shape
    np.testing.assert_array_equal(frames[2], labels[2])


def test_singleton_axes_are_dropped(tmp_path, labels):
    tifffile.imwrite(tmp_path / "tc.tif", labels[:, None], imagej=True, metadata={"axes": "TCYX"})
    assert read_image_stack(tmp_path / "tc.tif").shape == labels.shape
    z = zarr.create_array(
        store=str(tmp_path / "ome.zarr"),
        shape=(5, 1, 1, 24, 32),
        chunks=(1, 1, 1, 24, 32),
        dtype="uint16",
    )
    z[:] = labels[:, None, None]
    stack = read_image_stack(tmp_path / "ome.zarr")
    assert stack.shape == labels.shape
    np.testing.assert_array_equal(np.asarray(stack[1]), labels[1])


@pytest.mark.parametrize(
    ("make", "words"),
    [
        (lambda p: tifffile.imwrite(p / "x.tif", np.zeros((8, 8), np.uint16)), "single frame"),
        (lambda p: tifffile.imwrite(p / "x.tif", np.zeros((2, 8, 8, 3), np.uint8)), "colour"),
        (lambda p: (p / "x.tif").write_bytes(b"not a tiff at all"), "cannot read it as a TIFF"),
        (lambda p: tifffile.imwrite(p / "x.tif", np.zeros((0, 8, 8), np.uint16)), "empty"),
        (lambda p: (p / "x.png").write_bytes(b""), "not a TIFF file"),
    ],
)
@pytest.mark.filterwarnings("ignore:.*zero-size array")
def test_bad_stacks_raise_clear_errors(tmp_path, make, words):
    make(tmp_path)
    path = next(tmp_path.iterdir())
    with pytest.raises(ValueError, match=words):
        read_image_stack(path)


def test_more_bad_stacks(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        read_image_stack(tmp_path / "missing.tif")
    z = zarr.create_array(store=str(tmp_path / "e.zarr"), shape=(0, 8, 8), dtype="uint16")
    assert z.shape[0] == 0
    with pytest.raises(ValueError, match="empty"):
        read_image_stack(tmp_path / "e.zarr")
    group = zarr.open_group(str(tmp_path / "g.zarr"), mode="w")
    group.create_array("a", shape=(2, 4, 4), dtype="uint8")
    group.create_array("b", shape=(2, 4, 4), dtype="uint8")
    with pytest.raises(ValueError, match="holds 2 arrays"):
        read_image_stack(tmp_path / "g.zarr")
    (tmp_path / "broken.zarr").mkdir()
    (tmp_path / "broken.zarr" / "zarr.json").write_text("{not json")
    with pytest.raises(ValueError, match="cannot open it as a zarr store"):
        read_image_stack(tmp_path / "broken.zarr")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="no numbered TIFF frames"):
        read_image_stack(tmp_path / "empty")
    tifffile.imwrite(tmp_path / "f.tif", np.zeros((2, 4, 4), np.float32))
    with pytest.raises(ValueError, match="labels must be integers"):
        read_label_stack(tmp_path / "f.tif")


def test_new_label_stack_is_numpy_or_zarr_by_size():
    from sam2_cells import new_label_stack

    small = new_label_stack((3, 8, 8))
    assert isinstance(small, np.ndarray) and small.dtype == np.int32 and not small.any()
    big = new_label_stack((3, 8, 8), in_memory_bytes=10)
    assert isinstance(big, zarr.Array) and big.chunks == (1, 8, 8) and big.dtype == np.int32
    big[1] = np.ones((8, 8), np.int32)
    assert int(np.asarray(big[1]).sum()) == 64 and not np.asarray(big[0]).any()
