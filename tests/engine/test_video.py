"""Behaviour of TrackingSession: laziness, directions, batching, bounded memory, errors."""

from __future__ import annotations

import dask.array as da
import numpy as np
import pytest
import torch
import zarr

import sam2_engine as se
from sam2_synthetic import nuclei_timelapse


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return se.build_model("test_tiny", device="cpu")


@pytest.fixture(scope="module")
def movie():
    tl = nuclei_timelapse(n_frames=12, shape=(96, 112), n_nuclei=5, seed=2)
    return tl.movie


class CountingStack:
    """An array-like that records which frames were read."""

    def __init__(self, data: np.ndarray) -> None:
        self.data = data
        self.shape, self.dtype, self.ndim = data.shape, data.dtype, data.ndim
        self.reads: list = []

    def __getitem__(self, index):
        self.reads.append(index)
        return self.data[index]


def _session(model, frames, **kwargs):
    return se.VideoPredictor(model, **kwargs).start(frames)


def test_starting_reads_nothing_and_a_prompt_reads_one_frame(model, movie):
    stack = CountingStack((movie // 16).astype(np.uint8))  # uint8: no statistics sampling
    session = _session(model, stack)
    assert stack.reads == []
    session.add_points(5, 1, [[50, 40]], [1])
    assert stack.reads == [5]


def test_a_long_zarr_time_lapse_opens_without_reading(model):
    store = zarr.create_array(
        store={}, shape=(2000, 256, 256), chunks=(1, 256, 256), dtype="uint16"
    )
    session = _session(model, store)
    assert session.num_frames == 2000
    assert session.memory_bytes() == 0


def test_dask_stack_computes_only_the_frames_it_tracks(model, movie):
    calls: list[int] = []

    def load(t):
        calls.append(t)
        return (movie[t] // 16).astype(np.uint8)

    frames = da.stack(
        [
            da.from_delayed(__import__("dask").delayed(load)(t), movie.shape[1:], np.uint8)
            for t in range(len(movie))
        ]
    )
    session = _session(model, frames)
    session.add_points(2, 1, [[50, 40]], [1])
    results = list(session.propagate(start=2, max_frames=3))
    assert [r.frame for r in results] == [2, 3, 4]
    assert sorted(set(calls)) == [2, 3, 4]


@pytest.mark.parametrize(
    "direction, start, max_frames, expected",
    [
        ("forward", 3, None, list(range(3, 12))),
        ("forward", 3, 4, [3, 4, 5, 6]),
        ("backward", 6, None, [6, 5, 4, 3, 2, 1, 0]),
        ("backward", 6, 2, [6, 5]),
        ("both", 6, None, [6, 7, 8, 9, 10, 11, 5, 4, 3, 2, 1, 0]),
        ("both", 6, 2, [6, 7, 5, 4]),
    ],
)
def test_directions_and_exact_frame_counts(model, movie, direction, start, max_frames, expected):
    session = _session(model, movie)
    session.add_points(start, 1, [[50, 40]], [1])
    frames = [
        r.frame for r in session.propagate(start=start, direction=direction, max_frames=max_frames)
    ]
    assert frames == expected


def test_default_start_is_the_prompted_frame(model, movie):
    session = _session(model, movie)
    session.add_points(4, 1, [[50, 40]], [1])
    session.add_points(7, 2, [[20, 20]], [1])
    assert next(session.propagate()).frame == 4
    assert next(session.propagate(direction="backward")).frame == 7


def test_objects_tracked_in_one_batch_equal_objects_tracked_alone(model, movie):
    """Batching (with padded memories: the objects hold different numbers of prompted
    frames) gives each object the result it gets when tracked on its own."""
    prompts = {1: [(0, [[50, 40]]), (4, [[52, 42]])], 2: [(0, [[20, 70]])]}
    together = _session(model, movie)
    for obj, items in prompts.items():
        for frame, pts in items:
            together.add_points(frame, obj, pts, [1])
    joint = {r.frame: r for r in together.propagate(start=0)}
    one_by_one = _session(model, movie, max_batch_objects=1)
    for obj, items in prompts.items():
        for frame, pts in items:
            one_by_one.add_points(frame, obj, pts, [1])
    for r in one_by_one.propagate(start=0):
        np.testing.assert_allclose(joint[r.frame].logits, r.logits, atol=1e-4, rtol=0)
    for obj, items in prompts.items():
        alone = _session(model, movie)
        for frame, pts in items:
            alone.add_points(frame, obj, pts, [1])
        for r in alone.propagate(start=0):
            i = joint[r.frame].obj_ids.index(obj)
            np.testing.assert_allclose(joint[r.frame].logits[i], r.logits[0], atol=1e-4, rtol=0)


def test_cancel_keeps_finished_frames_and_resuming_gives_the_same_result(model, movie):
    full = _session(model, movie)
    full.add_points(0, 1, [[50, 40]], [1])
    reference = {r.frame: r.logits for r in full.propagate(start=0)}

    session = _session(model, movie)
    session.add_points(0, 1, [[50, 40]], [1])
    run = session.propagate(start=0)
    done = [next(run).frame for _ in range(4)]
    run.close()  # what a Cancel button does
    assert done == [0, 1, 2, 3]
    np.testing.assert_array_equal(session.frame_result(3).logits, reference[3])
    for r in session.propagate(start=4):
        np.testing.assert_allclose(r.logits, reference[r.frame], atol=1e-5)


def test_memory_stays_bounded_over_long_videos(model):
    # the bank keeps ~16 frames around the last tracked frame and around each prompted
    # frame; once the two windows separate (frame > 32) its size must stop changing
    frames = np.random.default_rng(0).integers(0, 255, (46, 64, 64), dtype=np.uint8)
    sizes = {}
    for bounded in (True, False):
        session = _session(model, frames, bounded_memory=bounded)
        session.add_points(0, 1, [[30, 30]], [1])
        for r in session.propagate(start=0):
            if r.frame in (34, 45):
                sizes[bounded, r.frame] = session.memory_bytes()
    assert sizes[True, 45] == sizes[True, 34]
    assert sizes[False, 45] > 1.2 * sizes[False, 34]


def test_float32_memories_agree_with_bfloat16_ones(model, movie):
    out = {}
    for dtype in (torch.float32, torch.bfloat16):
        session = _session(model, movie, memory_dtype=dtype)
        session.add_points(0, 1, [[50, 40]], [1])
        out[dtype] = [r.masks[0] for r in session.propagate(start=0, max_frames=5)]
    for a, b in zip(out[torch.float32], out[torch.bfloat16], strict=True):
        assert (a != b).mean() < 0.02


def test_new_object_and_correction_after_propagation(model, movie):
    session = _session(model, movie)
    session.add_points(0, 1, [[50, 40]], [1])
    list(session.propagate(start=0))
    result = session.add_points(5, 2, [[20, 70]], [1])
    assert 2 in result.obj_ids and 1 in result.obj_ids  # object 1 still has its frame-5 mask
    session.add_points(6, 1, [[50, 40], [10, 10]], [1, 0])  # correction of a tracked frame
    results = list(session.propagate(start=5))
    assert all(r.obj_ids == [1, 2] for r in results)
    assert session.prompted_frames(1) == [0, 6]


def test_box_and_mask_prompts(model, movie):
    session = _session(model, movie)
    r = session.add_box(1, 1, [30, 20, 80, 70])
    assert r.masks.shape == (1, *movie.shape[1:])
    mask = np.zeros(movie.shape[1:], bool)
    mask[10:40, 20:60] = True
    r = session.add_mask(1, 2, mask)
    got = r.mask_of(2)
    assert (got & mask).sum() / (got | mask).sum() > 0.8  # the mask is used as the prediction


def test_remove_and_clear(model, movie):
    session = _session(model, movie)
    session.add_points(0, 1, [[50, 40]], [1])
    session.add_points(0, 2, [[20, 70]], [1])
    session.remove_object(2)
    assert session.obj_ids == [1]
    session.clear_prompts(0, 1)
    with pytest.raises(RuntimeError, match="no prompts left"):
        list(session.propagate(start=0))
    session.remove_object(1)
    with pytest.raises(RuntimeError, match="no object has prompts"):
        list(session.propagate())


@pytest.mark.parametrize(
    "call, error, message",
    [
        (lambda s: s.add_points(99, 1, [[5, 5]], [1]), IndexError, "out of range"),
        (lambda s: s.add_points(0, 1, [[500, 5]], [1]), ValueError, "outside the image"),
        (lambda s: s.add_points(0, 1, [[5, 5], [6, 6]], [1]), ValueError, "one label"),
        (lambda s: s.add_points(0, 1, [[5, 5]], [2]), ValueError, "1 .positive"),
        (lambda s: s.add_points(0, 1, [[5, 5]], None), ValueError, "together"),
        (lambda s: s.add_points(0, 1.5, [[5, 5]], [1]), TypeError, "integer"),
        (lambda s: s.add_box(0, 1, [50, 50, 10, 10]), ValueError, "x1 < x0"),
        (lambda s: s.add_mask(0, 1, np.ones((5, 5), bool)), ValueError, "rows, columns"),
        (lambda s: s.remove_object(42), KeyError, "unknown object id"),
        (lambda s: s.clear_prompts(0, 42), KeyError, "unknown object id"),
        (lambda s: list(s.propagate(direction="sideways")), ValueError, "direction"),
        (lambda s: list(s.propagate(max_frames=0)), ValueError, "at least 1"),
    ],
)
def test_bad_input_is_refused_and_the_session_stays_usable(model, movie, call, error, message):
    session = _session(model, movie)
    session.add_points(0, 1, [[50, 40]], [1])
    with pytest.raises(error, match=message):
        call(session)
    assert [r.frame for r in session.propagate(start=0, max_frames=2)] == [0, 1]


@pytest.mark.parametrize(
    "frames, message",
    [
        (np.zeros((5, 5), np.uint8), "dimension|shape"),
        (np.zeros((0, 16, 16), np.uint8), "no frames|empty"),
    ],
)
def test_bad_stacks_are_refused(model, frames, message):
    with pytest.raises(ValueError, match=message):
        se.VideoPredictor(model).start(frames)


def test_all_nan_frame_gives_a_clear_error(model):
    frames = np.full((3, 32, 32), np.nan, np.float32)
    session = se.VideoPredictor(model).start(frames)
    with pytest.raises(ValueError, match="NaN"):
        session.add_points(0, 1, [[5, 5]], [1])
    assert session.obj_ids in ([], [1])


def test_prefetching_the_next_frame_changes_nothing_but_when_frames_are_read(model, movie):
    import threading

    class ThreadRecordingStack(CountingStack):
        def __getitem__(self, index):
            self.threads.add(threading.current_thread().name)
            return super().__getitem__(index)

    results = {}
    frames = (movie // 16).astype(np.uint8)  # uint8: no statistics sampling
    for prefetch in (False, True):
        stack = ThreadRecordingStack(frames)
        stack.threads = set()
        session = _session(model, stack, prefetch=prefetch)
        session.add_points(0, 1, [[50, 40]], [1])
        outs = list(session.propagate(start=0, max_frames=5))
        results[prefetch] = np.stack([o.masks for o in outs])
        # each frame is read once either way, none beyond max_frames
        assert sorted(stack.reads) == [0, 1, 2, 3, 4]
        background = {name for name in stack.threads if name.startswith("sam2-prefetch")}
        assert bool(background) is prefetch
    np.testing.assert_array_equal(results[False], results[True])


def test_a_failing_background_read_raises_in_the_caller():
    from sam2_engine.video.prefetch import FramePrefetcher

    def load(frame: int) -> torch.Tensor:
        if frame == 3:
            raise OSError("chunk 3 is corrupt")
        return torch.full((1,), float(frame))

    pre = FramePrefetcher(load, enabled=True)
    pre.schedule(2)
    pre.schedule(3)
    assert pre.get(2).item() == 2.0
    with pytest.raises(OSError, match="chunk 3"):
        pre.get(3)
    assert pre.get(4).item() == 4.0  # not scheduled: loaded on demand
    pre.close()
