"""Tests of the synthetic data generators (sam2_synthetic)."""

from __future__ import annotations

import dataclasses
import itertools
from pathlib import Path

import numpy as np
import pytest
import tifffile

from sam2_cells import TrackRecord, write_ctc_dataset
from sam2_synthetic import (
    SyntheticImage,
    SyntheticTimelapse,
    fluorescence_image,
    natural_rgb_image,
    natural_rgb_scene,
    nuclei_timelapse,
    nuclei_zstack,
)

SMALL = {
    "image": lambda seed: fluorescence_image((96, 128), 8, seed=seed),
    "timelapse": lambda seed: nuclei_timelapse(8, (96, 96), 5, seed=seed, division_rate=0.1),
    "zstack": lambda seed: nuclei_zstack(10, (64, 64), 4, seed=seed, radius=(8, 12)),
    "rgb": lambda seed: natural_rgb_scene((64, 80), seed=seed),
}


def _arrays(data: object) -> list[np.ndarray]:
    if isinstance(data, np.ndarray):
        return [data]
    if isinstance(data, SyntheticTimelapse):
        return [data.movie, data.labels]
    assert isinstance(data, SyntheticImage)
    return [data.image, data.labels]


@pytest.fixture(scope="module")
def timelapse() -> SyntheticTimelapse:
    """The default time-lapse (the one the demo and the plugin's sample menu show)."""
    return nuclei_timelapse()


def assert_consecutive_ids(labels: np.ndarray) -> None:
    ids = np.unique(labels)
    assert ids[0] == 0
    np.testing.assert_array_equal(ids[1:], np.arange(1, ids.size))


# --------------------------------------------------------------------------- determinism


@pytest.mark.parametrize("name", sorted(SMALL))
def test_same_seed_gives_identical_data(name: str) -> None:
    first, second = SMALL[name](3), SMALL[name](3)
    for a, b in zip(_arrays(first), _arrays(second), strict=True):
        np.testing.assert_array_equal(a, b)
    if isinstance(first, SyntheticTimelapse):
        assert first.tracks == second.tracks


@pytest.mark.parametrize("name", sorted(SMALL))
def test_different_seeds_give_different_data(name: str) -> None:
    for a, b in zip(_arrays(SMALL[name](1)), _arrays(SMALL[name](2)), strict=True):
        assert not np.array_equal(a, b)


def test_natural_rgb_image_is_the_scene_image() -> None:
    np.testing.assert_array_equal(natural_rgb_image((64, 80), seed=4), SMALL["rgb"](4).image)


# --------------------------------------------------------------------------- shapes and dtypes


def test_fluorescence_image_defaults() -> None:
    data = fluorescence_image()
    assert data.image.shape == (256, 256) and data.image.dtype == np.uint16
    assert data.labels.shape == (256, 256) and data.labels.dtype == np.int32
    assert data.n_objects == 25
    assert_consecutive_ids(data.labels)


def test_timelapse_defaults(timelapse: SyntheticTimelapse) -> None:
    assert timelapse.movie.shape == (30, 256, 256) and timelapse.movie.dtype == np.uint16
    assert timelapse.labels.shape == (30, 256, 256) and timelapse.labels.dtype == np.int32
    assert all(isinstance(t, TrackRecord) for t in timelapse.tracks)


def test_zstack_defaults() -> None:
    data = nuclei_zstack()
    assert data.image.shape == (24, 192, 192) and data.image.dtype == np.uint16
    assert data.labels.shape == (24, 192, 192) and data.labels.dtype == np.int32
    assert data.n_objects == 10
    assert_consecutive_ids(data.labels)


def test_natural_rgb_image_defaults() -> None:
    image = natural_rgb_image()
    assert image.shape == (256, 256, 3) and image.dtype == np.uint8
    scene = natural_rgb_scene()
    assert_consecutive_ids(scene.labels)
    assert scene.n_objects == 5
    # every object has its own colour, distinct from the background
    means = [scene.image[scene.labels == i].mean(axis=0) for i in range(scene.n_objects + 1)]
    gaps = [np.abs(a - b).max() for i, a in enumerate(means) for b in means[i + 1 :]]
    assert min(gaps) > 20


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.int32, np.float32])
def test_output_dtype(dtype: type) -> None:
    data = fluorescence_image((64, 64), 4, seed=0, dtype=dtype)
    assert data.image.dtype == dtype
    movie = nuclei_timelapse(2, (64, 64), 2, seed=0, dtype=dtype).movie
    assert movie.dtype == dtype
    assert nuclei_zstack(4, (48, 48), 2, seed=0, radius=(6, 8), dtype=dtype).image.dtype == dtype


