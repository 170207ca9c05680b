"""Keep ``import triton`` from crashing napari when the OpenGL driver already loaded LLVM.

``torchvision.ops`` (used by the automatic mask generator) imports ``torch._dynamo``,
which probes for the ``triton`` package. triton's native library bundles its own LLVM;
when napari's canvas runs on a Mesa driver (llvmpipe under Xvfb or in VMs, and the
Intel / AMD drivers), the process already holds Mesa's ``libLLVM`` and importing triton
**segfaults** (reproduced here: create a napari viewer, then ``import torchvision.ops``).

The engine never needs triton (no ``torch.compile``), so when LLVM is already mapped
into the process and triton is not imported yet, :func:`guard_triton_import` makes
``import triton`` raise ``ImportError`` instead; torch treats that as "triton not
installed". Elsewhere it does nothing.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path

log = logging.getLogger(__name__)


def llvm_loaded(maps: Path = Path("/proc/self/maps")) -> bool:
    """Whether a shared LLVM library is mapped into this process (Linux only)."""
    try:
        return "libLLVM" in maps.read_text()
    except OSError:
        return False


def guard_triton_import() -> bool:
    """Block ``import triton`` if it would crash; returns True when it is blocked."""
    if "triton" in sys.modules:
        return sys.modules["triton"] is None
    if llvm_loaded():
        sys.modules["triton"] = None  # type: ignore[assignment]
        log.info("LLVM is loaded by the OpenGL driver: triton is disabled to avoid a crash")
        return True
    return False
