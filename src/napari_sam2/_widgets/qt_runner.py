"""Run controller jobs in napari worker threads (``napari.qt.threading.create_worker``).

Each job gets its own worker. Generator jobs yield results that Qt delivers to the GUI
thread in order (``yielded``), before ``finished``; ``quit()`` stops a generator at its
next ``yield``. Errors are not re-raised in the GUI thread: they reach the job's
``on_error`` (the controller shows a napari notification) and the GUI stays usable.
Progress reports from the worker cross threads through a queued Qt signal and also
drive the napari progress bar of the job.
"""

from __future__ import annotations

import logging
from typing import Any

from qtpy.QtCore import QObject, Signal

from napari_sam2.core.jobs import Job, JobContext, JobHandle, is_generator_job

log = logging.getLogger(__name__)
SHUTDOWN_WAIT_MS = 15_000  # closing waits this long at most for a step to finish


class _Reporter(QObject):
    """Lives in the GUI thread; emitting from a worker queues the call there."""

    progressed = Signal(int, int)


class QtRunner:
    """A :class:`~napari_sam2.core.jobs.Runner` backed by napari thread workers."""

    def __init__(self) -> None:
        self._workers: dict[int, Any] = {}

    @property
    def active(self) -> int:
        """Workers started and not finished yet."""
        return len(self._workers)

    def start(self, job: Job, handle: JobHandle | None = None) -> JobHandle:
        from napari.qt.threading import create_worker

        handle = handle or JobHandle(job, JobContext())
        ctx = handle.context
        generator = is_generator_job(job)
        progress: dict[str, Any] | None = None
        if job.description:
            progress = {"desc": job.description}
            if generator and job.total:
                progress["total"] = int(job.total)
        worker = create_worker(job.work, ctx, _progress=progress, _ignore_errors=True)
        reporter = _Reporter()
        pbar = getattr(worker, "pbar", None)

        def on_progress(done: int, total: int) -> None:
            if pbar is not None and total > 0:
                if pbar.total != total:
                    pbar.total = total
                pbar.update(max(done - pbar.n, 0))
            if job.on_progress is not None:
                job.on_progress(done, total)

        reporter.progressed.connect(on_progress)
        ctx._reporter = reporter.progressed.emit
        if generator and job.on_yield is not None:
            worker.yielded.connect(job.on_yield)
        if job.on_done is not None:
            on_done = job.on_done
            worker.returned.connect(lambda result: None if ctx.cancelled else on_done(result))
        if job.on_error is not None:
            worker.errored.connect(job.on_error)

        key = id(worker)

        def on_finished() -> None:
            handle.running = False
            self._workers.pop(key, None)
            if job.on_finish is not None:
                job.on_finish(ctx.cancelled)

        worker.finished.connect(on_finished)
        handle._on_cancel = worker.quit if generator else None
        self._workers[key] = (worker, reporter)
        worker.start()
        return handle

    def shutdown(self, wait_ms: int = SHUTDOWN_WAIT_MS) -> None:
        """Ask every running worker to stop and wait for them (each finishes its current
        step), at most ``wait_ms``: a worker that outlives its window would emit into Qt
        objects already deleted ("wrapped C/C++ object ... has been deleted" at exit)."""
        from qtpy.QtCore import QDeadlineTimer, QThread

        workers = [worker for worker, _ in self._workers.values()]
        for worker in workers:
            worker.quit()
        deadline = QDeadlineTimer(wait_ms)
        while any(w.is_running for w in workers) and not deadline.hasExpired():
            QThread.msleep(20)
