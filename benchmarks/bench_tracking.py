"""Cell tracking quality and speed: our tracker, by detection source, beside the baseline.

On the generated movies of ``benchmarks/tracking_data.py`` (held out from training: four
of several densities and sizes, three harder ones: fast movers, dense touching nuclei,
dim nuclei under uneven light, and a 1024 x 1024 field with about 100 nuclei), each
method starts from nothing and is scored with py-ctcmetrics (DET, SEG, TRA, LNK, BC(1)
for divisions). Rows:

* ``baseline``: scikit-image + laptrack (``benchmarks/baseline_laptrack.py``), lengths
  scaled to the movie's nucleus size, as an analyst would set them;
* ``ours, classical``: our tracker with the classical detector (size estimated);
* ``ours, classical, textured nuclei``: the same with ``TrackerSettings.textured`` (the
  threshold reads the nuclei's brightness from a smoothed image: textured nuclei filled
  whole);
* ``ours, model``: our tracker with the model's detections (its instance head if it has
  one, else segment-everything);
* ``ours, given labels``: our tracker linking the ground-truth masks (the linker's upper
  bound: what perfect detections would give);
* each of ours with the SAM 2 cue off and on (``+ SAM 2 cue``), the ablation that shows
  what SAM 2's propagation adds to linking (the cue carries only the detections whose
  link is ambiguous; ``model + SAM 2 cue`` reuses the ``model`` row's detections when it
  runs right after it, and counts their time).

Writes ``results/tracking_quality.csv`` and ``.md`` (``--sequences tuning``: the tuning
draws, ``results/tracking_tuning.*``; ``--sequences nocondense``: a draw whose mothers do
not show mitosis, ``results/tracking_nocondense.*``; ``--sequences random``: 16 recipes
drawn at random, ``results/tracking_random.*``). ``--rows`` and ``--sequences`` pick a
subset (the results of several runs are merged by ``--merge``), ``--model`` the model;
``--out`` writes a CSV after every row instead.
"""

from __future__ import annotations

import argparse
import csv
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import sam2_engine as se  # noqa: E402
from benchmarks.baseline_laptrack import BaselineParams, track_classical  # noqa: E402
from benchmarks.harness import RESULTS  # noqa: E402
from benchmarks.tracking_data import (  # noqa: E402
    big_sequences,
    hard_sequences,
    nocondense_sequences,
    quality_sequences,
    random_sequences,
    tuning_sequences,
)
from sam2_cells import check_lineage, score_arrays  # noqa: E402
from sam2_cells.detection import LabelStackDetector, make_detector  # noqa: E402
from sam2_cells.tracker import CellTracker  # noqa: E402
from sam2_cells.tracker_settings import TrackerSettings  # noqa: E402

COLUMNS = ("det", "seg", "tra", "lnk", "bc1", "s_per_frame")
ROWS = (
    "baseline",
    "classical",
    "classical+cue",
    "textured",
    "model",
    "model+cue",
    "labels",
    "labels+cue",
)
NAMES = {
    "baseline": "baseline: scikit-image + laptrack",
    "classical": "ours, classical detections",
    "classical+cue": "ours, classical detections + SAM 2 cue",
    "textured": "ours, classical detections, textured nuclei",
    "model": "ours, model detections",
    "model+cue": "ours, model detections + SAM 2 cue",
    "labels": "ours, given labels (upper bound)",
    "labels+cue": "ours, given labels + SAM 2 cue",
}


def _scores(labels, tracks, truth) -> dict[str, float | None]:
    if not tracks:  # nothing found: every measure is 0 (the CTC tools refuse empty results)
        return {"det": 0.0, "seg": 0.0, "tra": 0.0, "lnk": 0.0, "bc1": None}
    check_lineage(tracks, labels)
    s = score_arrays(labels, tracks, truth.labels, truth.tracks, gt_seg=truth.labels)
    return {"det": s.det, "seg": s.seg, "tra": s.tra, "lnk": s.lnk, "bc1": s.bc.get(1)}


class Recorded:
    """A detector that keeps what another one found, and how long it took, so that the
    ``+ SAM 2 cue`` row of slow model detections reuses them (its time is the recorded
    detection time plus its own)."""

    def __init__(self, inner) -> None:
        self.inner = inner
        self.name = inner.name
        self.frames: dict[int, np.ndarray] = {}
        self.seconds = 0.0

    @property
    def diameter(self):
        return getattr(self.inner, "diameter", None)

    def detect(self, movie, t: int) -> np.ndarray:
        if t not in self.frames:
            start = time.perf_counter()
            self.frames[t] = self.inner.detect(movie, t)
            self.seconds += time.perf_counter() - start
        return self.frames[t]


_MODEL_DETECTIONS: dict[str, Recorded] = {}


def run_row(row: str, seq, model) -> tuple:
    """(labels, tracks, extra seconds) of one method on one sequence."""
    movie = seq.movie
    if row == "baseline":
        return (*track_classical(movie.movie, BaselineParams.for_diameter(seq.diameter)), 0.0)
    source, _, cue = row.partition("+")
    settings = TrackerSettings(
        detection="model" if source == "model" else "classical",
        sam2_cue=bool(cue),
        textured=source == "textured",
    )
    detector = LabelStackDetector(movie.labels) if source == "labels" else None
    extra = 0.0
    if source == "model":
        recorded = _MODEL_DETECTIONS.get(seq.name)
        if recorded is None:
            recorded = Recorded(make_detector("model", model=model, min_area=settings.min_area))
            _MODEL_DETECTIONS.clear()
            _MODEL_DETECTIONS[seq.name] = recorded
        elif len(recorded.frames) == len(movie.movie):
            extra = recorded.seconds  # detections reused: count their time
        detector = recorded
    out = CellTracker(model, settings, detector=detector).track(movie.movie)
    return out.labels, out.tracks, extra


