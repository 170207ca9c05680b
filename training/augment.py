"""Augmentations for microscopy clips, identical on every frame of a clip.

Geometric transforms (flips, rotations by multiples of 90 degrees) act on the raw frames
and their label images together; they keep pixel values exact and never interpolate.
Intensity transforms (scaling, gamma, Gaussian noise) act on frames already mapped to
[0, 1]. One set of parameters is drawn per clip, so that a time-lapse or z-stack stays
consistent through time; only the noise pixels differ from frame to frame.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sam2_training.config import AugmentConfig


@dataclass(frozen=True)
class ClipTransform:
    """Parameters drawn for one clip.

    Attributes
    ----------
    flip_rows, flip_cols
        Mirror the row (vertical flip) / column (horizontal flip) axis.
    rotations
        Number of counter-clockwise quarter turns (0..3), as ``numpy.rot90``.
    scale
        Intensity factor.
    gamma
        Exponent applied to intensities in [0, 1].
    noise_std
        Standard deviation of additive Gaussian noise (0: none).
    """

    flip_rows: bool = False
    flip_cols: bool = False
    rotations: int = 0
    scale: float = 1.0
    gamma: float = 1.0
    noise_std: float = 0.0

    @property
    def is_identity(self) -> bool:
        return self == ClipTransform()


def draw_transform(cfg: AugmentConfig, rng: np.random.Generator) -> ClipTransform:
    """Draw the augmentation of one clip (the identity when ``cfg.enabled`` is False)."""
    if not cfg.enabled:
        return ClipTransform()
    flip_rows = bool(cfg.flips and rng.random() < 0.5)
    flip_cols = bool(cfg.flips and rng.random() < 0.5)
    rotations = int(rng.integers(0, 4)) if cfg.rot90 else 0
    lo, hi = cfg.intensity_scale
    scale = float(rng.uniform(lo, hi)) if hi > lo else float(lo)
    glo, ghi = cfg.gamma
    # gamma drawn log-uniformly, so that g and 1/g are equally likely
    gamma = float(np.exp(rng.uniform(np.log(glo), np.log(ghi)))) if ghi > glo else float(glo)
    noise = float(rng.uniform(0.0, cfg.noise_std)) if cfg.noise_std > 0 else 0.0
    return ClipTransform(flip_rows, flip_cols, rotations, scale, gamma, noise)


def apply_geometry(array: np.ndarray, transform: ClipTransform) -> np.ndarray:
    """Flip / rotate a clip; the row and column axes are 1 and 2.

    Parameters
    ----------
    array
        (T, H, W) labels or (T, H, W, C) images. Not modified.

    Returns
    -------
    ndarray
        (T, H, W[, C]) or (T, W, H[, C]) after an odd number of quarter turns.
    """
    out = array
    if transform.flip_rows:
        out = out[:, ::-1]
    if transform.flip_cols:
        out = out[:, :, ::-1]
    if transform.rotations:
        out = np.rot90(out, transform.rotations, axes=(1, 2))
    return np.ascontiguousarray(out)


def apply_intensity(
    frames: np.ndarray, transform: ClipTransform, rng: np.random.Generator
) -> np.ndarray:
    """Scale, gamma-correct and add noise to frames in [0, 1]; the result is clipped to [0, 1].

    Parameters
    ----------
    frames
        (T, H, W, 3) float32 in [0, 1]. Not modified.
    transform
        The clip's parameters.
    rng
        Draws the noise pixels.

    Returns
    -------
    ndarray of float32, shape (T, H, W, 3)
    """
    out = frames.astype(np.float32, copy=True)
    if transform.scale != 1.0:
        out *= transform.scale
        np.clip(out, 0.0, 1.0, out=out)
    if transform.gamma != 1.0:
        np.power(out, transform.gamma, out=out)
    if transform.noise_std > 0:
        noise = rng.standard_normal(out.shape[:-1], dtype=np.float32) * transform.noise_std
        out += noise[..., None]  # the same noise in the three (grey) channels
        np.clip(out, 0.0, 1.0, out=out)
    return out
