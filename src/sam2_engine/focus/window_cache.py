"""Encoded window features kept for reuse: one small LRU for the windowed and tiled views.

A key is ``(image, window)``: the image predictor's image index, or the frame of a video
(window None: the whole frame). A window is encoded the first time it is asked for (all
missing ones of a call in one batch, by default
:func:`~sam2_engine.focus.window.encode_windows`) and kept until ``size`` newer ones push
it out, or, with ``max_images``, until its image is older than the last ``max_images``
images used; a call never evicts what it returns.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Sequence
from typing import Any

from sam2_engine.focus.window import Window, encode_windows
from sam2_engine.model.image_encoder import ImageFeatures

__all__ = ["WindowEncoder", "WindowFeatureCache"]


#: ``encode(source, windows) -> features``, batch ``i`` the features of ``windows[i]``
WindowEncoder = Callable[[Any, list[Window | None]], ImageFeatures]


class WindowFeatureCache:
    """Least-recently-used window features of a model.

    Parameters
    ----------
    model
        The SAM 2 model that encodes the windows.
    size
        Windows kept (at least those of the latest call); ignored with ``max_images``.
    keep
        What is stored of each window's features (default: as encoded; the image
        predictor stores float32 copies).
    max_images
        Keep every window of the last ``max_images`` images used instead (a tracking
        session keeps the tiles of its last frames, however many objects they hold).
    encode
        How missing windows are encoded (default: crops of the ``(H, W, 3)`` RGB image
        in one batch, :func:`~sam2_engine.focus.window.encode_windows`).
    """

    def __init__(
        self,
        model: Any,
        size: int,
        keep: Callable[[ImageFeatures], ImageFeatures] | None = None,
        *,
        max_images: int | None = None,
        encode: WindowEncoder | None = None,
    ) -> None:
        self.model = model
        self.size = int(size)
        self.max_images = None if max_images is None else max(1, int(max_images))
        self._keep = keep
        self._encode = encode or (lambda source, windows: encode_windows(model, source, windows))
        self._items: OrderedDict[tuple[int, Window | None], ImageFeatures] = OrderedDict()
        self._images: OrderedDict[int, None] = OrderedDict()  # images, least recent first

    def get(
        self, image: int, windows: Sequence[Window | None], read: Callable[[], Any]
    ) -> ImageFeatures:
        """Features of ``windows`` of image ``image`` (batch in window order).

        ``read()`` gives the source of the encoder (by default the (H, W, 3) image or a
        lazy plane) and is called only when a window is missing.
        """
        if self.max_images is not None:
            self._images[image] = None
            self._images.move_to_end(image)
        missing = [w for w in dict.fromkeys(windows) if (image, w) not in self._items]
        if missing:
            feats = self._encode(read(), missing)
            for i, w in enumerate(missing):
                f = feats.select(i)
                self._items[(image, w)] = f if self._keep is None else self._keep(f)
        picked = []
        for w in windows:
            self._items.move_to_end((image, w))
            picked.append(self._items[(image, w)])
        self._evict(len(windows))
        return ImageFeatures.concat(picked)

    def _evict(self, asked: int) -> None:
        if self.max_images is None:
            while len(self._items) > max(self.size, asked):
                self._items.popitem(last=False)
            return
        while len(self._images) > self.max_images:
            old, _ = self._images.popitem(last=False)
            for key in [k for k in self._items if k[0] == old]:
                del self._items[key]

    def clear(self) -> None:
        """Forget every window."""
        self._items.clear()
        self._images.clear()

    def images(self) -> list[int]:
        """The images some of whose windows are kept, least recently used first."""
        return list(dict.fromkeys(image for image, _ in self._items))

    def nbytes(self) -> int:
        """Bytes held by the kept features."""
        return sum(f.nbytes() for f in self._items.values())
