"""The Qt-free controller on stacks: propagation, cancel, corrections, lazy data, 3D+t."""

import dask.array as da
import numpy as np
import pytest
from napari.layers import Image, Labels

from napari_sam2.core import label_target as controller_module
from napari_sam2.core import labels_edit
from napari_sam2.core.state import PlaneKey
from tests.plugin.test_layout import counting_dask


def commit_two(c, t=0):
    c.add_point((t, 20, 20))
    first = c.commit()
    c.add_point((t, 50, 50))
    second = c.commit()
    return first.obj_id, second.obj_id


def test_propagation_writes_every_frame_as_one_undo_step(make_controller, present_model, timelapse):
    c = make_controller(present_model)
    c.set_image(Image(timelapse.movie))
    a, b = commit_two(c)
    labels = c.labels_layer
    history = len(labels._undo_history)
    done = []
    c.events.propagation_finished.connect(lambda n, cancelled: done.append((n, cancelled)))
    assert c.propagate("forward")
    assert done == [(6, False)]
    data = np.asarray(labels.data)
    for t in range(6):
        assert {a, b} <= set(np.unique(data[t])), f"frame {t} was not written"
    assert len(labels._undo_history) == history + 1, "the propagation is ONE undo step"
    frame0 = data[0].copy()
    labels.undo()
    after = np.asarray(labels.data)
    np.testing.assert_array_equal(after[0], frame0)
    assert not after[1:].any()


def test_cancel_keeps_finished_frames_and_a_consistent_layer(
    make_controller, present_model, timelapse
):
    c = make_controller(present_model)
    c.set_image(Image(timelapse.movie))
    a, _ = commit_two(c)

    def stop_after_two(kind, done, total):
        if done == 2:
            c.cancel("propagate")

    c.events.progress_changed.connect(stop_after_two)
    finished = []
    c.events.propagation_finished.connect(lambda n, cancelled: finished.append((n, cancelled)))
    c.propagate("forward")
    assert finished == [(2, True)]
    data = np.asarray(c.labels_layer.data)
    assert (data[1] == a).any(), "the finished frame is kept"
    assert not data[2:].any(), "nothing after the cancel"
    assert c.ws.labels.group is None and not c.labels_layer._block_history, "history is usable"
    c.labels_layer.undo()
    assert not np.asarray(c.labels_layer.data)[1:].any()


def test_correction_repropagates_from_the_corrected_frame(
    make_controller, present_model, timelapse, monkeypatch
):
    from sam2_engine.video.predictor import TrackingSession

    starts = []
    original = TrackingSession.propagate

    def spy(self, start=None, direction="forward", max_frames=None):
        starts.append((start, direction))
        return original(self, start, direction, max_frames)

    monkeypatch.setattr(TrackingSession, "propagate", spy)
    c = make_controller(present_model)
    c.set_image(Image(timelapse.movie))
    a, _ = commit_two(c)
    c.propagate()
    before = np.asarray(c.labels_layer.data).copy()
    c.set_position((3, 0, 0))
    c.select_object(a)
    c.add_point((3, 30, 30))
    c.add_point((3, 5, 5), positive=False)
    c.commit()
    assert PlaneKey(3, ()) in c.objects[a].conditioning
    c.propagate()
    assert starts[-1] == (3, "forward")
    after = np.asarray(c.labels_layer.data)
    np.testing.assert_array_equal(after[:3], before[:3])


def test_objects_painted_by_hand_can_be_tracked(make_controller, present_model, timelapse):
    c = make_controller(present_model)
    c.set_image(Image(timelapse.movie))
    painted = np.zeros(timelapse.movie.shape, np.int32)
    painted[0] = timelapse.labels[0]
    labels = Labels(painted)
    c.set_labels(labels)
    ids = c.track_labels_on_plane()
    assert ids == sorted(int(i) for i in np.unique(timelapse.labels[0]) if i)
    assert c.propagate()
    assert all(np.asarray(labels.data)[t].any() for t in range(6))


def test_dask_stack_is_never_loaded_whole(make_controller, present_model):
    movie = np.random.default_rng(0).integers(0, 4000, (20, 48, 48), dtype=np.uint16)
    arr, source = counting_dask(movie, chunks=(1, 48, 48))
    c = make_controller(present_model)
    layer = Image(arr, contrast_limits=(0, 4000))
    source.reads.clear()
    c.set_image(layer)
    c.add_point((0, 24, 24))
    c.commit()
    c.propagate("forward", max_frames=3)
    planes = {r[0] for r in source.reads}
    assert planes <= set(range(0, 20)) and len(planes) <= 8 + 3, planes
    assert len(planes) < 20
    # with the layer's contrast limits no frame is sampled for statistics at all
    c2 = make_controller(present_model)
    source.reads.clear()
    c2.set_image(layer, normalization="contrast_limits")
    c2.add_point((0, 24, 24))
    c2.commit()
    c2.propagate("forward", max_frames=3)
    assert {r[0] for r in source.reads} == {0, 1, 2}


