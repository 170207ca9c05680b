"""The typed state of a batch run: what to run, with which model, and what came out."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from sam2_cells import check_textured

__all__ = ["BatchSettings", "ItemResult", "ModelSpec"]

COMMANDS = ("segment", "track")


@dataclass(frozen=True)
class ModelSpec:
    """How each worker builds its model (once per worker process).

    Attributes
    ----------
    name : str
        A name of ``sam2_engine.list_models()``, ``"default"`` (the bundled model if any)
        or a ``.pt`` checkpoint path.
    checkpoint : str, bool or None
        Passed to ``sam2_engine.build_model`` (``False``: random weights, for tests).
    device : str
        ``"auto"``, ``"cpu"``, ``"cuda"``, ``"cuda:N"`` or ``"mps"``.
    """

    name: str = "default"
    checkpoint: str | bool | None = None
    device: str = "auto"


@dataclass(frozen=True)
class BatchSettings:
    """What every task of a batch does.

    Attributes
    ----------
    command : {"segment", "track"}
        Segment everything in every plane, or track the cells of a (time, row, col) movie.
    out : str
        Result folder: ``NAME.tif`` (segment) or ``NAME/`` CTC results (track) per input.
    model : ModelSpec
        The model each worker loads.
    diameter : float or None
        Typical object diameter in level-0 pixels (None: estimated by the model / tracker).
    level : int or None
        OME-Zarr resolution level to run on; None picks it from ``diameter``.
    channel : int or None
        Channel to use when the image has several (None: the image must have one, or 3
        for segment-everything on RGB).
    ome_labels : bool
        Also write the labels as an OME-Zarr ``labels`` group beside OME-Zarr inputs.
    detector : str
        ``track`` only: ``"auto"``, ``"model"`` or ``"classical"``.
    sam2_cue : bool
        ``track`` only: SAM 2 propagation as a linking cue.
    split_merged : bool
        ``track`` only, classical detections: cut an object that holds two cells seen
        apart in the neighbouring frames (``sam2_cells.TrackerSettings.split_merged``).
    textured : bool
        ``track`` only, classical detections: very textured nuclei, filled whole
        (``sam2_cells.TrackerSettings.textured``); refused with ``detector="model"``.
    points_per_side : int
        ``segment`` with a model without an instance head: the prompt grid.
    cache : str or None
        Folder of an on-disk ``sam2_engine.EmbeddingCache`` shared by the workers.
        ``segment`` (models without an instance head): a rerun with other generator
        settings skips the encoder; ``track``: the SAM 2 sessions (the cue) read the
        frames' embeddings when a movie is tracked again. None: no cache.
    """

    command: Literal["segment", "track"]
    out: str
    model: ModelSpec = ModelSpec()
    diameter: float | None = None
    level: int | None = 0
    channel: int | None = None
    ome_labels: bool = True
    detector: str = "auto"
    sam2_cue: bool = False
    split_merged: bool = True
    textured: bool = False
    points_per_side: int = 32
    cache: str | None = None

    def __post_init__(self) -> None:
        if self.command not in COMMANDS:
            raise ValueError(f"command {self.command!r} must be one of {', '.join(COMMANDS)}")
        if self.diameter is not None and not self.diameter > 0:
            raise ValueError(f"diameter {self.diameter} must be > 0 pixels")
        if self.level is not None and self.level < 0:
            raise ValueError(f"level {self.level} must be >= 0 (0 is the finest)")
        if self.detector not in ("auto", "model", "classical"):
            raise ValueError(f"detector {self.detector!r} must be auto, model or classical")
        check_textured(self.detector, self.textured)
        if self.points_per_side < 1:
            raise ValueError(f"points_per_side {self.points_per_side} must be >= 1")

    def output_of(self, name: str) -> Path:
        """The result of item ``name``: ``OUT/NAME.tif`` or the CTC folder ``OUT/NAME``."""
        suffix = ".tif" if self.command == "segment" else ""
        return Path(self.out) / f"{name}{suffix}"

    @property
    def ome_label_name(self) -> str:
        """The OME-Zarr label image name: ``"sam2"`` (segment) or ``"sam2_tracks"``."""
        return "sam2" if self.command == "segment" else "sam2_tracks"


@dataclass(frozen=True)
class ItemResult:
    """What one task did.

    Attributes
    ----------
    name, path : str
        The item.
    status : {"done", "skipped", "failed"}
        ``skipped``: its result existed before the run.
    outputs : tuple of str
        What was written (the TIFF / CTC folder, the OME-Zarr label group).
    error : str or None
        One line naming what went wrong (``status == "failed"``).
    seconds : float
        Time the task took on its worker.
    worker : str
        ``host:pid`` of the worker process.
    model_loads : int
        How many times that worker process had built a model when the task ended.
    summary : str
        E.g. ``"3 planes, 41 objects"`` or ``"12 tracks, 1 division"``.
    """

    name: str
    path: str
    status: Literal["done", "skipped", "failed"]
    outputs: tuple[str, ...] = ()
    error: str | None = None
    seconds: float = 0.0
    worker: str = ""
    model_loads: int = 0
    summary: str = ""