def test_uint8_is_not_saturated() -> None:
    image = fluorescence_image(seed=0, dtype=np.uint8).image
    assert (image == 255).mean() < 0.01
    assert (image == 0).mean() < 0.01


def test_labels_are_consecutive_in_small_outputs() -> None:
    for name in ("image", "zstack", "rgb"):
        assert_consecutive_ids(SMALL[name](0).labels)
    assert_consecutive_ids(SMALL["timelapse"](0).labels)


# --------------------------------------------------------------------------- intensities


@pytest.mark.parametrize(
    "make",
    [
        pytest.param(lambda: _arrays(fluorescence_image(seed=5)), id="image"),
        pytest.param(lambda: _arrays(nuclei_zstack(seed=5)), id="zstack"),
        pytest.param(lambda: _arrays(nuclei_timelapse(5, seed=5)), id="timelapse"),
    ],
)
def test_nuclei_are_brighter_than_background(make) -> None:
    image, labels = make()
    inside = image[labels > 0].astype(np.float64)
    outside = image[labels == 0].astype(np.float64)
    contrast = (inside.mean() - outside.mean()) / outside.std()
    assert inside.mean() > 2 * outside.mean()
    assert contrast > 3


def test_uint16_uses_thousands_of_grey_levels() -> None:
    image = fluorescence_image(seed=0).image
    assert np.unique(image).size > 1000
    assert 50 < image.min() and image.max() < 20_000  # above the camera offset, not saturated


def test_snr_controls_noise() -> None:
    def background_std(snr: float) -> float:
        data = fluorescence_image((128, 128), 6, seed=0, snr=snr)
        image = data.image.astype(np.float64)
        inside = image[data.labels > 0].mean() - image[data.labels == 0].mean()
        return image[data.labels == 0].std() / inside

    assert background_std(4.0) > 1.5 * background_std(16.0)


# --------------------------------------------------------------------------- time-lapse lineage


def test_default_timelapse_has_divisions(timelapse: SyntheticTimelapse) -> None:
    assert timelapse.n_divisions >= 2


def test_lineage_matches_labels(timelapse: SyntheticTimelapse) -> None:
    tracks = timelapse.tracks
    assert [t.label for t in tracks] == list(range(1, len(tracks) + 1))
    assert_consecutive_ids(timelapse.labels)
    assert int(timelapse.labels.max()) == len(tracks)
    for track in tracks:
        present = np.flatnonzero((timelapse.labels == track.label).any(axis=(1, 2)))
        assert present.size > 0, track
        # present in exactly the frames begin..end, without gaps
        np.testing.assert_array_equal(present, np.arange(track.begin, track.end + 1))


def test_daughters_begin_the_frame_after_their_mother_ends(
    timelapse: SyntheticTimelapse,
) -> None:
    by_label = {t.label: t for t in timelapse.tracks}
    daughters: dict[int, list[int]] = {}
    for track in timelapse.tracks:
        if track.parent == 0:
            assert track.begin == 0  # roots are the nuclei of the first frame
            continue
        mother = by_label[track.parent]
        assert mother.end == track.begin - 1
        assert mother.label < track.label
        daughters.setdefault(mother.label, []).append(track.label)
    assert all(len(children) == 2 for children in daughters.values())


def test_nuclei_stay_inside_the_field(timelapse: SyntheticTimelapse) -> None:
    labels = timelapse.labels
    border = np.concatenate(
        [labels[:, 0, :], labels[:, -1, :], labels[:, :, 0], labels[:, :, -1]], axis=1
    )
    assert not border.any()


def test_tracks_move_smoothly(timelapse: SyntheticTimelapse) -> None:
    steps = []
    for track in timelapse.tracks:
        centres = [
            np.argwhere(timelapse.labels[t] == track.label).mean(axis=0)
            for t in range(track.begin, track.end + 1)
        ]
        steps += [np.hypot(*(b - a)) for a, b in itertools.pairwise(centres)]
    steps = np.array(steps)
    assert 0.5 < steps.mean() < 4.0  # moving, at about the requested speed
    assert steps.max() < 15  # no jumps that would break tracking by overlap


