"""Fixtures of the plugin tests: tiny random-weight models, small images, a controller.

Models are ``test_tiny`` (128 px input, random weights, milliseconds on a CPU). The
``present_model`` has its object-presence head biased so that tracking always reports
the object as visible: with plain random weights about half the frames would come back
empty, which would make "every frame is written" untestable.
"""

from __future__ import annotations

import pytest
import torch

# Load triton (through torchvision.ops) before any napari canvas exists: with Mesa OpenGL
# (Xvfb), importing triton *after* the GL driver loaded its LLVM crashes the process, and
# later test folders (engine, training) import torchvision. The plugin itself guards
# against this at runtime (napari_sam2.core.torch_guard, tested on its own).
import torchvision.ops  # noqa: F401


@pytest.fixture(autouse=True)
def _one_torch_thread():
    """One intra-op thread: on a shared 2-core machine more threads make tiny models
    up to ~80x slower (spinning threads fight over the cores)."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


@pytest.fixture(autouse=True)
def _no_bundled_model(tmp_path_factory, monkeypatch):
    """Hide the bundled demo model: the widget would load it in a worker as it opens,
    which tests that set their own model do not want (tests/plugin/test_gui.py checks
    the loading itself with a model of its own)."""
    from sam2_engine.weights import local as local_weights

    monkeypatch.setattr(local_weights, "BUNDLED_DIR", tmp_path_factory.mktemp("no_bundled_models"))


@pytest.fixture(autouse=True)
def _autosave_in_tmp(tmp_path_factory, monkeypatch):
    """Autosaved labels go to a folder of the test run, never to the user's cache."""
    from napari_sam2.core.autosave import AUTOSAVE_ENV

    monkeypatch.setenv(AUTOSAVE_ENV, str(tmp_path_factory.mktemp("autosave")))


@pytest.fixture(scope="session")
def tiny_model():
    import sam2_engine as se

    torch.manual_seed(0)
    return se.build_model("test_tiny", device="cpu")


@pytest.fixture(scope="session")
def present_model():
    import sam2_engine as se

    torch.manual_seed(0)
    model = se.build_model("test_tiny", device="cpu")
    with torch.no_grad():
        model.sam_mask_decoder.pred_obj_score_head.layers[-1].bias.fill_(20.0)
    return model


@pytest.fixture(scope="session")
def nuclei_2d():
    from sam2_synthetic import fluorescence_image

    return fluorescence_image((96, 96), n_nuclei=6, seed=1)


@pytest.fixture(scope="session")
def timelapse():
    from sam2_synthetic import nuclei_timelapse

    return nuclei_timelapse(n_frames=6, shape=(64, 64), n_nuclei=3, seed=0)


@pytest.fixture
def plugins_discovered():
    """npe2 knows the installed plugins (napari's test fixtures may start from an empty
    registry); GUI test modules use it through ``pytest.mark.usefixtures``."""
    from npe2 import PluginManager

    PluginManager.instance().discover()


@pytest.fixture
def shown(monkeypatch):
    """Notifications shown by the plugin: ``{"info": [...], "warning": [...], ...}``."""
    import napari.utils.notifications as notifications

    seen: dict[str, list[str]] = {"info": [], "warning": [], "error": []}
    for level in seen:
        monkeypatch.setattr(notifications, f"show_{level}", seen[level].append)
    return seen


class Messages(list):
    """Notifications captured from a controller: ``[(level, text), ...]``."""

    def of(self, level: str) -> list[str]:
        return [text for lvl, text in self if lvl == level]


@pytest.fixture
def messages() -> Messages:
    return Messages()


@pytest.fixture
def make_controller(messages):
    from napari_sam2.controller import Sam2Controller
    from napari_sam2.core.jobs import SyncRunner

    def make(model=None, runner=None, **settings):
        c = Sam2Controller(
            runner=runner or SyncRunner(), notify_fn=lambda lvl, msg: messages.append((lvl, msg))
        )
        c.settings.click_selects_object = False
        for key, value in settings.items():
            setattr(c.settings, key, value)
        if model is not None:
            c.set_model(model, "test_tiny")
        return c

    return make


@pytest.fixture
def disc_masks(monkeypatch):
    """Predictions become a disc of radius 8 around the first positive click (a box: the
    box filled): masks a user expects, where a random-weight model paints half the image.
    The plugin's path (worker, preview, commit) is unchanged."""
    import numpy as np

    import sam2_engine as se

    original = se.ImagePredictor.predict

    def predict(self, points=None, labels=None, box=None, *args, **kwargs):
        result = original(self, points, labels, box, *args, **kwargs)
        h, w = result.masks.shape[-2:]
        rows, cols = np.mgrid[:h, :w]
        if box is not None:
            x0, y0, x1, y1 = np.asarray(box, float).ravel()[:4]
            mask = (cols >= x0) & (cols <= x1) & (rows >= y0) & (rows <= y1)
        else:
            x, y = np.asarray(points, float)[np.asarray(labels) == 1][0]
            mask = (rows - y) ** 2 + (cols - x) ** 2 <= 64
        masks = np.broadcast_to(mask, result.masks.shape).copy()
        return se.ImagePrediction(masks, result.scores, result.logits, result.object_scores)

    monkeypatch.setattr(se.ImagePredictor, "predict", predict)
