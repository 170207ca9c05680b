"""Running a batch on Dask distributed: one task per input, results as they finish.

By default a ``distributed.LocalCluster`` of worker *processes* (one thread each, so
torch and the BLAS libraries do not fight over cores) is started for the run and closed
after it; give ``scheduler`` (an address such as ``tcp://10.0.0.5:8786``) to use a
running cluster instead, e.g. one of dask-jobqueue's SLURM / PBS clusters. Each worker
process builds the model once (:func:`sam2_batch.tasks.worker_model`). Inputs whose
result exists are skipped; inputs that cannot be found are reported without a task.
No scheduling of our own: Dask places, runs and (if a worker dies) retries the tasks.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence

from sam2_batch.inputs import BatchItem
from sam2_batch.settings import BatchSettings, ItemResult
from sam2_batch.tasks import is_done, run_item

__all__ = ["run_batch"]

Report = Callable[[ItemResult, int, int], None]


def _client(scheduler: str | None, workers: int) -> tuple[object, object | None]:
    from distributed import Client, LocalCluster

    if scheduler:
        return Client(scheduler, timeout="30s"), None
    cluster = LocalCluster(
        n_workers=workers,
        threads_per_worker=1,
        processes=True,
        dashboard_address=None,
        silence_logs=40,  # logging.ERROR: progress is printed by the command line
    )
    return Client(cluster), cluster


def run_batch(
    items: Sequence[BatchItem],
    settings: BatchSettings,
    *,
    scheduler: str | None = None,
    workers: int = 2,
    report: Report | None = None,
) -> list[ItemResult]:
    """Process every item on a Dask cluster and return one result per item.

    Parameters
    ----------
    items
        The inputs (see :func:`sam2_batch.expand_inputs`).
    settings
        What every task does.
    scheduler
        Address of a running Dask scheduler; None starts a local cluster of ``workers``
        processes for this run.
    workers
        Worker processes of the local cluster (ignored with ``scheduler``).
    report
        ``report(result, done, total)`` as each item finishes (or is skipped / refused).

    Returns
    -------
    list of ItemResult
        In the order of ``items``.
    """
    if workers < 1:
        raise ValueError(f"workers={workers} must be at least 1")
    results: dict[str, ItemResult] = {}
    total = len(items)

    def finish(result: ItemResult) -> None:
        results[result.name] = result
        if report is not None:
            report(result, len(results), total)

    todo = []
    for item in items:
        if item.error:
            finish(ItemResult(item.name, item.path, "failed", error=item.error))
        elif is_done(item, settings):
            out = str(settings.output_of(item.name))
            finish(ItemResult(item.name, item.path, "skipped", (out,), summary="done before"))
        else:
            todo.append(item)
    if todo:
        _run_on_cluster(todo, settings, scheduler, workers, finish)
    return [results[item.name] for item in items]


def _run_on_cluster(
    todo: Sequence[BatchItem],
    settings: BatchSettings,
    scheduler: str | None,
    workers: int,
    finish: Callable[[ItemResult], None],
) -> None:
    from distributed import as_completed

    client, cluster = _client(scheduler, min(workers, len(todo)))
    run = f"sam2-{settings.command}-{uuid.uuid4().hex[:8]}"  # unique on a shared scheduler
    try:
        futures = {
            client.submit(
                run_item,
                item,
                settings,
                pure=False,
                key=f"{run}-{item.name}",
            ): item
            for item in todo
        }
        for future in as_completed(futures):
            item = futures[future]
            try:
                result = future.result()
            except Exception as exc:  # the worker died or the task could not run
                text = (str(exc).strip() or type(exc).__name__).replace("\n", " ")
                result = ItemResult(item.name, item.path, "failed", error=text)
            finish(result)
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
