"""Encoded window features kept for reuse: one small LRU for both windowed predictors.

A key is ``(image, window)``: the image predictor's image index, or the frame of a video.
A window is encoded the first time it is asked for (all missing ones of a call in one
batch, :func:`~sam2_engine.focus.window.encode_windows`) and kept until ``size`` newer
ones push it out; a call never evicts what it returns.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Sequence
from typing import Any

from sam2_engine.focus.window import Window, encode_windows
from sam2_engine.model.image_encoder import ImageFeatures

__all__ = ["WindowFeatureCache"]


class WindowFeatureCache:
    """Least-recently-used window features of a model.

    Parameters
    ----------
    model
        The SAM 2 model that encodes the windows.
    size
        Windows kept (at least those of the latest call).
    keep
        What is stored of each window's features (default: as encoded; the image
        predictor stores float32 copies).
    """

    def __init__(
        self,
        model: Any,
        size: int,
        keep: Callable[[ImageFeatures], ImageFeatures] | None = None,
    ) -> None:
        self.model = model
        self.size = int(size)
        self._keep = keep
        self._items: OrderedDict[tuple[int, Window | None], ImageFeatures] = OrderedDict()

    def get(
        self, image: int, windows: Sequence[Window | None], read: Callable[[], Any]
    ) -> ImageFeatures:
        """Features of ``windows`` of image ``image`` (batch in window order).

        ``read()`` gives the (H, W, 3) image (or a lazy plane) and is called only when a
        window is missing.
        """
        missing = [w for w in dict.fromkeys(windows) if (image, w) not in self._items]
        if missing:
            feats = encode_windows(self.model, read(), missing)
            for i, w in enumerate(missing):
                f = feats.select(i)
                self._items[(image, w)] = f if self._keep is None else self._keep(f)
        picked = []
        for w in windows:
            self._items.move_to_end((image, w))
            picked.append(self._items[(image, w)])
        while len(self._items) > max(self.size, len(windows)):
            self._items.popitem(last=False)
        return ImageFeatures.concat(picked)

    def clear(self) -> None:
        """Forget every window."""
        self._items.clear()

    def nbytes(self) -> int:
        """Bytes held by the kept features."""
        return sum(f.nbytes() for f in self._items.values())
