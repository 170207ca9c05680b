"""Synthetic microscopy samples with ground truth (napari: File > Open Sample > SAM 2).

Each sample returns the image and its ground-truth instance labels as a second layer
(hidden, so that it does not get in the way of clicking), made by
:mod:`sam2_synthetic` (no download, deterministic).
"""

from __future__ import annotations

from typing import Any

LayerData = list[tuple[Any, dict[str, Any], str]]


def _pair(image: Any, labels: Any, name: str, **image_kwargs: Any) -> LayerData:
    return [
        (image, {"name": name, "colormap": "gray", **image_kwargs}, "image"),
        (labels, {"name": f"{name} ground truth", "visible": False, "opacity": 0.5}, "labels"),
    ]


def nuclei_2d() -> LayerData:
    """A 256 x 256 uint16 widefield nuclear stain (25 nuclei) and its labels."""
    from sam2_synthetic import fluorescence_image

    data = fluorescence_image((256, 256), n_nuclei=25, seed=0)
    return _pair(data.image, data.labels, "nuclei 2D")


def nuclei_timelapse() -> LayerData:
    """30 frames of drifting, dividing nuclei (T, 256, 256) and their tracked labels."""
    from sam2_synthetic import nuclei_timelapse as make

    data = make(n_frames=30, shape=(256, 256), n_nuclei=12, seed=0)
    return _pair(data.movie, data.labels, "nuclei time-lapse")


def nuclei_zstack() -> LayerData:
    """A confocal-like z-stack (24, 192, 192) of ellipsoidal nuclei and their 3D labels."""
    from sam2_synthetic import nuclei_zstack as make

    data = make(n_planes=24, shape=(192, 192), n_nuclei=10, seed=0)
    return _pair(data.image, data.labels, "nuclei z-stack")
