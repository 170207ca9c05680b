"""The next free label of the target Labels layer, without a scan after every edit.

A scan of a 16,384² layer for its largest label takes ~12 ms, and the preview asks for
the next label after every commit. :class:`LabelIds` keeps a **running maximum** instead
and scans only when it cannot know the answer:

- the plugin's writes (:meth:`LabelIds.written`) and every item napari adds to the
  layer's undo history (its ``paint`` event: the user's brush, fill and polygon, the
  plugin's ``data_setitem`` writes) raise it to the labels they write;
- an edit that takes pixels away from the largest label (an eraser on it, an overwrite)
  may lower it: it is marked unknown;
- an undo or redo through the plugin (:meth:`LabelIds.history_step`) looks at the item it
  replays: labels brought back raise it, and it is marked unknown only when the labels
  taken away include the largest;
- any other change of the layer's history (napari's own Ctrl-Z) or a new data array is
  noticed from the history's state (the last undo item, the lengths of both stacks, the
  data array), which is noted each time the maximum is known to be right.

Unknown means: scanned once, when the next label is asked for (ids freed by an undo are
then reused, as before).
"""

from __future__ import annotations

import weakref
from collections.abc import Iterable
from typing import Any

import numpy as np

from napari_sam2.core.labels_edit import max_label

__all__ = ["LabelIds"]


def _values(atom: Any) -> tuple[int, int]:
    """(largest label before, largest label after) of one history atom; (-1, -1) for
    atoms that move no pixel (e.g. lineage edits)."""
    if hasattr(atom, "new_value") and hasattr(atom, "old_values"):  # a masked paint atom
        before, after = atom.old_values, atom.new_value
    elif isinstance(atom, tuple) and len(atom) == 3:  # data_setitem: (indices, old, new)
        before, after = atom[1], atom[2]
    else:
        return -1, -1
    return int(np.max(before, initial=0)), int(np.max(after, initial=0))


class LabelIds:
    """The next free label: above every label in the layer and every tracked id (see the
    module docstring for how the layer's largest label is followed)."""

    def __init__(self) -> None:
        self._max = 0
        self._known = False  # _max is the layer's largest label
        self._mark: tuple | None = None  # the layer's history when _max was last right
        self._peek: int | None = None
        self._layer: Any = None
        self.scans = 0  # how often the layer was scanned (tests, benchmarks)

    # ------------------------------------------------------------------ the layer
    def reset(self, layer: Any = None) -> None:
        """Follow ``layer`` (another layer became the target): nothing is known of it."""
        if self._layer is not None:
            try:
                self._layer.events.paint.disconnect(self._on_paint)
            except (AttributeError, TypeError, ValueError, RuntimeError):
                pass
        self._layer = layer
        if layer is not None and hasattr(layer, "events"):
            layer.events.paint.connect(self._on_paint)
        self._max, self._known, self._mark, self._peek = 0, False, None, None

    @staticmethod
    def _state(layer: Any) -> tuple:
        """What identifies the layer's data and history now: the data array (compared
        by identity), the undo stack's length and top item, the redo stack's length."""
        undo = getattr(layer, "_undo_history", None)
        redo = getattr(layer, "_redo_history", None)
        last = undo[-1] if undo else None
        return (
            _Same(layer.data),
            len(undo) if undo is not None else -1,
            id(last),
            len(redo) if redo is not None else -1,
        )

    def _still_right(self, layer: Any) -> bool:
        return self._known and self._mark is not None and self._mark == self._state(layer)

    def _note(self, layer: Any) -> None:
        self._mark = self._state(layer) if self._known else None
        self._peek = None

    # ------------------------------------------------------------------ changes
    def written(self, label: int) -> None:
        """The plugin wrote ``label`` (or labels up to it)."""
        self._max, self._peek = max(self._max, int(label)), None

    def _on_paint(self, event: Any) -> None:
        """napari added an item to the layer's undo history (it is already applied)."""
        layer, item = self._layer, getattr(event, "value", None)
        if layer is None:
            return
        undo = getattr(layer, "_undo_history", None)
        before = self._mark
        # the history before this item: the previous item on top, the redo stack cleared
        expected = undo is not None and len(undo) >= 1 and before is not None
        if expected:
            prev = undo[-2] if len(undo) >= 2 else None
            expected = before[1] == len(undo) - 1 and before[2] == id(prev)
        self._known = self._known and bool(expected) and item is not None
        if self._known:
            self._apply(item, undoing=False)
        self._note(layer)

    def _apply(self, item: Iterable[Any], undoing: bool) -> None:
        """Follow one history item applied forwards (or taken back when ``undoing``)."""
        for atom in item:
            old, new = _values(atom)
            gone, back = (new, old) if undoing else (old, new)
            if back > self._max:
                self._max = back  # above every label there was
            elif gone >= self._max and gone > 0:
                self._known = False  # the largest label may have lost its last pixels

    def history_step(self, layer: Any, redo: bool = False) -> None:
        """Undo (or redo) the last edit of ``layer``, following the largest label."""
        stack = getattr(layer, "_redo_history" if redo else "_undo_history", None)
        item = list(stack[-1]) if stack else None
        self._known = self._still_right(layer) and item is not None
        (layer.redo if redo else layer.undo)()
        if self._known and item is not None:
            self._apply(item, undoing=not redo)
        self._note(layer)

    # ------------------------------------------------------------------ asking
    def next(self, layer: Any, taken: Iterable[int] = ()) -> int:
        """The smallest label above the layer's labels and the ``taken`` ids."""
        used = 0
        if layer is not None:
            if layer is not self._layer:
                self.reset(layer)
            if not self._still_right(layer):
                self._max, self._known = max_label(layer.data), True
                self.scans += 1
                self._note(layer)
            used = self._max
        return max(used, max(taken, default=0)) + 1

    def peek(self, layer: Any, taken: Iterable[int] = ()) -> int:
        """:meth:`next`, remembered until the next write (cheap to ask again)."""
        if self._peek is None:
            self._peek = self.next(layer, taken)
        return self._peek


class _Same:
    """An object compared by identity, held weakly where it can be (a layer's data)."""

    def __init__(self, obj: Any) -> None:
        try:
            self._ref: Any = weakref.ref(obj)
        except TypeError:
            self._ref = lambda obj=obj: obj

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, _Same):
            return NotImplemented
        mine = self._ref()
        return mine is not None and mine is other._ref()

    __hash__ = None  # type: ignore[assignment]
