"""Generated training data: fields, time-lapses and z-stacks from :mod:`sam2_synthetic`.

The bundled microscopy model is trained on these only (no third-party images), so its
quality on real images measures generalisation. :func:`synthetic_stacks` draws the data
a :class:`~sam2_training.config.SyntheticDataConfig` asks for, seeded, with two worker
processes, and keeps it in ``cache`` (a folder) so that a resumed run reads instead of
drawing again. Each item becomes a :class:`~sam2_training.sources.LabelledStack`.
"""

from __future__ import annotations

import hashlib
import json
import logging
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np

from sam2_engine import atomic_file
from sam2_training.config import SyntheticDataConfig
from sam2_training.sources import ArrayStack, LabelledStack

log = logging.getLogger(__name__)

__all__ = ["SyntheticStack", "synthetic_stacks"]


class SyntheticStack(ArrayStack):
    """An array stack identified by its recipe (cheap fingerprint, no hashing of pixels)."""

    def __init__(self, images: Any, labels: Any, name: str, recipe: str) -> None:
        super().__init__(images, labels, None, name)
        self._recipe = recipe

    def fingerprint(self, digest: Any) -> None:
        digest.update(self._recipe.encode())


def _recipe_hash(cfg: SyntheticDataConfig) -> str:
    spec = {k: v for k, v in asdict(cfg).items() if k != "cache"}
    return hashlib.blake2b(json.dumps(spec, sort_keys=True).encode(), digest_size=8).hexdigest()


def _jobs(cfg: SyntheticDataConfig) -> list[tuple[str, int, dict[str, Any]]]:
    """(kind, index, keyword arguments) of every item, all derived from ``cfg.seed``."""
    rng = np.random.default_rng([cfg.seed, 7])
    jobs: list[tuple[str, int, dict[str, Any]]] = []
    for i in range(cfg.images):
        side = int(rng.choice(cfg.image_sizes))
        modality = "nuclear" if rng.random() < cfg.nuclear_fraction else None
        jobs.append(("image", i, {"shape": (side, side), "modality": modality}))
    for i in range(cfg.timelapses):
        modality = "nuclear" if rng.random() < cfg.nuclear_fraction else None
        jobs.append(
            (
                "timelapse",
                i,
                {
                    "n_frames": cfg.timelapse_frames,
                    "shape": (cfg.timelapse_size, cfg.timelapse_size),
                    "modality": modality,
                },
            )
        )
    for i in range(cfg.zstacks):
        jobs.append(
            (
                "zstack",
                i,
                {"n_planes": cfg.zstack_planes, "shape": (cfg.zstack_size, cfg.zstack_size)},
            )
        )
    return jobs


def _draw(job: tuple[str, int, dict[str, Any]], seed: int) -> tuple[np.ndarray, np.ndarray]:
    """One item: (image or stack, labels) as numpy arrays (runs in a worker process)."""
    import sam2_synthetic as syn

    kind, index, kwargs = job
    item_seed = (seed, {"image": 1, "timelapse": 2, "zstack": 3}[kind], index)
    if kind == "image":
        data = syn.microscopy_image(seed=item_seed, **kwargs)
        return data.image, data.labels
    if kind == "timelapse":
        movie = syn.microscopy_timelapse(seed=item_seed, **kwargs)
        return movie.movie, movie.labels
    volume = syn.microscopy_zstack(seed=item_seed, **kwargs)
    return volume.image, volume.labels


def _save(path: Path, image: np.ndarray, labels: np.ndarray) -> None:
    with atomic_file(path, suffix=".npz") as tmp:
        np.savez(tmp, image=image, labels=labels)


def synthetic_stacks(cfg: SyntheticDataConfig, workers: int = 2) -> list[LabelledStack]:
    """The generated data of ``cfg`` as labelled stacks (drawn once, then read from cache).

    Raises
    ------
    ValueError
        If ``cfg`` asks for no item at all.
    """
    jobs = _jobs(cfg)
    if not jobs:
        raise ValueError(
            "data.synthetic asks for no data; set data.synthetic.images, timelapses or "
            "zstacks to a positive number"
        )
    recipe = _recipe_hash(cfg)
    folder = Path(cfg.cache) / f"synthetic_{recipe}" if cfg.cache else None
    paths = [None if folder is None else folder / f"{k}_{i:05d}.npz" for k, i, _ in jobs]
    todo = [i for i, p in enumerate(paths) if p is None or not p.exists()]
    items: dict[int, tuple[np.ndarray, np.ndarray]] = {}
    if todo:
        log.info("drawing %d synthetic items (%d cached)", len(todo), len(jobs) - len(todo))
        with ProcessPoolExecutor(max_workers=max(1, workers)) as pool:
            drawn = pool.map(_draw, [jobs[i] for i in todo], [cfg.seed] * len(todo), chunksize=4)
            for i, (image, labels) in zip(todo, drawn, strict=True):
                path = paths[i]
                if path is not None:
                    _save(path, image, labels)
                items[i] = (image, labels)
    stacks: list[LabelledStack] = []
    for i, (kind, index, _) in enumerate(jobs):
        if i in items:
            image, labels = items[i]
        else:
            with np.load(paths[i]) as data:  # type: ignore[arg-type]
                image, labels = data["image"], data["labels"]
        if not np.any(labels):
            continue  # nothing to learn from (rare: e.g. every cell left the field)
        stacks.append(
            SyntheticStack(image, labels, f"synthetic {kind} {index}", f"{recipe}:{kind}:{index}")
        )
    return stacks
