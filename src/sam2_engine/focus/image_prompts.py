"""Clicks and boxes decoded in prompt-centred windows (the image predictor's window mode).

A box sets its window directly (the box fills ``object_fraction`` of it). A click does
not say how large its object is, so it is looked at first in a few *probe* windows of
different sides around the click (encoded together in one batch). A model with an
instance head measures the object under the click in them
(:mod:`sam2_engine.focus.instance_probe`); otherwise (or where the head finds nothing
there) the click is decoded in each probe and the most plausible mask (well scored, not
cut by the window, of a sensible size for its window) gives the object's extent. The
click is then decoded in the window of that extent. Window
features are kept in a small LRU cache, so more clicks on the same object cost decoder
passes only.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from sam2_engine.device import inference_context
from sam2_engine.focus.instance_probe import object_box_from_instance_head
from sam2_engine.focus.policy import WindowPolicy
from sam2_engine.focus.window import Window
from sam2_engine.focus.window_cache import WindowFeatureCache
from sam2_engine.image_prediction import ImagePrediction, MaskCrop
from sam2_engine.imaging.lazy_plane import LazyPlane
from sam2_engine.masks.logit_cleanup import MaskCleanup
from sam2_engine.masks.postprocess import masks_to_boxes
from sam2_engine.model.image_encoder import ImageFeatures
from sam2_engine.model.sam2 import LOGIT_CLAMP, SAM2Model
from sam2_engine.prompts import check_boxes, check_points, corners_first, mask_prompt_logits

__all__ = ["WindowDecode", "WindowedPrompts"]

PLAUSIBLE_FRACTION = (0.06, 0.75)  # object extent / window side of a trustworthy probe


@dataclass
class WindowDecode:
    """One object decoded in one window.

    Attributes
    ----------
    window : Window
        Where it was decoded.
    logits : torch.Tensor
        (M, S/4, S/4) low-resolution mask logits in window coordinates.
    iou : torch.Tensor
        (M,) predicted IoU.
    object_score : float
        Object-presence logit.
    """

    window: Window
    logits: torch.Tensor
    iou: torch.Tensor
    object_score: float

    @property
    def best(self) -> int:
        return int(torch.argmax(self.iou))


class WindowedPrompts:
    """Window features and decoding for one predictor (see module docstring).

    Parameters
    ----------
    model
        The SAM 2 model that encodes each window and decodes its prompts.
    policy
        How large a prompt's window is, from the prompt and the object under it.
    cache_size
        Windows whose features are kept.
    """

    def __init__(self, model: SAM2Model, policy: WindowPolicy, cache_size: int = 16) -> None:
        self.model = model
        self.policy = policy
        self.cache_size = int(cache_size)
        self._images: list[torch.Tensor | LazyPlane] = []
        self._cache = WindowFeatureCache(model, self.cache_size, keep=_float32)

    # ------------------------------------------------------------------ images
    def set_images(self, rgbs: Sequence[torch.Tensor | LazyPlane]) -> None:
        """(H, W, 3) float32 frames in [0, 1], or :class:`LazyPlane` views of big images
        (only the windows are read and normalised); kept as they are, nothing is encoded."""
        self._images = list(rgbs)
        self._cache.clear()

    def image_hw(self, index: int) -> tuple[int, int]:
        h, w = self._images[index].shape[:2]
        return int(h), int(w)

    def features(self, index: int, windows: list[Window]) -> ImageFeatures:
        """Features of several windows of image ``index`` (batch in window order)."""
        return self._cache.get(index, windows, lambda: self._images[index])

    # ------------------------------------------------------------------ decoding
    def decode(
        self,
        index: int,
        windows: list[Window],
        points: np.ndarray | None,
        labels: np.ndarray | None,
        box: np.ndarray | None,
        mask_input: torch.Tensor | None,
        multimask: bool,
    ) -> list[WindowDecode]:
        """Decode one object's prompts in each of ``windows`` (one batched call).

        ``points`` (N, 2) and ``box`` (4,) are frame (x, y) pixels; points outside a
        window are left out of its prompt (negative clicks far away say nothing there).
        """
        size = self.model.image_size
        dev = self.model.device
        rows_pts, rows_lab = [], []
        for w in windows:
            pts = lab = None
            if points is not None and len(points):
                inside = w.contains(points) | (labels > 0)
                pts, lab = w.to_input(points[inside], size), labels[inside]
            corners = None
            if box is not None:
                corners = w.to_input(np.asarray(box, dtype=np.float64).reshape(2, 2), size)
            pts, lab = corners_first(pts, lab, corners)
            rows_pts.append(pts)
            rows_lab.append(lab)
        n = max(len(p) for p in rows_pts)
        pts_t = torch.zeros(len(windows), max(n, 1), 2, device=dev)
        lab_t = torch.full((len(windows), max(n, 1)), -1, dtype=torch.int32, device=dev)
        for i, (p, lab) in enumerate(zip(rows_pts, rows_lab, strict=True)):
            pts_t[i, : len(p)] = torch.as_tensor(p, dtype=torch.float32, device=dev)
            lab_t[i, : len(lab)] = torch.as_tensor(lab, device=dev)
        feats = self.features(index, windows)
        with inference_context(dev, self.model.precision):
            out = self.model.decode(
                self.model.embed_without_memory(feats),
                feats.high_res,
                pts_t,
                lab_t,
                mask_input,
                multimask,
            )
        return [
            WindowDecode(w, out.masks[i].float(), out.iou[i].float(), float(out.object_score[i, 0]))
            for i, w in enumerate(windows)
        ]

    def locate(self, index: int, points: np.ndarray, labels: np.ndarray) -> Window:
        """The window of the object under the positive clicks: probe, then size it."""
        hw = self.image_hw(index)
        positive = points[labels > 0]
        anchor = positive if len(positive) else points
        cx, cy = anchor.mean(axis=0)
        spread = float(np.ptp(anchor, axis=0).max()) if len(anchor) > 1 else 0.0
        limit = 2 * max(hw)
        sides = sorted({min(s, limit) for s in self.policy.probe_sides if s >= spread / 0.8})
        sides = sides or [self.policy.side_for(spread)]
        probes = [Window.centred(cy, cx, s, hw) for s in sides]
        best = None
        if self.model.instance_head is not None and len(positive):
            best = object_box_from_instance_head(
                self.model, self._images[index], probes, (float(cx), float(cy)), hw
            )
        if best is None:
            found = self.decode(index, probes, points, labels, None, None, multimask=True)
            best = _most_plausible(found, hw, self.model.image_size)
        if best is None:
            return probes[-1]
        x0, y0, x1, y1 = best
        if len(anchor):
            x0, y0 = min(x0, anchor[:, 0].min()), min(y0, anchor[:, 1].min())
            x1, y1 = max(x1, anchor[:, 0].max()), max(y1, anchor[:, 1].max())
        extent = max(x1 - x0, y1 - y0, 1.0)
        return Window.centred((y0 + y1) / 2, (x0 + x1) / 2, self.policy.side_for(extent), hw)

    def box_window(self, index: int, box: np.ndarray) -> Window:
        """The window of a box prompt: the box fills ``object_fraction`` of it."""
        x0, y0, x1, y1 = (float(v) for v in np.asarray(box).reshape(4))
        side = self.policy.side_for(max(x1 - x0, y1 - y0, 1.0))
        return Window.centred((y0 + y1) / 2, (x0 + x1) / 2, side, self.image_hw(index))

    def predict(
        self,
        sizes: Sequence[tuple[int, int]],
        cleanup: MaskCleanup,
        points: np.ndarray | Sequence | None,
        labels: np.ndarray | Sequence | None,
        box: np.ndarray | Sequence | None,
        mask_input: np.ndarray | None,
        multimask: bool,
        image_index: int,
        window: Window | None,
    ) -> ImagePrediction:
        """``ImagePredictor.predict`` in window mode: each prompt set in its own window.

        ``sizes`` are the (rows, cols) of the images set, ``cleanup`` the predictor's
        logits-to-masks settings; the other arguments are those of ``predict``.
        """
        if not sizes:
            raise RuntimeError("no image is set; call set_image(image) before predict()")
        n = len(sizes)
        if not -n <= image_index < n:
            raise IndexError(f"image_index {image_index} is out of range for {n} image(s)")
        index = image_index % n
        hw = sizes[index]
        if points is None and box is None:
            raise ValueError("give at least one prompt: points (with labels) or a box")
        if (points is None) != (labels is None):
            raise ValueError("points and labels go together: give both or neither")
        if mask_input is not None and window is None:
            raise ValueError(
                "in window mode, mask_input needs the window it belongs to: pass "
                "window=result.window of the prediction the logits come from"
            )
        batched = False
        pts = lab = boxes = None
        if points is not None:
            pts, lab = check_points(points, labels, hw)  # type: ignore[arg-type]
            batched = np.asarray(points).ndim == 3
        if box is not None:
            boxes = check_boxes(box, hw)
            batched = batched or np.asarray(box).ndim == 2
        k = max(len(pts) if pts is not None else 1, len(boxes) if boxes is not None else 1)
        mask_t = mask_prompt_logits(mask_input, k, self.model.embedding_size * 4, self.model.device)
        parts = []
        for i in range(k):
            p = None if pts is None else pts[min(i, len(pts) - 1)]
            lb = None if lab is None else lab[min(i, len(lab) - 1)]
            b = None if boxes is None else boxes[min(i, len(boxes) - 1)]
            if window is not None:
                win = window
            elif b is not None:
                win = self.box_window(index, b)
            else:
                assert p is not None and lb is not None
                win = self.locate(index, p, lb)
            m = None if mask_t is None else mask_t[min(i, len(mask_t) - 1)][None]
            parts.append(self.decode(index, [win], p, lb, b, m, multimask)[0])
        logits = torch.stack([d.logits for d in parts])  # (K, M, h, w)
        cleaned = cleanup.clean(logits)
        crops = []
        for i, d in enumerate(parts):
            inside = d.window.paste_inside(cleaned[i], hw) > cleanup.threshold
            rows, cols = d.window.inside(hw)
            crops.append(MaskCrop(inside.cpu().numpy(), rows.start, cols.start, hw))
        scores = torch.stack([d.iou for d in parts]).cpu().numpy()
        clamped = logits.clamp(-LOGIT_CLAMP, LOGIT_CLAMP).cpu().numpy()
        object_scores = np.array([d.object_score for d in parts], dtype=np.float32)
        if not batched:
            return ImagePrediction(
                None, scores[0], clamped[0], object_scores[0], parts[0].window, crops[0]
            )
        return ImagePrediction(
            None, scores, clamped, object_scores, [d.window for d in parts], crops
        )


def _float32(f: ImageFeatures) -> ImageFeatures:
    return ImageFeatures(
        f.embed.float(), (f.high_res[0].float(), f.high_res[1].float()), f.pos.float()
    )


def _most_plausible(
    found: list[WindowDecode], hw: tuple[int, int], size: int
) -> tuple[float, float, float, float] | None:
    """Frame box ``(x0, y0, x1, y1)`` of the best believable probe mask, or None."""
    lo, hi = PLAUSIBLE_FRACTION
    scored: list[tuple[float, tuple[float, float, float, float]]] = []
    for d in found:
        if d.object_score <= 0:
            continue
        mask = (d.logits[d.best] > 0).cpu().numpy()
        if not mask.any():
            continue
        scale = d.window.side / mask.shape[0]
        c0, r0, c1, r1 = masks_to_boxes(mask, inclusive=False).tolist()
        frac = max(r1 - r0, c1 - c0) / mask.shape[0]
        cut = d.window.cuts((r0, r1, c0, c1), mask.shape[0], hw)
        plausible = lo <= frac <= hi and not cut
        score = float(d.iou[d.best]) + (1.0 if plausible else 0.0)
        box = (
            d.window.left + c0 * scale,
            d.window.top + r0 * scale,
            d.window.left + c1 * scale,
            d.window.top + r1 * scale,
        )
        scored.append((score, box))
    if not scored:
        return None
    return max(scored, key=lambda item: item[0])[1]
