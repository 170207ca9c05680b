"""Linking a long movie in overlapping windows of frames, stitched into one graph.

laptrack's LAP holds a ``networkx`` graph over every detection it links (about 2.5 KB a
detection), so one global LAP over a long movie grows with the movie.
:class:`~sam2_cells.linking.LapLinker` links a movie longer than
``LinkSettings.window_frames`` in windows instead: each window is linked on its own (the
LAP and the division rules, with the movie's own typical motion and area), and each
decides only the frames in the middle of it, away from its edges:

::

    window 0  |===========owned===========|~~margin~~|
    window 1              |~~margin~~|=========owned=========|~~margin~~|
    window 2                                    |~~margin~~|======owned=====...

A window *owns* a frame when it decides which detections of that frame are kept and
which link enters each of them (a move from the frame before, a closed gap, a daughter's
link to her mother). ``margin`` frames of context on either side of what a window owns
cover the look-back and look-ahead of every rule (gap closing, the mother's history in
:func:`~sam2_cells.divisions.undo_static_mothers`, the merge window, the short-daughter
filter) plus a few frames for the LAP to settle, so a window decides its own frames as
the global LAP would. Where two windows disagree at their seam, the earlier one's links
out of a detection win (no detection gets links from two windows).

:class:`LinkGraph` is the stitched result, compact: per detection (numbered frame by
frame, ``offsets[t] + i`` for detection ``i`` of frame ``t``), whether it is kept, its
predecessor and up to two successors, in numpy arrays (33 bytes a detection).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

__all__ = ["LinkGraph", "Window", "plan_windows"]


@dataclass(frozen=True)
class Window:
    """Frames ``start .. stop - 1`` are linked together; frames ``own_from .. own_to -
    1`` are decided by this window."""

    start: int
    stop: int
    own_from: int
    own_to: int


def plan_windows(n_frames: int, window: int, margin: int) -> list[Window]:
    """The windows that link a movie of ``n_frames`` (see the module docstring).

    Parameters
    ----------
    n_frames
        Frames in the movie.
    window
        Frames per window; 0 (or at least ``n_frames``): one window, the whole movie.
    margin
        Frames of context each side of what a window owns; ``window > 2 * margin``.

    Returns
    -------
    list of Window
        In order; their owned frames tile ``0 .. n_frames - 1``.
    """
    if window <= 0 or n_frames <= window:
        return [Window(0, n_frames, 0, n_frames)]
    if window <= 2 * margin:
        raise ValueError(f"window={window} frames must be more than twice the margin {margin}")
    step = window - 2 * margin
    out: list[Window] = []
    start, own_from = 0, 0
    while start + window < n_frames:
        own_to = start + window - margin
        out.append(Window(start, start + window, own_from, own_to))
        start, own_from = start + step, own_to
    out.append(Window(start, n_frames, own_from, n_frames))
    return out


class LinkGraph:
    """Detections linked forward in time, compact (see the module docstring).

    Parameters
    ----------
    counts
        Detections per frame, frames 0..T-1.

    Attributes
    ----------
    offsets : np.ndarray
        (T + 1,) int64: detection ``i`` of frame ``t`` is node ``offsets[t] + i``.
    frame : np.ndarray
        (N,) int32: the frame of each node.
    kept : np.ndarray
        (N,) bool: the node is part of the result (the linker may drop detections).
    pred : np.ndarray
        (N,) int64: the node linked into each node, -1 for none.
    succ : np.ndarray
        (N, 2) int64: the nodes each node links to (two for a mother), -1 for none.
    """

    def __init__(self, counts: Sequence[int]) -> None:
        self.offsets = np.concatenate([[0], np.cumsum(np.asarray(counts, np.int64))])
        n = int(self.offsets[-1])
        self.frame = np.repeat(np.arange(len(counts), dtype=np.int32), np.asarray(counts, int))
        self.kept = np.zeros(n, bool)
        self.pred = np.full(n, -1, np.int64)
        self.succ = np.full((n, 2), -1, np.int64)
        self._owner = np.full(n, -1, np.int32)  # the window whose links leave each node

    def __len__(self) -> int:
        return int(self.offsets[-1])

    def add(self, graph: object, window: Window, number: int = 0) -> None:
        """Take what ``window`` decides from its LAP ``graph``.

        Parameters
        ----------
        graph
            ``networkx.DiGraph`` over ``(frame - window.start, index)`` nodes, edges
            forward in time (laptrack's, after the division rules).
        window
            The frames ``graph`` covers and those it owns.
        number
            The window's position in the plan (windows are added in order).
        """
        g = graph
        off, lo, hi, s = self.offsets, window.own_from, window.own_to, window.start
        for t, i in g.nodes:  # type: ignore[attr-defined]
            if lo <= t + s < hi:
                self.kept[off[t + s] + i] = True
        edges = sorted(g.edges, key=lambda e: (e[1], e[0]))  # type: ignore[attr-defined]
        for (ta, ia), (tb, ib) in edges:
            if not lo <= tb + s < hi:
                continue
            a, b = int(off[ta + s] + ia), int(off[tb + s] + ib)
            if not self.kept[a] or self._owner[a] not in (-1, number):
                continue  # dropped, or an earlier window links out of it already
            slot = 0 if self.succ[a, 0] < 0 else 1
            if self.succ[a, slot] >= 0 or self.pred[b] >= 0:
                raise ValueError(f"node {(ta + s, ia)} has more links than a LAP graph gives")
            self.succ[a, slot], self.pred[b], self._owner[a] = b, a, number

    @classmethod
    def from_graph(cls, graph: object, counts: Sequence[int]) -> LinkGraph:
        """The whole movie's LAP graph (one window), compact."""
        out = cls(counts)
        out.add(graph, Window(0, len(counts), 0, len(counts)))
        return out

    def successors(self, node: int) -> list[int]:
        """The node's successors, in order of (frame, index)."""
        return sorted(int(n) for n in self.succ[node] if n >= 0)

    def chains(self) -> tuple[np.ndarray, list[list[int]]]:
        """Split the graph into tracks on contiguous frames, CTC-style.

        Every unbranched run of links between consecutive frames is one track; a
        division ends the mother, whose daughters start tracks with her as parent; a
        closed gap starts a new track whose parent is the track before the gap. Tracks
        are numbered 1.. in depth-first order from the roots, taken in (frame, index)
        order.

        Returns
        -------
        label_of : np.ndarray
            (N,) int64: each node's track number, 0 where not kept.
        records : list of [begin, end, parent]
            ``records[k - 1]`` for track ``k`` (parent 0: none).
        """
        label_of = np.zeros(len(self), np.int64)
        records: list[list[int]] = []
        roots = np.flatnonzero(self.kept & (self.pred < 0))
        stack: list[tuple[int, int]] = [(int(n), 0) for n in roots[::-1]]
        frame = self.frame
        while stack:
            node, mother = stack.pop()
            records.append([int(frame[node]), int(frame[node]), mother])
            label = len(records)
            while True:
                label_of[node] = label
                records[-1][1] = int(frame[node])
                succ = self.successors(node)
                if len(succ) == 1:
                    if frame[succ[0]] == frame[node] + 1:
                        node = succ[0]
                        continue
                    stack.append((succ[0], label))  # a closed gap: a new track, CTC-style
                    break
                stack.extend((n, label) for n in reversed(succ))
                break
        return label_of, records
