"""Exceptions that callers of the engine may want to catch.

Everything else raises the built-in ``ValueError`` / ``TypeError`` with a sentence that
names the bad value and the fix.
"""

from __future__ import annotations


class CheckpointError(RuntimeError):
    """A checkpoint file cannot be found, downloaded, verified or read."""


class DownloadError(CheckpointError):
    """A checkpoint could not be downloaded or failed verification (nothing was cached)."""


class CheckpointMismatchError(CheckpointError):
    """A checkpoint's tensors do not fit the model config it was loaded into."""
