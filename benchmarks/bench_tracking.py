"""Cell tracking quality and speed: the SAM 2 tracker beside the laptrack pipeline.

On the generated movies of ``benchmarks/tracking_data.py`` (held out from training:
touching, dim and unevenly lit nuclei, cells entering and leaving, 4-6 divisions each),
both trackers start from nothing (automatic seeding) and are scored with py-ctcmetrics
(DET, SEG, TRA, LNK, BC(1) for divisions). The classical pipeline
(``benchmarks/baseline_laptrack.py``: local threshold + watershed + laptrack) gets its
lengths scaled to the movie's nucleus size, as an analyst would set them. Writes
``results/tracking_quality.csv`` and ``.md``. ``--model`` picks the SAM 2 model.
"""

from __future__ import annotations

import argparse
import csv
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import sam2_engine as se  # noqa: E402
from benchmarks.baseline_laptrack import BaselineParams, track_classical  # noqa: E402
from benchmarks.harness import RESULTS  # noqa: E402
from benchmarks.tracking_data import quality_sequences  # noqa: E402
from sam2_cells import CellTracker, Seeds, check_lineage, score_arrays  # noqa: E402

COLUMNS = ("det", "seg", "tra", "lnk", "bc1", "s_per_frame")


def _scores(labels, tracks, truth) -> dict[str, float]:
    if not tracks:  # nothing found: every measure is 0 (the CTC tools refuse empty results)
        return {"det": 0.0, "seg": 0.0, "tra": 0.0, "lnk": 0.0, "bc1": None}
    check_lineage(tracks, labels)
    s = score_arrays(labels, tracks, truth.labels, truth.tracks, gt_seg=truth.labels)
    return {"det": s.det, "seg": s.seg, "tra": s.tra, "lnk": s.lnk, "bc1": s.bc.get(1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=None, help="default: sam2_engine.default_model_name()")
    args = parser.parse_args()
    torch.set_num_threads(2)
    name = args.model or se.default_model_name()
    model = se.build_model(name, device="cpu")
    rows = []
    for seq in quality_sequences():
        movie = seq.movie
        start = time.perf_counter()
        ours = CellTracker(model).track(movie.movie, Seeds("auto"))
        ours_t = (time.perf_counter() - start) / len(movie.movie)
        start = time.perf_counter()
        labels, tracks = track_classical(movie.movie, BaselineParams.for_diameter(seq.diameter))
        base_t = (time.perf_counter() - start) / len(movie.movie)
        for method, (lab, trk, secs) in (
            (f"SAM 2 tracker ({name})", (ours.labels, ours.tracks, ours_t)),
            ("threshold + watershed + laptrack", (labels, tracks, base_t)),
        ):
            row = {"sequence": seq.name, "method": method, **_scores(lab, trk, movie)}
            row["s_per_frame"] = secs
            row["divisions"] = seq.divisions
            rows.append(row)
            print(row, flush=True)
    RESULTS.mkdir(exist_ok=True)
    with open(RESULTS / "tracking_quality.csv", "w", newline="") as handle:
        writer = csv.DictWriter(handle, ["sequence", "method", "divisions", *COLUMNS])
        writer.writeheader()
        writer.writerows(rows)
    lines = [
        "# Cell tracking on held-out generated time-lapses",
        "",
        "`benchmarks/bench_tracking.py`: 40 frames of 256 x 256 each, automatic seeding, "
        "py-ctcmetrics scores; time per frame on this CPU (2 threads).",
        "",
        "| sequence | divisions | method | DET | SEG | TRA | LNK | BC(1) | s / frame |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        bc = "-" if r["bc1"] is None else f"{r['bc1']:.3f}"
        lines.append(
            f"| {r['sequence']} | {r['divisions']} | {r['method']} | {r['det']:.3f} | "
            f"{r['seg']:.3f} | {r['tra']:.3f} | {r['lnk']:.3f} | {bc} | {r['s_per_frame']:.2f} |"
        )
    (RESULTS / "tracking_quality.md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
