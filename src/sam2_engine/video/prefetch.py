"""Read and prepare the next frame of a propagation while the model works on this one.

On a GPU one tracked frame of Hiera-T takes a few tens of milliseconds; reading a frame
and scaling its intensities on the CPU takes a large part of that again at 1024 px.
:class:`FramePrefetcher` does that work for the next frame in one background thread, so
that the two overlap. On a CPU-only machine the model already uses every
core, so sessions leave it off there (see ``VideoPredictor(prefetch=...)``).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor

import torch

Loader = Callable[[int], torch.Tensor]


class FramePrefetcher:
    """Model inputs of frames, loaded ahead of use in one background thread.

    Parameters
    ----------
    load
        ``load(frame) -> Tensor``: reads and prepares one frame. It must be
        safe to call from another thread (reading numpy, zarr, dask and tifffile
        arrays is).
    enabled
        ``False`` makes :meth:`schedule` a no-op: every frame is loaded on demand.
    depth
        Most frames loaded ahead.
    """

    def __init__(self, load: Loader, enabled: bool, depth: int = 2) -> None:
        self._load = load
        self.enabled = enabled
        self._depth = max(1, depth)
        self._pending: OrderedDict[int, Future[torch.Tensor]] = OrderedDict()
        self._executor: ThreadPoolExecutor | None = None
        self._lock = threading.Lock()

    def schedule(self, frame: int) -> None:
        """Start loading ``frame`` in the background (if enabled and not already)."""
        if not self.enabled:
            return
        with self._lock:
            if frame in self._pending:
                return
            if self._executor is None:
                self._executor = ThreadPoolExecutor(1, thread_name_prefix="sam2-prefetch")
            self._pending[frame] = self._executor.submit(self._load, frame)
            while len(self._pending) > self._depth:
                _, stale = self._pending.popitem(last=False)
                stale.cancel()

    def get(self, frame: int) -> torch.Tensor:
        """The prepared input of ``frame``: the prefetched one, else loaded now.

        Errors of a background load are raised here, as if the frame were loaded now.
        """
        with self._lock:
            pending = self._pending.pop(frame, None)
        if pending is not None and not pending.cancelled():
            return pending.result()
        return self._load(frame)

    def close(self) -> None:
        """Drop pending loads and stop the thread (a later :meth:`schedule` restarts it)."""
        with self._lock:
            for future in self._pending.values():
                future.cancel()
            self._pending.clear()
            executor, self._executor = self._executor, None
        if executor is not None:
            executor.shutdown(wait=False, cancel_futures=True)
