"""Inference settings a model's weights recommend (``model.recommended``).

Our checkpoints carry, in their metadata, the settings their weights were tuned for,
grouped by what reads them (``"instance"``, ``"z_profile"``, ``"windows"``,
``"automatic"``). Official SAM 2 weights carry none.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any


def recommended_section(model: Any, key: str, allowed: Iterable[str]) -> dict[str, Any]:
    """The settings ``model`` recommends under ``key``, checked against ``allowed``.

    Parameters
    ----------
    model
        A SAM 2 model (anything with a ``recommended`` dict, or without one).
    key : str
        The section, e.g. ``"instance"`` or ``"z_profile"``.
    allowed : iterable of str
        The field names a model may recommend in that section.

    Returns
    -------
    dict
        A copy of the section (field name to value); empty when the model recommends none.

    Raises
    ------
    ValueError
        The section names a field outside ``allowed``; the message names the fields and
        the metadata to fix.
    """
    allowed = tuple(allowed)
    spec = dict((getattr(model, "recommended", None) or {}).get(key) or {})
    unknown = sorted(set(spec) - set(allowed))
    if unknown:
        raise ValueError(
            f"the model recommends unknown {key} settings {unknown}; a model may "
            f"recommend only {', '.join(allowed)} (fix its {key!r} metadata)"
        )
    return spec
