"""Making a lineage CTC-valid: a track with gaps becomes one track per contiguous run."""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np

from sam2_cells._frames import LazyStack, frame_at, remap_labels, stack_shape
from sam2_cells.lineage import TrackRecord, _listed, label_presence

__all__ = ["make_ctc_valid"]


def _runs(frames: np.ndarray) -> list[tuple[int, int]]:
    """Contiguous (first, last) runs of ascending frame numbers."""
    breaks = np.flatnonzero(np.diff(frames) > 1)
    starts = np.concatenate([[0], breaks + 1])
    ends = np.concatenate([breaks, [len(frames) - 1]])
    return [(int(frames[s]), int(frames[e])) for s, e in zip(starts, ends, strict=True)]


def make_ctc_valid(
    labels: Any,
    parents: Mapping[int, int] | Iterable[TrackRecord] | None = None,
) -> tuple[LazyStack, list[TrackRecord]]:
    """Split tracks with gaps into new labels so that the lineage follows the CTC rules.

    A label absent from some frames of its span becomes several tracks: the first run of
    frames keeps the label, each later run gets a new label (above the stack's largest)
    whose parent is the previous run, which is how the CTC encodes a gap. Daughters of a
    split track hang from its last run that ends before they begin.

    Parameters
    ----------
    labels : array-like
        (T, H, W) tracked integer labels, read frame by frame (one pass here, then again
        on each access to the result).
    parents : mapping of int to int, or iterable of TrackRecord, optional
        Daughter -> mother label, or the (possibly invalid) records whose ``parent`` fields
        give it; ``begin``/``end`` are recomputed from the stack.

    Returns
    -------
    labels : LazyStack
        (T, H, W) relabelled stack, computed one frame at a time when indexed; its dtype
        is that of ``labels`` or wider if the new labels need it.
    tracks : list of TrackRecord
        The valid lineage, sorted by label.

    Warns
    -----
    UserWarning
        For parent links that cannot be kept (unknown or self parents, or a mother that
        does not end before her daughter begins); those daughters get parent 0.
    """
    n_frames, height, width = stack_shape(labels, "label stack")
    if parents is None:
        parent_of: dict[int, int] = {}
    elif isinstance(parents, Mapping):
        parent_of = {int(k): int(v) for k, v in parents.items()}
    else:
        parent_of = {int(rec.label): int(rec.parent) for rec in parents}
    presence = label_presence(labels)
    next_label = max(presence, default=0) + 1
    runs: dict[int, list[tuple[int, int, int]]] = {}  # label -> [(new label, first, last)]
    changes: dict[int, dict[int, int]] = {}
    for label, frames in presence.items():
        pieces = []
        for i, (first, last) in enumerate(_runs(frames)):
            new = label if i == 0 else next_label
            if i:
                next_label += 1
                for t in range(first, last + 1):
                    changes.setdefault(t, {})[label] = new
            pieces.append((new, first, last))
        runs[label] = pieces
    dropped = []
    records = []
    for label, pieces in runs.items():
        mother = parent_of.get(label, 0)
        first_parent = 0
        if mother:
            before = [p for p in runs.get(mother, []) if p[2] < pieces[0][1]]
            if mother != label and before:
                first_parent = before[-1][0]
            else:
                dropped.append(f"{label}<-{mother}")
        previous = first_parent
        for new, first, last in pieces:
            records.append(TrackRecord(new, first, last, previous))
            previous = new
    if dropped:
        warnings.warn(
            "make_ctc_valid dropped parent links (daughter<-mother) whose mother is unknown, "
            f"the daughter itself or does not end before the daughter begins: {_listed(dropped)}",
            UserWarning,
            stacklevel=2,
        )
    base = np.dtype(getattr(labels, "dtype", np.int64))
    dtype = np.promote_types(base, np.min_scalar_type(max(next_label - 1, 1)))

    def read(t: int) -> np.ndarray:
        return remap_labels(frame_at(labels, t), changes.get(t, {})).astype(dtype, copy=False)

    stack = LazyStack(n_frames, (height, width), dtype, read)
    return stack, sorted(records)
