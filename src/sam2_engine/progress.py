"""The one progress protocol of the engine, the cells package and the training loop's callers.

Long work reports through a callback called as ``progress(done, total)``: ``done`` units
of ``total`` are finished (frames, tiles, crops, point batches, bytes). ``total`` is None
only where it is not known (a download whose server sends no size). The return value is
ignored. Asking to stop goes the other way, through a callback ``cancel()`` that returns
True when the work should stop. Only the plugin and command-line tools draw bars.

Examples
--------
>>> seen = []
>>> def progress(done: int, total: int | None) -> None:
...     seen.append((done, total))
>>> callback: ProgressCallback = progress
>>> callback(3, 10)
>>> seen
[(3, 10)]
"""

from __future__ import annotations

from collections.abc import Callable

__all__ = ["CancelCallback", "ProgressCallback"]

ProgressCallback = Callable[[int, int | None], object]
"""``progress(done, total)``: ``done`` of ``total`` units (``total`` an int, or None if unknown)."""

CancelCallback = Callable[[], bool]
"""``cancel()``: True when the caller wants the work to stop."""
