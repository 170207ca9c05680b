"""The "Segment" tool of the SAM 2 dock: click, preview, commit, propagate.

A thin view of the viewer's :class:`~napari_sam2.controller.Sam2Controller`: every
button calls one controller method, every field follows one controller signal. The
image, model and labels come from the dock's shared setup.
"""

from __future__ import annotations

import contextlib
from typing import Any

from magicgui.widgets import CheckBox, ComboBox, Container, Label, PushButton, SpinBox

from napari_sam2._widgets.common import hbox
from napari_sam2._widgets.tools import ToolContext
from napari_sam2.core.state import OverlapPolicy
from napari_sam2.viewer.keys import MOUSE_HELP, SHORTCUTS


def _tip(action: str, text: str) -> str:
    key, description = SHORTCUTS[action]
    return f"{text} — shortcut: {key} ({description})"


class InteractiveTool(Container):
    """Interactive segmentation and tracking (points, boxes, commits, propagation)."""

    def __init__(self, context: ToolContext) -> None:
        self.bridge = context.bridge
        c = self.controller = context.controller
        super().__init__(labels=False)
        self.margins = (2, 2, 2, 2)
        self.help_label = Label(value=MOUSE_HELP)
        self.negative_box = CheckBox(
            text="Negative clicks", tooltip=_tip("toggle", "plain clicks mark background")
        )
        self.object_id_spin = SpinBox(
            label="Object id",
            min=0,
            max=2**31 - 1,
            value=0,
            tooltip="0: a new object (next free label). Set an id, or click on a labelled "
            "object, to correct it: its mask on this plane is replaced. Clear ends it",
        )
        self.overlap_combo = ComboBox(
            label="Overlap",
            choices=[(p.description, p) for p in OverlapPolicy],
            value=OverlapPolicy.KEEP,
            tooltip="what happens to pixels that already belong to another object",
        )
        self.commit_btn = PushButton(
            text="Commit (C)", tooltip=_tip("commit", "write the preview mask")
        )
        self.clear_btn = PushButton(
            text="Clear (Esc)", tooltip=_tip("clear", "drop clicks and box, end a correction")
        )
        self.new_btn = PushButton(text="New object (N)", tooltip=_tip("new_object", "next id"))
        self.undo_btn = PushButton(text="Undo", tooltip=_tip("undo", "undo in the Labels layer"))
        self.redo_btn = PushButton(text="Redo", tooltip=_tip("redo", "redo in the Labels layer"))
        self.direction_combo = ComboBox(
            label="Direction",
            choices=["forward", "backward", "both"],
            value=c.settings.direction,
            tooltip="from the current frame (if it holds a commit) or the first prompted one",
        )
        self.max_frames_spin = SpinBox(
            label="Max frames", min=0, max=10**7, value=0, tooltip="0: to the end"
        )
        self.propagate_btn = PushButton(
            text="Propagate (G)",
            tooltip=_tip(
                "propagate",
                "track all committed objects; one undo step; Cancel keeps finished frames",
            ),
        )
        self.track_labels_btn = PushButton(
            text="Track labels here",
            tooltip="objects already in the Labels layer on this frame (painted by hand or from "
            "another tool) take part in propagation",
        )
        self.reset_btn = PushButton(text="Reset tracking", tooltip="forget tracked objects")
        options = hbox(self.object_id_spin, self.overlap_combo, labels=True)
        stack_opts = hbox(self.direction_combo, self.max_frames_spin, labels=True)
        stack_buttons = hbox(self.propagate_btn, self.track_labels_btn, self.reset_btn)
        self.stack_box = Container(widgets=[stack_opts, stack_buttons], labels=False)
        self.stack_box.margins = (0, 0, 0, 0)
        self.extend(
            [
                self.help_label,
                self.negative_box,
                options,
                hbox(self.commit_btn, self.clear_btn, self.new_btn),
                hbox(self.undo_btn, self.redo_btn),
                _heading("Stack (time or z)"),
                self.stack_box,
            ]
        )
        self._wire(context.connections)
        self._refresh()

    # ------------------------------------------------------------------ wiring
    def _wire(self, con: Any) -> None:
        c = self.controller
        self.commit_btn.changed.connect(lambda: c.commit(self.object_id_spin.value or None))
        self.clear_btn.changed.connect(c.clear_prompts)
        self.new_btn.changed.connect(c.new_object)
        self.undo_btn.changed.connect(c.undo)
        self.redo_btn.changed.connect(c.redo)
        self.negative_box.changed.connect(self._set_negative)
        self.object_id_spin.changed.connect(lambda v: c.select_object(v or None))
        self.overlap_combo.changed.connect(
            lambda v: setattr(c.settings, "overlap", OverlapPolicy(v))
        )
        self.direction_combo.changed.connect(lambda v: setattr(c.settings, "direction", v))
        self.max_frames_spin.changed.connect(lambda v: setattr(c.settings, "max_frames", v or None))
        self.propagate_btn.changed.connect(lambda: c.propagate())
        self.track_labels_btn.changed.connect(lambda: c.track_labels_on_plane())
        self.reset_btn.changed.connect(c.reset_tracking)
        ev = c.events
        for signal in (ev.jobs_changed, ev.image_changed, ev.model_changed, ev.labels_changed):
            con.connect(signal, self._refresh)
        con.connect(ev.prompts_changed, self._follow_prompts)
        con.connect(ev.status_changed, self._follow_settings)

    def _set_negative(self, value: bool) -> None:
        if bool(value) != self.controller.settings.negative_by_default:
            self.bridge.toggle_polarity()

    def _follow_settings(self, _: Any = None) -> None:
        s = self.controller.settings
        with _blocked(self.negative_box):
            self.negative_box.value = s.negative_by_default
        with _blocked(self.direction_combo):
            self.direction_combo.value = s.direction

    def _follow_prompts(self) -> None:
        c = self.controller
        with _blocked(self.object_id_spin):
            self.object_id_spin.value = c.current.obj_id or 0
        self.commit_btn.enabled = not c.current.prompts.empty

    def _refresh(self, *_: Any) -> None:
        c = self.controller
        stack = c.layout is not None and c.layout.is_stack
        self.stack_box.enabled = stack and not c.is_running("propagate")
        self.commit_btn.enabled = not c.current.prompts.empty
        self.undo_btn.enabled = self.redo_btn.enabled = c.labels_layer is not None
        self._follow_settings()


def _heading(text: str) -> Label:
    return Label(value=f"<b>{text}</b>")


@contextlib.contextmanager
def _blocked(widget: Any):
    with widget.changed.blocked():
        yield
