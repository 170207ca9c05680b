"""The controller's model: set one directly, or load one by name in a worker.

One model loads at a time: asking for another while one is loading cancels the first
(its result is dropped) and starts the new one when that worker has returned. (Two loads
in two napari workers at once were seen to hang, one of them inside ``torch.load``.)
An explicit :meth:`ModelSlot.use` wins over a load still running.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from napari_sam2.core.events import StatusLine
from napari_sam2.core.job_board import JobBoard
from napari_sam2.core.jobs import Job, JobContext, JobHandle


class ModelSlot:
    """Which SAM 2 model the controller uses.

    Parameters
    ----------
    jobs
        Runs the loading work.
    status
        Status line for loading messages.
    on_use
        Called as ``on_use(model, name)`` on the GUI thread when a model is put in use
        (the controller then drops embeddings, sessions and previews of the old one).
    """

    def __init__(
        self, jobs: JobBoard, status: StatusLine, on_use: Callable[[Any, str], None]
    ) -> None:
        self._jobs = jobs
        self._status = status
        self._on_use = on_use
        self.model: Any = None
        self.name: str | None = None
        self._queued: tuple[str, str | None] | None = None

    def use(self, model: Any, name: str | None = None) -> None:
        """Use an already built ``SAM2Model``; a model still loading is cancelled."""
        self._queued = None
        self._jobs.cancel("model")
        self._put(model, name)

    def _put(self, model: Any, name: str | None) -> None:
        self.model = model
        self.name = name or getattr(getattr(model, "cfg", None), "name", "model")
        self._on_use(model, self.name)

    def load(self, name: str, device: str | None = None) -> JobHandle | None:
        """Build or download a model in a worker, then use it.

        Returns the job handle, or None when the load is queued behind a running one.
        """
        if self._jobs.is_running("model"):
            self._jobs.cancel("model")
            self._queued = (name, device)
            self._status.set(f"Loading model {name} after the current one…")
            return None
        self._queued = None
        return self._start(name, device)

    def _start_queued(self, _cancelled: bool) -> None:
        queued, self._queued = self._queued, None
        if queued is not None and not self._jobs.closed:
            self._start(*queued)

    def _start(self, name: str, device: str | None) -> JobHandle:
        from napari_sam2.core.models import load_model

        def work(ctx: JobContext) -> Any:
            return load_model(
                name, device, progress=_megabytes(ctx), cancel=lambda: ctx.cancelled
            )

        return self._jobs.start(
            Job(
                "model",
                work,
                on_done=lambda model: self._put(model, name),
                on_error=lambda err: self._status.set(f"Could not load {name}."),
                on_finish=self._start_queued,
                on_progress=self._jobs.progress_fn("model"),
                description=f"Loading {name}",
            ),
            announce=f"Loading model {name}…",
        )


def _megabytes(ctx: JobContext) -> Callable[[int, int | None], None]:
    def report(done: int, total: int | None) -> None:
        ctx.report(done // (1 << 20), (total or 0) // (1 << 20))

    return report
