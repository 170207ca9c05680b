"""CTC result and ground-truth folders: exact round trip, atomic writes, validation."""

from __future__ import annotations

import numpy as np
import pytest
import tifffile

from sam2_cells import (
    LineageError,
    TrackRecord,
    ctc_validate,
    find_ctc_sequences,
    read_ctc_ground_truth,
    read_ctc_results,
    read_track_file,
    write_ctc_dataset,
    write_ctc_ground_truth,
    write_ctc_results,
)
from sam2_cells.ctc_results import frame_digits


class FailingStack:
    """A (T, H, W) array-like that raises on one frame, like a crash or Ctrl-C mid-write."""

    def __init__(self, labels: np.ndarray, fail_at: int, error: BaseException) -> None:
        self.labels, self.fail_at, self.error = labels, fail_at, error
        self.shape, self.dtype = labels.shape, labels.dtype

    def __getitem__(self, t: int) -> np.ndarray:
        if t == self.fail_at:
            raise self.error
        return self.labels[t]


def siblings(path):
    return sorted(p.name for p in path.parent.iterdir())


def test_round_trip_is_exact(tmp_path, sequence):
    out = write_ctc_results(sequence.labels, sequence.tracks, tmp_path / "01_RES")
    names = sorted(p.name for p in out.iterdir())
    assert names == [f"mask{t:03d}.tif" for t in range(16)] + ["res_track.txt"]
    assert tifffile.imread(out / "mask000.tif").dtype == np.uint16
    labels, tracks = read_ctc_results(out)
    assert labels.shape == sequence.labels.shape and labels.dtype == np.uint16
    np.testing.assert_array_equal(np.asarray(labels), sequence.labels)
    assert tracks == sequence.tracks
    assert ctc_validate(out) == []


def test_labels_are_read_frame_by_frame_from_dask_and_zarr(tmp_path, sequence):
    import dask.array as da
    import zarr

    lazy = da.from_array(sequence.labels, chunks=(1, 96, 96))
    write_ctc_results(lazy, sequence.tracks, tmp_path / "a")
    z = zarr.create_array(
        store=str(tmp_path / "l.zarr"),
        shape=sequence.labels.shape,
        chunks=(1, 96, 96),
        dtype="int32",
    )
    z[:] = sequence.labels
    write_ctc_results(z, sequence.tracks, tmp_path / "b")
    for name in ("a", "b"):
        labels, tracks = read_ctc_results(tmp_path / name)
        np.testing.assert_array_equal(labels[3:7], sequence.labels[3:7])
        assert tracks == sequence.tracks


def test_track_file_lines_are_l_b_e_p(tmp_path, tiny):
    labels, tracks = tiny
    out = write_ctc_results(labels, tracks[::-1], tmp_path / "res")
    assert (out / "res_track.txt").read_text() == "1 0 2 0\n2 3 5 1\n3 3 5 1\n4 0 5 0\n"
    assert read_track_file(out / "res_track.txt") == tracks


def test_frame_numbers_get_more_digits_past_1000_frames(tmp_path):
    assert [frame_digits(n) for n in (1, 10, 1000, 1001, 10001)] == [3, 3, 3, 4, 5]
    labels = np.zeros((1001, 2, 2), dtype=np.uint16)
    labels[:, 0, 0] = 1
    out = write_ctc_results(labels, [TrackRecord(1, 0, 1000, 0)], tmp_path / "long")
    assert (out / "mask0000.tif").is_file() and (out / "mask1000.tif").is_file()
    back, _ = read_ctc_results(out)
    assert len(back) == 1001 and back[1000][0, 0] == 1


@pytest.mark.parametrize("error", [RuntimeError("disk full"), KeyboardInterrupt()])
def test_a_failure_mid_write_leaves_nothing(tmp_path, tiny, error):
    labels, tracks = tiny
    out = tmp_path / "res"
    with pytest.raises(type(error)):
        write_ctc_results(FailingStack(labels, 3, error), tracks, out)
    assert siblings(out) == []  # neither the result nor a temporary folder


@pytest.mark.parametrize("error", [RuntimeError("disk full"), KeyboardInterrupt()])
def test_a_failure_leaves_the_previous_result_intact(tmp_path, tiny, sequence, error):
    labels, tracks = tiny
    out = write_ctc_results(sequence.labels, sequence.tracks, tmp_path / "res")
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    with pytest.raises(type(error)):
        write_ctc_results(FailingStack(labels, 4, error), tracks, out)
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    assert siblings(out) == ["res"]


