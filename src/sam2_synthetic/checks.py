"""Argument checks shared by the generators; each raises ``ValueError`` naming the fix."""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import DTypeLike


def _check_shape(shape: tuple[int, ...], ndim: int, minimum: int, name: str = "shape") -> tuple:
    shape = tuple(int(s) for s in shape)
    if len(shape) != ndim or min(shape) < minimum:
        raise ValueError(
            f"{name}={shape} is not valid; pass {ndim} sizes, each at least {minimum} pixels."
        )
    return shape


def _check_range(value: tuple[float, float], name: str) -> tuple[float, float]:
    low, high = (float(v) for v in value)
    if not 0 < low <= high:
        raise ValueError(f"{name}={value} is not valid; pass (low, high) with 0 < low <= high.")
    return low, high


def _check_positive(value: float, name: str, allow_zero: bool = False) -> float:
    value = float(value)
    if not (value >= 0 if allow_zero else value > 0) or not math.isfinite(value):
        bound = ">= 0" if allow_zero else "> 0"
        raise ValueError(f"{name}={value} is not valid; pass a finite number {bound}.")
    return value


def _check_dtype(dtype: DTypeLike) -> np.dtype:
    dt = np.dtype(dtype)
    if dt.kind not in "uif":
        raise ValueError(f"dtype={dt} is not supported; pass an integer or float dtype.")
    return dt
