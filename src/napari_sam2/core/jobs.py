"""Jobs: model work described once, run in a worker thread (GUI) or inline (console, tests).

The controller describes each piece of model work as a :class:`Job`: a ``work``
function that runs off the GUI thread (a generator may ``yield`` results as they come,
e.g. one propagated frame at a time) and callbacks that run on the GUI thread
(``on_yield``, ``on_done``, ``on_error``, ``on_finish``, ``on_progress``). A *runner*
decides where ``work`` runs:

* :class:`SyncRunner` (here, no Qt): inline, for the console API and the tests;
* ``napari_sam2._widgets.qt_runner.QtRunner``: a napari ``create_worker`` thread with a
  progress bar, ``quit()`` on cancel and errors delivered to ``on_error``.

Cancelling sets :attr:`JobContext.cancelled`; generator jobs stop at their next
``yield`` (what was already yielded is kept), function jobs poll the flag.
"""

from __future__ import annotations

import inspect
import logging
import threading
from collections.abc import Callable, Generator
from dataclasses import dataclass
from typing import Any, Protocol

log = logging.getLogger(__name__)


class JobContext:
    """What the ``work`` function of a job can use: a cancel flag and progress reports."""

    def __init__(self) -> None:
        self._cancel = threading.Event()
        self._reporter: Callable[[int, int], None] | None = None

    @property
    def cancelled(self) -> bool:
        return self._cancel.is_set()

    def cancel(self) -> None:
        self._cancel.set()

    def report(self, done: int, total: int) -> None:
        """Report progress (any thread); the runner forwards it to the GUI thread."""
        if self._reporter is not None:
            self._reporter(int(done), int(total))


@dataclass
class Job:
    """A piece of model work and its GUI-thread callbacks.

    Attributes
    ----------
    kind
        ``"model"``, ``"embed"``, ``"preview"``, ``"propagate"`` or ``"automatic"``.
    work
        ``work(ctx)``: a function or a generator function; runs in the worker thread.
    on_yield
        Called with every value the generator yields, in order.
    on_done
        Called with the return value when ``work`` finished without error or cancel.
    on_error
        Called with the exception raised by ``work``.
    on_finish
        Called last, always, with ``cancelled``.
    on_progress
        Called with ``(done, total)`` reports.
    total
        Expected number of yields (for a progress bar); None: indeterminate.
    description
        Text of the progress bar.
    """

    kind: str
    work: Callable[[JobContext], Any]
    on_yield: Callable[[Any], None] | None = None
    on_done: Callable[[Any], None] | None = None
    on_error: Callable[[BaseException], None] | None = None
    on_finish: Callable[[bool], None] | None = None
    on_progress: Callable[[int, int], None] | None = None
    total: int | None = None
    description: str = ""


class JobHandle:
    """A started job: cancel it or ask whether it still runs."""

    def __init__(self, job: Job, context: JobContext) -> None:
        self.job = job
        self.context = context
        self.running = True
        self._on_cancel: Callable[[], None] | None = None

    @property
    def cancelled(self) -> bool:
        return self.context.cancelled

    def cancel(self) -> None:
        self.context.cancel()
        if self._on_cancel is not None:
            self._on_cancel()


class Runner(Protocol):
    """Starts jobs; see :class:`SyncRunner` and ``QtRunner``.

    ``start`` runs ``job.work`` somewhere and its callbacks on the GUI thread; it sets
    ``handle.running = False`` *before* calling ``on_finish``.
    """

    def start(self, job: Job, handle: JobHandle | None = None) -> JobHandle: ...

    def shutdown(self) -> None: ...


class SyncRunner:
    """Run jobs inline on the calling thread (console API, scripts, Qt-free tests).

    Parameters
    ----------
    raise_errors
        Re-raise the exception of a failed job after ``on_error`` and ``on_finish``
        ran (the console API wants exceptions; the tests of error paths do not).
    """

    def __init__(self, raise_errors: bool = False) -> None:
        self.raise_errors = raise_errors

    def start(self, job: Job, handle: JobHandle | None = None) -> JobHandle:
        handle = handle or JobHandle(job, JobContext())
        ctx = handle.context
        ctx._reporter = job.on_progress
        error: BaseException | None = None
        try:
            out = job.work(ctx)
            if isinstance(out, Generator):
                out = _drain(out, job, ctx)
            if not ctx.cancelled and job.on_done is not None:
                job.on_done(out)
        except Exception as err:  # delivered like a worker error
            error = err
            if job.on_error is not None:
                job.on_error(err)
        finally:
            handle.running = False
            if job.on_finish is not None:
                job.on_finish(ctx.cancelled)
        if error is not None and self.raise_errors:
            raise error
        return handle

    def shutdown(self) -> None:
        """Nothing runs in the background."""


def _drain(gen: Generator, job: Job, ctx: JobContext) -> Any:
    while True:
        if ctx.cancelled:
            gen.close()
            return None
        try:
            value = next(gen)
        except StopIteration as stop:
            return stop.value
        if job.on_yield is not None:
            job.on_yield(value)


def is_generator_job(job: Job) -> bool:
    return inspect.isgeneratorfunction(job.work)
