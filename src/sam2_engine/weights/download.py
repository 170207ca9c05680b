"""A verified download of the official SAM 2 / 2.1 files.

A checkpoint is fetched at most once: it is streamed into a temporary file inside the cache
folder, hashed while it is written, checked against the published size and sha256, and only
then renamed to its final name (an atomic ``os.replace``). Whatever goes wrong, nothing
half-written is left behind, and two processes downloading the same file never see each
other's partial data.

The cache folder and the ``.verified`` sidecars that spare re-hashing a verified file
live in :mod:`sam2_engine.weights.cache` (its names are re-exported here). This module
only uses the standard library and never prints: progress is reported through a
callback.

The registry of the official files (:class:`OfficialCheckpoint`, :data:`OFFICIAL_CHECKPOINTS`)
lives in :mod:`sam2_engine.weights.official`; both names are re-exported here.

Examples
--------
>>> from sam2_engine.weights.download import OFFICIAL_CHECKPOINTS, cached_path
>>> entry = OFFICIAL_CHECKPOINTS["sam2.1_hiera_tiny"]
>>> entry.filename
'sam2.1_hiera_tiny.pt'
>>> cached_path(entry).name
'sam2.1_hiera_tiny.pt'
"""

from __future__ import annotations

import hashlib
import http.client
import time
import urllib.error
import urllib.parse
import urllib.request
from email.message import Message
from pathlib import Path
from typing import IO

from sam2_engine.atomic import atomic_file
from sam2_engine.errors import DownloadError
from sam2_engine.progress import CancelCallback, ProgressCallback
from sam2_engine.weights.cache import (
    CACHE_ENV,
    PART_SUFFIX,
    cache_dir,
    cached_path,
    resolve_entry,
    sha256_of,
    verify_cached,
    write_sidecar,
)

# OFFICIAL_CHECKPOINTS and OfficialCheckpoint are re-exported (see __all__).
from sam2_engine.weights.official import OFFICIAL_CHECKPOINTS, OfficialCheckpoint

__all__ = [
    "CACHE_ENV",
    "OFFICIAL_CHECKPOINTS",
    "DownloadCancelled",
    "OfficialCheckpoint",
    "cache_dir",
    "cached_path",
    "ensure_checkpoint",
    "sha256_of",
]


_DOWNLOAD_CHUNK = 1 << 20  # bytes read per step; progress and cancel run once per step
_STALE_PART_SECONDS = 24 * 3600  # temporary files untouched this long belong to dead downloads
_USER_AGENT = "sam2_engine (Python urllib)"
_URL_SCHEMES = ("http", "https", "file")


class DownloadCancelled(DownloadError):
    """The caller cancelled a download; the partial file was deleted."""


# --------------------------------------------------------------------------------------
# download
# --------------------------------------------------------------------------------------


def ensure_checkpoint(
    entry: OfficialCheckpoint | str,
    *,
    cache: Path | None = None,
    url: str | None = None,
    progress: ProgressCallback | None = None,
    cancel: CancelCallback | None = None,
    timeout: float = 30.0,
) -> Path:
    """Return the path of a verified checkpoint, downloading it into the cache if needed.

    A file already in the cache is returned at once when its sidecar still vouches for it,
    and otherwise verified once by its sha256. A missing file is downloaded, checked (size
    when known, then sha256) and atomically moved into place; on any failure nothing is
    kept in the cache.

    Parameters
    ----------
    entry : OfficialCheckpoint or str
        A registry entry, or the name of one in :data:`OFFICIAL_CHECKPOINTS`.
    cache : Path, optional
        Cache folder; defaults to :func:`cache_dir`. Created if missing.
    url : str, optional
        Download from here instead of ``entry.url`` (a mirror); the file must still have
        the entry's sha256.
    progress : callable, optional
        Called as ``progress(bytes_done, bytes_total)`` once before the first chunk and after
        every chunk; ``bytes_total`` is None when neither the registry nor the server gives
        the size. Not called when the file is already cached.
    cancel : callable, optional
        Polled before every chunk; returning True stops the download and raises
        :class:`DownloadCancelled`.
    timeout : float, optional
        Seconds to wait for the connection and for each chunk of data.

    Returns
    -------
    Path
        The verified file, ``cached_path(entry, cache)``.

    Raises
    ------
    ValueError
        If ``entry`` is an unknown name or the URL is not http, https or file.
    DownloadError
        If the download fails (HTTP error, unreachable server, timeout), the size or sha256
        is wrong, or a file in the cache does not match the expected sha256.
    DownloadCancelled
        If ``cancel`` returned True (a subclass of :class:`DownloadError`).
    """
    checkpoint = resolve_entry(entry)
    path = cached_path(checkpoint, cache)
    if path.exists():
        verify_cached(path, checkpoint)
        return path
    source = url if url is not None else checkpoint.url
    _check_url(source)
    _make_cache_folder(path.parent)
    _remove_stale_parts(path)
    _download(checkpoint, source, path, progress, cancel, timeout)
    return path


def _check_url(source: str) -> None:
    scheme = urllib.parse.urlsplit(source).scheme
    if scheme not in _URL_SCHEMES:
        raise ValueError(
            f"Cannot download from {source!r}: the URL scheme must be one of "
            f"{', '.join(_URL_SCHEMES)}."
        )


def _make_cache_folder(folder: Path) -> None:
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DownloadError(
            f"Cannot create the checkpoint cache folder {folder}: {exc}. Set the environment "
            f"variable {CACHE_ENV} to a writable folder."
        ) from exc


