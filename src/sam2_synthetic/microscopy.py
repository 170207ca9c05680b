"""Domain-randomised still microscopy fields: :func:`microscopy_image` and many of them.

Every call draws (or takes) a :class:`~sam2_synthetic.style.Style`, lays out objects for it,
renders them (:mod:`~sam2_synthetic.raster`, :mod:`~sam2_synthetic.appearance`), images them
through the optics (:mod:`~sam2_synthetic.optics`) and the camera
(:mod:`~sam2_synthetic.sensor`). Axis order is (row, col); labels are ``int32``, 0 for
background and ``1..N`` for the objects, each pixel belonging to the object on top.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Sequence

import numpy as np

from sam2_synthetic.appearance import _texture_tile, _values
from sam2_synthetic.checks import _check_shape
from sam2_synthetic.optics import _clutter, _expected, _scope
from sam2_synthetic.population import _random_population
from sam2_synthetic.raster import _render
from sam2_synthetic.results import SyntheticImage
from sam2_synthetic.sensor import _camera
from sam2_synthetic.style import Style, random_style

__all__ = ["microscopy_image", "random_microscopy_images"]

Seed = int | Sequence[int] | np.random.SeedSequence

_MIN_PIXELS = 3  # objects with fewer visible pixels are left out of the labels


def _resolve_style(
    rng: np.random.Generator,
    shape: tuple[int, ...],
    style: Style | None,
    modality: str | None,
    dtype: str | None,
) -> Style:
    """The style to use: ``style`` or a random one, with ``modality`` / ``dtype`` forced."""
    if style is None:
        style = random_style(rng, modality=modality, shape=shape)
    elif modality is not None and modality != style.modality:
        style = dataclasses.replace(style, modality=modality)
    if dtype is not None and np.dtype(dtype).name != style.dtype:
        name = np.dtype(dtype).name
        if name not in ("uint8", "uint16", "float32"):
            raise ValueError(f"dtype={name} is not supported; pass uint8, uint16 or float32.")
        bits = {"uint8": 8, "uint16": 16, "float32": 16}[name]
        room = 2**bits - 1
        scale = room / style.max_value
        style = dataclasses.replace(
            style,
            dtype=name,
            bit_depth=bits,
            offset=style.offset * scale,
            grey_levels=min(style.grey_levels * scale, room - style.offset * scale),
        )
    return style


def _relabel(labels: np.ndarray, visible: np.ndarray, label_of: np.ndarray) -> np.ndarray:
    """Labels renumbered ``1..N`` in drawing order, leaving out tiny visible fragments."""
    keep = visible >= _MIN_PIXELS
    lookup = np.zeros(int(label_of.max(initial=0)) + 1, np.int32)
    lookup[label_of[keep]] = np.arange(1, int(keep.sum()) + 1, dtype=np.int32)
    return lookup[labels]


def microscopy_image(
    shape: tuple[int, int] = (256, 256),
    *,
    seed: Seed = 0,
    style: Style | None = None,
    modality: str | None = None,
    dtype: str | None = None,
) -> SyntheticImage:
    """A realistic, domain-randomised 2D microscopy field with exact instance labels.

    Without ``style`` everything visual is drawn by :func:`random_style`: the modality
    (nuclear, cytoplasm or membrane stain, phase contrast, brightfield, DIC, possibly
    inverted), object sizes (6 .. 80 pixels across) and density (sparse .. confluent, with
    touching and slightly overlapping neighbours), shapes (round, elongated, irregular,
    blebbing, mitotic, dividing), log-normal brightness with some very dim objects, texture,
    PSF and per-object defocus, haze, uneven illumination, unlabelled debris, fibres and
    out-of-focus blobs, camera noise with a fixed pattern, and the dtype and grey levels used.

    Parameters
    ----------
    shape : (int, int)
        (rows, cols) of the image, each at least 32.
    seed : int or sequence of int
        Seed of ``numpy.random.default_rng``; equal seeds give equal data. The style and the
        scene come from independent streams, so a fixed ``style`` with the same seed gives
        the same layout whatever the style would have been.
    style : Style, optional
        Use this look instead of a random one.
    modality : str, optional
        Force the modality (of the random style or of ``style``).
    dtype : str, optional
        Force the output dtype: ``"uint8"``, ``"uint16"`` (16-bit range) or ``"float32"``;
        the offset and grey levels are scaled to the new range.

    Returns
    -------
    SyntheticImage
        ``image`` (H, W) of the style's dtype and ``labels`` (H, W) ``int32``: 0 for
        background, ``1..N`` for the objects (the nuclei for a nuclear stain, the cells
        otherwise). Each pixel belongs to exactly one object, the one on top; debris,
        fibres and out-of-focus blobs are not labelled.

    Examples
    --------
    >>> data = microscopy_image((128, 128), seed=1, modality="phase")
    >>> data.image.shape, data.labels.dtype.name
    ((128, 128), 'int32')
    """
    shape = _check_shape(shape, 2, 32)
    style_rng, rng = np.random.default_rng(seed).spawn(2)
    style = _resolve_style(style_rng, shape, style, modality, dtype)
    pop = _random_population(rng, shape, style)
    tile = _texture_tile(rng, style)
    maps, labels, visible = _render(pop, shape, _values(style, tile))
    scope = _scope(rng, shape, style, tile)
    expected = _expected(maps, style, scope, _clutter(rng, shape, style))
    image = _camera(style, expected, rng).expose(expected, rng)
    return SyntheticImage(image=image, labels=_relabel(labels, visible, pop.label))


def random_microscopy_images(
    n: int,
    shape: tuple[int, int] = (256, 256),
    *,
    seed: int = 0,
    modality: str | None = None,
) -> Iterator[SyntheticImage]:
    """``n`` independent random fields, each with its own random style (lazily).

    The ``i``-th field is ``microscopy_image(shape, seed=(seed, i), modality=modality)``,
    so any one of them can be regenerated alone.

    Parameters
    ----------
    n : int
        Number of fields, at least 0.
    shape : (int, int)
        (rows, cols) of each image, each at least 32.
    seed : int
        Seed of the sequence.
    modality : str, optional
        Force one modality for every field.

    Returns
    -------
    iterator of SyntheticImage
        ``image`` (H, W) and ``labels`` (H, W) ``int32`` as in :func:`microscopy_image`.
    """
    if n < 0:
        raise ValueError(f"n={n} is not valid; pass a number >= 0.")
    shape = _check_shape(shape, 2, 32)
    return (microscopy_image(shape, seed=(seed, i), modality=modality) for i in range(n))
