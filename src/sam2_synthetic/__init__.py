"""Synthetic fluorescence microscopy data with exact ground truth.

No data set can be downloaded in tests or demos, so this package draws its own: nuclear-stain
images, time-lapses of moving and dividing nuclei, z-stacks of ellipsoidal nuclei and a small
RGB scene. Every generator is seeded (``numpy.random.default_rng(seed)``), pure numpy + scipy,
keeps no global state and runs in a fraction of a second at its default size.

The image formation follows a widefield microscope: fluorophore density (nuclei with chromatin
texture, bright chromocentres and dim nucleoli) -> Gaussian PSF blur plus a little out-of-focus
haze -> a smooth uneven background (autofluorescence and vignetting) -> Poisson shot noise and
Gaussian read noise of a camera whose offset (bias, 100 grey levels plus five read-noise stds)
keeps dark pixels above 0. Integer images use a few thousand grey levels out of 65535, as real
16-bit microscopy does.

For training data that generalises to real microscopy, :func:`microscopy_image`,
:func:`microscopy_timelapse` and :func:`microscopy_zstack` randomise the whole domain: a
:class:`Style` drawn by :func:`random_style` picks the modality (nuclear, cytoplasm or membrane
stain, phase contrast, brightfield, DIC, possibly inverted), object sizes (6 .. 80 pixels
across) and density (sparse .. confluent, touching and slightly overlapping), shapes (round,
elongated, irregular, blebbing, mitotic, dividing), log-normal brightness with very dim
objects, interior texture, PSF and per-object defocus, haze, uneven illumination, unlabelled
debris and out-of-focus blobs, camera noise with a fixed pattern, the dtype (uint8, 12- or
16-bit uint16, float32) and how much of its range is used. Time-lapses add the
:class:`Dynamics` of :func:`random_dynamics` (random walk, stage drift, crowding, cells
entering and leaving, divisions with CTC lineage, bleaching, focus drift); z-stacks sample
anisotropically with a PSF that is longer along z. :func:`sample_field`,
:func:`sample_timelapse` and :func:`sample_zstack` give fixed, typical examples (napari's
sample menu).

Axis order is (row, col) for images, (time, row, col) for movies and (plane, row, col) for
volumes. Label images are ``int32`` with 0 for background and ids ``1..N``.

Examples
--------
>>> from sam2_synthetic import fluorescence_image, microscopy_image, nuclei_timelapse
>>> data = fluorescence_image(seed=1)
>>> data.image.shape, data.image.dtype.name, data.labels.dtype.name
((256, 256), 'uint16', 'int32')
>>> movie = nuclei_timelapse(n_frames=10, seed=1)
>>> movie.movie.shape
(10, 256, 256)
>>> field = microscopy_image((128, 128), seed=7, modality="phase")
>>> field.labels.shape
(128, 128)

Modules
-------
* ``results``: what the generators return, :class:`SyntheticImage`,
  :class:`SyntheticTimelapse` (its lineage is a list of ``sam2_cells.TrackRecord``).
* ``still``: single images, :func:`fluorescence_image`, :func:`natural_rgb_scene` and
  :func:`natural_rgb_image`.
* ``timelapse``: :func:`nuclei_timelapse` (moving, growing and dividing nuclei).
* ``volume``: :func:`nuclei_zstack` (ellipsoidal nuclei in 3D).
* ``nuclei``, ``camera``, ``checks`` (private helpers): 2D nuclear outlines, chromatin
  texture and rendering; PSF width, background, noise and quantisation; argument checks.
* ``style``: :class:`Style` (everything visual about a field) and :func:`random_style`.
* ``microscopy``: :func:`microscopy_image` and :func:`random_microscopy_images`.
* ``dynamics``: :class:`Dynamics`, :func:`random_dynamics` and the cell simulation;
  ``movie``: :func:`microscopy_timelapse`; ``tracks``: CTC lineage from visibility.
* ``stack``: :func:`microscopy_zstack` (anisotropic fluorescence z-stacks).
* ``samples``: :func:`sample_field`, :func:`sample_timelapse`, :func:`sample_zstack`,
  :func:`sample_style`.
* ``population``, ``packing``, ``raster``, ``appearance``, ``optics``, ``sensor`` (private):
  object layout, crowding, batched rasterising, per-modality appearance, microscope optics
  and background, the camera.

Every public name is importable from ``sam2_synthetic`` itself.
"""

from sam2_synthetic.dynamics import Dynamics, random_dynamics
from sam2_synthetic.microscopy import microscopy_image, random_microscopy_images
from sam2_synthetic.movie import microscopy_timelapse
from sam2_synthetic.results import SyntheticImage, SyntheticTimelapse
from sam2_synthetic.samples import sample_field, sample_style, sample_timelapse, sample_zstack
from sam2_synthetic.stack import microscopy_zstack
from sam2_synthetic.still import fluorescence_image, natural_rgb_image, natural_rgb_scene
from sam2_synthetic.style import FLUORESCENCE, MODALITIES, TRANSMITTED, Style, random_style
from sam2_synthetic.timelapse import nuclei_timelapse
from sam2_synthetic.volume import nuclei_zstack

__all__ = [
    "FLUORESCENCE",
    "MODALITIES",
    "TRANSMITTED",
    "Dynamics",
    "Style",
    "SyntheticImage",
    "SyntheticTimelapse",
    "fluorescence_image",
    "microscopy_image",
    "microscopy_timelapse",
    "microscopy_zstack",
    "natural_rgb_image",
    "natural_rgb_scene",
    "nuclei_timelapse",
    "nuclei_zstack",
    "random_dynamics",
    "random_microscopy_images",
    "random_style",
    "sample_field",
    "sample_style",
    "sample_timelapse",
    "sample_zstack",
]