def sequences(which: str):
    if which in ("all", "quality"):
        yield from quality_sequences()
    if which in ("all", "hard"):
        yield from hard_sequences()
    if which in ("all", "big"):
        yield from big_sequences()
    if which == "tuning":
        yield from tuning_sequences()
    if which == "nocondense":
        yield from nocondense_sequences()
    if which == "random":
        yield from random_sequences()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=None, help="default: sam2_engine.default_model_name()")
    parser.add_argument("--rows", default=",".join(ROWS), help="comma-separated: " + ",".join(ROWS))
    parser.add_argument(
        "--sequences",
        default="all",
        choices=("all", "quality", "hard", "big", "tuning", "nocondense", "random"),
        help="tuning: another draw of each 256 x 256 recipe, where constants are chosen; "
        "nocondense: a third draw whose mothers do not show mitosis; random: 16 recipes "
        "drawn at random (size, crowding, look, motion)",
    )
    parser.add_argument("--out", default=None, help="CSV to write (default: the results')")
    parser.add_argument(
        "--merge",
        nargs="*",
        help="only merge these CSVs into the results (--sequences tuning, nocondense or "
        "random: those results); a row of a later CSV replaces the same sequence and method of "
        "an earlier one",
    )
    args = parser.parse_args()
    if args.merge:
        merged: dict[tuple[str, str], dict] = {}
        for path in args.merge:
            with open(path, newline="") as handle:
                merged.update({(r["sequence"], r["method"]): r for r in csv.DictReader(handle)})
        rows = list(merged.values())
        write(rows, args.model or se.default_model_name(), args.sequences)
        return
    torch.set_num_threads(1)
    name = args.model or se.default_model_name()
    model = se.build_model(name, device="cpu")
    wanted = [r for r in args.rows.split(",") if r]
    rows = []
    for seq in sequences(args.sequences):
        for row in wanted:
            start = time.perf_counter()
            labels, tracks, extra = run_row(row, seq, model)
            secs = (time.perf_counter() - start + extra) / len(seq.movie.movie)
            out = {"sequence": seq.name, "method": row, **_scores(labels, tracks, seq.movie)}
            out["s_per_frame"] = secs
            out["divisions"] = seq.divisions
            rows.append(out)
            print(out, flush=True)
            if args.out:  # after every row: a long run that is stopped keeps what it did
                save_csv(rows, Path(args.out))
    if not args.out:
        write(rows, name, args.sequences)


def save_csv(rows: list[dict], path: Path) -> None:
    with open(path, "w", newline="") as handle:
        writer = csv.DictWriter(handle, ["sequence", "method", "divisions", *COLUMNS])
        writer.writeheader()
        writer.writerows(rows)


def _f(value, digits: int = 3) -> str:
    if value in (None, ""):
        return "-"
    return f"{float(value):.{digits}f}"


TITLES = {
    "tracking_quality": "held-out generated time-lapses",
    "tracking_tuning": "the tuning draws (another movie of each recipe, where constants "
    "are chosen)",
    "tracking_nocondense": "movies whose mothers do not show mitosis (a third draw of "
    "each 256 x 256 recipe, `Dynamics(condense=False)`)",
    "tracking_random": "recipes drawn at random (nucleus size, crowding, look and motion: "
    "`tracking_data.random_sequences`; no constant was chosen on them)",
}


def write(rows: list[dict], model: str, which: str = "all") -> None:
    """The results' CSV and markdown table: ``tracking_tuning.*`` for the tuning draws,
    ``tracking_nocondense.*`` for the movies without condensation,
    ``tracking_random.*`` for the recipes drawn at random, else ``tracking_quality.*``."""
    RESULTS.mkdir(exist_ok=True)
    stem = {
        "tuning": "tracking_tuning",
        "nocondense": "tracking_nocondense",
        "random": "tracking_random",
    }.get(which, "tracking_quality")
    order = {name: i for i, name in enumerate(ROWS)}
    seqs: list[str] = []
    for r in rows:
        if r["sequence"] not in seqs:
            seqs.append(r["sequence"])
    rows = sorted(rows, key=lambda r: (seqs.index(r["sequence"]), order[r["method"]]))
    save_csv(rows, RESULTS / f"{stem}.csv")
    lines = [
        "# Cell tracking on " + TITLES[stem],
        "",
        "`benchmarks/bench_tracking.py`: 40 frames of 256 x 256 each (the last: 20 frames "
        "of 1024 x 1024), py-ctcmetrics scores; time per frame on this CPU (one thread, "
        "other runs sharing the two cores: read times as upper bounds). Model "
        f"`{model}` (its instance head when it has one, else segment-everything). Ours: "
        "detections, then one global LAP (laptrack) with gap closing and divisions; the "
        "SAM 2 cue carries the detections whose link is ambiguous one frame on and lowers "
        "the cost of the links it supports. "
        "A row missing from a sequence did not finish in the session's time. Rows may "
        "come from separate runs combined with `--merge` (docs/tracking.md says which "
        "rows were run with which code and model).",
        "",
        "| sequence | divisions | method | DET | SEG | TRA | LNK | BC(1) | s / frame |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['sequence']} | {r['divisions']} | {NAMES[r['method']]} | {_f(r['det'])} | "
            f"{_f(r['seg'])} | {_f(r['tra'])} | {_f(r['lnk'])} | {_f(r['bc1'])} | "
            f"{_f(r['s_per_frame'], 2)} |"
        )
    (RESULTS / f"{stem}.md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
