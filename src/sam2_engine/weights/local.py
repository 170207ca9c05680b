"""Model names known on this computer: bundled files and the local registry.

Two kinds of named checkpoint files, both written by this package (their config is in
the metadata, see :func:`~sam2_engine.weights.checkpoints.save_checkpoint`):

* **bundled** models shipped inside the package (``sam2_engine/weights/_bundled/*.pt``):
  the name is the file stem, e.g. ``"microscopy"``; they work offline;
* **registered** models (:func:`register_model`, e.g. written by fine-tuning): a small
  JSON file in the cache folder maps names to files, written atomically.
"""

from __future__ import annotations

import json
from pathlib import Path

from sam2_engine.atomic import atomic_file
from sam2_engine.config import builtin_config_names
from sam2_engine.weights.checkpoints import read_metadata
from sam2_engine.weights.download import cache_dir

__all__ = [
    "bundled_models",
    "local_models",
    "model_file",
    "register_model",
    "unregister_model",
]

REGISTRY_FILE = "models.json"
BUNDLED_DIR = Path(__file__).parent / "_bundled"  # package data: *.pt files of ours


def bundled_models() -> dict[str, Path]:
    """Models shipped inside the package: ``{name: file}``, sorted by name."""
    if not BUNDLED_DIR.is_dir():
        return {}
    return {p.stem: p for p in sorted(BUNDLED_DIR.glob("*.pt"))}


def model_file(name: str | Path) -> Path | None:
    """The checkpoint file of a bundled or registered model name, or of a ``.pt`` path;
    None for official and test names (whose weights are not a file of ours)."""
    key = str(name)
    bundled = bundled_models()
    if key in bundled:
        return bundled[key]
    local = local_models()
    if key in local:
        return Path(local[key])
    path = Path(key)
    return path if path.suffix in (".pt", ".pth") and path.exists() else None


def _registry_path() -> Path:
    return cache_dir() / REGISTRY_FILE


def local_models() -> dict[str, str]:
    """Registered names and their files (entries whose file is gone are skipped)."""
    path = _registry_path()
    if not path.exists():
        return {}
    try:
        data = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        return {}
    return {str(k): str(v) for k, v in data.items() if Path(v).exists()}


def _write_registry(entries: dict[str, str]) -> None:
    path = _registry_path()
    with atomic_file(path) as tmp:
        tmp.write_text(json.dumps(entries, indent=1))


def register_model(name: str, checkpoint: str | Path) -> None:
    """Make a checkpoint written by this package (e.g. fine-tuned) buildable by name.

    The file must carry its config in the metadata (as :func:`save_checkpoint` writes).

    Raises
    ------
    ValueError
        If ``name`` is a built-in or bundled name, or the file carries no config.
    """
    checkpoint = Path(checkpoint).resolve()
    if name in builtin_config_names() or name in bundled_models():
        raise ValueError(f"{name!r} is a built-in model name; choose another name")
    if "config" not in read_metadata(checkpoint):
        raise ValueError(
            f"{checkpoint} has no model config in its metadata; only files written by "
            "sam2_engine.save_checkpoint (e.g. by fine-tuning) can be registered by name"
        )
    entries = local_models()
    entries[name] = str(checkpoint)
    _write_registry(entries)


def unregister_model(name: str) -> None:
    """Forget a local model name (the file itself is kept)."""
    entries = local_models()
    if entries.pop(name, None) is not None:
        _write_registry(entries)
