"""The napari-sam2 command line: score output, track input checks, the tracker hook."""

from __future__ import annotations

import json
import sys
import types

import numpy as np
import pytest
import tifffile

from sam2_cells import (
    read_ctc_results,
    tracks_from_labels,
    write_ctc_ground_truth,
    write_ctc_results,
)
from sam2_cells.cli import TRACKER_MODULE, main


@pytest.fixture()
def folders(tmp_path, sequence):
    res = write_ctc_results(sequence.labels, sequence.tracks, tmp_path / "01_RES")
    gt = write_ctc_ground_truth(sequence.labels, sequence.tracks, tmp_path / "01_GT")
    return res, gt


def test_score_prints_a_table(folders, capsys):
    assert main(["score", str(folders[0]), str(folders[1])]) == 0
    out = capsys.readouterr().out
    lines = dict(line.split(None, 1) for line in out.splitlines())
    for name in ("DET", "SEG", "TRA", "LNK", "BC(1)", "BIO(1)"):
        assert float(lines[name]) == pytest.approx(1.0), name
    assert "AOGM_FN" not in out


def test_score_prints_json(folders, capsys):
    assert main(["score", str(folders[0]), str(folders[1]), "--json", "--all"]) == 0
    values = json.loads(capsys.readouterr().out)
    assert values["TRA"] == pytest.approx(1.0) and values["AOGM_FN"] == 0
    assert values["CCA"] is None or isinstance(values["CCA"], float)


def test_score_errors_are_one_line_on_stderr(tmp_path, folders, capsys):
    assert main(["score", str(tmp_path / "missing"), str(folders[1])]) == 1
    err = capsys.readouterr().err
    assert err.startswith("napari-sam2 score: error:") and "missing" in err
    assert "Traceback" not in err and err.count("\n") == 1


def test_usage_errors_and_help(capsys):
    assert main([]) == 2
    assert main(["track", "movie.tif"]) == 2  # --out is required
    assert "--out" in capsys.readouterr().err
    assert main(["--help"]) == 0
    assert "track" in capsys.readouterr().out


@pytest.fixture()
def movie(tmp_path, sequence):
    path = tmp_path / "movie.tif"
    tifffile.imwrite(path, sequence.movie)
    return path


def bad_input_cases(tmp_path, sequence):
    """(arguments, words in the message) for every kind of bad input of ``track``."""
    tifffile.imwrite(tmp_path / "frame.tif", sequence.movie[0])
    (tmp_path / "garbage.tif").write_bytes(b"\x00" * 64)
    tifffile.imwrite(tmp_path / "rgb.tif", np.zeros((3, 8, 8, 3), np.uint8))
    import zarr

    zarr.create_array(store=str(tmp_path / "empty.zarr"), shape=(0, 96, 96), dtype="uint16")
    tifffile.imwrite(tmp_path / "small_seed.tif", np.ones((32, 32), np.uint16))
    tifffile.imwrite(tmp_path / "blank_seed.tif", np.zeros((96, 96), np.uint16))
    (tmp_path / "far.csv").write_text("t,y,x\n0,50,500\n")
    (tmp_path / "late.csv").write_text("t,y,x\n99,5,5\n")
    (tmp_path / "a_file").write_text("not a folder")
    occupied = tmp_path / "occupied"
    occupied.mkdir()
    (occupied / "thesis.docx").write_text("precious")
    movie = str(tmp_path / "movie.tif")
    out = ["--out", str(tmp_path / "res")]
    return [
        ([str(tmp_path / "nothing.tif"), *out], "does not exist"),
        ([str(tmp_path / "frame.tif"), *out], "single frame"),
        ([str(tmp_path / "garbage.tif"), *out], "cannot read it as a TIFF"),
        ([str(tmp_path / "rgb.tif"), *out], "expected 3 dimensions"),
        ([str(tmp_path / "empty.zarr"), *out], "empty"),
        ([movie, *out, "--seeds", str(tmp_path / "small_seed.tif")], "32x32 but the stack"),
        ([movie, *out, "--seeds", str(tmp_path / "blank_seed.tif")], "empty"),
        ([movie, *out, "--seeds", str(tmp_path / "far.csv")], "outside the 96x96 frame"),
        ([movie, *out, "--seeds", str(tmp_path / "late.csv")], "t=99 is not a frame 0..15"),
        ([movie, *out, "--seeds", str(tmp_path / "none.csv")], "does not exist"),
        ([movie, "--out", str(tmp_path / "a_file")], "is a file"),
        ([movie, "--out", str(occupied)], "thesis.docx"),
    ]


