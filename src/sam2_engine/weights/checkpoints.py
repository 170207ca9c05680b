"""Reading and writing checkpoint files, strictly and safely.

A checkpoint file is a dict whose ``"model"`` entry is the model's state dict; this is
the official SAM 2 layout. Files written here add a ``"sam2_engine"`` entry with
metadata (config, base model, training facts) that the official loader ignores.
Files are always read with ``torch.load(..., weights_only=True)`` (no pickled code runs)
and written atomically (temporary file, then rename).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from torch import nn

from sam2_engine.atomic import atomic_file
from sam2_engine.errors import CheckpointError, CheckpointMismatchError

# re-exported: the public checkpoint API lives here
from sam2_engine.weights.download import cache_dir, ensure_checkpoint
from sam2_engine.weights.official import OFFICIAL_CHECKPOINTS, OfficialCheckpoint

__all__ = [
    "OFFICIAL_CHECKPOINTS",
    "CheckpointError",
    "CheckpointMismatchError",
    "OfficialCheckpoint",
    "cache_dir",
    "ensure_checkpoint",
    "load_checkpoint_file",
    "load_weights",
    "read_metadata",
    "save_checkpoint",
]

METADATA_KEY = "sam2_engine"


def _read(path: Path) -> Any:
    if not path.exists():
        raise CheckpointError(f"checkpoint file {path} does not exist")
    if path.stat().st_size == 0:
        raise CheckpointError(f"checkpoint file {path} is empty; delete it and download it again")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # torch raises many types for corrupt/truncated files
        raise CheckpointError(
            f"cannot read checkpoint {path}: the file is truncated, corrupt or not a "
            f"PyTorch checkpoint ({type(err).__name__}: {str(err)[:200]}). Delete it and "
            "download or copy it again."
        ) from err


def load_checkpoint_file(path: str | Path) -> dict[str, torch.Tensor]:
    """Read the state dict from a checkpoint file.

    Accepts the official layout (``{"model": state_dict, ...}``) and a bare state dict.

    Raises
    ------
    CheckpointError
        If the file is missing, empty, truncated, corrupt or holds no tensors.
    """
    return read_checkpoint(path)[0]


def read_checkpoint(path: str | Path) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """The state dict and our metadata (``{}`` for official files) of a checkpoint,
    reading the file once; see :func:`load_checkpoint_file`."""
    path = Path(path)
    data = _read(path)
    meta: dict[str, Any] = {}
    if isinstance(data, Mapping) and isinstance(data.get(METADATA_KEY), Mapping):
        meta = dict(data[METADATA_KEY])
    if isinstance(data, Mapping) and "model" in data and isinstance(data["model"], Mapping):
        data = data["model"]
    if (
        not isinstance(data, Mapping)
        or not data
        or not all(isinstance(v, torch.Tensor) for v in data.values())
    ):
        raise CheckpointError(
            f"{path} does not hold a model state dict (expected a dict with a 'model' entry "
            "mapping parameter names to tensors, as in the official SAM 2 files)"
        )
    return dict(data), meta


def read_metadata(path: str | Path) -> dict[str, Any]:
    """The ``"sam2_engine"`` metadata of a checkpoint written by this package ({} if none)."""
    data = _read(Path(path))
    meta = data.get(METADATA_KEY, {}) if isinstance(data, Mapping) else {}
    return dict(meta) if isinstance(meta, Mapping) else {}


def shape_signature(module_or_state: nn.Module | Mapping[str, torch.Tensor]) -> dict[str, tuple]:
    """Parameter/buffer name -> shape, for comparing checkpoints and configs."""
    state = (
        module_or_state.state_dict() if isinstance(module_or_state, nn.Module) else module_or_state
    )
    return {k: tuple(v.shape) for k, v in state.items()}


def describe_mismatch(
    expected: Mapping[str, tuple], found: Mapping[str, tuple], limit: int = 5
) -> str:
    """A short human-readable list of missing, unexpected and mis-shaped tensors."""
    missing = sorted(set(expected) - set(found))
    unexpected = sorted(set(found) - set(expected))
    wrong = sorted(k for k in set(expected) & set(found) if expected[k] != found[k])
    parts = []
    if missing:
        parts.append(f"{len(missing)} missing (e.g. {', '.join(missing[:limit])})")
    if unexpected:
        parts.append(f"{len(unexpected)} unexpected (e.g. {', '.join(unexpected[:limit])})")
    if wrong:
        shown = ", ".join(f"{k}: file {found[k]} vs model {expected[k]}" for k in wrong[:limit])
        parts.append(f"{len(wrong)} with another shape (e.g. {shown})")
    return "; ".join(parts)


def load_weights(
    model: nn.Module,
    state: Mapping[str, torch.Tensor],
    *,
    source: str,
    config_name: str,
    candidates: Mapping[str, Mapping[str, tuple]] | None = None,
) -> None:
    """Copy ``state`` into ``model`` strictly (same names, same shapes, nothing left over).

    Parameters
    ----------
    source
        Where the weights come from (a path), for messages.
    config_name
        Name of the model's config, for messages.
    candidates
        Shape signatures of other configs; if one of them fits the file, the error says
        which config to use instead.

    Raises
    ------
    CheckpointMismatchError
        If any tensor is missing, unexpected or of another shape. The model is left
        unchanged in that case.
    """
    expected = shape_signature(model)
    found = shape_signature(state)
    if expected != found:
        pairs = candidates.items() if candidates is not None else ()
        fits = [name for name, sig in pairs if dict(sig) == found]
        hint = (
            f" It fits the config {fits[0]!r}: use build_model({fits[0]!r}, checkpoint=...)."
            if fits
            else " No registered config fits it."
        )
        raise CheckpointMismatchError(
            f"checkpoint {source} does not fit the model config {config_name!r}: "
            f"{describe_mismatch(expected, found)}.{hint}"
        )
    # batch norm counts its updates in an integer buffer; every other tensor is float
    bad_dtype = [
        k
        for k, v in state.items()
        if not v.is_floating_point() and not k.endswith("num_batches_tracked")
    ]
    if bad_dtype:
        raise CheckpointMismatchError(
            f"checkpoint {source} holds non-float tensors ({', '.join(bad_dtype[:5])}); "
            "it is not a SAM 2 model checkpoint"
        )
    model.load_state_dict(state, strict=True)


def atomic_torch_save(obj: Any, path: str | Path) -> Path:
    """``torch.save`` to a temporary file in the same folder, then rename over ``path``."""
    path = Path(path)
    with atomic_file(path, fsync=True) as tmp:
        torch.save(obj, tmp)
    return path


def save_checkpoint(
    model: nn.Module,
    path: str | Path,
    metadata: Mapping[str, Any] | None = None,
    *,
    dtype: torch.dtype | None = None,
) -> Path:
    """Write ``{"model": state_dict, "sam2_engine": metadata}`` atomically.

    The official SAM 2 loader reads such a file unchanged (it only uses ``"model"``).
    ``metadata`` must hold plain Python values (str, int, float, bool, lists, dicts) so
    that the file stays loadable with ``weights_only=True``. ``dtype`` (e.g.
    ``torch.float16``) stores the floating-point tensors in that type: half the size for
    a shipped model; loading casts them back to the model's float32.
    """
    from sam2_engine.config import config_to_dict

    meta = dict(metadata or {})
    cfg = getattr(model, "cfg", None)
    if cfg is not None:
        meta.setdefault("config", config_to_dict(cfg))
    if getattr(model, "recommended", None):
        meta.setdefault("recommended", dict(model.recommended))
    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    if dtype is not None:
        state = {k: v.to(dtype) if v.is_floating_point() else v for k, v in state.items()}
    return atomic_torch_save({"model": state, METADATA_KEY: meta}, path)
