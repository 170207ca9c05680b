"""Tracking sessions of the plugin: conditioning masks in, frames out.

The plugin conditions SAM 2 on **masks read from the Labels layer** on the planes where
the user committed or corrected an object: what you see on a prompted frame is what gets
tracked, hand edits included. A :class:`SessionSlot` keeps one engine
``TrackingSession`` per (image, model, fixed-axes position) and feeds it only the
conditioning masks that changed since the last propagation (by digest), so a correction
on frame 40 re-propagates without re-encoding the other prompted frames.
"""

from __future__ import annotations

import hashlib
from collections.abc import Hashable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np


@dataclass(frozen=True)
class Conditioning:
    """One object's mask on one frame, fed to the session as a mask prompt.

    Attributes
    ----------
    frame
        Frame index along the stack axis.
    obj_id
        Object (label) id.
    mask
        (H, W) bool mask in (row, col) order.
    """

    frame: int
    obj_id: int
    mask: np.ndarray

    @property
    def digest(self) -> str:
        packed = np.packbits(np.ascontiguousarray(self.mask, dtype=bool))
        return hashlib.blake2b(packed.tobytes(), digest_size=16).hexdigest()


@dataclass
class SessionSlot:
    """An engine ``TrackingSession`` and the conditioning masks it has been given.

    Attributes
    ----------
    key
        What the session is for: (image token, model id, fixed-axes position).
    session
        The ``sam2_engine.TrackingSession``.
    synced
        ``{(obj_id, frame): digest}`` of the masks already added.
    """

    key: Hashable
    session: Any
    synced: dict[tuple[int, int], str] = field(default_factory=dict)

    def sync(self, conditioning: Sequence[Conditioning]) -> int:
        """Make the session's prompts equal ``conditioning``; returns masks (re)added.

        Objects left without conditioning are removed from the session; frames no
        longer conditioned keep their result as an ordinary memory.
        """
        session = self.session
        wanted = {(c.obj_id, c.frame): c for c in conditioning}
        for obj_id, frame in list(self.synced):
            if (obj_id, frame) not in wanted and obj_id in session.obj_ids:
                session.clear_prompts(frame, obj_id)
                del self.synced[(obj_id, frame)]
        added = 0
        for key, cond in wanted.items():
            digest = cond.digest
            if self.synced.get(key) != digest:
                session.add_mask(cond.frame, cond.obj_id, cond.mask)
                self.synced[key] = digest
                added += 1
        keep = {c.obj_id for c in conditioning}
        for obj_id in list(session.obj_ids):
            if obj_id not in keep:
                session.remove_object(obj_id)
                self.synced = {k: v for k, v in self.synced.items() if k[0] != obj_id}
        return added
