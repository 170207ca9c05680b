"""J&F of a dataset: the protocol, and equality with the vos-benchmark package."""

from __future__ import annotations

import importlib.util
import json
import shutil
import subprocess
import sys

import numpy as np
import pytest

from sam2_vos.palette import read_label_png, write_label_png
from sam2_vos.scoring import score_dataset, score_video
from sam2_vos.synthetic import LATE_OBJECT, late_entry_frame

from .conftest import FRAMES


def _perturbed_predictions(shapes, out):
    """Ground truth made wrong in known ways: shifted, eroded, a lost object, a false
    object, the late object predicted too early."""
    rng = np.random.default_rng(7)
    for video in sorted((shapes / "Annotations").iterdir()):
        (out / video.name).mkdir(parents=True)
        for t, png in enumerate(sorted(video.iterdir())):
            labels, palette = read_label_png(png)
            pred = np.roll(labels, int(rng.integers(-2, 3)), axis=int(rng.integers(0, 2)))
            pred[rng.random(pred.shape) < 0.03] = 0
            if t == 3:
                pred[pred == 1] = 0  # object 1 lost on one frame
            if t == 1:
                pred[:4, :4] = LATE_OBJECT  # the late object predicted before it enters
            pred[-3:, -3:] = 9  # an object the ground truth never has
            write_label_png(out / video.name / png.name, pred, palette)
    return out


def test_perfect_predictions_score_100(shapes, tmp_path):
    shutil.copytree(shapes / "Annotations", tmp_path / "pred")
    scores = score_dataset(tmp_path / "pred", shapes)
    assert scores.jf == scores.j == scores.f == 100.0
    assert [(o.obj_id, o.frames) for o in scores.objects if o.video == "shapes00"] == [
        (1, FRAMES - 2),
        (2, FRAMES - 2),
        (LATE_OBJECT, FRAMES - 1 - late_entry_frame(FRAMES)),
    ]


def test_first_and_last_frames_are_skipped_unless_asked(shapes, tmp_path):
    pred = _perturbed_predictions(shapes, tmp_path / "pred")
    skipped = score_video(pred / "shapes00", shapes / "Annotations" / "shapes00")
    every = score_video(pred / "shapes00", shapes / "Annotations" / "shapes00", all_frames=True)
    assert [o.frames for o in every][:2] == [FRAMES, FRAMES]
    assert [o.frames for o in skipped][:2] == [FRAMES - 2, FRAMES - 2]
    assert 9 not in [o.obj_id for o in every], "objects absent from the ground truth are not scored"
    # the late object counts from frame 1, where it was wrongly predicted
    assert skipped[2].frames == FRAMES - 2 and skipped[2].j < 100


def test_a_missing_prediction_is_named(shapes, tmp_path):
    pred = _perturbed_predictions(shapes, tmp_path / "pred")
    (pred / "shapes01" / "00003.png").unlink()
    with pytest.raises(FileNotFoundError, match=r"00003\.png"):
        score_dataset(pred, shapes)
    shutil.rmtree(pred / "shapes01")
    with pytest.raises(FileNotFoundError, match="shapes01 has no predictions"):
        score_dataset(pred, shapes)
    assert score_dataset(pred, shapes, videos=["shapes00"]).videos == ["shapes00"]


def test_csv_holds_objects_videos_and_the_dataset(shapes, tmp_path):
    scores = score_dataset(_perturbed_predictions(shapes, tmp_path / "pred"), shapes)
    scores.write_csv(tmp_path / "s.csv")
    rows = [line.split(",") for line in (tmp_path / "s.csv").read_text().splitlines()]
    assert rows[0] == ["level", "video", "object", "frames", "J&F", "J", "F"]
    assert [r[0] for r in rows[1:]] == ["object"] * 6 + ["video"] * 2 + ["dataset"]
    assert float(rows[-1][4]) == pytest.approx(scores.jf, abs=1e-5)
    assert 0 < scores.jf < 100


_REFERENCE = """
import json, sys
from vos_benchmark.benchmark import benchmark
skip = sys.argv[3] == "skip"
jf, j, f, objects = benchmark([sys.argv[1]], [sys.argv[2]], num_processes=1, verbose=False,
                              skip_first_and_last=skip)
per_object = {
    v: {str(k): [float(a[k]), float(b[k])] for k in a} for v, (a, b) in objects[0].items()
}
print(json.dumps({"jf": float(jf[0]), "j": float(j[0]), "f": float(f[0]), "objects": per_object}))
"""


@pytest.mark.skipif(
    importlib.util.find_spec("vos_benchmark") is None, reason="vos-benchmark is not installed"
)
@pytest.mark.parametrize("skip", [True, False])
def test_scores_equal_the_vos_benchmark_package(shapes, tmp_path, skip):
    """vos-benchmark (the evaluator behind SAM 2's sav_evaluator) runs in its own process:
    it imports OpenCV, whose Qt plugins must stay out of the GUI tests' process."""
    pred = _perturbed_predictions(shapes, tmp_path / "pred")
    run = subprocess.run(
        [
            sys.executable,
            "-c",
            _REFERENCE,
            str(shapes / "Annotations"),
            str(pred),
            "skip" if skip else "all",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    ref = json.loads(run.stdout.strip().splitlines()[-1])
    ours = score_dataset(pred, shapes, all_frames=not skip)
    assert ours.jf == pytest.approx(ref["jf"], abs=1e-6)
    assert ours.j == pytest.approx(ref["j"], abs=1e-6)
    assert ours.f == pytest.approx(ref["f"], abs=1e-6)
    for o in ours.objects:
        assert [o.j, o.f] == pytest.approx(ref["objects"][o.video][str(o.obj_id)], abs=1e-6)
    assert len(ours.objects) == sum(len(v) for v in ref["objects"].values())
