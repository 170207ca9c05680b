"""The plugin's helper layers: prompts (Points), box (Shapes) and preview (Labels).

They are found again by their metadata (``layer.metadata["napari_sam2"]``), so a second
widget, or a widget reopened after closing, reuses them instead of adding copies.

They live as long as the viewer: a new image gives them new data (and its scale), it does
not replace them. Removing a Labels layer and adding another one while the user works
made Mesa's OpenGL (llvmpipe and softpipe, e.g. under Xvfb or in VMs) crash in the next
``glDrawArrays``; only napari, which cannot change the number of axes of a Points or
Shapes layer, makes the prompts and box layers be replaced (a 2D image after a stack).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from napari_sam2.core.label_colours import contrast_colormap
from napari_sam2.core.label_target import HELPER_KEY
from napari_sam2.core.layout import ImageLayout
from napari_sam2.core.state import PlaneKey

PROMPTS_NAME, BOX_NAME, PREVIEW_NAME = "SAM 2 prompts", "SAM 2 box", "SAM 2 preview"
HELPER_ROLES = ("prompts", "box", "preview")
POSITIVE_COLOUR = (0.1, 0.9, 0.2, 1.0)
NEGATIVE_COLOUR = (1.0, 0.15, 0.15, 1.0)


def is_helper(layer: Any) -> bool:
    """Whether a layer is one of the plugin's helper layers (prompts, box, preview)."""
    return layer.metadata.get(HELPER_KEY) in HELPER_ROLES


def find_helper(viewer: Any, role: str) -> Any | None:
    """The viewer's helper layer of ``role``, if there is one."""
    for layer in viewer.layers:
        if layer.metadata.get(HELPER_KEY) == role:
            return layer
    return None


def layer_choices(viewer: Any, kind: str) -> list[tuple[str, Any]]:
    """(name, layer) of the user's layers of one type ("Image", "Labels") for a combo box;
    the plugin's helper layers are left out, and a missing viewer gives none."""
    if viewer is None:
        return []
    return [
        (layer.name, layer)
        for layer in viewer.layers
        if kind in {c.__name__ for c in type(layer).__mro__} and not is_helper(layer)
    ]


def make_helper(role: str, layout: ImageLayout, image: Any) -> Any:
    """A new helper layer of ``role`` aligned with the image layer."""
    scale = list(np.asarray(image.scale, float))
    translate = list(np.asarray(image.translate, float))
    size = float(np.clip(max(layout.plane_shape) / 60, 2, 12) * scale[-1])
    if role == "preview":
        return _make_preview(layout, scale, translate)
    if role == "box":
        return _make_box(layout.ndim, scale, translate, size / 4)
    return _make_prompts(layout.ndim, scale, translate, size)


def helper_fits(layer: Any, role: str, layout: ImageLayout) -> bool:
    """Whether an existing helper layer can serve an image of this layout (the preview,
    one plane, always can: :func:`align_helper` gives it the plane's shape)."""
    if role == "preview":
        return True
    return int(layer.ndim) == layout.ndim


def align_helper(layer: Any, role: str, layout: ImageLayout, image: Any) -> None:
    """Give a reused helper layer the image layer's scale and translation (and the
    preview an empty plane of the image's shape)."""
    scale = list(np.asarray(image.scale, float))
    translate = list(np.asarray(image.translate, float))
    if role == "preview":
        scale, translate = scale[-2:], translate[-2:]
        if tuple(layer.data.shape) != tuple(layout.plane_shape):
            layer.data = np.zeros(layout.plane_shape, dtype=np.int32)
    layer.scale, layer.translate = scale, translate


def rectangle(
    layout: ImageLayout, plane: PlaneKey, box: tuple[float, float, float, float]
) -> np.ndarray:
    """(4, ndim) corners of a (row0, col0, row1, col1) box on ``plane``, for a Shapes layer."""
    r0, c0, r1, c1 = box
    return np.array(
        [layout.position_of(plane, r, c) for r, c in ((r0, c0), (r0, c1), (r1, c1), (r1, c0))]
    )


def _make_prompts(ndim: int, scale: list, translate: list, size: float) -> Any:
    from napari.layers import Points

    layer = Points(
        np.zeros((0, ndim)),
        ndim=ndim,
        name=PROMPTS_NAME,
        size=size,
        border_color="white",
        border_width=0.15,
        scale=scale,
        translate=translate,
        features={"positive": np.zeros(0, dtype=bool)},
        metadata={HELPER_KEY: "prompts"},
    )
    layer.feature_defaults = {"positive": True}
    return layer


def _make_box(ndim: int, scale: list, translate: list, width: float) -> Any:
    from napari.layers import Shapes

    return Shapes(
        ndim=ndim,
        name=BOX_NAME,
        edge_color="yellow",
        face_color="transparent",
        edge_width=max(width, 0.5),
        scale=scale,
        translate=translate,
        metadata={HELPER_KEY: "box"},
    )


def _make_preview(layout: ImageLayout, scale: list, translate: list) -> Any:
    from napari.layers import Labels

    return Labels(
        np.zeros(layout.plane_shape, dtype=np.int32),
        name=PREVIEW_NAME,
        opacity=0.55,
        colormap=contrast_colormap(),  # the colour the object will get in the labels
        scale=scale[-2:],
        translate=translate[-2:],
        metadata={HELPER_KEY: "preview"},
    )
