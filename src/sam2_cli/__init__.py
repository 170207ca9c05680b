"""The ``napari-sam2`` command: a dispatcher over the command-line tools of the packages.

::

    napari-sam2 segment | track        batch runs on Dask, OME-Zarr (sam2_batch.cli)
    napari-sam2 score                  cell tracking scores (sam2_cells.cli)
    napari-sam2 vos-infer | vos-score  video object segmentation (sam2_vos.cli)

``track`` of one plain movie without batch options is handed on by ``sam2_batch.cli``
to the single-movie command of ``sam2_cells.cli`` (results in ``--out`` itself).

Each package keeps its own parser; this module only picks the package by the command
name and imports it then (so ``napari-sam2 score`` never imports the VOS tools and the
reverse). Packages stay independent of one another: none imports another's CLI, but for
the hand-over of a single-movie ``track`` above.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Sequence

__all__ = ["COMMANDS", "main"]

PROG = "napari-sam2"

#: command -> (module with ``main(argv) -> int``, one-line summary)
COMMANDS: dict[str, tuple[str, str]] = {
    "segment": ("sam2_batch.cli", "segment everything in images, stacks, OME-Zarr plates (Dask)"),
    "track": ("sam2_batch.cli", "track cells in a movie, or in many on Dask; CTC results"),
    "score": ("sam2_cells.cli", "score CTC tracking results against ground truth"),
    "vos-infer": ("sam2_vos.cli", "segment the videos of a DAVIS-layout dataset"),
    "vos-score": ("sam2_vos.cli", "J, F and J&F of VOS predictions (DAVIS protocol)"),
}


def _usage() -> str:
    width = max(len(name) for name in COMMANDS)
    lines = [
        f"usage: {PROG} COMMAND [options]   ({PROG} COMMAND --help for its options)",
        "",
        "SAM 2 from the command line: segmentation and cell tracking (one movie or batches on "
        "Dask), video object segmentation.",
        "",
        "commands:",
    ]
    lines += [f"  {name:<{width}}  {summary}" for name, (_, summary) in COMMANDS.items()]
    lines += ["", "options:", "  -h, --help  show this help", "  --version   show the version"]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``napari-sam2`` command line.

    Parameters
    ----------
    argv
        Arguments without the program name; ``sys.argv[1:]`` by default.

    Returns
    -------
    int
        The chosen command's exit status; 0 for ``--help``, 2 for an unknown command.
    """
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] in ("-h", "--help"):
        print(_usage(), file=sys.stdout if args else sys.stderr)
        return 0 if args else 2
    if args[0] == "--version":
        return int(importlib.import_module(COMMANDS["score"][0]).main(args))
    if args[0] not in COMMANDS:
        print(
            f"{PROG}: error: unknown command {args[0]!r}; choose one of {', '.join(COMMANDS)}",
            file=sys.stderr,
        )
        return 2
    module = importlib.import_module(COMMANDS[args[0]][0])
    return int(module.main(args))
