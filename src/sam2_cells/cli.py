"""The ``napari-sam2`` command line: track cells in a movie, score tracking results.

::

    napari-sam2 track STACK --out RES_DIR [--detector auto|model|classical|labels]
                      [--labels LABELS] [--diameter PX] [--sam2-cue] [--cache DIR]
                      [--model NAME]
                      [--seeds auto|LABELS.tif|POINTS.csv] [--device auto|cpu|cuda|cuda:N|mps]
    napari-sam2 score RES_DIR GT_DIR [--json] [--all]

``track`` reads a (time, row, col) movie (TIFF, zarr or a folder of TIFF frames) lazily,
checks every input against it before any work (frame shapes, the label stack, the
seeds), detects the cells of every frame (the model, the classical nuclei detector or
your own label stack), links them and writes Cell Tracking Challenge results
(``maskNNN.tif`` + ``res_track.txt``) atomically; a movie in which no cell is found is an
error (nothing is written). ``score`` prints the CTC measures of a
result folder against a ground-truth folder (``NN_GT`` with ``TRA/`` and ``SEG/``).

Exit status: 0 on success, 1 for bad input or a failed run (one line on stderr names the
problem), 2 for bad usage, 130 when interrupted (Ctrl-C; nothing is left half-written).
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Protocol

from sam2_cells.detector_options import check_textured
from sam2_cells.lineage import LineageError, TrackRecord

__all__ = ["DEFAULT_MODEL", "TRACKER_MODULE", "RunTracking", "load_tracker", "main"]

DEFAULT_MODEL = "default"  # sam2_engine.default_model_name(): the bundled model if any
#: The module that provides the one tracking entry point ``run_tracking`` (see
#: :class:`RunTracking`). The command line reaches the tracker only through it.
TRACKER_MODULE = "sam2_cells.tracking_run"
PROG = "napari-sam2"


class RunTracking(Protocol):
    """What ``sam2_cells.tracking_run.run_tracking`` must look like (it is called with
    keywords).

    Parameters
    ----------
    stack : array-like
        (T, H, W) movie, read lazily: ``numpy.asarray(stack[t])`` is frame ``t``.
    seeds : sam2_cells.seeds.Seeds
        ``kind`` "auto", "labels" ((H, W) labels of frame 0) or "points" ((N, 3) t, y, x),
        already checked against the stack.
    model : str
        Model name (``sam2_engine.list_models()``) or checkpoint path.
    device : str
        ``"auto"`` or a device name accepted by ``sam2_engine.resolve_device``.
    progress : callable
        ``progress(done, total)``: call it after each step.
    cancel : callable
        ``cancel() -> bool``: stop early (return what is done or raise) when it is true.
    detector : str
        ``"auto"``, ``"model"``, ``"classical"`` or ``"labels"``.
    labels : array-like or None
        (T, H, W) label stack (``detector == "labels"``), checked against the stack.
    diameter : float or None
        Typical cell diameter in pixels.
    sam2_cue : bool
        Use SAM 2's propagation as a linking cue.
    cache : str or None
        Folder of the on-disk embedding cache for the SAM 2 sessions (None: none).
    split_merged : bool
        Classical detections: split an object that holds two cells seen apart in the
        neighbouring frames.
    textured : bool
        Classical detections: very textured nuclei, filled whole.
    report : callable or None
        Called with a sentence for the user after the run (the cell size it used).

    Returns
    -------
    labels : array-like
        (T, H, W) tracked labels, 0..65535.
    tracks : list of TrackRecord
        Their lineage, following the CTC rules.
    """

    def __call__(
        self,
        *,
        stack: Any,
        seeds: Any,
        model: str,
        device: str,
        progress: Callable[[int, int], None],
        cancel: Callable[[], bool],
        detector: str,
        labels: Any,
        diameter: float | None,
        sam2_cue: bool,
        cache: str | None = None,
        split_merged: bool = True,
        textured: bool = False,
        report: Callable[[str], None] | None = None,
    ) -> tuple[Any, list[TrackRecord]]: ...


class CliError(Exception):
    """A problem reported as one line on stderr (exit status 1)."""


def load_tracker() -> RunTracking:
    """Import the tracking entry point ``run_tracking`` of :data:`TRACKER_MODULE`.

    This is the one place where the command line reaches the SAM 2 tracker.

    Raises
    ------
    CliError
        If this installation has no tracker module.
    """
    try:
        module = importlib.import_module(TRACKER_MODULE)
    except ModuleNotFoundError as exc:
        if exc.name != TRACKER_MODULE:
            raise
        raise CliError(
            f"the SAM 2 tracker is not available in this installation ({TRACKER_MODULE} is missing)"
        ) from None
    return module.run_tracking  # type: ignore[no-any-return]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Track cells with SAM 2 and score tracking results (Cell Tracking "
        "Challenge format).",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    track = sub.add_parser(
        "track",
        help="track cells in a (time, row, col) movie and write CTC results",
        description="Track cells in a movie (TIFF, zarr or a folder of TIFF frames, axes "
        "time, row, col) and write Cell Tracking Challenge results (maskNNN.tif + "
        "res_track.txt) into RES_DIR. Every frame's cells are detected, then linked over "
        "the whole movie (global LAP with gap closing and divisions).",
    )
    track.add_argument("stack", metavar="STACK", help="movie: .tif, .zarr or folder of .tif")
    track.add_argument(
        "--out",
        "-o",
        required=True,
        metavar="RES_DIR",
        help="result folder (created; an earlier result there is replaced)",
    )
    track.add_argument(
        "--model",
        "-m",
        default=DEFAULT_MODEL,
        metavar="NAME",
        help="model name or checkpoint .pt file (default: the bundled microscopy model, "
        "else sam2.1_hiera_tiny)",
    )
    track.add_argument(
        "--seeds",
        "-s",
        default="auto",
        metavar="auto|LABELS.tif|POINTS.csv",
        help="cells to add to the detections: auto (default: none), a label image of "
        "frame 0 (replaces the detections it overlaps), or a CSV of points with columns "
        "t,y,x (or y,x for frame 0), one click per cell the detector missed",
    )
    track.add_argument(
        "--detector",
        default="auto",
        choices=("auto", "model", "classical", "labels"),
        help="where each frame's cells come from: auto (default: the model's instance head "
        "if the model recommends it for cells, else classical), model (SAM 2), classical "
        "(threshold + watershed, for fluorescent nuclei) or labels (your own label stack, "
        "--labels)",
    )
    track.add_argument(
        "--labels",
        "-l",
        metavar="LABELS",
        help="your own (time, row, col) label stack (Cellpose, StarDist, ilastik, ...: .tif, "
        ".zarr or a folder of .tif), linked as it is; implies --detector labels",
    )
    track.add_argument(
        "--diameter",
        type=float,
        default=None,
        metavar="PX",
        help="typical cell diameter in pixels (default: estimated from the detections)",
    )
    track.add_argument(
        "--sam2-cue",
        action="store_true",
        help="also carry every detection one frame on with SAM 2 and favour the links it "
        "supports (slower; see docs/tracking.md for what it adds)",
    )
    track.add_argument(
        "--no-split-merged",
        dest="split_merged",
        action="store_false",
        help="classical detector: do not cut an object that holds two cells seen apart in "
        "the neighbouring frames (the cut is on by default; see docs/tracking.md)",
    )
    track.add_argument(
        "--textured",
        action="store_true",
        help="classical detector: the nuclei are very textured (bright spots, condensed "
        "chromatin): fill each whole instead of following its texture (off by default; "
        "see docs/tracking.md)",
    )
    track.add_argument(
        "--cache",
        default=None,
        metavar="DIR",
        help="keep the SAM 2 sessions' frame embeddings in DIR (an on-disk cache): tracking "
        "the same movie again skips the encoder (default: no cache)",
    )
    track.add_argument(
        "--device", "-d", default="auto", help="auto (default), cpu, cuda, cuda:N or mps"
    )
    track.set_defaults(func=_track)

    score = sub.add_parser(
        "score",
        help="score CTC results against ground truth (DET, SEG, TRA, LNK, BIO, ...)",
        description="Score a CTC result folder against a CTC ground-truth folder with the "
        "organisers' measures (py-ctcmetrics).",
    )
    score.add_argument(
        "res_dir", metavar="RES_DIR", help="result folder (maskNNN.tif, res_track.txt)"
    )
    score.add_argument("gt_dir", metavar="GT_DIR", help="ground-truth folder NN_GT (TRA/, SEG/)")
    score.add_argument("--json", action="store_true", help="print JSON instead of a table")
    score.add_argument(
        "--all",
        action="store_true",
        help="also print AOGM parts, division counts and the other raw numbers",
    )
    score.add_argument("--threads", type=int, default=1, help="worker processes (0: all CPUs)")
    score.set_defaults(func=_score)
    return parser


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("napari-sam2")
    except PackageNotFoundError:
        return "unknown"


def _score(args: argparse.Namespace) -> int:
    from sam2_cells.metrics import score_ctc

    scores = score_ctc(args.res_dir, args.gt_dir, threads=args.threads)
    if args.json:
        values = scores.as_dict()
        if not args.all:
            values = {k: v for k, v in values.items() if k not in scores.extra}
        print(json.dumps(values, indent=2))
    else:
        print(scores.format_table(everything=args.all))
    return 0


def _check_model_and_device(model: str, device: str) -> None:
    import sam2_engine as se

    if model == DEFAULT_MODEL:
        model = se.default_model_name()
    path = Path(model)
    if path.suffix.lower() in (".pt", ".pth") or path.exists():
        if not path.is_file():
            raise CliError(f"model checkpoint {model} does not exist")
    elif model not in se.list_models():
        raise CliError(
            f"unknown model {model!r}; choose one of {', '.join(se.list_models())} or give a "
            ".pt checkpoint file"
        )
    try:
        se.resolve_device(device)
    except (ValueError, RuntimeError) as exc:
        raise CliError(f"device {device!r}: {exc}") from None


class _Bar:
    """A tqdm progress bar on stderr driven by ``progress(done, total)`` calls."""

    def __init__(self, desc: str, total: int | None) -> None:
        from tqdm import tqdm

        self._bar = tqdm(
            total=total, desc=desc, unit="frame", file=sys.stderr, dynamic_ncols=True, leave=True
        )

    def __call__(self, done: int, total: int) -> None:
        if total and self._bar.total != total:
            self._bar.total = total
        self._bar.update(max(0, int(done) - self._bar.n))

    def close(self) -> None:
        self._bar.close()

    def __enter__(self) -> _Bar:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _track(args: argparse.Namespace) -> int:
    from sam2_cells._frames import stack_shape
    from sam2_cells.ctc_results import check_results_target, write_ctc_results
    from sam2_cells.detection import needs_model
    from sam2_cells.label_io import read_image_stack
    from sam2_cells.seeds import read_seeds

    out = Path(args.out)
    check_results_target(out)
    stack = read_image_stack(args.stack)
    shape = stack_shape(stack, f"movie {args.stack}")
    if shape[0] < 2:
        raise CliError(
            f"{args.stack} has a single frame: tracking needs at least 2 frames, so nothing "
            "was tracked and nothing was written"
        )
    detector, labels = _detection_source(args, shape)
    if args.diameter is not None and not args.diameter > 0:
        raise CliError(f"--diameter {args.diameter:g}: a cell diameter must be > 0 pixels")
    try:
        check_textured(detector, args.textured)
    except ValueError as err:
        raise CliError(str(err)) from None
    seeds = read_seeds(args.seeds, shape)
    if needs_model(detector, seeds.kind, args.sam2_cue):
        _check_model_and_device(args.model, args.device)
    run_tracking = load_tracker()
    print(
        f"{PROG} track: {args.stack}: {shape[0]} frames of {shape[1]}x{shape[2]}, "
        f"detector {detector}, seeds {args.seeds}, model {args.model}, device {args.device}",
        file=sys.stderr,
    )
    cancelled = threading.Event()
    said: list[str] = []
    with _Bar("tracking", 2 * shape[0]) as bar:
        labels_out, tracks = run_tracking(
            stack=stack,
            seeds=seeds,
            model=args.model,
            device=args.device,
            progress=bar,
            cancel=cancelled.is_set,
            detector=detector,
            labels=labels,
            diameter=args.diameter,
            sam2_cue=args.sam2_cue,
            cache=args.cache,
            split_merged=args.split_merged,
            textured=args.textured,
            report=said.append,
        )
    for text in said:  # after the progress bar, not inside it
        print(f"{PROG} track: {text}", file=sys.stderr)
    if tuple(getattr(labels_out, "shape", ())) != shape:
        raise CliError(
            f"the tracker returned labels of shape {getattr(labels_out, 'shape', None)} for a "
            f"movie of shape {shape}"
        )
    tracks = list(tracks)
    if not tracks:
        where = f"the label stack {args.labels}" if detector == "labels" else str(args.stack)
        raise CliError(
            f"no cell was found in any frame of {where}: nothing can be tracked and nothing "
            "was written"
        )
    try:
        with _Bar("writing", shape[0]) as bar:
            write_ctc_results(labels_out, tracks, out, progress=bar)
    except LineageError as exc:
        raise CliError(f"the tracker's result is not valid CTC: {exc}") from None
    divisions = len({t.parent for t in tracks if t.parent})
    print(f"wrote {len(tracks)} tracks ({divisions} divisions) over {shape[0]} frames to {out}")
    return 0


def _detection_source(args: argparse.Namespace, shape: tuple[int, int, int]) -> tuple[str, Any]:
    """The detector's name and, for ``labels``, the checked label stack."""
    import numpy as np

    from sam2_cells.detection import LabelStackDetector
    from sam2_cells.label_io import read_image_stack

    detector = args.detector
    if args.labels and detector == "auto":
        detector = "labels"
    if detector == "labels" and not args.labels:
        raise CliError("--detector labels needs your label stack: --labels LABELS")
    if args.labels and detector != "labels":
        raise CliError(
            f"--labels gives the detections, so it cannot go with --detector {detector}: "
            "leave --detector out"
        )
    if detector != "labels":
        return detector, None
    labels = read_image_stack(args.labels)
    try:
        LabelStackDetector(labels).check(shape)
    except ValueError as exc:
        raise CliError(f"{args.labels}: {exc}") from None
    if not any(np.asarray(labels[t]).any() for t in range(shape[0])):
        raise CliError(
            f"{args.labels}: the label stack is empty (all 0): there is no cell to track and "
            "nothing was written"
        )
    return detector, labels


