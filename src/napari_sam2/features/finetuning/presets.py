"""Fine-tuning presets: the user's settings and the bundled run config they start from."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

DEFAULT_FOLDER = Path.home() / "sam2_models"
VALIDATIONS = 20  # validate once per epoch, but not more often than this many times a run
#: checkbox name -> parts of the model it freezes (see sam2_training.config.FREEZABLE)
FREEZE_GROUPS = {
    "image_encoder": ("image_encoder",),
    "memory": ("memory_attention", "memory_encoder"),
}


def preset_for(device: str) -> str:
    """The bundled run config for a device: ``finetune_cpu`` on a CPU, else ``finetune``."""
    from sam2_engine import resolve_device

    return (
        "finetune_cpu"
        if resolve_device(None if device == "auto" else device).type == "cpu"
        else "finetune"
    )


@dataclass
class FinetuneSettings:
    """What the user chose (the widget's fields).

    Attributes
    ----------
    base_model
        A name or ``.pt`` path from :func:`napari_sam2.core.models.available_models`.
    device
        ``"auto"``, ``"cpu"``, ``"cuda"``, ... (also picks the preset: ``finetune_cpu``
        on a CPU, ``finetune`` elsewhere).
    epochs
        Passes over the training clips; the number of steps follows from the data.
    lr
        Peak learning rate (``optim.lr``).
    image_size
        Model input side while training and afterwards (multiple of 32); None: the base
        model's own.
    freeze
        Parts of the model that stay fixed (``trainer.freeze``).
    output_folder
        Where ``<name>.pt`` and its run folder ``<name>_run/`` are written.
    name
        Name of the new model in the model lists.
    replace
        Allow a name that is registered already (its file is overwritten).
    overrides
        Further ``{"section.key": value}`` settings of the run config.
    """

    base_model: str = "sam2.1_hiera_tiny"
    device: str = "auto"
    epochs: int = 10
    lr: float = 5.0e-5
    image_size: int | None = 512
    freeze: tuple[str, ...] = ("image_encoder",)
    output_folder: Path | None = DEFAULT_FOLDER
    name: str = "sam2_finetuned"
    replace: bool = False
    overrides: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def for_device(
        cls, device: str = "auto", base_model: str | None = None, **changes: Any
    ) -> FinetuneSettings:
        """Defaults of the device's preset (learning rate, image size, freezing), under
        what ``base_model`` recommends for fine-tuning itself (a bundled model stores
        them, see :func:`sam2_training.base_model.finetune_defaults`)."""
        from sam2_training import load_train_config

        cfg = load_train_config(preset_for(device))
        defaults: dict[str, Any] = {
            "device": device,
            "lr": cfg.optim.lr,
            "image_size": cfg.model.image_size,
            "freeze": tuple(cfg.trainer.freeze),
        }
        if base_model:
            defaults.update(model_recommendations(base_model))
            defaults["base_model"] = base_model
        return cls(**{**defaults, **changes})


#: recommended ``{"section.key": value}`` -> the settings field it sets
_RECOMMENDED_FIELDS = {
    "optim.lr": "lr",
    "model.image_size": "image_size",
    "trainer.freeze": "freeze",
}


def base_finetune_defaults(base_model: str) -> dict[str, Any]:
    """What ``base_model`` (a model name, or a path to a ``.pt`` file, read as its own
    checkpoint) recommends for fine-tuning itself, as ``{"section.key": value}``."""
    from sam2_training.base_model import finetune_defaults

    return finetune_defaults(base_model, base_model if base_model.endswith(".pt") else None)


def model_recommendations(base_model: str) -> dict[str, Any]:
    """The fields of :class:`FinetuneSettings` that ``base_model``'s file recommends
    (empty for official and random-weight models, and for unreadable files)."""
    found = base_finetune_defaults(base_model)
    out: dict[str, Any] = {}
    for key, name in _RECOMMENDED_FIELDS.items():
        if key in found:
            value = found[key]
            out[name] = tuple(value) if name == "freeze" else value
    return out
