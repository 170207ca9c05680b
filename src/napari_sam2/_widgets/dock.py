"""The SAM 2 dock: the shared setup on top, one tab per tool, the job row below.

One dock per viewer (**Plugins > SAM 2 (napari-sam2)**). Image, axes, model, device and
target labels are chosen once in the setup and used by every tool; switching tabs keeps
every choice. The menu entries under **Layers > Segment** open the same dock on a given
tool (:func:`open_dock`). Each tab scrolls if the window is too short for it, so the
dock never makes the window taller than the screen.
"""

from __future__ import annotations

from typing import Any

from magicgui.widgets import Container
from napari.viewer import Viewer

from napari_sam2._widgets.common import Connections, ProgressRow, viewer_bridge
from napari_sam2._widgets.setup_panel import SetupPanel
from napari_sam2._widgets.tools import TOOLS, ToolContext, tool_keys
from napari_sam2.viewer.registry import unwrap_viewer

PLUGIN, DOCK_NAME = "napari-sam2", "SAM 2"
MODEL_JOBS = ("model", "embed", "tiles", "preview", "propagate", "automatic", "track", "export")


class Sam2Dock(Container):
    """Every SAM 2 tool of one viewer, sharing one setup and one controller.

    Parameters
    ----------
    napari_viewer
        The viewer (napari passes it when the dock is opened from the Plugins menu).
    tool
        The tab shown first (a key of :data:`~napari_sam2._widgets.tools.TOOLS`).

    Attributes
    ----------
    bridge, controller
        The viewer's bridge and controller (shared with the console API).
    setup
        The shared setup panel.
    tools
        ``{key: tool widget}``.
    progress_row
        Progress, Cancel and the status line of the controller's jobs.
    """

    def __init__(self, napari_viewer: Any, tool: str = "segment") -> None:
        from qtpy.QtWidgets import QTabWidget

        viewer = unwrap_viewer(napari_viewer)
        self.bridge = viewer_bridge(viewer)
        self.controller = self.bridge.controller
        super().__init__(labels=False)
        self._viewer = viewer
        self._view_fit: Any = None
        self.connections = Connections(self, self.bridge)
        self.setup = SetupPanel(viewer, self.bridge, self.connections)
        self.progress_row = ProgressRow()
        self.tabs = QTabWidget()
        context = ToolContext(viewer, self.bridge, self.setup, self.connections, self)
        self.tools: dict[str, Any] = {}
        for spec in TOOLS:
            widget = spec.build(context)
            self.tools[spec.key] = widget
            if not getattr(widget, "fills_height", False):
                widget.native.layout().addStretch(1)  # rows stay together at the top
            self.tabs.addTab(_scrolled(widget.native), spec.title)
        self.extend([self.setup, self.progress_row])
        self.native.layout().insertWidget(1, self.tabs, 1)
        self._wire()
        self.show_tool(tool)
        if self.controller.model is None:
            self.setup._model_chosen()
        self.setup.select_default_image()

    # ------------------------------------------------------------------ tools
    def show_tool(self, key: str) -> Any:
        """Bring the tab of tool ``key`` to the front; returns the tool widget."""
        if key not in self.tools:
            raise ValueError(f"no SAM 2 tool {key!r}; the tools are {tool_keys()}")
        self.tabs.setCurrentIndex(tool_keys().index(key))
        return self.tools[key]

    def tool(self, key: str) -> Any:
        """The widget of tool ``key`` (without switching to it)."""
        return self.tools[key]

    @property
    def current_tool(self) -> str:
        return tool_keys()[self.tabs.currentIndex()]

    # ------------------------------------------------------------------ wiring
    def _wire(self) -> None:
        c, con, row = self.controller, self.connections, self.progress_row
        row.cancel.changed.connect(lambda: c.cancel())
        con.connect(c.events.jobs_changed, self._refresh)
        con.connect(c.events.status_changed, row.show_status)
        con.connect(c.events.progress_changed, lambda _kind, done, n: row.show_progress(done, n))
        self.native_parent_changed.connect(self._docked)
        self._refresh()

    def _refresh(self, *_: Any) -> None:
        c = self.controller
        self.progress_row.show_jobs([k for k in MODEL_JOBS if c.is_running(k)])
        self.progress_row.show_status(c.status)

    def _docked(self, parent: Any) -> None:
        """Docking narrows the canvas: show the whole image again (and keep doing so on
        resizes and new images until the user zooms or pans, see :mod:`.view_fit`)."""
        if parent is None or self._view_fit is not None:
            return
        from napari_sam2._widgets.view_fit import ViewFitter

        self._view_fit = ViewFitter(self._viewer, self.connections)
        self._view_fit.fit_soon()


def _scrolled(widget: Any) -> Any:
    """``widget`` in a vertical scroll area (used only when the window is too short)."""
    from qtpy.QtCore import Qt
    from qtpy.QtWidgets import QFrame, QScrollArea

    area = QScrollArea()
    area.setWidget(widget)
    area.setWidgetResizable(True)
    area.setFrameShape(QFrame.NoFrame)
    area.setHorizontalScrollBarPolicy(Qt.ScrollBarAlwaysOff)
    return area


# ---------------------------------------------------------------------- opening
def open_dock(viewer: Any, tool: str = "segment") -> Sam2Dock:
    """Open (or show) the viewer's SAM 2 dock on ``tool``; returns the dock.

    The dock is the one **Plugins > SAM 2** opens (napari names both ``"SAM 2
    (napari-sam2)"``); one already docked, under any name, is shown instead of a second.
    """
    window = unwrap_viewer(viewer).window
    dock = next((w for w in window.dock_widgets.values() if isinstance(w, Sam2Dock)), None)
    if dock is None:
        dock_widget, dock = window.add_plugin_dock_widget(PLUGIN, DOCK_NAME)
    else:
        dock_widget = dock.native.parent()
    dock_widget.show()
    dock_widget.raise_()
    dock.show_tool(tool)
    return dock


def open_segment(viewer: Viewer) -> None:
    """Menu command: the SAM 2 dock on its Segment tool."""
    open_dock(viewer, "segment")


def open_automatic(viewer: Viewer) -> None:
    """Menu command: the SAM 2 dock on "segment everything"."""
    open_dock(viewer, "automatic")


def open_tracking(viewer: Viewer) -> None:
    """Menu command: the SAM 2 dock on cell tracking."""
    open_dock(viewer, "track")


def open_finetune(viewer: Viewer) -> None:
    """Menu command: the SAM 2 dock on fine-tuning."""
    open_dock(viewer, "finetune")
