"""Linking in windows against linking in one piece: the same tracks?

The linker links a movie longer than ``LinkSettings.window_frames`` in overlapping
windows (``sam2_cells.link_windows``) so that its memory follows the window, not the
movie. On every movie of the tracking benchmark (``benchmarks/tracking_data.py``: seven of
40 frames) and a generated movie of 150 frames, the detections are found once (the
default detector, or the true labels: the linker's upper bound) and linked in one piece
(window 0), in windows of 60 frames (the default: only the 150-frame movie is cut) and of
30 frames (every movie cut at a seam every 10 frames); each result is scored with
py-ctcmetrics (TRA, BC(1)). One thread.

Writes ``results/tracking_windows.csv`` / ``.md``. Usage: ``python
benchmarks/bench_tracking_windows.py [--windows 0 60 30]``.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.bench_tracking_scale import _csv_text, write_atomic  # noqa: E402
from benchmarks.harness import RESULTS  # noqa: E402
from benchmarks.tracking_data import hard_sequences, quality_sequences, sequence  # noqa: E402


def _sequences():
    yield from quality_sequences()
    yield from hard_sequences()
    yield sequence("long, 150 frames, 16 px", 20, 16.0, n_frames=150, divisions=(6, 60), seed=9)


def main() -> None:
    from sam2_cells import CellTracker, TrackerSettings, score_arrays
    from sam2_cells.detection import LabelStackDetector

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--windows", type=int, nargs="+", default=[0, 60, 30])
    args = parser.parse_args()
    rows: list[dict] = []
    for seq in _sequences():
        movie = seq.movie.movie
        settings = TrackerSettings(detection="classical", diameter=seq.diameter)
        detector = CellTracker(None, settings).detector
        found = np.stack([detector.detect(movie, t) for t in range(len(movie))])
        sources = {type(detector).__name__: found, "true labels": seq.movie.labels}
        for source, stack in sources.items():
            for window in args.windows:
                linking = dataclasses.replace(settings, window_frames=window)
                tracker = CellTracker(None, linking, detector=LabelStackDetector(stack))
                cpu = time.process_time()
                out = tracker.track(stack)
                cpu = time.process_time() - cpu
                scores = score_arrays(out.labels, out.tracks, seq.movie.labels, seq.movie.tracks)
                row = {
                    "sequence": seq.name,
                    "frames": len(movie),
                    "detections": source,
                    "window": window,
                    "tra": scores.tra,
                    "bc1": scores.bc[1],
                    "parents": len({r.parent for r in out.tracks if r.parent}),
                    "true_divisions": seq.divisions,
                    "tracks": len(out.tracks),
                    "cpu_s": cpu,
                }
                rows.append(row)
                print(row, flush=True)
    RESULTS.mkdir(exist_ok=True)
    write_atomic(RESULTS / "tracking_windows.csv", _csv_text(rows))
    write_atomic(RESULTS / "tracking_windows.md", _markdown(rows, args.windows))


def _markdown(rows: list[dict], windows: list[int]) -> str:
    def name(w: int) -> str:
        return "one piece" if w == 0 else f"windows of {w}"

    lines = [
        "# Linking in windows against linking in one piece",
        "",
        "`benchmarks/bench_tracking_windows.py`: each movie's detections found once, then "
        "linked in one piece and in overlapping windows (`LinkSettings.window_frames`; "
        "seams every `window - 20` frames), scored by py-ctcmetrics. Each cell: TRA / "
        "BC(1) / tracks with daughters in the lineage (divisions, and tracks continued "
        "after a closed gap, which the CTC format also writes as a parent); the first "
        "column gives the frames and the true divisions.",
        "",
        "| sequence (frames, true divisions) | detections | "
        + " | ".join(name(w) for w in windows)
        + " |",
        "|---|---|" + "---|" * len(windows),
    ]
    keys = dict.fromkeys((r["sequence"], r["detections"]) for r in rows)
    for seq, source in keys:
        mine = {r["window"]: r for r in rows if (r["sequence"], r["detections"]) == (seq, source)}
        first = next(iter(mine.values()))
        cells = []
        for w in windows:
            r = mine[w]
            bc = "-" if r["bc1"] is None else f"{r['bc1']:.3f}"
            cells.append(f"{r['tra']:.4f} / {bc} / {r['parents']}")
        head = f"{seq} ({first['frames']}, {first['true_divisions']})"
        lines.append(f"| {head} | {source} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
