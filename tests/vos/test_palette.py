"""Palette PNGs: the DAVIS colour table, round trips, clear refusals."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from sam2_vos.palette import davis_palette, read_label_png, write_label_png


def test_davis_palette_is_the_voc_colour_map():
    table = np.frombuffer(davis_palette(), dtype=np.uint8).reshape(256, 3)
    assert table[0].tolist() == [0, 0, 0]
    assert table[1].tolist() == [128, 0, 0]
    assert table[2].tolist() == [0, 128, 0]
    assert table[3].tolist() == [128, 128, 0]
    assert table[4].tolist() == [0, 0, 128]
    assert table[7].tolist() == [128, 128, 128]
    assert table[8].tolist() == [64, 0, 0]
    assert table[255].tolist() == [224, 224, 192]
    assert len({tuple(c) for c in table}) == 256


def test_labels_and_palette_survive_a_round_trip(tmp_path):
    labels = np.random.default_rng(0).integers(0, 6, (17, 23)).astype(np.uint8)
    palette = bytes(np.random.default_rng(1).integers(0, 256, 768, dtype=np.uint8))
    path = tmp_path / "a.png"
    write_label_png(path, labels, palette)
    back, back_palette = read_label_png(path)
    np.testing.assert_array_equal(back, labels)
    assert back_palette[:18] == palette[:18]  # PIL may trim unused entries
    assert [p.name for p in tmp_path.iterdir()] == ["a.png"], "no temporary file is left"


def test_greyscale_pngs_are_read_as_ids_without_palette(tmp_path):
    Image.fromarray(np.array([[0, 3], [7, 0]], dtype=np.uint8), mode="L").save(tmp_path / "g.png")
    labels, palette = read_label_png(tmp_path / "g.png")
    assert labels.tolist() == [[0, 3], [7, 0]] and palette is None


def test_colour_pngs_and_large_ids_are_refused(tmp_path):
    Image.new("RGB", (4, 4)).save(tmp_path / "rgb.png")
    with pytest.raises(ValueError, match="not object ids"):
        read_label_png(tmp_path / "rgb.png")
    with pytest.raises(ValueError, match=r"0\.\.255"):
        write_label_png(tmp_path / "big.png", np.array([[0, 300]]))
    assert not (tmp_path / "big.png").exists()
