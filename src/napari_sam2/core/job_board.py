"""Running the controller's jobs: one handle per kind, guarded callbacks, cancel, shutdown.

Every piece of model work of the controller's parts is started here. Callbacks of a job
run on the GUI thread; they are guarded so that a late callback (after the widget or the
viewer closed) is dropped, and an exception in one never breaks the GUI thread: it is
logged and shown to the user as a notification.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from napari_sam2.core.events import ControllerEvents, StatusLine
from napari_sam2.core.jobs import Job, JobContext, JobHandle, Runner, SyncRunner
from napari_sam2.core.torch_guard import guard_triton_import

log = logging.getLogger(__name__)

Notify = Callable[[str, str], None]


class JobBoard:
    """Starts jobs on a runner and keeps the latest handle of each kind.

    Parameters
    ----------
    runner
        Where work runs (a :class:`~napari_sam2.core.jobs.SyncRunner` inline, or the
        widget's threaded runner); may be replaced later (:attr:`runner`).
    notify
        ``notify(level, message)`` for user-facing messages.
    events
        Emits ``jobs_changed`` when jobs start and finish.
    status
        The status line a job's ``announce`` text goes to as it starts.
    """

    def __init__(
        self, runner: Runner, notify: Notify, events: ControllerEvents, status: StatusLine
    ) -> None:
        self.runner = runner
        self._notify = notify
        self._events = events
        self._status = status
        self._jobs: dict[str, JobHandle] = {}
        self.closed = False

    def is_running(self, kind: str | None = None) -> bool:
        """Whether a job (of ``kind``, or any) is running."""
        if kind is None:
            return any(h.running for h in self._jobs.values())
        handle = self._jobs.get(kind)
        return handle is not None and handle.running

    def running_kinds(self) -> list[str]:
        """Kinds of the jobs running now."""
        return [kind for kind, handle in self._jobs.items() if handle.running]

    def cancel(self, kind: str | None = None) -> None:
        """Cancel running jobs (all, or one kind). Finished work is kept."""
        for name, handle in list(self._jobs.items()):
            if (kind is None or name == kind) and handle.running:
                handle.cancel()

    def shutdown(self) -> None:
        """Stop everything (viewer or widget closing): cancel jobs, drop late results."""
        self.closed = True
        self.cancel()
        self.runner.shutdown()

    def start(self, job: Job, announce: str | None = None) -> JobHandle:
        """Register and start a job; its callbacks are guarded against late calls.

        ``announce``: the status text that says what the job does, shown before it runs
        (so that the messages of its callbacks, even those of an inline runner, follow it).
        """
        if announce is not None:
            self._status.set(announce)
        handle = JobHandle(job, JobContext())
        finish, user_error = job.on_finish, job.on_error

        def on_finish(cancelled: bool) -> None:
            self.guard(finish, cancelled)
            self._events.jobs_changed.emit()

        def on_error(err: BaseException) -> None:
            log.error("%s job failed", job.kind, exc_info=err)
            if not self.closed:
                self._notify("error", f"SAM 2 {job.kind} failed: {err}")
                self.guard(user_error, err)

        job.on_finish = on_finish
        job.on_error = on_error
        job.on_yield = self.guarded(job.on_yield)
        job.on_done = self.guarded(job.on_done)
        job.on_progress = self.guarded(job.on_progress)
        self._jobs[job.kind] = handle
        self._events.jobs_changed.emit()
        guard_triton_import()
        return self.runner.start(job, handle)

    def progress_fn(self, kind: str) -> Callable[[int, int], None]:
        """A progress callback that emits ``progress_changed(kind, done, total)``."""
        return lambda done, total: self._events.progress_changed.emit(kind, done, total)

    def guarded(self, fn: Callable | None) -> Callable | None:
        """``fn`` wrapped so that it is skipped after shutdown and never raises."""
        if fn is None:
            return None

        def call(*args: Any) -> None:
            if not self.closed:
                self.guard(fn, *args)

        return call

    def guard(self, fn: Callable | None, *args: Any) -> None:
        """Call ``fn(*args)``; an exception is logged and notified, not raised (except
        with a :class:`SyncRunner` that asks for errors, as the console API does)."""
        if fn is None:
            return
        try:
            fn(*args)
        except Exception as err:  # never let a late callback break the GUI thread
            log.exception("SAM 2 callback failed")
            self._notify("error", f"SAM 2: {err}")
            if isinstance(self.runner, SyncRunner) and self.runner.raise_errors:
                raise
