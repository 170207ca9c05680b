"""Small helpers shared by the benchmark scripts: isolated runs, timing, tables.

Each measurement runs in a fresh ``spawn``-ed process so that its peak resident memory
(``ru_maxrss``) belongs to that measurement alone and one implementation's caches
cannot help the other.
"""

from __future__ import annotations

import csv
import multiprocessing as mp
import os
import platform
import resource
import statistics
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"


@dataclass
class Row:
    """One benchmark row: a metric measured for ours and for the reference."""

    metric: str
    unit: str
    ours: float
    reference: float | None
    note: str = ""

    @property
    def ratio(self) -> float | None:
        if self.reference in (None, 0):
            return None
        return self.ours / self.reference


def peak_rss_mib() -> float:
    """Peak resident set size of this process so far, in MiB (Linux: ru_maxrss in KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def median_time(fn: Callable[[], object], repeats: int, warmup: int = 1) -> float:
    """Median wall time of ``fn()`` in seconds over ``repeats`` runs after ``warmup``."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def propagation_seconds(
    session: object, frames: int, on_frame: Callable[[object], object] | None = None
) -> list[float]:
    """Seconds each frame after the prompted frame 0 took in ``session.propagate`` over
    ``frames`` frames (``on_frame(result)`` runs inside each frame's time)."""
    per_frame: list[float] = []
    t = time.perf_counter()
    for out in session.propagate(start=0, max_frames=frames + 1):  # type: ignore[attr-defined]
        if out.frame > 0:
            if on_frame is not None:
                on_frame(out)
            per_frame.append(time.perf_counter() - t)
        t = time.perf_counter()
    return per_frame


def _child(fn, args, queue):  # pragma: no cover - runs in a subprocess
    import torch

    torch.set_num_threads(int(os.environ.get("BENCH_THREADS", os.cpu_count() or 1)))
    try:
        queue.put(("ok", fn(*args)))
    except BaseException as err:  # report, do not hang the parent
        queue.put(("error", f"{type(err).__name__}: {err}"))


def isolated(fn: Callable, *args) -> dict:
    """Run ``fn(*args)`` (a module-level function returning a dict) in a new process."""
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    proc = ctx.Process(target=_child, args=(fn, args, queue))
    proc.start()
    status, value = queue.get()
    proc.join()
    if status != "ok":
        raise RuntimeError(f"benchmark child failed: {value}")
    return value


def alternate(ours: Callable, reference: Callable, *args, rounds: int = 1) -> tuple[dict, dict]:
    """Run ``ours`` and ``reference`` in fresh processes, alternately, ``rounds`` times.

    Returns, for each, the per-key median over the rounds: alternating spreads slow
    phases of a shared machine over both sides instead of penalising one.
    """
    runs: dict[str, list[dict]] = {"ours": [], "reference": []}
    for _ in range(rounds):
        runs["ours"].append(isolated(ours, *args))
        runs["reference"].append(isolated(reference, *args))

    def med(items: list[dict]) -> dict:
        return {k: statistics.median(d[k] for d in items) for k in items[0]}

    return med(runs["ours"]), med(runs["reference"])


def machine() -> str:
    """One line describing where the numbers come from."""
    import torch

    return (
        f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPU cores, "
        f"torch {torch.__version__}, {torch.get_num_threads()} threads, Python "
        f"{platform.python_version()}"
    )


