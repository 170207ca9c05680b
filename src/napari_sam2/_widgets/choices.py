"""Choices shared by the dock widgets' combo boxes: axes of a layer, models.

One definition for every widget, so that the SAM 2 widgets and the fine-tuning widget
offer the same axes and the same model list.
"""

from __future__ import annotations

from typing import Any

from napari_sam2.core.models import available_models

NO_AXIS = -1  # "no axis" in the axis combos


def layer_axes(layer: Any) -> list[tuple[int, int]]:
    """(axis, size) of the leading axes of an Image layer: the axes that can hold time,
    z or channels (the last two are the displayed rows and columns; an ``rgb`` layer's
    colours are not a layer axis)."""
    if layer is None:
        return []
    shape = layer.data[0].shape if layer.multiscale else layer.data.shape
    return [(a, int(shape[a])) for a in range(layer.ndim - 2)]


def axis_choices(layer: Any, none_label: str) -> list[tuple[str, int]]:
    """Combo choices for an axis of ``layer``: "none" first, then each leading axis."""
    return [(none_label, NO_AXIS)] + [(f"axis {a} ({n})", a) for a, n in layer_axes(layer)]


def axis_value(value: Any) -> int | None:
    """The axis a combo value stands for (None for "none")."""
    return None if value in (None, NO_AXIS) else int(value)


def model_choices(extra_files: tuple[str, ...] = ()) -> list[tuple[str, str]]:
    """(label, name) of every model the user can pick now, plus files picked by hand."""
    return [(m.label, m.name) for m in available_models(extra_files)]
