"""Our video path equals the reference video predictor on shared random weights.

Frames are given at the model's input size so that resizing drops out (the reference
resizes video frames with PIL on uint8, still images with torchvision). Both sides store
memories in bfloat16; the reference's memory attention gets them cast to float32 (see
``cast_memory_to_float32``) so that every flow also runs on CPU there.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from sam2_engine import VideoPredictor
from sam2_synthetic import nuclei_timelapse
from tests.reference_oracle import make_pair, reference_video_state, rel_err

pytestmark = pytest.mark.reference


def _movie(size: int, n_frames: int) -> np.ndarray:
    """A time-lapse of moving nuclei as uint8 RGB frames of the model's input size."""
    tl = nuclei_timelapse(n_frames=n_frames, shape=(size, size), n_nuclei=6, seed=1)
    m = tl.movie.astype(np.float32)
    m = (m - m.min()) / (m.max() - m.min()) * 255
    return np.repeat(m.astype(np.uint8)[..., None], 3, axis=-1)


class Pair:
    """Runs the same operations on the reference and on our session, and compares."""

    def __init__(self, name: str, n_frames: int, seed: int, correct_as_cond: bool = False) -> None:
        # seeds chosen so that random weights give partial (not empty/full) masks
        self.cfg, self.ref, self.ours = make_pair(name, video=True, seed=seed)
        self.ref.add_all_frames_to_correct_as_cond = correct_as_cond
        self.frames = _movie(self.cfg.image_size, n_frames)
        self.state = reference_video_state(self.ref, self.frames)
        self.session = VideoPredictor(self.ours, fill_hole_area=0).start(self.frames)
        self.compared = 0
        self.foreground = []

    def _check(self, result, ref_ids, ref_logits, tol=1e-4):
        for obj_id in result.obj_ids:
            ours_lr = torch.from_numpy(result.logits[result.obj_ids.index(obj_id)])[None, None]
            ours_video = F.interpolate(
                ours_lr, size=ref_logits.shape[-2:], mode="bilinear", align_corners=False
            )[0, 0]
            theirs = ref_logits[list(ref_ids).index(obj_id), 0]
            assert rel_err(ours_video, theirs) < tol, (result.frame, obj_id)
            mask = result.mask_of(obj_id)
            assert int((mask != (theirs > 0).numpy()).sum()) <= 5
            self.foreground.append(float(mask.mean()))
            self.compared += 1

    def points(self, frame, obj_id, points, labels):
        with torch.inference_mode():
            _, ids, logits = self.ref.add_new_points_or_box(
                self.state,
                frame,
                obj_id,
                points=np.array(points, np.float32),
                labels=np.array(labels, np.int32),
            )
        self._check(self.session.add_points(frame, obj_id, points, labels), ids, logits)

    def box(self, frame, obj_id, box):
        with torch.inference_mode():
            _, ids, logits = self.ref.add_new_points_or_box(
                self.state, frame, obj_id, box=np.array(box, np.float32)
            )
        self._check(self.session.add_box(frame, obj_id, box), ids, logits)

    def mask(self, frame, obj_id, mask):
        with torch.inference_mode():
            _, ids, logits = self.ref.add_new_mask(self.state, frame, obj_id, mask)
        self._check(self.session.add_mask(frame, obj_id, mask), ids, logits)

    def propagate(self, start, reverse=False):
        with torch.inference_mode():
            theirs = {
                f: (ids, m)
                for f, ids, m in self.ref.propagate_in_video(
                    self.state, start_frame_idx=start, reverse=reverse
                )
            }
        direction = "backward" if reverse else "forward"
        ours = list(self.session.propagate(start=start, direction=direction))
        assert [r.frame for r in ours] == sorted(theirs, reverse=reverse)
        for result in ours:
            self._check(result, *theirs[result.frame])


@pytest.fixture(scope="module")
def small_pair():
    return Pair("test_small", n_frames=7, seed=0)


def test_prompts_on_two_frames_then_forward(small_pair):
    p = small_pair
    p.points(0, 1, [[60, 70]], [1])
    p.box(0, 2, [100, 90, 190, 200])
    p.points(0, 1, [[60, 70], [200, 40]], [1, 0])  # refinement: previous logits fed back
    p.points(3, 1, [[70, 80]], [1])  # second conditioning frame
    p.propagate(start=0)


def test_reverse_pass_after_forward(small_pair):
    small_pair.propagate(start=6, reverse=True)


def test_object_added_after_propagation_on_a_later_frame(small_pair):
    p = small_pair
    p.points(2, 3, [[150, 150]], [1])
    p.propagate(start=0)


def test_mask_prompt_then_reverse(small_pair):
    p = small_pair
    mask = np.zeros(p.frames.shape[1:3], bool)
    mask[40:120, 60:150] = True
    p.mask(5, 4, mask)
    p.propagate(start=5, reverse=True)


def test_comparisons_were_about_real_masks(small_pair):
    assert small_pair.compared >= 60
    fg = np.array(small_pair.foreground)
    assert ((fg > 0.001) & (fg < 0.999)).mean() > 0.5


def test_correction_on_a_tracked_frame_uses_memory():
    """A click on a frame the object was already tracked through is decoded with the
    memory of the other frames (like the reference with
    ``add_all_frames_to_correct_as_cond=True``), and re-propagation follows it."""
    p = Pair("test_small", n_frames=5, seed=0, correct_as_cond=True)
    p.points(0, 1, [[60, 70]], [1])
    p.propagate(start=0)
    p.points(3, 1, [[60, 70], [120, 30]], [1, 0])
    p.propagate(start=3)
    assert p.compared >= 9


@pytest.mark.slow
def test_tiny_at_1024_short_video():
    """The real SAM 2.1 tiny architecture at 1024 px: 3 frames, 2 objects, prompts on
    two frames."""
    p = Pair("sam2.1_hiera_tiny", n_frames=3, seed=13)
    p.points(0, 1, [[300, 420]], [1])
    p.box(1, 2, [500, 500, 800, 900])
    p.propagate(start=0)
    assert p.compared >= 7
    fg = np.array(p.foreground)
    assert ((fg > 0.001) & (fg < 0.999)).mean() > 0.5