def test_3d_plus_t_tracks_time_at_the_current_z(make_controller, present_model):
    rng = np.random.default_rng(1)
    movie = rng.integers(0, 4000, (4, 3, 48, 48), dtype=np.uint16)
    arr, source = counting_dask(movie, chunks=(1, 1, 48, 48))
    c = make_controller(present_model)
    layer = Image(arr, contrast_limits=(0, 4000))
    source.reads.clear()
    c.set_image(layer, stack_axis=0, normalization="contrast_limits")
    c.set_position((0, 1, 0, 0))
    assert c.plane == PlaneKey(0, ((1, 1),))
    source.reads.clear()  # set_image embedded the plane at the initial position z=0
    c.add_point((0, 1, 24, 24))
    c.commit()
    assert c.propagate("forward")
    data = np.asarray(c.labels_layer.data)
    assert data.shape == (4, 3, 48, 48)
    assert all(data[t, 1].any() for t in range(4))
    assert not data[:, 0].any() and not data[:, 2].any()
    assert {r[1] for r in source.reads} == {1}, "only the z=1 planes were read"


def test_big_output_labels_are_zarr_backed(make_controller, present_model, timelapse, monkeypatch):
    monkeypatch.setattr(
        controller_module,
        "new_labels_data",
        lambda shape: labels_edit.new_labels_data(shape, threshold_bytes=1),
    )
    c = make_controller(present_model)
    c.set_image(Image(timelapse.movie))
    c.add_point((0, 20, 20))
    c.commit()
    labels = c.labels_layer
    assert not isinstance(labels.data, np.ndarray) and "zarr_path" in labels.metadata
    c.propagate()
    assert all(np.asarray(labels.data[t]).any() for t in range(6))
    labels.undo()
    assert not np.asarray(labels.data[1:]).any()
    assert c.next_label() == 2


def test_propagation_needs_a_stack_and_a_commit(
    make_controller, present_model, timelapse, nuclei_2d, messages
):
    c = make_controller(present_model)
    c.set_image(Image(nuclei_2d.image))
    assert not c.propagate()
    assert "stack" in messages.of("warning")[-1]
    c.set_image(Image(timelapse.movie))
    c.set_labels(Labels(np.zeros(timelapse.movie.shape, np.int32)))
    assert not c.propagate()
    assert "commit" in messages.of("warning")[-1].lower()


def test_z_stack_propagates_both_ways(make_controller, present_model):
    from sam2_synthetic import nuclei_zstack

    stack = nuclei_zstack(n_planes=6, shape=(48, 48), n_nuclei=2, seed=0, radius=(8, 10))
    c = make_controller(present_model)
    c.set_image(Image(stack.image), stack_kind="z")
    assert c.settings.direction == "both"
    c.set_position((3, 0, 0))
    c.add_point((3, 24, 24))
    c.commit()
    assert c.propagate()
    data = np.asarray(c.labels_layer.data)
    assert all(data[z].any() for z in range(6))


def test_dask_labels_target_is_refused_with_a_message_if_shape_differs(make_controller, timelapse):
    c = make_controller()
    c.set_image(Image(timelapse.movie))
    with pytest.raises(ValueError, match="needs"):
        c.set_labels(Labels(da.zeros((2, 64, 64), dtype=np.int32)))


def test_propagation_reads_frames_from_the_disk_cache_when_reopened(
    make_controller, tiny_model, timelapse, tmp_path
):
    disks = []
    for _ in range(2):  # the same time-lapse opened twice (e.g. another napari session)
        c = make_controller(tiny_model)
        c.ws.embeddings.use_disk(True, str(tmp_path))
        c.set_image(Image(timelapse.movie))
        commit_two(c)
        assert c.propagate("forward")
        disks.append(c.ws.embeddings.disk)
    first, second = disks
    assert first.misses == len(timelapse.movie), "every frame encoded and stored once"
    assert first.hits >= 1, "propagation reads the plane embedded for the clicks"
    assert (second.hits, second.misses) == (first.hits + first.misses, 0), "nothing encoded"
