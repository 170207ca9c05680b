"""The objects of a stack that take part in propagation, and where each was fixed."""

from __future__ import annotations

from collections.abc import Iterator

from napari_sam2.core.state import PlaneKey, TrackedObject


class TrackedObjects:
    """``{label: TrackedObject}``: planes where the user fixed each object's mask.

    Commits and corrections add planes; propagation reads the object's mask from the
    Labels layer on each of them (so hand edits made after a commit are honoured).
    """

    def __init__(self) -> None:
        self.objects: dict[int, TrackedObject] = {}

    def mark(self, obj_id: int, plane: PlaneKey) -> None:
        """``obj_id`` was fixed on ``plane``."""
        self.objects.setdefault(int(obj_id), TrackedObject(int(obj_id))).conditioning.add(plane)

    def ids(self) -> list[int]:
        return list(self.objects)

    def clear(self) -> None:
        self.objects.clear()

    def __iter__(self) -> Iterator[TrackedObject]:
        return iter(list(self.objects.values()))

    def __len__(self) -> int:
        return len(self.objects)

    def __contains__(self, obj_id: object) -> bool:
        return obj_id in self.objects
