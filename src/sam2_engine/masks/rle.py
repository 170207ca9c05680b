"""Run-length encodings (RLE) of masks: uncompressed, and COCO's compressed strings.

Everything here runs on the CPU with numpy; :func:`mask_to_rle` also takes a torch tensor
(on any device), scans it there and copies only the run boundaries to the CPU.

Conventions
-----------
* Masks have shape ``(N, H, W)`` (for :func:`mask_to_rle`) or ``(H, W)``: the last two axes
  are (row, col).
* Run-length encodings (RLE) follow COCO: the mask is read in column-major (Fortran)
  order and the run lengths alternate zeros, ones, zeros, ..., starting with zeros
  (so the first count is 0 when the first pixel is set).
* An uncompressed RLE is ``{"size": [H, W], "counts": [int, ...]}``; a compressed one has
  ``counts`` as a COCO string (``str`` or ``bytes``), exactly as pycocotools writes it.
  Every reader here accepts both.
* No function modifies its inputs.

These names are also importable from :mod:`sam2_engine.masks.postprocess`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch

__all__ = [
    "coco_to_rle",
    "mask_to_rle",
    "rle_area",
    "rle_to_coco",
    "rle_to_mask",
]


def mask_to_rle(masks: np.ndarray | torch.Tensor) -> list[dict[str, Any]]:
    """Encode masks as uncompressed COCO run-length encodings.

    Parameters
    ----------
    masks : numpy.ndarray or torch.Tensor of bool, shape (N, H, W)
        Masks, axes (mask, row, col); nonzero counts as set. A tensor is scanned on its
        own device and only the run boundaries are copied to the CPU.

    Returns
    -------
    list of dict
        One ``{"size": [H, W], "counts": [int, ...]}`` per mask. Counts are run lengths
        over the column-major pixel order, starting with a run of zeros.

    Examples
    --------
    >>> m = np.array([[[0, 1], [1, 1]]], bool)
    >>> mask_to_rle(m)
    [{'size': [2, 2], 'counts': [1, 3]}]
    """
    if not isinstance(masks, torch.Tensor):
        masks = np.asarray(masks)
    if masks.ndim != 3:
        raise ValueError(
            f"mask_to_rle needs masks of shape (N, H, W), got {tuple(masks.shape)}; "
            "use masks[None] for a single mask."
        )
    n, h, w = masks.shape
    if isinstance(masks, torch.Tensor):
        flat = (masks != 0).transpose(1, 2).reshape(n, h * w)
        which, where = (flat[:, 1:] != flat[:, :-1]).nonzero(as_tuple=True)
        which, where = which.cpu().numpy(), where.cpu().numpy()
        first = flat[:, 0].cpu().numpy() if h * w else np.zeros(n, dtype=bool)
    else:
        flat = (masks != 0).transpose(0, 2, 1).reshape(n, h * w)
        which, where = np.nonzero(flat[:, 1:] != flat[:, :-1])
        first = flat[:, 0] if h * w else np.zeros(n, dtype=bool)
    # Change points come sorted by mask, so each mask's slice is found by a binary search.
    bounds = np.searchsorted(which, np.arange(n + 1))
    out = []
    for i in range(n):
        edges = np.concatenate([[0], where[bounds[i] : bounds[i + 1]] + 1, [h * w]])
        counts = np.diff(edges).tolist()
        if first[i]:
            counts.insert(0, 0)
        out.append({"size": [int(h), int(w)], "counts": counts})
    return out


def _rle_size(rle: Mapping[str, Any]) -> tuple[int, int]:
    try:
        h, w = (int(v) for v in rle["size"])
    except (KeyError, TypeError, ValueError) as err:
        raise ValueError(f"an RLE needs a 'size': [H, W] entry, got {rle.get('size')!r}.") from err
    return h, w


def _rle_counts(rle: Mapping[str, Any]) -> list[int]:
    """Run lengths of an uncompressed or COCO-compressed RLE."""
    counts = rle.get("counts")
    if isinstance(counts, (str, bytes)):
        return _decode_counts(counts)
    if counts is None:
        raise ValueError("an RLE needs a 'counts' entry (a list of ints or a COCO string).")
    return [int(c) for c in counts]


def rle_to_mask(rle: Mapping[str, Any]) -> np.ndarray:
    """Decode a COCO run-length encoding (uncompressed or compressed) into a mask.

    Parameters
    ----------
    rle : dict
        ``{"size": [H, W], "counts": ...}`` with counts a list of ints or a COCO string.

    Returns
    -------
    numpy.ndarray of bool, shape (H, W)
        The mask, axes (row, col), C-contiguous.
    """
    h, w = _rle_size(rle)
    counts = np.asarray(_rle_counts(rle), dtype=np.int64)
    if (counts < 0).any() or counts.sum() != h * w:
        raise ValueError(
            f"RLE counts must be non-negative and add up to H*W = {h * w}, "
            f"got a sum of {int(counts.sum())}; the RLE does not match its size."
        )
    values = np.arange(counts.size) % 2 == 1
    column_major = np.repeat(values, counts)
    return np.ascontiguousarray(column_major.reshape(w, h).T)


def rle_area(rle: Mapping[str, Any]) -> int:
    """Number of set pixels of a COCO RLE (uncompressed or compressed), without decoding it."""
    return int(sum(_rle_counts(rle)[1::2]))


def _encode_counts(counts: Sequence[int]) -> str:
    """COCO's text form of run lengths.

    From the fourth count on, each count is stored as its difference to the count two
    places before. Every (signed) number is written in groups of 5 bits, least significant
    first; each group becomes one character ``chr(48 + group)`` with bit 0x20 set when more
    groups follow. The last group's bit 0x10 is the sign.
    """
    chars = []
    for i, count in enumerate(counts):
        value = int(count) - int(counts[i - 2]) if i > 2 else int(count)
        while True:
            group = value & 0x1F
            value >>= 5  # arithmetic shift: negative numbers end at -1
            done = value == (-1 if group & 0x10 else 0)
            chars.append(chr(48 + (group if done else group | 0x20)))
            if done:
                break
    return "".join(chars)


def _decode_counts(text: str | bytes) -> list[int]:
    """Inverse of :func:`_encode_counts`."""
    if isinstance(text, bytes):
        text = text.decode("ascii")
    counts: list[int] = []
    pos = 0
    while pos < len(text):
        value, shift = 0, 0
        while True:
            if pos >= len(text):
                raise ValueError("the COCO RLE string ends in the middle of a number.")
            group = ord(text[pos]) - 48
            if not 0 <= group < 64:
                raise ValueError(
                    f"character {text[pos]!r} at {pos} is not part of a COCO RLE string."
                )
            pos += 1
            value |= (group & 0x1F) << shift
            shift += 5
            if not group & 0x20:
                if group & 0x10:
                    value |= -1 << shift  # sign-extend
                break
        if len(counts) > 2:
            value += counts[-2]
        counts.append(value)
    return counts


def rle_to_coco(rle: Mapping[str, Any]) -> dict[str, Any]:
    """Compress an uncompressed RLE into COCO's string form (as pycocotools writes it).

    Parameters
    ----------
    rle : dict
        ``{"size": [H, W], "counts": [int, ...]}``.

    Returns
    -------
    dict
        ``{"size": [H, W], "counts": str}``, JSON-serialisable.

    Examples
    --------
    >>> rle_to_coco({"size": [2, 2], "counts": [1, 3]})
    {'size': [2, 2], 'counts': '13'}
    """
    h, w = _rle_size(rle)
    return {"size": [h, w], "counts": _encode_counts(_rle_counts(rle))}


def coco_to_rle(coco: Mapping[str, Any]) -> dict[str, Any]:
    """Expand a COCO compressed RLE (counts as ``str`` or ``bytes``) into an uncompressed one.

    Returns
    -------
    dict
        ``{"size": [H, W], "counts": [int, ...]}``.
    """
    h, w = _rle_size(coco)
    return {"size": [h, w], "counts": _rle_counts(coco)}
