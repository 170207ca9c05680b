"""``finetune``: the one-call Python API (what the napari widget calls)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from sam2_engine import CancelCallback
from sam2_training.base_model import finetune_defaults
from sam2_training.config import (
    TrainConfig,
    apply_dotlist,
    apply_overrides,
    load_train_config,
)
from sam2_training.data_setup import prepare_data
from sam2_training.loop import TrainingProgressCallback, TrainResult, train


def finetune(
    images: Any,
    labels: Any,
    base_model: str = "sam2.1_hiera_tiny",
    output: str | Path = "sam2_finetune",
    max_steps: int | None = None,
    *,
    base_checkpoint: str | Path | None = None,
    config: TrainConfig | str | Path = "finetune",
    overrides: Sequence[str] | Mapping[str, Any] = (),
    val_images: Any = None,
    val_labels: Any = None,
    channel_axis: int | None = None,
    image_size: int | None = None,
    batch_size: int | None = None,
    lr: float | None = None,
    freeze: Sequence[str] | None = None,
    device: str | None = None,
    seed: int | None = None,
    resume: bool = False,
    progress: TrainingProgressCallback | None = None,
    cancel: CancelCallback | None = None,
    return_result: bool = False,
) -> Path | TrainResult:
    """Fine-tune a SAM 2 model on annotated images and return the weights file.

    Parameters
    ----------
    images
        A 2D image (H, W[, C]), a z-stack or time-lapse (T, H, W[, C]), or a list of
        them; any dtype, read frame by frame (numpy, dask, zarr). Not modified.
    labels
        Instance labels for ``images``: (H, W) or (T, H, W) integers, 0 = background,
        ids consistent through a stack (or a list, one per image). Stacks are sampled
        as clips of consecutive frames (``data.clip_length``) to train tracking.
    base_model
        Model to start from: a name from ``sam2_engine.list_models()`` or a ``.pt``
        written by a previous fine-tuning. Settings the model recommends for
        fine-tuning (its ``recommended["finetune"]``, e.g. the bundled model's learning
        rate) are applied over a ``config`` given by name; the arguments below override
        them. A :class:`~sam2_training.config.TrainConfig` is taken as the caller's
        complete choice: nothing is applied over it (build it with
        :func:`~sam2_training.base_model.finetune_defaults` to start from them).
    output
        Run folder (``last.pt``, ``best.pt``, ``training_state.pt``, metrics, config),
        or a ``.pt`` path for the final weights (its run folder is ``<stem>_run``).
    max_steps
        Optimizer steps (default: the config's ``trainer.max_steps``).
    base_checkpoint
        Weights to start from instead of the base model's own (e.g. a downloaded
        official file); ``"random"`` for random weights.
    config
        A :class:`~sam2_training.config.TrainConfig`, or the name/path of a YAML run
        config (``"finetune"``, ``"finetune_cpu"``, ...).
    overrides
        Further settings as ``"section.key=value"`` strings or a ``{"section.key":
        value}`` mapping, applied after the keyword arguments below.
    val_images, val_labels
        Explicit validation data (same forms); by default part of the data is held out
        (``data.val_fraction``).
    channel_axis
        Axis of ``images`` holding channels, if not last (or more than four).
    image_size, batch_size, lr, freeze, device, seed
        Shortcuts for ``model.image_size``, ``trainer.batch_size``, ``optim.lr``,
        ``trainer.freeze``, ``trainer.device`` and ``trainer.seed``.
    resume
        Continue the run in ``output`` from its ``training_state.pt`` if there is one.
    progress
        Called with a :class:`~sam2_training.progress.TrainingProgress` after every
        step and validation (in the calling thread).
    cancel
        Polled after every step; returning True stops the run early. The returned
        file then holds the weights reached so far.
    return_result
        Return the whole :class:`~sam2_training.loop.TrainResult` instead of the path.

    Returns
    -------
    pathlib.Path
        The checkpoint written (``last.pt`` or ``output`` if it ends in ``.pt``), in the
        official layout plus metadata: ``sam2_engine.build_model(path)`` loads it.

    Raises
    ------
    ValueError
        Before any training: missing labels, shape mismatch, labels without objects,
        no usable data, an output folder that cannot be written, bad settings.
    TypeError
        Labels that are not integers.

    Examples
    --------
    >>> from sam2_synthetic import fluorescence_image
    >>> data = fluorescence_image((128, 128), n_nuclei=5, seed=0)
    >>> path = finetune(data.image, data.labels, "test_tiny", output=tmp_path, max_steps=2,
    ...                 overrides={"data.val_fraction": 0})  # doctest: +SKIP
    """
    if isinstance(config, TrainConfig):  # the caller's own choice, recommendations and all
        cfg = config
    else:
        recommended = finetune_defaults(str(base_model), base_checkpoint)
        cfg = apply_overrides(load_train_config(config), recommended)
    settings: dict[str, Any] = {
        "model.base": str(base_model),
        "output": str(output),
        "resume": bool(resume),
    }
    optional = {
        "trainer.max_steps": max_steps,
        "model.checkpoint": None if base_checkpoint is None else str(base_checkpoint),
        "data.channel_axis": channel_axis,
        "model.image_size": image_size,
        "trainer.batch_size": batch_size,
        "optim.lr": lr,
        "trainer.freeze": None if freeze is None else list(freeze),
        "trainer.device": device,
        "trainer.seed": seed,
    }
    settings.update({k: v for k, v in optional.items() if v is not None})
    cfg = apply_overrides(cfg, settings)
    if overrides:
        if isinstance(overrides, Mapping):
            cfg = apply_overrides(cfg, overrides)
        else:
            cfg = apply_dotlist(cfg, overrides)
    data = prepare_data(cfg.data, cfg.trainer.seed, images, labels, val_images, val_labels)
    result = train(cfg, data, progress=progress, cancel=cancel)
    return result if return_result else result.checkpoint