def test_track_rejects_bad_input_with_one_clear_message(tmp_path, sequence, movie, capsys):
    for args, words in bad_input_cases(tmp_path, sequence):
        assert main(["track", *args]) == 1, args
        err = capsys.readouterr().err
        assert err.startswith("napari-sam2 track: error:"), err
        assert words in err, (words, err)
        assert "Traceback" not in err and err.count("\n") == 1, err
        assert not (tmp_path / "res").exists()
    assert (tmp_path / "occupied" / "thesis.docx").read_text() == "precious"


def test_track_rejects_an_unknown_model(tmp_path, movie, capsys):
    assert main(["track", str(movie), "--out", str(tmp_path / "r"), "--model", "nope"]) == 1
    assert "unknown model 'nope'" in capsys.readouterr().err


@pytest.fixture()
def fake_tracker(monkeypatch, sequence):
    """A ``sam2_cells.tracking_run`` that returns the ground truth (no model is run)."""
    calls = {}

    def run_tracking(*, stack, seeds, model, device, progress, cancel, **detection):
        calls.update(stack=stack, seeds=seeds, model=model, device=device, **detection)
        for t in range(len(stack)):
            assert not cancel()
            progress(t + 1, len(stack))
        detection["report"]("Cell size 17 px (estimated).")
        return sequence.labels, sequence.tracks

    module = types.ModuleType(TRACKER_MODULE)
    module.run_tracking = run_tracking
    monkeypatch.setitem(sys.modules, TRACKER_MODULE, module)
    return calls


def test_track_writes_ctc_results_and_shows_progress(
    tmp_path, movie, sequence, fake_tracker, capsys
):
    seeds = tmp_path / "seeds.csv"
    seeds.write_text("y,x\n40,40\n")
    out = tmp_path / "01_RES"
    code = main(
        [
            "track",
            str(movie),
            "--out",
            str(out),
            "--seeds",
            str(seeds),
            "--model",
            "test_tiny",
            "--device",
            "cpu",
        ]
    )
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert "tracking" in captured.err and "100%" in captured.err and "16/16" in captured.err
    assert f"to {out}" in captured.out
    assert "napari-sam2 track: Cell size 17 px (estimated)." in captured.err
    labels, tracks = read_ctc_results(out)
    np.testing.assert_array_equal(np.asarray(labels), sequence.labels)
    assert tracks == sequence.tracks
    assert fake_tracker["model"] == "test_tiny" and fake_tracker["device"] == "cpu"
    assert fake_tracker["seeds"].kind == "points"
    assert fake_tracker["stack"].shape == sequence.movie.shape
    assert fake_tracker["detector"] == "auto" and fake_tracker["labels"] is None
    assert fake_tracker["split_merged"] is True
    assert fake_tracker["textured"] is False


def test_track_passes_no_split_merged(tmp_path, movie, fake_tracker):
    out = tmp_path / "res"
    args = ["track", str(movie), "--out", str(out), "--detector", "classical"]
    assert main([*args, "--no-split-merged"]) == 0
    assert fake_tracker["split_merged"] is False and fake_tracker["detector"] == "classical"


def test_track_passes_textured(tmp_path, movie, fake_tracker):
    out = tmp_path / "res"
    args = ["track", str(movie), "--out", str(out), "--detector", "classical"]
    assert main([*args, "--textured"]) == 0
    assert fake_tracker["textured"] is True and fake_tracker["split_merged"] is True


