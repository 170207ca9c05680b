"""The tools of the SAM 2 dock, one line each, and what a tool is given.

A tool is a magicgui ``Container`` built as ``Tool(context)``; the dock shows one tab per
entry of :data:`TOOLS`, in order, below the shared setup (its rows packed at the top,
unless the tool sets ``fills_height = True`` and gives the spare height to a widget).
Adding a tool (e.g. "Track cells" was) is one more line here; its class is imported when the
dock is built.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any

from napari_sam2.controller import Sam2Controller
from napari_sam2.viewer.bridge import ViewerBridge


@dataclass(frozen=True)
class ToolSpec:
    """One tab of the dock.

    Attributes
    ----------
    key
        Name used to select it (``dock.show_tool(key)``, the menu commands).
    title
        Tab text.
    path
        ``"module:Class"`` of the tool.
    """

    key: str
    title: str
    path: str

    def build(self, context: ToolContext) -> Any:
        module, name = self.path.split(":")
        return getattr(importlib.import_module(module), name)(context)


TOOLS: tuple[ToolSpec, ...] = (
    ToolSpec("segment", "Segment", "napari_sam2._widgets.interactive:InteractiveTool"),
    ToolSpec("automatic", "Everything", "napari_sam2._widgets.automatic:AutomaticTool"),
    ToolSpec("track", "Track cells", "napari_sam2._widgets.tracking:TrackingTool"),
    ToolSpec("finetune", "Fine-tune", "napari_sam2._widgets.finetune:FinetuneTool"),
)


@dataclass
class ToolContext:
    """What every tool of a dock shares.

    Attributes
    ----------
    viewer
        The napari viewer.
    bridge
        The viewer's bridge (helper layers, mouse, keys) and its controller.
    setup
        The shared setup panel (image, axes, model, device, labels).
    connections
        Register signal connections and close callbacks here (undone with the dock).
    dock
        The dock (a tool may switch to another: ``dock.show_tool("segment")``).
    """

    viewer: Any
    bridge: ViewerBridge
    setup: Any
    connections: Any
    dock: Any

    @property
    def controller(self) -> Sam2Controller:
        return self.bridge.controller


def tool_keys() -> list[str]:
    """The keys of :data:`TOOLS`, in tab order."""
    return [spec.key for spec in TOOLS]
