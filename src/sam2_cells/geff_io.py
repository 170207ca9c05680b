"""Export a tracking result as a GEFF graph (graph exchange file format, zarr based).

One node per (track, frame) with properties ``t``, ``y``, ``x`` (centroid, pixels),
``area`` (pixels), ``track_id`` (the CTC label, equal to the label value in the masks) and
``lineage_id`` (the label of the lineage's founder). Directed edges join consecutive frames
of a track and a mother's last node to each daughter's first node. The metadata declare the
axes (t: time, y and x: space) and the lineage property, and the tracklet property when
every track is a maximal unbranched path (no mother with exactly one daughter), so that
GEFF readers (napari-geff, motile-tracker, TrackMate converters) understand the graph.

Written with the ``geff`` library's own writer (``geff.core_io.write_arrays``), which
validates the structure, into a temporary sibling that is renamed into place.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np

from sam2_cells._frames import frame_at, region_stats, stack_shape
from sam2_cells.lineage import Lineage, LineageError, TrackRecord
from sam2_cells.lineage_checks import lineage_problems
from sam2_engine import atomic_dir

__all__ = ["TrackingGraph", "tracking_graph", "write_geff"]


@dataclass(frozen=True)
class TrackingGraph:
    """A tracking graph as arrays (what :func:`write_geff` stores).

    Attributes
    ----------
    node_ids : numpy.ndarray
        (N,) ``uint64`` ids ``0..N-1``, sorted by track then frame.
    t : numpy.ndarray
        (N,) ``int64`` frame of each node.
    y, x : numpy.ndarray
        (N,) ``float64`` centroid row and column (pixels).
    area : numpy.ndarray
        (N,) ``int64`` pixel counts.
    track_id, lineage_id : numpy.ndarray
        (N,) ``int64`` CTC label of the node's track and of its lineage founder.
    edges : numpy.ndarray
        (E, 2) ``uint64`` (source, target) node ids, forward in time.
    is_division : numpy.ndarray
        (E,) ``bool``: the edge joins a mother to a daughter.
    """

    node_ids: np.ndarray
    t: np.ndarray
    y: np.ndarray
    x: np.ndarray
    area: np.ndarray
    track_id: np.ndarray
    lineage_id: np.ndarray
    edges: np.ndarray
    is_division: np.ndarray


def tracking_graph(labels: Any, tracks: Iterable[TrackRecord]) -> TrackingGraph:
    """Build the tracking graph of a label stack and its lineage.

    Parameters
    ----------
    labels : array-like
        (T, H, W) tracked labels, read one frame at a time.
    tracks : iterable of TrackRecord
        Their lineage; must follow the CTC rules.

    Returns
    -------
    TrackingGraph

    Raises
    ------
    LineageError
        If the lineage does not match the labels.
    """
    lineage = Lineage(tracks)
    n_frames = stack_shape(labels, "label stack")[0]
    cols: list[np.ndarray] = []
    presence: dict[int, list[int]] = {}
    for t in range(n_frames):
        ids, areas, cy, cx = region_stats(frame_at(labels, t))
        cols.append(np.column_stack([ids, np.full(len(ids), t), cy, cx, areas]))
        for label in ids.tolist():
            presence.setdefault(label, []).append(t)
    problems = lineage_problems(
        lineage.tracks,
        presence={k: np.asarray(v) for k, v in presence.items()},
        n_frames=n_frames,
    )
    if problems:
        raise LineageError(problems, "tracking result")
    table = np.concatenate(cols) if cols else np.zeros((0, 5))
    table = table[np.lexsort((table[:, 1], table[:, 0]))]
    track_id = table[:, 0].astype(np.int64)
    t = table[:, 1].astype(np.int64)
    node_ids = np.arange(len(table), dtype=np.uint64)
    same = track_id[1:] == track_id[:-1]
    edges = [np.column_stack([node_ids[:-1][same], node_ids[1:][same]])]
    first = {int(k): int(i) for k, i in zip(*np.unique(track_id, return_index=True), strict=True)}
    last = {k: i + len(presence[k]) - 1 for k, i in first.items()}
    division = [(last[r.parent], first[r.label]) for r in lineage if r.parent]
    edges.append(np.asarray(division, dtype=np.uint64).reshape(-1, 2))
    roots = {r.label: lineage.root(r.label) for r in lineage}
    return TrackingGraph(
        node_ids=node_ids,
        t=t,
        y=table[:, 2].astype(np.float64),
        x=table[:, 3].astype(np.float64),
        area=table[:, 4].astype(np.int64),
        track_id=track_id,
        lineage_id=np.asarray([roots[k] for k in track_id.tolist()], dtype=np.int64),
        edges=np.concatenate(edges).astype(np.uint64),
        is_division=np.concatenate(
            [np.zeros(int(same.sum()), dtype=bool), np.ones(len(division), dtype=bool)]
        ),
    )


def write_geff(
    labels: Any,
    tracks: Iterable[TrackRecord],
    path: str | os.PathLike[str],
    *,
    overwrite: bool = False,
    zarr_format: Literal[2, 3] = 2,
) -> Path:
    """Write the tracking graph of a result as a GEFF zarr store.

    Parameters
    ----------
    labels : array-like
        (T, H, W) tracked labels, read one frame at a time.
    tracks : iterable of TrackRecord
        Their lineage (CTC rules).
    path : path
        The store to create, conventionally ``name.geff`` or ``name.zarr``.
    overwrite : bool
        Replace an existing store (only once the new one is complete).
    zarr_format : {2, 3}
        zarr specification version; 2 (the geff default) is readable by the most tools.

    Returns
    -------
    pathlib.Path
        ``path``; read it back with ``geff.read_to_memory`` / ``geff.read``.

    Raises
    ------
    FileExistsError
        If ``path`` exists and ``overwrite`` is False.
    LineageError
        If the lineage does not match the labels.
    """
    import geff
    from geff.core_io import write_arrays
    from geff_spec import Axis, GeffMetadata

    path = Path(path)
    if path.exists() and not overwrite:
        raise FileExistsError(f"{path} exists; pass overwrite=True to replace it")
    tracks = list(tracks)
    graph = tracking_graph(labels, tracks)
    children = Lineage(tracks)
    maximal = all(len(children.children(r.label)) != 1 for r in children)
    track_props: dict[str, str] = {"lineage": "lineage_id"}
    if maximal:
        track_props["tracklet"] = "track_id"
    node_props = {
        name: {"values": getattr(graph, name), "missing": None}
        for name in ("t", "y", "x", "area", "track_id", "lineage_id")
    }
    edge_props = {"is_division": {"values": graph.is_division, "missing": None}}
    metadata = GeffMetadata(
        geff_version=geff.__version__,
        directed=True,
        axes=[
            Axis(name="t", type="time"),
            Axis(name="y", type="space"),
            Axis(name="x", type="space"),
        ],
        node_props_metadata={},
        edge_props_metadata={},
        track_node_props=track_props,  # type: ignore[arg-type]
        extra={"generator": "sam2_cells", "ctc_label_prop": "track_id"},
    )
    with atomic_dir(path) as tmp:
        tmp.rmdir()  # geff refuses to write into an existing path
        write_arrays(
            str(tmp),
            graph.node_ids,
            node_props,
            graph.edges,
            edge_props,
            metadata,  # type: ignore[arg-type]
            zarr_format=zarr_format,
        )
    return path