def write(name: str, title: str, rows: Sequence[Row], notes: Sequence[str]) -> Path:
    """Write ``results/<name>.csv`` and ``results/<name>.md``; return the markdown path."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    with open(RESULTS / f"{name}.csv", "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=[*asdict(rows[0]), "ratio"])
        writer.writeheader()
        for row in rows:
            writer.writerow({**asdict(row), "ratio": row.ratio})
    lines = [f"# {title}", "", f"Machine: {machine()}.", ""]
    lines += ["| metric | ours | reference | ours / reference | note |", "|---|---|---|---|---|"]
    for r in rows:
        ref = "–" if r.reference is None else f"{r.reference:.3g} {r.unit}"
        ratio = "–" if r.ratio is None else f"{r.ratio:.2f}"
        lines.append(f"| {r.metric} | {r.ours:.3g} {r.unit} | {ref} | {ratio} | {r.note} |")
    lines += ["", *notes, ""]
    path = RESULTS / f"{name}.md"
    path.write_text("\n".join(lines))
    return path


def environment(
    described: Mapping[str, object] | None = None,
    *,
    cores: bool = True,
    torch_threads: int | None = None,
) -> dict[str, object]:
    """The environment columns of a results table: what was run, then the machine's load.

    Parameters
    ----------
    described : mapping, optional
        Leading columns that describe the run (model, stack, ...).
    cores : bool
        Include this machine's CPU core count.
    torch_threads : int, optional
        The torch threads the measurement ran with; default this process's
        ``torch.get_num_threads()`` (give it where the rows ran in child processes).

    Returns
    -------
    dict
        ``described``, then ``cores``, ``torch_threads`` and ``load_avg_1min`` (1-minute
        load average, two decimals), in that order.
    """
    if torch_threads is None:
        import torch

        torch_threads = torch.get_num_threads()
    env = dict(described or {})
    if cores:
        env["cores"] = os.cpu_count()
    env["torch_threads"] = torch_threads
    env["load_avg_1min"] = round(os.getloadavg()[0], 2)
    return env


def environment_line(env: Mapping[str, object]) -> str:
    """The markdown line that names where a table's numbers come from.

    Parameters
    ----------
    env : mapping
        Column name to value (cores, torch threads, load average, model, ...).

    Returns
    -------
    str
        ``"Environment: key = value, key = value"``.
    """
    return "Environment: " + ", ".join(f"{k} = {v}" for k, v in env.items())


def write_table(
    out: Path,
    name: str,
    rows: Sequence[Mapping[str, object]],
    env: Mapping[str, object],
    *,
    columns: Sequence[tuple[str, str]],
    head: Sequence[str],
    notes: Sequence[str] = (),
    fields: Sequence[str] | None = None,
) -> Path:
    """Write ``out/<name>.csv`` (each row plus the environment columns) and ``out/<name>.md``.

    The markdown is ``head``, the table, a blank line, ``notes``, the environment line
    and a final newline. This is the layout of our own-measurement benchmarks (no
    reference column); :func:`write` is for ours-vs-reference rows.

    Parameters
    ----------
    out : Path
        Folder of the results; made if missing.
    name : str
        File stem of both files.
    rows : sequence of mapping
        One dict a row, values as they should appear in both files.
    env : mapping
        Environment columns, the same on every CSV row; also the markdown's last line.
    columns : sequence of (str, str)
        ``(key, heading)`` of each markdown column, in order.
    head : sequence of str
        Markdown lines before the table (title, blank line, how it was run, blank line).
    notes : sequence of str
        Markdown lines between the table and the environment line.
    fields : sequence of str, optional
        CSV columns before the environment's; default the keys of the first row.

    Returns
    -------
    Path
        The markdown file.
    """
    out.mkdir(parents=True, exist_ok=True)
    names = list(rows[0]) if fields is None else list(fields)
    with open(out / f"{name}.csv", "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=[*names, *env])
        writer.writeheader()
        for row in rows:
            writer.writerow({**row, **env})
    lines = [*head, markdown_row(h for _, h in columns), "|" + "---|" * len(columns)]
    lines += [markdown_row(row[key] for key, _ in columns) for row in rows]
    lines += ["", *notes, environment_line(env), ""]
    path = out / f"{name}.md"
    path.write_text("\n".join(lines))
    return path


def markdown_row(cells: Iterable[object]) -> str:
    """One markdown table row, ``| a | b |``, each cell as ``str`` writes it."""
    return "| " + " | ".join(str(c) for c in cells) + " |"
