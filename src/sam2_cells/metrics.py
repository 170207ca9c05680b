"""Tracking scores of the Cell Tracking Challenge, computed by py-ctcmetrics.

The measures are the CTC organisers' own implementation (``ctc_metrics``,
``evaluate_sequence``); this module only prepares the folders, checks them and puts the
numbers in a typed :class:`TrackingScores`. Nothing is re-implemented here.

* DET, TRA (AOGM-based detection / tracking accuracy) and LNK (linking) need the tracking
  ground truth ``TRA``; SEG (Jaccard of matched cells) needs ``SEG`` masks (``man_seg*``).
* CT (complete tracks), TF (track fractions), BC(i) (branching correctness: divisions found
  within ``i`` frames), CCA (cell-cycle accuracy) and their mean BIO(i) are the biological
  measures; OP_CSB, OP_CTB, OP_CLB(i) the challenges' overall rankings.
* HOTA, CHOTA, IDF1 and MOTA, the multi-object tracking measures the library offers too.

A measure the data cannot define is ``None`` (e.g. CCA without a complete cell cycle in the
ground truth, BC(i) without divisions, SEG without ``SEG`` masks).
"""

from __future__ import annotations

import contextlib
import io
import numbers
import os
import tempfile
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sam2_cells.ctc import numbered_files
from sam2_cells.lineage import TrackRecord

__all__ = ["TrackingScores", "score_arrays", "score_ctc"]

_MAIN = ("DET", "SEG", "TRA", "LNK", "CT", "TF", "CCA")
_OTHER = ("OP_CSB", "OP_CTB", "HOTA", "CHOTA", "IDF1", "MOTA")


def _number(value: Any) -> float | None:
    return None if value is None else float(value)


def _indexed(results: dict[str, Any], name: str) -> dict[int, float | None]:
    out = {}
    for key, value in results.items():
        if key.startswith(f"{name}(") and key.endswith(")"):
            with contextlib.suppress(ValueError):
                out[int(key[len(name) + 1 : -1])] = _number(value)
    return dict(sorted(out.items()))


@dataclass(frozen=True)
class TrackingScores:
    """CTC measures of one sequence, in 0..1 (1 is perfect).

    Attributes
    ----------
    det, tra, lnk : float
        Detection, tracking and linking accuracy (from AOGM).
    seg : float or None
        Segmentation accuracy; None without ``SEG`` ground truth.
    ct, tf, cca : float or None
        Complete tracks, track fractions, cell-cycle accuracy.
    bc, bio, op_clb : dict of int to float or None
        BC(i), BIO(i) and OP_CLB(i) by the division tolerance ``i`` in frames (0..3).
    op_csb, op_ctb : float or None
        The challenges' overall segmentation and tracking benchmark scores.
    hota, chota, idf1, mota : float or None
        Multi-object tracking measures.
    gt_divisions : int
        Divisions in the ground truth.
    extra : dict
        Everything else the library reported (AOGM and its parts, division counts per
        tolerance, ID counts ...), by the library's names.
    """

    det: float
    seg: float | None
    tra: float
    lnk: float
    ct: float | None = None
    tf: float | None = None
    cca: float | None = None
    bc: dict[int, float | None] = field(default_factory=dict)
    bio: dict[int, float | None] = field(default_factory=dict)
    op_clb: dict[int, float | None] = field(default_factory=dict)
    op_csb: float | None = None
    op_ctb: float | None = None
    hota: float | None = None
    chota: float | None = None
    idf1: float | None = None
    mota: float | None = None
    gt_divisions: int = 0
    extra: dict[str, float | int | None] = field(default_factory=dict)

    @classmethod
    def from_ctc_metrics(cls, results: dict[str, Any]) -> TrackingScores:
        """Build from the dictionary of ``ctc_metrics.evaluate_sequence``."""
        known = {*_MAIN, *_OTHER, "Valid", "gt_divisions", "BC", "BIO", "OP_CLB"}
        indexed = ("BC(", "BIO(", "OP_CLB(")
        extra = {
            k: int(v) if isinstance(v, numbers.Integral) else _number(v)
            for k, v in results.items()
            if k not in known
            and not k.startswith(indexed)
            and (v is None or isinstance(v, numbers.Number))
        }
        return cls(
            det=float(results["DET"]),
            seg=_number(results.get("SEG")),
            tra=float(results["TRA"]),
            lnk=float(results["LNK"]),
            ct=_number(results.get("CT")),
            tf=_number(results.get("TF")),
            cca=_number(results.get("CCA")),
            bc=_indexed(results, "BC"),
            bio=_indexed(results, "BIO"),
            op_clb=_indexed(results, "OP_CLB"),
            op_csb=_number(results.get("OP_CSB")),
            op_ctb=_number(results.get("OP_CTB")),
            hota=_number(results.get("HOTA")),
            chota=_number(results.get("CHOTA")),
            idf1=_number(results.get("IDF1")),
            mota=_number(results.get("MOTA")),
            gt_divisions=int(results.get("gt_divisions") or 0),
            extra=extra,
        )

    def as_dict(self) -> dict[str, float | int | None]:
        """The scores by their CTC names (``"DET"``, ``"BC(2)"``, ...), then ``extra``."""
        out: dict[str, float | int | None] = {
            "DET": self.det,
            "SEG": self.seg,
            "TRA": self.tra,
            "LNK": self.lnk,
            "CT": self.ct,
            "TF": self.tf,
            "CCA": self.cca,
        }
        out.update({f"BC({i})": v for i, v in self.bc.items()})
        out.update({f"BIO({i})": v for i, v in self.bio.items()})
        out.update({"OP_CSB": self.op_csb, "OP_CTB": self.op_ctb})
        out.update({f"OP_CLB({i})": v for i, v in self.op_clb.items()})
        out.update(
            {
                "HOTA": self.hota,
                "CHOTA": self.chota,
                "IDF1": self.idf1,
                "MOTA": self.mota,
                "gt_divisions": self.gt_divisions,
            }
        )
        out.update(self.extra)
        return out

    def format_table(self, *, everything: bool = False) -> str:
        """A two-column text table of the measures (the main ones unless ``everything``)."""
        values = self.as_dict()
        if not everything:
            values = {k: v for k, v in values.items() if k not in self.extra}
        width = max(len(k) for k in values)
        lines = []
        for key, value in values.items():
            if value is None:
                text = "n/a"
            elif isinstance(value, float):
                text = f"{value:.4f}"
            else:
                text = f"{value:d}"
            lines.append(f"{key:<{width}}  {text}")
        return "\n".join(lines)


