"""Autosave of committed labels: written after every recorded edit, atomically, can be
turned off, and loads back after a crash."""

from __future__ import annotations

import json

import numpy as np
import pytest
from napari.layers import Image

from napari_sam2.core.autosave import autosave_dir, autosave_files, write_atomically


def saved(c) -> np.ndarray:
    assert c.autosave.wait()
    return np.load(c.autosave.last_path)


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
