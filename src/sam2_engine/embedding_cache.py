"""An on-disk cache of image embeddings: reopening an image skips the encoder.

Each entry is one zarr group, ``<root>/<key[:2]>/<key>.zarr``, holding the features of
one image or one tile (``embed``, ``high_res_0``, ``high_res_1``, ``pos``) and, in its
attributes, a CRC32 of every array. The key is a SHA-256 of everything the features
depend on (:meth:`EmbeddingCache.key`): the data (:func:`data_signature`), the model
(its config name, input size and a hash of its weights), the normalisation and the
tiling or window. A changed image, model or setting therefore never meets a stale entry.

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

__all__ = [
    "DEFAULT_MAX_BYTES",
    "EmbeddingCache",
    "data_signature",
    "default_cache_dir",
    "tensor_signature",
]

CACHE_ENV = "NAPARI_SAM2_EMBEDDINGS"
DEFAULT_MAX_BYTES = 20 * 2**30
FULL_HASH_BYTES = 256 * 2**20  # arrays up to this size are hashed whole
_ARRAYS = ("embed", "high_res_0", "high_res_1", "pos")


def default_cache_dir() -> Path:
    """``$NAPARI_SAM2_EMBEDDINGS``, else ``~/.cache/napari-sam2/embeddings``."""
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV]).expanduser()
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "napari-sam2" / "embeddings"


def data_signature(image: Any) -> str:
    """A hex digest of an image's pixels (any array-like with shape and dtype).

    Arrays up to 256 MB are hashed whole (a change of one pixel changes the signature).
    Larger or lazy arrays (zarr, dask, memmap of a slide) are hashed from their shape,
    dtype and a regular grid of about four million pixels plus the first and last rows,
    so that opening a 16,384 px slide does not read all of it; an edit that misses
    every sampled pixel would go unnoticed there (documented in ``docs/big_data.md``).
    """
    h = hashlib.sha256()
    shape = tuple(int(n) for n in image.shape)
    h.update(repr((shape, str(np.dtype(image.dtype)))).encode())
    nbytes = int(np.prod(shape)) * np.dtype(image.dtype).itemsize
    if isinstance(image, np.ndarray) and nbytes <= FULL_HASH_BYTES:
        h.update(np.ascontiguousarray(image).data)
        return h.hexdigest()
    step = max(1, int(np.ceil(np.sqrt(shape[0] * shape[1] / 2**22))))
    for part in (image[::step, ::step], image[:1], image[-1:]):
        h.update(np.ascontiguousarray(np.asarray(part)).data)
    return h.hexdigest()


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

    def __init__(self, root: str | os.PathLike[str] | None = None,
                 max_bytes: int = DEFAULT_MAX_BYTES) -> None:
        self.root = Path(root) if root is not None else default_cache_dir()
        if max_bytes <= 0:
            raise ValueError(f"max_bytes={max_bytes} must be positive (bytes on disk)")
        self.max_bytes = int(max_bytes)
        self.hits = self.misses = self.rebuilt = 0

    # ------------------------------------------------------------------ keys
    @staticmethod
    def key(model: torch.nn.Module, data: str, **settings: Any) -> str:
        """The entry key of features of ``data`` (a signature) under ``model`` and
        ``settings`` (normalisation, tile, window: anything they depend on)."""
        parts = [
            weights_hash(model),
            str(getattr(model, "image_size", "")),
            data,
            *(f"{k}={settings[k]!r}" for k in sorted(settings)),
        ]
        return hashlib.sha256("\n".join(parts).encode()).hexdigest()

    def image_key(self, model: torch.nn.Module, image: Any, **settings: Any) -> str:
        """The key of one whole image's features (its raw pixels' signature; a
        ``NormalizedFrame``'s RGB or a ``LazyPlane``'s source array)."""
        from sam2_engine.imaging.intensity import NormalizedFrame

        raw = image.rgb if isinstance(image, NormalizedFrame) else getattr(image, "raw", image)
        return self.key(model, data_signature(raw), mode="whole", **settings)

    def input_key(self, model: torch.nn.Module, x: torch.Tensor) -> str:
        """The key of the features of one encoder input ``x`` (1, 3, S, S).

        The input already holds everything the features depend on besides the model:
        the pixels, their normalisation, and the frame, tile or window they were cut
        from (any change there changes ``x``). Video sessions use this key.
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
                "embed": feats.embed, "high_res_0": feats.high_res[0],
                "high_res_1": feats.high_res[1], "pos": feats.pos,
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

    # ------------------------------------------------------------------ tiles
    def tile_store(
        self, model: torch.nn.Module, plane: Any, grid: Any, tiling: Any
    ) -> Callable[[int, Callable[[], ImageFeatures]], ImageFeatures]:
        """``store(tile_index, compute)`` for :class:`~sam2_engine.tiled.TiledPrompts`."""
        data = data_signature(plane.raw)
        base = dict(norm=plane.normalization, stats=_stats_repr(plane.stats),
                    tile=grid.side, halo=grid.halo)

        def store(index: int, compute: Callable[[], ImageFeatures]) -> ImageFeatures:
            t = grid.tiles[index]
            key = self.key(model, data, **base, at=(t.top, t.left, t.height, t.width))
            return self.get_or_compute(key, compute, getattr(model, "device", None))

        return store


def _stats_repr(stats: Any) -> str:
    if stats is None:
        return "none"
    return repr(np.asarray(stats, dtype=np.float64).round(9).tolist())
