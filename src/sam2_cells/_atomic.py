"""Atomic writes: build a file or folder under a temporary sibling name, then rename it.

A failure (an exception, Ctrl-C) while writing removes the temporary and leaves whatever
was at the target before untouched; the target is replaced only once everything is
written. Files are replaced with one ``os.replace``; a folder is swapped in two renames
(old out of the way, new in place) and the old one is deleted afterwards.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

__all__ = ["atomic_dir", "atomic_file"]


def _sibling(target: Path, tag: str) -> Path:
    return target.with_name(f".{target.name}.{tag}-{uuid.uuid4().hex[:8]}")


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()


@contextlib.contextmanager
def atomic_file(target: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path next to ``target``; on success it becomes ``target``.

    Raises
    ------
    IsADirectoryError
        If ``target`` is an existing folder.
    """
    target = Path(target)
    if target.is_dir():
        raise IsADirectoryError(f"{target} is a folder; give the path of a file to write")
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = _sibling(target, "tmp")
    try:
        yield tmp
        os.replace(tmp, target)
    except BaseException:
        _remove(tmp)
        raise


@contextlib.contextmanager
def atomic_dir(target: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a new, empty temporary folder next to ``target``; on success it becomes
    ``target``, replacing an existing folder of that name.

    Raises
    ------
    NotADirectoryError
        If ``target`` exists and is not a folder (checked before anything is written).
    """
    target = Path(target)
    if target.exists() and not target.is_dir():
        raise NotADirectoryError(f"{target} exists and is a file, not a folder")
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = _sibling(target, "tmp")
    tmp.mkdir()
    try:
        yield tmp
        old = None
        if target.exists():
            old = _sibling(target, "old")
            os.replace(target, old)
        try:
            os.replace(tmp, target)
        except BaseException:
            if old is not None:
                os.replace(old, target)
            raise
        if old is not None:
            _remove(old)
    except BaseException:
        _remove(tmp)
        raise