def test_no_division_without_division_rate() -> None:
    data = nuclei_timelapse(10, (96, 96), 4, seed=0, division_rate=0)
    assert data.n_divisions == 0
    assert all(t == TrackRecord(t.label, 0, 9, 0) for t in data.tracks)


# --------------------------------------------------------------------------- z-stack


def test_zstack_nuclei_span_several_planes() -> None:
    labels = nuclei_zstack(seed=2).labels
    for label in range(1, int(labels.max()) + 1):
        planes = np.flatnonzero((labels == label).any(axis=(1, 2)))
        assert planes.size >= 3
        np.testing.assert_array_equal(planes, np.arange(planes[0], planes[-1] + 1))


# --------------------------------------------------------------------------- CTC export


def test_write_ctc_folder_round_trip(tmp_path: Path) -> None:
    data = SMALL["timelapse"](0)
    assert data.n_divisions >= 1
    root = write_ctc_dataset(data.movie, data.labels, data.tracks, tmp_path / "ctc")
    assert root == tmp_path / "ctc"
    n = len(data.movie)
    assert sorted(p.name for p in (root / "01").iterdir()) == [f"t{t:03d}.tif" for t in range(n)]
    for t in range(n):
        np.testing.assert_array_equal(tifffile.imread(root / "01" / f"t{t:03d}.tif"), data.movie[t])
        tra = tifffile.imread(root / "01_GT" / "TRA" / f"man_track{t:03d}.tif")
        seg = tifffile.imread(root / "01_GT" / "SEG" / f"man_seg{t:03d}.tif")
        assert tra.dtype == np.uint16 and seg.dtype == np.uint16
        np.testing.assert_array_equal(tra, data.labels[t])
        np.testing.assert_array_equal(seg, data.labels[t])
    lines = (root / "01_GT" / "TRA" / "man_track.txt").read_text().splitlines()
    assert [TrackRecord(*map(int, line.split())) for line in lines] == data.tracks


def test_write_ctc_folder_other_sequence(tmp_path: Path) -> None:
    data = nuclei_timelapse(2, (64, 64), 2, seed=0)
    write_ctc_dataset(data.movie, data.labels, data.tracks, str(tmp_path), sequence="02")
    assert (tmp_path / "02" / "t001.tif").is_file()
    assert (tmp_path / "02_GT" / "TRA" / "man_track.txt").is_file()


# --------------------------------------------------------------------------- containers and errors


def test_containers_are_frozen_with_short_repr(timelapse: SyntheticTimelapse) -> None:
    data = SMALL["image"](0)
    with pytest.raises(dataclasses.FrozenInstanceError):
        data.image = data.labels  # type: ignore[misc]
    text = repr(data)
    assert text == "SyntheticImage(image=uint16(96, 128), labels=int32(96, 128), n_objects=8)"
    text = repr(timelapse)
    assert text.startswith("SyntheticTimelapse(movie=uint16(30, 256, 256), labels=int32(")
    assert len(text) < 150
    assert TrackRecord(3, 1, 4, 2).to_ctc() == "3 1 4 2"


@pytest.mark.parametrize(
    "call",
    [
        lambda: fluorescence_image((16, 16)),
        lambda: fluorescence_image((64, 64, 3)),
        lambda: fluorescence_image(radius=(10, 5)),
        lambda: fluorescence_image(snr=0),
        lambda: fluorescence_image(n_nuclei=-1),
        lambda: fluorescence_image(dtype=bool),
        lambda: nuclei_timelapse(0),
        lambda: nuclei_timelapse(speed=-1),
        lambda: nuclei_timelapse(division_rate=float("nan")),
        lambda: nuclei_timelapse(shape=(64, 64), radius=(20, 30)),
        lambda: nuclei_zstack(n_planes=2),
        lambda: nuclei_zstack(z_step=0),
        lambda: natural_rgb_scene(n_objects=20),
    ],
)
def test_bad_arguments_raise_value_error(call) -> None:
    with pytest.raises(ValueError, match="pass"):
        call()


def test_crowded_field_places_as_many_as_fit() -> None:
    data = fluorescence_image((64, 64), 200, seed=0, radius=(8, 10))
    assert 0 < data.n_objects < 200
    assert_consecutive_ids(data.labels)
    assert fluorescence_image((64, 64), 0, seed=0).n_objects == 0
