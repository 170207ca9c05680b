"""How large a window is for an object: the object fills a fixed share of its window."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["WindowPolicy"]


@dataclass(frozen=True)
class WindowPolicy:
    """Window sizes for prompt-centred segmentation.

    Attributes
    ----------
    object_fraction : float
        Object extent (the longer side of its box) / window side: the scale the model
        was trained for (about a third).
    min_side, max_side : int
        Bounds of a window side in frame pixels (tiny objects are magnified at most
        ``model input / min_side`` times).
    probe_sides : tuple of int
        Window sides tried for a click whose object size is not known yet (the best
        candidate then sets the final window).
    """

    object_fraction: float = 0.3
    min_side: int = 24
    max_side: int = 8192
    probe_sides: tuple[int, ...] = field(default=(48, 112, 256))

    def __post_init__(self) -> None:
        if not 0.02 < self.object_fraction <= 1.0:
            raise ValueError(
                f"object_fraction={self.object_fraction} must be in (0.02, 1]: the share of "
                "a window an object fills"
            )
        if not 1 <= self.min_side <= self.max_side:
            raise ValueError(
                f"need 1 <= min_side <= max_side, got {self.min_side}, {self.max_side}"
            )
        if not self.probe_sides or min(self.probe_sides) < 1:
            raise ValueError(f"probe_sides must be positive sides, got {self.probe_sides}")

    def side_for(self, extent: float) -> int:
        """Window side (frame pixels) for an object of ``extent`` pixels."""
        side = float(extent) / self.object_fraction
        return round(min(max(side, self.min_side), self.max_side))

    @classmethod
    def from_model(cls, model: Any) -> WindowPolicy | None:
        """The policy a model recommends (``model.recommended["windows"]``), or None for
        models made for whole images (the official ones)."""
        spec = (getattr(model, "recommended", None) or {}).get("windows")
        if not spec:
            return None
        spec = dict(spec)
        if "probe_sides" in spec:
            spec["probe_sides"] = tuple(int(s) for s in spec["probe_sides"])
        return cls(**spec)

    def to_dict(self) -> dict[str, Any]:
        """Plain values for checkpoint metadata."""
        return {
            "object_fraction": self.object_fraction,
            "min_side": self.min_side,
            "max_side": self.max_side,
            "probe_sides": list(self.probe_sides),
        }
