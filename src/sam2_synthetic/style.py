"""The look of a generated microscopy image: :class:`Style` and :func:`random_style`.

A :class:`Style` fixes everything visual about one field of view (or one movie, or one
z-stack): the imaging modality, the objects (size, density, shape, brightness), their interior
(chromatin texture, nucleoli, rims), the optics (PSF, defocus, haze, illumination, debris) and
the camera (noise, fixed pattern, dtype and the grey levels used). :func:`random_style` draws
one at random from wide, plausible ranges: this is the domain randomisation that makes data
from :func:`sam2_synthetic.microscopy_image` varied enough to train on.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields
from typing import Literal

import numpy as np

__all__ = ["FLUORESCENCE", "MODALITIES", "TRANSMITTED", "Modality", "Style", "random_style"]

Modality = Literal["nuclear", "cytoplasm", "membrane", "phase", "brightfield", "dic"]
#: Every modality, in the order :func:`random_style` lists them.
MODALITIES: tuple[str, ...] = ("nuclear", "cytoplasm", "membrane", "phase", "brightfield", "dic")
#: Fluorescence modalities: the stain glows on a dark background.
FLUORESCENCE: tuple[str, ...] = ("nuclear", "cytoplasm", "membrane")
#: Transmitted-light modalities: cells modulate a bright background.
TRANSMITTED: tuple[str, ...] = ("phase", "brightfield", "dic")

_MODALITY_WEIGHTS = (0.36, 0.14, 0.1, 0.16, 0.12, 0.12)
_SIGNED = ("nucleolus_contrast", "shear_angle")  # the fields that may be negative


@dataclass(frozen=True)
class Style:
    """Everything visual about one generated image, movie or z-stack.

    Lengths are in pixels, fractions in 0..1. Brightness is relative: fluorescence intensities
    are in units of the median object signal, transmitted-light intensities in units of the
    background illumination. The labelled object is always the instance the modality shows:
    the nucleus for ``"nuclear"``, the whole cell for every other modality.

    Attributes
    ----------
    modality : str
        ``"nuclear"`` (nuclear stain, bright nuclei on dark), ``"cytoplasm"`` (whole-cell
        stain, brighter around the nucleus), ``"membrane"`` (bright outlines, dim interior),
        ``"phase"`` (dark cells with bright halos on grey), ``"brightfield"`` (low-contrast
        absorbing cells with defocus rims) or ``"dic"`` (relief / shadow-cast edges).
    invert : bool
        Invert the contrast (bright becomes dark) before the camera.
    contrast : float
        Transmitted light only: depth of the modulation by a median cell (0.15 .. 0.7).
    diameter : float
        Median object diameter (6 .. 80).
    size_spread : float
        Standard deviation of the log diameter (0 .. 0.4).
    coverage : float
        Fraction of the field covered by objects (0.03 sparse .. 0.75 confluent).
    clustering : float
        Fraction of objects that grow in colonies instead of being spread uniformly.
    overlap : float
        How far neighbours may overlap, as a fraction of the sum of their radii (0 .. 0.25).
    elongation : float
        Mean aspect ratio minus 1 (0 round .. 1.5 elongated).
    irregularity : float
        Amplitude of the harmonic outline perturbations (0 smooth .. 0.25 irregular).
    bleb_fraction : float
        Fraction of interphase objects with one to three small round protrusions.
    mitotic_fraction : float
        Fraction of objects in mitosis: rounded, smaller, brighter and condensed (some are
        metaphase plates: bright bars).
    dividing_fraction : float
        Fraction of objects that are dividing: two daughters close together, or (one label)
        a pinched figure-eight.
    brightness_spread : float
        Standard deviation of the log brightness of objects (0.05 .. 0.8).
    dim_fraction : float
        Fraction of objects 5-10x dimmer than the median.
    texture : float
        Contrast of the interior texture (chromatin, cytoplasmic granules), 0 .. 0.8.
    texture_scale : float
        Grain size of that texture as a fraction of the median radius (0.05 .. 0.35).
    dome : float
        How much brighter (thicker) the object centre is than its edge (0 .. 1).
    nucleoli : float
        Mean number of nucleoli per nucleus (0 .. 4).
    nucleolus_contrast : float
        Relative intensity of nucleoli: negative dim holes (-0.7) .. positive bright spots (1).
    rim : float
        Extra brightness of a nuclear rim (lamina, envelope), 0 .. 1.
    nucleus_ratio : float
        Whole-cell modalities: nucleus size relative to the cell (0.3 .. 0.65).
    nucleus_hole : float
        Cytoplasm stain: how much darker the nucleus is than the cytoplasm (0 .. 0.9).
    membrane_width : float
        Membrane stain: width of the bright outline (0.8 .. 4).
    interior : float
        Membrane stain: brightness of the cell interior relative to the outline (0 .. 0.5).
    psf_sigma : float
        Gaussian sigma of the in-focus point spread function (0.5 .. 3).
    defocus_fraction : float
        Fraction of objects out of the focal plane (0 .. 0.4).
    defocus_sigma : float
        Extra blur of the most out-of-focus objects (1 .. 8).
    haze : float
        Out-of-focus haze: a wide blur of the signal added back (0 .. 0.35).
    halo_width : float
        Phase contrast: width of the halo (2 .. 10).
    shear_angle : float
        DIC: direction of the shear, radians.
    background : float
        Fluorescence: additive background relative to the median object signal (0.01 .. 0.6).
    autofluorescence : float
        Relative strength of mottled background texture (0 .. 0.5).
    gradient : float
        Strength of a smooth illumination gradient across the field (0 .. 0.5).
    vignetting : float
        Fall-off of the illumination towards the corners (0 .. 0.6).
    debris : float
        Unlabelled specks per 10,000 pixels (0 .. 4).
    fibres : int
        Unlabelled fibres and scratches in the field (0 .. 4).
    ghosts : int
        Unlabelled out-of-focus blobs (cells in other planes), 0 .. 4.
    snr : float
        Median object signal (fluorescence) or background (transmitted) over its noise std.
    read_noise : float
        Camera read noise in electrons (0.8 .. 8).
    fixed_pattern : float
        Fixed-pattern noise: row / column offsets and per-pixel gain, relative (0 .. 0.04).
    dtype : str
        ``"uint8"``, ``"uint16"`` or ``"float32"``.
    bit_depth : int
        Range of the integer values: 8 (``uint8``), 12 or 16 (``uint16``); 16 for
        ``float32``.
    grey_levels : float
        Grey levels from the camera offset to the bright end of the image (its 99.5th
        percentile): how much of the dynamic range is used (a few hundred .. the whole range).
    offset : float
        Camera bias in grey levels.
    normalise : bool
        ``float32`` only: divide by the full range (2**bit_depth - 1), giving values in 0..1.
    """

    modality: Modality = "nuclear"
    invert: bool = False
    contrast: float = 0.25
    diameter: float = 20.0
    size_spread: float = 0.15
    coverage: float = 0.25
    clustering: float = 0.3
    overlap: float = 0.05
    elongation: float = 0.25
    irregularity: float = 0.06
    bleb_fraction: float = 0.05
    mitotic_fraction: float = 0.03
    dividing_fraction: float = 0.02
    brightness_spread: float = 0.3
    dim_fraction: float = 0.05
    texture: float = 0.3
    texture_scale: float = 0.15
    dome: float = 0.4
    nucleoli: float = 1.5
    nucleolus_contrast: float = -0.3
    rim: float = 0.2
    nucleus_ratio: float = 0.45
    nucleus_hole: float = 0.4
    membrane_width: float = 1.5
    interior: float = 0.15
    psf_sigma: float = 1.2
    defocus_fraction: float = 0.1
    defocus_sigma: float = 3.0
    haze: float = 0.08
    halo_width: float = 4.0
    shear_angle: float = 0.8
    background: float = 0.1
    autofluorescence: float = 0.15
    gradient: float = 0.15
    vignetting: float = 0.15
    debris: float = 1.0
    fibres: int = 0
    ghosts: int = 1
    snr: float = 10.0
    read_noise: float = 2.0
    fixed_pattern: float = 0.01
    dtype: Literal["uint8", "uint16", "float32"] = "uint16"
    bit_depth: int = 16
    grey_levels: float = 3000.0
    offset: float = 100.0
    normalise: bool = False

    def __post_init__(self) -> None:
        if self.modality not in MODALITIES:
            raise ValueError(f"modality={self.modality!r} is not valid; pass one of {MODALITIES}.")
        if self.dtype not in ("uint8", "uint16", "float32"):
            raise ValueError(f"dtype={self.dtype!r} is not valid; pass uint8, uint16 or float32.")
        allowed = {"uint8": (8,), "uint16": (12, 16), "float32": (16,)}[self.dtype]
        if self.bit_depth not in allowed:
            raise ValueError(
                f"bit_depth={self.bit_depth} does not fit dtype={self.dtype}; pass {allowed}."
            )
        bounded = {
            "diameter": (3.0, 400.0),
            "coverage": (0.0, 0.9),
            "overlap": (0.0, 0.5),
            "psf_sigma": (0.2, 10.0),
            "snr": (0.5, 1e4),
        }
        for name, (low, high) in bounded.items():
            value = getattr(self, name)
            if not low <= value <= high:
                raise ValueError(f"{name}={value} is not valid; pass {low} .. {high}.")
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, bool) or not isinstance(value, float | int):
                continue
            if not math.isfinite(value) or (value < 0 and f.name not in _SIGNED):
                raise ValueError(f"{f.name}={value} is not valid; pass a finite number >= 0.")
        if (
            self.grey_levels + self.offset > 2**self.bit_depth - 1 + 1e-9
            and self.dtype != "float32"
        ):
            raise ValueError(
                f"offset + grey_levels = {self.offset + self.grey_levels} exceeds the "
                f"{self.bit_depth}-bit range; pass smaller grey_levels or offset."
            )

    @property
    def fluorescent(self) -> bool:
        """True for the fluorescence modalities (nuclear, cytoplasm, membrane)."""
        return self.modality in FLUORESCENCE

    @property
    def max_value(self) -> int:
        """Largest grey level of the camera: ``2**bit_depth - 1``."""
        return 2**self.bit_depth - 1


def _log_uniform(rng: np.random.Generator, low: float, high: float) -> float:
    return float(math.exp(rng.uniform(math.log(low), math.log(high))))


def _camera_fields(rng: np.random.Generator, transmitted: bool) -> dict:
    """dtype, bit depth, offset and grey levels used, drawn together so that they fit."""
    dtype = str(rng.choice(["uint8", "uint16", "float32"], p=[0.3, 0.55, 0.15]))
    if dtype == "uint8":
        bit_depth, offset = 8, float(rng.choice([0.0, rng.uniform(0, 25)]))
    else:
        bit_depth = 16 if dtype == "float32" else int(rng.choice([12, 16], p=[0.4, 0.6]))
        offset = _log_uniform(rng, 10, 0.05 * 2**bit_depth)
        if rng.random() < 0.15:
            offset = 0.0
    room = 2**bit_depth - 1 - offset
    low = min(0.5 * room, 60 if bit_depth == 8 else 150)
    grey_levels = _log_uniform(rng, low, room)
    if transmitted:  # a bright field uses much of the range
        grey_levels = float(rng.uniform(0.4, 0.95)) * room
    return {
        "dtype": dtype,
        "bit_depth": bit_depth,
        "offset": offset,
        "grey_levels": grey_levels,
        "normalise": bool(dtype == "float32" and rng.random() < 0.6),
    }


def random_style(
    rng: np.random.Generator | int | None = None,
    *,
    modality: str | None = None,
    shape: tuple[int, ...] = (256, 256),
) -> Style:
    """Draw a random, plausible :class:`Style` (domain randomisation).

    Parameters
    ----------
    rng : numpy.random.Generator or int
        Generator (or seed of ``numpy.random.default_rng``) to draw from.
    modality : str, optional
        Fix the modality (one of :data:`MODALITIES`); every other field is still random.
    shape : tuple of int
        Shape of the image the style is for: the median diameter is at most a third of its
        smallest side (and at most 80 pixels).

    Returns
    -------
    Style

    Examples
    --------
    >>> style = random_style(0, modality="phase")
    >>> style.modality
    'phase'
    """
    rng = np.random.default_rng(rng)
    if modality is None:
        modality = str(rng.choice(MODALITIES, p=_MODALITY_WEIGHTS))
    elif modality not in MODALITIES:
        raise ValueError(f"modality={modality!r} is not valid; pass one of {MODALITIES}.")
    transmitted = modality in TRANSMITTED
    whole_cell = modality != "nuclear"
    max_d = max(6.5, min(80.0, min(shape) / 3))
    diameter = _log_uniform(rng, 6.0, max_d)
    if whole_cell:  # cells are bigger than nuclei
        diameter = min(max_d, diameter * rng.uniform(1.0, 1.6))
    coverage = _log_uniform(rng, 0.03, 0.75)
    if diameter < 10:  # wide fields of small nuclei are rarely confluent
        coverage = min(coverage, 0.45)
    few = 8 * math.pi * diameter**2 / 4 / (shape[-1] * shape[-2])  # at least ~8 objects
    coverage = max(coverage, min(0.6, few))
    dark_speck = transmitted or rng.random() < 0.3
    return Style(
        modality=modality,  # type: ignore[arg-type]
        invert=bool(rng.random() < 0.12),
        contrast=_log_uniform(rng, 0.15, 0.7),
        diameter=diameter,
        size_spread=float(rng.uniform(0.03, 0.35)),
        coverage=coverage,
        clustering=float(rng.uniform(0, 1) ** 1.5),
        overlap=float(rng.uniform(0, 0.2) * (rng.random() < 0.7)),
        elongation=float(rng.exponential(0.35 if not whole_cell else 0.6)),
        irregularity=float(rng.uniform(0.0, 0.12 if not whole_cell else 0.25)),
        bleb_fraction=float(rng.uniform(0, 0.3) * (rng.random() < 0.4)),
        mitotic_fraction=float(rng.uniform(0, 0.12)),
        dividing_fraction=float(rng.uniform(0, 0.08)),
        brightness_spread=float(rng.uniform(0.05, 0.7)),
        dim_fraction=float(rng.uniform(0, 0.2) * (rng.random() < 0.6)),
        texture=float(rng.uniform(0.0, 0.7)),
        texture_scale=float(rng.uniform(0.06, 0.3)),
        dome=float(rng.uniform(0, 1)),
        nucleoli=float(rng.uniform(0, 4) * (rng.random() < 0.7)),
        nucleolus_contrast=float(rng.uniform(-0.7, 1.0)),
        rim=float(rng.uniform(0, 0.9) * (rng.random() < 0.5)),
        nucleus_ratio=float(rng.uniform(0.3, 0.65)),
        nucleus_hole=float(rng.uniform(0, 0.9)),
        membrane_width=float(rng.uniform(0.8, 3.0)),
        interior=float(rng.uniform(0.0, 0.45)),
        psf_sigma=_log_uniform(rng, 0.5, 2.5),
        defocus_fraction=float(rng.uniform(0, 0.4) * (rng.random() < 0.6)),
        defocus_sigma=float(rng.uniform(1.0, 6.0)),
        haze=float(rng.uniform(0, 0.3)),
        halo_width=float(min(10.0, max(2.0, diameter * rng.uniform(0.08, 0.25)))),
        shear_angle=float(rng.uniform(0, 2 * math.pi)),
        background=_log_uniform(rng, 0.01, 0.5),
        autofluorescence=float(rng.uniform(0, 0.5)),
        gradient=float(rng.uniform(0, 0.5)),
        vignetting=float(rng.uniform(0, 0.6) * (rng.random() < 0.7)),
        debris=float(min(4.0, rng.exponential(0.5) * (1 + dark_speck))),
        fibres=int(min(4, rng.poisson(0.6))),
        ghosts=int(rng.integers(0, 5)),
        snr=_log_uniform(rng, 2.0, 40.0) * (5.0 if transmitted else 1.0),
        read_noise=_log_uniform(rng, 0.8, 8.0),
        fixed_pattern=float(rng.uniform(0, 0.04) * (rng.random() < 0.5)),
        **_camera_fields(rng, transmitted),
    )
