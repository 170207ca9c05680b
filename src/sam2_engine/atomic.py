"""Atomic writes: build a file or folder under a temporary sibling name, then rename it.

The one home of this rule for every package of the project (engine, cells, VOS,
training, plugin). A failure (an exception, Ctrl-C) while writing removes the temporary
and leaves whatever was at the target before untouched; the target is replaced only once
everything is written. Files are replaced with one ``os.replace``; a folder is swapped in
two renames (old out of the way, new in place) and the old one is deleted afterwards.
Temporaries are hidden siblings (``.NAME.<random><suffix>``) on the same filesystem.

Examples
--------
>>> import tempfile, pathlib
>>> folder = pathlib.Path(tempfile.mkdtemp())
>>> with atomic_file(folder / "a.txt") as tmp:
...     _ = tmp.write_text("done")
>>> (folder / "a.txt").read_text()
'done'
"""

from __future__ import annotations

import contextlib
import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

__all__ = ["atomic_dir", "atomic_file", "is_writable", "temporary_sibling"]


def temporary_sibling(target: Path, suffix: str = ".tmp") -> Path:
    """A fresh hidden name next to ``target``: ``.NAME.<8 hex><suffix>``."""
    return target.with_name(f".{target.name}.{uuid.uuid4().hex[:8]}{suffix}")


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextlib.contextmanager
def atomic_file(
    target: str | os.PathLike[str], *, suffix: str = ".tmp", fsync: bool = False
) -> Iterator[Path]:
    """Yield a temporary path next to ``target``; on success it becomes ``target``.

    Parameters
    ----------
    target
        The file to write (its folder is created if needed).
    suffix
        Ending of the temporary's name (e.g. ``.part`` for downloads, so that stale
        ones can be recognised and cleaned up).
    fsync
        Flush the written bytes to disk before the rename (checkpoints, downloads).

    Raises
    ------
    IsADirectoryError
        If ``target`` is an existing folder.
    """
    target = Path(target)
    if target.is_dir():
        raise IsADirectoryError(f"{target} is a folder; give the path of a file to write")
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = temporary_sibling(target, suffix)
    try:
        yield tmp
        if fsync:
            _fsync(tmp)
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
    tmp = temporary_sibling(target)
    tmp.mkdir()
    try:
        yield tmp
        old = None
        if target.exists():
            old = temporary_sibling(target, ".old")
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


def is_writable(folder: str | os.PathLike[str]) -> bool:
    """Whether a file can be created in the existing ``folder``, tried for real
    (permission bits lie, e.g. for root or on network drives)."""
    probe = temporary_sibling(Path(folder) / "write_test")
    try:
        with open(probe, "x"):
            pass
    except OSError:
        return False
    probe.unlink(missing_ok=True)
    return True