def _gt_root(gt_dir: Path) -> Path:
    root = gt_dir.parent if gt_dir.name == "TRA" else gt_dir
    if not (root / "TRA").is_dir():
        raise FileNotFoundError(
            f"{gt_dir} is not a CTC ground-truth folder: it has no TRA/ folder "
            "(expected NN_GT/TRA/man_trackNNN.tif and man_track.txt)"
        )
    if not (root / "TRA" / "man_track.txt").is_file():
        raise FileNotFoundError(f"{root / 'TRA' / 'man_track.txt'} does not exist")
    return root


def score_ctc(
    res_dir: str | os.PathLike[str],
    gt_dir: str | os.PathLike[str],
    *,
    threads: int = 1,
) -> TrackingScores:
    """Score a CTC result folder against CTC ground truth with py-ctcmetrics.

    Parameters
    ----------
    res_dir : path
        Result folder: ``maskNNN.tif`` + ``res_track.txt``.
    gt_dir : path
        Ground-truth folder ``NN_GT`` (with ``TRA/`` and optionally ``SEG/``), or its
        ``TRA/``.
    threads : int
        Worker processes of the mask matching; 0 uses every CPU.

    Returns
    -------
    TrackingScores

    Raises
    ------
    FileNotFoundError
        If a folder or a track file is missing.
    ValueError
        If the result is not valid CTC (the validator's problems are listed), has another
        number of frames than the ground truth, or lists no track.
    """
    from ctc_metrics.metrics import ALL_METRICS
    from ctc_metrics.scripts.evaluate import evaluate_sequence

    from sam2_cells.ctc_results import ctc_validate

    res_dir, gt_root = Path(res_dir), _gt_root(Path(gt_dir))
    if not res_dir.is_dir():
        raise FileNotFoundError(f"result folder {res_dir} does not exist")
    if not (res_dir / "res_track.txt").is_file():
        raise FileNotFoundError(f"{res_dir / 'res_track.txt'} does not exist")
    n_res = len(numbered_files(res_dir, "mask"))
    n_gt = len(numbered_files(gt_root / "TRA", "man_track"))
    if n_res != n_gt:
        raise ValueError(
            f"the result has {n_res} mask frames but the ground truth {n_gt}; score a result "
            "of the same sequence"
        )
    problems = ctc_validate(res_dir)
    if problems:
        raise ValueError(
            f"{res_dir} is not a valid CTC result:\n  - " + "\n  - ".join(problems[:8])
        )
    metrics = list(ALL_METRICS)
    seg_dir = gt_root / "SEG"
    if not (seg_dir.is_dir() and numbered_files(seg_dir, "man_seg")):
        metrics.remove("SEG")
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter("ignore")
        results = evaluate_sequence(str(res_dir), str(gt_root), metrics=metrics, threads=threads)
    if not results.get("Valid"):
        raise ValueError(f"{res_dir}: ctc_metrics rejected the result as invalid")
    return TrackingScores.from_ctc_metrics(results)


def score_arrays(
    labels: Any,
    tracks: Iterable[TrackRecord],
    gt_labels: Any,
    gt_tracks: Iterable[TrackRecord],
    *,
    gt_seg: Any = None,
    seg_frames: Sequence[int] | None = None,
    threads: int = 1,
) -> TrackingScores:
    """Score in-memory tracking results against in-memory ground truth.

    Both are written as CTC folders to a temporary directory (deleted afterwards) and
    scored with :func:`score_ctc`.

    Parameters
    ----------
    labels : array-like
        (T, H, W) tracked result labels, 0..65535.
    tracks : iterable of TrackRecord
        Their lineage (must follow the CTC rules).
    gt_labels : array-like
        (T, H, W) ground-truth tracking labels.
    gt_tracks : iterable of TrackRecord
        The ground-truth lineage.
    gt_seg : array-like, optional
        (T, H, W) segmentation ground truth for SEG; ``gt_labels`` by default.
    seg_frames : sequence of int, optional
        Frames with segmentation ground truth; all by default.
    threads : int
        As in :func:`score_ctc`.

    Returns
    -------
    TrackingScores
    """
    from sam2_cells.ctc_results import write_ctc_ground_truth, write_ctc_results

    with tempfile.TemporaryDirectory(prefix="sam2_cells_score_") as tmp:
        res = write_ctc_results(labels, tracks, Path(tmp) / "01_RES")
        gt = write_ctc_ground_truth(
            gt_labels, gt_tracks, Path(tmp) / "01_GT", seg=gt_seg, seg_frames=seg_frames
        )
        return score_ctc(res, gt, threads=threads)
