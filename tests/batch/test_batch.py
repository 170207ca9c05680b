"""Batch runs on Dask distributed: two local worker processes, a bad input, reruns."""

from __future__ import annotations

import numpy as np
import pytest
import tifffile

import sam2_batch as sb
from sam2_cli import main
from tests.batch.conftest import blobs, write_ome, write_plate


@pytest.fixture(scope="module")
def cluster():
    from distributed import LocalCluster

    with LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        processes=True,
        dashboard_address=None,
        silence_logs=40,
    ) as local:
        yield local


def test_segment_two_workers_bad_input_and_rerun(tmp_path, cluster, capsys):
    tifffile.imwrite(tmp_path / "a.tif", blobs(3))
    tifffile.imwrite(tmp_path / "b.tif", blobs(1)[0])
    (tmp_path / "bad.tif").write_text("not a tiff")
    ome = write_ome(tmp_path / "c.ome.zarr", blobs(2, 64), "tyx")
    out = tmp_path / "out"
    args = [
        "segment",
        str(tmp_path / "*.tif"),
        str(ome),
        "--out",
        str(out),
        "--model",
        "conv_micro",
        "--device",
        "cpu",
        "--scheduler",
        cluster.scheduler_address,
    ]
    assert main(args) == 1  # one input failed
    err = capsys.readouterr().err
    assert f"bad: FAILED: {tmp_path / 'bad.tif'}: not a TIFF file" in err, err
    assert err.count(": done in ") == 3, err
    assert tifffile.imread(out / "a.tif").shape == (3, 64, 64)
    assert tifffile.imread(out / "b.tif").shape == (64, 64)
    assert tifffile.imread(out / "c.tif").shape == (2, 64, 64)
    assert (ome / "labels" / "sam2").is_dir()
    assert not [p.name for p in out.iterdir() if p.name.startswith(".")]  # no temporaries

    # a rerun skips what is done, tries the bad input again
    results = sb.run_batch(
        sb.expand_inputs([str(tmp_path / "*.tif"), str(ome)]),
        sb.BatchSettings("segment", str(out), sb.ModelSpec("conv_micro", False, "cpu")),
        scheduler=cluster.scheduler_address,
    )
    assert [(r.name, r.status) for r in results] == [
        ("a", "skipped"),
        ("b", "skipped"),
        ("bad", "failed"),
        ("c", "skipped"),
    ]


def test_track_plate_wells_on_two_workers(tmp_path, cluster):
    plate = write_plate(
        tmp_path / "plate.ome.zarr", {"A/1": blobs(3, 64), "A/2": blobs(3, 64, seed=1)}
    )
    settings = sb.BatchSettings("track", str(tmp_path / "res"), detector="classical", diameter=18)
    items = sb.expand_inputs([str(plate), str(tmp_path / "missing.tif")])
    results = sb.run_batch(items, settings, scheduler=cluster.scheduler_address)
    by_name = {r.name: r for r in results}
    assert by_name["missing"].status == "failed"
    assert "missing.tif does not exist" in by_name["missing"].error
    for name in ("plate_A_1_0", "plate_A_2_0"):
        assert by_name[name].status == "done", by_name[name].error
        assert by_name[name].summary.startswith("2 tracks")
        assert (tmp_path / "res" / name / "res_track.txt").is_file()
    labels = sb.open_ome_image(plate / "A" / "1" / "0" / "labels" / "sam2_tracks")
    frames = np.asarray(labels.array(0))
    assert frames.shape == (3, 64, 64) and len(np.unique(frames)) == 3


@pytest.mark.slow
def test_default_local_cluster_one_model_load_per_worker(tmp_path):
    for i in range(4):
        tifffile.imwrite(tmp_path / f"img{i}.tif", blobs(1, 48, seed=i)[0])
    settings = sb.BatchSettings(
        "segment", str(tmp_path / "out"), sb.ModelSpec("conv_micro", False, "cpu")
    )
    results = sb.run_batch(sb.expand_inputs([str(tmp_path / "img*.tif")]), settings, workers=2)
    assert [r.status for r in results] == ["done"] * 4
    assert len({r.worker for r in results}) <= 2
    assert {r.model_loads for r in results} == {1}  # each worker process built it once


def test_single_movie_track_is_the_cells_command(tmp_path, capsys):
    tifffile.imwrite(tmp_path / "movie.tif", blobs(3))
    code = main(
        [
            "track",
            str(tmp_path / "movie.tif"),
            "--out",
            str(tmp_path / "r"),
            "--detector",
            "classical",
            "--diameter",
            "18",
        ]
    )
    assert code == 0, capsys.readouterr().err
    assert (tmp_path / "r" / "res_track.txt").is_file()  # results in --out itself
    # the single-movie command's own options pass the batch parser
    out = tmp_path / "r2"
    args = ["track", str(tmp_path / "movie.tif"), "--out", str(out), "--detector", "classical"]
    assert main([*args, "--no-split-merged", "--textured"]) == 0, capsys.readouterr().err
    assert (out / "res_track.txt").is_file()


def test_batch_track_options_reach_its_settings(tmp_path):
    from sam2_batch.cli import _parser, _settings

    args = ["track", str(tmp_path / "*.tif"), "--out", str(tmp_path / "r")]
    plain = _settings(_parser().parse_args(args))
    assert plain.split_merged is True and plain.textured is False
    given = _settings(_parser().parse_args([*args, "--no-split-merged", "--textured"]))
    assert given.split_merged is False and given.textured is True
    with pytest.raises(ValueError, match="is an option of the classical detector"):
        sb.BatchSettings("track", str(tmp_path), detector="model", textured=True)


def test_batch_refuses_per_movie_options(tmp_path, capsys):
    code = main(
        ["track", str(tmp_path / "*.tif"), "--out", str(tmp_path / "r"), "--seeds", "s.csv"]
    )
    assert code == 1
    assert "--seeds and --labels belong to one movie" in capsys.readouterr().err
    assert main(["segment", "x.tif", "--out", str(tmp_path), "--model", "nope"]) == 1
    assert "unknown model 'nope'" in capsys.readouterr().err


def test_every_single_movie_option_passes_the_batch_front_end():
    """``napari-sam2 track`` parses with the batch parser first: an option of the
    single-movie command it does not know would be refused before the hand-over."""
    import argparse

    from sam2_batch.cli import _parser as batch_parser
    from sam2_cells.cli import _parser as cells_parser

    def options(parser: argparse.ArgumentParser) -> set[str]:
        sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
        return {o for action in sub.choices["track"]._actions for o in action.option_strings}

    assert options(cells_parser()) <= options(batch_parser())
