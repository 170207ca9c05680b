"""An on-disk cache of image embeddings: reopening an image skips the encoder.

Each entry is one zarr group, ``<root>/<key[:2]>/<key>.zarr``, holding the features of
one encoder input (``embed``, ``high_res_0``, ``high_res_1``, ``pos``) and, in its
attributes, a CRC32 of every array. There is one key scheme (:meth:`EmbeddingCache.input_key`):
a SHA-256 of the exact (1, 3, S, S) tensor the encoder sees, the hash of the model's
weights, its input size and precision. The input already holds everything else the
features depend on: the pixels, their normalisation, and the frame, tile or window they
were cut from. A changed image, model or setting therefore never meets a stale entry,
and the image predictor and tracking sessions share their entries: a frame embedded for
clicks is a hit when a session tracks over it (with the same intensity scaling).

Safety:

* **half-written entries are never seen**: an entry is written under a temporary name in
  the cache folder and renamed into place once complete (one ``os.rename``);
* **corrupt entries are rebuilt**: an entry whose checksums do not match, or that cannot
  be read, is deleted and computed again;
* **two processes**: both may compute the same entry; the first rename wins, the other
  drops its copy. A reader whose entry is removed meanwhile recomputes it;
* **size limit**: after each write, least recently used entries (by the time stamp a
  read refreshes) are deleted until the cache is under ``max_bytes``.

Default folder: ``$NAPARI_SAM2_EMBEDDINGS`` or ``~/.cache/napari-sam2/embeddings``; the
cache is off unless created (see ``docs/big_data.md``).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import uuid
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from sam2_engine.model.image_encoder import ImageFeatures

__all__ = ["DEFAULT_MAX_BYTES", "EmbeddingCache", "default_cache_dir", "tensor_signature"]

CACHE_ENV = "NAPARI_SAM2_EMBEDDINGS"
DEFAULT_MAX_BYTES = 20 * 2**30
_ARRAYS = ("embed", "high_res_0", "high_res_1", "pos")


def default_cache_dir() -> Path:
    """``$NAPARI_SAM2_EMBEDDINGS``, else ``~/.cache/napari-sam2/embeddings``."""
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV]).expanduser()
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "napari-sam2" / "embeddings"


def tensor_signature(x: torch.Tensor) -> str:
    """A hex digest of a tensor's shape, dtype and values (e.g. an encoder input)."""
    h = hashlib.sha256(repr((tuple(x.shape), str(x.dtype))).encode())
    h.update(x.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()


def weights_hash(model: torch.nn.Module) -> str:
    """A hex digest of a model's parameters and buffers (computed once per model)."""
    cached = getattr(model, "_embedding_cache_hash", None)
    if cached is not None:
        return cached
    h = hashlib.sha256()
    for name, tensor in sorted(model.state_dict().items()):
        h.update(name.encode())
        h.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    digest = h.hexdigest()
    model._embedding_cache_hash = digest  # type: ignore[attr-defined]
    return digest


def _crc(array: np.ndarray) -> int:
    return zlib.crc32(np.ascontiguousarray(array).data)


class EmbeddingCache:
    """Image features on disk, keyed by data, model and settings (module docstring).

    Parameters
    ----------
    root
        Cache folder (created on first write); None: :func:`default_cache_dir`.
    max_bytes
        Size limit; least recently used entries go first.
    """

    #: The environment variable naming the default folder.
    ENV = CACHE_ENV

    def __init__(
        self, root: str | os.PathLike[str] | None = None, max_bytes: int = DEFAULT_MAX_BYTES
    ) -> None:
        self.root = Path(root) if root is not None else default_cache_dir()
        if max_bytes <= 0:
            raise ValueError(f"max_bytes={max_bytes} must be positive (bytes on disk)")
        self.max_bytes = int(max_bytes)
        self.hits = self.misses = self.rebuilt = 0

    # ------------------------------------------------------------------ keys
    @staticmethod
    def key(model: torch.nn.Module, data: str, **settings: Any) -> str:
        """The entry key of features of ``data`` (a signature of the input) under
        ``model`` (weights hash, input size) and ``settings`` (anything else they depend
        on, e.g. the precision)."""
        parts = [
            weights_hash(model),
            str(getattr(model, "image_size", "")),
            data,
            *(f"{k}={settings[k]!r}" for k in sorted(settings)),
        ]
        return hashlib.sha256("\n".join(parts).encode()).hexdigest()

    def input_key(self, model: torch.nn.Module, x: torch.Tensor) -> str:
        """The key of the features of one encoder input ``x`` (1, 3, S, S): the one key
        scheme of the cache (whole images, frames and tiles alike).

        The input already holds everything the features depend on besides the model:
        the pixels, their normalisation, and the frame, tile or window they were cut
        from (any change there changes ``x``).
        """
        precision = str(getattr(model, "precision", ""))
        return self.key(model, tensor_signature(x), mode="input", precision=precision)

    def encode(self, model: Any, x: torch.Tensor) -> ImageFeatures:
        """``model.encode_image(x)`` for one (1, 3, S, S) input, read from the cache when
        an entry exists (float32 features in both cases, so a warm run equals a cold
        one). Call it inside the model's inference context."""

        def compute() -> ImageFeatures:
            f = model.encode_image(x)
            return ImageFeatures(
                f.embed.float(), (f.high_res[0].float(), f.high_res[1].float()), f.pos.float()
            )

        return self.get_or_compute(self.input_key(model, x), compute, x.device)

    def path(self, key: str) -> Path:
        return self.root / key[:2] / f"{key}.zarr"

    # ------------------------------------------------------------------ entries
    def get_or_compute(
        self, key: str, compute: Callable[[], ImageFeatures], device: torch.device | None = None
    ) -> ImageFeatures:
        """The cached features of ``key``, or ``compute()`` stored under it."""
        found = self.load(key, device)
        if found is not None:
            self.hits += 1
            return found
        self.misses += 1
        feats = compute()
        self.store(key, feats)
        return feats

    def load(self, key: str, device: torch.device | None = None) -> ImageFeatures | None:
        """The features of ``key``, or None (missing; a corrupt entry is deleted)."""
        import zarr

        path = self.path(key)
        if not path.exists():
            return None
        try:
            group = zarr.open_group(str(path), mode="r")
            sums = dict(group.attrs["crc32"])
            arrays = {}
            for name in _ARRAYS:
                arr = np.asarray(group[name][...])
                if _crc(arr) != int(sums[name]):
                    raise ValueError(f"checksum of {name} does not match")
                arrays[name] = torch.from_numpy(arr)
        except Exception:
            self.rebuilt += 1
            self._remove(path)
            return None
        os.utime(path)  # least recently used = oldest time stamp
        feats = ImageFeatures(
            arrays["embed"], (arrays["high_res_0"], arrays["high_res_1"]), arrays["pos"]
        )
        return feats.to(device) if device is not None else feats

    def store(self, key: str, feats: ImageFeatures) -> None:
        """Write an entry atomically (temporary folder, then one rename)."""
        import zarr

        final = self.path(key)
        final.parent.mkdir(parents=True, exist_ok=True)
        tmp = final.parent / f".tmp-{uuid.uuid4().hex}.zarr"
        try:
            arrays = {
                "embed": feats.embed,
                "high_res_0": feats.high_res[0],
                "high_res_1": feats.high_res[1],
                "pos": feats.pos,
            }
            group = zarr.open_group(str(tmp), mode="w")
            sums = {}
            for name, t in arrays.items():
                arr = t.detach().float().cpu().contiguous().numpy()
                group.create_array(name, data=arr, chunks=arr.shape)
                sums[name] = _crc(arr)
            group.attrs["crc32"] = sums
            try:
                os.rename(tmp, final)
            except OSError:  # another process wrote it first: keep theirs
                self._remove(tmp)
        except BaseException:
            self._remove(tmp)
            raise
        self.prune()

    def nbytes(self) -> int:
        """Bytes the cache's entries take on disk."""
        return sum(size for _, _, size in self._entries())

    def prune(self) -> None:
        """Delete least recently used entries until the cache fits ``max_bytes``."""
        entries = sorted(self._entries())
        total = sum(size for _, _, size in entries)
        for _, path, size in entries:
            if total <= self.max_bytes:
                break
            self._remove(path)
            total -= size

    def clear(self) -> None:
        """Delete every entry."""
        for _, path, _ in self._entries():
            self._remove(path)

    def _entries(self) -> list[tuple[float, Path, int]]:
        out = []
        if not self.root.exists():
            return out
        for path in self.root.glob("??/*.zarr"):
            if path.name.startswith(".tmp-"):
                continue
            try:
                size = sum(f.stat().st_size for f in path.rglob("*") if f.is_file())
                out.append((path.stat().st_mtime, path, size))
            except FileNotFoundError:  # removed by another process meanwhile
                continue
        return out

    @staticmethod
    def _remove(path: Path) -> None:
        """Rename out of the way first, so no reader sees a half-deleted entry."""
        trash = path.parent / f".tmp-{uuid.uuid4().hex}.zarr"
        try:
            os.rename(path, trash)
        except OSError:
            return
        shutil.rmtree(trash, ignore_errors=True)
