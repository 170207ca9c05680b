"""Bad input to ``napari-sam2 track``, through a real subprocess: one clear sentence on
stderr, a non-zero exit status, and nothing written (checked before any work where the
input allows)."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import tifffile


def track(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "sam2_cells.cli", "track", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@pytest.fixture()
def files(tmp_path, sequence):
    movie = tmp_path / "movie.tif"
    tifffile.imwrite(movie, sequence.movie)
    t, h, w = sequence.labels.shape
    made = {
        "movie": movie,
        "short": sequence.labels[:5],
        "wide": np.zeros((t, h, w + 4), np.uint16),
        "float": sequence.labels.astype(np.float32) / 2,
        "empty": np.zeros((t, h, w), np.uint16),
        "flat": np.zeros((t, h, w), np.uint16),
        "one": sequence.movie[:1],
    }
    for name, data in list(made.items())[1:]:
        path = tmp_path / f"{name}.tif"
        tifffile.imwrite(path, data)
        made[name] = path
    folder = tmp_path / "frames"
    folder.mkdir()
    for i in range(4):
        frame = sequence.movie[i] if i != 2 else sequence.movie[i][:, :80]
        tifffile.imwrite(folder / f"t{i:03d}.tif", frame)
    made["folder"] = folder
    (tmp_path / "twice.csv").write_text("t,y,x\n0,40,40\n3,10,12\n0,40,40\n")
    made["twice"] = tmp_path / "twice.csv"
    return made


def case_args(files, out):
    m = str(files["movie"])
    o = ["--out", str(out)]
    return {
        "labels of another length": (
            [m, *o, "--labels", str(files["short"])], "has 5 frames but the movie has 16"
        ),
        "labels of another frame size": (
            [m, *o, "--labels", str(files["wide"])], "frames are 96x100 but the movie's are 96x96"
        ),
        "non-integer labels": ([m, *o, "--labels", str(files["float"])], "must be integers"),
        "an all-zero label stack": (
            [m, *o, "--labels", str(files["empty"])], "the label stack is empty (all 0)"
        ),
        "an all-zero movie": (
            [str(files["flat"]), *o, "--detector", "classical"], "no cell was found"
        ),
        "a single-frame movie": ([str(files["one"]), *o], "single frame"),
        "overlapping seeds": (
            [m, *o, "--seeds", str(files["twice"])], "lines 2 and 4 are the same point"
        ),
        "a frame of another size in a folder": (
            [str(files["folder"]), *o], "t002.tif: this frame is 96x80"
        ),
        "labels with another detector": (
            [m, *o, "--labels", str(files["short"]), "--detector", "model"], "leave --detector"
        ),
        "a negative diameter": ([m, *o, "--diameter", "-4"], "must be > 0 pixels"),
    }


AFTER_DETECTION = {"an all-zero movie"}  # no cell is known to be there until it is looked for
CASES = list(case_args({k: k for k in ("movie", "short", "wide", "float", "empty", "flat",
                                       "one", "twice", "folder")}, "o"))


@pytest.mark.parametrize("case", CASES)
def test_bad_input_gets_one_sentence_an_error_status_and_no_output(files, tmp_path, case):
    out = tmp_path / "01_RES"
    args, words = case_args(files, out)[case]
    done = track(*args)
    assert done.returncode == 1, done.stderr
    err = done.stderr.strip()
    last = err.splitlines()[-1]
    assert last.startswith("napari-sam2 track: error:"), err
    assert words in last, (words, err)
    assert "Traceback" not in err and err.count("error:") == 1, err
    if case not in AFTER_DETECTION:
        assert err.count("\n") == 0, f"refused before any work: {err}"
    assert not out.exists(), "nothing is written"
