"""Which detection options apply to which detection source: one check for every entry.

The tracker's settings, ``napari-sam2 track``, the batch runner and
:func:`~sam2_cells.detection.make_detector` all ask :func:`check_textured` (and the Track
cells tab :func:`textured_applies`, to grey the option out), so an option
that the chosen detections cannot honour is refused with one sentence everywhere, instead
of being ignored by one entry and refused by another. Cheap to import (no numpy).
"""

from __future__ import annotations

__all__ = ["check_textured", "textured_applies"]

#: The sources whose detections do not come from the classical detector.
_NOT_CLASSICAL = {"model": "the model", "labels": "your label stack"}


def textured_applies(source: str) -> bool:
    """Whether ``textured`` can apply to detections from ``source`` (``"auto"`` or
    ``"classical"``): what a GUI asks before it offers the option."""
    return source not in _NOT_CLASSICAL


def check_textured(source: str, textured: bool) -> None:
    """Refuse ``textured`` when the detections do not come from the classical detector.

    ``textured`` (filling very textured nuclei whole) is a setting of the classical
    detector; model detections and a given label stack have no such setting, so asking
    for it there would be silently ignored. With ``"auto"`` it is allowed: asking for it
    chooses the classical detector (:func:`~sam2_cells.detection.make_detector`).

    Parameters
    ----------
    source
        The detection source: ``"auto"``, ``"classical"``, ``"model"`` or ``"labels"``.
    textured
        Whether textured nuclei were asked for.

    Raises
    ------
    ValueError
        ``textured`` with ``"model"`` or ``"labels"``: the sentence says what to change.
    """
    if textured and not textured_applies(source):
        raise ValueError(
            "textured nuclei (--textured) is an option of the classical detector, and the "
            f"detections come from {_NOT_CLASSICAL[source]}: leave it out, or detect with "
            "the classical detector (--detector classical)"
        )
