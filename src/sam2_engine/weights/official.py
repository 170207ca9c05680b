"""The registry of the official SAM 2 / 2.1 checkpoint files: names, URLs, sizes, sha256.

Each entry of :data:`OFFICIAL_CHECKPOINTS` is an :class:`OfficialCheckpoint`, keyed by its
name, which is also the model config name and the file stem (``"sam2.1_hiera_tiny"`` ->
``sam2.1_hiera_tiny.pt``), with the URL, sha256 and (for SAM 2.1) size of the official
file. How the files are fetched, cached and verified is :mod:`sam2_engine.weights.download`, which
re-exports both names. This module only uses the standard library.

Examples
--------
>>> from sam2_engine.weights.official import OFFICIAL_CHECKPOINTS
>>> entry = OFFICIAL_CHECKPOINTS["sam2.1_hiera_tiny"]
>>> entry.filename, entry.size
('sam2.1_hiera_tiny.pt', 156008466)
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "OFFICIAL_CHECKPOINTS",
    "OfficialCheckpoint",
]

_SAM21_URL = "https://dl.fbaipublicfiles.com/segment_anything_2/092824/"
_SAM20_URL = "https://dl.fbaipublicfiles.com/segment_anything_2/072824/"
_SHA256_PATTERN = re.compile(r"[0-9a-f]{64}")


@dataclass(frozen=True)
class OfficialCheckpoint:
    """One downloadable checkpoint file and the facts needed to verify it.

    Parameters
    ----------
    name : str
        Registry name, equal to the model config name (e.g. ``"sam2.1_hiera_tiny"``).
    filename : str
        File name inside the cache folder (a plain name, no folders).
    url : str
        Where the file is downloaded from (``http``, ``https`` or ``file`` URL).
    sha256 : str
        Expected sha256 of the file, 64 lowercase hexadecimal digits.
    size : int or None
        Expected size in bytes, or None when it is not published.

    Raises
    ------
    ValueError
        If the file name contains a folder, the sha256 is not 64 lowercase hex digits or the
        size is negative.
    """

    name: str
    filename: str
    url: str
    sha256: str
    size: int | None

    def __post_init__(self) -> None:
        if not self.filename or Path(self.filename).name != self.filename:
            raise ValueError(
                f"Checkpoint {self.name!r} has filename {self.filename!r}; give a plain file "
                "name without folders (the cache folder is chosen by cache_dir())."
            )
        if not _SHA256_PATTERN.fullmatch(self.sha256):
            raise ValueError(
                f"Checkpoint {self.name!r} has sha256 {self.sha256!r}; give 64 lowercase "
                "hexadecimal digits."
            )
        if self.size is not None and self.size < 0:
            raise ValueError(
                f"Checkpoint {self.name!r} has size {self.size}; give the size in bytes "
                "(>= 0) or None when it is unknown."
            )


# name (= file stem = model config name) -> sha256 of the official file
_OFFICIAL_SHA256 = {
    "sam2.1_hiera_tiny": "7402e0d864fa82708a20fbd15bc84245c2f26dff0eb43a4b5b93452deb34be69",
    "sam2.1_hiera_small": "6d1aa6f30de5c92224f8172114de081d104bbd23dd9dc5c58996f0cad5dc4d38",
    "sam2.1_hiera_base_plus": "a2345aede8715ab1d5d31b4a509fb160c5a4af1970f199d9054ccfb746c004c5",
    "sam2.1_hiera_large": "2647878d5dfa5098f2f8649825738a9345572bae2d4350a2468587ece47dd318",
    "sam2_hiera_tiny": "65b50056e05bcb13694174f51bb6da89c894b57b75ccdf0ba6352c597c5d1125",
    "sam2_hiera_small": "95949964d4e548409021d47b22712d5f1abf2564cc0c3c765ba599a24ac7dce3",
    "sam2_hiera_base_plus": "d0bb7f236400a49669ffdd1be617959a8b1d1065081789d7bbff88eded3a8071",
    "sam2_hiera_large": "7442e4e9b732a508f80e141e7c2913437a3610ee0c77381a66658c3a445df87b",
}
# name -> size in bytes, where published (only for SAM 2.1)
_OFFICIAL_SIZE = {
    "sam2.1_hiera_tiny": 156008466,
    "sam2.1_hiera_small": 184416285,
    "sam2.1_hiera_base_plus": 323606802,
    "sam2.1_hiera_large": 898083611,
}


def _official(name: str) -> OfficialCheckpoint:
    base = _SAM21_URL if name.startswith("sam2.1_") else _SAM20_URL
    filename = f"{name}.pt"
    return OfficialCheckpoint(
        name, filename, base + filename, _OFFICIAL_SHA256[name], _OFFICIAL_SIZE.get(name)
    )


OFFICIAL_CHECKPOINTS: dict[str, OfficialCheckpoint] = {
    name: _official(name) for name in _OFFICIAL_SHA256
}
