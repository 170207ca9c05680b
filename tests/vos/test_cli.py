"""napari-sam2 vos-infer / vos-score, and the dispatcher that owns the command."""

from __future__ import annotations

import subprocess
import sys

import numpy as np

from sam2_cli import main
from sam2_vos.palette import write_label_png
from sam2_vos.synthetic import write_moving_shapes


def test_help_lists_every_command(capsys):
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    for command in ("track", "score", "vos-infer", "vos-score"):
        assert f"  {command} " in out
    assert main([]) == 2
    assert main(["nonsense"]) == 2
    assert "unknown command 'nonsense'" in capsys.readouterr().err


def test_infer_then_score_end_to_end(tmp_path, capsys):
    root = write_moving_shapes(tmp_path / "data", videos=2, frames=4, size=(24, 32))
    write_label_png(root / "Annotations/shapes01/00000.png", np.ones((5, 5), np.uint8))
    out = tmp_path / "out"
    status = main(["vos-infer", "--data", str(root), "--out", str(out), "--model", "test_tiny"])
    captured = capsys.readouterr()
    assert status == 1, "a failed video makes the exit status 1"
    assert "wrote 1 of 2 videos" in captured.out
    assert "video shapes01 failed" in captured.err and "5x5" in captured.err
    (tmp_path / "split.txt").write_text("shapes00\n")
    argv = [
        "vos-score",
        "--pred",
        str(out),
        "--gt",
        str(root),
        "--split",
        str(tmp_path / "split.txt"),
    ]
    assert main([*argv, "--csv", str(tmp_path / "s.csv")]) == 0
    table = capsys.readouterr().out
    assert table.splitlines()[0].split() == ["video", "objects", "J&F", "J", "F"]
    assert table.splitlines()[-1].startswith("dataset")
    assert (tmp_path / "s.csv").read_text().startswith("level,video,object")


def test_bad_input_is_one_line_and_exit_1(tmp_path, capsys):
    assert main(["vos-infer", "--data", str(tmp_path / "none"), "--out", str(tmp_path)]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [
        f"napari-sam2 vos-infer: error: dataset folder {tmp_path / 'none'} does not exist"
    ]
    root = write_moving_shapes(tmp_path / "data", videos=1, frames=3, size=(16, 16))
    assert (
        main(
            [
                "vos-infer",
                "--data",
                str(root),
                "--out",
                str(tmp_path / "o"),
                "--model",
                "no_such_model",
            ]
        )
        == 1
    )
    assert "unknown model 'no_such_model'" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()
    assert main(["vos-score", "--pred", str(tmp_path / "o"), "--gt", str(root)]) == 1
    assert "does not exist" in capsys.readouterr().err


def test_the_installed_command_and_cheap_import():
    code = (
        "import sys, sam2_vos, sam2_cli; "
        "print(','.join(m for m in ('torch', 'napari', 'qtpy', 'cv2', 'sam2_cells') "
        "if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
    run = subprocess.run(
        [sys.executable, "-m", "sam2_cli", "vos-score", "--help"], capture_output=True, text=True
    )
    assert run.returncode == 0 and "--all-frames" in run.stdout
