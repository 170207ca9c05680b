"""The run folder: model checkpoints, the resumable training state, the saved config.

Layout of a run folder (``output``)::

    config.yaml          the resolved training config
    last.pt              latest weights (every ``checkpoint_every`` steps and at the end)
    best.pt              weights with the best validation score so far
    training_state.pt    optimizer, schedule, step, RNG states and weights, for resuming
    metrics.csv          one row per logged step / validation
    tensorboard/         TensorBoard event files

``last.pt`` and ``best.pt`` use the official SAM 2 layout (``{"model": state_dict}``)
plus our metadata (base model, training config, data fingerprint, metrics, step), so
``sam2_engine.build_model("run/last.pt")`` rebuilds the fine-tuned model. Every file is
written atomically (temporary file, then rename): a run killed at any moment leaves the
previous complete files behind.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from sam2_engine import atomic_file, atomic_torch_save, is_writable, save_checkpoint


class _InRun:
    """A file of the run folder, by name: a read-only attribute of :class:`RunPaths`."""

    def __init__(self, name: str) -> None:
        self.name = name

    def __get__(self, paths: RunPaths, owner: type | None = None) -> Path:
        return paths.folder / self.name


@dataclass(frozen=True)
class RunPaths:
    """Files of a run. ``final`` is the extra .pt path asked for, if any."""

    folder: Path
    final: Path | None = None

    # the files in the folder (see the module docstring)
    last = _InRun("last.pt")
    best = _InRun("best.pt")
    state = _InRun("training_state.pt")
    config = _InRun("config.yaml")
    metrics = _InRun("metrics.csv")
    tensorboard = _InRun("tensorboard")

    @classmethod
    def from_output(cls, output: str | Path) -> RunPaths:
        """A folder, or a ``.pt`` path (its run folder is ``<stem>_run`` next to it)."""
        path = Path(output).expanduser()
        if path.suffix == ".pt":
            return cls(path.parent / f"{path.stem}_run", path)
        return cls(path)

    @property
    def result(self) -> Path:
        """The checkpoint a run hands back: ``final`` if asked for, else ``last.pt``."""
        return self.final if self.final is not None else self.last


def check_writable(paths: RunPaths) -> None:
    """Create the run folder and prove files can be written there.

    Raises
    ------
    ValueError
        If the folder (or the ``.pt`` file's folder) cannot be created or written.
    """
    folders = [paths.folder] + ([paths.final.parent] if paths.final is not None else [])
    for folder in folders:
        try:
            folder.mkdir(parents=True, exist_ok=True)
            if not is_writable(folder):
                raise PermissionError(13, "Permission denied")
        except OSError as err:
            raise ValueError(
                f"cannot write to the output folder {folder} ({type(err).__name__}: "
                f"{err.strerror or err}); choose an output folder you can write to"
            ) from err


def write_model(model: nn.Module, path: Path, metadata: dict[str, Any]) -> Path:
    """Write weights + metadata in the official layout, atomically."""
    return save_checkpoint(model, path, metadata)


def copy_atomic(src: Path, dst: Path) -> Path:
    """Copy a file to ``dst`` through a temporary file and a rename."""
    with atomic_file(dst) as tmp:
        shutil.copyfile(src, tmp)
    return dst


@dataclass
class TrainingState:
    """Everything needed to continue a run exactly where it stopped.

    Attributes
    ----------
    step
        Optimizer steps completed.
    model, optimizer, scheduler
        State dicts.
    best_score, best_step
        Best validation score so far and its step (None before any validation).
    fingerprint
        Hash of the training data (a resume on other data is refused).
    config
        The training config as a plain dict.
    torch_rng, cuda_rng
        Global random states (CPU; CUDA devices when used).
    """

    step: int
    model: dict[str, torch.Tensor]
    optimizer: dict[str, Any]
    scheduler: dict[str, Any]
    fingerprint: str
    config: dict[str, Any]
    best_score: float | None = None
    best_step: int | None = None
    torch_rng: torch.Tensor = field(default_factory=torch.get_rng_state)
    cuda_rng: list[torch.Tensor] = field(default_factory=list)

    def save(self, path: Path) -> Path:
        """Write the state atomically (a plain dict, loadable with ``weights_only=True``)."""
        return atomic_torch_save(
            {
                "format": "sam2_training.state/1",
                "step": self.step,
                "model": self.model,
                "optimizer": self.optimizer,
                "scheduler": self.scheduler,
                "fingerprint": self.fingerprint,
                "config": self.config,
                "best_score": self.best_score,
                "best_step": self.best_step,
                "torch_rng": self.torch_rng,
                "cuda_rng": self.cuda_rng,
            },
            path,
        )

    @classmethod
    def load(cls, path: Path) -> TrainingState:
        """Read a state written by :meth:`save`.

        Raises
        ------
        ValueError
            If the file is not a training state.
        """
        try:
            data = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as err:  # truncated / corrupt file
            raise ValueError(
                f"cannot read the training state {path} ({type(err).__name__}); delete it "
                "to start the run again, or set resume=false"
            ) from err
        if not isinstance(data, dict) or data.get("format") != "sam2_training.state/1":
            raise ValueError(f"{path} is not a sam2_training state file")
        return cls(
            step=int(data["step"]),
            model=data["model"],
            optimizer=data["optimizer"],
            scheduler=data["scheduler"],
            fingerprint=str(data["fingerprint"]),
            config=data["config"],
            best_score=data["best_score"],
            best_step=data["best_step"],
            torch_rng=data["torch_rng"],
            cuda_rng=list(data["cuda_rng"]),
        )


def capture_rng(device: torch.device) -> tuple[torch.Tensor, list[torch.Tensor]]:
    """Global CPU and (if used) CUDA random states."""
    cuda = torch.cuda.get_rng_state_all() if device.type == "cuda" else []
    return torch.get_rng_state(), list(cuda)


def restore_rng(state: TrainingState, device: torch.device) -> None:
    """Put back the random states captured in ``state``."""
    torch.set_rng_state(state.torch_rng)
    if device.type == "cuda" and state.cuda_rng:
        torch.cuda.set_rng_state_all(state.cuda_rng)


#: Config keys that may change between a run and its resumption.
RESUMABLE_CHANGES = (
    "resume",
    "output",
    "trainer.max_steps",
    "trainer.device",
    "trainer.log_every",
    "trainer.checkpoint_every",
    "trainer.tensorboard",
    "trainer.backend",
    "data.num_workers",
    "data.folder",
    "data.val_folder",
    # a curriculum step: strided clips may be switched on mid-run (the samples of the
    # steps already taken are unchanged; validation clips are never strided)
    "data.clip_stride",
)


def config_differences(old: dict[str, Any], new: dict[str, Any], prefix: str = "") -> list[str]:
    """Dotted keys whose values differ between two config dicts (ignoring allowed changes)."""
    out = []
    for key in sorted(set(old) | set(new)):
        dotted = f"{prefix}{key}"
        a, b = old.get(key), new.get(key)
        if isinstance(a, dict) and isinstance(b, dict):
            out += config_differences(a, b, f"{dotted}.")
        elif a != b and dotted not in RESUMABLE_CHANGES:
            out.append(dotted)
    return out