def _remove_stale_parts(path: Path) -> None:
    """Delete temporary files left by downloads that died long ago (e.g. a killed process)."""
    limit = time.time() - _STALE_PART_SECONDS
    prefix = f".{path.name}."
    for part in path.parent.iterdir():
        if not (part.name.startswith(prefix) and part.name.endswith(PART_SUFFIX)):
            continue
        try:
            if part.stat().st_mtime < limit:
                part.unlink()
        except OSError:
            pass


def _download(
    checkpoint: OfficialCheckpoint,
    source: str,
    path: Path,
    progress: ProgressCallback | None,
    cancel: CancelCallback | None,
    timeout: float,
) -> None:
    """Stream ``source`` into a private temporary file, verify it, then move it to ``path``."""
    with atomic_file(path, suffix=PART_SUFFIX, fsync=True) as tmp:
        with _open_part(tmp) as out:
            done, found = _fetch(checkpoint, source, path, out, progress, cancel, timeout)
        _check_result(checkpoint, source, path, done, found)
    write_sidecar(path, found)


def _open_part(tmp: Path) -> IO[bytes]:
    """Open the temporary download file (next to the target: same filesystem)."""
    try:
        return open(tmp, "xb")
    except OSError as exc:
        raise DownloadError(
            f"Cannot write to the checkpoint cache folder {tmp.parent}: {exc}. Set the "
            f"environment variable {CACHE_ENV} to a writable folder."
        ) from exc


def _fetch(
    checkpoint: OfficialCheckpoint,
    source: str,
    path: Path,
    out: IO[bytes],
    progress: ProgressCallback | None,
    cancel: CancelCallback | None,
    timeout: float,
) -> tuple[int, str]:
    """Copy the response body into ``out``; return the byte count and the sha256."""
    request = urllib.request.Request(source, headers={"User-Agent": _USER_AGENT})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            total = _expected_total(checkpoint, source, path, response.headers)
            return _copy(checkpoint, source, path, response, out, total, progress, cancel)
    except DownloadError:
        raise
    except urllib.error.HTTPError as exc:
        raise _fetch_error(checkpoint, source, path, f"HTTP {exc.code} {exc.reason}") from exc
    except urllib.error.URLError as exc:
        raise _fetch_error(checkpoint, source, path, str(exc.reason)) from exc
    except TimeoutError as exc:
        reason = f"no data arrived within {timeout} s"
        raise _fetch_error(checkpoint, source, path, reason) from exc
    except (OSError, http.client.HTTPException) as exc:
        raise _fetch_error(checkpoint, source, path, str(exc) or type(exc).__name__) from exc


def _expected_total(
    checkpoint: OfficialCheckpoint, source: str, path: Path, headers: Message
) -> int | None:
    """The size to expect: the registry's, else the server's Content-Length, else None."""
    header = headers.get("Content-Length")
    announced = int(header) if header is not None and header.isdigit() else None
    if checkpoint.size is None:
        return announced
    if announced is not None and announced != checkpoint.size:
        raise _size_error(checkpoint, source, path, announced, "announces")
    return checkpoint.size


def _copy(
    checkpoint: OfficialCheckpoint,
    source: str,
    path: Path,
    response: IO[bytes],
    out: IO[bytes],
    total: int | None,
    progress: ProgressCallback | None,
    cancel: CancelCallback | None,
) -> tuple[int, str]:
    digest = hashlib.sha256()
    done = 0
    if progress is not None:
        progress(done, total)
    while True:
        if cancel is not None and cancel():
            raise DownloadCancelled(
                f"The download of {checkpoint.name!r} from {source} was cancelled after "
                f"{done} bytes; nothing was kept in {path.parent}."
            )
        block = response.read(_DOWNLOAD_CHUNK)
        if not block:
            break
        _write(out, block, path)
        digest.update(block)
        done += len(block)
        if checkpoint.size is not None and done > checkpoint.size:
            raise _size_error(checkpoint, source, path, done, "sent at least")
        if progress is not None:
            progress(done, total)
    if total is not None and done != total:
        raise _size_error(checkpoint, source, path, done, "sent", expected=total)
    return done, digest.hexdigest()


def _write(out: IO[bytes], block: bytes, path: Path) -> None:
    try:
        out.write(block)
    except OSError as exc:
        raise DownloadError(
            f"Cannot write the download next to {path}: {exc}. Free some space, or set the "
            f"environment variable {CACHE_ENV} to a folder with room. Nothing was kept."
        ) from exc


def _check_result(
    checkpoint: OfficialCheckpoint, source: str, path: Path, done: int, found: str
) -> None:
    if checkpoint.size is not None and done != checkpoint.size:
        raise _size_error(checkpoint, source, path, done, "sent")
    if found != checkpoint.sha256:
        raise DownloadError(
            f"The file downloaded from {source} does not match checkpoint {checkpoint.name!r}: "
            f"expected sha256 {checkpoint.sha256}, found {found}. Nothing was kept. The server "
            f"may serve a different file; try again later, or put the official file at {path}."
        )


def _size_error(
    checkpoint: OfficialCheckpoint,
    source: str,
    path: Path,
    size: int,
    verb: str,
    expected: int | None = None,
) -> DownloadError:
    expected = checkpoint.size if expected is None else expected
    return DownloadError(
        f"The server at {source} {verb} {size} bytes, but checkpoint {checkpoint.name!r} has "
        f"{expected} bytes (a truncated or different file). Nothing was kept; try again, or "
        f"put the official file at {path}."
    )


def _fetch_error(
    checkpoint: OfficialCheckpoint, source: str, path: Path, reason: str
) -> DownloadError:
    return DownloadError(
        f"Could not download checkpoint {checkpoint.name!r} from {source}: {reason}. "
        f"If this machine is offline, download the file elsewhere and put it at {path} "
        f"(set the environment variable {CACHE_ENV} to use another cache folder). "
        "Nothing was kept."
    )
