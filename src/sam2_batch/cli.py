"""``napari-sam2 segment|track INPUTS... --out DIR``: batch runs on Dask distributed.

::

    napari-sam2 segment INPUTS... --out DIR [--model NAME] [--diameter PX] [--level N|auto]
                        [--channel N] [--no-ome-labels] [--workers N | --scheduler ADDRESS]
    napari-sam2 track   INPUTS... --out DIR [--detector auto|model|classical] [--sam2-cue] ...

INPUTS are files (TIFF, zarr arrays, image files), folders of TIFF frames, OME-Zarr
images, wells or plates (every field of every well), or glob patterns of them. One Dask
task per input; a local cluster of ``--workers`` processes by default. Results: for
segment ``DIR/NAME.tif``, for track the CTC folder ``DIR/NAME/``; for OME-Zarr inputs also
the label image ``labels/sam2`` (``labels/sam2_tracks``) beside the image. A rerun skips
inputs whose result exists; a failed input is reported and the others go on.

``napari-sam2 track MOVIE --out RES_DIR`` with one plain movie and none of the batch
options stays the single-movie command of ``sam2_cells`` (results in RES_DIR itself,
``--seeds`` and ``--labels`` available).

Exit status: 0 when every input is done or skipped, 1 when any failed (or bad input), 2
for bad usage, 130 when interrupted.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from sam2_batch.inputs import expand_inputs, is_glob
from sam2_batch.ome_read import is_ome_zarr
from sam2_batch.settings import BatchSettings, ItemResult, ModelSpec

__all__ = ["main"]

PROG = "napari-sam2"
_BATCH_ONLY = ("workers", "scheduler", "level", "channel", "no_ome_labels")


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "inputs", nargs="+", metavar="INPUT", help="files, folders, globs, OME-Zarr"
    )
    parser.add_argument("--out", "-o", required=True, metavar="DIR", help="result folder")
    parser.add_argument(
        "--model",
        "-m",
        default="default",
        metavar="NAME",
        help="model name or .pt checkpoint (default: the bundled model)",
    )
    parser.add_argument("--device", "-d", default="auto", help="auto, cpu, cuda, cuda:N or mps")
    parser.add_argument(
        "--diameter",
        type=float,
        default=None,
        metavar="PX",
        help="typical object diameter in full-resolution pixels",
    )
    parser.add_argument(
        "--level",
        default=None,
        metavar="N|auto",
        help="OME-Zarr resolution level (default 0; auto: the coarsest at "
        "which --diameter keeps objects >= 20 px)",
    )
    parser.add_argument(
        "--channel",
        type=int,
        default=None,
        metavar="N",
        help="channel to use when the image has several",
    )
    parser.add_argument(
        "--no-ome-labels",
        action="store_true",
        default=None,
        help="do not write a labels group into OME-Zarr inputs",
    )
    parser.add_argument(
        "--workers",
        "-j",
        type=int,
        default=None,
        metavar="N",
        help="local worker processes (default 2), one model each",
    )
    parser.add_argument(
        "--scheduler",
        default=None,
        metavar="ADDRESS",
        help="address of a running Dask scheduler (e.g. from dask-jobqueue)",
    )


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=PROG, description="Batch runs on Dask distributed.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    segment = sub.add_parser(
        "segment",
        help="segment everything in every image / plane",
        description=__doc__.split("\n\n")[2],
    )
    _common(segment)
    segment.add_argument(
        "--points-per-side",
        type=int,
        default=32,
        metavar="N",
        help="prompt grid of models without an instance head (default 32)",
    )
    segment.add_argument(
        "--cache",
        default=None,
        metavar="DIR",
        help="keep image embeddings in DIR (an on-disk cache the workers share; models "
        "without an instance head): running again with other settings skips the encoder",
    )
    track = sub.add_parser(
        "track", help="track the cells of every movie", description=__doc__.split("\n\n")[2]
    )
    _common(track)
    track.add_argument(
        "--detector",
        default="auto",
        choices=("auto", "model", "classical", "labels"),
        help="labels: single-movie form only (with --labels)",
    )
    track.add_argument("--sam2-cue", action="store_true", help="SAM 2 propagation as link cue")
    track.add_argument(
        "--no-split-merged",
        dest="split_merged",
        action="store_false",
        help="classical detector: do not cut an object that holds two cells seen apart in "
        "the neighbouring frames (the cut is on by default)",
    )
    track.add_argument(
        "--textured",
        action="store_true",
        help="classical detector: very textured nuclei (bright spots, condensed chromatin), "
        "filled whole instead of following their texture",
    )
    track.add_argument(
        "--cache",
        default=None,
        metavar="DIR",
        help="keep the SAM 2 sessions' frame embeddings in DIR (an on-disk cache the "
        "workers share): tracking the same movie again skips the encoder",
    )
    track.add_argument("--seeds", "-s", default=None, help="single-movie form only")
    track.add_argument("--labels", "-l", default=None, help="single-movie form only")
    return parser


def _is_single_movie(args: argparse.Namespace) -> bool:
    """``track`` of one plain movie without batch options: the sam2_cells command."""
    if args.command != "track" or len(args.inputs) != 1 or is_glob(args.inputs[0]):
        return False
    if any(getattr(args, name) is not None for name in _BATCH_ONLY):
        return False
    return not is_ome_zarr(args.inputs[0])


def _settings(args: argparse.Namespace) -> BatchSettings:
    level: int | None = 0
    if args.level == "auto":
        level = None
        if args.diameter is None:
            raise ValueError("--level auto needs --diameter PX to choose a level")
    elif args.level is not None:
        try:
            level = int(args.level)
        except ValueError:
            raise ValueError(f"--level {args.level}: give a level number or auto") from None
    model = ModelSpec(args.model, None, args.device)
    _check_model(model)
    extra = (
        {"points_per_side": args.points_per_side, "cache": args.cache}
        if args.command == "segment"
        else {
            "detector": args.detector,
            "sam2_cue": args.sam2_cue,
            "cache": args.cache,
            "split_merged": args.split_merged,
            "textured": args.textured,
        }
    )
    return BatchSettings(
        command=args.command,
        out=str(args.out),
        model=model,
        diameter=args.diameter,
        level=level,
        channel=args.channel,
        ome_labels=not args.no_ome_labels,
        **extra,
    )


def _check_model(spec: ModelSpec) -> None:
    """Refuse an unknown model name or a missing checkpoint before any worker starts."""
    if spec.name == "default":
        return
    path = Path(spec.name)
    if path.suffix.lower() in (".pt", ".pth"):
        if not path.is_file():
            raise ValueError(f"model checkpoint {spec.name} does not exist")
        return
    import sam2_engine as se

    if spec.name not in se.list_models():
        raise ValueError(
            f"unknown model {spec.name!r}; choose one of {', '.join(se.list_models())} or "
            "give a .pt checkpoint file"
        )


def _report(result: ItemResult, done: int, total: int) -> None:
    head = f"[{done}/{total}] {result.name}"
    if result.status == "failed":
        print(f"{head}: FAILED: {result.error}", file=sys.stderr, flush=True)
    elif result.status == "skipped":
        print(f"{head}: skipped (result exists: {result.outputs[0]})", file=sys.stderr, flush=True)
    else:
        print(
            f"{head}: done in {result.seconds:.1f} s on {result.worker} ({result.summary}) -> "
            f"{', '.join(result.outputs)}",
            file=sys.stderr,
            flush=True,
        )


def _batch(args: argparse.Namespace) -> int:
    from sam2_batch.runner import run_batch

    if args.command == "track" and (args.seeds or args.labels or args.detector == "labels"):
        raise ValueError(
            "--seeds and --labels belong to one movie: track a single movie with them "
            f"({PROG} track MOVIE --out RES_DIR --seeds ...), not a batch"
        )
    settings = _settings(args)
    Path(settings.out).mkdir(parents=True, exist_ok=True)
    items = expand_inputs(args.inputs)
    workers = 2 if args.workers is None else args.workers
    where = args.scheduler or f"a local cluster of {min(workers, len(items))} worker processes"
    print(f"{PROG} {args.command}: {len(items)} inputs on {where}", file=sys.stderr, flush=True)
    results = run_batch(items, settings, scheduler=args.scheduler, workers=workers, report=_report)
    counts = {s: sum(r.status == s for r in results) for s in ("done", "skipped", "failed")}
    print(
        f"{counts['done']} done, {counts['skipped']} skipped, {counts['failed']} failed; "
        f"results in {settings.out}"
    )
    return 1 if counts["failed"] else 0


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``napari-sam2 segment|track`` (argv without the program name).

    Returns
    -------
    int
        0 all done or skipped, 1 any input failed or bad input, 2 usage, 130 interrupted.
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        args = _parser().parse_args(argv)
    except SystemExit as exc:
        return int(exc.code) if isinstance(exc.code, int) else (0 if exc.code is None else 2)
    if _is_single_movie(args):
        from sam2_cells.cli import main as single_movie

        return int(single_movie(argv))
    try:
        return _batch(args)
    except KeyboardInterrupt:
        print(
            f"\n{PROG} {args.command}: interrupted; finished results are kept, none is "
            "half-written",
            file=sys.stderr,
        )
        return 130
    except (ValueError, OSError) as exc:
        print(f"{PROG} {args.command}: error: {exc}", file=sys.stderr)
        return 1
