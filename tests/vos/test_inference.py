"""Batch inference with a tiny random-weight model: the pipeline, not the quality."""

from __future__ import annotations

import numpy as np

from sam2_vos.inference import infer_dataset
from sam2_vos.palette import read_label_png, write_label_png
from sam2_vos.synthetic import LATE_OBJECT, late_entry_frame, write_moving_shapes

from .conftest import FRAMES


def test_every_frame_is_written_and_late_objects_start_when_they_enter(shapes, predictor, tmp_path):
    calls = []
    outcomes = infer_dataset(shapes, tmp_path, predictor, progress=lambda *a: calls.append(a))
    assert [(o.name, o.num_frames, o.obj_ids, o.ok) for o in outcomes] == [
        ("shapes00", FRAMES, (1, 2, LATE_OBJECT), True),
        ("shapes01", FRAMES, (1, 2, LATE_OBJECT), True),
    ]
    assert calls == [(v, t, FRAMES) for v in ("shapes00", "shapes01") for t in range(1, 8)]
    enter = late_entry_frame(FRAMES)
    for t in range(FRAMES):
        labels, _ = read_label_png(tmp_path / "shapes00" / f"{t:05d}.png")
        assert labels.shape == (48, 64)
        assert set(np.unique(labels)) <= {0, 1, 2, LATE_OBJECT}
        if t < enter:
            assert LATE_OBJECT not in labels, f"object {LATE_OBJECT} predicted on frame {t}"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["shapes00", "shapes01"]


def test_the_annotations_palette_is_kept(tmp_path, predictor):
    root = write_moving_shapes(tmp_path / "data", videos=1, frames=3, size=(24, 32))
    palette = bytes(range(256)) * 3
    first = root / "Annotations/shapes00/00000.png"
    labels, _ = read_label_png(first)
    write_label_png(first, labels, palette)
    infer_dataset(root, tmp_path / "out", predictor)
    for t in range(3):
        _, written = read_label_png(tmp_path / "out/shapes00" / f"{t:05d}.png")
        assert written[:30] == palette[:30]


def test_a_failing_video_is_reported_and_the_others_go_on(tmp_path, predictor):
    root = write_moving_shapes(tmp_path / "data", videos=3, frames=3, size=(24, 32))
    write_label_png(root / "Annotations/shapes01/00000.png", np.ones((5, 5), np.uint8))
    (tmp_path / "out/shapes01").mkdir(parents=True)  # an earlier result stays untouched
    (tmp_path / "out/shapes01/keep.png").write_bytes(b"old")
    outcomes = infer_dataset(
        root, tmp_path / "out", predictor, videos=["shapes01", "shapes02", "nothere"]
    )
    assert [o.ok for o in outcomes] == [False, True, False]
    assert "5x5" in outcomes[0].error and "no frame folder" in outcomes[2].error
    assert [p.name for p in (tmp_path / "out/shapes01").iterdir()] == ["keep.png"]
    assert len(list((tmp_path / "out/shapes02").iterdir())) == 3
    assert not [p for p in (tmp_path / "out").iterdir() if p.name.startswith(".")]


def test_prompting_every_annotated_frame_and_tiff_frames(tmp_path, predictor):
    root = write_moving_shapes(tmp_path / "data", videos=1, frames=4, size=(24, 32), tiff=True)
    outcomes = infer_dataset(root, tmp_path / "out", predictor, policy="all")
    assert outcomes[0].ok and outcomes[0].num_frames == 4
