"""A runner that queues jobs until the test runs them (to test what happens meanwhile)."""

from napari_sam2.core.jobs import Job, JobContext, JobHandle, SyncRunner


class ManualRunner:
    def __init__(self) -> None:
        self.queue: list[tuple[Job, JobHandle]] = []

    def start(self, job: Job, handle: JobHandle | None = None) -> JobHandle:
        handle = handle or JobHandle(job, JobContext())
        self.queue.append((job, handle))
        return handle

    def kinds(self) -> list[str]:
        return [job.kind for job, _ in self.queue]

    def run_next(self) -> str:
        job, handle = self.queue.pop(0)
        SyncRunner().start(job, handle)
        return job.kind

    def run_all(self) -> list[str]:
        done = []
        while self.queue:
            done.append(self.run_next())
        return done

    def shutdown(self) -> None:
        for _, handle in self.queue:
            handle.cancel()