def _engine_errors() -> tuple[type[BaseException], ...]:
    if "sam2_engine" not in sys.modules:
        return ()
    import sam2_engine as se

    return (se.CheckpointError,)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``napari-sam2`` command line.

    Parameters
    ----------
    argv : sequence of str, optional
        Arguments without the program name; ``sys.argv[1:]`` by default.

    Returns
    -------
    int
        The exit status (0 success, 1 error, 2 usage, 130 interrupted).
    """
    parser = _parser()
    try:
        args = parser.parse_args(list(argv) if argv is not None else None)
    except SystemExit as exc:  # --help, --version, usage errors
        return int(exc.code) if isinstance(exc.code, int) else (0 if exc.code is None else 2)
    where = f"{PROG} {args.command}"
    try:
        return int(args.func(args))
    except KeyboardInterrupt:
        print(f"\n{where}: interrupted; nothing was written", file=sys.stderr)
        return 130
    except (CliError, ValueError, OSError) as exc:
        print(f"{where}: error: {_one_line(exc)}", file=sys.stderr)
        return 1
    except Exception as exc:
        if isinstance(exc, _engine_errors()):
            print(f"{where}: error: {_one_line(exc)}", file=sys.stderr)
            return 1
        raise


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.replace("\n  - ", "; ").replace("\n", " ")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
