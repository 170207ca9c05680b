"""Checks of a fine-tuning run's settings before anything starts (clear messages)."""

from __future__ import annotations

import re
from pathlib import Path

from sam2_engine import is_writable

NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.+-]*$")


def check_output_folder(folder: Path | None) -> Path:
    """Refuse an output folder that cannot be written (nothing is created here).

    A folder that does not exist yet is judged by its nearest existing parent, where the
    training loop will create it.
    """
    if folder is None or str(folder).strip() in ("", "."):
        raise ValueError("choose an output folder for the fine-tuned model")
    folder = Path(folder).expanduser().absolute()
    existing = folder
    while not existing.exists() and existing.parent != existing:
        existing = existing.parent
    if not existing.is_dir():
        raise ValueError(
            f"cannot write to the output folder {folder}: {existing} is a file, not a folder; "
            "choose another output folder"
        )
    if not is_writable(existing):
        raise ValueError(
            f"cannot write to the output folder {folder}: {existing} is not writable; "
            "choose a folder you can write to"
        )
    return folder


def check_base_model(name: str) -> str:
    """Refuse a base model that is neither a known name nor an existing ``.pt`` file."""
    from sam2_engine import list_models

    name = str(name or "").strip()
    if not name:
        raise ValueError("choose a base model to start from")
    if name not in list_models() and not (name.endswith((".pt", ".pth")) and Path(name).is_file()):
        raise ValueError(
            f"unknown base model {name!r}; pick one from the list (⟳ refreshes it) or a .pt "
            "file written by fine-tuning"
        )
    return name


def check_name(name: str, output: Path, replace: bool) -> str:
    """Refuse an empty or odd name, a built-in model's name, or one already taken."""
    from sam2_engine import builtin_config_names, list_models

    name = name.strip()
    if not name:
        raise ValueError("give the fine-tuned model a name (e.g. my_nuclei)")
    if not NAME_PATTERN.match(name) or name.endswith(".pt"):
        raise ValueError(
            f"model name {name!r} may only hold letters, digits and _ . + - (and not end "
            "in .pt); e.g. my_nuclei"
        )
    if name in builtin_config_names():
        raise ValueError(f"{name!r} is the name of a built-in model; choose another name")
    if not replace:
        if name in list_models():
            raise ValueError(
                f"a model named {name!r} exists already; choose another name, or tick "
                "'Replace' to overwrite it"
            )
        if output.exists():
            raise ValueError(
                f"{output} exists already; choose another name, or tick 'Replace' to overwrite it"
            )
    return name
