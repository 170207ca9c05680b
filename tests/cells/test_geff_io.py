"""GEFF export: written with the geff library, read back and validated by it."""

from __future__ import annotations

import geff
import numpy as np
import pytest
from geff.core_io import read_to_memory
from geff.validate.data import ValidationConfig

from sam2_cells import LineageError, TrackRecord, make_ctc_valid, tracking_graph, write_geff

FULL_CHECK = ValidationConfig(graph=True, tracklet=True, lineage=True)


def test_geff_round_trip_of_a_synthetic_sequence(tmp_path, sequence):
    path = write_geff(sequence.labels, sequence.tracks, tmp_path / "tracks.geff")
    geff.validate_structure(str(path))
    memory = read_to_memory(str(path), data_validation=FULL_CHECK)
    meta = memory["metadata"]
    assert meta.directed and [a.name for a in meta.axes] == ["t", "y", "x"]
    assert [a.type for a in meta.axes] == ["time", "space", "space"]
    assert meta.track_node_props == {"lineage": "lineage_id", "tracklet": "track_id"}
    props = {name: memory["node_props"][name]["values"] for name in memory["node_props"]}
    assert set(props) == {"t", "y", "x", "area", "track_id", "lineage_id"}

    n_nodes = sum(t.end - t.begin + 1 for t in sequence.tracks)
    assert len(memory["node_ids"]) == n_nodes
    n_daughters = sum(1 for t in sequence.tracks if t.parent)
    n_steps = sum(t.end - t.begin for t in sequence.tracks)
    assert len(memory["edge_ids"]) == n_steps + n_daughters
    assert memory["edge_props"]["is_division"]["values"].sum() == n_daughters

    # every node is a (track, frame) with the centroid and area of that label there
    key = {int(n): i for i, n in enumerate(memory["node_ids"])}
    for i in range(0, n_nodes, 7):
        t, label = int(props["t"][i]), int(props["track_id"][i])
        rows, cols = np.nonzero(sequence.labels[t] == label)
        assert props["area"][i] == rows.size
        np.testing.assert_allclose([props["y"][i], props["x"][i]], [rows.mean(), cols.mean()])
    # a division edge goes from the mother's last node to a daughter's first node
    daughter = next(t for t in sequence.tracks if t.parent)
    mother = next(t for t in sequence.tracks if t.label == daughter.parent)
    edges = {(key[int(a)], key[int(b)]) for a, b in memory["edge_ids"]}
    node = {(int(props["track_id"][i]), int(props["t"][i])): i for i in range(n_nodes)}
    assert (node[(mother.label, mother.end)], node[(daughter.label, daughter.begin)]) in edges
    assert props["lineage_id"][node[(daughter.label, daughter.begin)]] == mother.label


def test_networkx_reader_sees_the_same_graph(tmp_path, tiny):
    labels, tracks = tiny
    path = write_geff(labels, tracks, tmp_path / "t.geff")
    graph, _ = geff.read(str(path), backend="networkx")
    assert graph.number_of_nodes() == 15 and graph.number_of_edges() == 11 + 2
    mother_end = next(n for n, d in graph.nodes(data=True) if d["track_id"] == 1 and d["t"] == 2)
    assert sorted(graph.nodes[s]["track_id"] for s in graph.successors(mother_end)) == [2, 3]


def test_a_gap_split_lineage_declares_no_tracklets(tmp_path, tiny):
    labels, _ = tiny
    gappy = labels.copy()
    gappy[3][gappy[3] == 4] = 0
    stack, tracks = make_ctc_valid(gappy, {2: 1, 3: 1})
    assert TrackRecord(5, 4, 5, 4) in tracks  # the continuation of 4 after its gap
    path = write_geff(stack, tracks, tmp_path / "g.geff")
    memory = read_to_memory(str(path), data_validation=ValidationConfig(graph=True, lineage=True))
    assert memory["metadata"].track_node_props == {"lineage": "lineage_id"}


def test_existing_stores_and_invalid_lineages(tmp_path, tiny):
    labels, tracks = tiny
    path = write_geff(labels, tracks, tmp_path / "t.geff")
    with pytest.raises(FileExistsError, match="overwrite"):
        write_geff(labels, tracks, path)
    write_geff(labels, tracks, path, overwrite=True)
    with pytest.raises(LineageError):
        write_geff(labels, tracks[:3], tmp_path / "bad.geff")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["t.geff"]


def test_tracking_graph_arrays(tiny):
    labels, tracks = tiny
    graph = tracking_graph(labels, tracks)
    assert graph.node_ids.dtype == np.uint64 and len(graph.node_ids) == 15
    assert graph.edges.shape == (13, 2) and graph.is_division.sum() == 2
    assert set(graph.lineage_id[graph.track_id == 3]) == {1}
