"""Image embeddings of the planes the user looks at: computed in a worker, cached.

Encoding a plane is the slow step; each plane is encoded once per (image, model) and kept
in a :class:`~napari_sam2.core.features_cache.FeatureCache` (for a model that decodes
prompts in windows, the predictor with the plane set: see
:class:`~napari_sam2.core.features_cache.CachedFeatures`). One embedding job runs at a
time: while it runs only the latest requested plane waits (scrubbing a slider encodes one
plane at a time, not every plane passed). A plane whose data cannot be encoded (e.g. NaN
values) stops the automatic encoding of that image: the user is told once, and choosing
the image again (after fixing its data) tries again.

A plane much larger than a whole-image model's input is cut into tiles (see
``sam2_engine.tiled``): the predictor is kept, as in window mode, and each click encodes
only the tiles it needs, so clicks work long before a whole slide could be encoded. The
other tiles are then embedded in the background (a ``"tiles"`` job with a progress bar,
cancelled when the image, the plane or the model changes), when they can be kept: all
fit in the predictor's memory, or the disk cache is on. That job steps aside while a
click is decoded (it waits between tiles), and clicks use the tiles already embedded.
With :meth:`Embeddings.use_disk` on, whole planes and tiles are also kept in the on-disk
``sam2_engine.EmbeddingCache``: reopening an image or a time-lapse skips the encoder.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from napari_sam2.core.events import StatusLine
from napari_sam2.core.features_cache import CachedFeatures, FeatureCache
from napari_sam2.core.image_context import ImageContext
from napari_sam2.core.job_board import JobBoard
from napari_sam2.core.jobs import Job, JobContext
from napari_sam2.core.model_slot import ModelSlot
from napari_sam2.core.state import PlaneKey

#: Tiles a tiled predictor keeps in memory: more are embedded ahead only with the disk cache.
TILES_IN_MEMORY = 32


class Embeddings:
    """Embedding cache and jobs of one controller.

    Parameters
    ----------
    image, models, jobs, status
        The controller's image context, model slot, job board and status line.
    cache
        The cache (default: 1 GiB).

    Attributes
    ----------
    on_ready
        ``on_ready(plane)`` after a plane's embedding arrived (GUI thread).
    waiting_plane
        Returns the plane whose prompts wait for an embedding, if any (it is encoded
        next when a newer request displaced it).
    """

    def __init__(
        self,
        image: ImageContext,
        models: ModelSlot,
        jobs: JobBoard,
        status: StatusLine,
        cache: FeatureCache | None = None,
    ) -> None:
        self._image, self._models, self._jobs, self._status = image, models, jobs, status
        self.cache = cache or FeatureCache()
        self.on_ready: Callable[[PlaneKey], None] = lambda plane: None
        self.waiting_plane: Callable[[], PlaneKey | None] = lambda: None
        self._running: PlaneKey | None = None
        self._next: PlaneKey | None = None
        self._failed: set[tuple] = set()
        self.disk: Any = None  # a sam2_engine.EmbeddingCache while use_disk(True)

    def use_disk(self, enabled: bool, root: str | None = None) -> None:
        """Keep embeddings in the on-disk cache too (``root``: its folder; None:
        ``$NAPARI_SAM2_EMBEDDINGS`` or ``~/.cache/napari-sam2/embeddings``)."""
        import sam2_engine as se

        self.disk = se.EmbeddingCache(root) if enabled else None

    def key(self, plane: PlaneKey) -> tuple:
        """Cache key: what was encoded (image token, model, plane)."""
        return (self._image.token, id(self._models.model), plane)

    def has(self, plane: PlaneKey) -> bool:
        return self.key(plane) in self.cache

    def get(self, plane: PlaneKey) -> CachedFeatures | None:
        return self.cache.get(self.key(plane))

    def failed(self) -> bool:
        """Whether encoding this image with this model failed (it is not retried)."""
        return self.key(PlaneKey())[:2] in self._failed

    def clear(self) -> None:
        """Forget every embedding (the model changed)."""
        self._jobs.cancel("tiles")
        self.cache.clear()
        self._next = None
        self._failed.clear()

    def drop_queue(self) -> None:
        """Forget the plane waiting behind the running job (the image changed)."""
        self._jobs.cancel("tiles")
        self._next = None

    def show_status(self, plane: PlaneKey) -> None:
        """Put the state of ``plane``'s embedding on the status line."""
        if self._models.model is None or self._image.layout is None:
            return
        name = self._image.plane_name(plane)
        if self.has(plane):
            self._status.set(f"Embedding of {name} ready: click to segment.")
        elif self.failed():
            self._status.set(f"SAM 2 cannot encode {name}; see the message.")
        elif self._running == plane:
            self._status.set(f"Computing the embedding of {name}…")
        elif self._running is not None:
            running = self._image.plane_name(self._running)
            self._status.set(f"{name}: waiting for the embedding of {running}…")

    def ensure(self, plane: PlaneKey) -> bool:
        """Make sure ``plane`` is encoded; True if it already is.

        Otherwise an embedding job starts, or ``plane`` is queued behind the running one.
        """
        if self._models.model is None or self._image.layout is None:
            return False
        key = self.key(plane)
        if key in self.cache:
            return True
        if key[:2] in self._failed:
            return False
        if self._jobs.is_running("embed"):
            if self._running != plane:
                self._next = plane
            return False
        self._start(plane, key)
        return False

    def _start(self, plane: PlaneKey, key: tuple) -> None:
        import sam2_engine as se

        source, model, token = self._image.source(plane), self._models.model, self._image.token
        name, disk = self._image.plane_name(plane), self.disk

        def work(ctx: JobContext) -> CachedFeatures:
            predictor = se.ImagePredictor(model, embedding_cache=disk)
            lazy = source.lazy(plane.frame)
            hw = (int(lazy.shape[0]), int(lazy.shape[1]))
            if predictor.windowed or predictor.tiling.should_tile(hw, model.image_size):
                # windows or tiles are encoded as prompts need them: keep the predictor;
                # the plane is neither copied nor normalised whole (big slides stay cheap)
                predictor.set_image(lazy)
                return CachedFeatures(None, hw, 0, predictor)
            frame = source.normalized(plane.frame)
            predictor.set_image(frame)
            hw = (int(frame.shape[0]), int(frame.shape[1]))
            feats = predictor.features
            return CachedFeatures(feats, hw, feats.nbytes())

        def done(item: CachedFeatures) -> None:
            if token != self._image.token or model is not self._models.model:
                return
            self.cache.put(key, item)
            if plane == self._image.plane:
                self._status.set(f"Embedding of {name} ready: click to segment.")
            self.on_ready(plane)
            if item.predictor is not None and item.predictor.tiled:
                self._embed_tiles(plane, item.predictor, name)

        def failed(err: BaseException) -> None:
            self._failed.add(key[:2])
            self._status.set(f"SAM 2 cannot encode {name}; see the message.")

        def finish(cancelled: bool) -> None:
            self._running = None
            nxt, self._next = self._next, None
            if self._jobs.closed:
                return
            if nxt is not None:
                self.ensure(nxt)
            waiting = self.waiting_plane()  # prompts on a plane a newer request displaced
            if waiting is not None and not self._jobs.is_running("embed"):
                self.ensure(waiting)

        self._jobs.cancel("tiles")  # another plane: its tiles go first
        self._running = plane
        self._jobs.start(
            Job(
                "embed",
                work,
                on_done=done,
                on_error=failed,
                on_finish=finish,
                description=f"SAM 2 embedding ({name})",
            ),
            announce=f"Computing the embedding of {name}…",
        )

    def _embed_tiles(self, plane: PlaneKey, predictor: Any, name: str) -> None:
        """Embed every tile of a tiled plane in the background, with progress; clicks
        meanwhile use the tiles already embedded (and encode theirs on demand)."""
        total = int(predictor.tile_count)
        if total == 0 or (self.disk is None and total > TILES_IN_MEMORY):
            return  # they could not all be kept: each click encodes its own tiles
        jobs, token, model = self._jobs, self._image.token, self._models.model

        def work(ctx: JobContext) -> bool:
            def cancel() -> bool:
                while not ctx.cancelled and jobs.is_running("preview"):
                    time.sleep(0.02)  # a click is being decoded: it gets the CPU
                return ctx.cancelled

            return bool(predictor.embed_tiles(ctx.report, cancel))

        shown, emit = [0], jobs.progress_fn("tiles")

        def progressed(done: int, total: int) -> None:
            # reports can reach the GUI thread nested (napari's progress bar processes
            # events while it updates), i.e. out of order: show only the newest
            if done > shown[0]:
                shown[0] = done
                emit(done, total)

        def done(complete: bool) -> None:
            stale = token != self._image.token or model is not self._models.model
            if complete and not stale and plane == self._image.plane:
                self._status.set(f"All {total} tiles of {name} embedded: click anywhere.")

        jobs.start(
            Job(
                "tiles",
                work,
                on_done=done,
                on_progress=progressed,
                total=total,
                description=f"SAM 2 tiles ({name})",
            ),
            announce=f"Embedding the {total} tiles of {name} in the background; click to "
            "segment meanwhile.",
        )
