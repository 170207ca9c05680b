"""Choosing a device and the matching autocast precision."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch


def available_devices() -> list[str]:
    """Device names usable on this machine, best first (e.g. ``["cuda", "cpu"]``)."""
    names = []
    if torch.cuda.is_available():
        names.append("cuda")
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        names.append("mps")
    names.append("cpu")
    return names


def resolve_device(device: str | torch.device | None = None) -> torch.device:
    """Turn ``None``/``"auto"`` into the best available device, or validate a name.

    Parameters
    ----------
    device
        ``None`` or ``"auto"`` (CUDA, then Apple MPS, then CPU), or a device name such
        as ``"cpu"``, ``"cuda"``, ``"cuda:1"``, ``"mps"``.

    Raises
    ------
    ValueError
        If the requested device is not available here.
    """
    if device is None or (isinstance(device, str) and device == "auto"):
        return torch.device(available_devices()[0])
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError) as err:
        raise ValueError(f"unknown device {device!r}; use 'auto', 'cpu', 'cuda' or 'mps'") from err
    if dev.type not in available_devices():
        raise ValueError(
            f"device {device!r} is not available on this machine; available: "
            f"{', '.join(available_devices())} (or 'auto')"
        )
    if dev.type == "cuda" and dev.index is not None and dev.index >= torch.cuda.device_count():
        raise ValueError(
            f"CUDA device {dev.index} does not exist ({torch.cuda.device_count()} found)"
        )
    return dev


PRECISIONS = ("auto", "float32", "bfloat16")


def autocast_dtype(device: torch.device, precision: str = "auto") -> torch.dtype | None:
    """The autocast dtype for inference on ``device``; None means plain float32.

    Parameters
    ----------
    device
        Where the model runs.
    precision
        ``"auto"`` (default): bfloat16 autocast on CUDA GPUs that support it (the
        reference's recommended mode, about twice as fast), float32 elsewhere.
        ``"float32"``: never autocast (on CUDA the results then match the CPU's up to
        cuDNN's TF32 rounding).
        ``"bfloat16"``: autocast wherever the device supports it (CUDA, CPU).
    """
    if precision not in PRECISIONS:
        raise ValueError(f"unknown precision {precision!r}; use one of {', '.join(PRECISIONS)}")
    if precision == "float32":
        return None
    cuda_bf16 = device.type == "cuda" and torch.cuda.is_bf16_supported()
    if precision == "auto":
        return torch.bfloat16 if cuda_bf16 else None
    if device.type == "cuda" and not cuda_bf16:
        raise ValueError("this GPU does not support bfloat16; use precision='float32'")
    if device.type not in ("cuda", "cpu"):
        raise ValueError(f"bfloat16 autocast is not supported on {device.type}; use 'auto'")
    return torch.bfloat16


@contextlib.contextmanager
def inference_context(device: torch.device, precision: str = "auto") -> Iterator[None]:
    """``torch.inference_mode`` plus autocast as :func:`autocast_dtype` decides."""
    dtype = autocast_dtype(device, precision)
    with torch.inference_mode():
        if dtype is None:
            yield
        else:
            with torch.autocast(device_type=device.type, dtype=dtype):
                yield
