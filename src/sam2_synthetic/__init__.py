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

Axis order is (row, col) for images, (time, row, col) for movies and (plane, row, col) for
volumes. Label images are ``int32`` with 0 for background and ids ``1..N``.

Examples
--------
>>> from sam2_synthetic import fluorescence_image, nuclei_timelapse
>>> data = fluorescence_image(seed=1)
>>> data.image.shape, data.image.dtype.name, data.labels.dtype.name
((256, 256), 'uint16', 'int32')
>>> movie = nuclei_timelapse(n_frames=10, seed=1)
>>> movie.movie.shape
(10, 256, 256)

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

Every public name is importable from ``sam2_synthetic`` itself.
"""

from sam2_synthetic.results import SyntheticImage, SyntheticTimelapse
from sam2_synthetic.still import fluorescence_image, natural_rgb_image, natural_rgb_scene
from sam2_synthetic.timelapse import nuclei_timelapse
from sam2_synthetic.volume import nuclei_zstack

__all__ = [
    "SyntheticImage",
    "SyntheticTimelapse",
    "fluorescence_image",
    "natural_rgb_image",
    "natural_rgb_scene",
    "nuclei_timelapse",
    "nuclei_zstack",
]
