"""User-facing messages through napari notifications (Qt-free), mirrored to logging."""

from __future__ import annotations

import logging

log = logging.getLogger("napari_sam2")

_LEVELS = {"info": logging.INFO, "warning": logging.WARNING, "error": logging.ERROR}


def notify(level: str, message: str) -> None:
    """Show ``message`` as a napari notification of ``level`` ("info", "warning", "error").

    napari shows it in the viewer (or the console when there is no viewer); it is also
    logged, so scripts see it too.
    """
    from napari.utils.notifications import show_error, show_info, show_warning

    log.log(_LEVELS.get(level, logging.INFO), message)
    {"info": show_info, "warning": show_warning, "error": show_error}.get(level, show_info)(message)
