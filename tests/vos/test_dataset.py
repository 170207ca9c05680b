"""Reading DAVIS-layout folders: layouts, frame order, TIFF frames, prompt plans."""

from __future__ import annotations

import numpy as np
import pytest
import tifffile

from sam2_vos.dataset import FrameStack, find_layout, open_video, read_split
from sam2_vos.palette import write_label_png
from sam2_vos.prompts import plan_prompts
from sam2_vos.synthetic import LATE_OBJECT, late_entry_frame, write_moving_shapes

from .conftest import FRAMES


def test_first_appearances_prompt_each_object_once(shapes):
    video = open_video(find_layout(shapes), "shapes00")
    assert video.num_frames == FRAMES and video.frames.shape == (FRAMES, 48, 64, 3)
    plan = plan_prompts(video, "first")
    assert [(s.frame, sorted(s.masks)) for s in plan.steps] == [
        (0, [1, 2]),
        (late_entry_frame(FRAMES), [LATE_OBJECT]),
    ]
    assert plan.steps[1].masks[LATE_OBJECT].any()
    every = plan_prompts(video, "all")
    assert [s.frame for s in every.steps] == list(range(FRAMES))
    assert sorted(every.steps[-1].masks) == [1, 2, LATE_OBJECT]
    with pytest.raises(ValueError, match="unknown"):
        plan_prompts(video, "some")


def test_davis_480p_level_split_files_and_natural_order(tmp_path):
    for sub in ("JPEGImages/480p/v", "Annotations/480p/v"):
        (tmp_path / sub).mkdir(parents=True)
    for name in ("f10.tif", "f2.tif", "f1.tif"):
        tifffile.imwrite(tmp_path / "JPEGImages/480p/v" / name, np.full((8, 9), 7, np.uint16))
    write_label_png(tmp_path / "Annotations/480p/v/f2.png", np.ones((8, 9), np.uint8))
    layout = find_layout(tmp_path)
    assert layout.images == tmp_path / "JPEGImages/480p" and layout.video_names() == ["v"]
    video = open_video(layout, "v")
    assert video.stems == ("f1", "f2", "f10") and list(video.annotations) == [1]
    assert video.frames.shape == (3, 8, 9) and video.frames.dtype == np.uint16
    (tmp_path / "split.txt").write_text("# val\nv\n\nw  # another\n")
    assert read_split(tmp_path / "split.txt") == ["v", "w"]


def test_microscopy_tiff_videos(tmp_path):
    root = write_moving_shapes(tmp_path, videos=1, frames=4, size=(32, 40), tiff=True)
    video = open_video(find_layout(root), "shapes00")
    assert video.frames.shape == (4, 32, 40) and video.frames.dtype == np.uint16
    assert video.frames[3].max() > video.frames[3].min()


@pytest.mark.parametrize(
    ("breakage", "message"),
    [
        ("no_annotations", "no annotation folder"),
        ("stray_annotation", "names no frame"),
        ("wrong_size", "frames of"),
        ("empty", "holds an object"),
    ],
)
def test_broken_videos_raise_one_clear_sentence(tmp_path, breakage, message):
    root = write_moving_shapes(tmp_path, videos=1, frames=3, size=(16, 20))
    ann = root / "Annotations" / "shapes00"
    if breakage == "no_annotations":
        for f in ann.iterdir():
            f.unlink()
        ann.rmdir()
    elif breakage == "stray_annotation":
        write_label_png(ann / "99999.png", np.zeros((16, 20), np.uint8))
    elif breakage == "wrong_size":
        write_label_png(ann / "00000.png", np.ones((8, 20), np.uint8))
    else:
        for f in ann.iterdir():
            write_label_png(f, np.zeros((16, 20), np.uint8))
    with pytest.raises((ValueError, FileNotFoundError), match=message):
        plan_prompts(open_video(find_layout(root), "shapes00"))


def test_missing_layout_folders_are_named(tmp_path):
    (tmp_path / "JPEGImages").mkdir()
    with pytest.raises(FileNotFoundError, match="no Annotations/ folder"):
        find_layout(tmp_path)


def test_frames_of_another_size_are_refused_when_read(tmp_path):
    for i, side in enumerate((8, 8, 9)):
        tifffile.imwrite(tmp_path / f"{i}.tif", np.zeros((side, side), np.uint8))
    stack = FrameStack(sorted(tmp_path.iterdir()))
    assert stack[1].shape == (8, 8)
    with pytest.raises(ValueError, match="all frames of a video must match"):
        stack[2]
