"""Which models the plugin offers, and loading them (shared by all viewers).

Choices, in the order the widget lists them:

1. bundled models (``sam2_engine.bundled_models()``: files shipped inside the engine
   that carry their config), buildable by name and offline;
2. locally registered models (``sam2_engine.register_model``, e.g. written by the
   fine-tuning widget), then the official SAM 2 / 2.1 sizes (downloaded and verified on
   first use; the label says when a download is needed);
3. the random-weight test configs (``test_tiny``, ``test_small``), for trying the GUI;
4. any ``.pt`` file the user picks.

The list is recomputed by :func:`available_models` every time it is asked, so models
registered while napari runs show up after a refresh; :func:`model_registered`
announces a new (or retrained) model through :data:`MODEL_LIST` so that open widgets
refresh at once. Loaded models are kept in a small cache keyed by (name, device), so two
viewers on the same model share its weights.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from psygnal import Signal

if TYPE_CHECKING:
    from sam2_engine import CancelCallback, ProgressCallback


log = logging.getLogger(__name__)

FALLBACK_TEST_MODEL = "test_small"
_MAX_LOADED = 2


@dataclass(frozen=True)
class ModelChoice:
    """One entry of the model list.

    Attributes
    ----------
    name
        What :func:`sam2_engine.build_model` takes: a registry name or a file path.
    label
        What the user sees.
    kind
        ``"bundled"``, ``"local"``, ``"official"``, ``"test"`` or ``"file"``.
    ready
        False when weights still have to be downloaded.
    """

    name: str
    label: str
    kind: str
    ready: bool = True


def bundled_models() -> list[ModelChoice]:
    """Models shipped inside the package (work offline), by name."""
    import sam2_engine as se

    return [ModelChoice(name, f"{name} (bundled)", "bundled") for name in se.bundled_models()]


def _official_ready(name: str) -> bool:
    from sam2_engine import cached_path

    try:
        return cached_path(name).exists()
    except ValueError:
        return False


def available_models(extra_files: tuple[str, ...] = ()) -> list[ModelChoice]:
    """Every model the user can pick now (cheap: reads no weights)."""
    from sam2_engine import OFFICIAL_CHECKPOINTS, list_models

    choices = bundled_models()
    bundled = {c.name for c in choices}
    names = [n for n in list_models() if n not in bundled]
    local = set(names) - set(list_models(include_local=False))
    for name in sorted(local):
        choices.append(ModelChoice(name, f"{name} (fine-tuned)", "local"))
    for name in names:
        if name in OFFICIAL_CHECKPOINTS:
            ready = _official_ready(name)
            label = name if ready else f"{name} (download on first use)"
            choices.append(ModelChoice(name, label, "official", ready))
    for name in names:
        if name not in OFFICIAL_CHECKPOINTS and name not in local:
            choices.append(ModelChoice(name, f"{name} (random weights, for testing)", "test"))
    for path in extra_files:
        choices.append(ModelChoice(str(path), f"{Path(path).name} (file)", "file"))
    return choices


def default_model_name() -> str:
    """The model the widgets start with: ``sam2_engine.default_model_name()`` (an official
    SAM 2.1 checkpoint on disk, else the bundled microscopy model, else Hiera-T)."""
    import sam2_engine as se

    return se.default_model_name()


def usable_default_model() -> str:
    """Like :func:`default_model_name` but never needs the network: falls back to the
    random-weight ``test_small`` when the official weights are not on disk."""
    name = default_model_name()
    if not bundled_models() and not _official_ready(name):
        return FALLBACK_TEST_MODEL
    return name


def available_devices() -> list[str]:
    """``"auto"`` followed by the devices torch can use here."""
    from sam2_engine import available_devices as engine_devices

    return ["auto", *engine_devices()]


class _ModelStore:
    """Loaded models keyed by (name, device); the least recently used is dropped."""

    def __init__(self) -> None:
        self._models: OrderedDict[tuple[str, str], Any] = OrderedDict()
        self._lock = threading.Lock()
        # one build at a time: a second request for the same model waits and reuses the
        # first one's result (and two builds in two napari workers were seen to hang)
        self._build_lock = threading.Lock()

    def get(
        self,
        name: str,
        device: str | None = None,
        progress: ProgressCallback | None = None,
        cancel: CancelCallback | None = None,
    ) -> Any:
        from sam2_engine import resolve_device

        dev = str(resolve_device(None if device in (None, "auto") else device))
        key = (str(name), dev)
        with self._build_lock:
            return self._get_or_build(name, key, progress, cancel)

    def _get_or_build(
        self,
        name: str,
        key: tuple[str, str],
        progress: ProgressCallback | None,
        cancel: CancelCallback | None,
    ) -> Any:
        from sam2_engine import OFFICIAL_CHECKPOINTS, build_model

        dev = key[1]
        with self._lock:
            if key in self._models:
                self._models.move_to_end(key)
                return self._models[key]
        checkpoint = None
        if name in OFFICIAL_CHECKPOINTS:
            from sam2_engine import ensure_checkpoint

            checkpoint = ensure_checkpoint(name, progress=progress, cancel=cancel)
        model = build_model(name, checkpoint=checkpoint, device=dev)
        with self._lock:
            self._models[key] = model
            while len(self._models) > _MAX_LOADED:
                self._models.popitem(last=False)
        log.info("loaded model %s on %s", name, dev)
        return model

    def clear(self) -> None:
        with self._lock:
            self._models.clear()

    def forget(self, name: str) -> None:
        """Drop every loaded copy of ``name`` (its file changed, e.g. retrained)."""
        with self._lock:
            for key in [k for k in self._models if k[0] == str(name)]:
                del self._models[key]


MODEL_STORE = _ModelStore()


class _ModelListEvents:
    """``changed(name)``: a model was registered (or retrained) under ``name``."""

    changed = Signal(str)


#: Emitted on the GUI thread when the model list changes (see :func:`model_registered`).
MODEL_LIST = _ModelListEvents()


def model_registered(name: str) -> None:
    """Announce a model registered with ``sam2_engine.register_model``.

    Forgets loaded copies of an earlier model of that name (so the new weights load)
    and emits :data:`MODEL_LIST` ``.changed`` so that model lists refresh.
    """
    MODEL_STORE.forget(name)
    MODEL_LIST.changed.emit(str(name))


def load_model(
    name: str,
    device: str | None = None,
    progress: ProgressCallback | None = None,
    cancel: CancelCallback | None = None,
) -> Any:
    """Build (or reuse) a model by name or file path on a device.

    Official names are downloaded and verified on first use; offline this raises
    ``sam2_engine.errors.DownloadError`` whose message names the file to place in the
    cache folder.
    """
    return MODEL_STORE.get(name, device, progress, cancel)
