"""Why a division is missed: every true division of a tracking benchmark movie, looked at
through our classical detections and linker.

For each division of the ground truth (mother ending on frame ``e``, daughters beginning on
``e + 1``): the detection covering most of the mother on ``e`` and of each daughter on
``e + 1`` (the share of the true object it covers, its area, and the other true cells it
also holds: two daughters in one object, a daughter merged with a neighbour), the
daughters' distances from the mother in the linker's diameters, and what the linker did
with the mother's detection: never a division in laptrack's graph, found and then undone
by one of the false-division rules (which), or kept. BC(1) matches a division whose mother
and daughters are each detected as their own object (more than half of each covered),
within one frame.

The detections are the tracker's default classical ones (objects holding two cells seen
apart in the neighbouring frames split: :mod:`sam2_cells.split_merged`); ``--raw`` looks
at the classical detector's own objects instead, ``--textured`` at those of its
textured-nuclei option (``TrackerSettings.textured``).

Writes ``results/tracking_divisions.md``. Usage: ``python
benchmarks/bench_tracking_divisions.py [--sequences "fast movers" "dense touching"] [--raw]
[--textured]``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import sam2_cells.divisions as divisions  # noqa: E402
import sam2_cells.linking as linking  # noqa: E402
from benchmarks.harness import RESULTS  # noqa: E402
from benchmarks.tracking_data import (  # noqa: E402
    big_sequences,
    hard_sequences,
    quality_sequences,
)
from sam2_cells.detection import as_label_frame, make_detector  # noqa: E402
from sam2_cells.linking import FrameCells, LapLinker, LinkSettings  # noqa: E402

RULES = (
    "prune_short_daughters",
    "undo_uneven_divisions",
    "undo_merge_splits",
    "undo_static_mothers",
)


def _fates(cells: list[FrameCells], diameter: float) -> tuple[dict, LapLinker]:
    """Link; which mothers laptrack found and which rule undid each (the rules are wrapped
    for the call, then restored)."""
    import laptrack

    fates: dict = {}
    saved = {name: getattr(linking, name) for name in RULES}
    predict = laptrack.LapTrack.predict

    def found(self, coords, **kw):
        tree = predict(self, coords, **kw)
        fates.update({m: "kept" for m in divisions._mothers(tree)})
        return tree

    def watch(name):
        def rule(graph, *args, **kw):
            before = set(divisions._mothers(graph))
            out = saved[name](graph, *args, **kw)
            for m in before - set(divisions._mothers(graph)):
                fates[m] = f"undone: {name}"
            return out

        return rule

    try:
        laptrack.LapTrack.predict = found
        for name in RULES:
            setattr(linking, name, watch(name))
        linker = LapLinker(LinkSettings())
        linker.link(cells, [None] * len(cells), diameter)
    finally:
        laptrack.LapTrack.predict = predict
        for name, rule in saved.items():
            setattr(linking, name, rule)
    return fates, linker


def _best(truth: np.ndarray, det: np.ndarray, label: int) -> tuple[int, float]:
    """(detection id covering most of true object ``label``, share covered); (0, 0) if none."""
    mask = truth == label
    ids, counts = np.unique(det[mask], return_counts=True)
    counts = np.where(ids > 0, counts, 0)
    if mask.sum() == 0 or counts.max(initial=0) == 0:
        return 0, 0.0
    k = int(np.argmax(counts))
    return int(ids[k]), float(counts[k] / mask.sum())


def _holds(truth: np.ndarray, det: np.ndarray, did: int) -> list[int]:
    """The true cells more than 20% of whose pixels lie in detection ``did``."""
    if not did:
        return []
    ids, counts = np.unique(truth[det == did], return_counts=True)
    return [int(i) for i, c in zip(ids, counts, strict=True) if i and c > 0.2 * (truth == i).sum()]


def analyse(seq, split_merged: bool = True, textured: bool = False) -> list[str]:
    mv = seq.movie
    detector = make_detector("classical", min_area=12, split_merged=split_merged, textured=textured)
    det = np.stack([as_label_frame(detector.detect(mv.movie, t), 12) for t in range(len(mv.movie))])
    cells = [FrameCells.from_labels(f) for f in det]
    d = float(detector.diameter)
    fates, linker = _fates(cells, d)
    tracks = {r.label: r for r in mv.tracks}
    last = len(mv.movie) - 1
    kids: dict[int, list] = {}
    for r in mv.tracks:
        if r.parent:
            kids.setdefault(r.parent, []).append(r)
    lines = [
        f"## {seq.name}",
        "",
        f"Detector's diameter {d:.1f} px, division reach {linker.split_reach:.2f} diameters.",
        "",
        "| mother (last frame) | covered, detected area | daughter: covered, area, distance,"
        " also holds | linker |",
        "|---|---|---|---|",
    ]
    for parent, daughters in sorted(kids.items()):
        e = tracks[parent].end
        mid, mcov = _best(mv.labels[e], det[e], parent)
        marea = int(cells[e].areas[mid - 1]) if mid else 0
        parts = []
        for r in daughters:
            b = r.begin
            did, cov = _best(mv.labels[b], det[b], r.label)
            if not did:
                parts.append(f"{r.label}: not detected ({int((mv.labels[b] == r.label).sum())} px)")
                continue
            dist = (
                np.hypot(*(cells[b].centroids[did - 1] - cells[e].centroids[mid - 1])) / d
                if mid
                else float("nan")
            )
            others = [c for c in _holds(mv.labels[b], det[b], did) if c != r.label]
            parts.append(
                f"{r.label}: {cov:.2f}, {int(cells[b].areas[did - 1])} px, {dist:.2f}"
                + (f", with {others}" if others else "")
                + (
                    f", lives {r.end - b + 1} frame(s)"
                    if r.end - b + 1 < 5 and r.end < last
                    else ""
                )
            )
        fate = fates.get((e, mid - 1), "no division") if mid else "mother not detected"
        lines.append(f"| {parent} ({e}) | {mcov:.2f}, {marea} px | {'; '.join(parts)} | {fate} |")
    return [*lines, ""]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sequences", nargs="+", default=["fast movers", "dense touching"])
    parser.add_argument(
        "--raw", action="store_true", help="the classical detector's objects, not split"
    )
    parser.add_argument(
        "--textured", action="store_true", help="the detector's textured-nuclei option"
    )
    args = parser.parse_args()
    every = (*quality_sequences(), *hard_sequences(), *big_sequences())
    lines = [
        "# Every true division, through classical detections and the linker",
        "",
        "`benchmarks/bench_tracking_divisions.py`. Per true division: the detection covering"
        " most of the mother in her last frame (share of her covered, its area), each"
        " daughter's in her first frame (share covered, area, distance from the mother's"
        " detection in the detector's diameters, the other true cells more than a fifth"
        " inside it; a daughter the truth ends within five frames, before the movie's end,"
        " is marked), and the linker's"
        " verdict on the mother's detection ('no division':"
        " not a division in laptrack's graph; 'undone: rule'; 'kept'). A division found one"
        " frame late (two daughters in one object that parts a frame later) shows as 'no"
        " division' here and still counts in BC(1). Detections: "
        + (
            "the classical detector's own objects (`--raw`)."
            if args.raw
            else "classical, objects holding two cells seen apart in the neighbouring"
            " frames split (`TrackerSettings.split_merged`, the tracker's default)."
        )
        + (" With the textured-nuclei option (`--textured`)." if args.textured else ""),
        "",
    ]
    for seq in every:
        if any(seq.name.startswith(name) for name in args.sequences):
            lines += analyse(seq, split_merged=not args.raw, textured=args.textured)
            print("\n".join(lines[-6:]), flush=True)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "tracking_divisions.md").write_text("\n".join(lines).rstrip() + "\n")


if __name__ == "__main__":
    main()
