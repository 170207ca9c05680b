"""An LRU cache of image embeddings, one entry per plane, bounded in bytes.

Encoding a plane is the slow step (seconds on a CPU); decoding a click is fast. Each
plane is therefore encoded once and kept, so clicking again, or coming back to a frame
or slice, never re-encodes. The key says what was encoded: the image (a token that
changes when the layer, its axes or its normalisation change), the model and the plane.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Hashable
from dataclasses import dataclass
from typing import Any

#: Default budget: about 60 planes of sam2.1_hiera_tiny at 1024 (~17 MB each).
DEFAULT_MAX_BYTES = 1 << 30


@dataclass(frozen=True)
class CachedFeatures:
    """The embedding of one plane.

    A model that decodes prompts in windows (``ImagePredictor.windowed``, models trained
    at a fixed object scale recommend it) has no whole-plane features: its entry is the
    predictor itself, which has the plane set and caches the features of its windows.

    Attributes
    ----------
    features
        ``sam2_engine.ImageFeatures`` (batch of one), or None in window mode.
    plane_hw
        (rows, cols) of the plane that was encoded.
    nbytes
        Memory held (the plane itself in window mode; its windows' features come on top).
    predictor
        Window mode: the ``sam2_engine.ImagePredictor`` with the plane set; else None.
    """

    features: Any
    plane_hw: tuple[int, int]
    nbytes: int
    predictor: Any = None

    def predictor_for(self, model: Any) -> Any:
        """An ``ImagePredictor`` of ``model`` ready to decode prompts on this plane
        (decoder work only: nothing is encoded again)."""
        if self.predictor is not None:
            return self.predictor
        import sam2_engine as se

        predictor = se.ImagePredictor(model, windows=None)
        predictor.set_features(self.features, [self.plane_hw])
        return predictor


class FeatureCache:
    """Thread-safe LRU of :class:`CachedFeatures` bounded by ``max_bytes``."""

    def __init__(self, max_bytes: int = DEFAULT_MAX_BYTES) -> None:
        self.max_bytes = int(max_bytes)
        self._items: OrderedDict[Hashable, CachedFeatures] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._items)

    def __contains__(self, key: Hashable) -> bool:
        with self._lock:
            return key in self._items

    @property
    def nbytes(self) -> int:
        with self._lock:
            return sum(item.nbytes for item in self._items.values())

    def get(self, key: Hashable) -> CachedFeatures | None:
        with self._lock:
            item = self._items.get(key)
            if item is not None:
                self._items.move_to_end(key)
            return item

    def put(self, key: Hashable, item: CachedFeatures) -> None:
        with self._lock:
            self._items[key] = item
            self._items.move_to_end(key)
            total = sum(i.nbytes for i in self._items.values())
            while total > self.max_bytes and len(self._items) > 1:
                _, dropped = self._items.popitem(last=False)
                total -= dropped.nbytes

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
