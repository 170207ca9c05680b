"""Write-then-rename helpers: a reader never sees a half-written file or video folder."""

from __future__ import annotations

import contextlib
import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

__all__ = ["replace_dir", "replace_file"]


def _temporary_name(target: Path, kind: str) -> Path:
    return target.parent / f".{target.name}.{kind}-{uuid.uuid4().hex[:10]}"


@contextlib.contextmanager
def replace_file(target: Path) -> Iterator[Path]:
    """Yield a temporary path beside ``target``; it becomes ``target`` when the block
    ends normally and is deleted when it raises."""
    tmp = _temporary_name(target, "partial")
    try:
        yield tmp
        os.replace(tmp, target)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()


@contextlib.contextmanager
def replace_dir(target: Path) -> Iterator[Path]:
    """Yield a new empty folder beside ``target``; it replaces ``target`` (and whatever
    was there) when the block ends normally and is deleted when it raises."""
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = _temporary_name(target, "partial")
    tmp.mkdir()
    try:
        yield tmp
        old = None
        if target.exists():
            old = _temporary_name(target, "old")
            target.rename(old)
        tmp.rename(target)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
