"""Ready-made sample data from the realistic generators, for napari's sample menu and demos.

Each function is seeded, uses a fixed, typical look (not a random style) and runs in well
under two seconds: a still field, a time-lapse with divisions and a z-stack.
"""

from __future__ import annotations

import dataclasses

from sam2_synthetic.dynamics import Dynamics
from sam2_synthetic.microscopy import microscopy_image
from sam2_synthetic.movie import microscopy_timelapse
from sam2_synthetic.results import SyntheticImage, SyntheticTimelapse
from sam2_synthetic.stack import microscopy_zstack
from sam2_synthetic.style import MODALITIES, Style

__all__ = ["sample_field", "sample_style", "sample_timelapse", "sample_zstack"]

#: A typical widefield nuclear stain on a 12-bit camera.
_NUCLEAR = Style(
    modality="nuclear",
    diameter=22.0,
    size_spread=0.18,
    coverage=0.3,
    clustering=0.5,
    overlap=0.05,
    elongation=0.3,
    irregularity=0.06,
    mitotic_fraction=0.04,
    dividing_fraction=0.03,
    brightness_spread=0.35,
    dim_fraction=0.05,
    texture=0.35,
    nucleoli=1.5,
    nucleolus_contrast=-0.35,
    rim=0.25,
    psf_sigma=1.2,
    defocus_fraction=0.1,
    haze=0.1,
    background=0.08,
    autofluorescence=0.2,
    gradient=0.15,
    vignetting=0.2,
    debris=0.6,
    fibres=1,
    ghosts=2,
    snr=12.0,
    read_noise=2.0,
    fixed_pattern=0.005,
    dtype="uint16",
    bit_depth=12,
    grey_levels=2500.0,
    offset=100.0,
)

_CHANGES: dict[str, dict] = {
    "nuclear": {},
    "cytoplasm": {"diameter": 36.0, "elongation": 0.6, "irregularity": 0.18, "texture": 0.2},
    "membrane": {"diameter": 36.0, "coverage": 0.5, "irregularity": 0.15, "interior": 0.15},
    "phase": {"diameter": 34.0, "elongation": 0.6, "irregularity": 0.18, "contrast": 0.35},
    "brightfield": {"diameter": 34.0, "elongation": 0.5, "irregularity": 0.15, "contrast": 0.3},
    "dic": {"diameter": 34.0, "elongation": 0.5, "irregularity": 0.15, "contrast": 0.35},
}


def sample_style(modality: str = "nuclear") -> Style:
    """The fixed look of the sample data for ``modality`` (one of ``MODALITIES``)."""
    if modality not in MODALITIES:
        raise ValueError(f"modality={modality!r} is not valid; pass one of {MODALITIES}.")
    changes = dict(_CHANGES[modality])
    if modality in ("phase", "brightfield", "dic"):
        changes |= {"snr": 60.0, "grey_levels": 3000.0, "debris": 1.0, "ghosts": 0}
    return dataclasses.replace(_NUCLEAR, modality=modality, **changes)


def sample_field(
    modality: str = "nuclear", shape: tuple[int, int] = (512, 512), *, seed: int = 0
) -> SyntheticImage:
    """A still field, (row, col): ``image`` uint16 (12-bit) and ``labels`` int32.

    Examples
    --------
    >>> sample_field(shape=(128, 128)).image.shape
    (128, 128)
    """
    return microscopy_image(shape, seed=seed, style=sample_style(modality))


def sample_timelapse(
    n_frames: int = 40, shape: tuple[int, int] = (256, 256), *, seed: int = 0
) -> SyntheticTimelapse:
    """A nuclear-stain time-lapse, (time, row, col), with divisions and a slow stage drift.

    ``movie`` uint16 (12-bit), ``labels`` int32 and ``tracks`` (CTC lineage).
    """
    style = dataclasses.replace(_NUCLEAR, coverage=0.2, mitotic_fraction=0.0)
    dynamics = Dynamics(
        speed=1.0,
        persistence=0.7,
        drift=(0.15, -0.1),
        jitter=0.1,
        division_rate=0.02,
        mitosis_frames=2,
        bleaching=0.005,
    )
    return microscopy_timelapse(n_frames, shape, seed=seed, style=style, dynamics=dynamics)


def sample_zstack(
    n_planes: int = 32, shape: tuple[int, int] = (192, 192), *, seed: int = 0
) -> SyntheticImage:
    """A nuclear-stain z-stack, (plane, row, col), z step 3 pixels: ``image`` and ``labels``."""
    style = dataclasses.replace(_NUCLEAR, diameter=24.0, coverage=0.35, haze=0.15)
    return microscopy_zstack(n_planes, shape, seed=seed, style=style, z_step=3.0, attenuation=0.5)
