"""Autosave of committed labels: written after every recorded edit, atomically, can be
turned off, and loads back after a crash."""

from __future__ import annotations

import json

import numpy as np
import pytest
from napari.layers import Image

from napari_sam2.core.autosave import (
    autosave_dir,
    autosave_files,
    read_autosave,
    write_atomically,
)


def saved(c) -> np.ndarray:
    assert c.autosave.wait()
    return read_autosave(c.autosave.last_path)


def test_commits_propagation_and_undo_are_autosaved(make_controller, present_model, timelapse):
    c = make_controller(present_model)
    c.set_image(Image(timelapse.movie, name="movie"))
    c.add_point((0, 20, 20))
    c.commit()
    assert c.autosave.last_path.parent == autosave_dir()
    np.testing.assert_array_equal(saved(c), np.asarray(c.labels_layer.data))
    c.propagate()
    after = np.asarray(c.labels_layer.data).copy()
    assert after[1:].any()
    np.testing.assert_array_equal(saved(c), after)
    c.undo()
    assert not saved(c)[1:].any(), "the undo is saved too"
    meta = json.loads(c.autosave.last_path.with_suffix(".json").read_text())
    assert meta["layer"] == c.labels_layer.name and meta["image"] == "movie"
    assert meta["shape"] == list(timelapse.movie.shape)
    assert len(autosave_files()) == 1, "one file per layer, rewritten"


def test_autosave_can_be_turned_off(make_controller, present_model, nuclei_2d):
    c = make_controller(present_model)
    c.autosave.enabled = False
    c.set_image(Image(nuclei_2d.image))
    c.add_point((40, 40))
    c.commit()
    assert c.autosave.last_path is None and autosave_files() == []


def test_a_write_that_fails_leaves_the_previous_file_whole(tmp_path):
    path = tmp_path / "labels.npy"
    write_atomically(path, lambda f: np.save(f, np.arange(10)))

    def crash(f):
        f.write(b"half a file")
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        write_atomically(path, crash)
    np.testing.assert_array_equal(np.load(path), np.arange(10))
    assert [p.name for p in tmp_path.iterdir()] == ["labels.npy"], "no temporary file is left"


def test_the_autosave_loads_back_as_labels(make_controller, present_model, nuclei_2d):
    from napari_sam2 import api

    c = make_controller(present_model)
    c.set_image(Image(nuclei_2d.image, scale=(0.5, 0.5)))
    c.add_point((40, 40))
    c.commit()
    c.autosave.wait()
    layer = api.load_autosave()
    np.testing.assert_array_equal(layer.data, np.asarray(c.labels_layer.data))
    assert layer.name == "SAM 2 labels (recovered)" and list(layer.scale) == [0.5, 0.5]


def test_a_failing_folder_is_reported_once(
    make_controller, present_model, nuclei_2d, messages, tmp_path, monkeypatch
):
    from napari_sam2.core.autosave import AUTOSAVE_ENV

    blocker = tmp_path / "not_a_folder"
    blocker.write_text("a file where the folder should be")
    monkeypatch.setenv(AUTOSAVE_ENV, str(blocker))
    c = make_controller(present_model)
    c.set_image(Image(nuclei_2d.image))
    for point in ((30, 30), (60, 60), (20, 70)):
        c.add_point(point)
        c.commit()
        c.autosave.wait()
    warnings = [m for m in messages.of("warning") if "autosave" in m]
    assert len(warnings) == 1 and AUTOSAVE_ENV in warnings[0]


@pytest.mark.gui
def test_the_setup_checkbox_turns_autosave_off(make_napari_viewer, nuclei_2d):
    from npe2 import PluginManager

    from tests.plugin.qt_events import open_dock

    PluginManager.instance().discover()
    viewer = make_napari_viewer()
    viewer.add_image(nuclei_2d.image, name="nuclei")
    dock = open_dock(viewer)
    assert dock.setup.autosave_box.value and dock.controller.autosave.enabled
    dock.setup.autosave_box.native.click()
    assert not dock.controller.autosave.enabled
    assert str(autosave_dir()) in dock.setup.autosave_box.tooltip