@pytest.mark.parametrize("source", [["--detector", "model"], ["--labels", "LABELS"]])
def test_textured_with_another_source_is_refused(tmp_path, movie, sequence, source, capsys):
    labels = tmp_path / "labels.tif"
    tifffile.imwrite(labels, sequence.labels.astype(np.uint16))
    source = [str(labels) if a == "LABELS" else a for a in source]
    out = tmp_path / "res"
    assert main(["track", str(movie), "--out", str(out), *source, "--textured"]) == 1
    assert "(--textured) is an option of the classical detector" in capsys.readouterr().err
    assert not out.exists()


def test_ctrl_c_during_tracking_leaves_nothing(tmp_path, movie, monkeypatch, sequence, capsys):
    def run_tracking(*, stack, seeds, model, device, progress, cancel, **detection):
        progress(3, len(stack))
        raise KeyboardInterrupt

    module = types.ModuleType(TRACKER_MODULE)
    module.run_tracking = run_tracking
    monkeypatch.setitem(sys.modules, TRACKER_MODULE, module)
    out = tmp_path / "res"
    assert main(["track", str(movie), "--out", str(out), "--model", "test_tiny"]) == 130
    assert "interrupted; nothing was written" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["movie.tif"]


def test_ctrl_c_while_writing_keeps_the_previous_result(
    tmp_path, movie, monkeypatch, sequence, capsys
):
    parents = {t.label: t.parent for t in sequence.tracks}
    earlier = tracks_from_labels(sequence.labels[:4], parents)
    out = write_ctc_results(sequence.labels[:4], earlier, tmp_path / "res")
    before = {p.name: p.read_bytes() for p in out.iterdir()}

    class Interrupting:
        shape, dtype = sequence.labels.shape, sequence.labels.dtype

        def __getitem__(self, t):
            if t == 5:
                raise KeyboardInterrupt
            return sequence.labels[t]

    module = types.ModuleType(TRACKER_MODULE)
    module.run_tracking = lambda **kw: (Interrupting(), sequence.tracks)
    monkeypatch.setitem(sys.modules, TRACKER_MODULE, module)
    assert main(["track", str(movie), "--out", str(out), "--model", "test_tiny"]) == 130
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["movie.tif", "res"]


def test_a_missing_tracker_is_reported(tmp_path, movie, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, TRACKER_MODULE, None)  # import raises ImportError
    code = main(["track", str(movie), "--out", str(tmp_path / "r"), "--model", "test_tiny"])
    err = capsys.readouterr().err
    assert code == 1 and "the SAM 2 tracker is not available" in err, err


def test_track_runs_the_real_tracker_end_to_end(tmp_path, movie, sequence, capsys):
    """No stand-ins: a (random-weight) tiny model tracks from a seed label image and the
    result is a valid CTC folder covering every frame."""
    from sam2_cells import ctc_validate

    seeds = tmp_path / "seeds.tif"
    tifffile.imwrite(seeds, sequence.labels[0].astype(np.uint16))
    out = tmp_path / "01_RES"
    args = ["track", str(movie), "--out", str(out), "--seeds", str(seeds)]
    code = main([*args, "--model", "test_tiny", "--device", "cpu"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert "32/32" in captured.err
    labels, _ = read_ctc_results(out)
    labels = np.asarray(labels)
    assert labels.shape == sequence.labels.shape
    assert ctc_validate(out) == []
    assert np.all(labels[0][sequence.labels[0] > 0] > 0), "the seeded cells are tracked"


def test_track_links_your_own_label_stack(tmp_path, movie, sequence, capsys):
    """--labels: the stack's masks are kept as they are and linked (no model needed)."""
    from sam2_cells import ctc_validate, score_arrays

    given = tmp_path / "cellpose.tif"
    tifffile.imwrite(given, sequence.labels.astype(np.uint16))
    out = tmp_path / "01_RES"
    assert main(["track", str(movie), "--out", str(out), "--labels", str(given)]) == 0
    labels, tracks = read_ctc_results(out)
    assert ctc_validate(out) == []
    s = score_arrays(np.asarray(labels), tracks, sequence.labels, sequence.tracks)
    assert s.seg > 0.99 and s.tra > 0.9
