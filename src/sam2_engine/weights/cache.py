"""The checkpoint cache folder, and trusting what is in it.

The cache folder is ``$SAM2_ENGINE_CACHE`` if set, else ``$XDG_CACHE_HOME/sam2_engine``,
else ``~/.cache/sam2_engine``. A file is trusted once its sha256 matched the published
one; a small sidecar ``<file>.verified`` then records that hash with the file's size and
modification time, so the (slow) hash is computed again only when the file changes.
Standard library only.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

from sam2_engine.atomic import atomic_file
from sam2_engine.errors import DownloadError
from sam2_engine.weights.official import OFFICIAL_CHECKPOINTS, OfficialCheckpoint

__all__ = [
    "CACHE_ENV",
    "PART_SUFFIX",
    "cache_dir",
    "cached_path",
    "resolve_entry",
    "sha256_of",
    "verify_cached",
    "write_sidecar",
]

CACHE_ENV = "SAM2_ENGINE_CACHE"
PART_SUFFIX = ".part"  # temporary files in the cache (downloads, sidecars) end so
_SIDECAR_SUFFIX = ".verified"


# --------------------------------------------------------------------------------------
# cache folder
# --------------------------------------------------------------------------------------


def cache_dir() -> Path:
    """Return the folder where checkpoints are cached (it is not created here).

    Returns
    -------
    Path
        ``$SAM2_ENGINE_CACHE`` if set and not empty, else ``$XDG_CACHE_HOME/sam2_engine``,
        else ``~/.cache/sam2_engine``.
    """
    override = os.environ.get(CACHE_ENV)
    if override:
        return Path(override).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    if xdg:
        return Path(xdg).expanduser() / "sam2_engine"
    return Path.home() / ".cache" / "sam2_engine"


def cached_path(entry: OfficialCheckpoint | str, cache: Path | None = None) -> Path:
    """Return where a checkpoint lives in the cache (whether or not it is there yet).

    Parameters
    ----------
    entry : OfficialCheckpoint or str
        A registry entry, or the name of one in :data:`OFFICIAL_CHECKPOINTS`.
    cache : Path, optional
        Cache folder; defaults to :func:`cache_dir`.

    Returns
    -------
    Path
        ``cache / entry.filename``.

    Raises
    ------
    ValueError
        If ``entry`` is a name that is not in the registry.
    """
    checkpoint = resolve_entry(entry)
    folder = Path(cache) if cache is not None else cache_dir()
    return folder / checkpoint.filename


def resolve_entry(entry: OfficialCheckpoint | str) -> OfficialCheckpoint:
    """The registry entry of ``entry`` (an entry or the name of one)."""
    if isinstance(entry, OfficialCheckpoint):
        return entry
    if isinstance(entry, str):
        if entry in OFFICIAL_CHECKPOINTS:
            return OFFICIAL_CHECKPOINTS[entry]
        known = ", ".join(sorted(OFFICIAL_CHECKPOINTS))
        raise ValueError(f"Unknown checkpoint {entry!r}; choose one of: {known}.")
    raise TypeError(
        f"Expected an OfficialCheckpoint or a registry name, got {type(entry).__name__}."
    )


# --------------------------------------------------------------------------------------
# verification
# --------------------------------------------------------------------------------------


def sha256_of(path: Path, chunk: int = 1 << 20) -> str:
    """Return the sha256 of a file as 64 lowercase hexadecimal digits.

    Parameters
    ----------
    path : Path
        File to hash; it is read in pieces, never whole.
    chunk : int, optional
        Bytes read per step.

    Returns
    -------
    str
        The hex digest.
    """
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        while block := stream.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def sidecar_path(path: Path) -> Path:
    """Where the verification record of ``path`` is kept."""
    return path.with_name(path.name + _SIDECAR_SUFFIX)


def is_trusted(path: Path, checkpoint: OfficialCheckpoint) -> bool:
    """Whether the sidecar vouches for ``path`` as it is now (same hash, size, mtime)."""
    try:
        record = json.loads(sidecar_path(path).read_text(encoding="utf-8"))
        stat = path.stat()
        return (
            record["sha256"] == checkpoint.sha256
            and record["size"] == stat.st_size
            and record["mtime_ns"] == stat.st_mtime_ns
        )
    except (OSError, ValueError, KeyError, TypeError):
        return False


def write_sidecar(path: Path, sha256: str) -> None:
    """Record that ``path`` was verified; failing to write it only costs a re-hash later."""
    try:
        stat = path.stat()
        record = {"sha256": sha256, "size": stat.st_size, "mtime_ns": stat.st_mtime_ns}
        with atomic_file(sidecar_path(path), suffix=PART_SUFFIX) as tmp:
            tmp.write_text(json.dumps(record), encoding="utf-8")
    except OSError:
        pass


def verify_cached(path: Path, checkpoint: OfficialCheckpoint) -> None:
    """Accept a file already in the cache, hashing it only if no valid sidecar vouches for it."""
    if is_trusted(path, checkpoint):
        return
    found = sha256_of(path)
    if found != checkpoint.sha256:
        size_note = ""
        actual_size = path.stat().st_size
        if checkpoint.size is not None and actual_size != checkpoint.size:
            size_note = f" It has {actual_size} bytes instead of {checkpoint.size}."
        raise DownloadError(
            f"The cached file {path} does not match checkpoint {checkpoint.name!r}: expected "
            f"sha256 {checkpoint.sha256}, found {found}.{size_note} The file is damaged or a "
            f"different model: delete it (it is then downloaded again from {checkpoint.url}) "
            "or replace it with the official file."
        )
    write_sidecar(path, found)
