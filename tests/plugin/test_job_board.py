"""JobBoard: a job's announcement comes first, its callbacks' messages after it."""

from __future__ import annotations

from napari_sam2.core.events import ControllerEvents, StatusLine
from napari_sam2.core.job_board import JobBoard
from napari_sam2.core.jobs import Job, SyncRunner


def test_announce_is_shown_before_the_job_runs() -> None:
    events = ControllerEvents()
    status = StatusLine(events, "idle")
    shown: list[str] = []
    events.status_changed.connect(shown.append)
    board = JobBoard(SyncRunner(), lambda level, message: None, events, status)

    def work(ctx: object) -> int:
        shown.append(f"working ({status.text})")
        return 7

    board.start(Job("demo", work, on_done=lambda n: status.set(f"done: {n}")), announce="Demo…")
    assert shown == ["Demo…", "working (Demo…)", "done: 7"]
    assert status.text == "done: 7"


def test_no_announce_leaves_the_status_alone() -> None:
    events = ControllerEvents()
    status = StatusLine(events, "idle")
    board = JobBoard(SyncRunner(), lambda level, message: None, events, status)
    board.start(Job("demo", lambda ctx: None))
    assert status.text == "idle"