def test_a_new_result_replaces_the_old_one_on_success(tmp_path, tiny, sequence):
    out = write_ctc_results(sequence.labels, sequence.tracks, tmp_path / "res")
    labels, tracks = tiny
    write_ctc_results(labels, tracks, out)
    back, back_tracks = read_ctc_results(out)
    assert back.shape == labels.shape and back_tracks == tracks
    assert len(list(out.glob("mask*.tif"))) == 6
    assert siblings(out) == ["res"]


def test_labels_above_uint16_are_refused(tmp_path, tiny):
    labels, tracks = tiny
    big = labels.copy()
    big[big == 4] = 70000
    tracks = [*tracks[:3], TrackRecord(70000, 0, 5, 0)]
    with pytest.raises(ValueError, match="label 70000, above 65535"):
        write_ctc_results(big, tracks, tmp_path / "res")
    assert siblings(tmp_path / "res") == []


def test_an_invalid_lineage_is_refused_before_anything_appears(tmp_path, tiny):
    labels, tracks = tiny
    with pytest.raises(LineageError, match="track 2: begins at frame 3 but its parent 1 ends"):
        write_ctc_results(labels, [tracks[0]._replace(end=3), *tracks[1:]], tmp_path / "res")
    assert siblings(tmp_path / "res") == []


def test_bad_targets_and_inputs_are_refused(tmp_path, tiny):
    labels, tracks = tiny
    (tmp_path / "file").write_text("x")
    with pytest.raises(NotADirectoryError, match="is a file"):
        write_ctc_results(labels, tracks, tmp_path / "file")
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "notes.txt").write_text("keep me")
    with pytest.raises(FileExistsError, match=r"notes\.txt"):
        write_ctc_results(labels, tracks, tmp_path / "data")
    assert (tmp_path / "data" / "notes.txt").read_text() == "keep me"
    with pytest.raises(ValueError, match="integers"):
        write_ctc_results(labels.astype(float), tracks, tmp_path / "res")
    with pytest.raises(ValueError, match="3 dimensions"):
        write_ctc_results(labels[0], tracks, tmp_path / "res")


def test_ground_truth_round_trip_and_the_dataset_writer_agree(tmp_path, sequence):
    gt = write_ctc_ground_truth(sequence.labels, sequence.tracks, tmp_path / "01_GT")
    assert sorted(p.name for p in gt.iterdir()) == ["SEG", "TRA"]
    assert len(list((gt / "SEG").glob("man_seg*.tif"))) == 16
    labels, tracks = read_ctc_ground_truth(gt)
    np.testing.assert_array_equal(np.asarray(labels), sequence.labels)
    assert tracks == sequence.tracks
    root = write_ctc_dataset(sequence.movie, sequence.labels, sequence.tracks, tmp_path / "set")
    (seq,) = find_ctc_sequences(root)
    labels2, tracks2 = read_ctc_ground_truth(seq.track_file.parent)
    np.testing.assert_array_equal(np.asarray(labels2), sequence.labels)
    assert tracks2 == sequence.tracks


def test_ground_truth_segmentation_can_cover_some_frames(tmp_path, tiny):
    labels, tracks = tiny
    gt = write_ctc_ground_truth(labels, tracks, tmp_path / "gt", seg_frames=[0, 4])
    assert sorted(p.name for p in (gt / "SEG").iterdir()) == ["man_seg000.tif", "man_seg004.tif"]


def test_validation_explains_a_broken_result(tmp_path, tiny):
    labels, tracks = tiny
    out = write_ctc_results(labels, tracks, tmp_path / "res")
    (out / "res_track.txt").write_text("1 0 2 0\n2 3 5 1\n3 3 5 1\n4 0 3 0\n")
    problems = ctc_validate(out)
    assert any("track 4: label present in frame(s) 4, 5 outside its span" in p for p in problems)
    assert any(p.startswith("ctc_metrics: the result is not valid") for p in problems)


def test_reading_reports_missing_and_malformed_files(tmp_path, tiny):
    labels, tracks = tiny
    out = write_ctc_results(labels, tracks, tmp_path / "res")
    (out / "mask003.tif").unlink()
    with pytest.raises(ValueError, match="missing frame"):
        read_ctc_results(out)
    out = write_ctc_results(labels, tracks, tmp_path / "res2")
    (out / "res_track.txt").write_text("1 0 2\n")
    with pytest.raises(ValueError, match="line 1"):
        read_ctc_results(out)
    (out / "res_track.txt").unlink()
    with pytest.raises(FileNotFoundError, match=r"res_track\.txt"):
        read_ctc_results(out)
    with pytest.raises(FileNotFoundError):
        read_ctc_results(tmp_path / "nowhere")
