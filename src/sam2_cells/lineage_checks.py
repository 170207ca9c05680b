"""Checking a lineage against the Cell Tracking Challenge rules (one sentence a problem)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np

from sam2_cells._frames import stack_shape
from sam2_cells.lineage import LineageError, TrackRecord, _listed, label_presence

__all__ = ["check_lineage", "lineage_problems"]


def lineage_problems(
    tracks: Iterable[TrackRecord],
    labels: Any = None,
    *,
    presence: Mapping[int, np.ndarray] | None = None,
    n_frames: int | None = None,
) -> list[str]:
    """Every way in which a lineage breaks the CTC rules (empty when it is valid).

    Parameters
    ----------
    tracks : iterable of TrackRecord
        The lineage.
    labels : array-like, optional
        (T, H, W) label stack it describes. Without it (and without ``presence``) only the
        records themselves are checked.
    presence : mapping, optional
        :func:`label_presence` of the stack, instead of ``labels``.
    n_frames : int, optional
        Number of frames T, with ``presence`` (taken from ``labels`` otherwise).

    Returns
    -------
    list of str
        One sentence per problem, naming the track and the frames concerned.
    """
    tracks = list(tracks)
    problems: list[str] = []
    by_label: dict[int, TrackRecord] = {}
    for rec in tracks:
        label, begin, end, parent = (int(v) for v in rec)
        if label <= 0:
            problems.append(f"track {label}: labels must be positive integers")
        if label in by_label:
            problems.append(f"track {label}: listed twice ({by_label[label]} and {rec})")
        by_label[label] = rec
        if begin < 0:
            problems.append(f"track {label}: begins at frame {begin}, before frame 0")
        if end < begin:
            problems.append(f"track {label}: ends (frame {end}) before it begins ({begin})")
        if parent < 0:
            problems.append(f"track {label}: parent {parent} is negative (0 means no parent)")
        elif parent and parent == label:
            problems.append(f"track {label}: is its own parent")
    for rec in tracks:
        label, begin, _, parent = (int(v) for v in rec)
        if parent <= 0 or parent == label:
            continue
        mother = by_label.get(parent)
        if mother is None:
            problems.append(f"track {label}: parent {parent} is not a track of the lineage")
        elif mother.end >= begin:
            problems.append(
                f"track {label}: begins at frame {begin} but its parent {parent} ends at "
                f"frame {mother.end}; a mother must end before her daughters begin"
            )
    if labels is not None and presence is None:
        presence = label_presence(labels)
        n_frames = stack_shape(labels, "label stack")[0]
    if presence is not None:
        problems += _presence_problems(by_label, presence, n_frames)
    return problems


def _presence_problems(
    by_label: Mapping[int, TrackRecord],
    presence: Mapping[int, np.ndarray],
    n_frames: int | None,
) -> list[str]:
    problems = []
    for label, rec in sorted(by_label.items()):
        if n_frames is not None and rec.end >= n_frames:
            problems.append(
                f"track {label}: ends at frame {rec.end} but the stack has {n_frames} frames"
            )
        present = presence.get(label)
        if present is None or len(present) == 0:
            problems.append(f"track {label}: label {label} is in no frame of the stack")
            continue
        span = np.arange(rec.begin, rec.end + 1)
        missing = np.setdiff1d(span, present)
        outside = np.setdiff1d(present, span)
        if missing.size:
            problems.append(
                f"track {label}: label missing from frame(s) {_listed(missing)} of its span "
                f"{rec.begin}-{rec.end} (a track's frames must be contiguous; "
                "make_ctc_valid splits such tracks)"
            )
        if outside.size:
            problems.append(
                f"track {label}: label present in frame(s) {_listed(outside)} outside its "
                f"span {rec.begin}-{rec.end}"
            )
    unlisted = sorted(set(presence) - set(by_label))
    if unlisted:
        problems.append(f"label(s) {_listed(unlisted)} are in the stack but have no track")
    return problems


def check_lineage(tracks: Iterable[TrackRecord], labels: Any = None) -> None:
    """Raise :class:`LineageError` unless the lineage follows the CTC rules.

    Parameters
    ----------
    tracks : iterable of TrackRecord
        The lineage.
    labels : array-like, optional
        (T, H, W) label stack it describes, read frame by frame.

    Raises
    ------
    LineageError
        Listing every problem found by :func:`lineage_problems`.
    """
    problems = lineage_problems(tracks, labels)
    if problems:
        raise LineageError(problems)
