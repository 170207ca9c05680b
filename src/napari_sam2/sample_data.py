"""Synthetic microscopy samples with ground truth (napari: File > Open Sample > napari-sam2).

Each sample returns the image and its ground-truth instance labels as a second layer
(hidden, so that it does not get in the way of clicking), made by :mod:`sam2_synthetic`'s
ready-made samples (realistic optics and camera noise, no download, deterministic).
Stacks carry :data:`SAMPLE_KEY` in their metadata: the plugin shows their first frame
(napari would start in the middle), where one usually starts clicking.
"""

from __future__ import annotations

from typing import Any

LayerData = list[tuple[Any, dict[str, Any], str]]

#: metadata key of the plugin's sample stacks (value: the frame to show first)
SAMPLE_KEY = "napari_sam2_start_frame"


def _pair(
    image: Any, labels: Any, name: str, scale: tuple[float, ...] | None = None
) -> LayerData:
    common: dict[str, Any] = {} if scale is None else {"scale": scale}
    meta = {SAMPLE_KEY: 0} if image.ndim > 2 else {}
    return [
        (image, {"name": name, "colormap": "gray", "metadata": meta, **common}, "image"),
        (
            labels,
            {"name": f"{name} ground truth", "visible": False, "opacity": 0.5, **common},
            "labels",
        ),
    ]


def nuclei_2d() -> LayerData:
    """A 512 x 512 12-bit widefield nuclear stain and its labels."""
    from sam2_synthetic import sample_field

    data = sample_field(modality="nuclear", shape=(512, 512), seed=0)
    return _pair(data.image, data.labels, "nuclei 2D")


def nuclei_timelapse() -> LayerData:
    """40 frames (T, 256, 256) of moving, dividing nuclei and their tracked labels."""
    from sam2_synthetic import sample_timelapse

    data = sample_timelapse(n_frames=40, shape=(256, 256), seed=0)
    return _pair(data.movie, data.labels, "nuclei time-lapse")


def nuclei_zstack() -> LayerData:
    """A nuclear-stain z-stack (32, 192, 192), z step 3 pixels, and its 3D labels."""
    from sam2_synthetic import sample_zstack

    data = sample_zstack(n_planes=32, shape=(192, 192), seed=0)
    return _pair(data.image, data.labels, "nuclei z-stack", scale=(3.0, 1.0, 1.0))
