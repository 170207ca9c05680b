"""The instance head's thresholds, chosen for one model on generated tuning fields.

The head's foreground and distance maps are on the scale of its own weights: a model
trained longer is surer of itself, and the thresholds that part touching objects best
move with it (``sam2_engine.InstanceSettings``: foreground probability, share of the local
distance peak that seeds an object). :func:`tune_instance_thresholds` runs segment
everything as the plugin does (the object size estimated per field) on generated fields
of nuclear, cytoplasm and phase-contrast stains for every pair of a 5 x 5 grid and returns
the pair with the best mean F1 (objects matched at IoU >= 0.5), which the bundling script
stores in the model (``model.recommended["instance"]``).

The fields are drawn from :data:`TUNING_SEED`, far from the held-out seeds that measure
the model (``sam2_training.quality``, 900,000) and from those the training recipes draw,
with object diameters of 8-50 px (wider than the held-out 10-40 px). The head runs once
per field and scale (the maps are cached); the grid costs about two CPU-minutes for 16
fields of 384 x 384.

For the step-9,600 checkpoint of the bundled recipe the grid is smooth with its best
inside: foreground 0.5, seeds at 0.85 of the local peak, tuning F1 0.843 against 0.779
with the engine's defaults (docs/model_card.md).
"""

from __future__ import annotations

import hashlib
import itertools
from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np

import sam2_engine as se
from sam2_training.object_match import object_f1
from sam2_training.quality import generated_field

__all__ = ["TUNING_SEED", "InstanceTuning", "tune_instance_thresholds", "tuning_fields"]

TUNING_SEED = 650_000
#: object diameters (pixels) of the tuning fields
TUNING_DIAMETERS = (8.0, 50.0)
FOREGROUND = (0.3, 0.4, 0.5, 0.6, 0.7)
SEED_SHARE = (0.6, 0.7, 0.8, 0.85, 0.9)
MODALITIES = ("nuclear", "nuclear", "cytoplasm", "phase")


@dataclass(frozen=True)
class InstanceTuning:
    """What :func:`tune_instance_thresholds` found.

    Attributes
    ----------
    foreground_threshold, seed_threshold : float
        The best pair.
    f1 : float
        Its mean F1 over the tuning fields.
    default_f1 : float
        The mean F1 of the engine's default thresholds on the same fields.
    grid : tuple of (float, float, float)
        (foreground, seed, mean F1) of every pair tried.
    """

    foreground_threshold: float
    seed_threshold: float
    f1: float
    default_f1: float
    grid: tuple[tuple[float, float, float], ...]

    def recommendation(self) -> dict[str, float]:
        """The ``model.recommended["instance"]`` entry."""
        return {
            "foreground_threshold": self.foreground_threshold,
            "seed_threshold": self.seed_threshold,
        }


def tuning_fields(n: int = 16, shape: tuple[int, int] = (384, 384)) -> list:
    """``n`` generated fields (``image``, ``labels``): nuclear, nuclear, cytoplasm, phase
    in turn, each with its own look and object size (8-50 px)."""
    return [
        generated_field((TUNING_SEED, i), MODALITIES[i % 4], shape, TUNING_DIAMETERS)
        for i in range(n)
    ]


class _CachedMaps(se.InstanceSegmenter):
    """A segmenter that runs the head once per image and scale (thresholds may change
    between calls through ``settings``; the maps do not depend on them)."""

    def __init__(self, model: se.SAM2Model) -> None:
        super().__init__(model)
        self._maps: dict[tuple[bytes, float], tuple[np.ndarray, np.ndarray]] = {}

    def maps(self, rgb: np.ndarray, diameter: float) -> tuple[np.ndarray, np.ndarray]:
        pixels = np.ascontiguousarray(rgb, dtype=np.float32)
        key = (hashlib.blake2b(pixels.tobytes(), digest_size=16).digest(), float(diameter))
        if key not in self._maps:
            self._maps[key] = super().maps(pixels, diameter)
        return self._maps[key]


def tune_instance_thresholds(
    model: se.SAM2Model,
    fields: Sequence | None = None,
    foreground: Sequence[float] = FOREGROUND,
    seed_share: Sequence[float] = SEED_SHARE,
) -> InstanceTuning:
    """Foreground and seed thresholds of ``model``'s instance head with the best mean F1.

    Parameters
    ----------
    model : SAM2Model
        A model with an instance head.
    fields : sequence of fields, optional
        Objects with ``image`` (H, W) or (H, W, C) and ``labels`` (H, W) int; by default
        :func:`tuning_fields`.
    foreground, seed_share : sequence of float
        The grid (each value in (0, 1)).

    Returns
    -------
    InstanceTuning
        The best pair (ties: the first in grid order), its F1, the defaults' F1 and the
        whole grid.

    Raises
    ------
    ValueError
        The model has no instance head, or no field is given.
    """
    if not se.has_instance_head(model):
        raise ValueError(f"model {model.cfg.name!r} has no instance head to tune")
    fields = tuning_fields() if fields is None else list(fields)
    if not fields:
        raise ValueError("no tuning field given: give at least one (image, labels) field")
    segmenter = _CachedMaps(model)
    base = se.InstanceSettings()

    def mean_f1(settings: se.InstanceSettings) -> float:
        segmenter.settings = settings
        return float(
            np.mean([object_f1(segmenter.segment(f.image), np.asarray(f.labels)) for f in fields])
        )

    grid = tuple(
        (fg, seed, mean_f1(replace(base, foreground_threshold=fg, seed_threshold=seed)))
        for fg, seed in itertools.product(foreground, seed_share)
    )
    best = max(grid, key=lambda row: row[2])
    return InstanceTuning(
        foreground_threshold=float(best[0]),
        seed_threshold=float(best[1]),
        f1=best[2],
        default_f1=mean_f1(base),
        grid=grid,
    )
