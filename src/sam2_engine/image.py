"""ImagePredictor: encode an image once, then decode prompts interactively.

Coordinates are pixels of the original image: points ``(x, y) = (column, row)``,
boxes ``(x0, y0, x1, y1)``. Masks come back at the original resolution.

Examples
--------
>>> import numpy as np, sam2_engine as se
>>> predictor = se.ImagePredictor(se.build_model("test_tiny"))
>>> predictor.set_image(np.random.default_rng(0).integers(0, 4000, (96, 120), dtype=np.uint16))
>>> result = predictor.predict(points=[[60, 40]], labels=[1])
>>> result.masks.shape, result.scores.shape
((3, 96, 120), (3,))
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
import torch

from sam2_engine.device import inference_context
from sam2_engine.focus.image_prompts import WindowedPrompts
from sam2_engine.focus.policy import WindowPolicy
from sam2_engine.focus.window import Window
from sam2_engine.image_prediction import ImagePrediction
from sam2_engine.imaging.frames import resize_batch
from sam2_engine.imaging.image_input import (
    as_lazy_plane,
    detach_float,
    image_hw,
    uint8_rgb_on_device,
)
from sam2_engine.imaging.intensity import Normalization, to_rgb
from sam2_engine.imaging.lazy_plane import LazyPlane
from sam2_engine.masks.logit_cleanup import MaskCleanup
from sam2_engine.model.image_encoder import ImageFeatures
from sam2_engine.model.sam2 import LOGIT_CLAMP, SAM2Model
from sam2_engine.progress import CancelCallback, ProgressCallback
from sam2_engine.prompts import (
    check_boxes,
    check_points,
    combine_prompts,
    mask_prompt_logits,
    to_model_coords,
)
from sam2_engine.tiled.grid import TilingSettings
from sam2_engine.tiled.image_tiles import embed_all_tiles, predict_tiled, tile_image
from sam2_engine.tiled.prompts import TiledPrompts

if TYPE_CHECKING:
    from sam2_engine.embedding_cache import EmbeddingCache


class ImagePredictor:
    """Interactive segmentation of still images (2D, any dtype, 1..n channels).

    Parameters
    ----------
    model
        A :class:`~sam2_engine.model.sam2.SAM2Model` (see :func:`sam2_engine.build_model`).
    mask_threshold
        Logit threshold that turns logits into masks.
    max_hole_area, max_sprinkle_area
        If > 0, fill holes / remove islands up to this area (in low-resolution pixels,
        i.e. at a quarter of the model input size) before upsampling; runs on CPU.
    normalization
        Default intensity normalisation (see
        :class:`~sam2_engine.imaging.intensity.Normalization`): 8-bit data is scaled by
        1/255 as the official model expects, other dtypes by robust percentiles.
    windows
        ``"auto"`` (default): prompt-centred windows when the model recommends them (see
        :mod:`sam2_engine.focus`; models trained on microscopy at a fixed object scale),
        the whole image otherwise (the official models). A
        :class:`~sam2_engine.focus.policy.WindowPolicy` forces windows, None the whole
        image. In window mode :meth:`set_image` encodes nothing; each prompt is decoded
        in a window around it, and the result's ``window`` says which.
    tiling
        Whole-image models only: when an image much larger than the model input is cut
        into overlapping full-resolution tiles instead of being squashed
        (:class:`~sam2_engine.tiled.grid.TilingSettings`; default ``"auto"``: tile when the
        longer side exceeds twice the model input). Tiles are encoded when a prompt needs
        them (or all at once with :meth:`embed_tiles`); ``predict`` keeps its signature
        and returns full-resolution masks of the whole object, completed across tiles.
    embedding_cache
        Optional :class:`~sam2_engine.embedding_cache.EmbeddingCache`: image and tile
        features are read from / written to it instead of re-running the encoder.
    """

    def __init__(
        self,
        model: SAM2Model,
        *,
        mask_threshold: float = 0.0,
        max_hole_area: int = 0,
        max_sprinkle_area: int = 0,
        normalization: Normalization | None = None,
        windows: WindowPolicy | str | None = "auto",
        tiling: TilingSettings | None = None,
        embedding_cache: EmbeddingCache | None = None,
    ) -> None:
        self.model = model
        self.tiling = tiling or TilingSettings()
        self.embedding_cache = embedding_cache
        self._tiled: TiledPrompts | None = None
        policy = WindowPolicy.from_model(model) if windows == "auto" else windows
        if policy is not None and not isinstance(policy, WindowPolicy):
            raise TypeError(f"windows must be 'auto', a WindowPolicy or None, got {windows!r}")
        self._focus = WindowedPrompts(model, policy) if policy is not None else None
        self.mask_threshold = mask_threshold
        self.max_hole_area = max_hole_area
        self.max_sprinkle_area = max_sprinkle_area
        self.normalization = normalization or Normalization()
        self._features: ImageFeatures | None = None
        self._sizes: list[tuple[int, int]] = []

    # ------------------------------------------------------------------ images
    @property
    def device(self) -> torch.device:
        return self.model.device

    @property
    def is_image_set(self) -> bool:
        return self._features is not None or (
            (self._focus is not None or self._tiled is not None) and bool(self._sizes)
        )

    @property
    def tiled(self) -> bool:
        """Whether the current image is cut into tiles (see ``tiling``)."""
        return self._tiled is not None

    def embed_tiles(
        self, progress: ProgressCallback | None = None, cancel: CancelCallback | None = None
    ) -> bool:
        """Encode every tile of a tiled image now (else each on first use);
        ``progress(done, total)`` is called after each tile, ``cancel()`` before each
        (True stops). ``predict`` may run meanwhile in another thread: it uses the tiles
        already encoded. Returns whether every tile is encoded."""
        if self._tiled is None:
            return True
        return embed_all_tiles(self._tiled, progress, cancel)

    @property
    def tile_count(self) -> int:
        """Tiles of the current image (0 when it is not tiled)."""
        return 0 if self._tiled is None else len(self._tiled.grid)

    @property
    def windowed(self) -> bool:
        """Whether prompts are decoded in prompt-centred windows (see ``windows``)."""
        return self._focus is not None

    @property
    def original_sizes(self) -> list[tuple[int, int]]:
        """(height, width) of each image set, in order."""
        return list(self._sizes)

    @property
    def features(self) -> ImageFeatures:
        """The cached image features (for embedding caches); raises if no image is set.

        In window mode there are no whole-image features (windows are encoded per
        prompt): keep the predictor itself instead.
        """
        if self._focus is not None or self._tiled is not None:
            raise RuntimeError(
                "this predictor decodes prompts in windows or tiles and holds no whole-image "
                "features; keep the predictor (it caches its window features) instead"
            )
        self._require_image()
        assert self._features is not None
        return self._features

    def reset(self) -> None:
        """Forget the current image(s) and their features."""
        self._features, self._sizes, self._tiled = None, [], None
        if self._focus is not None:
            self._focus.set_images([])

    def set_image(
        self,
        image: np.ndarray,
        *,
        channel_axis: int | None = None,
        channels: Sequence[int] | None = None,
        normalization: Normalization | None = None,
    ) -> None:
        """Compute the embedding of one 2D image.

        Parameters
        ----------
        image
            (H, W) grayscale, (H, W, 3) RGB, or multichannel with ``channel_axis``; any
            real dtype, or a :class:`~sam2_engine.imaging.lazy_plane.LazyPlane`. NaN/inf
            values are refused. In window mode the image is neither copied nor
            normalised as a whole: each window reads and scales its own pixels with an
            intensity range estimated once from a subsample (a NaN is then reported by
            the window that reads it).
        channel_axis
            Axis holding channels, if any (``-1`` for (H, W, C)). RGB (H, W, 3) uint8
            images are detected without it.
        channels
            Up to three channel indices to show the model as R, G, B (multichannel
            fluorescence); see :func:`sam2_engine.imaging.intensity.to_rgb` for the default.
        normalization
            Overrides the predictor's default normalisation for this image.
        """
        self.set_images(
            [image], channel_axis=channel_axis, channels=channels, normalization=normalization
        )

    def set_images(
        self,
        images: Sequence[np.ndarray],
        *,
        channel_axis: int | None = None,
        channels: Sequence[int] | None = None,
        normalization: Normalization | None = None,
    ) -> None:
        """Embed several 2D images in one encoder pass; address them with ``image_index``."""
        if len(images) == 0:
            raise ValueError("set_images got an empty list; pass at least one image")
        norm = normalization or self.normalization
        if self._focus is not None:  # windows read and normalise only their own pixels
            planes = [as_lazy_plane(im, channel_axis, channels, norm) for im in images]
            for plane in planes:
                _ = plane.stats  # once, from a subsample: no full pass per click
            self._focus.set_images(planes)
            self._features = None
            self._sizes = [tuple(p.shape[:2]) for p in planes]  # type: ignore[misc]
            return
        self._tiled = None
        if len(images) == 1:
            hw = image_hw(images[0], channel_axis)
            if self.tiling.should_tile(hw, self.model.image_size):
                plane = as_lazy_plane(images[0], channel_axis, channels, norm)
                self._tiled = tile_image(self.model, plane, hw, self.tiling, self.embedding_cache)
                self._features, self._sizes = None, [hw]
                return
        batch, self._sizes = self._encoder_input(images, channel_axis, channels, norm)
        with inference_context(self.device, self.model.precision):
            if self.embedding_cache is not None and len(images) == 1:
                # keyed by the encoder input, as tracking sessions key their frames
                self._features = self.embedding_cache.encode(self.model, batch)
            else:
                self._features = detach_float(self.model.encode_image(batch))

    def _encoder_input(
        self,
        images: Sequence[np.ndarray],
        channel_axis: int | None,
        channels: Sequence[int] | None,
        norm: Normalization,
    ) -> tuple[torch.Tensor, list[tuple[int, int]]]:
        """(B, 3, S, S) encoder input of whole images (each resized to the model input
        and normalised) and their (H, W) sizes."""
        rgbs: list[np.ndarray | torch.Tensor] = []
        for im in images:
            if isinstance(im, LazyPlane):
                rgbs.append(im.full())
                continue
            fast = uint8_rgb_on_device(im, channel_axis, channels, norm, self.device)
            rgbs.append(
                fast
                if fast is not None
                else to_rgb(im, channel_axis=channel_axis, channels=channels, normalization=norm)
            )
        batch = resize_batch(rgbs, self.model.image_size, device=self.device)
        return batch, [tuple(r.shape[:2]) for r in rgbs]  # type: ignore[misc]

    def set_features(
        self, features: ImageFeatures, original_sizes: Sequence[tuple[int, int]]
    ) -> None:
        """Use precomputed features (e.g. from an embedding cache) instead of encoding."""
        if features.batch_size != len(original_sizes):
            raise ValueError(
                f"features hold {features.batch_size} image(s) but {len(original_sizes)} "
                "original sizes were given"
            )
        self._features = features.to(self.device)
        self._sizes = [tuple(map(int, s)) for s in original_sizes]  # type: ignore[misc]

    # ------------------------------------------------------------------ prediction
    def predict(
        self,
        points: np.ndarray | Sequence | None = None,
        labels: np.ndarray | Sequence | None = None,
        box: np.ndarray | Sequence | None = None,
        mask_input: np.ndarray | None = None,
        multimask: bool = True,
        *,
        image_index: int = 0,
        window: Window | None = None,
    ) -> ImagePrediction:
        """Predict masks for point and/or box prompts on the current image.

        Parameters
        ----------
        points
            (N, 2) (x, y) pixel coordinates, or (K, N, 2) for K objects at once.
        labels
            (N,) or (K, N): 1 positive, 0 negative.
        box
            (4,) box (x0, y0, x1, y1), or (K, 4) boxes predicted in one batched call.
        mask_input
            Low-resolution logits from an earlier prediction, (S/4, S/4), (1, S/4, S/4)
            or (K, 1, S/4, S/4), to refine it (iterative refinement).
        multimask
            Return three candidate masks (good for a single ambiguous click) instead of
            one.
        image_index
            Which image of :meth:`set_images`.
        window
            Window mode only: decode in this window (e.g. ``result.window`` of an earlier
            prediction, to refine it with ``mask_input``) instead of one chosen for the
            prompt.

        Returns
        -------
        ImagePrediction
            Without a leading K axis when one prompt set was given.
        """
        if self._focus is not None:
            return self._focus.predict(
                self._sizes,
                self.cleanup,
                points,
                labels,
                box,
                mask_input,
                multimask,
                image_index,
                window,
            )
        if self._tiled is not None:
            return predict_tiled(
                self._tiled, points, labels, box, mask_input, multimask, self.mask_threshold
            )
        feats, hw = self._image(image_index)
        if points is None and box is None and mask_input is None:
            raise ValueError("give at least one prompt: points (with labels), a box or mask_input")
        if (points is None) != (labels is None):
            raise ValueError("points and labels go together: give both or neither")
        dev = self.device
        pts = lab = boxes = None
        batched = False
        if points is not None:
            p, lab_np = check_points(points, labels, hw)  # type: ignore[arg-type]
            batched = np.asarray(points).ndim == 3
            pts = to_model_coords(p, hw, self.model.image_size, dev)
            lab = torch.as_tensor(lab_np, device=dev)
        if box is not None:
            b = check_boxes(box, hw)
            batched = batched or np.asarray(box).ndim == 2
            boxes = to_model_coords(b.reshape(-1, 2, 2), hw, self.model.image_size, dev)
        pts, lab = combine_prompts(pts, lab, boxes)
        k = pts.shape[0] if pts is not None else 1
        mask_t = mask_prompt_logits(mask_input, k, self.model.embedding_size * 4, dev)
        with inference_context(dev, self.model.precision):
            out = self.model.decode(
                self.model.embed_without_memory(feats), feats.high_res, pts, lab, mask_t, multimask
            )
        logits = out.masks.float()
        masks = self.cleanup.masks(logits, hw)
        result = ImagePrediction(
            masks=masks.cpu().numpy(),
            scores=out.iou.float().cpu().numpy(),
            logits=logits.clamp(-LOGIT_CLAMP, LOGIT_CLAMP).cpu().numpy(),
            object_scores=out.object_score.float()[:, 0].cpu().numpy(),
        )
        if not batched:
            result = ImagePrediction(
                result.masks[0], result.scores[0], result.logits[0], result.object_scores[0]
            )
        return result

    def predict_boxes(
        self, boxes: np.ndarray | Sequence, multimask: bool = False, *, image_index: int = 0
    ) -> ImagePrediction:
        """Predict one object per box, all boxes in one batched decoder call.

        ``boxes`` is (K, 4) as (x0, y0, x1, y1); returns masks (K, M, H, W).
        """
        boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
        return self.predict(box=boxes, multimask=multimask, image_index=image_index)

    # ------------------------------------------------------------------ helpers
    def _require_image(self) -> None:
        if self._features is None:
            raise RuntimeError("no image is set; call set_image(image) before predict()")

    def _image(self, index: int) -> tuple[ImageFeatures, tuple[int, int]]:
        self._require_image()
        assert self._features is not None
        n = self._features.batch_size
        if not -n <= index < n:
            raise IndexError(f"image_index {index} is out of range for {n} image(s)")
        index %= n
        return self._features.select(index), self._sizes[index]

    @property
    def cleanup(self) -> MaskCleanup:
        """The current logits-to-masks settings (threshold, hole and island areas), frozen."""
        return MaskCleanup(self.mask_threshold, self.max_hole_area, self.max_sprinkle_area)
