"""The ``vos-infer`` and ``vos-score`` commands of ``napari-sam2``.

::

    napari-sam2 vos-infer --data DIR --out DIR [--model NAME] [--checkpoint FILE]
                          [--split FILE] [--prompts first|all] [--device DEVICE]
    napari-sam2 vos-score --pred DIR --gt DIR [--split FILE] [--all-frames] [--csv FILE]

Exit status: 0 on success; 1 for bad input, or when any video failed (the others are
still written, and every failure is named on stderr); 2 for bad usage; 130 when
interrupted (the video in progress is not left half-written).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

__all__ = ["PROG", "main"]

PROG = "napari-sam2"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG, description="Video object segmentation over DAVIS-layout datasets."
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    infer = sub.add_parser(
        "vos-infer",
        help="segment every video of a DAVIS-layout dataset from its annotated masks",
        description="Prompt every object with its annotated mask (first appearance, or every "
        "annotated frame), propagate with SAM 2 and write palette PNGs OUT/<video>/<frame>.png "
        "with the annotations' palette.",
    )
    infer.add_argument(
        "--data", required=True, metavar="DIR", help="dataset: JPEGImages/ and Annotations/"
    )
    infer.add_argument("--out", required=True, metavar="DIR", help="output folder (created)")
    infer.add_argument(
        "--model",
        default=None,
        metavar="NAME",
        help="model name or .pt file (default: sam2_engine.default_model_name())",
    )
    infer.add_argument(
        "--checkpoint", default=None, metavar="FILE", help="weights file for --model (optional)"
    )
    infer.add_argument("--split", default=None, metavar="FILE", help="video names, one a line")
    infer.add_argument(
        "--prompts",
        choices=("first", "all"),
        default="first",
        help="first: each object's first annotated mask (default); all: every annotated frame",
    )
    infer.add_argument("--device", default="auto", help="auto (default), cpu, cuda, cuda:N, mps")
    infer.set_defaults(func=_infer)

    score = sub.add_parser(
        "vos-score",
        help="J, F and J&F of predicted PNGs against ground truth (DAVIS protocol)",
        description="Score PRED/<video>/<frame>.png against GT (a folder of video folders, or "
        "a dataset root with Annotations/): per-video and mean J, F and J&F in percent. The "
        "first and last frame of every video are not scored unless --all-frames.",
    )
    score.add_argument("--pred", required=True, metavar="DIR", help="predicted label PNGs")
    score.add_argument("--gt", required=True, metavar="DIR", help="ground-truth label PNGs")
    score.add_argument("--split", default=None, metavar="FILE", help="video names, one a line")
    score.add_argument(
        "--all-frames", action="store_true", help="also score each video's first and last frame"
    )
    score.add_argument(
        "--csv", default=None, metavar="FILE", help="CSV of the scores (default PRED/scores.csv)"
    )
    score.set_defaults(func=_score)
    return parser


def _videos(split: str | None) -> list[str] | None:
    if split is None:
        return None
    from sam2_vos.dataset import read_split

    names = read_split(split)
    if not names:
        raise ValueError(f"split file {split} lists no video")
    return names


def _check_model(model: str | None) -> None:
    import sam2_engine as se

    if model is None or Path(model).suffix.lower() in (".pt", ".pth"):
        if model is not None and not Path(model).is_file():
            raise ValueError(f"model file {model} does not exist")
        return
    if model not in se.list_models():
        raise ValueError(
            f"unknown model {model!r}; choose one of {', '.join(se.list_models())} or give a "
            ".pt file"
        )


def _infer(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from sam2_vos.dataset import find_layout, frame_files
    from sam2_vos.inference import infer_dataset, make_predictor

    layout = find_layout(args.data)
    names = _videos(args.split) or layout.video_names()
    if not names:
        raise ValueError(f"{layout.images} holds no video folders")
    if args.checkpoint is not None and not Path(args.checkpoint).is_file():
        raise ValueError(f"checkpoint {args.checkpoint} does not exist")
    _check_model(args.model)
    predictor = make_predictor(args.model, checkpoint=args.checkpoint, device=args.device)
    total = sum(len(frame_files(layout.images / n)) for n in names if (layout.images / n).is_dir())
    print(
        f"{PROG} vos-infer: {len(names)} videos, {total} frames, prompts {args.prompts}, "
        f"device {predictor.model.device}",
        file=sys.stderr,
    )
    bar = tqdm(total=total, unit="frame", file=sys.stderr, dynamic_ncols=True)
    last = {"video": "", "done": 0}

    def progress(video: str, done: int, _total: int) -> None:
        if video != last["video"]:
            last.update(video=video, done=0)
            bar.set_description(video)
        bar.update(done - last["done"])
        last["done"] = done

    try:
        outcomes = infer_dataset(
            args.data, args.out, predictor, videos=names, policy=args.prompts, progress=progress
        )
    finally:
        bar.close()
    failed = [o for o in outcomes if not o.ok]
    frames = sum(o.num_frames for o in outcomes)
    seconds = sum(o.seconds for o in outcomes if o.ok)
    rate = frames / seconds if seconds > 0 else float("nan")
    print(
        f"wrote {len(outcomes) - len(failed)} of {len(outcomes)} videos ({frames} frames, "
        f"{rate:.2f} frames/s) to {args.out}"
    )
    for o in failed:
        print(f"{PROG} vos-infer: video {o.name} failed: {o.error}", file=sys.stderr)
    return 1 if failed else 0


def _score(args: argparse.Namespace) -> int:
    from sam2_vos.scoring import score_dataset

    scores = score_dataset(
        args.pred, args.gt, videos=_videos(args.split), all_frames=args.all_frames
    )
    csv_path = Path(args.csv) if args.csv else Path(args.pred) / "scores.csv"
    scores.write_csv(csv_path)
    print(scores.table())
    print(f"scores written to {csv_path}", file=sys.stderr)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``napari-sam2 vos-infer`` or ``vos-score``.

    Parameters
    ----------
    argv
        Arguments after the program name, starting with the command.

    Returns
    -------
    int
        Exit status (0 success, 1 error or a failed video, 2 usage, 130 interrupted).
    """
    try:
        args = _parser().parse_args(list(argv) if argv is not None else None)
    except SystemExit as exc:  # --help, usage errors
        return int(exc.code) if isinstance(exc.code, int) else 0
    where = f"{PROG} {args.command}"
    try:
        return int(args.func(args))
    except KeyboardInterrupt:
        print(f"\n{where}: interrupted", file=sys.stderr)
        return 130
    except (ValueError, OSError, KeyError) as exc:
        return _report(where, exc)
    except Exception as exc:
        if isinstance(exc, _engine_errors()):
            return _report(where, exc)
        raise


def _engine_errors() -> tuple[type[BaseException], ...]:
    if "sam2_engine" not in sys.modules:
        return ()
    import sam2_engine as se

    return (se.CheckpointError, se.DownloadError)


def _report(where: str, exc: BaseException) -> int:
    text = str(exc).strip().strip("'\"").replace("\n", " ") or type(exc).__name__
    print(f"{where}: error: {text}", file=sys.stderr)
    return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
