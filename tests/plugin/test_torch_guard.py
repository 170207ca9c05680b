"""The triton guard only acts when LLVM is already loaded by the OpenGL driver."""

import sys

from napari_sam2.core import torch_guard


def test_llvm_detection(tmp_path):
    maps = tmp_path / "maps"
    maps.write_text("7f00 r-xp /usr/lib/x86_64-linux-gnu/libLLVM-15.so.1\n")
    assert torch_guard.llvm_loaded(maps)
    maps.write_text("7f00 r-xp /usr/lib/libc.so.6\n")
    assert not torch_guard.llvm_loaded(maps)
    assert not torch_guard.llvm_loaded(tmp_path / "missing")


def test_guard_blocks_triton_only_when_llvm_is_loaded(monkeypatch):
    monkeypatch.delitem(sys.modules, "triton", raising=False)
    monkeypatch.setattr(torch_guard, "llvm_loaded", lambda: False)
    assert not torch_guard.guard_triton_import()
    assert "triton" not in sys.modules
    monkeypatch.setattr(torch_guard, "llvm_loaded", lambda: True)
    assert torch_guard.guard_triton_import()
    assert sys.modules["triton"] is None
