"""The next free label follows commits, undo, redo and the user's brush without scanning
the Labels layer after each of them (issue 19: a scan costs ~12 ms at 16,384²)."""

from __future__ import annotations

import numpy as np
from napari.layers import Image, Labels

from napari_sam2.core.label_ids import LabelIds


def _commit(c, point):
    c.clear_prompts()
    c.add_point(point)
    return c.commit().obj_id


def test_next_label_after_commit_undo_and_redo(make_controller, present_model, nuclei_2d):
    c = make_controller(present_model)
    c.set_image(Image(nuclei_2d.image))
    a = _commit(c, (20, 20))
    b = _commit(c, (60, 60))
    ids = c.ws.labels.ids
    scans = ids.scans
    assert (a, b) == (1, 2) and c.next_label() == 3 and c.peek_next_label() == 3
    assert ids.scans == scans, "a commit raises the running maximum: no scan"
    c.undo()  # takes object 2 back: its id is free again
    assert int(np.max(c.labels_layer.data)) == 1
    assert c.next_label() == 2
    c.redo()
    assert c.next_label() == 3
    scans = ids.scans
    c.undo()
    c.redo()
    assert c.next_label() == 3 and ids.scans <= scans + 1


def test_a_label_painted_by_hand_is_followed_without_a_scan(
    make_controller, present_model, nuclei_2d
):
    c = make_controller(present_model)
    c.set_image(Image(nuclei_2d.image))
    _commit(c, (20, 20))
    layer = c.labels_layer
    assert c.next_label() == 2
    scans = c.ws.labels.ids.scans
    layer.selected_label = 40
    layer.paint((80, 10), 40)  # the user's brush, one undo step (napari's paint event)
    assert c.next_label() == 41 == c.peek_next_label()
    assert c.ws.labels.ids.scans == scans
    assert _commit(c, (60, 60)) == 41
    layer.paint((80, 10), 0)  # erased with the brush: the largest label may be gone
    layer.paint((60, 60), 0)
    assert c.next_label() == int(np.max(layer.data)) + 1


def test_napari_undo_and_a_new_array_are_noticed():
    layer = Labels(np.zeros((32, 32), np.int32))
    ids = LabelIds()
    ids.reset(layer)
    assert ids.next(layer) == 1
    layer.data_setitem((np.array([3]), np.array([4])), 9)
    assert ids.next(layer) == 10 and ids.scans == 1
    layer.undo()  # napari's own Ctrl-Z: no event, noticed from the history
    assert ids.next(layer) == 1
    layer.redo()
    assert ids.next(layer) == 10
    layer.data = np.full((32, 32), 5, np.int32)
    assert ids.next(layer) == 6
    assert ids.next(layer, taken=[12]) == 13


def test_undo_through_the_plugin_scans_only_when_the_largest_label_goes():
    layer = Labels(np.zeros((32, 32), np.int32))
    ids = LabelIds()
    ids.reset(layer)
    layer.data_setitem((np.array([1]), np.array([1])), 7)
    layer.data_setitem((np.array([2]), np.array([2])), 3)
    assert ids.next(layer) == 8 and ids.scans == 1
    ids.history_step(layer)  # takes label 3 back: 7 is still the largest
    assert ids.next(layer) == 8 and ids.scans == 1
    ids.history_step(layer)  # takes 7 back
    assert ids.next(layer) == 1 and ids.scans == 2
    ids.history_step(layer, redo=True)
    assert ids.next(layer) == 8 and ids.scans == 2