def _chunk_files(path):
    """Chunk files of a zarr store (the metadata left out)."""
    return {p.relative_to(path) for p in path.rglob("*") if p.is_file() and "zarr" not in p.name}


def _stamps(path):
    return {f: (path / f).stat().st_mtime_ns for f in _chunk_files(path)}


def test_a_small_edit_on_a_big_image_saves_only_its_chunks(make_controller, present_model):
    c = make_controller(present_model)
    image = np.zeros((3000, 2600), np.uint16)
    c.set_image(Image(image, name="slide"))
    labels = c.ensure_labels()
    assert c.autosave.request() is not None and c.autosave.wait()
    path = c.autosave.last_path
    assert c.autosave.last_chunks == 0, "a layer the plugin made is empty: nothing copied"
    labels.paint((100, 100), 1)  # a brush dab far from the next edit
    c.autosave.request()  # napari announced the dab before painting it: saved again
    c.autosave.wait()
    np.testing.assert_array_equal(read_autosave(path), np.asarray(labels.data))
    before = _stamps(path)

    # a commit of a small object near a chunk corner (chunks of 512 px)
    rows, cols = np.nonzero(np.ones((40, 40), bool))
    from napari_sam2.core.labels_edit import PlaneEdit

    c.ws.labels.write(
        (slice(None), slice(None)),
        PlaneEdit(rows + 1010, cols + 1010, np.full(rows.size, 7, np.int32)),
    )
    c.events.committed.emit(None)
    assert c.autosave.wait()
    assert c.autosave.last_chunks <= 4, "only the chunks under the edit are copied"
    after = _stamps(path)
    changed = {f for f in after if before.get(f) != after[f]}
    assert changed and len(changed) <= 4, changed
    assert all(before[f] == after[f] for f in before if f not in changed), "others untouched"
    np.testing.assert_array_equal(read_autosave(path), np.asarray(labels.data))

    c.undo()  # the undo's chunks are found in napari's history
    assert c.autosave.wait() and c.autosave.last_chunks <= 4
    np.testing.assert_array_equal(read_autosave(path), np.asarray(labels.data))
    assert not read_autosave(path)[1010:1050, 1010:1050].any()
    c.redo()
    assert c.autosave.wait()
    np.testing.assert_array_equal(read_autosave(path), np.asarray(labels.data))


def test_edit_autosave_and_restore_are_equal_for_stacks_and_chosen_layers(
    make_controller, present_model, timelapse
):
    from napari.layers import Labels

    from napari_sam2 import api

    c = make_controller(present_model)
    c.set_image(Image(timelapse.movie, name="movie"))
    mine = np.zeros(timelapse.movie.shape, np.uint16)
    mine[2, 5:9, 5:9] = 3  # the user's own labels: saved whole once
    layer = Labels(mine, name="my labels")
    c.set_labels(layer)
    c.add_point((0, 20, 20))
    c.commit()
    c.autosave.wait()
    restored = api.load_autosave()
    np.testing.assert_array_equal(restored.data, np.asarray(layer.data))
    assert restored.data.dtype == layer.data.dtype
    layer.data = np.zeros_like(mine)  # a new array: a new store, written whole
    c.add_point((1, 30, 30))
    c.commit()
    c.autosave.wait()
    np.testing.assert_array_equal(api.load_autosave().data, np.asarray(layer.data))


def test_older_npy_autosaves_still_load(tmp_path):
    from napari_sam2 import api

    path = tmp_path / "2025-01-01_00-00-00_labels.npy"
    np.save(path, np.arange(12, dtype=np.int32).reshape(3, 4))
    np.testing.assert_array_equal(api.load_autosave(path).data, np.arange(12).reshape(3, 4))
